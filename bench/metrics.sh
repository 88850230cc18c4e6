#!/usr/bin/env bash
# What recording metrics costs a request: GET /health (the cheapest one,
# where a fixed cost shows most) on the stack bench/run.sh started, which
# records, and on a second stack like it with METRICS_DIR= (nothing
# recorded), in turns, BENCH_METRICS_ROUNDS times each. Prints the median
# requests/s of both and the difference as table rows like run.sh's, and
# the cost of one recording measured alone (tests/unit/metrics.c times a
# million), which wrk's noise on a shared machine cannot hide.
#
#   bench/metrics.sh DIR URL    DIR, URL: the recording stack
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ON_DIR=$1
ON_URL=$2
ROUNDS=${BENCH_METRICS_ROUNDS:-5}
DUR=${BENCH_METRICS_SECONDS:-5}
row() { printf '| %-52s | %-28s | %-30s |\n' "$1" "$2" "$3"; }

OFF=$(mktemp -d /tmp/homebot-bench-off.XXXXXX)
chmod 0755 "$OFF"
trap 'scripts/stack.sh stop "$OFF" >/dev/null 2>&1 || true; rm -rf "$OFF"' EXIT
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
	grep -v '^METRICS_DIR=' "$ON_DIR/settings.env" || true
	echo "METRICS_DIR="
} >"$OFF/settings.env"
HOMEBOT_PORT=$PORT scripts/stack.sh start "$OFF" >/dev/null
# The worker takes no part: only the web server's programs are measured.
scripts/stack.sh worker-stop "$OFF"

rps() {
	wrk -t2 -c32 -d"${DUR}s" "$1/health" 2>&1 |
	    awk '/Requests\/sec/ {printf "%.0f\n", $2}'
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# Warm both, then alternate so that drift of the machine hits both alike.
wrk -t2 -c32 -d2s "$ON_URL/health" >/dev/null 2>&1
wrk -t2 -c32 -d2s "http://127.0.0.1:$PORT/health" >/dev/null 2>&1
on_runs=() off_runs=()
for _ in $(seq 1 "$ROUNDS"); do
	on_runs+=("$(rps "$ON_URL")")
	off_runs+=("$(rps "http://127.0.0.1:$PORT")")
done
on=$(printf '%s\n' "${on_runs[@]}" | median)
off=$(printf '%s\n' "${off_runs[@]}" | median)
cost=$(awk -v on="$on" -v off="$off" 'BEGIN {printf "%.1f", (off - on) * 100 / off}')
row "GET /health, recording metrics (median of $ROUNDS)" "$on req/s (${on_runs[*]})" ""
row "GET /health, METRICS_DIR unset (median of $ROUNDS)" "$off req/s (${off_runs[*]})" ""
build=${BUILD:-build}
case "$build" in /*) ;; *) build="$ROOT/$build" ;; esac
per=$("$build/tests/unit/metrics.t" 2>/dev/null |
    sed -n 's/^# metrics_request: \([0-9]*\) ns per request.*/\1/p')
row "cost of recording on /health" "$cost % (on/off $(awk -v on="$on" -v off="$off" 'BEGIN {printf "%.3f", on / off}'))" "< 2 %"
cores=$(nproc)
row "metrics_request() alone, per request" "${per:-?} ns: $(awk -v p="${per:-0}" -v on="$on" -v c="$cores" 'BEGIN {printf "%.2f", p * on / 1e9 * 100 / c}') % of $cores cores at $on req/s" ""
