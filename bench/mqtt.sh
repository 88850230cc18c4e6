#!/usr/bin/env bash
# The MQTT figures, on a running stack (bench/run.sh calls it with the
# stack's directory): authenticated CONNECTs per second through Homebot's
# plugin with an access token and with an API key, and the publish
# throughput of QoS 0 and QoS 1 messages through the plugin's ACL against
# the same Mosquitto allowing everyone (no plugin), in turns. Prints table
# rows like run.sh's.
set -euo pipefail

T=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case "$build" in /*) ;; *) build="$ROOT/$build" ;; esac
MB=$build/bench/mqtt-bench
SECS=${BENCH_MQTT_SECONDS:-5}
N=${BENCH_MQTT_MESSAGES:-50000}
ROUNDS=${BENCH_REPS:-3}
# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"

port=$(sed -n 's/^MQTT_PORT=//p' "$T/stack.env")
token=$(head -n 1 "$T/tokens.txt")
key=$(head -n 1 "$T/keys.txt")
# The token's organization: its topics are the ones it may use.
org=$(/usr/bin/python3 -c 'import base64, json, sys
p = sys.argv[1].split(".")[1]
print(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["org"])' "$token")

# The same broker allowing everyone, without the plugin, on a free port.
A=$(mktemp -d /tmp/homebot-bench-mqtt.XXXXXX)
aport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$A/mosquitto.conf" <<EOF
per_listener_settings false
allow_anonymous true
persistence false
max_queued_messages 100000
log_dest none
listener $aport 127.0.0.1
EOF
chmod 0755 "$A"
chmod 0644 "$A/mosquitto.conf"
apid=""
cleanup_mqtt() {
	[ -z "$apid" ] || kill "$apid" 2>/dev/null || true
	rm -rf "$A"
}
trap cleanup_mqtt EXIT
if [ "$(id -u)" -eq 0 ]; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    /usr/sbin/mosquitto -c "$A/mosquitto.conf" >/dev/null 2>&1 &
else
	/usr/sbin/mosquitto -c "$A/mosquitto.conf" >/dev/null 2>&1 &
fi
apid=$!
for _ in $(seq 1 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$aport") 2>/dev/null && break
	sleep 0.05
done

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# CONNECTs: "connects/s refused" for a credential.
connects() { BENCH_MQTT_PASSWORD=$1 "$MB" connect "$port" "$SECS" 8; }
read -r jwt_rate jwt_refused < <(connects "$token")
log "mqtt CONNECT, access token: $jwt_rate/s, $jwt_refused refused"
read -r key_rate key_refused < <(connects "$key")
log "mqtt CONNECT, API key: $key_rate/s, $key_refused refused"

# Publishing: "messages/s received" through the plugin (p) and through
# the open broker (o), alternating.
declare -A runs
for _ in $(seq 1 "$ROUNDS"); do
	for qos in 0 1; do
		read -r r got < <(BENCH_MQTT_PASSWORD=$token "$MB" publish "$port" "$N" "$qos" "org/$org/bench/$qos")
		[ "$got" = "$N" ] || log "through the plugin, QoS $qos: $got of $N received"
		runs[p$qos]+="$r "
		read -r r got < <("$MB" publish "$aport" "$N" "$qos" "org/$org/bench/$qos")
		[ "$got" = "$N" ] || log "open broker, QoS $qos: $got of $N received"
		runs[o$qos]+="$r "
		log "mqtt publish QoS $qos: plugin ${runs[p$qos]}/ open ${runs[o$qos]}"
	done
done
med() { tr ' ' '\n' <<<"${runs[$1]}" | grep . | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "NA" }'; }

row "MQTT CONNECT/CONNACK, access token, 8 clients" "$jwt_rate/s ($jwt_refused refused)" "≥ 1,000/s"
row "MQTT CONNECT/CONNACK, API key, 8 clients" "$key_rate/s ($key_refused refused)" "≥ 1,000/s"
for qos in 0 1; do
	row "MQTT publish QoS $qos, $N msgs, plugin's ACL" "$(med "p$qos") msg/s" ""
	row "MQTT publish QoS $qos, same broker allowing all" "$(med "o$qos") msg/s" ""
	row "**MQTT QoS $qos throughput: plugin ÷ allow-all**" "$(ratio "$(med "p$qos")" "$(med "o$qos")")" "≥ 0.9×"
done
