#!/bin/sh
# make install: the programs, assets, configs, migrations and a systemd
# unit under PREFIX. Settings live in /etc/homebot/homebot.env.
set -eu
BUILD=$1
PREFIX=$2
cd "$(dirname "$0")/.."

install -d "$PREFIX/cgi-bin" "$PREFIX/bin" "$PREFIX/share" "$PREFIX/share/account" \
    "$PREFIX/schema" "$PREFIX/etc"
for p in "$BUILD"/cgi-bin/*; do
	case "$p" in *.d) continue ;; esac
	install -m 0755 "$p" "$PREFIX/cgi-bin/"
done
install -m 0755 "$BUILD/bin/homebot-worker" "$PREFIX/bin/"
for f in "$BUILD"/share/*; do
	if [ -f "$f" ]; then install -m 0644 "$f" "$PREFIX/share/"; fi
done
install -m 0644 "$BUILD"/share/account/* "$PREFIX/share/account/"
install -m 0644 schema/*.sql "$PREFIX/schema/"
install -m 0755 migrate "$PREFIX/migrate"
install -m 0644 lighttpd.conf apache.conf "$PREFIX/etc/"
for unit in homebot homebot-worker; do
	sed "s|@PREFIX@|$PREFIX|g" "scripts/$unit.service.in" >"$PREFIX/etc/$unit.service"
done
echo "installed under $PREFIX"
echo "next: put DATABASE_URL and SECRET_KEY in /etc/homebot/homebot.env, and the"
echo "same plus ADMIN_DATABASE_URL in /etc/homebot/admin.env, and the worker's in"
echo "/etc/homebot/worker.env (DATABASE_URL as homebot_worker, SMTP_URL, MAIL_FROM,"
echo "PUBLIC_URL; all three mode 0600, owner www-data), METRICS_DIR=/var/lib/homebot/metrics"
echo "in all three for GET /metrics, run"
echo "DATABASE_URL=<owner url> $PREFIX/migrate up, then"
echo "  cp $PREFIX/etc/homebot.service $PREFIX/etc/homebot-worker.service /etc/systemd/system/"
echo "  systemctl enable --now homebot homebot-worker"
