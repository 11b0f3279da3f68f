#!/usr/bin/env bash
# test.sh BUILD ASAN TSAN: what `make test` runs.
#   1. every test in the normal build;
#   2. every test again under ASan+UBSan;
#   3. the threaded tests (suite "tsan") under ThreadSanitizer.
# All three stages run even when one fails; the last line is the total in the
# plain form "test: N passed, N failed" and the exit status is non-zero on any
# failure.
set -uo pipefail
build=${1:-build} asan=${2:-build-asan} tsan=${3:-build-tsan}
werror=${WERROR:-false}
jobs=${TESTJOBS:-$(nproc 2>/dev/null || echo 2)}
status=0

setup() { # dir, extra meson args...
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" -Dwerror="$werror" "$@" >/dev/null || return 1
	else
		meson configure "$dir" -Dwerror="$werror" >/dev/null || return 1
	fi
	ninja -C "$dir" >/dev/null || ninja -C "$dir"
}

stage() { # name, dir, meson-test args...
	local name=$1 dir=$2; shift 2
	echo "== $name: $dir"
	rm -f "$dir/meson-logs/testlog.json"
	meson test -C "$dir" --print-errorlogs --num-processes "$jobs" "$@" || status=1
}

# ThreadSanitizer of gcc 12 / clang 14 cannot run with the high mmap
# randomisation of new kernels; run its stage without ASLR when setarch works.
norand=""
if setarch "$(uname -m)" -R true 2>/dev/null; then norand="setarch $(uname -m) -R"; fi

if setup "$build" --buildtype=debugoptimized; then
	stage plain "$build"
else status=1; fi
if setup "$asan" --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false -Dsanitized=true; then
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	stage asan+ubsan "$asan" --timeout-multiplier 3
else status=1; fi
if setup "$tsan" --buildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false -Dsanitized=true; then
	# (captured first: `grep -q` closing the pipe early would fail pipefail)
	tsan_tests=$(meson test -C "$tsan" --list --suite tsan 2>/dev/null || true)
	if grep -q '+tsan' <<<"$tsan_tests"; then
		TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
		$norand bash -c "$(declare -f stage); jobs=$jobs; status=0; stage tsan '$tsan' --suite tsan --timeout-multiplier 4; exit \$status" || status=1
	fi
else status=1; fi

python3 - "$build" "$asan" "$tsan" <<'PY'
import json, os, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
    p = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(p):
        continue
    for line in open(p):
        r = json.loads(line).get("result", "")
        if r in ("OK", "EXPECTEDFAIL"): passed += 1
        elif r == "SKIP": skipped += 1
        else: failed += 1
print(f"test: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
