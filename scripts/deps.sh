#!/bin/sh
# Installs what Homebot needs and is missing: Debian packages (apt-get,
# as root) and the pinned npm packages (npm ci). Anything present is left
# alone, so a second run does nothing. Node.js 20 and npm come with the
# machine. make fuzz needs clang-14 and libFuzzer's runtime, which is in
# libclang-rt-14-dev: clang-14 only recommends it.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="libfcgi-dev libpq-dev libjson-c-dev libjwt-dev uuid-dev libcrypt-dev liboath-dev libqrencode-dev
libssl-dev libcurl4-openssl-dev postgresql-15 postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
lighttpd lighttpd-mod-deflate apache2 libapache2-mod-fcgid python3-pytest python3-requests python3-yaml wrk curl jq
openssl procps python3-aiosmtpd python3-jsonschema python3-cryptography
chromium chromium-driver python3-selenium
cppcheck valgrind spawn-fcgi prometheus pgbouncer gcovr
clang-14 libclang-rt-14-dev
mosquitto mosquitto-dev libmosquitto-dev mosquitto-clients python3-paho-mqtt
libcrack2-dev cracklib-runtime"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing="$missing $p"
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "Homebot needs these Debian packages; install them with:" >&2
		echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
		exit 1
	fi
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing </dev/null
	# The packaged services would hold ports 80, 1883, 5432 and 9090; Homebot
	# starts its own servers on loopback (the tests their own Prometheus).
	for s in lighttpd apache2 postgresql prometheus prometheus-node-exporter mosquitto; do
		service "$s" stop >/dev/null 2>&1 || true
	done
fi

if [ ! -f node_modules/.package-lock.json ] ||
    [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund --loglevel=error </dev/null
	touch node_modules/.package-lock.json
fi
