#!/bin/sh
# SPDX-License-Identifier: MIT
# The whole test suite, as the README gives it: installs what it needs,
# builds with warnings as errors under AddressSanitizer and
# UndefinedBehaviorSanitizer, runs every suite (unit, redis, abi, e2e) and
# ends with one line "N passed, N failed".
#   sh tests/run-tests.sh            # every suite
#   sh tests/run-tests.sh --valgrind # also the unit suite under memcheck
#   sh tests/run-tests.sh --fuzz     # also every fuzz target for 60 s
#   sh tests/run-tests.sh --hiredis1 # also the redis suite on hiredis 1.x
# Flags combine. In CI (CI=true) the fuzz targets always run, 60 s each,
# and so does the redis suite against hiredis 1.x (tests/hiredis1.sh),
# whose counts join the final line.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

valgrind=0
fuzz=0
hiredis1=0
for arg in "$@"; do
    case $arg in
    --valgrind) valgrind=1 ;;
    --fuzz) fuzz=1 ;;
    --hiredis1) hiredis1=1 ;;
    esac
done
if [ "${CI:-}" = "true" ]; then
    fuzz=1
    hiredis1=1
fi
. tests/deps.sh
resdeliv_install_deps

build=${RESDELIV_BUILD_DIR:-build-test}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" -Dwerror=true -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null
fi
if ! ninja -C "$build" > "$build/build.log" 2>&1; then
    grep -E 'error|warning' "$build/build.log" | head -n 40
    tail -n 20 "$build/build.log"
    echo "build failed"
    echo "0 passed, 1 failed"
    exit 1
fi

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
out="$build/test-output.txt"
rcfile="$build/test-rc"
{
    rc=0
    meson test -C "$build" --no-rebuild --print-errorlogs \
        --num-processes 2 || rc=$?
    echo "$rc" > "$rcfile"
} 2>&1 | tee "$out"
status=$(cat "$rcfile")

if [ "$valgrind" = 1 ]; then
    vbuild=${build}-valgrind
    if [ ! -f "$vbuild/build.ninja" ]; then
        meson setup "$vbuild" -Dwerror=true >/dev/null
    fi
    ninja -C "$vbuild" >/dev/null
    meson test -C "$vbuild" --no-rebuild --print-errorlogs \
        --setup valgrind --suite unit || status=1
fi

# The redis suite again, built against hiredis 1.x from Debian's source
# package (Debian 12 ships 0.14). A download or build that fails counts
# as one failed test.
h1out="$build/hiredis1-output.txt"
h1rcfile="$build/hiredis1-rc"
rm -f "$h1out" "$h1rcfile"
if [ "$hiredis1" = 1 ]; then
    {
        rc=0
        sh tests/hiredis1.sh "${build}-hiredis1" || rc=$?
        echo "$rc" > "$h1rcfile"
    } 2>&1 | tee "$h1out"
    if [ "$(cat "$h1rcfile")" != 0 ]; then
        status=1
    fi
fi

# The fuzz targets (clang + libFuzzer): each one a bounded run over a
# scratch copy of its seed corpus; a crash, leak or mismatch fails.
fuzz_failed=0
if [ "$fuzz" = 1 ]; then
    if ! sh fuzz/run.sh -b "${build}-fuzz" "${FUZZ_SECONDS:-60}"; then
        echo "fuzz: a target found a failure"
        fuzz_failed=1
        status=1
    fi
fi

# meson's summary: "Ok: N", "Expected Fail", "Fail: N", "Unexpected Pass",
# "Skipped: N", "Timeout: N".
summary() {
    [ -f "${2:-$out}" ] || return 0
    sed -n "s/^$1:[[:space:]]*\([0-9]*\)[[:space:]]*$/\1/p" "${2:-$out}" |
        tail -n 1
}
ok=$(summary 'Ok')
fail=$(summary 'Fail')
timeout=$(summary 'Timeout')
skipped=$(summary 'Skipped')
fail=$(( ${fail:-0} + ${timeout:-0} + fuzz_failed ))
if [ "$hiredis1" = 1 ]; then
    h1_ok=$(summary 'Ok' "$h1out")
    h1_fail=$(summary 'Fail' "$h1out")
    h1_timeout=$(summary 'Timeout' "$h1out")
    h1_skipped=$(summary 'Skipped' "$h1out")
    h1_fail=$(( ${h1_fail:-0} + ${h1_timeout:-0} ))
    if [ "$(cat "$h1rcfile" 2>/dev/null)" != 0 ] && [ "$h1_fail" = 0 ]; then
        echo "hiredis1: failed outside its tests (fetch, build or check)"
        h1_fail=1
    fi
    ok=$(( ${ok:-0} + ${h1_ok:-0} ))
    fail=$(( fail + h1_fail ))
    skipped=$(( ${skipped:-0} + ${h1_skipped:-0} ))
fi
if [ "${CI:-}" = "true" ] && [ "${skipped:-0}" != 0 ]; then
    echo "CI: ${skipped} test(s) skipped; a skip is a failure here"
    fail=$(( fail + skipped ))
    status=1
fi
echo "${ok:-0} passed, ${fail} failed"
exit $status
