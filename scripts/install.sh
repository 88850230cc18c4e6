#!/bin/sh
# make install: the programs, assets, configurations, migrations and the
# systemd units under PREFIX.
#   install.sh BUILD PREFIX [SYSCONFDIR] [RUNTIME]
# SYSCONFDIR (default /etc/homebot) holds the env files the units name;
# RUNTIME (default homebot) names the units' runtime directories,
# /run/RUNTIME and /run/RUNTIME-admin.
set -eu
BUILD=$1
PREFIX=$2
SYSCONFDIR=${3:-/etc/homebot}
RUNTIME=${4:-homebot}
cd "$(dirname "$0")/.."

case "$PREFIX$SYSCONFDIR$RUNTIME" in
*[!A-Za-z0-9/._-]*) echo "install: PREFIX, SYSCONFDIR and RUNTIME may hold only A-Z a-z 0-9 / . _ -" >&2; exit 1 ;;
esac

install -d "$PREFIX/cgi-bin" "$PREFIX/bin" "$PREFIX/share" "$PREFIX/schema" "$PREFIX/etc" \
    "$PREFIX/lib"
for p in "$BUILD"/cgi-bin/*; do
	case "$p" in *.d) continue ;; esac
	install -m 0755 "$p" "$PREFIX/cgi-bin/"
done
install -m 0755 "$BUILD/bin/homebot-worker" "$BUILD/bin/homebot-vault-rotate" \
    "$PREFIX/bin/"
# The MQTT broker's plugin and its Mosquitto settings.
install -m 0644 "$BUILD/lib/homebot_mqtt.so" "$PREFIX/lib/"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@SYSCONFDIR@|$SYSCONFDIR|g" \
    mqtt/mosquitto.conf.in >"$PREFIX/etc/mosquitto-homebot.conf"
chmod 0644 "$PREFIX/etc/mosquitto-homebot.conf"
# share/ as built: the OpenAPI document, Swagger UI, the account pages and
# whatever else the build puts there, subdirectories included.
(cd "$BUILD/share" && find . -type f) | while read -r f; do
	install -D -m 0644 "$BUILD/share/$f" "$PREFIX/share/$f"
done
install -m 0644 schema/*.sql "$PREFIX/schema/"
install -m 0755 migrate "$PREFIX/migrate"
install -m 0644 README.md "$PREFIX/README.md"
install -m 0644 lighttpd.conf apache.conf "$PREFIX/etc/"
for unit in homebot homebot-apache homebot-admin homebot-worker; do
	sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@SYSCONFDIR@|$SYSCONFDIR|g" \
	    -e "s|@RUNTIME@|$RUNTIME|g" -e "/^@HARDENING@\$/{
r scripts/hardening.conf
d
}" "scripts/$unit.service.in" >"$PREFIX/etc/$unit.service"
	chmod 0644 "$PREFIX/etc/$unit.service"
done

# The admin program's user: the only one that can read admin.env.
if [ "$(id -u)" -eq 0 ] && ! id -u homebot-admin >/dev/null 2>&1; then
	# Another install at the same moment may have made it first.
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin --gid www-data homebot-admin ||
	    id -u homebot-admin >/dev/null
fi

echo "installed under $PREFIX"
cat <<EOT
next:
  1. the env files in $SYSCONFDIR (mode 0400, written under umask 077):
       homebot.env  owner www-data       DATABASE_URL (role homebot_app), SECRET_KEY,
                                         VAULT_MASTER_KEY (openssl rand -base64 32), ...
       admin.env    owner homebot-admin  the same plus ADMIN_DATABASE_URL (role homebot_admin)
       worker.env   owner www-data       DATABASE_URL (role homebot_worker), SMTP_URL,
                                         MAIL_FROM, PUBLIC_URL, SECRET_KEY,
                                         MQTT_HOST, MQTT_PORT, MQTT_PUBLISHER_SECRET
                                         (head -c 48 /dev/urandom | base64)
  2. DATABASE_URL=<owner url> $PREFIX/migrate up
  3. cp $PREFIX/etc/homebot*.service /etc/systemd/system/
     systemctl daemon-reload
     systemctl enable --now homebot-admin homebot homebot-worker
     (or homebot-apache instead of homebot: Apache instead of lighttpd)
  4. MQTT: $SYSCONFDIR/mqtt.env (owner mosquitto, mode 0400) as homebot.env,
     with worker.env's MQTT_PUBLISHER_SECRET (it admits the event publisher),
     cp $PREFIX/etc/mosquitto-homebot.conf /etc/mosquitto/conf.d/homebot.conf
     systemctl restart mosquitto
EOT
