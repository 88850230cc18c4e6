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
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

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

# CPU time the health program's processes of stack DIR have used, in ns
# (schedstat: exact, unlike the 10 ms ticks of /proc/PID/stat).
health_cpu_ns() {
	local sum=0 p v
	for p in $(pgrep -f "^$1/app/cgi-bin/health\$"); do
		v=$(cut -d' ' -f1 "/proc/$p/schedstat" 2>/dev/null) || continue
		sum=$((sum + v))
	done
	echo "$sum"
}

# One wrk run on URL: "req/s ns" — its rate, and the health programs' CPU
# time per request (stack DIR), which machine noise moves far less than a
# rate: a recording's cost shows in it.
rps() {
	local before after out
	before=$(health_cpu_ns "$2")
	out=$(wrk -t2 -c32 -d"${DUR}s" "$1/health" 2>&1)
	after=$(health_cpu_ns "$2")
	awk -v cpu=$((after - before)) '/Requests\/sec/ {rps = $2}
	    / requests in / {n = $1}
	    END {printf "%.0f %.0f\n", rps, (n > 0 ? cpu / n : 0)}' <<<"$out"
}
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# Warm both, then alternate so that drift of the machine hits both alike.
wrk -t2 -c32 -d2s "$ON_URL/health" >/dev/null 2>&1
wrk -t2 -c32 -d2s "http://127.0.0.1:$PORT/health" >/dev/null 2>&1
on_runs=() off_runs=() on_cpu=() off_cpu=()
for _ in $(seq 1 "$ROUNDS"); do
	read -r r c < <(rps "$ON_URL" "$ON_DIR")
	on_runs+=("$r") on_cpu+=("$c")
	read -r r c < <(rps "http://127.0.0.1:$PORT" "$OFF")
	off_runs+=("$r") off_cpu+=("$c")
done
on=$(printf '%s\n' "${on_runs[@]}" | median)
off=$(printf '%s\n' "${off_runs[@]}" | median)
on_ns=$(printf '%s\n' "${on_cpu[@]}" | median)
off_ns=$(printf '%s\n' "${off_cpu[@]}" | median)
row "GET /health, recording metrics (median of $ROUNDS)" "$on req/s (${on_runs[*]})" ""
row "GET /health, METRICS_DIR unset (median of $ROUNDS)" "$off req/s (${off_runs[*]})" ""
row "health program CPU per request, recording / not" "$on_ns ns / $off_ns ns" ""
row "cost of recording on /health (program CPU)" "$(awk -v on="$on_ns" -v off="$off_ns" 'BEGIN {printf "%.1f", (on - off) * 100 / off}') %" "< 2 %"
build=${BUILD:-build}
case "$build" in /*) ;; *) build="$ROOT/$build" ;; esac
per=$("$build/tests/unit/metrics.t" 2>/dev/null |
    sed -n 's/^# metrics_request: \([0-9]*\) ns per request.*/\1/p')
row "throughput, recording / not (noisy on a shared machine)" "$(awk -v on="$on" -v off="$off" 'BEGIN {printf "%.3f", on / off}')" ""
cores=$(nproc)
row "metrics_request() alone, per request" "${per:-?} ns: $(awk -v p="${per:-0}" -v on="$on" -v c="$cores" 'BEGIN {printf "%.2f", p * on / 1e9 * 100 / c}') % of $cores cores at $on req/s" ""
# The recording's own time against what the request costs the program:
# the figure wrk's and the scheduler's noise cannot move.
row "metrics_request() / health program CPU per request" "$(awk -v p="${per:-0}" -v off="$off_ns" 'BEGIN {printf "%.2f", (off > 0 ? p * 100 / off : 0)}') %" "< 2 %"
