#!/usr/bin/env bash
# Logical backup and restore of a Homebot database (docs/backup.md).
#
#   backup.sh backup [FILE]    pg_dump -Fc of schema homebot and migrate's
#                              bookkeeping; default backups/homebot-<UTC time>.dump
#   backup.sh restore FILE     restores it into a database without a homebot
#                              schema; FORCE=1 replaces one that has it
#
# The database: make run's (scripts/stack.sh owner-url: MIGRATE_DATABASE_URL
# or DATABASE_URL as the schema owner, else the embedded cluster, which
# runs while make run does). backup reads through BACKUP_DATABASE_URL
# instead when it is set: a role that bypasses row-level security (the
# tables FORCE it, so the owner cannot read other tenants' rows without
# their context, and pg_dump refuses to dump a table it would see filtered).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# migrate's advisory lock key ("Homebot"): a restore and a migration never
# run at the same time.
MIGRATE_LOCK=20388713966235508

# Backups hold password hashes, token hashes and pending mail links: no
# file this script creates is readable by anyone else.
umask 077

die() { echo "homebot: $*" >&2; exit 1; }

TMP=
cleanup() { [ -z "$TMP" ] || rm -rf "$TMP"; }
trap cleanup EXIT

owner_url() {
	"$ROOT/scripts/stack.sh" owner-url
}

# psql, quiet, stopping at the first error, with no ~/.psqlrc.
sql() {
	psql -X -q -v ON_ERROR_STOP=1 "$@"
}

can_connect() {
	local url=$1 out
	out=$(sql -A -t -d "$url" -c 'SELECT 1' 2>&1) && return 0
	printf '%s\n' "$out" >&2
	die "cannot connect to the database (an external one must exist already; make run's embedded cluster runs only while make run does)"
}

# ---- backup -------------------------------------------------------------

cmd_backup() {
	local file=${1:-} url dir tmpfile bypass args=() rel version size
	url=${BACKUP_DATABASE_URL:-$(owner_url)} || exit 1
	if [ -z "$file" ]; then
		mkdir -p "$ROOT/backups"
		file="$ROOT/backups/homebot-$(date -u +%Y%m%dT%H%M%SZ).dump"
	fi
	[ ! -e "$file" ] || die "$file exists: choose another FILE or remove it"
	dir=$(dirname -- "$file")
	[ -d "$dir" ] || die "directory $dir does not exist"
	can_connect "$url"

	bypass=$(sql -A -t -d "$url" -c \
	    "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
	[ "$bypass" = t ] || die "role $(sql -A -t -d "$url" -c 'SELECT current_user') is bound by row-level security (every tenant table FORCEs it), so pg_dump cannot read all rows: back up as a superuser or a BYPASSRLS role (BACKUP_DATABASE_URL; see docs/backup.md)"
	[ "$(sql -A -t -d "$url" -c "SELECT to_regnamespace('homebot') IS NOT NULL")" = t ] ||
	    die "the database holds no homebot schema: nothing to back up"

	# Schema homebot and migrate's two bookkeeping tables. pg_dump cannot
	# select a schema and single tables of another at once (-t overrides
	# -n), so public comes whole except for its other tables, and restore
	# takes from it only the bookkeeping (see keep_list).
	while IFS= read -r rel; do
		if [ -n "$rel" ]; then args+=("--exclude-table=$rel"); fi
	done < <(sql -A -t -d "$url" <<'SQL'
SELECT format('public."%s"', replace(c.relname, '"', '""'))
  FROM pg_class c
 WHERE c.relnamespace = 'public'::regnamespace
   AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
   AND c.relname NOT IN ('schema_migrations', 'schema_repeatables')
SQL
	)

	tmpfile=$(mktemp "$dir/.homebot-backup.XXXXXX")
	TMP=$tmpfile
	pg_dump --format=custom --schema=homebot --schema=public "${args[@]}" \
	    --file="$tmpfile" --dbname="$url" || die "pg_dump failed; nothing written"
	pg_restore --list "$tmpfile" >/dev/null || die "the archive pg_dump wrote does not read back"
	# ln refuses to replace a file that appeared meanwhile.
	ln "$tmpfile" "$file" || die "cannot create $file"
	rm -f "$tmpfile"
	TMP=
	version=$(sql -A -t -d "$url" -c \
	    "SELECT coalesce(max(version), 'none') FROM public.schema_migrations" 2>/dev/null || echo unknown)
	size=$(du -h "$file" | cut -f1)
	echo "homebot: backup written to $file ($size, schema version $version)"
	echo "homebot: SECRET_KEY, JWT_PRIVATE_KEY_FILE and the env files are not in it: keep them safe on their own (docs/backup.md)"
}

# ---- restore ------------------------------------------------------------

# The archive's table of contents reduced to what a Homebot database is
# made of: everything in schema homebot, the schema itself (its grants and
# comment), and migrate's bookkeeping tables in public (their rows and
# grants), so that `migrate verify` passes afterwards. Not public itself
# (every database has it) nor anything else that lives there.
keep_list() {
	awk '
	/^[0-9]+;/ {
		# ID; tableoid oid TYPE WORDS namespace tag... owner
		i = 4
		while (i < NF && $i ~ /^[A-Z]+$/)
			i++
		ns = $i
		tag = ""
		for (j = i + 1; j < NF; j++)
			tag = tag (tag == "" ? "" : " ") $j
		if (ns == "homebot" ||
		    (ns == "-" && (tag == "homebot" || tag == "SCHEMA homebot")) ||
		    (ns == "public" && tag ~ /^(TABLE )?(schema_migrations|schema_repeatables)( |$)/))
			print
	}'
}

# The roles the archive's grants and policies name, one a line: they are
# global to the cluster, so no dump holds them.
#
# Why the restore creates them itself rather than running migrate: the
# archive's GRANTs and CREATE POLICYs fail on a role that does not exist,
# so the roles must exist before it is loaded; `migrate up` first would
# build the very schema the archive is about to create (and is refused
# over), and the role-creating parts of the migrations cannot be run on
# their own. Taking the names from the archive covers exactly the roles
# this backup needs, whichever release made it, and the prelude creates
# them with the migrations' rule (LOGIN NOSUPERUSER NOBYPASSRLS, refused
# when one exists with SUPERUSER or BYPASSRLS), in the restore's own
# transaction. The owner is not created: its name is in every
# definer_access policy, and who owns the schema is the DBA's decision.
archive_roles() {
	local file=$1 list=$2
	awk '$4 == "ACL" || $4 == "POLICY"' "$list" >"$TMP/acl.list"
	pg_restore --use-list="$TMP/acl.list" --file=- "$file" |
	    sed -E -n \
	    -e 's/^GRANT .* TO (.*);$/\1/p' \
	    -e 's/^CREATE POLICY .* TO ([^ ,]+(, [^ ,]+)*)( USING \(| WITH CHECK \(|;).*$/\1/p' |
	    sed -E -e 's/ WITH GRANT OPTION$//' -e 's/, /\n/g' |
	    sed -E -e 's/^"(.*)"$/\1/' -e 's/""/"/g' |
	    { grep -v -x -e PUBLIC -e '' || true; } | LC_ALL=C sort -u
}

# Runs first, in the restore's own transaction (psql variables: force,
# owner, roles). Under migrate's lock: refuses a database that holds a
# homebot schema unless FORCE=1, then drops it; makes sure the roles exist.
restore_prelude() {
	cat <<'SQL'
\o /dev/null
SET client_min_messages = warning;
BEGIN;
SELECT pg_advisory_xact_lock(:lock);
SELECT set_config('homebot.restore_force', :'force', true),
       set_config('homebot.restore_owner', :'owner', true),
       set_config('homebot.restore_roles', :'roles', true);
\set VERBOSITY terse
DO $restore$
DECLARE
	v_force constant boolean := current_setting('homebot.restore_force') = '1';
	v_owner constant text := current_setting('homebot.restore_owner');
	v_version text;
	v_orgs bigint;
	v_users bigint;
	v_role text;
	v_missing text[];
	v_unsafe text[];
BEGIN
	IF to_regnamespace('homebot') IS NOT NULL
	   OR to_regclass('public.schema_migrations') IS NOT NULL
	   OR to_regclass('public.schema_repeatables') IS NOT NULL THEN
		IF NOT v_force THEN
			BEGIN
				SELECT max(version) INTO v_version FROM public.schema_migrations;
				SELECT count(*) INTO v_orgs FROM homebot.organizations;
				SELECT count(*) INTO v_users FROM homebot.users;
			EXCEPTION WHEN others THEN
				NULL;
			END;
			RAISE EXCEPTION 'homebot: database % already holds a homebot schema (schema version %, organizations: %, users: %); restore replaces it only with FORCE=1 (make restore FILE=... FORCE=1)',
				current_database(), coalesce(v_version, '?'),
				coalesce(v_orgs::text, '?'), coalesce(v_users::text, '?');
		END IF;
		-- In the restore's transaction: should the restore fail, the
		-- database keeps what it had.
		DROP SCHEMA IF EXISTS homebot CASCADE;
		DROP TABLE IF EXISTS public.schema_migrations, public.schema_repeatables;
	END IF;

	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = v_owner) THEN
		RAISE EXCEPTION 'homebot: the backup belongs to role %, which does not exist here: create it (a DBA: CREATE ROLE % LOGIN;) and restore as it or as a superuser',
			v_owner, quote_ident(v_owner);
	END IF;
	IF NOT pg_has_role(current_user, v_owner, 'MEMBER') THEN
		RAISE EXCEPTION 'homebot: the backup belongs to role % (its definer_access policies name it): restore as it or as a superuser, not as %',
			v_owner, current_user;
	END IF;

	-- The rule of the migrations that create the runtime roles
	-- (0001_init.sql, 0004_jobs.sql): a role that skips RLS would void
	-- every policy, and a missing one is created LOGIN NOSUPERUSER
	-- NOBYPASSRLS, by a DBA if we may not.
	SELECT array_agg(r ORDER BY r) INTO v_unsafe
	  FROM unnest(string_to_array(current_setting('homebot.restore_roles'), E'\n')) AS r
	  JOIN pg_roles ON rolname = r
	 WHERE r <> v_owner AND (rolsuper OR rolbypassrls);
	IF v_unsafe IS NOT NULL THEN
		RAISE EXCEPTION 'homebot: role(s) % exist but are SUPERUSER or BYPASSRLS; a DBA must run: %',
			array_to_string(v_unsafe, ', '),
			(SELECT string_agg(format('ALTER ROLE %I NOSUPERUSER NOBYPASSRLS;', u), ' ')
			   FROM unnest(v_unsafe) AS u);
	END IF;
	SELECT array_agg(r ORDER BY r) INTO v_missing
	  FROM unnest(string_to_array(current_setting('homebot.restore_roles'), E'\n')) AS r
	 WHERE r <> '' AND NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r);
	IF v_missing IS NULL THEN
		RETURN;
	END IF;
	IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
		RAISE EXCEPTION 'homebot: role(s) % do not exist and role % may not create roles; a DBA must run: % then restore again',
			array_to_string(v_missing, ', '), current_user,
			(SELECT string_agg(format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS;', m), ' ')
			   FROM unnest(v_missing) AS m);
	END IF;
	FOREACH v_role IN ARRAY v_missing LOOP
		EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS', v_role);
		RAISE WARNING 'homebot: created role % (LOGIN NOSUPERUSER NOBYPASSRLS, no password)', v_role;
	END LOOP;
END
$restore$;
\set VERBOSITY default
SQL
}

cmd_restore() {
	local file=${1:-} url owner roles force=${FORCE:-0} summary
	[ -n "$file" ] || die "usage: make restore FILE=backups/homebot-....dump [FORCE=1]"
	if [ ! -f "$file" ] || [ ! -r "$file" ]; then die "$file: no such readable file"; fi
	case "$force" in 0 | 1 | '') ;; *) die "FORCE must be 1 (or unset)" ;; esac
	url=$(owner_url) || exit 1
	TMP=$(mktemp -d)
	pg_restore --list "$file" >"$TMP/all.list" 2>"$TMP/err" ||
	    die "$file is not a pg_dump archive ($(head -n 1 "$TMP/err"))"
	keep_list <"$TMP/all.list" >"$TMP/keep.list"
	owner=$(awk '$4 == "SCHEMA" && $5 == "-" && $6 == "homebot" { print $7 }' "$TMP/keep.list")
	[ -n "$owner" ] || die "$file holds no homebot schema: not a Homebot backup"
	grep -q ' public schema_migrations ' "$TMP/keep.list" ||
	    die "$file holds no public.schema_migrations: not a Homebot backup"
	roles=$(archive_roles "$file" "$TMP/keep.list")
	can_connect "$url"

	# One transaction: the prelude, then the archive as SQL, then COMMIT,
	# sent only once pg_restore has written all of it. Should pg_restore
	# fail halfway, psql reaches the end of its input inside the
	# transaction, and the server rolls all of it back.
	if ! {
		restore_prelude
		pg_restore --use-list="$TMP/keep.list" --file=- "$file" || exit 1
		echo 'COMMIT;'
	} | sql -v lock="$MIGRATE_LOCK" -v force="${force:-0}" -v owner="$owner" \
	    -v roles="$roles" -d "$url" -f - 2>"$TMP/psql.err"; then
		sed -E -e 's/^psql:[^ ]*: (ERROR|WARNING):  homebot: /homebot: /' "$TMP/psql.err" >&2
		die "nothing restored: the database is as it was"
	fi
	sed -E -e 's/^psql:[^ ]*: (ERROR|WARNING):  homebot: /homebot: /' "$TMP/psql.err" >&2
	summary=$(sql -A -t -d "$url" -c "SELECT format('schema version %s, organizations: %s, users: %s',
	    (SELECT max(version) FROM public.schema_migrations),
	    (SELECT count(*) FROM homebot.organizations), (SELECT count(*) FROM homebot.users))" \
	    2>/dev/null || echo 'restored')
	echo "homebot: restored $file ($summary)"
	# A backup of another release restores as it was; this checkout's
	# migrate up (make run does it) brings it to this release.
	if ! DATABASE_URL=$url "$ROOT/migrate" verify; then
		echo "homebot: the backup's migrations differ from this checkout's: ./migrate up (or make run) brings the database to this release" >&2
	fi
}

case "${1:-}" in
backup) cmd_backup "${2:-}" ;;
restore) cmd_restore "${2:-}" ;;
*) die "usage: backup.sh backup [FILE] | restore FILE (FORCE=1 to replace a homebot schema)" ;;
esac
