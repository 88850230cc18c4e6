#!/usr/bin/env bash
# Starts and stops a Homebot stack: an embedded PostgreSQL cluster that
# listens only on a Unix socket, and lighttpd (or Apache, HOMEBOT_WEB=apache)
# serving the FastCGI programs on 127.0.0.1:$HOMEBOT_PORT.
#
# A stack directory, and who may touch what in it (as root):
#   etc/    root; the programs' env files, each readable only by its reader
#   state/  root, 0700; pid files, the SMTP sink's output (links)
#   mail/   root, 0700: the mails the local SMTP sink took
#   log/    root; the servers' logs
#   pg/     postgres, group www-data, 0750: the cluster and its socket
#   run/    www-data: the FastCGI sockets lighttpd and mod_fcgid create
#   admin/  homebot-admin, group www-data: the admin program's socket
#   metrics/ www-data: every process's counters (METRICS_DIR)
#   pgbouncer/ www-data, 0700: PgBouncer's socket (HOMEBOT_PGBOUNCER=1)
#   admin-metrics/  homebot-admin, group www-data: the admin program's
#   app/    root, world-readable: the staged programs and assets
# Root never writes, chmods or chowns inside a directory another user can
# write to, and refuses a stack directory that is not its own.
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
#   stack.sh mqtt-stop DIR    stops only Mosquitto (broker restart tests)
#   stack.sh mqtt-start DIR   starts it again, on the same ports
#   stack.sh superadmin EMAIL [PASSWORD]   make superadmin
#   stack.sh vault-rotate [JOB] [BATCH]  make vault-rotate
#   stack.sh owner-url        the schema owner's connection string of make
#                             run's database (scripts/backup.sh)
#
# start writes DIR/stack.env (HOMEBOT_URL, OWNER_URL, APP_URL, MQTT_PORT,
# MQTTS_PORT, MQTT_CAFILE, ...). Mosquitto runs with Homebot's plugin on
# 127.0.0.1:$MQTT_PORT and, with TLS, :$MQTTS_PORT (make run: 1883 and
# 8883; start: free ports unless MQTT_PORT/MQTTS_PORT are set).
# HOMEBOT_GCOV_DIR (make coverage): a directory every user may write to,
# where the programs of a build with gcov counters write them.
# HOMEBOT_LIGHTTPD_CONF names another lighttpd configuration (make bench's
# includes lighttpd.conf and adds its own program).
# HOMEBOT_PGBOUNCER=1: start puts PgBouncer (transaction mode, a pool of
# HOMEBOT_PGBOUNCER_POOL server connections, default 4) between the web
# programs and PostgreSQL; the admin program and homebot-worker connect
# straight to PostgreSQL.
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
# The admin program runs as a user of its own, the only one that can read
# ADMIN_DATABASE_URL (as root; otherwise as the invoking user).
if [ "$(id -u)" -eq 0 ]; then
	PG_USER=postgres
	WEB_USER=www-data
	WEB_GROUP=www-data
	ADMIN_USER=homebot-admin
else
	PG_USER=$(id -un)
	WEB_USER=$PG_USER
	WEB_GROUP=$(id -gn)
	ADMIN_USER=$PG_USER
fi

# Every setting the programs read (lib/config.c). make run and start fold
# the ones set in the environment into the programs' env files, so every
# program, the admin program too, sees the same values whichever web server
# starts it; tests/phase1/test_settings_env.py keeps this list complete.
SETTINGS="DATABASE_URL ADMIN_DATABASE_URL SECRET_KEY HOMEBOT_DEBUG
HOMEBOT_MAX_BODY CORS_ORIGINS HOMEBOT_HSTS ACCESS_TOKEN_TTL REFRESH_TOKEN_TTL
SESSION_MAX_AGE HOMEBOT_ISSUER JWT_PRIVATE_KEY_FILE BCRYPT_COST
PASSWORD_MIN_LENGTH LOGIN_MAX_ATTEMPTS LOGIN_WINDOW AUTH_RATE_PER_MINUTE
REGISTRATION_OPEN WORKER_PROCS JOB_RETENTION SOFT_DELETE_RETENTION JOB_LEASE
JOB_BACKOFF_BASE JOB_BACKOFF_CAP JOB_BATCH SMTP_URL SMTP_USER SMTP_PASSWORD SMTP_TIMEOUT
MAIL_FROM PUBLIC_URL VERIFY_TOKEN_TTL INVITE_TOKEN_TTL RESET_TOKEN_TTL
MAIL_PER_HOUR TRUSTED_PROXIES REFRESH_RATE_PER_MINUTE METRICS_DIR
METRICS_ALLOW METRICS_READ_DIRS VAULT_MASTER_KEY VAULT_OLD_KEYS SECRET_HISTORY
READY_DATA_DIR READY_LOG_DIR READY_DISK_MIN_FREE READY_JOB_MAX_AGE READY_JOB_MAX_DEAD
MQTT_HOST MQTT_PORT READY_MQTT_TIMEOUT MQTT_PUBLISHER_SECRET"

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

# Whether DIR is a real directory (no symbolic link) of the invoking user
# that nobody else can write to, below parents that nobody else can
# replace it in (each root's or ours, and writable by others only when
# sticky, as /tmp): only then may root create, chmod and chown things
# inside it without being led elsewhere.
own_dir() {
	local mode p owner
	[ ! -L "$1" ] && [ -d "$1" ] && [ "$(stat -c %u "$1")" = "$(id -u)" ] ||
	    return 1
	mode=$(stat -c %a "$1")
	[ $((8#$mode & 8#022)) -eq 0 ] || return 1
	p=$(cd "$1" && pwd -P)
	while [ "$p" != / ]; do
		p=$(dirname "$p")
		owner=$(stat -c %u "$p")
		mode=$(stat -c %a "$p")
		[ "$owner" = 0 ] || [ "$owner" = "$(id -u)" ] || return 1
		[ $((8#$mode & 8#022)) -eq 0 ] || [ $((8#$mode & 8#1000)) -ne 0 ] ||
		    return 1
	done
}

# make_dir PATH MODE OWNER[:GROUP]: PATH as a directory with that mode and
# owner, created if missing. Its parent is an own_dir, and PATH must not
# be a symbolic link: chown -h and a refused link keep root from being led
# to another file.
make_dir() {
	[ ! -L "$1" ] || die "$1 is a symbolic link; remove it"
	[ -d "$1" ] || mkdir -m "$2" "$1"
	chown -h "$3" "$1"
	chmod "$2" "$1"
}

# ensure_admin_user: the system user the admin program runs as (root
# only), with the web group as its group, to reach the cluster's socket
# directory and to give the web server its socket (as make install does).
ensure_admin_user() {
	[ "$(id -u)" -eq 0 ] || return 0
	if ! id -u "$ADMIN_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin --gid "$WEB_GROUP" "$ADMIN_USER" ||
		    die "cannot create the user $ADMIN_USER"
	fi
	id -nG "$ADMIN_USER" | tr ' ' '\n' | grep -qx "$WEB_GROUP" ||
	    usermod -a -G "$WEB_GROUP" "$ADMIN_USER" ||
	    die "cannot add $ADMIN_USER to the group $WEB_GROUP"
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
	as_pg "$PGBIN/initdb" -D "$dir/pg/data" -U postgres -A peer \
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

# Who may connect as whom, rewritten on every start (so a cluster made
# before this rule gets it too): peer authentication only — the operating
# system says who is on the other end of the socket. The schema owner
# (postgres) is reachable only by root and the postgres user, the programs'
# roles by the users the programs run as, homebot_admin by the admin user.
# The socket directory (pg/, 0750, group www-data) keeps every other local
# user from even reaching the socket.
pg_secure() {
	local data=$1/pg/data me u r
	me=$(id -un)
	as_pg tee "$data/pg_hba.conf" >/dev/null <<EOF
# Written by scripts/stack.sh on every start.
local all all peer map=homebot
EOF
	{
		echo "# Written by scripts/stack.sh on every start."
		for u in "$PG_USER" "$me"; do
			for r in postgres homebot_app homebot_worker homebot_admin; do
				echo "homebot $u $r"
			done
		done
		if [ "$(id -u)" -eq 0 ]; then
			echo "homebot $WEB_USER homebot_app"
			echo "homebot $WEB_USER homebot_worker"
			echo "homebot $ADMIN_USER homebot_admin"
		fi
	} | as_pg tee "$data/pg_ident.conf" >/dev/null
}

pg_start() {
	local dir=$1
	pg_secure "$dir"
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
	mkdir -p "$dir/app/lib"
	cp "$BUILD/lib/homebot_mqtt.so" "$dir/app/lib/"
	rm -f "$dir/app/cgi-bin/"*.d "$dir/app/cgi-bin/"*.gcno "$dir/app/cgi-bin/"*.gcda
	chmod -R a+rX "$dir/app"
}

# The settings set in the environment, as NAME=value lines (except those
# named in $1, a space-separated list the caller writes itself).
env_settings() {
	local skip=" $1 " name
	for name in $SETTINGS; do
		case "$skip" in *" $name "*) continue ;; esac
		[ -n "${!name+x}" ] || continue
		case "${!name}" in *$'\n'*) die "$name holds a line break" ;; esac
		printf '%s=%s\n' "$name" "${!name}"
	done
}

# write_file PATH OWNER MODE: stdin into PATH, born unreadable to
# others (umask 077) in the root-owned etc/, then handed to its reader.
write_file() {
	local tmp
	tmp=$(umask 077 && mktemp "$1.XXXXXX")
	cat >"$tmp"
	chown "$2" "$tmp"
	chmod "$3" "$tmp"
	mv -f "$tmp" "$1"
}

# The programs' env files in etc/: the user's settings file, then every
# setting set in the environment (later lines win), then this stack's
# database as homebot_app. Each is 0400, its reader's: homebot.env the web
# user's; admin.env, which adds homebot_admin, the admin user's;
# worker.env connects as homebot_worker (WORKER_DATABASE_URL with an
# external database).
write_env() {
	local dir=$1 src=$2 dburl=$3 smtp=${4:-} direct=${5:-$3}
	local common admin_url worker_url
	local reader=$WEB_USER admin_reader=$ADMIN_USER
	common=$(
		# Every spelling lib/config.c reads ("export NAME =" too).
		[ -f "$src" ] && { grep -Ev '^[[:space:]]*(export[[:space:]]+)?(ADMIN|WORKER)_DATABASE_URL[[:space:]]*=' "$src" || true; }
		echo
		env_settings "ADMIN_DATABASE_URL"
		[ -n "$dburl" ] && echo "DATABASE_URL=$dburl"
		# Every process's counters (METRICS_DIR= in src records nothing);
		# /metrics reads the admin program's too.
		grep -q '^[[:space:]]*METRICS_DIR=' "$src" 2>/dev/null ||
		    printf 'METRICS_DIR=%s\nMETRICS_READ_DIRS=%s\n' \
		    "$dir/metrics" "$dir/admin-metrics"
		# /ready's disk check watches the logs' file system too.
		grep -q '^[[:space:]]*READY_LOG_DIR=' "$src" 2>/dev/null ||
		    [ -n "${READY_LOG_DIR+x}" ] || echo "READY_LOG_DIR=$dir/log"
		# /ready asks the stack's broker (mqtt_conf chose its port).
		if [ -f "$dir/state/mqtt.ports" ] && [ -z "${MQTT_HOST+x}" ] &&
		    ! grep -q '^[[:space:]]*MQTT_HOST=' "$src" 2>/dev/null; then
			echo "MQTT_HOST=127.0.0.1"
			# (env_settings wrote a MQTT_PORT given to start.)
			[ -n "${MQTT_PORT+x}" ] ||
			    grep '^MQTT_PORT=' "$dir/state/mqtt.ports"
			# A broker under valgrind answers in tens of ms, not one.
			[ -z "${HOMEBOT_MQTT_VALGRIND:-}" ] ||
			    [ -n "${READY_MQTT_TIMEOUT+x}" ] ||
			    echo "READY_MQTT_TIMEOUT=600"
		fi
		true
	) || exit 1
	if [ -n "$dburl" ]; then
		# Straight to PostgreSQL even behind PgBouncer: the worker
		# LISTENs, which needs a session of its own.
		admin_url=${direct/user=homebot_app/user=homebot_admin}
		worker_url=${direct/user=homebot_app/user=homebot_worker}
	else
		admin_url=${ADMIN_DATABASE_URL:-$(env_file_get ADMIN_DATABASE_URL "$src")}
		worker_url=${WORKER_DATABASE_URL:-$(env_file_get WORKER_DATABASE_URL "$src")}
	fi
	printf '%s\n' "$common" | write_file "$dir/etc/homebot.env" "$reader" 0400
	{
		printf '%s\n' "$common" | grep -v '^[[:space:]]*DATABASE_URL=' || true
		[ -n "$worker_url" ] && echo "DATABASE_URL=$worker_url"
		[ -n "$smtp" ] && echo "SMTP_URL=$smtp"
		true
	} | write_file "$dir/etc/worker.env" "$reader" 0400
	{
		printf '%s\n' "$common"
		[ -n "$admin_url" ] && echo "ADMIN_DATABASE_URL=$admin_url"
		# Its counters in a directory of its own user's.
		grep -q '^[[:space:]]*METRICS_DIR=' "$src" 2>/dev/null ||
		    echo "METRICS_DIR=$dir/admin-metrics"
		true
	} | write_file "$dir/etc/admin.env" "$admin_reader" 0400
}

web_start() {
	local dir=$1 foreground=${2:-no}
	local conf
	export HOMEBOT_HOME="$dir/app" HOMEBOT_RUN="$dir/run" HOMEBOT_PORT
	export HOMEBOT_STATE="$dir/state" HOMEBOT_FCGID="$dir/fcgid"
	export HOMEBOT_CONFIG="$dir/etc/homebot.env"
	export HOMEBOT_ADMIN_SOCKET="$dir/admin/admin.sock"
	export HOMEBOT_WEB_USER="$WEB_USER" HOMEBOT_WEB_GROUP="$WEB_GROUP"
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
	export GCOV_PREFIX
	GCOV_PREFIX=$(gcov_prefix web)
	case "$HOMEBOT_WEB" in
	lighttpd)
		conf=${HOMEBOT_LIGHTTPD_CONF:-$ROOT/lighttpd.conf}
		if [ "$foreground" = yes ]; then
			lighttpd -D -f "$conf" &
		else
			lighttpd -D -f "$conf" >>"$dir/log/web.log" 2>&1 &
		fi
		;;
	apache)
		conf="$ROOT/apache.conf"
		make_dir "$dir/fcgid" 0700 "$WEB_USER:$WEB_GROUP"
		HOMEBOT_ERROR_LOG=/dev/stderr \
		    apache2 -f "$conf" -DFOREGROUND >>"$dir/log/web.log" 2>&1 &
		;;
	*) die "HOMEBOT_WEB must be lighttpd or apache" ;;
	esac
	echo $! >"$dir/state/web.pid"
	# Up to a minute, like pg_ctl's wait. An answer counts only while our
	# server still runs: another server on the port would answer too.
	for _ in $(seq 1 600); do
		if curl -fsS -o /dev/null "http://127.0.0.1:$HOMEBOT_PORT/health" \
		    2>/dev/null && kill -0 "$(cat "$dir/state/web.pid")" 2>/dev/null; then
			return 0
		fi
		kill -0 "$(cat "$dir/state/web.pid")" 2>/dev/null ||
		    die "$HOMEBOT_WEB exited; see $dir/log/web.log"
		sleep 0.1
	done
	die "$HOMEBOT_WEB does not answer on port $HOMEBOT_PORT"
}

# gcov_prefix NAME: where the programs of a coverage build (make coverage)
# write their counters: HOMEBOT_GCOV_DIR/NAME, one tree per user (web
# programs and homebot-worker; the admin program), since each creates its
# files and directories writable by itself alone. Empty without
# HOMEBOT_GCOV_DIR: counters then go beside the objects, and other builds
# have none.
gcov_prefix() {
	[ -n "${HOMEBOT_GCOV_DIR:-}" ] && printf '%s/%s' "$HOMEBOT_GCOV_DIR" "$1"
	return 0
}

# running PID: whether the process is alive. A zombie is not: it has
# exited, and its parent (init, for the stack's daemons) may take seconds
# to reap it.
running() {
	local state
	state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ]
}

# pid_stop DIR NAME: the process of DIR/state/NAME.pid, SIGTERM first,
# SIGKILL after 10 s; then its pid file goes.
pid_stop() {
	local file=$1/state/$2.pid pid
	[ -f "$file" ] || return 0
	pid=$(cat "$file")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		running "$pid" || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$file"
}

web_stop() { pid_stop "$1" web; }

# Unless SMTP_URL is set (in FILE or the environment), a local SMTP sink
# (scripts/smtp-sink.py) takes the mails into DIR/mail; prints its URL.
sink_start() {
	local dir=$1 file=$2 port
	if [ -n "${SMTP_URL:-}" ] || [ -n "$(env_file_get SMTP_URL "$file")" ]; then
		return 0
	fi
	# The mails hold one-time links: for the invoking user's eyes only.
	make_dir "$dir/mail" 0700 "$(id -u)"
	(umask 077 && : >"$dir/state/smtp.out")
	(umask 077 && exec /usr/bin/python3 "$ROOT/scripts/smtp-sink.py" 0 "$dir/mail" \
	    >>"$dir/state/smtp.out" 2>&1) &
	echo $! >"$dir/state/smtp.pid"
	for _ in $(seq 1 100); do
		port=$(sed -n 's/^smtp-sink: listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' \
		    "$dir/state/smtp.out")
		if [ -n "$port" ]; then
			echo "smtp://127.0.0.1:$port"
			return 0
		fi
		kill -0 "$(cat "$dir/state/smtp.pid")" 2>/dev/null || break
		sleep 0.1
	done
	die "the SMTP sink did not start; see $dir/state/smtp.out"
}

sink_stop() {
	local dir=$1
	[ -f "$dir/state/smtp.pid" ] || return 0
	kill "$(cat "$dir/state/smtp.pid")" 2>/dev/null || true
	rm -f "$dir/state/smtp.pid"
}

# homebot-worker, as the web user, its log beside the web server's.
worker_start() {
	local dir=$1
	HOMEBOT_CONFIG="$dir/etc/worker.env" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" \
	    UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" \
	    GCOV_PREFIX="$(gcov_prefix web)" \
	    as_web "$dir/app/bin/homebot-worker" >>"$dir/log/worker.log" 2>&1 &
	echo $! >"$dir/state/worker.pid"
}

# SIGTERM lets the running jobs finish; after 30 s they are killed.
worker_stop() {
	local dir=$1 pid
	[ -f "$dir/state/worker.pid" ] || return 0
	pid=$(cat "$dir/state/worker.pid")
	pkill -TERM -f "^$dir/app/bin/homebot-worker" 2>/dev/null || true
	for _ in $(seq 1 300); do
		pgrep -f "^$dir/app/bin/homebot-worker" >/dev/null || break
		sleep 0.1
	done
	pkill -9 -f "^$dir/app/bin/homebot-worker" 2>/dev/null || true
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$dir/state/worker.pid"
}

# free_ports N: N loopback TCP ports nobody listens on now, all different
# (each is held until all are chosen).
free_ports() {
	/usr/bin/python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# mqtt_conf DIR PORT TLS_PORT: Mosquitto's configuration and a development
# certificate for its TLS listener (self-signed, for 127.0.0.1 and
# localhost; clients trust it as their CA file: etc/mqtt-cert.pem). The
# broker runs as the web user, which reads the plugin's settings
# (etc/homebot.env); its persistence file is in mqtt/.
mqtt_conf() {
	local dir=$1 port=$2 tls=$3
	make_dir "$dir/mqtt" 0700 "$WEB_USER:$WEB_GROUP"
	if [ ! -f "$dir/etc/mqtt-cert.pem" ]; then
		(umask 077 && openssl req -x509 -newkey ec \
		    -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		    -subj /CN=localhost \
		    -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
		    -keyout "$dir/etc/mqtt-key.pem.tmp" \
		    -out "$dir/etc/mqtt-cert.pem" 2>/dev/null)
		write_file "$dir/etc/mqtt-key.pem" "$WEB_USER" 0400 \
		    <"$dir/etc/mqtt-key.pem.tmp"
		rm -f "$dir/etc/mqtt-key.pem.tmp"
		chmod 0644 "$dir/etc/mqtt-cert.pem"
	fi
	write_file "$dir/etc/mosquitto.conf" "$WEB_USER" 0400 <<EOF
# Generated by scripts/stack.sh: Homebot's plugin decides who connects and
# what each client may read and write; nobody is anonymous.
per_listener_settings false
allow_anonymous false
plugin $dir/app/lib/homebot_mqtt.so
plugin_opt_config $dir/etc/homebot.env
persistence true
persistence_location $dir/mqtt/
# A subscriber slower than its publishers (a test's 2,500 QoS 1 messages
# at once) keeps them queued instead of losing those past Mosquitto's
# default of 1,000.
max_queued_messages 100000
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
listener $port 127.0.0.1
listener $tls 127.0.0.1
certfile $dir/etc/mqtt-cert.pem
keyfile $dir/etc/mqtt-key.pem
EOF
	printf 'MQTT_PORT=%s\nMQTTS_PORT=%s\n' "$port" "$tls" >"$dir/state/mqtt.ports"
}

# mqtt_answers PORT: whether the broker's own loop answers, not just its
# kernel: a CONNECT of a protocol level no broker speaks (the probe of
# /ready) is refused and closed before any credential is asked for. Under
# valgrind the first answer takes over a second; waiting for it here keeps
# that out of the first /ready.
mqtt_answers() {
	timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
	    printf "\x10\x0c\x00\x04MQTT\x7f\x02\x00\x00\x00\x00" >&3 &&
	    cat <&3 >/dev/null' _ "$1" 2>/dev/null
}

# Mosquitto as the web user, its log in log/mqtt.log; waits until it
# listens. It connects to PostgreSQL directly (LISTEN needs a session,
# which a transaction-mode PgBouncer does not keep). Under SANITIZE=1 the
# plugin carries UBSan alone (see the Makefile), whose runtime it loads.
mqtt_start() {
	local dir=$1 port as=() dburl="" vg=()
	port=$(sed -n 's/^MQTT_PORT=//p' "$dir/state/mqtt.ports")
	# HOMEBOT_MQTT_VALGRIND=DIR (the sanitizer run): the broker, and so the
	# plugin, under valgrind; a report goes to DIR/valgrind-mqtt.PID (setpriv
	# and valgrind keep the pid), and stopping the broker removes its
	# report when it stayed empty.
	[ -n "${HOMEBOT_MQTT_VALGRIND:-}" ] &&
	    vg=(valgrind -q --error-exitcode=99 --leak-check=no
	        "--log-file=$HOMEBOT_MQTT_VALGRIND/valgrind-mqtt.%p")
	# setpriv execs the broker in its place: the pid is the broker's.
	[ "$(id -u)" -eq 0 ] &&
	    as=(setpriv --reuid="$WEB_USER" --regid="$WEB_GROUP" --init-groups)
	# The embedded cluster's socket; otherwise homebot.env's DATABASE_URL.
	[ -d "$dir/pg/data" ] && dburl="host=$dir/pg user=homebot_app dbname=homebot"
	(if [ -n "$dburl" ]; then export DATABASE_URL="$dburl"; fi
	 export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" \
	    UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
	 exec "${as[@]}" "${vg[@]}" /usr/sbin/mosquitto \
	    -c "$dir/etc/mosquitto.conf" >>"$dir/log/mqtt.log" 2>&1) &
	echo $! >"$dir/state/mqtt.pid"
	for _ in $(seq 1 200); do
		if mqtt_answers "$port"; then
			return 0
		fi
		kill -0 "$(cat "$dir/state/mqtt.pid")" 2>/dev/null ||
		    die "Mosquitto exited; see $dir/log/mqtt.log"
		sleep 0.05
	done
	die "Mosquitto does not listen on port $port; see $dir/log/mqtt.log"
}

mqtt_stop() {
	local pid report
	[ -f "$1/state/mqtt.pid" ] || return 0
	pid=$(cat "$1/state/mqtt.pid")
	pid_stop "$1" mqtt
	# Only this broker's report: another stack's may still be written.
	report=${HOMEBOT_MQTT_VALGRIND:-}/valgrind-mqtt.$pid
	if [ -n "${HOMEBOT_MQTT_VALGRIND:-}" ] && [ -f "$report" ] && [ ! -s "$report" ]; then
		rm -f "$report"
	fi
}

# wait_socket DIR NAME SOCKET WHAT: up to 10 s for the process of
# state/NAME.pid to open SOCKET; dies, pointing at log/NAME.log, when it
# exits first or never does.
wait_socket() {
	local dir=$1 name=$2 sock=$3 what=$4
	for _ in $(seq 1 100); do
		[ -S "$sock" ] && return 0
		kill -0 "$(cat "$dir/state/$name.pid")" 2>/dev/null ||
		    die "$what exited; see $dir/log/$name.log"
		sleep 0.1
	done
	die "$what did not open its socket; see $dir/log/$name.log"
}

# PgBouncer in transaction mode between the web programs and PostgreSQL,
# as the web user, listening only on a socket in pgbouncer/ (0700, the web
# user's: no other local user reaches it). It admits homebot_app alone
# (trust: the socket's directory is the check) and logs in to PostgreSQL
# as the web user through the cluster's socket, where peer authentication
# maps that user to homebot_app and homebot_worker only.
pgbouncer_start() {
	local dir=$1 as=()
	make_dir "$dir/pgbouncer" 0700 "$WEB_USER:$WEB_GROUP"
	echo '"homebot_app" ""' | write_file "$dir/etc/pgbouncer-users.txt" "$WEB_USER" 0400
	write_file "$dir/etc/pgbouncer.ini" "$WEB_USER" 0400 <<EOF
[databases]
homebot = host=$dir/pg dbname=homebot

[pgbouncer]
unix_socket_dir = $dir/pgbouncer
unix_socket_mode = 0600
listen_port = 6432
auth_type = trust
auth_file = $dir/etc/pgbouncer-users.txt
pool_mode = transaction
default_pool_size = ${HOMEBOT_PGBOUNCER_POOL:-4}
max_client_conn = 500
EOF
	[ "$(id -u)" -eq 0 ] &&
	    as=(setpriv --reuid="$WEB_USER" --regid="$WEB_GROUP" --init-groups --)
	"${as[@]}" pgbouncer "$dir/etc/pgbouncer.ini" >>"$dir/log/pgbouncer.log" 2>&1 &
	echo $! >"$dir/state/pgbouncer.pid"
	wait_socket "$dir" pgbouncer "$dir/pgbouncer/.s.PGSQL.6432" PgBouncer
}

pgbouncer_stop() { pid_stop "$1" pgbouncer; }

# The directories of the stack in DIR, which must be the invoking user's
# and writable by nobody else (see the top of this file).
prepare_dirs() {
	local dir=$1 me
	me=$(id -u)
	own_dir "$dir" || die "$dir must be a directory of $(id -un) that no one else can write to"
	chmod 0755 "$dir"
	ensure_admin_user
	make_dir "$dir/etc" 0755 "$me"
	make_dir "$dir/state" 0700 "$me"
	make_dir "$dir/log" 0755 "$me"
	make_dir "$dir/run" 0755 "$WEB_USER:$WEB_GROUP"
	make_dir "$dir/asan" 1777 "$me"
	make_dir "$dir/metrics" 0700 "$WEB_USER:$WEB_GROUP"
	if [ "$me" -eq 0 ]; then
		make_dir "$dir/pg" 0750 "$PG_USER:$WEB_GROUP"
		# setgid: the socket spawn-fcgi makes there is group www-data.
		make_dir "$dir/admin" 2750 "$ADMIN_USER:$WEB_GROUP"
		# The admin program's counters, which /metrics (www-data) reads.
		make_dir "$dir/admin-metrics" 2750 "$ADMIN_USER:$WEB_GROUP"
	else
		make_dir "$dir/pg" 0700 "$me"
		make_dir "$dir/admin" 0700 "$me"
		make_dir "$dir/admin-metrics" 0700 "$me"
	fi
}

# The admin program, outside the web server, as the admin user: spawn-fcgi
# opens its socket (mode 0660, group www-data: the web server connects)
# and runs it in its place. Environment: its own env file.
admin_start() {
	local dir=$1 as=()
	[ "$(id -u)" -eq 0 ] &&
	    as=(-u "$ADMIN_USER" -g "$WEB_GROUP" -U "$ADMIN_USER" -G "$WEB_GROUP")
	HOMEBOT_CONFIG="$dir/etc/admin.env" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" \
	    UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" \
	    GCOV_PREFIX="$(gcov_prefix admin)" \
	    spawn-fcgi -n -s "$dir/admin/admin.sock" -M 0660 "${as[@]}" \
	    -- "$dir/app/cgi-bin/admin" >>"$dir/log/admin.log" 2>&1 &
	echo $! >"$dir/state/admin.pid"
	wait_socket "$dir" admin "$dir/admin/admin.sock" "the admin program"
}

admin_stop() { pid_stop "$1" admin; }

# publisher_secret FILE: MQTT_PUBLISHER_SECRET, generated into the
# settings FILE unless it or the environment has one: the password with
# which homebot-worker publishes Homebot's events to the broker, which no
# client holds.
publisher_secret() {
	if [ -z "$(env_file_get MQTT_PUBLISHER_SECRET "$1")" ] &&
	    [ -z "${MQTT_PUBLISHER_SECRET:-}" ]; then
		(umask 077 && echo "MQTT_PUBLISHER_SECRET=$(head -c 48 /dev/urandom |
		    base64 | tr -d '\n/+=')" >>"$1")
	fi
}

cmd_start() {
	local dir=${1:?usage: stack.sh start DIR}
	local secret smtp direct dburl mqtt mqtts
	dir=$(cd "$dir" && pwd)
	prepare_dirs "$dir"
	reachable "$dir" || die "$dir is not reachable by $PG_USER/$WEB_USER"
	pg_initdb "$dir" yes
	pg_start "$dir"
	db_prepare "$dir" >"$dir/log/migrate.log"
	stage_app "$dir"
	if [ -z "$(env_file_get SECRET_KEY "$dir/settings.env")" ] &&
	    [ -z "${SECRET_KEY:-}" ]; then
		secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')
		(umask 077 && echo "SECRET_KEY=$secret" >>"$dir/settings.env")
	fi
	if [ -z "$(env_file_get VAULT_MASTER_KEY "$dir/settings.env")" ] &&
	    [ -z "${VAULT_MASTER_KEY:-}" ]; then
		secret=$(openssl rand -base64 32)
		(umask 077 &&
		    echo "VAULT_MASTER_KEY=$secret" >>"$dir/settings.env")
	fi
	publisher_secret "$dir/settings.env"
	smtp=$(sink_start "$dir" "$dir/settings.env")
	direct="host=$dir/pg user=homebot_app dbname=homebot"
	dburl=$direct
	if [ "${HOMEBOT_PGBOUNCER:-}" = 1 ]; then
		pgbouncer_start "$dir"
		dburl="host=$dir/pgbouncer port=6432 user=homebot_app dbname=homebot"
	fi
	read -r mqtt mqtts <<<"$(free_ports 2)"
	mqtt_conf "$dir" "${MQTT_PORT:-$mqtt}" "${MQTTS_PORT:-$mqtts}"
	write_env "$dir" "$dir/settings.env" "$dburl" "$smtp" "$direct"
	admin_start "$dir"
	web_start "$dir"
	worker_start "$dir"
	mqtt_start "$dir"
	{ cat "$dir/state/mqtt.ports"; echo "MQTT_CAFILE=$dir/etc/mqtt-cert.pem"; } \
	    >"$dir/stack.env"
	cat >>"$dir/stack.env" <<EOF
HOMEBOT_URL=http://127.0.0.1:$HOMEBOT_PORT
HOMEBOT_WEB=$HOMEBOT_WEB
OWNER_URL=host=$dir/pg user=postgres dbname=homebot
APP_URL=host=$dir/pg user=homebot_app dbname=homebot
WORKER_URL=host=$dir/pg user=homebot_worker dbname=homebot
SMTP_URL=$smtp
MAIL_DIR=$dir/mail
STACK_DIR=$dir
DATABASE_URL=$dburl
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
	mqtt_stop "$dir"
	worker_stop "$dir"
	sink_stop "$dir"
	web_stop "$dir"
	admin_stop "$dir"
	pgbouncer_stop "$dir"
	pg_stop "$dir"
}

# ./var, or a directory under /var/tmp when the service users cannot reach
# the checkout (a clone in a 0700 home directory). Either must be the
# invoking user's own, writable by no one else: the /var/tmp name is
# predictable, so one that another user made first is refused, never used.
run_dir() {
	local dir="$ROOT/var"
	[ -e "$dir" ] || [ -L "$dir" ] || mkdir -m 0755 "$dir" 2>/dev/null || true
	if own_dir "$dir" && reachable "$dir" && [ ${#dir} -lt 80 ]; then
		echo "$dir"
		return
	fi
	dir="/var/tmp/homebot-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
	[ -e "$dir" ] || [ -L "$dir" ] || mkdir -m 0755 "$dir" 2>/dev/null || true
	own_dir "$dir" ||
	    die "$dir is not a directory of $(id -un) that only it can write to; remove it and start again"
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
	# The values travel as psql variables (-v) and are quoted by psql
	# itself (:'name'); the script is a quoted heredoc, so the shell
	# splices nothing into SQL.
	psql -X -q -v ON_ERROR_STOP=1 -v email="$email" -v hash="$hash" \
	    "$owner" >/dev/null <<'SQL' ||
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
	case "$email" in
	*[[:space:][:cntrl:]]*) die "EMAIL must be an email address (no blanks or control characters)" ;;
	?*@?*) ;;
	*) die "EMAIL must be an email address" ;;
	esac
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

# make vault-rotate: homebot-vault-rotate with homebot.env's settings
# (HOMEBOT_CONFIG names another file; the environment wins) as the
# homebot_worker role: WORKER_DATABASE_URL with an external database, else
# the embedded cluster's (started for the moment if it is not running).
# JOB=1 queues the job vault.rotate instead; BATCH is keys per transaction.
cmd_vault_rotate() {
	local job=${1:-} batch=${2:-} dburl url dir started=no rc=0 args=()
	local conf=${HOMEBOT_CONFIG:-$ROOT/homebot.env}
	[ -x "$BUILD/bin/homebot-vault-rotate" ] || die "no $BUILD/bin/homebot-vault-rotate: run make first"
	case "$job" in "" | 0) ;; 1) args+=(--job) ;; *) die "JOB must be 1 or empty" ;; esac
	[ -z "$batch" ] || args+=(--batch "$batch")
	dburl=${DATABASE_URL:-$(env_file_get DATABASE_URL "$conf")}
	if [ -n "$dburl" ]; then
		url=${WORKER_DATABASE_URL:-$(env_file_get WORKER_DATABASE_URL "$conf")}
		[ -n "$url" ] || die "WORKER_DATABASE_URL is not set (the homebot_worker role's connection string)"
		DATABASE_URL=$url HOMEBOT_CONFIG=$conf \
		    "$BUILD/bin/homebot-vault-rotate" "${args[@]}"
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
	DATABASE_URL="host=$dir/pg user=homebot_worker dbname=homebot" \
	    HOMEBOT_CONFIG=$conf "$BUILD/bin/homebot-vault-rotate" "${args[@]}" ||
	    rc=$?
	[ "$started" = yes ] && pg_stop "$dir"
	return $rc
}

# What make superadmin connects with: MIGRATE_DATABASE_URL or DATABASE_URL
# when the database is external, else the embedded cluster's owner.
cmd_owner_url() {
	local dburl dir
	dburl=${DATABASE_URL:-$(env_file_get DATABASE_URL "$ROOT/homebot.env")}
	if [ -n "$dburl" ]; then
		echo "${MIGRATE_DATABASE_URL:-$dburl}"
		return
	fi
	dir=$(run_dir)
	[ -f "$dir/pg/data/PG_VERSION" ] || die "no database yet: run make run once first"
	echo "host=$dir/pg user=postgres dbname=homebot"
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
	mqtt_stop "$RUN_DIR"
	worker_stop "$RUN_DIR"
	sink_stop "$RUN_DIR"
	pkill -f "^tail -n 0 -f $RUN_DIR/state/smtp.out" 2>/dev/null || true
	web_stop "$RUN_DIR"
	admin_stop "$RUN_DIR"
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
	if [ -z "$(env_file_get VAULT_MASTER_KEY "$envfile")" ] &&
	    [ -z "${VAULT_MASTER_KEY:-}" ]; then
		umask 077
		echo "VAULT_MASTER_KEY=$(openssl rand -base64 32)" >>"$envfile"
		umask 022
		echo "homebot: generated VAULT_MASTER_KEY in homebot.env"
	fi
	if [ -z "$(env_file_get MQTT_PUBLISHER_SECRET "$envfile")" ] &&
	    [ -z "${MQTT_PUBLISHER_SECRET:-}" ]; then
		publisher_secret "$envfile"
		echo "homebot: generated MQTT_PUBLISHER_SECRET in homebot.env"
	fi
	dir=$(run_dir)
	prepare_dirs "$dir"
	mqtt_conf "$dir" "${MQTT_PORT:-1883}" "${MQTTS_PORT:-8883}"
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
		tail -n 0 -f "$dir/state/smtp.out" | grep --line-buffered '^mail ' &
	fi
	stage_app "$dir"
	admin_start "$dir"
	web_start "$dir" yes
	worker_start "$dir"
	mqtt_start "$dir"
	echo "homebot: MQTT on 127.0.0.1:${MQTT_PORT:-1883}, TLS :${MQTTS_PORT:-8883} (CA file $dir/etc/mqtt-cert.pem)"
	echo "homebot: serving http://127.0.0.1:$HOMEBOT_PORT (docs: /docs) — Ctrl-C stops"
	wait "$(cat "$dir/state/web.pid")" || true
}

case "${1:-}" in
run) cmd_run ;;
start) cmd_start "${2:-}" ;;
stop) cmd_stop "${2:-}" ;;
db) cmd_db "${2:-}" ;;
superadmin) cmd_superadmin "${2:-}" "${3:-}" ;;
vault-rotate) cmd_vault_rotate "${2:-}" "${3:-}" ;;
owner-url) cmd_owner_url ;;
pg-stop) pg_stop "${2:?}" ;;
pg-start) pg_start "${2:?}" ;;
worker-stop) worker_stop "${2:?}" ;;
worker-start) worker_start "${2:?}" ;;
mqtt-stop) mqtt_stop "${2:?}" ;;
mqtt-start) mqtt_start "${2:?}" ;;
*) die "usage: stack.sh run | start DIR | db DIR | stop DIR | pg-stop DIR | pg-start DIR" ;;
esac
