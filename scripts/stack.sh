#!/usr/bin/env bash
# Starts and stops a Homebot stack: an embedded PostgreSQL cluster that
# listens only on a Unix socket, and lighttpd (or Apache, HOMEBOT_WEB=apache)
# serving the FastCGI programs on 127.0.0.1:$HOMEBOT_PORT.
#
#   stack.sh run              make run: ./var, foreground until Ctrl-C
#   stack.sh start DIR        a throwaway stack in DIR, in the background
#                             (PostgreSQL, the web server, homebot-worker)
#   stack.sh worker-stop DIR  stops only homebot-worker (job tests)
#   stack.sh worker-start DIR starts it again
#   stack.sh db DIR           only PostgreSQL, migrated (SQL tests)
#   stack.sh stop DIR         stops what start (or db) started
#   stack.sh pg-stop DIR      stops only PostgreSQL (readiness tests)
#   stack.sh pg-start DIR     starts it again
#   stack.sh superadmin EMAIL [PASSWORD]   make superadmin
#
# start writes DIR/stack.env (HOMEBOT_URL, OWNER_URL, APP_URL, ...).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
PGBIN=/usr/lib/postgresql/15/bin
HOMEBOT_PORT=${HOMEBOT_PORT:-3334}
HOMEBOT_WEB=${HOMEBOT_WEB:-lighttpd}

die() { echo "homebot: $*" >&2; exit 1; }

# initdb refuses root: as root the cluster runs as postgres and the
# programs as www-data, otherwise everything runs as the invoking user.
if [ "$(id -u)" -eq 0 ]; then
	PG_USER=postgres
	WEB_USER=www-data
	WEB_GROUP=www-data
else
	PG_USER=$(id -un)
	WEB_USER=$PG_USER
	WEB_GROUP=$(id -gn)
fi

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

as_web() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u "$WEB_USER" -- "$@"; else "$@"; fi
}

# Whether both service users can reach DIR (a clone may sit in a 0700 home).
reachable() {
	as_pg test -x "$1" && as_web test -x "$1"
}

# The value of NAME in an env file, or empty.
env_file_get() {
	[ -f "$2" ] || return 0
	sed -n "s/^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}$1=//p" "$2" |
	    tail -n 1 | sed "s/^[\"']\(.*\)[\"']\$/\1/"
}

pg_initdb() {
	local dir=$1 throwaway=$2
	[ -f "$dir/pg/data/PG_VERSION" ] && return 0
	mkdir -p "$dir/pg"
	chown "$PG_USER" "$dir/pg"
	chmod 0755 "$dir/pg"
	as_pg "$PGBIN/initdb" -D "$dir/pg/data" -U postgres -A trust \
	    -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/log/initdb.log" 2>&1 ||
	    die "initdb failed; see $dir/log/initdb.log"
	# Loopback-free: only the Unix socket beside the data directory.
	as_pg tee -a "$dir/pg/data/postgresql.conf" >/dev/null <<EOF
listen_addresses = ''
unix_socket_directories = '$dir/pg'
max_connections = 100
EOF
	if [ "$throwaway" = yes ]; then
		as_pg tee -a "$dir/pg/data/postgresql.conf" >/dev/null <<EOF
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
	fi
}

pg_start() {
	local dir=$1
	as_pg "$PGBIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" \
	    -w -t 60 start >/dev/null ||
	    die "PostgreSQL did not start; see $dir/pg/postgres.log"
}

pg_stop() {
	local dir=$1
	[ -f "$dir/pg/data/postmaster.pid" ] || return 0
	as_pg "$PGBIN/pg_ctl" -D "$dir/pg/data" -m fast -w -t 60 stop \
	    >/dev/null 2>&1 || true
}

db_prepare() {
	local dir=$1 owner="host=$1/pg user=postgres dbname=postgres"
	if [ -z "$(psql -X -A -t "$owner" -c \
	    "SELECT 1 FROM pg_database WHERE datname = 'homebot'")" ]; then
		psql -X -q "$owner" -c "CREATE DATABASE homebot" >/dev/null
	fi
	DATABASE_URL="host=$dir/pg user=postgres dbname=homebot" \
	    "$ROOT/migrate" up
}

# Copies the programs and assets where the web user can reach them.
stage_app() {
	local dir=$1
	rm -rf "$dir/app"
	mkdir -p "$dir/app"
	mkdir -p "$dir/app/bin"
	cp -r "$BUILD/cgi-bin" "$BUILD/share" "$dir/app/"
	cp "$BUILD/bin/homebot-worker" "$dir/app/bin/"
	rm -f "$dir/app/cgi-bin/"*.d
	chmod -R a+rX "$dir/app"
}

# The programs' env files: the user's settings plus this stack's database
# as homebot_app; the admin program's file alone adds homebot_admin, and
# homebot-worker's connects as homebot_worker (WORKER_DATABASE_URL with an
# external database).
write_env() {
	local dir=$1 src=$2 dburl=$3 smtp=${4:-} f
	{
		[ -f "$src" ] && { grep -Ev '^[[:space:]]*(ADMIN|WORKER)_DATABASE_URL=' "$src" || true; }
		echo
		[ -n "$dburl" ] && echo "DATABASE_URL=$dburl"
		# Every process's counters; METRICS_DIR= in src records nothing.
		grep -q '^[[:space:]]*METRICS_DIR=' "$src" 2>/dev/null ||
		    echo "METRICS_DIR=$dir/run/metrics"
		true
	} >"$dir/run/homebot.env"
	{
		grep -v '^[[:space:]]*DATABASE_URL=' "$dir/run/homebot.env" || true
		if [ -n "$dburl" ]; then
			echo "DATABASE_URL=${dburl/user=homebot_app/user=homebot_worker}"
		elif [ -n "$(env_file_get WORKER_DATABASE_URL "$src")" ]; then
			echo "DATABASE_URL=$(env_file_get WORKER_DATABASE_URL "$src")"
		fi
		[ -n "$smtp" ] && echo "SMTP_URL=$smtp"
		true
	} >"$dir/run/worker.env"
	{
		cat "$dir/run/homebot.env"
		if [ -n "$dburl" ]; then
			echo "ADMIN_DATABASE_URL=${dburl/user=homebot_app/user=homebot_admin}"
		elif [ -f "$src" ]; then
			grep '^[[:space:]]*ADMIN_DATABASE_URL=' "$src" || true
		fi
	} >"$dir/run/admin.env"
	for f in homebot.env admin.env worker.env; do
		chown "$WEB_USER" "$dir/run/$f"
		chmod 0600 "$dir/run/$f"
	done
}

web_start() {
	local dir=$1 foreground=${2:-no}
	local conf
	export HOMEBOT_HOME="$dir/app" HOMEBOT_RUN="$dir/run" HOMEBOT_PORT
	export HOMEBOT_CONFIG="$dir/run/homebot.env"
	export HOMEBOT_ADMIN_CONFIG="$dir/run/admin.env"
	export HOMEBOT_WEB_USER="$WEB_USER" HOMEBOT_WEB_GROUP="$WEB_GROUP"
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
	case "$HOMEBOT_WEB" in
	lighttpd)
		conf="$ROOT/lighttpd.conf"
		if [ "$foreground" = yes ]; then
			lighttpd -D -f "$conf" &
		else
			lighttpd -D -f "$conf" >>"$dir/log/web.log" 2>&1 &
		fi
		;;
	apache)
		conf="$ROOT/apache.conf"
		mkdir -p "$dir/run/fcgid"
		chown "$WEB_USER" "$dir/run/fcgid"
		apache2 -f "$conf" -DFOREGROUND >>"$dir/log/web.log" 2>&1 &
		;;
	*) die "HOMEBOT_WEB must be lighttpd or apache" ;;
	esac
	echo $! >"$dir/run/web.pid"
	# Up to a minute, like pg_ctl's wait. An answer counts only while our
	# server still runs: another server on the port would answer too.
	for _ in $(seq 1 600); do
		if curl -fsS -o /dev/null "http://127.0.0.1:$HOMEBOT_PORT/health" \
		    2>/dev/null && kill -0 "$(cat "$dir/run/web.pid")" 2>/dev/null; then
			return 0
		fi
		kill -0 "$(cat "$dir/run/web.pid")" 2>/dev/null ||
		    die "$HOMEBOT_WEB exited; see $dir/log/web.log"
		sleep 0.1
	done
	die "$HOMEBOT_WEB does not answer on port $HOMEBOT_PORT"
}

web_stop() {
	local dir=$1 pid
	[ -f "$dir/run/web.pid" ] || return 0
	pid=$(cat "$dir/run/web.pid")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$dir/run/web.pid"
}

# Unless SMTP_URL is set (in FILE or the environment), a local SMTP sink
# (scripts/smtp-sink.py) takes the mails into DIR/mail; prints its URL.
sink_start() {
	local dir=$1 file=$2 port
	if [ -n "${SMTP_URL:-}" ] || [ -n "$(env_file_get SMTP_URL "$file")" ]; then
		return 0
	fi
	mkdir -p "$dir/mail"
	: >"$dir/run/smtp.out"
	/usr/bin/python3 "$ROOT/scripts/smtp-sink.py" 0 "$dir/mail" >>"$dir/run/smtp.out" 2>&1 &
	echo $! >"$dir/run/smtp.pid"
	for _ in $(seq 1 100); do
		port=$(sed -n 's/^smtp-sink: listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' \
		    "$dir/run/smtp.out")
		if [ -n "$port" ]; then
			echo "smtp://127.0.0.1:$port"
			return 0
		fi
		kill -0 "$(cat "$dir/run/smtp.pid")" 2>/dev/null || break
		sleep 0.1
	done
	die "the SMTP sink did not start; see $dir/run/smtp.out"
}

sink_stop() {
	local dir=$1
	[ -f "$dir/run/smtp.pid" ] || return 0
	kill "$(cat "$dir/run/smtp.pid")" 2>/dev/null || true
	rm -f "$dir/run/smtp.pid"
}

# homebot-worker, as the web user, its log beside the web server's.
worker_start() {
	local dir=$1
	HOMEBOT_CONFIG="$dir/run/worker.env" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" \
	    UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" \
	    as_web "$dir/app/bin/homebot-worker" >>"$dir/log/worker.log" 2>&1 &
	echo $! >"$dir/run/worker.pid"
}

# SIGTERM lets the running jobs finish; after 30 s they are killed.
worker_stop() {
	local dir=$1 pid
	[ -f "$dir/run/worker.pid" ] || return 0
	pid=$(cat "$dir/run/worker.pid")
	pkill -TERM -f "^$dir/app/bin/homebot-worker" 2>/dev/null || true
	for _ in $(seq 1 300); do
		pgrep -f "^$dir/app/bin/homebot-worker" >/dev/null || break
		sleep 0.1
	done
	pkill -9 -f "^$dir/app/bin/homebot-worker" 2>/dev/null || true
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$dir/run/worker.pid"
}

prepare_dirs() {
	local dir=$1
	mkdir -p "$dir/log" "$dir/run" "$dir/asan"
	chmod 0755 "$dir"
	chown "$WEB_USER" "$dir/run"
	mkdir -p "$dir/run/metrics"
	chown "$WEB_USER" "$dir/run/metrics"
	chmod 0700 "$dir/run/metrics"
	chmod 1777 "$dir/asan"
}

cmd_start() {
	local dir=${1:?usage: stack.sh start DIR}
	local secret smtp
	dir=$(cd "$dir" && pwd)
	prepare_dirs "$dir"
	reachable "$dir" || die "$dir is not reachable by $PG_USER/$WEB_USER"
	pg_initdb "$dir" yes
	pg_start "$dir"
	db_prepare "$dir" >"$dir/log/migrate.log"
	stage_app "$dir"
	if [ ! -f "$dir/settings.env" ]; then
		secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')
		echo "SECRET_KEY=$secret" >"$dir/settings.env"
	fi
	smtp=$(sink_start "$dir" "$dir/settings.env")
	write_env "$dir" "$dir/settings.env" "host=$dir/pg user=homebot_app dbname=homebot" "$smtp"
	web_start "$dir"
	worker_start "$dir"
	cat >"$dir/stack.env" <<EOF
HOMEBOT_URL=http://127.0.0.1:$HOMEBOT_PORT
HOMEBOT_WEB=$HOMEBOT_WEB
OWNER_URL=host=$dir/pg user=postgres dbname=homebot
APP_URL=host=$dir/pg user=homebot_app dbname=homebot
WORKER_URL=host=$dir/pg user=homebot_worker dbname=homebot
SMTP_URL=$smtp
MAIL_DIR=$dir/mail
STACK_DIR=$dir
EOF
}

# PostgreSQL alone, migrated: for the SQL and migration tests.
cmd_db() {
	local dir=${1:?usage: stack.sh db DIR}
	dir=$(cd "$dir" && pwd)
	prepare_dirs "$dir"
	reachable "$dir" || die "$dir is not reachable by $PG_USER"
	pg_initdb "$dir" yes
	pg_start "$dir"
	db_prepare "$dir" >"$dir/log/migrate.log"
}

cmd_stop() {
	local dir=${1:?usage: stack.sh stop DIR}
	worker_stop "$dir"
	sink_stop "$dir"
	web_stop "$dir"
	pg_stop "$dir"
}

# ./var, or a directory under /var/tmp when the service users cannot reach
# the checkout (a clone in a 0700 home directory).
run_dir() {
	local dir="$ROOT/var"
	mkdir -p "$dir"
	if reachable "$dir" && [ ${#dir} -lt 80 ]; then
		echo "$dir"
		return
	fi
	dir="/var/tmp/homebot-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
	mkdir -p "$dir"
	echo "$dir"
}

# Creates or resets a superadmin through the schema owner's connection.
# Prints the password when it generated one.
ensure_superadmin() {
	local owner=$1 email=$2 password=$3 cost hash generated=no min bytes
	cost=${BCRYPT_COST:-$(env_file_get BCRYPT_COST "$ROOT/homebot.env")}
	cost=${cost:-12}
	min=${PASSWORD_MIN_LENGTH:-$(env_file_get PASSWORD_MIN_LENGTH "$ROOT/homebot.env")}
	min=${min:-10}
	if [ -z "$password" ]; then
		password=$(head -c 18 /dev/urandom | base64 | tr -d '\n/+=')
		generated=yes
	fi
	# The rules of every other password (api.md §2): bytes, not characters.
	bytes=$(printf '%s' "$password" | wc -c)
	[ "$bytes" -ge "$min" ] && [ "$bytes" -le 72 ] ||
	    die "PASSWORD must be $min to 72 bytes long"
	hash=$(printf '%s' "$password" | "$BUILD/bin/homebot-hashpw" "$cost") ||
	    die "cannot hash the password"
	# psql variables are quoted by psql itself (:'name'), never spliced.
	psql -X -q -v ON_ERROR_STOP=1 "$owner" >/dev/null <<SQL ||
\set email '$(printf '%s' "$email" | sed "s/'/''/g")'
\set hash '$hash'
SELECT * FROM homebot.ensure_superadmin(:'email', :'hash');
SQL
	    die "cannot create the superadmin"
	if [ "$generated" = yes ]; then
		echo "homebot: superadmin $email, password (shown once): $password"
	else
		echo "homebot: superadmin $email is ready"
	fi
}

# make superadmin: against the external database, or the embedded
# cluster (started for the moment if it is not running).
cmd_superadmin() {
	local email=${1:-} password=${2:-} dir dburl started=no
	[ -n "$email" ] || die "usage: make superadmin EMAIL=you@example.com [PASSWORD=...]"
	case "$email" in *@*) ;; *) die "EMAIL must be an email address" ;; esac
	dburl=${DATABASE_URL:-$(env_file_get DATABASE_URL "$ROOT/homebot.env")}
	if [ -n "$dburl" ]; then
		ensure_superadmin "${MIGRATE_DATABASE_URL:-$dburl}" "$email" "$password"
		return
	fi
	dir=$(run_dir)
	prepare_dirs "$dir"
	[ -f "$dir/pg/data/PG_VERSION" ] ||
	    die "no database yet: run make run once first"
	if [ ! -f "$dir/pg/data/postmaster.pid" ]; then
		pg_start "$dir"
		started=yes
	fi
	db_prepare "$dir" >/dev/null
	ensure_superadmin "host=$dir/pg user=postgres dbname=homebot" "$email" "$password"
	[ "$started" = yes ] && pg_stop "$dir"
	return 0
}

# The first start of make run creates admin@localhost when no superadmin
# exists, and prints its one-time password.
first_superadmin() {
	local owner=$1 count
	count=$(psql -X -A -t "$owner" -c \
	    "SELECT count(*) FROM homebot.users WHERE is_superadmin") || return 0
	[ "$count" = 0 ] || return 0
	ensure_superadmin "$owner" admin@localhost ""
}

# What make run started, for the traps (they run after cmd_run returns).
RUN_DIR=
RUN_EMBEDDED=no

stop_run() {
	[ -n "$RUN_DIR" ] || return 0
	worker_stop "$RUN_DIR"
	sink_stop "$RUN_DIR"
	pkill -f "^tail -n 0 -f $RUN_DIR/run/smtp.out" 2>/dev/null || true
	web_stop "$RUN_DIR"
	[ "$RUN_EMBEDDED" = yes ] && pg_stop "$RUN_DIR"
	RUN_DIR=
}

cmd_run() {
	local dir envfile="$ROOT/homebot.env" dburl smtp
	if [ -z "$(env_file_get SECRET_KEY "$envfile")" ] &&
	    [ -z "${SECRET_KEY:-}" ]; then
		umask 077
		echo "SECRET_KEY=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')" \
		    >>"$envfile"
		umask 022
		echo "homebot: generated SECRET_KEY in homebot.env"
	fi
	dir=$(run_dir)
	prepare_dirs "$dir"
	dburl=${DATABASE_URL:-$(env_file_get DATABASE_URL "$envfile")}
	RUN_DIR=$dir
	trap 'stop_run; exit 0' INT TERM
	trap stop_run EXIT
	if [ -z "$dburl" ]; then
		RUN_EMBEDDED=yes
		pg_initdb "$dir" no
		pg_start "$dir"
		db_prepare "$dir"
		first_superadmin "host=$dir/pg user=postgres dbname=homebot"
		smtp=$(sink_start "$dir" "$envfile")
		write_env "$dir" "$envfile" "host=$dir/pg user=homebot_app dbname=homebot" "$smtp"
	else
		DATABASE_URL=${MIGRATE_DATABASE_URL:-$dburl} "$ROOT/migrate" up
		first_superadmin "${MIGRATE_DATABASE_URL:-$dburl}"
		smtp=$(sink_start "$dir" "$envfile")
		write_env "$dir" "$envfile" "" "$smtp"
	fi
	# Each mail the sink takes: recipient, subject and link, on the console.
	if [ -n "$smtp" ]; then
		echo "homebot: mail goes to a local SMTP sink ($smtp); the mails are in $dir/mail"
		tail -n 0 -f "$dir/run/smtp.out" | grep --line-buffered '^mail ' &
	fi
	stage_app "$dir"
	web_start "$dir" yes
	worker_start "$dir"
	echo "homebot: serving http://127.0.0.1:$HOMEBOT_PORT (docs: /docs) — Ctrl-C stops"
	wait "$(cat "$dir/run/web.pid")" || true
}

case "${1:-}" in
run) cmd_run ;;
start) cmd_start "${2:-}" ;;
stop) cmd_stop "${2:-}" ;;
db) cmd_db "${2:-}" ;;
superadmin) cmd_superadmin "${2:-}" "${3:-}" ;;
pg-stop) pg_stop "${2:?}" ;;
pg-start) pg_start "${2:?}" ;;
worker-stop) worker_stop "${2:?}" ;;
worker-start) worker_start "${2:?}" ;;
*) die "usage: stack.sh run | start DIR | db DIR | stop DIR | pg-stop DIR | pg-start DIR" ;;
esac
