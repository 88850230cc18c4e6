# Shared by the migration tests that use the real schema (roundtrip.t,
# upgrade.t): TAP output, scratch databases on the server of
# HOMEBOT_TEST_ADMIN_URL (a superuser's libpq conninfo string or URL), and
# queries that describe a migrated database. Sourced, not run: the caller
# sets $scratch (the names of its databases) before sourcing.

set -u
unset CDPATH

if [ -z "${HOMEBOT_TEST_ADMIN_URL:-}" ]; then
	echo "Bail out! HOMEBOT_TEST_ADMIN_URL is not set (libpq conninfo of a superuser)"
	exit 1
fi

here=$(cd -P -- "$(dirname -- "$0")" && pwd)
root=$(cd -P -- "$here/../.." && pwd)
migrate=$root/migrate
release=$here/release-0.1.0
admin=$HOMEBOT_TEST_ADMIN_URL
work=$(mktemp -d "${TMPDIR:-/tmp}/migrate-t.XXXXXX") || {
	echo "Bail out! cannot create a temporary directory"
	exit 1
}

cleanup() {
	for d in $scratch; do
		psql -X -q -d "$admin" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1
	done
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

for d in $scratch; do
	if ! psql -X -q -v ON_ERROR_STOP=1 -d "$admin" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" \
		-c "CREATE DATABASE $d" >"$work/setup.err" 2>&1; then
		echo "Bail out! cannot create scratch database $d: $(tr '\n' ' ' <"$work/setup.err")"
		exit 1
	fi
done

n=0
failed=0

diag() {
	printf '%s\n' "$@" | sed 's/^/#   /' >&2
}

# note TEXT...: a comment that prove shows without -v (on stderr, as diag)
note() {
	printf '%s\n' "$@" | sed 's/^/# /' >&2
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

# same FILE1 FILE2 DESCRIPTION: the files are identical (else the diff)
same() {
	if diff -u "$1" "$2" >"$work/diff"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "$(head -n 60 "$work/diff")"
		return 1
	fi
}

done_testing() {
	[ "$n" -eq "$plan" ] || echo "# ran $n tests, planned $plan" >&2
	[ "$failed" -eq 0 ] && [ "$n" -eq "$plan" ]
}

# run_migrate URL ARGS...: runs ./migrate on database URL (with
# HOMEBOT_SCHEMA_DIR as set, default schema/); sets $rc, $out and $err
run_migrate() {
	url=$1
	shift
	DATABASE_URL=$url "$migrate" "$@" >"$work/out" 2>"$work/err"
	rc=$?
	out=$(cat "$work/out")
	err=$(cat "$work/err")
}

# sql URL QUERY: the result, unaligned, without headers
sql() {
	psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2" 2>&1
}

# psql_file URL FILE [psql options]: runs a script, quietly; 0 on success
psql_file() {
	url=$1
	file=$2
	shift 2
	psql -X -q -v ON_ERROR_STOP=1 "$@" -d "$url" -f "$file" >"$work/psql.out" 2>&1 || {
		diag "$(cat "$work/psql.out")"
		return 1
	}
}

# add_data URL TAG: tests/migrate/data.sql, a few dozen rows in every table
add_data() {
	psql_file "$1" "$here/data.sql" -v "tag=$2"
}

# catalog URL FILE: what the database is made of (tests/migrate/catalog.sql)
catalog() {
	psql -X -q -v ON_ERROR_STOP=1 -d "$1" -f "$here/catalog.sql" >"$2" 2>&1
}

# counts URL: "table rows, ..." for every table of schema homebot
counts() {
	sql "$1" "SELECT coalesce(string_agg(format('%s %s', c.relname,
	                 (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', c.oid::regclass),
	                                                      false, true, '')))[1]::text), ', ' ORDER BY c.relname), '-')
	            FROM pg_class c
	           WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = 'homebot') AND c.relkind = 'r'"
}

# rows URL FILE: every row of every table of schema homebot, one line
# each ("table {json}"), sorted. NULLs are left out of the JSON, so that a
# column a newer migration adds (NULL in the rows it finds) leaves the old
# rows' lines as they were, while any changed or lost value shows.
rows() {
	sql "$1" "SELECT c.relname || ' ' || j::text
	            FROM pg_class c,
	                 unnest(xpath('/table/row/j/text()',
	                              query_to_xml(format('SELECT jsonb_strip_nulls(to_jsonb(t)) AS j FROM %s t',
	                                                  c.oid::regclass), false, false, ''))) AS j
	           WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = 'homebot') AND c.relkind = 'r'" |
	    LC_ALL=C sort >"$2"
}

# state URL: the schema version, and how many functions and triggers
# schema homebot holds
state() {
	sql "$1" "SELECT format('version %s, %s functions, %s triggers',
	                 coalesce((SELECT max(version) FROM public.schema_migrations), 'none'),
	                 (SELECT count(*) FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace
	                   WHERE s.nspname = 'homebot'),
	                 (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
	                    JOIN pg_namespace s ON s.oid = c.relnamespace
	                   WHERE s.nspname = 'homebot' AND NOT t.tgisinternal))"
}

# audit_trail URL FILE: the audit events in a form that two databases fed
# the same requests share: what happened, to what kind of target, by what
# kind of actor, from which IP, user agent and request, with which keys of
# changes, and how often (ids and times differ from one database to the
# next)
audit_trail() {
	psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" >"$2" 2>&1 <<'EOF'
SELECT e.line || ' | ' || count(*)
  FROM (SELECT concat_ws(' | ', action, actor_type, actor_id IS NULL, organization_id IS NULL, target_type,
                         target_id IS NULL, coalesce(ip, '-'), coalesce(user_agent, '-'),
                         coalesce(request_id, '-'),
                         (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(coalesce(changes, '{}')) AS k))
          FROM homebot.audit_log) AS e (line)
 GROUP BY e.line
 ORDER BY e.line COLLATE "C";
EOF
}

# works URL TAG OLD: the request path's functions work, as homebot_app: a
# registration, its login, an invitation into the new organization (with
# the request context set), and the login lookup of OLD, the email of an
# owner that tests/migrate/data.sql registered earlier. Prints what they
# answered and the audit events they wrote, for works_expected TAG HASH
# (HASH: OLD's password hash, empty when OLD is no user).
works() {
	psql -X -q -At -v ON_ERROR_STOP=1 -v "tag=$2" -v "old=$3" -d "$1" 2>&1 <<'EOF'
BEGIN;
SET LOCAL ROLE homebot_app;
CREATE TEMP TABLE reg AS
SELECT * FROM homebot.register(:'tag' || '-new@example.test', '$2b$04$new', 'New', 'Works ' || :'tag',
                               '192.0.2.250', 'works-agent', :'tag' || '-works-register',
                               sha256(convert_to(:'tag' || '-works', 'UTF8')), 3600);
SELECT 'register ' || status FROM reg;
SELECT 'login_lookup ' || (l.user_id = r.user_id) || ' ' || l.password_hash || ' ' || l.retry_after
  FROM homebot.login_lookup(:'tag' || '-NEW@example.test', 5, 900, '192.0.2.250') l, reg r;
SELECT 'login_start ' || l.status || ' ' || (l.organization_id = r.organization_id) || ' ' || l.role
  FROM reg r, homebot.login_start(r.user_id, NULL, '192.0.2.251', 'works-agent', :'tag' || '-works-login',
                                  sha256(convert_to(:'tag' || '-works-login', 'UTF8')), 3600, NULL) l;
SELECT set_config('app.org_id', organization_id::text, true), set_config('app.user_id', user_id::text, true),
       set_config('app.ip', '192.0.2.252', true), set_config('app.user_agent', 'works-agent', true),
       set_config('app.request_id', :'tag' || '-works-invite', true)
  FROM reg \gset
SELECT 'invite_member ' || status || ' ' || member_status
  FROM homebot.invite_member(:'tag' || '-invitee@example.test', 'member', sha256(convert_to(:'tag', 'UTF8')), 3600, 3);
SELECT set_config('app.org_id', '', true), set_config('app.user_id', '', true), set_config('app.ip', '', true),
       set_config('app.user_agent', '', true), set_config('app.request_id', '', true) \gset
SELECT concat_ws(' ', 'old login_lookup', (l.user_id IS NOT NULL)::text, l.password_hash)
  FROM homebot.login_lookup(:'old', 5, 900, '192.0.2.253') l;
RESET ROLE;
SELECT concat_ws(' ', 'event', action, actor_type, ip, user_agent, request_id)
  FROM homebot.audit_log
 WHERE request_id LIKE :'tag' || '-works-%'
 ORDER BY occurred_at, id;
COMMIT;
EOF
}

works_expected() {
	cat <<EOF
register ok
login_lookup true \$2b\$04\$new 0
login_start ok true owner
invite_member invited invited
$(if [ -n "$2" ]; then echo "old login_lookup true $2"; else echo "old login_lookup false"; fi)
event auth.register user 192.0.2.250 works-agent $1-works-register
event organization.created user 192.0.2.250 works-agent $1-works-register
event auth.login.succeeded user 192.0.2.251 works-agent $1-works-login
event row.users.insert user 192.0.2.252 works-agent $1-works-invite
event row.memberships.insert user 192.0.2.252 works-agent $1-works-invite
event row.invitations.insert user 192.0.2.252 works-agent $1-works-invite
event member.invited user 192.0.2.252 works-agent $1-works-invite
EOF
}
