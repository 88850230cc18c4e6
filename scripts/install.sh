#!/bin/sh
# make install: the programs, assets, configs, migrations and a systemd
# unit under PREFIX. Settings live in /etc/homebot/homebot.env.
set -eu
BUILD=$1
PREFIX=$2
cd "$(dirname "$0")/.."

install -d "$PREFIX/cgi-bin" "$PREFIX/share" "$PREFIX/schema" "$PREFIX/etc"
for p in "$BUILD"/cgi-bin/*; do
	case "$p" in *.d) continue ;; esac
	install -m 0755 "$p" "$PREFIX/cgi-bin/"
done
install -m 0644 "$BUILD"/share/* "$PREFIX/share/"
install -m 0644 schema/*.sql "$PREFIX/schema/"
install -m 0755 migrate "$PREFIX/migrate"
install -m 0644 lighttpd.conf apache.conf "$PREFIX/etc/"
sed "s|@PREFIX@|$PREFIX|g" scripts/homebot.service.in >"$PREFIX/etc/homebot.service"
echo "installed under $PREFIX"
echo "next: put DATABASE_URL and SECRET_KEY in /etc/homebot/homebot.env, and the"
echo "same plus ADMIN_DATABASE_URL in /etc/homebot/admin.env (both mode 0600, owner"
echo "www-data), run DATABASE_URL=<owner url> $PREFIX/migrate up, then"
echo "  cp $PREFIX/etc/homebot.service /etc/systemd/system/ && systemctl enable --now homebot"
