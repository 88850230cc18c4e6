# shellcheck shell=bash
# What the bench scripts share; source it.

log() { echo "[$(date +%T)] $*" >&2; }

# One row of the figures' table (every script prints into the same table).
row() { printf '| %-56s | %-34s | %-22s |\n' "$1" "$2" "$3"; }

# One wrk run with wrk's arguments: "req/s p50 p99 errors", latencies in
# ms, errors the answers that were not 2xx or 3xx (and socket errors).
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
	    /Non-2xx or 3xx responses:/ { bad += $5 }
	    /Socket errors:/ { bad += $4 + $6 + $8 + $10 }
	    END { printf "%.0f %.2f %.2f %d\n", rps, p50, p99, bad }'
}
