# shellcheck shell=bash
# What the bench scripts share; source it.

log() { echo "[$(date +%T)] $*" >&2; }

# One row of the figures' table (every script prints into the same table).
row() { printf '| %-56s | %-34s | %-22s |\n' "$1" "$2" "$3"; }

# One wrk run with wrk's arguments: "req/s p50 p99", latencies in ms.
wrk_figures() {
	wrk --latency "$@" 2>&1 | awk '
	    function ms(v) {
		if (v ~ /us$/) return v / 1000
		if (v ~ /ms$/) return v + 0
		if (v ~ /s$/) return v * 1000
		return v
	    }
	    /Requests\/sec/ { rps = $2 }
	    / 50%/ { p50 = ms($2) }
	    / 99%/ { p99 = ms($2) }
	    END { printf "%.0f %.2f %.2f\n", rps, p50, p99 }'
}
