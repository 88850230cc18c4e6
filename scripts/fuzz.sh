#!/usr/bin/env bash
# make fuzz: runs every harness built in BUILD/tests/fuzz/ for SECONDS
# each, from its seed corpus tests/fuzz/corpus/<harness>/ (read, never
# written) and its dictionary tests/fuzz/<harness>.dict when there is one.
# New inputs go to BUILD/fuzz-corpus/<harness>/, a scratch corpus the next
# run starts from too; a crash, leak or sanitizer report fails the run and
# its input and log are kept in BUILD/fuzz-crashes/.
#   FUZZ_RUNS=N       stop each harness after N executions instead (a
#                     long run: SECONDS is then no limit)
#   FUZZ_ONLY="a b"   these harnesses only
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${1:-build-fuzz}
SECONDS_EACH=${2:-60}
CRASHES=$BUILD/fuzz-crashes
SCRATCH=$BUILD/fuzz-corpus
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/homebot-fuzz.XXXXXX")
trap 'rm -rf "$LOGS"' EXIT

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$CRASHES"
failed=()
summary=()

RUNS=${FUZZ_RUNS:-}
case "$RUNS" in '' | *[!0-9]*) RUNS= ;; esac
[ -n "$RUNS" ] && SECONDS_EACH=0

for h in tests/fuzz/*.c; do
	name=$(basename "$h" .c)
	if [ -n "${FUZZ_ONLY:-}" ] && [[ " $FUZZ_ONLY " != *" $name "* ]]; then
		continue
	fi
	bin=$BUILD/tests/fuzz/$name
	corpus=tests/fuzz/corpus/$name
	log=$LOGS/$name.log
	args=(-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048
	    -print_final_stats=1 -artifact_prefix="$CRASHES/$name-")
	[ -f "tests/fuzz/$name.dict" ] && args+=(-dict="tests/fuzz/$name.dict")
	[ -n "$RUNS" ] && args+=(-runs="$RUNS")
	mkdir -p "$SCRATCH/$name"
	if [ -n "$RUNS" ]; then
		echo "fuzz: $name ($RUNS runs)"
	else
		echo "fuzz: $name (${SECONDS_EACH}s)"
	fi
	if "$bin" "${args[@]}" "$SCRATCH/$name" "$corpus" >"$log" 2>&1; then
		status=ok
	else
		status=FAILED
		failed+=("$name")
		cp "$log" "$CRASHES/$name.log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:|artifact_prefix|Test unit written)' \
		    "$log" | head -20 || true
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	summary+=("$(printf '%-16s %12s execs %8s exec/s  %s' "$name" \
	    "${execs:-?}" "${rate:-?}" "$status")")
done

echo
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: FAILED: ${failed[*]}; the inputs are in $CRASHES/"
	exit 1
fi
