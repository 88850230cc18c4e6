#!/usr/bin/env bash
# Flat cost as data grows (make bench with BENCH_LARGE=1): /me, a members
# page and an audit page with each filter on the stack bench/run.sh seeded
# (1,000 organizations), then the same stack grown in SQL to 100,000
# organizations, 1,000,000 users and 10,000,000 audit rows (the
# organization whose pages are read gets 100,000 members and 1,000,000
# events, a rare action and a rare actor among them), then the same
# requests again. Prints table rows
# like run.sh's: both figures and their ratio.
#
#   bench/large.sh DIR URL      BENCH_LARGE_SCALE (1): a fraction of the sizes
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
T=$1
URL=$2
DUR=${BENCH_SECONDS:-10}
SCALE=${BENCH_LARGE_SCALE:-1}
OWNER="host=$T/pg user=postgres dbname=homebot"
# log, row, wrk_figures
# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
q() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$OWNER" -c "$1"; }
n() { awk -v s="$SCALE" -v v="$1" 'BEGIN { printf "%d", v * s }'; }

ORGS=$(n 100000) USERS=$(n 1000000) SPREAD=$(n 9000000) BIG=$(n 1000000) MEMBERS=$(n 100000)
BIG_ORG=$(q "SELECT id FROM homebot.organizations WHERE slug = 'bench-big'")
BIG_OWNER=$(q "SELECT m.user_id FROM homebot.memberships m JOIN homebot.users u ON u.id = m.user_id
               WHERE m.organization_id = '$BIG_ORG' AND u.email = 'big1@example.com'")
RARE_ACTOR=$(q "SELECT m.user_id FROM homebot.memberships m JOIN homebot.users u ON u.id = m.user_id
                WHERE m.organization_id = '$BIG_ORG' AND u.email = 'big2@example.com'")
SINCE=$(date -u -d '-1 hour' +%FT%TZ)
# until= reads a full page in both data sets: the small one's events are
# all minutes old, so there it ends now; the large one's spread over 30
# days, so there it starts the scan 20 days back, in the middle of the
# index. (An until= of 20 days back on the small set read an empty page,
# and made the large set's full page look 2.8 times dearer.)
UNTIL=$(date -u +%FT%TZ)

# The pages read, by name.
paths() {
	echo "me /api/v1/auth/me tokens.txt"
	echo "members /api/v1/members?limit=50 owner_token.txt"
	echo "audit /api/v1/audit-log?limit=50 owner_token.txt"
	echo "audit_action /api/v1/audit-log?limit=50&action=bench.rare owner_token.txt"
	echo "audit_actor /api/v1/audit-log?limit=50&actor_id=$RARE_ACTOR owner_token.txt"
	echo "audit_since /api/v1/audit-log?limit=50&since=$SINCE owner_token.txt"
	echo "audit_until /api/v1/audit-log?limit=50&until=$UNTIL owner_token.txt"
}

# "req/s p99_ms" of GET path with the credentials of file, 8 connections.
measure() { # path creds
	CREDS="$T/$2" BENCH_PATH="$1" wrk_figures -t1 -c8 -d"${DUR}s" \
	    -s bench/rotate.lua "$URL" | awk '{print $1, $3}'
}

declare -A SMALL LARGE
measure_all() { # array name
	local name path creds
	local -n into=$1
	set -f
	while read -r name path creds; do
		# Every page must answer 200 before it is timed.
		curl -fsS -o /dev/null -H "Authorization: Bearer $(head -n 1 "$T/$creds")" "$URL$path" ||
		    { echo "large.sh: GET $path failed" >&2; exit 1; }
		into[$name]=$(measure "$path" "$creds")
		log "$name: ${into[$name]}"
	done < <(paths)
	set +f
}

seed() {
	local hash
	hash=$(q "SELECT password_hash FROM homebot.users WHERE email = 'big1@example.com'")
	# Seeds need no request context: the audit trigger is left out (and so
	# are member_access's, whose rows are written here).
	psql -X -q -1 -v ON_ERROR_STOP=1 "$OWNER" <<EOF
SET session_replication_role = replica;
CREATE TEMP TABLE lo AS SELECT g, gen_random_uuid() AS id FROM generate_series(1, $ORGS) g;
INSERT INTO homebot.organizations (id, name, slug) SELECT id, 'Large ' || g, 'large-' || g FROM lo;
CREATE TEMP TABLE lu AS SELECT g, gen_random_uuid() AS id FROM generate_series(1, $USERS) g;
INSERT INTO homebot.users (id, email, password_hash, full_name)
     SELECT id, 'large' || g || '@example.com', '$hash', 'Large User ' || g FROM lu;
INSERT INTO homebot.memberships (organization_id, user_id, role)
     SELECT lo.id, lu.id, CASE WHEN lu.g <= $ORGS THEN 'owner' ELSE 'member' END
       FROM lu JOIN lo ON lo.g = (lu.g - 1) % $ORGS + 1;
-- The organization whose pages are read gets a hundred thousand members.
INSERT INTO homebot.memberships (organization_id, user_id, role, created_at)
     SELECT '$BIG_ORG', id, 'member', now() - interval '30 days' + g * interval '1 second'
       FROM lu WHERE g <= $MEMBERS;
-- Their access rows, which member_access's triggers would have written.
DO \$\$ BEGIN PERFORM homebot.member_access_rebuild(); END \$\$;
INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
                               target_id, occurred_at)
     SELECT lo.id, 'user', NULL,
            (ARRAY['member.added', 'member.role_changed', 'organization.updated', 'api_key.created'])[1 + i % 4],
            'organization', lo.id::text, now() - interval '30 days' + (i % 2000000) * interval '1 second'
       FROM generate_series(1, $SPREAD) i JOIN lo ON lo.g = 1 + i % $ORGS;
-- The organization whose pages are read: a million events of its owner,
-- ten of a rare action, ten of a rare actor, spread over 30 days.
INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id, action, target_type,
                               target_id, occurred_at)
     SELECT '$BIG_ORG', 'user',
            CASE WHEN g % ($BIG / 10) = 7 THEN '$RARE_ACTOR'::uuid ELSE '$BIG_OWNER'::uuid END,
            CASE WHEN g % ($BIG / 10) = 3 THEN 'bench.rare' ELSE 'member.role_changed' END,
            'membership', g::text,
            now() - interval '30 days' + g * (interval '30 days' / $BIG)
       FROM generate_series(1, $BIG) g;
RESET session_replication_role;
EOF
	q "VACUUM ANALYZE" >/dev/null
}

log "the pages on the data set run.sh seeded"
measure_all SMALL
log "growing the data set: $ORGS organizations, $USERS users, $((SPREAD + BIG)) audit rows"
started=$SECONDS
# A stack kept from an earlier run (BENCH_KEEP=1) is grown once.
if [ -z "$(q "SELECT 1 FROM homebot.organizations WHERE slug = 'large-1'")" ]; then seed; fi
seeded=$((SECONDS - started))
log "seeded in $seeded s: $(q "SELECT count(*) FROM homebot.users") users, $(q "SELECT count(*) FROM homebot.audit_log") audit rows"
UNTIL=$(date -u -d '-20 days' +%FT%TZ)
measure_all LARGE

echo
row "8 connections: req/s and p99, small → large data set" "measured" "goal"
row "---" "---" "---"
while read -r name path _; do
	read -r s_rps s_p99 <<<"${SMALL[$name]}"
	read -r l_rps l_p99 <<<"${LARGE[$name]}"
	row "GET $path" \
	    "$s_rps → $l_rps req/s, p99 $s_p99 → $l_p99 ms" \
	    "$([ "$name" = me ] && echo "req/s within 10 %" || echo "p99 flat")"
	row "  ratio large ÷ small" \
	    "$(awk -v a="$l_rps" -v b="$s_rps" -v c="$l_p99" -v d="$s_p99" 'BEGIN { printf "req/s %.2f×, p99 %.2f×", a / b, c / d }')" ""
done < <(set -f; paths)
row "seeding $ORGS orgs, $USERS users, $((SPREAD + BIG)) audit rows" "$seeded s" ""
