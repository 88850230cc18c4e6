#!/bin/sh
# What ./migrate promises, checked against scratch databases with small
# fixture migrations and repeatable files of their own (not the real
# schema: tests/migrate/roundtrip.t and upgrade.t use that).
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
db3=homebot_migrate_t_$$_repeatable
db4=homebot_migrate_t_$$_concurrent_r
work=$(mktemp -d "${TMPDIR:-/tmp}/migrate-t.XXXXXX") || {
	echo "Bail out! cannot create a temporary directory"
	exit 1
}

cleanup() {
	psql -X -q -d "$admin" \
		-c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
		-c "DROP DATABASE IF EXISTS $db2 WITH (FORCE)" \
		-c "DROP DATABASE IF EXISTS $db3 WITH (FORCE)" \
		-c "DROP DATABASE IF EXISTS $db4 WITH (FORCE)" >/dev/null 2>&1
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

if ! psql -X -q -v ON_ERROR_STOP=1 -d "$admin" -c "CREATE DATABASE $db" -c "CREATE DATABASE $db2" \
	-c "CREATE DATABASE $db3" -c "CREATE DATABASE $db4" >"$work/setup.err" 2>&1; then
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

plan=93
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

# -- repeatable files ---------------------------------------------------------

# rmig ARGS...: migrate on the repeatables' database and fixture directory
url3=$(conninfo_for "$db3")
rdir=$work/repeatable
rmig() {
	DATABASE_URL=$url3 HOMEBOT_SCHEMA_DIR=$rdir run_migrate "$@"
}
rsql() {
	sql "$1" "$url3"
}
rfix() { # rfix FILE: writes stdin to the repeatables' fixture directory
	cat >"$rdir/$1"
}
# the functions and triggers outside the system schemas, as down sees them
layer() {
	rsql "SELECT (SELECT string_agg(proname, ',' ORDER BY proname) FROM pg_proc
	               WHERE pronamespace = 'public'::regnamespace)
	             || '/' || (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal
	                          AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace))"
}
normalize_status() {
	printf '%s\n' "$1" | sed -e 's/  *applied [0-9][0-9-]* [0-9:+-]*/ applied/' -e 's/  *pending$/ pending/'
}

mkdir "$rdir"
rfix 0001_base.sql <<'EOF'
CREATE TABLE item (id int PRIMARY KEY);
CREATE TABLE item_log (msg text);
EOF
rfix 0001_base.down.sql <<'EOF'
DROP TABLE item_log;
DROP TABLE item;
EOF
rfix 0002_note.sql <<'EOF'
ALTER TABLE item ADD COLUMN note text;
EOF
rfix 0002_note.down.sql <<'EOF'
ALTER TABLE item DROP COLUMN note;
EOF
# A LANGUAGE sql body is checked when it is created: item_notes() needs
# 0002's column, so this file can only run after the numbered migrations.
rfix R__item.sql <<'EOF'
CREATE OR REPLACE FUNCTION item_notes() RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(note, ',' ORDER BY id) FROM item
$$;
CREATE OR REPLACE FUNCTION item_logged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO item_log VALUES ('item ' || NEW.id);
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER item_logged AFTER INSERT ON item
	FOR EACH ROW EXECUTE FUNCTION item_logged();
EOF
rfix R__version.sql <<'EOF'
CREATE OR REPLACE FUNCTION rep_version() RETURNS text LANGUAGE sql AS $$ SELECT 'one' $$;
EOF

rmig up
is "$rc/$out/$err" "0/applied 0001_base.sql
applied 0002_note.sql
applied R__item.sql
applied R__version.sql/" "up applies the numbered migrations, then the repeatable files in name order"
is "$(rsql "SELECT string_agg(name || ' ' || checksum, ',' ORDER BY name) FROM schema_repeatables")" \
	"item $(sha "$rdir/R__item.sql"),version $(sha "$rdir/R__version.sql")" \
	"schema_repeatables records the name and the sha256 of each repeatable file"
is "$(rsql "INSERT INTO item VALUES (1, 'a'); SELECT item_notes() || ' ' || rep_version() || ' ' || (SELECT string_agg(msg, ',') FROM item_log)")" \
	"a one item 1" "the repeatable files' functions and trigger work"

before=$(rsql "SELECT string_agg(name || applied_at, ',' ORDER BY name) FROM schema_repeatables")
rmig up
is "$rc/$out/$err" "0//" "a second up applies no repeatable file again"
is "$(rsql "SELECT string_agg(name || applied_at, ',' ORDER BY name) FROM schema_repeatables")" "$before" \
	"and leaves their records as they were"

rmig status
is "$rc/$(normalize_status "$out")" "0/0001_base.sql applied
0002_note.sql applied
R__item.sql applied
R__version.sql applied" "status lists the repeatable files after the migrations"

# -- a changed repeatable file

rfix R__version.sql <<'EOF'
CREATE OR REPLACE FUNCTION rep_version() RETURNS text LANGUAGE sql AS $$ SELECT 'two' $$;
EOF
rmig status
like "$out" "R__version.sql" "status shows the changed repeatable file..."
like "$(printf '%s\n' "$out" | grep R__version)" "(file changed: up applies it again)" "...as changed"
rmig verify
nonzero "verify exits non-zero when an applied repeatable file has changed"
like "$err" "R__version.sql: changed since it was applied" "verify names the changed repeatable file"
rmig up
is "$rc/$out" "0/applied R__version.sql again" "up applies the changed repeatable file again, and only that one"
is "$(rsql "SELECT rep_version()")/$(rsql "SELECT checksum FROM schema_repeatables WHERE name = 'version'")" \
	"two/$(sha "$rdir/R__version.sql")" "the new definition is in, with its new checksum recorded"
rmig verify
is "$rc/$out/$err" "0//" "verify passes once the changed file is applied"

# -- a failing repeatable file

cp "$rdir/R__version.sql" "$work/version.sql"
rfix R__version.sql <<'EOF'
CREATE OR REPLACE FUNCTION rep_version() RETURNS text LANGUAGE sql AS $$ SELECT 'three' $$;
SELECT 1 / 0;
EOF
rmig up
nonzero "up exits non-zero when a repeatable file fails"
like "$err" "R__version.sql" "the error names the failing repeatable file"
is "$(rsql "SELECT rep_version()")/$(rsql "SELECT checksum FROM schema_repeatables WHERE name = 'version'")" \
	"two/$(sha "$work/version.sql")" "a failing repeatable file leaves neither its changes nor its new checksum"
cp "$work/version.sql" "$rdir/R__version.sql"

# -- a new migration and the repeatable file that goes with it, in one up

rfix 0003_tag.sql <<'EOF'
ALTER TABLE item ADD COLUMN tag text NOT NULL DEFAULT 'x';
EOF
rfix 0003_tag.down.sql <<'EOF'
ALTER TABLE item DROP COLUMN tag;
EOF
rfix R__item.sql <<'EOF'
CREATE OR REPLACE FUNCTION item_notes() RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(note || ':' || tag, ',' ORDER BY id) FROM item
$$;
CREATE OR REPLACE FUNCTION item_logged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO item_log VALUES ('item ' || NEW.id);
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER item_logged AFTER INSERT ON item
	FOR EACH ROW EXECUTE FUNCTION item_logged();
EOF
rmig up
is "$rc/$out" "0/applied 0003_tag.sql
applied R__item.sql again" "a repeatable file that needs a new column runs after the migration that adds it"
is "$(rsql "SELECT item_notes()")" "a:x" "and its function sees the column"

# -- down

rmig down
is "$rc/$out" "0/dropped 3 function(s) and 1 trigger(s) of the repeatable files (migrate up creates them again)
rolled back 0003_tag.sql" "down drops the repeatable files' functions and triggers, then rolls back"
is "$(layer)/$(rsql "SELECT count(*) FROM schema_repeatables")/$(rsql "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations")" \
	"/0/0001,0002" "no function, no trigger and no repeatable file's record is left"
is "$(rsql "SELECT count(*) FROM item")" 1 "the data stays"
rmig status
is "$rc/$(normalize_status "$out")" "0/0001_base.sql applied
0002_note.sql applied
0003_tag.sql pending
R__item.sql pending
R__version.sql pending" "status shows the repeatable files pending again"
rmig up
is "$rc/$out" "0/applied 0003_tag.sql
applied R__item.sql
applied R__version.sql" "up applies the migration and every repeatable file again"
is "$(layer)/$(rsql "SELECT item_notes() || ' ' || rep_version()")" "item_logged,item_notes,rep_version/1/a:x two" \
	"the functions and the trigger are back, and work"

rmig down 3
is "$rc/$out" "0/dropped 3 function(s) and 1 trigger(s) of the repeatable files (migrate up creates them again)
rolled back 0003_tag.sql
rolled back 0002_note.sql
rolled back 0001_base.sql" "down to zero drops them once and rolls back every migration"
is "$(layer)/$(rsql "SELECT to_regclass('item') IS NULL")" "/t" "nothing is left"
rmig up
is "$rc/$(layer)" "0/item_logged,item_notes,rep_version/1" "and up from zero brings everything back"
is "$(rsql "INSERT INTO item VALUES (2, 'b'); SELECT item_notes() || ' ' || (SELECT string_agg(msg, ',') FROM item_log)")" \
	"b:x item 2" "the trigger fires again"

# -- down refuses to drop what something else needs

rsql "CREATE VIEW item_summary AS SELECT item_notes() AS notes" >/dev/null
rmig down
nonzero "down exits non-zero when a view depends on a repeatable file's function"
like "$err" "item_summary" "the error names what depends on it"
is "$(layer)/$(rsql "SELECT count(*) FROM schema_repeatables")/$(rsql "SELECT max(version) FROM schema_migrations")" \
	"item_logged,item_notes,rep_version/1/2/0003" "nothing is dropped and nothing rolled back"
rsql "DROP VIEW item_summary" >/dev/null

# -- a repeatable file that is gone

mv "$rdir/R__version.sql" "$work/aside/"
rmig verify
nonzero "verify exits non-zero when an applied repeatable file is missing"
like "$err" "R__version.sql: applied, but the file is missing" "verify names the missing repeatable file"
rmig up
is "$rc/$out" "0/forgot R__version.sql (the file is gone)" "up forgets the record of a repeatable file that is gone"
rmig verify
is "$rc/$err" "0/" "verify passes then"
mv "$work/aside/R__version.sql" "$rdir/"
rmig up
is "$rc/$out" "0/applied R__version.sql" "a repeatable file that comes back is applied as a new one"

# -- what the numbered files may not do, and names

rfix 0004_fn.sql <<'EOF'
CREATE OR REPLACE FUNCTION sneaky() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
EOF
rmig status
nonzero "a migration that creates a function is refused"
like "$err" "0004_fn.sql: creates a function" "the refusal names the file"
rm "$rdir/0004_fn.sql"
rfix 0004_trg.sql <<'EOF'
CREATE TRIGGER sneaky AFTER INSERT ON item FOR EACH ROW EXECUTE FUNCTION item_logged();
EOF
rmig up
nonzero "a migration that creates a trigger is refused"
is "$(rsql "SELECT count(*) FROM pg_trigger WHERE tgname = 'sneaky'")" 0 "and nothing of it runs"
rm "$rdir/0004_trg.sql"
rfix 0004_fill.sql <<'EOF'
CREATE FUNCTION pg_temp.fill(n int) RETURNS void LANGUAGE sql AS $$ INSERT INTO item_log SELECT 'fill ' || n $$;
SELECT pg_temp.fill(4);
EOF
rfix 0004_fill.down.sql <<'EOF'
DELETE FROM item_log WHERE msg = 'fill 4';
EOF
rmig up
is "$rc/$out/$(rsql "SELECT count(*) FROM item_log WHERE msg = 'fill 4'")" "0/applied 0004_fill.sql/1" \
	"a migration may use a function of its own in pg_temp"
rfix R__Upper.sql </dev/null
rmig status
nonzero "a repeatable file named with upper case is refused"
like "$err" "R__Upper.sql" "the refusal names it"
rm "$rdir/R__Upper.sql"
rfix R_one.sql </dev/null
rmig status
nonzero "a repeatable file named R_ (one underscore) is refused"
rm "$rdir/R_one.sql"

# -- a rewritten migration that supersedes the released file

old=$(sha "$rdir/0001_base.sql")
cp "$rdir/0001_base.sql" "$work/base.sql"
rfix 0001_base.sql <<'EOF'
-- The tables, as always.
CREATE TABLE item (id int PRIMARY KEY);
CREATE TABLE item_log (msg text);
EOF
rmig up
nonzero "up refuses a rewritten migration that does not say what it supersedes"
printf -- '-- migrate: supersedes %s (as released)\n' "$(sha "$work/base.sql" | tr 0-9a-f a-f0-9)" >>"$rdir/0001_base.sql"
rmig up
nonzero "...or that supersedes another checksum than the recorded one"
rfix 0001_base.sql <<EOF
-- The tables, as always.
-- migrate: supersedes $old (as released)
CREATE TABLE item (id int PRIMARY KEY);
CREATE TABLE item_log (msg text);
EOF
rmig status
like "$(printf '%s\n' "$out" | grep 0001_base)" "(superseded checksum: up records the new one)" \
	"status shows a migration recorded with a checksum its file supersedes"
rmig verify
nonzero "verify fails on it until up has run"
like "$err" "0001_base.sql: recorded with the checksum of a release of the file it supersedes" "and says why"
before=$(rsql "SELECT applied_at FROM schema_migrations WHERE version = '0001'")
rmig up
is "$rc/$out" "0/re-recorded 0001_base.sql (its recorded checksum is superseded)" \
	"up records the rewritten file's checksum in place of the superseded one"
is "$(rsql "SELECT checksum || ' ' || (applied_at = '$before') FROM schema_migrations WHERE version = '0001'")/$(rsql "SELECT count(*) FROM item")" \
	"$(sha "$rdir/0001_base.sql") true/1" "without running the migration again"
rmig verify
is "$rc/$out/$err" "0//" "verify passes then"

# -- two concurrent runs apply a repeatable file once

mkdir "$work/concurrent_r"
cat >"$work/concurrent_r/0001_runs.sql" <<'EOF'
CREATE TABLE runs (id int);
EOF
cat >"$work/concurrent_r/R__slow.sql" <<'EOF'
SELECT pg_sleep(1);
CREATE OR REPLACE FUNCTION slow() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
INSERT INTO runs VALUES (1);
EOF
url4=$(conninfo_for "$db4")
DATABASE_URL=$url4 HOMEBOT_SCHEMA_DIR=$work/concurrent_r "$migrate" up >"$work/c3.out" 2>"$work/c3.err" &
p1=$!
DATABASE_URL=$url4 HOMEBOT_SCHEMA_DIR=$work/concurrent_r "$migrate" up >"$work/c4.out" 2>"$work/c4.err" &
p2=$!
wait "$p1"
rc1=$?
wait "$p2"
rc2=$?
is "$rc1/$rc2/$(sql "SELECT count(*) FROM runs" "$url4")" "0/0/1" \
	"two concurrent up runs apply a repeatable file exactly once" || diag "$(cat "$work/c3.err" "$work/c4.err")"
is "$(cat "$work/c3.out" "$work/c4.out" | LC_ALL=C sort)" "applied 0001_runs.sql
applied R__slow.sql" "between them the two runs report it once"

[ "$n" -eq "$plan" ] || echo "# ran $n tests, planned $plan" >&2
[ "$failed" -eq 0 ]
