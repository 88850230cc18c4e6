#!/usr/bin/env bash
# make check: every test, against real servers started here and stopped
# again on any exit (a failure or Ctrl-C included).
#   check.sh           everything
#   check.sh unit      the C unit tests alone (make test-unit)
#   check.sh coverage  the unit tests and the end-to-end suites against a
#                      build with gcov counters, then the coverage report
#                      and its floor (make coverage); COVERAGE_WEB names
#                      the web servers, by default both
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# Exported: a make the suites run builds with the same flags.
export BUILD=${BUILD:-build} SANITIZE=${SANITIZE:-} COVERAGE=${COVERAGE:-}
PYTEST=/usr/bin/python3
MODE=${1:-all}
case "$MODE" in all | unit | coverage) ;; *) echo "usage: check.sh [unit | coverage]" >&2; exit 2 ;; esac
T=$(mktemp -d /tmp/homebot-check.XXXXXX)
chmod 0755 "$T"
failed=()

cleanup() {
	# A suite still running (check.sh stopped): pytest stops its servers
	# on its way out after a SIGINT.
	local pid
	for pid in $(jobs -p); do pkill -INT -P "$pid" 2>/dev/null || true; done
	wait
	scripts/stack.sh stop "$T/db" >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n=== %s\n' "$*"; }
run() {
	local name=$1
	shift
	local t0=$SECONDS
	step "$name"
	if "$@"; then
		echo "--- $name: ok ($((SECONDS - t0)) s)"
	else
		echo "--- $name: FAILED ($((SECONDS - t0)) s)"
		failed+=("$name")
	fi
}

if [ "$SANITIZE" = 1 ]; then
	mkdir -p "$T/asan"
	chmod 1777 "$T/asan"
	# Worker reports land in files: the web server owns their stderr.
	# Leaks too: a program stopped with SIGTERM (the web server stopping
	# it, at the end of every stack) returns from main(), and
	# LeakSanitizer reports what it never freed.
	export ASAN_OPTIONS="log_path=$T/asan/asan:detect_leaks=1:abort_on_error=1"
	export UBSAN_OPTIONS="log_path=$T/asan/ubsan:print_stacktrace=1"
	UNIT_ASAN="detect_leaks=1:abort_on_error=1"
	# The MQTT broker is not instrumented: its plugin (UBSan alone, see
	# the Makefile) runs under valgrind, whose reports land here too.
	export HOMEBOT_MQTT_VALGRIND="$T/asan"
fi

# PostgreSQL for every step that needs one: the unit tests get a
# database of their own (a copy of the migrated one), in
# HOMEBOT_TEST_DATABASE_URL as its owner; those that need it fail without.
database() {
	mkdir -p "$T/db"
	scripts/stack.sh db "$T/db" || return 1
	psql -X -q "host=$T/db/pg user=postgres dbname=postgres" \
	    -c "CREATE DATABASE homebot_unit TEMPLATE homebot" || return 1
	export HOMEBOT_TEST_DATABASE_URL="host=$T/db/pg user=postgres dbname=homebot_unit"
}

# Runs a TAP suite verbosely into a log: shows prove's summary (the whole
# log on a failure), how many tests skipped, and fails on a skip whose
# reason tests/allowed-skips does not give for this suite.
tap_suite() {
	local suite=$1 log="$T/$1.tap"
	shift
	if ! "$@" >"$log" 2>&1; then
		cat "$log"
		return 1
	fi
	grep -aE '^(All tests successful|Files=|Result:)' "$log"
	skips_allowed "$suite" "$log"
}

skips_allowed() {
	local suite=$1 log=$2 reason n=0 bad=0
	while IFS= read -r reason; do
		n=$((n + 1))
		if ! grep -qxF "$suite	$reason" tests/allowed-skips; then
			echo "skipped without an allowed reason: $reason"
			bad=1
		fi
	done < <(grep -aiE '^[[:space:]]*ok [0-9]+( -.*)? # skip' "$log" |
	    sed -E 's/^.* # [sS][kK][iI][pP][[:space:]]*//')
	echo "$suite: $n skipped"
	return $bad
}

unit_tests() {
	ASAN_OPTIONS=${UNIT_ASAN:-} tap_suite unit \
	    prove -v --exec '' "$BUILD"/tests/unit/*.t
}

valgrind_unit_tests() {
	local t rc=0
	for t in "$BUILD"/tests/unit/*.t; do
		valgrind -q --error-exitcode=1 --leak-check=full \
		    --errors-for-leak-kinds=definite,indirect "$t" >/dev/null || {
			echo "valgrind: $t"; rc=1; }
	done
	return $rc
}

static_analysis() {
	cppcheck -q --error-exitcode=1 --enable=warning,performance,portability \
	    --std=c11 --inline-suppr -D__GNUC__ -Ilib lib cgi-bin tools mqtt bench tests/unit \
	    tests/fuzz
}

# Seven seconds a harness: a regression input in a seed corpus is run
# again, and a new crash has a chance to show, within CI's budget.
fuzz_short() {
	make -j2 --no-print-directory fuzz FUZZ_SECONDS=7
}

# lib/ has no include cycle; and the checker does find one when there is.
include_cycles() {
	mkdir -p "$T/cycle"
	printf '#include "b.h"\n' >"$T/cycle/a.h"
	printf '#include "c.h"\n' >"$T/cycle/b.h"
	printf '#include "a.h"\n' >"$T/cycle/c.h"
	if scripts/include-cycles.py "$T/cycle" >/dev/null; then
		echo "include-cycles.py missed the cycle a -> b -> c -> a"
		return 1
	fi
	scripts/include-cycles.py
}

# The alert and recording rules Homebot ships are valid, and their unit
# tests (every alert fires on a bad series and stays quiet on a good one)
# pass.
prometheus_rules() {
	promtool check rules docs/prometheus/homebot.rules.yml &&
	    promtool test rules docs/prometheus/homebot.rules.test.yml
}

sql_tests() {
	local owner="host=$T/db/pg user=postgres dbname=homebot"
	psql -X -q "$owner" -c "CREATE EXTENSION IF NOT EXISTS pgtap" \
	    -c "CREATE EXTENSION IF NOT EXISTS dblink" &&
	    tap_suite pgtap pg_prove -v --host "$T/db/pg" --username postgres \
	    --dbname homebot tests/sql/*.sql
}

migrate_tests() {
	HOMEBOT_TEST_ADMIN_URL="host=$T/db/pg user=postgres dbname=postgres" \
	    tap_suite migrate prove -v tests/migrate/
}

# pytest_suite WEB ARGS...: one pytest of the end-to-end suite, with the
# session stack of its own that conftest.py starts.
pytest_suite() {
	HOMEBOT_WEB=$1 HOMEBOT_SKIP_SUITE=e2e "$PYTEST" -m pytest -v \
	    --tb=short -p no:cacheprovider "${@:2}"
}

# The modules that spend their time waiting, on the clock (a TOTP code is
# accepted once, so a test that needs more than two waits for the next
# 30-s step) or on the programs' restarts: a pytest of their own, beside
# the rest, so that the waits cost no time. test_logs.py runs in both,
# last, over each one's stack.
WAITING=(tests/phase1/test_mfa.py tests/phase1/test_sign_in_notice.py
    tests/phase1/test_vault_rotate.py)

# The MQTT tests (test_mqtt.py, test_events.py) need no web server of
# their own beyond the stack's API: they run in the lighttpd suite only.
e2e() {
	local skip=("${WAITING[@]/#/--ignore=}") pid rc=0
	[ "$1" = lighttpd ] || skip+=(--ignore=tests/phase1/test_mqtt.py
	    --ignore=tests/phase1/test_events.py)
	pytest_suite "$1" "${WAITING[@]}" tests/phase1/test_logs.py \
	    >"$T/waiting-$1.log" 2>&1 &
	pid=$!
	pytest_suite "$1" tests/phase1/ "${skip[@]}" || rc=1
	wait "$pid" || rc=1
	echo "--- the waiting modules, beside the rest ($1):"
	cat "$T/waiting-$1.log"
	return "$rc"
}

# The end-to-end suite behind each of these web servers, all at once: each
# has servers of its own on ports of its own, and much of a suite's time is
# spent waiting (on mail, jobs, timers). Each output is shown when its
# suite ends; a step per server, as if they had run one after the other.
run_together() {
	local fn=$1 web i=0 t0=$SECONDS
	local -a pids=()
	shift
	for web in "$@"; do
		"$fn" "$web" >"$T/together-$web.log" 2>&1 &
		pids+=($!)
	done
	for web in "$@"; do
		step "end-to-end ($web)"
		if wait "${pids[$i]}"; then
			cat "$T/together-$web.log"
			echo "--- end-to-end ($web): ok ($((SECONDS - t0)) s, together)"
		else
			cat "$T/together-$web.log"
			echo "--- end-to-end ($web): FAILED ($((SECONDS - t0)) s, together)"
			failed+=("end-to-end ($web)")
		fi
		i=$((i + 1))
	done
}

# The groups whose proof depends on what a connection carries from one
# request to the next, again with PgBouncer (transaction mode, a pool of 4
# for 22 web programs) between the programs and PostgreSQL.
e2e_pgbouncer() {
	HOMEBOT_WEB=lighttpd HOMEBOT_PGBOUNCER=1 HOMEBOT_SKIP_SUITE=e2e \
	    "$PYTEST" -m pytest -v --tb=short \
	    -p no:cacheprovider tests/phase1/test_pgbouncer.py \
	    tests/phase1/test_isolation.py tests/phase1/test_concurrency.py \
	    tests/phase1/test_auth_*.py tests/phase1/test_api_keys.py \
	    2>&1 | tee "$T/pgbouncer.log"
	return "${PIPESTATUS[0]}"
}

# The programs of a coverage build write their counters under $T/gcov,
# one tree per user (scripts/stack.sh); the unit tests and the tools the
# suites run as root write theirs beside the objects in $BUILD.
coverage_e2e() {
	HOMEBOT_GCOV_DIR="$T/gcov" e2e "$1"
}

# The line and branch coverage of lib/ and cgi-bin/, per file and in all,
# on the console and as HTML in $BUILD/coverage/, checked against
# tests/coverage-floor.
coverage_report() {
	local f obj out="$BUILD/coverage"
	# A program stopped with its web server writes its counters on its
	# way out, a moment after the server itself has gone.
	sleep 2
	# gcov reads a counters file beside the notes file of its object.
	while IFS= read -r -d '' f; do
		obj=/${f#"$T"/gcov/*/}
		cp "${obj%.gcda}.gcno" "${f%.gcda}.gcno"
	done < <(find "$T/gcov" -name '*.gcda' -print0)
	rm -rf "$out"
	mkdir -p "$out"
	gcovr --root . --filter 'lib/' --filter 'cgi-bin/' \
	    --json-summary "$out/summary.json" \
	    --html-details "$out/index.html" --html-title "Homebot coverage" \
	    "$BUILD" "$T/gcov" || return 1
	echo "HTML report: $out/index.html"
	scripts/coverage-floor.py "$out/summary.json" tests/coverage-floor
}

# The options above do report a leak, in a file where the last step looks.
leak_detection() {
	local d
	d=$(mktemp -d "$T/leak.XXXXXX")
	printf '#include <stdlib.h>\nint main(void) { void *volatile p = malloc(77); p = 0; return p != 0; }\n' >"$d/leak.c"
	cc -fsanitize=address -g -o "$d/leak" "$d/leak.c" || return 1
	ASAN_OPTIONS="${ASAN_OPTIONS/log_path=$T\/asan\/asan/log_path=$d/report}" "$d/leak" || true
	if grep -qs "77 byte(s) leaked" "$d"/report.*; then
		echo "a leak of 77 bytes was reported"
	else
		echo "LeakSanitizer did not report a leak with ASAN_OPTIONS=$ASAN_OPTIONS"
		return 1
	fi
}

no_sanitizer_reports() {
	if compgen -G "$T/asan/*" >/dev/null; then
		cat "$T"/asan/*
		return 1
	fi
	echo "no sanitizer reports"
}

# The end-to-end tests that failed, named again at the end, where the last
# lines of a long output show them.
failed_tests() {
	local log
	for log in "$T"/together-*.log "$T"/pgbouncer.log; do
		[ -e "$log" ] || continue
		grep -aE '^(FAILED|ERROR) tests/' "$log" | cut -c1-300 |
		    sed "s|^|$(basename "$log" .log): |" || true
	done
}

# What make ran, and what failed; the exit status says it too.
summary() {
	local what="make check"

	[ "$MODE" = unit ] && what="make test-unit"
	[ "$MODE" = coverage ] && what="make coverage"
	echo
	if [ ${#failed[@]} -gt 0 ]; then
		failed_tests
		printf '%s: FAILED: %s\n' "$what" "${failed[*]}"
		exit 1
	fi
	echo "$what: all passed in $((SECONDS / 60)) min $((SECONDS % 60)) s"
	exit 0
}

# Every counter starts from zero.
[ "$MODE" = coverage ] && find "$BUILD" -name '*.gcda' -delete
run "PostgreSQL" database
run "C unit tests" unit_tests
if [ "$MODE" = coverage ]; then
	scripts/stack.sh stop "$T/db" >/dev/null 2>&1 || true
	mkdir -m 1777 "$T/gcov"
	chmod 1777 "$T/gcov"
	# shellcheck disable=SC2086 # a list of names
	run_together coverage_e2e ${COVERAGE_WEB:-lighttpd apache}
	run "coverage" coverage_report
fi
[ "$MODE" = all ] || summary
[ "$SANITIZE" = 1 ] && run "leak detection" leak_detection
if [ "$SANITIZE" != 1 ]; then
	run "C unit tests under valgrind" valgrind_unit_tests
	run "cppcheck" static_analysis
	run "include cycles" include_cycles
	run "OpenAPI lint" npx --no-install redocly lint docs/openapi.json
	run "Prometheus rules" prometheus_rules
	run "fuzzing (short)" fuzz_short
fi
run "pgTAP" sql_tests
run "migrate" migrate_tests
scripts/stack.sh stop "$T/db" >/dev/null 2>&1 || true
run_together e2e lighttpd apache
run "end-to-end (lighttpd + PgBouncer)" e2e_pgbouncer
[ "$SANITIZE" = 1 ] && run "sanitizer reports" no_sanitizer_reports

summary
