#!/bin/sh
# Every real down migration, on a database holding data: schema/ is
# applied with migrate up, a few dozen rows go into every table through the
# SQL functions (tests/migrate/data.sql), then migrate down runs one step
# at a time to zero, and migrate up brings it all back. After each step: the
# version, no function or trigger left behind (down drops the repeatable
# files' ones first), the rows of the tables that stay untouched; at the
# end the database is built exactly as before (tests/migrate/catalog.sql)
# and the functions work. Then the same with data kept: down below the
# functions' tables, and up again over the rows that stayed.
#
# The summary of each step (version, functions, triggers, rows per table)
# is printed as comments.
#
# HOMEBOT_TEST_ADMIN_URL: libpq conninfo string (or postgresql:// URL) of a
# superuser; the scratch database is removed on exit.

db=homebot_roundtrip_t_$$
scratch=$db
. "$(dirname -- "$0")/lib.sh"
url=$(conninfo_for "$db")

# The real migrations, oldest first, and the repeatable files.
migrations=$(cd "$root/schema" && ls | grep -E '^[0-9]{4}_[a-z0-9_]+\.sql$' | grep -v '\.down\.sql$' |
    LC_ALL=C sort | sed 's/\.sql$//')
repeatables=$(cd "$root/schema" && ls R__*.sql | LC_ALL=C sort)
newest_first=$(printf '%s\n' "$migrations" | LC_ALL=C sort -r)
# applied_lines FIRST_MIGRATION: what up prints from that migration on
applied_lines() {
	printf '%s\n' "$migrations" | awk -v from="$1" '$0 >= from { print "applied " $0 ".sql" }'
	printf '%s\n' "$repeatables" | sed 's/^/applied /'
}

plan=$((24 + 3 * $(printf '%s\n' "$migrations" | wc -l) + $(printf '%s\n' "$repeatables" | wc -l)))
echo "1..$plan"

step() { # step LABEL: the summary line of a step
	note "$(printf '%-22s %s' "$1" "$(state "$url")")" "$(printf '%-22s %s' '' "$(counts "$url")")"
}

# table_rows FILE: the tables of schema homebot and their rows, as "name n"
# lines. The permission catalog is left out: it is seed data that each
# migration adds and its down file takes away again (0004 adds jobs:read).
table_rows() {
	counts "$url" | tr ',' '\n' | sed 's/^ //' | grep -v '^-$' |
	    grep -Ev '^(permissions|role_permissions) ' >"$1"
}

# subset SMALL BIG: whether every line of file SMALL is in file BIG
subset() {
	missing=$(grep -vxF -f "$2" "$1")
	[ -z "$missing" ] || diag "not as before: $missing"
	[ -z "$missing" ]
}

# -- up, data ------------------------------------------------------------------

run_migrate "$url" up
is "$rc/$out" "0/$(applied_lines 0000)" \
	"up on an empty database applies every migration, then every repeatable file" || diag "$err"
first_up=$out
add_data "$url" a
ok $? "data.sql writes through the functions"
is "$(counts "$url" | tr ',' '\n' | grep ' 0$')" "" "every table holds rows"
table_rows "$work/counts.before"
catalog "$url" "$work/catalog.before"
ok $? "the catalog of the new database is read"
note "down one step at a time to zero, then up, with data:"
step "up"

# -- down, one step at a time -------------------------------------------------

for v in $newest_first; do
	run_migrate "$url" down
	is "$rc/$(printf '%s\n' "$out" | tail -n 1)" "0/rolled back $v.sql" "down rolls back $v" || diag "$err"
	is "$(sql "$url" "SELECT (SELECT count(*) FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace
	                           WHERE s.nspname NOT LIKE 'pg\_%' AND s.nspname <> 'information_schema')
	                         + (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal)
	                         || '/' || (SELECT count(*) FROM public.schema_repeatables)")" \
		"0/0" "after $v's rollback no function, trigger or repeatable file's record is left"
	table_rows "$work/counts.now"
	subset "$work/counts.now" "$work/counts.before"
	ok $? "the tables that stay keep every row"
	note "$(printf '%s\n' "$out" | sed 's/^/migrate down: /')"
	step "down ($v)"
done
is "$(sql "$url" "SELECT to_regnamespace('homebot') IS NULL AND NOT EXISTS (SELECT FROM public.schema_migrations)")" \
	t "at zero, schema homebot and every migration's record are gone"

# -- and up again ---------------------------------------------------------------

run_migrate "$url" up
is "$rc/$out" "0/$first_up" "up from zero applies everything again" || diag "$err"
step "up"
catalog "$url" "$work/catalog.after"
same "$work/catalog.before" "$work/catalog.after" \
	"the database is built exactly as before: functions, triggers, grants, policies, tables, bookkeeping"
run_migrate "$url" verify
is "$rc/$out/$err" "0//" "verify passes"
works "$url" w1 w1-nobody@example.test >"$work/works"
works_expected w1 "" >"$work/works.expected"
same "$work/works.expected" "$work/works" "register, login_lookup, login_start and invite_member work, and audit"

# -- down below the functions' tables and up again, with data kept -----------------

add_data "$url" b
ok $? "data.sql writes again"
table_rows "$work/counts.before"
note "down 2 and up, with data kept:"
step "up"
second_newest=$(printf '%s\n' "$newest_first" | sed -n 2p)
run_migrate "$url" down 2
is "$rc/$(printf '%s\n' "$out" | grep -c '^rolled back')" "0/2" \
	"down 2 rolls back the two newest migrations" || diag "$err"
like "$out" "dropped " "and says that it dropped the repeatable files' functions and triggers"
table_rows "$work/counts.kept"
subset "$work/counts.kept" "$work/counts.before"
ok $? "the tables that stay keep every row"
note "$(printf '%s\n' "$out" | sed 's/^/migrate down 2: /')"
step "down 2"
is "$(sql "$url" "SELECT count(*) FROM pg_proc WHERE pronamespace = 'homebot'::regnamespace")" 0 \
	"schema homebot holds no function two versions down"
# Events waiting as jobs, as releases before 0023_event_outbox enqueued
# them: the migration moves them to the outbox.
waiting=$(sql "$url" "INSERT INTO homebot.jobs (organization_id, kind, payload)
                      SELECT a.organization_id, 'mqtt.publish', jsonb_build_object('id', a.id, 'type', a.action)
                        FROM homebot.audit_log a WHERE a.organization_id IS NOT NULL
                       ORDER BY a.occurred_at, a.id LIMIT 3
                      RETURNING payload ->> 'id'" | LC_ALL=C sort | tr '\n' ' ')
run_migrate "$url" up
is "$rc/$out" "0/$(applied_lines "$second_newest")" \
	"up applies both migrations and every repeatable file again" || diag "$err"
is "$(sql "$url" "SELECT audit_id FROM homebot.event_outbox" | LC_ALL=C sort | tr '\n' ' ')" "$waiting" \
	"0023 moves the events waiting as jobs to the outbox"
is "$(sql "$url" "SELECT count(*) FROM homebot.jobs WHERE kind = 'mqtt.publish'")" 0 \
	"...and they are jobs no more"
step "up"
table_rows "$work/counts.now"
subset "$work/counts.kept" "$work/counts.now"
ok $? "over the rows that stayed"
catalog "$url" "$work/catalog.after"
same "$work/catalog.before" "$work/catalog.after" "the database is built exactly as before"
works "$url" w2 b-owner-3@example.test >"$work/works"
works_expected w2 '$2b$04$owner3' >"$work/works.expected"
same "$work/works.expected" "$work/works" \
	"the functions work, also for a user registered before the rollback"
is "$(sql "$url" "SET app.request_id = 'w2-rename';
                   UPDATE homebot.organizations SET name = 'Renamed' WHERE slug = 'org-b-5';
                   SELECT string_agg(action, ',') FROM homebot.audit_log WHERE request_id = 'w2-rename'")" \
	"row.organizations.update" "the audit triggers are back on the rows that stayed"
run_migrate "$url" verify
is "$rc/$out/$err" "0//" "verify passes"

# -- the files themselves ------------------------------------------------------------

is "$(grep -lEi '^[[:space:]]*CREATE[[:space:]]+(OR[[:space:]]+REPLACE[[:space:]]+)?(FUNCTION|TRIGGER|PROCEDURE)' \
	"$root"/schema/[0-9]*.sql | wc -l | tr -d ' ')" 0 "no numbered migration creates a function or trigger"
is "$(grep -ci 'homebot.register' "$root"/schema/[0-9]*.sql | grep -v ':0$' | wc -l | tr -d ' ')" 0 \
	"no numbered migration, up or down, carries a copy of a function"
for f in "$root"/schema/R__*.sql; do
	grep -Eiq '^[[:space:]]*CREATE[[:space:]]+(FUNCTION|TRIGGER)' "$f"
	ok $((!$?)) "${f##*/} creates nothing without OR REPLACE: it can run again"
done

done_testing
