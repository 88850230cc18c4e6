#!/bin/sh
# What ./migrate promises, checked against a scratch database with small
# fixture migrations of its own (not the real schema).
#
# HOMEBOT_TEST_ADMIN_URL: libpq conninfo string (or postgresql:// URL) of a
# superuser, e.g. "host=/path/to/socket user=postgres dbname=postgres".
# The scratch databases and the temporary directory are removed on exit,
# whether the tests pass, fail or are interrupted.

set -u
unset CDPATH

if [ -z "${HOMEBOT_TEST_ADMIN_URL:-}" ]; then
	echo "Bail out! HOMEBOT_TEST_ADMIN_URL is not set (libpq conninfo of a superuser)"
	exit 1
fi

here=$(cd -P -- "$(dirname -- "$0")" && pwd)
migrate=$here/../../migrate
admin=$HOMEBOT_TEST_ADMIN_URL
db=homebot_migrate_t_$$
db2=homebot_migrate_t_$$_concurrent
work=$(mktemp -d "${TMPDIR:-/tmp}/migrate-t.XXXXXX") || {
	echo "Bail out! cannot create a temporary directory"
	exit 1
}

cleanup() {
	psql -X -q -d "$admin" \
		-c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
		-c "DROP DATABASE IF EXISTS $db2 WITH (FORCE)" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# conninfo of database $1 on the admin URL's server
conninfo_for() {
	case $admin in
	postgres://* | postgresql://*)
		case $admin in
		*\?*) printf '%s&dbname=%s' "$admin" "$1" ;;
		*) printf '%s?dbname=%s' "$admin" "$1" ;;
		esac
		;;
	*) printf '%s dbname=%s' "$admin" "$1" ;;
	esac
}

if ! psql -X -q -v ON_ERROR_STOP=1 -d "$admin" -c "CREATE DATABASE $db" -c "CREATE DATABASE $db2" >"$work/setup.err" 2>&1; then
	echo "Bail out! cannot create scratch databases: $(tr '\n' ' ' <"$work/setup.err")"
	exit 1
fi

export DATABASE_URL
export HOMEBOT_SCHEMA_DIR
DATABASE_URL=$(conninfo_for "$db")
HOMEBOT_SCHEMA_DIR=$work/schema

n=0
failed=0

diag() {
	printf '%s\n' "$@" | sed 's/^/#   /' >&2
}

ok() { # ok CONDITION-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
	[ "$1" -eq 0 ]
}

is() { # is GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "got:" "$1" "want:" "$2"
		return 1
	fi
}

# like TEXT PATTERN DESCRIPTION: a fixed-string search
like() {
	if printf '%s\n' "$1" | grep -qF -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "got:" "$1" "expected to contain:" "$2"
		return 1
	fi
}

nonzero() { # nonzero DESCRIPTION: the last run_migrate failed, as it should
	[ "$rc" -ne 0 ]
	ok $? "$1"
}

# run_migrate ARGS...: sets $rc, $out and $err
run_migrate() {
	"$migrate" "$@" >"$work/out" 2>"$work/err"
	rc=$?
	out=$(cat "$work/out")
	err=$(cat "$work/err")
}

# sql QUERY [DATABASE-URL]: the result, unaligned, without headers
sql() {
	psql -X -q -At -v ON_ERROR_STOP=1 -d "${2:-$DATABASE_URL}" -c "$1" 2>&1
}

sha() {
	sum=$(sha256sum <"$1")
	printf '%s' "${sum%% *}"
}

fixture() { # fixture FILE: writes stdin to the fixture directory
	cat >"$HOMEBOT_SCHEMA_DIR/$1"
}

plan=39
echo "1..$plan"

mkdir "$HOMEBOT_SCHEMA_DIR" "$work/aside"
fixture 0001_alpha.sql <<'EOF'
CREATE TABLE alpha (id int PRIMARY KEY, note text);
INSERT INTO alpha VALUES (1, 'from 0001');
EOF
fixture 0001_alpha.down.sql <<'EOF'
DROP TABLE alpha;
EOF
fixture 0002_beta.sql <<'EOF'
CREATE TABLE beta (id int REFERENCES alpha);
INSERT INTO beta VALUES (1);
EOF
fixture 0002_beta.down.sql <<'EOF'
DROP TABLE beta;
EOF

# -- up ---------------------------------------------------------------------

run_migrate up
is "$rc" 0 "up on an empty database exits 0" || diag "$err"
is "$out" "applied 0001_alpha.sql
applied 0002_beta.sql" "up prints one line per applied migration, oldest first"
is "$err" "" "up writes nothing to stderr on success"
is "$(sql "SELECT string_agg(version || ' ' || name || ' ' || checksum, ',' ORDER BY version) FROM schema_migrations")" \
	"0001 alpha $(sha "$HOMEBOT_SCHEMA_DIR/0001_alpha.sql"),0002 beta $(sha "$HOMEBOT_SCHEMA_DIR/0002_beta.sql")" \
	"schema_migrations records version, name and the sha256 of each file"
is "$(sql "SELECT count(*) FROM alpha JOIN beta USING (id)")" 1 "the migrations' effects are there"

before=$(sql "SELECT string_agg(version || applied_at, ',' ORDER BY version) FROM schema_migrations")
run_migrate up
is "$rc/$out/$err" "0//" "a second up exits 0 and prints nothing"
is "$(sql "SELECT string_agg(version || applied_at, ',' ORDER BY version) FROM schema_migrations")" \
	"$before" "a second up applies nothing"

# -- status -----------------------------------------------------------------

fixture 0003_gamma.sql <<'EOF'
ALTER TABLE alpha ADD COLUMN gamma int;
EOF
fixture 0003_gamma.down.sql <<'EOF'
ALTER TABLE alpha DROP COLUMN gamma;
EOF
run_migrate status
is "$rc" 0 "status exits 0"
is "$(printf '%s\n' "$out" | sed -e 's/  *applied [0-9][0-9-]* [0-9:+-]*$/ applied/' -e 's/  *pending$/ pending/')" \
	"0001_alpha.sql applied
0002_beta.sql applied
0003_gamma.sql pending" "status shows each migration as applied (with its time) or pending"

# -- a failing migration ----------------------------------------------------

fixture 0004_broken.sql <<'EOF'
CREATE TABLE delta (id int);
INSERT INTO delta VALUES (1);
SELECT 1 / 0;
EOF
run_migrate up
nonzero "up exits non-zero when a migration fails"
like "$err" "0004_broken.sql" "the error names the failing file"
is "$out" "applied 0003_gamma.sql" "migrations before the failing one are applied"
is "$(sql "SELECT to_regclass('delta') IS NULL AND NOT EXISTS (SELECT FROM schema_migrations WHERE version = '0004')")" \
	t "a failing migration leaves neither its changes nor a bookkeeping row"
rm "$HOMEBOT_SCHEMA_DIR/0004_broken.sql"

# -- changed and missing applied migrations ----------------------------------

fixture 0005_epsilon.sql <<'EOF'
CREATE TABLE epsilon (id int);
EOF
echo "-- an edit after the fact" >>"$HOMEBOT_SCHEMA_DIR/0002_beta.sql"
run_migrate up
nonzero "up refuses to run when an applied migration's file has changed"
like "$err" "0002_beta.sql" "the refusal names the changed file"
is "$(sql "SELECT to_regclass('epsilon') IS NULL AND NOT EXISTS (SELECT FROM schema_migrations WHERE version = '0005')")" \
	t "nothing is applied after the refusal"

run_migrate verify
nonzero "verify exits non-zero when an applied migration's file has changed"
like "$err" "0002_beta.sql" "verify names the changed file"

mv "$HOMEBOT_SCHEMA_DIR/0001_alpha.sql" "$HOMEBOT_SCHEMA_DIR/0001_alpha.down.sql" "$work/aside/"
run_migrate verify
nonzero "verify exits non-zero when an applied migration's file is missing"
like "$err" "0001_alpha.sql" "verify names the missing file"
like "$err" "0002_beta.sql" "verify names every problem, not just the first"
mv "$work/aside/0001_alpha.sql" "$work/aside/0001_alpha.down.sql" "$HOMEBOT_SCHEMA_DIR/"

sed '$d' "$HOMEBOT_SCHEMA_DIR/0002_beta.sql" >"$work/beta" && mv "$work/beta" "$HOMEBOT_SCHEMA_DIR/0002_beta.sql"
run_migrate verify
is "$rc/$out/$err" "0//" "verify exits 0 quietly once the files match again"

# -- down -------------------------------------------------------------------

# 0005 is pending and has no down file: down must not care about it.
run_migrate down 1
is "$rc/$out" "0/rolled back 0003_gamma.sql" "down 1 rolls back only the newest applied migration"
is "$(sql "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations")/$(sql "SELECT count(*) FROM pg_attribute WHERE attrelid = 'alpha'::regclass AND attname = 'gamma'")" \
	"0001,0002/0" "down 1 undid 0003 and deleted its bookkeeping row"

run_migrate down 2
is "$rc/$out" "0/rolled back 0002_beta.sql
rolled back 0001_alpha.sql" "down 2 rolls back the next two, newest first"
is "$(sql "SELECT count(*) FROM schema_migrations")/$(sql "SELECT to_regclass('alpha') IS NULL AND to_regclass('beta') IS NULL")" \
	"0/t" "down 2 undid both and deleted their bookkeeping rows"

run_migrate up
is "$rc/$out" "0/applied 0001_alpha.sql
applied 0002_beta.sql
applied 0003_gamma.sql
applied 0005_epsilon.sql" "up after down applies everything again"

run_migrate down
nonzero "down exits non-zero when the down file is missing"
like "$err" "0005_epsilon.down.sql" "the error names the missing down file"
is "$(sql "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations")/$(sql "SELECT to_regclass('epsilon') IS NOT NULL")" \
	"0001,0002,0003,0005/t" "nothing is rolled back when a down file is missing"

# -- refusals before connecting ----------------------------------------------

(unset DATABASE_URL && run_migrate status && exit "$rc")
rc=$?
err=$(cat "$work/err")
nonzero "migrate exits non-zero without DATABASE_URL"
is "$(wc -l <"$work/err" | tr -d ' ')/$(grep -c DATABASE_URL "$work/err")" "1/1" \
	"and says so in one line naming DATABASE_URL"

fixture 0006-wrong.sql </dev/null
run_migrate status
nonzero "a file that looks like a migration but is misnamed is refused"
like "$err" "0006-wrong.sql" "the refusal names the misnamed file"
rm "$HOMEBOT_SCHEMA_DIR/0006-wrong.sql"

fixture 0006_commits.sql <<'EOF'
CREATE TABLE zeta (id int);
COMMIT;
EOF
run_migrate up
nonzero "a migration that manages its own transaction is refused"
is "$(sql "SELECT to_regclass('zeta') IS NULL")" t "and nothing of it runs"
rm "$HOMEBOT_SCHEMA_DIR/0006_commits.sql"

# -- two concurrent runs -------------------------------------------------------

mkdir "$work/concurrent"
cat >"$work/concurrent/0001_slow.sql" <<'EOF'
SELECT pg_sleep(1);
CREATE TABLE slow (id int);
EOF
cat >"$work/concurrent/0002_count.sql" <<'EOF'
INSERT INTO slow VALUES (1);
EOF
url2=$(conninfo_for "$db2")
DATABASE_URL=$url2 HOMEBOT_SCHEMA_DIR=$work/concurrent "$migrate" up >"$work/c1.out" 2>"$work/c1.err" &
p1=$!
DATABASE_URL=$url2 HOMEBOT_SCHEMA_DIR=$work/concurrent "$migrate" up >"$work/c2.out" 2>"$work/c2.err" &
p2=$!
wait "$p1"
rc1=$?
wait "$p2"
rc2=$?
is "$rc1/$rc2" "0/0" "two concurrent up runs both exit 0" || diag "$(cat "$work/c1.err" "$work/c2.err")"
is "$(sql "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations" "$url2")/$(sql "SELECT count(*) FROM slow" "$url2")" \
	"0001,0002/1" "each migration was applied exactly once"
is "$(cat "$work/c1.out" "$work/c2.out" | LC_ALL=C sort)" "applied 0001_slow.sql
applied 0002_count.sql" "between them the two runs report each migration once"

[ "$n" -eq "$plan" ] || echo "# ran $n tests, planned $plan" >&2
[ "$failed" -eq 0 ]
