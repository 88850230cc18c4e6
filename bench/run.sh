#!/usr/bin/env bash
# make bench: Homebot's figures, each measured side by side with what it
# is compared to, in turns, so the noise of a shared machine hits both
# sides alike (read the ratios; the absolute figures move with the load):
#
#   1. two throwaway stacks of 1,000 organizations and 10,000 users (bcrypt
#      cost 12): one straight to PostgreSQL, one through PgBouncer in
#      transaction mode, sized as docs/scaling.md says (a pool of one
#      server connection per core, twice the /me workers of the direct
#      stack: POOL_SIZE, POOL_ME_PROCS). GET /health against
#      bench/hello.c, a bare FastCGI program behind the same lighttpd;
#      /api/v1/auth/me direct against through PgBouncer, and against
#      bench/hello.c making one round trip per request: "SELECT 1" (the
#      ceiling of any one-round-trip path), /me's own statement, a
#      reveal's statements (the ceiling of reveal); API keys, a members
#      page, an audit page, login; a 200-row members page with and
#      without Accept-Encoding: gzip (bytes per answer beside the rates),
#      and /me with gzip asked (it stays identity: BREACH, see README
#      "Compression"); the second step of a TOTP login (bench/mfa.py:
#      users enrolled through the API, and fresh mfa_token and code pairs
#      that bench/verify.lua sends once).
#   2. with BENCH_LARGE=1: the direct stack grown to 100,000 organizations,
#      1,000,000 users and 10,000,000 audit rows (seeded in SQL), and /me,
#      a members page and an audit page with each filter measured again.
#   3. the FastAPI peer side by side (/health, /me at 32 and 8 connections,
#      login, memory): PEER_BENCH's vs-peer.sh (the peer's bench kit, by
#      default ../shared/bench beside the checkout), when it is there.
#   4. bench/jobs.sh (the job queue), bench/metrics.sh (the cost of
#      recording metrics), bench/mqtt.sh (CONNECTs/s through the plugin,
#      publish throughput against an allow-all broker) and
#      bench/vault-rotate.sh (a master-key rotation of 10,000
#      organizations' data keys).
#
# Settings: BENCH_SECONDS (10) per wrk run, BENCH_REPS (3) repetitions
# (the median is reported), BENCH_LARGE=1, PEER_BENCH, POOL_SIZE
# (PgBouncer's default_pool_size; the number of cores), POOL_ME_PROCS
# (4), BENCH_KEEP=1 keeps the stacks' directories. A benchmark, not a
# test: it never fails on a missed target.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export BUILD=${BUILD:-build}
DUR=${BENCH_SECONDS:-10}
REPS=${BENCH_REPS:-3}
PEER_BENCH=${PEER_BENCH:-$ROOT/../shared/bench}
POOL_SIZE=${POOL_SIZE:-$(nproc)}
POOL_ME_PROCS=${POOL_ME_PROCS:-4}
D=$(mktemp -d /tmp/homebot-bench.XXXXXX)
P=$(mktemp -d /tmp/homebot-bench-pool.XXXXXX)
chmod 0755 "$D" "$P"
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
DPORT=$(free_port)
PPORT=$(free_port)
DURL=http://127.0.0.1:$DPORT
PURL=http://127.0.0.1:$PPORT
cleanup() {
	scripts/stack.sh stop "$D" >/dev/null 2>&1 || true
	scripts/stack.sh stop "$P" >/dev/null 2>&1 || true
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$D" "$P"
}
trap cleanup EXIT

# log, row, wrk_figures
# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"

settings() {
	echo "SECRET_KEY=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')"
	echo "BCRYPT_COST=12"
	echo "AUTH_RATE_PER_MINUTE=1000000"
}

# The direct stack serves bench/hello.c too, through a configuration that
# includes lighttpd.conf unchanged: the same server, the same settings.
# The others are the same program with a connection to the stack's
# database as the programs have (scripts/stack.sh's DATABASE_URL), making
# one round trip per request: /hello-db "SELECT 1", the ceiling of any
# one-round-trip path; /hello-auth /me's own statement (prepared once per
# connection, as /me's is); /hello-reveal a
# reveal's statements (authentication, context, secret_reveal), the most
# any reveal could serve, all in one round trip (ceiling_sql writes both).
hello_conf() {
	local name db="\"HELLO_DATABASE_URL\" => \"host=$D/pg user=homebot_app dbname=homebot application_name=bench-hello\""
	mkdir -p "$D/bench"
	install -m 0755 "$BUILD/bench/hello" "$D/bench/hello"
	{
		echo "include \"$ROOT/lighttpd.conf\""
		for name in hello hello-db hello-auth hello-reveal; do
			cat <<EOF
\$HTTP["url"] == "/$name" {
  fastcgi.server = ( "/$name" => ((
    "bin-path" => "$D/bench/hello",
    "socket" => var.rundir + "/$name.sock",
EOF
			case $name in
			hello-db) echo "    \"bin-environment\" => ( $db )," ;;
			hello-auth) echo "    \"bin-environment\" => ( $db, \"HELLO_SQL_FILE\" => \"$D/bench/$name.sql\", \"HELLO_PREPARE\" => \"1\" )," ;;
			hello-*) echo "    \"bin-environment\" => ( $db, \"HELLO_SQL_FILE\" => \"$D/bench/$name.sql\" )," ;;
			esac
			echo '    "max-procs" => 4, "check-local" => "disable" )) )'
			echo '}'
		done
	} >"$D/bench/lighttpd.conf"
}

# The statements of /hello-auth and /hello-reveal, as lib/auth.c and
# lib/secret.c send them for the owner's token and the secret of
# secret_id.txt (the reveal figures' own), with their values written in.
ceiling_sql() {
	/usr/bin/python3 - "$D" <<'EOF'
import base64, json, sys
d = sys.argv[1]
token = open(d + "/owner_token.txt").read().split()[0]
part = token.split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
secret = open(d + "/secret_id.txt").read().strip()
auth = "SELECT * FROM homebot.authenticate_session('%s', '%s', '%s')" % (
    claims["sid"], claims["sub"], claims["org"])
reveal = (auth + "; SELECT homebot.request_context('%s', '%s', 'bench-ceiling', NULL,"
          " '127.0.0.1', 'wrk', NULL, '{}', '{}', 'true'); SELECT r.value_version,"
          " encode(r.ciphertext, 'hex'), encode(r.wrapped, 'hex')"
          " FROM homebot.secret_reveal('%s') r") % (claims["org"], claims["sub"], secret)
open(d + "/bench/hello-auth.sql", "w").write(auth)
open(d + "/bench/hello-reveal.sql", "w").write(reveal)
EOF
	chmod 0644 "$D/bench/hello-auth.sql" "$D/bench/hello-reveal.sql"
}

# The PgBouncer stack's lighttpd.conf: lighttpd.conf unchanged, but /me
# served by POOL_ME_PROCS workers. Behind a pooler each request makes two
# hops more, so a worker waits longer for its answer, and more workers
# keep the cores busy (docs/scaling.md, "Sizing").
pool_conf() {
	mkdir -p "$P/bench"
	cat >"$P/bench/lighttpd.conf" <<EOF
include "$ROOT/lighttpd.conf"
\$HTTP["url"] == "/api/v1/auth/me" {
  fastcgi.server = ( "/api/v1/auth/me" => ((
    "bin-path" => var.home + "/cgi-bin/me",
    "socket" => var.rundir + "/me-pooled.sock",
    "max-procs" => $POOL_ME_PROCS, "check-local" => "disable",
    "bin-copy-environment" => var.copy_env )) )
}
EOF
}

settings >"$D/settings.env"
settings >"$P/settings.env"
hello_conf
pool_conf
log "starting the direct stack and the PgBouncer stack"
HOMEBOT_PORT=$DPORT HOMEBOT_LIGHTTPD_CONF="$D/bench/lighttpd.conf" \
    scripts/stack.sh start "$D" >/dev/null
HOMEBOT_PORT=$PPORT HOMEBOT_PGBOUNCER=1 HOMEBOT_PGBOUNCER_POOL=$POOL_SIZE \
    HOMEBOT_LIGHTTPD_CONF="$P/bench/lighttpd.conf" scripts/stack.sh start "$P" >/dev/null
log "seeding both: $(/usr/bin/python3 bench/seed.py "$D" "$D" 2>/dev/null)"
/usr/bin/python3 bench/seed.py "$P" "$P" >/dev/null 2>&1
# Two verifications a user a run (bench/mfa.py): room for 2,000 a second.
# The second step runs at about 1,400 a second here; past the last pair
# bench/verify.lua's requests fail and count as errors (room for 500 let
# a third of them fail).
log "enrolling TOTP: $(/usr/bin/python3 bench/mfa.py enrol "$D" "$D" "$DURL" $((DUR * 1000)) 2>/dev/null)"
# The secret the reveal figures read, in the 210-member organization.
curl -fsS -H "Authorization: Bearer $(cat "$D/owner_token.txt")" \
    -H "Content-Type: application/json" \
    -d '{"name":"bench-reveal","value":"sk-bench-0123456789abcdef0123456789abcdef"}' \
    "$DURL/api/v1/secrets" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' \
    >"$D/secret_id.txt"
ceiling_sql
for h in hello hello-db hello-auth hello-reveal; do
	curl -fsS -o /dev/null "$DURL/$h" || { echo "bench: /$h does not answer" >&2; exit 1; }
done

# The wrk arguments of a named test against a stack (dir, url).
test_args() { # name dir url
	local t=$1 dir=$2 url=$3
	case $t in
	health) echo "-t1 -c32 -d${DUR}s $url/health" ;;
	hello) echo "-t1 -c32 -d${DUR}s $url/hello" ;;
	hellodb) echo "-t1 -c32 -d${DUR}s $url/hello-db" ;;
	helloauth) echo "-t1 -c32 -d${DUR}s $url/hello-auth" ;;
	helloreveal) echo "-t1 -c32 -d${DUR}s $url/hello-reveal" ;;
	me32) echo "-t1 -c32 -d${DUR}s -s bench/rotate.lua $url CREDS=$dir/tokens.txt" ;;
	me8) echo "-t1 -c8 -d${DUR}s -s bench/rotate.lua $url CREDS=$dir/tokens.txt" ;;
	key32) echo "-t1 -c32 -d${DUR}s -s bench/rotate.lua $url CREDS=$dir/keys.txt HEADER=X-API-Key" ;;
	members) echo "-t1 -c32 -d${DUR}s -s bench/rotate.lua $url CREDS=$dir/owner_token.txt BENCH_PATH=/api/v1/members?limit=50" ;;
	audit) echo "-t1 -c32 -d${DUR}s -s bench/rotate.lua $url CREDS=$dir/owner_token.txt BENCH_PATH=/api/v1/audit-log?limit=50" ;;
	members200) echo "-t1 -c32 -d${DUR}s -s bench/rotate.lua $url CREDS=$dir/owner_token.txt BENCH_PATH=/api/v1/members?limit=200" ;;
	members200gz) echo "-t1 -c32 -d${DUR}s -s bench/rotate.lua $url CREDS=$dir/owner_token.txt BENCH_PATH=/api/v1/members?limit=200 ACCEPT_ENCODING=gzip" ;;
	me32gz) echo "-t1 -c32 -d${DUR}s -s bench/rotate.lua $url CREDS=$dir/tokens.txt ACCEPT_ENCODING=gzip" ;;
	login) echo "-t1 -c4 -d${DUR}s -s bench/login.lua $url CREDS=$dir/logins.txt" ;;
	verify) echo "-t1 -c4 -d${DUR}s -s bench/verify.lua $url CREDS=$dir/mfa_pairs.txt" ;;
	reveal) echo "-t1 -c32 -d${DUR}s -s bench/rotate.lua $url CREDS=$dir/owner_token.txt METHOD=POST BODY={} BENCH_PATH=/api/v1/secrets/$(cat "$dir/secret_id.txt")/reveal" ;;
	create) echo "-t1 -c32 -d${DUR}s -s bench/rotate.lua $url CREDS=$dir/owner_token.txt METHOD=POST BENCH_PATH=/api/v1/secrets BODY={\"name\":\"bench-{n}\",\"value\":\"sk-bench-0123456789abcdef0123456789abcdef\"}" ;;
	esac
}

# Runs test name on a side and appends "name side rep rps p50 p99" to RAW.
RAW=$D/raw.txt
: >"$RAW"
measure() { # name side dir url rep
	local - args=() envs=() a
	set -f # the paths' "?" is no pattern
	for a in $(test_args "$1" "$3" "$4"); do
		case $a in *=*) envs+=("$a") ;; *) args+=("$a") ;; esac
	done
	# The script's settings (CREDS=...) go to wrk in its environment.
	echo "$1 $2 $5 $([ ${#envs[@]} -eq 0 ] || export "${envs[@]}"
	    wrk_figures "${args[@]}")" >>"$RAW"
	log "$(tail -n 1 "$RAW")"
}

# Warm-up, not counted: every program and cache has served this load once.
for url in "$DURL" "$PURL"; do
	CREDS="$D/tokens.txt" wrk -t1 -c8 -d2s -s bench/rotate.lua "$url" >/dev/null 2>&1 || true
done
CREDS="$P/tokens.txt" wrk -t1 -c8 -d2s -s bench/rotate.lua "$PURL" >/dev/null 2>&1 || true

for rep in $(seq "$REPS"); do
	# The order of the sides alternates, so neither always goes first.
	if [ $((rep % 2)) -eq 1 ]; then pair="a b"; else pair="b a"; fi
	for side in $pair; do
		if [ "$side" = a ]; then measure health homebot "$D" "$DURL" "$rep"
		else measure hello hello "$D" "$DURL" "$rep"; fi
	done
	for t in me32 me8; do
		for side in $pair; do
			if [ "$side" = a ]; then measure "$t" direct "$D" "$DURL" "$rep"
			else measure "$t" pgbouncer "$P" "$PURL" "$rep"; fi
		done
	done
	for t in hellodb helloauth helloreveal; do measure "$t" hello "$D" "$DURL" "$rep"; done
	for t in key32 members audit me32gz reveal create; do measure "$t" direct "$D" "$DURL" "$rep"; done
	for side in $pair; do
		if [ "$side" = a ]; then measure members200 identity "$D" "$DURL" "$rep"
		else measure members200gz gzip "$D" "$DURL" "$rep"; fi
	done
done
measure login direct "$D" "$DURL" 1
# Fresh pairs, made at the start of a time step (it waits for one).
log "second steps: $(/usr/bin/python3 bench/mfa.py pairs "$D" "$D" 2>/dev/null)"
measure verify direct "$D" "$DURL" 1

# "bytes encoding" of one answer's body to GET path with the credential
# of file, asking for accept (an Accept-Encoding, or "" for none).
answer_size() { # path creds accept
	curl -fsS -o /dev/null -w '%{size_download} %header{content-encoding}' \
	    -H "Authorization: Bearer $(head -n 1 "$D/$2")" \
	    ${3:+-H "Accept-Encoding: $3"} "$DURL$1" |
	    awk '{print $1, ($2 == "" ? "identity" : $2)}'
}
plain200=$(answer_size "/api/v1/members?limit=200" owner_token.txt "")
gzip200=$(answer_size "/api/v1/members?limit=200" owner_token.txt gzip)
megz=$(answer_size /api/v1/auth/me tokens.txt gzip)

# The median over the repetitions of field f (4 rps, 5 p50, 6 p99, 7 the
# answers that were not 2xx or 3xx).
med() { # name side field
	awk -v n="$1" -v s="$2" -v f="$3" '$1 == n && $2 == s {print $f}' "$RAW" |
	    sort -g | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]; else print "NA"}'
}
fig() {
	local e
	e=$(med "$1" "$2" 7)
	echo "$(med "$1" "$2" 4) req/s, p50 $(med "$1" "$2" 5) ms, p99 $(med "$1" "$2" 6) ms$([ "$e" = 0 ] || echo ", $e errors")"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "NA" }'; }

rss_kb() { # the largest VmRSS of a program's workers in stack dir
	local max=0 v p
	for p in $(pgrep -f "$1/app/cgi-bin/$2\$"); do
		v=$(awk '/VmRSS/ {print $2}' "/proc/$p/status")
		[ "$v" -gt "$max" ] && max=$v
	done
	echo "$max"
}
conns=$(psql -X -A -t "host=$D/pg user=postgres dbname=homebot" -c \
    "SELECT count(*) FROM pg_stat_activity WHERE usename = 'homebot_app'
       AND application_name <> 'bench-hello'")
# The broker plugin's connections (homebot-mqtt*) go straight to
# PostgreSQL, not through the pool: not counted against it.
pconns=$(psql -X -A -t "host=$P/pg user=postgres dbname=homebot" -c \
    "SELECT count(*) FROM pg_stat_activity WHERE usename = 'homebot_app'
       AND application_name NOT LIKE 'homebot-mqtt%'")

echo
echo "## Homebot — $(date -u +%FT%TZ), $(nproc) cores, wrk ${DUR} s × $REPS repetitions (medians)"
echo
row "what" "measured" "goal"
row "---" "---" "---"
row "GET /health, 32 connections" "$(fig health homebot)" ""
row "GET /hello (bench/hello.c, same lighttpd), 32 conn." "$(fig hello hello)" ""
row "**/health ÷ bare FastCGI program**" "$(ratio "$(med health homebot 4)" "$(med hello hello 4)")" "≥ 0.95×"
row "GET /api/v1/auth/me, tokens, 32 conn., direct" "$(fig me32 direct)" ""
row "GET /hello-db (bench/hello.c + one SELECT 1), 32 conn." "$(fig hellodb hello)" ""
row "**/me ÷ bare FastCGI program with one round trip**" "$(ratio "$(med me32 direct 4)" "$(med hellodb hello 4)")" "(its ceiling)"
row "GET /hello-auth (bench/hello.c + /me's statement, prepared), 32 conn." "$(fig helloauth hello)" ""
row "**/me ÷ its statement alone**" "$(ratio "$(med me32 direct 4)" "$(med helloauth hello 4)")" ""
row "GET /api/v1/auth/me, tokens, 32 conn., PgBouncer (pool $POOL_SIZE, $POOL_ME_PROCS /me workers)" "$(fig me32 pgbouncer)" ""
row "**/me through PgBouncer ÷ direct, 32 conn.**" "$(ratio "$(med me32 pgbouncer 4)" "$(med me32 direct 4)")" "≥ 0.9×"
row "GET /api/v1/auth/me, tokens, 8 conn., direct" "$(fig me8 direct)" ""
row "GET /api/v1/auth/me, tokens, 8 conn., PgBouncer" "$(fig me8 pgbouncer)" ""
row "**/me through PgBouncer ÷ direct, 8 conn.**" "$(ratio "$(med me8 pgbouncer 4)" "$(med me8 direct 4)")" "≥ 0.9×"
row "GET /api/v1/auth/me, API keys, 32 conn." "$(fig key32 direct)" ""
row "GET /api/v1/members (50 rows), 32 conn." "$(fig members direct)" ""
row "GET /api/v1/audit-log (50 rows), 32 conn." "$(fig audit direct)" ""
row "GET /api/v1/members (200 rows), 32 conn., identity" "$(fig members200 identity), ${plain200% *} B" ""
row "GET /api/v1/members (200 rows), 32 conn., gzip asked" "$(fig members200gz gzip), ${gzip200% *} B ${gzip200#* }" ""
row "**200-row page: bytes gzip ÷ identity**" "$(ratio "${gzip200% *}" "${plain200% *}")" ""
row "**200-row page: req/s gzip ÷ identity**" "$(ratio "$(med members200gz gzip 4)" "$(med members200 identity 4)")" ""
row "GET /api/v1/auth/me, tokens, gzip asked, 32 conn." "$(fig me32gz direct), ${megz% *} B ${megz#* }" "identity (BREACH)"
row "POST /api/v1/secrets/{id}/reveal, 32 conn." "$(fig reveal direct)" ""
row "**reveal ÷ /me (tokens, 32 conn., direct)**" "$(ratio "$(med reveal direct 4)" "$(med me32 direct 4)")" "≥ 0.8×"
row "GET /hello-reveal (bench/hello.c + a reveal's statements, one round trip), 32 conn." "$(fig helloreveal hello)" ""
row "**reveal's ceiling ÷ /me**" "$(ratio "$(med helloreveal hello 4)" "$(med me32 direct 4)")" ""
row "POST /api/v1/secrets (create), 32 conn." "$(fig create direct)" ""
row "**create ÷ /me (tokens, 32 conn., direct)**" "$(ratio "$(med create direct 4)" "$(med me32 direct 4)")" "≥ 0.8×"
row "POST /api/v1/auth/login, bcrypt 12, 4 conn." "$(fig login direct)" ""
row "POST /api/v1/auth/mfa/verify (TOTP, 2nd step), 4 conn." "$(fig verify direct)" ""
row "one me worker's VmRSS" "$(rss_kb "$D" me) KB" "≤ 12 MB"
row "homebot_app connections: direct / PgBouncer" "$conns / $pconns" "PgBouncer: ≤ pool ($POOL_SIZE)"

if [ "${BENCH_LARGE:-}" = 1 ]; then
	bench/large.sh "$D" "$DURL"
fi

bench/jobs.sh "$D"
bench/metrics.sh "$D" "$DURL"
bench/mqtt.sh "$D"
bench/vault-rotate.sh

# The peer last: it builds and starts a clone of this checkout itself.
if [ -x "$PEER_BENCH/vs-peer.sh" ]; then
	scripts/stack.sh stop "$P" >/dev/null 2>&1 || true
	scripts/stack.sh stop "$D" >/dev/null 2>&1 || true
	echo
	DUR=$DUR REPS=$REPS "$PEER_BENCH/vs-peer.sh" "$ROOT" || true
else
	echo
	echo "The FastAPI peer: not measured (no vs-peer.sh in PEER_BENCH=$PEER_BENCH)."
fi
