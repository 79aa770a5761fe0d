#!/bin/sh
# SPDX-License-Identifier: MIT
# The whole test suite, as the README gives it: installs what it needs,
# builds with warnings as errors under AddressSanitizer and
# UndefinedBehaviorSanitizer, runs every suite (unit, redis, abi, e2e) and
# ends with one line "N passed, N failed".
#   sh tests/run-tests.sh            # every suite
#   sh tests/run-tests.sh --valgrind # also the unit suite under memcheck
#   sh tests/run-tests.sh --fuzz     # also every fuzz target for 60 s
# In CI (CI=true) the fuzz targets always run, 60 s each.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
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

if [ "${1:-}" = "--valgrind" ]; then
    vbuild=${build}-valgrind
    if [ ! -f "$vbuild/build.ninja" ]; then
        meson setup "$vbuild" -Dwerror=true >/dev/null
    fi
    ninja -C "$vbuild" >/dev/null
    meson test -C "$vbuild" --no-rebuild --print-errorlogs \
        --setup valgrind --suite unit || status=1
fi

# The fuzz targets (clang + libFuzzer): each one a bounded run over a
# scratch copy of its seed corpus; a crash, leak or mismatch fails.
fuzz_failed=0
if [ "${1:-}" = "--fuzz" ] || [ "${CI:-}" = "true" ]; then
    if ! sh fuzz/run.sh -b "${build}-fuzz" "${FUZZ_SECONDS:-60}"; then
        echo "fuzz: a target found a failure"
        fuzz_failed=1
        status=1
    fi
fi

# meson's summary: "Ok: N", "Expected Fail", "Fail: N", "Unexpected Pass",
# "Skipped: N", "Timeout: N".
summary() {
    sed -n "s/^$1:[[:space:]]*\([0-9]*\)[[:space:]]*$/\1/p" "$out" | tail -n 1
}
ok=$(summary 'Ok')
fail=$(summary 'Fail')
timeout=$(summary 'Timeout')
skipped=$(summary 'Skipped')
fail=$(( ${fail:-0} + ${timeout:-0} + fuzz_failed ))
if [ "${CI:-}" = "true" ] && [ "${skipped:-0}" != 0 ]; then
    echo "CI: ${skipped} test(s) skipped; a skip is a failure here"
    fail=$(( fail + skipped ))
    status=1
fi
echo "${ok:-0} passed, ${fail} failed"
exit $status
