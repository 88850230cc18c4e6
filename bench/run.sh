#!/usr/bin/env bash
# make bench: a throwaway stack (bcrypt cost 12, 1,000 organizations,
# 10,000 users), wrk on loopback, and a table of figures beside their
# targets. A benchmark, not a test: it never fails on a missed target.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export BUILD=${BUILD:-build}
DUR=${BENCH_SECONDS:-10}
T=$(mktemp -d /tmp/homebot-bench.XXXXXX)
chmod 0755 "$T"
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
trap 'scripts/stack.sh stop "$T" >/dev/null 2>&1 || true; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$T"' EXIT

{
	echo "SECRET_KEY=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')"
	echo "BCRYPT_COST=12"
	echo "AUTH_RATE_PER_MINUTE=1000000"
} >"$T/settings.env"
HOMEBOT_PORT=$PORT scripts/stack.sh start "$T" >/dev/null
/usr/bin/python3 bench/seed.py "$T" "$T"

# wrk's figures for one run: "req/s p50 p99".
measure() {
	local out
	out=$(wrk --latency "$@" 2>&1)
	awk '/Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 99%/ {p99=$2}
	    END {printf "%.0f %s %s\n", rps, p50, p99}' <<<"$out"
}

rss_kb() {
	local max=0 v
	for p in $(pgrep -f "$T/app/cgi-bin/$1\$"); do
		v=$(awk '/VmRSS/ {print $2}' "/proc/$p/status")
		[ "$v" -gt "$max" ] && max=$v
	done
	echo "$max"
}

row() { printf '| %-52s | %-28s | %-30s |\n' "$1" "$2" "$3"; }

health=$(measure -t2 -c32 -d"${DUR}s" "$URL/health")
# Warm the me workers with 1,000 requests, then take their size.
CREDS="$T/tokens.txt" wrk -t1 -c4 -d1s -s bench/rotate.lua "$URL" >/dev/null 2>&1 || true
rss_first=$(rss_kb me)
me_jwt=$(CREDS="$T/tokens.txt" measure -t2 -c32 -d"${DUR}s" -s bench/rotate.lua "$URL")
me_key=$(CREDS="$T/keys.txt" HEADER=X-API-Key measure -t2 -c32 -d"${DUR}s" -s bench/rotate.lua "$URL")
rss_after=$(rss_kb me)
members=$(CREDS="$T/owner_token.txt" BENCH_PATH="/api/v1/members?limit=50" \
    measure -t2 -c32 -d"${DUR}s" -s bench/rotate.lua "$URL")
audit=$(CREDS="$T/owner_token.txt" BENCH_PATH="/api/v1/audit-log?limit=50" \
    measure -t2 -c32 -d"${DUR}s" -s bench/rotate.lua "$URL")
login=$(CREDS="$T/logins.txt" measure -t2 -c4 -d"${DUR}s" -s bench/login.lua "$URL")
conns=$(psql -X -A -t "host=$T/pg user=postgres dbname=homebot" -c \
    "SELECT count(*) FROM pg_stat_activity WHERE usename = 'homebot_app'")
workers=$(pgrep -f "$T/app/cgi-bin/me\$" | wc -l)
requests=$(( ($(cut -d' ' -f1 <<<"$me_jwt") + $(cut -d' ' -f1 <<<"$me_key")) * DUR / workers ))

set -- $health; h_rps=$1 h50=$2 h99=$3
set -- $me_jwt; j_rps=$1 j50=$2 j99=$3
set -- $me_key; k_rps=$1 k50=$2 k99=$3
set -- $login; l_rps=$1 l50=$2 l99=$3
set -- $members; m_rps=$1 m50=$2 m99=$3
set -- $audit; a_rps=$1 a50=$2 a99=$3

echo
row "what" "measured" "target"
row "---" "---" "---"
row "GET /health, 32 connections" "$h_rps req/s, p50 $h50, p99 $h99" ">= 25,000 req/s"
row "GET /api/v1/auth/me, access tokens, 32 connections" "$j_rps req/s, p50 $j50, p99 $j99" ">= 9,000 req/s, p99 <= 10 ms"
row "GET /api/v1/auth/me, API keys, 32 connections" "$k_rps req/s, p50 $k50, p99 $k99" ">= 8,000 req/s, p99 <= 10 ms"
row "GET /api/v1/members (50 rows), 32 connections" "$m_rps req/s, p50 $m50, p99 $m99" "(no target)"
row "GET /api/v1/audit-log (50 rows), 32 connections" "$a_rps req/s, p50 $a50, p99 $a99" "(no target)"
row "POST /api/v1/auth/login, cost 12, 4 connections" "$l_rps logins/s, p99 $l99" ">= 9 logins/s"
row "one me worker: after ~1,000 / ~$requests requests each" "${rss_first} KB / ${rss_after} KB" "<= 12 MB, <= +256 KB"
row "database connections of homebot_app (all programs warm)" "$conns" "<= 40"

bench/jobs.sh "$T"
bench/metrics.sh "$T" "$URL"
