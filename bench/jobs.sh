#!/usr/bin/env bash
# The job queue's figures, on a running stack (bench/run.sh calls it with
# the stack's directory): no-op jobs/s with WORKER_PROCS workers on a
# queue of 100,000, the enqueue-to-start latency on an idle queue, and a
# worker's memory before and after. Prints table rows like run.sh's.
set -euo pipefail

T=$1
N=${BENCH_JOBS:-100000}
OWNER="host=$T/pg user=postgres dbname=homebot"
q() { psql -X -q -A -t "$OWNER" -c "$1"; }
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

# The largest RSS among the worker processes, in KB.
worker_rss() {
	local max=0 v
	for p in $(pgrep -f "^$T/app/bin/homebot-worker"); do
		v=$(awk '/VmRSS/ {print $2}' "/proc/$p/status")
		[ "$v" -gt "$max" ] && max=$v
	done
	echo "$max"
}

# Latency: one job at a time into an idle queue; the database's own clock
# on both ends (created_at at the INSERT, started_at at the claim).
for _ in $(seq 1 200); do
	q "INSERT INTO homebot.jobs (kind, payload) VALUES ('noop', '{\"bench\": \"latency\"}');
	   NOTIFY homebot_jobs" >/dev/null
	sleep 0.02
done
sleep 1
lat=$(q "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ' ||
                round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ' || count(*)
           FROM (SELECT extract(epoch FROM started_at - created_at) * 1000 AS ms
                   FROM homebot.jobs WHERE payload ->> 'bench' = 'latency'
                    AND status = 'succeeded') AS l")
rss_before=$(worker_rss)

# Throughput: N jobs queued while the workers are stopped, then timed
# from the workers' start until the last one succeeded.
"$(dirname "$0")/../scripts/stack.sh" worker-stop "$T"
q "INSERT INTO homebot.jobs (kind, payload)
   SELECT 'noop', '{\"bench\": \"throughput\"}' FROM generate_series(1, $N)" >/dev/null
q "VACUUM ANALYZE homebot.jobs" >/dev/null
t0=$(date +%s.%N)
"$(dirname "$0")/../scripts/stack.sh" worker-start "$T"
while [ "$(q "SELECT count(*) FROM homebot.jobs WHERE payload ->> 'bench' = 'throughput'
              AND status <> 'succeeded'")" != 0 ]; do
	sleep 0.2
done
t1=$(date +%s.%N)
rss_after=$(worker_rss)
rate=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')

set -- $lat
row "no-op jobs, $N queued, $(nproc) cores, 2 workers" "$rate jobs/s" ">= 3,000 jobs/s"
row "enqueue to start, idle queue ($3 jobs)" "p50 $1 ms, p99 $2 ms" "p50 <= 5 ms, p99 <= 50 ms"
row "one worker process: before / after $N jobs" "${rss_before} KB / ${rss_after} KB" "<= +256 KB"
