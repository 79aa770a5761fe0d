#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Run every libFuzzer target for a bounded time and print one summary line
# per target (executions and coverage). Each target works on a scratch copy
# of its seed corpus, so the checked-in corpus never grows; crash, leak and
# timeout inputs are kept in the scratch directory, whose path is printed.
#
# usage: fuzz/run.sh [-b BUILDDIR] [-t TARGET]... [SECONDS]
#   BUILDDIR  meson build directory (default build-fuzz in the source root);
#             configured with clang and -Dfuzz=enabled when missing
#   TARGET    id, config, tag, pusher_frame, dedup, http_body or resp
#             (default: all; resp only in a build with hiredis)
#   SECONDS   time per target (default $FUZZ_SECONDS or 60)
# Extra libFuzzer flags can be given in FUZZ_ARGS.
# Exit status: 0 when every target ran clean, 1 when one found a failure.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build="$src/build-fuzz"
targets=""
all="id config tag pusher_frame dedup http_body resp"

while getopts b:t:h opt; do
    case $opt in
    b) build=$OPTARG ;;
    t) targets="$targets $OPTARG" ;;
    *) sed -n '3,16p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
seconds=${1:-${FUZZ_SECONDS:-60}}

case $seconds in
'' | *[!0-9]*) echo "run.sh: SECONDS must be a number: $seconds" >&2; exit 2 ;;
esac

if [ ! -f "$build/build.ninja" ]; then
    CC=${CC:-clang} meson setup "$build" "$src" -Dfuzz=enabled \
        -Db_sanitize=address,undefined -Db_lundef=false -Dtests=disabled \
        -Dbench=false -Dexamples=false
fi
if [ -z "$targets" ]; then
    # fuzz_resp exists only when the build found hiredis.
    for t in $all; do
        if ninja -C "$build" -t query "fuzz/fuzz_$t" >/dev/null 2>&1; then
            targets="$targets $t"
        fi
    done
fi
exes=""
for t in $targets; do
    exes="$exes fuzz/fuzz_$t"
done
# shellcheck disable=SC2086 # a list of target names without spaces
ninja -C "$build" -j1 $exes

scratch=$(mktemp -d "${TMPDIR:-/tmp}/resdeliv-fuzz.XXXXXX")
# UBSan only reports by default; make it a failure libFuzzer records.
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export UBSAN_OPTIONS
status=0

for t in $targets; do
    work="$scratch/$t"
    mkdir -p "$work/corpus" "$work/artifacts"
    cp "$src/fuzz/corpus/$t/"* "$work/corpus/"
    dict=""
    if [ -f "$src/fuzz/$t.dict" ]; then
        dict="-dict=$src/fuzz/$t.dict"
    fi
    rc=0
    # shellcheck disable=SC2086 # $dict and FUZZ_ARGS are lists of flags
    "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" $dict ${FUZZ_ARGS:-} \
        "$work/corpus" >"$work/log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" |
        tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$work/log" | tail -n 1 | cut -d' ' -f2)
    corp=$(find "$work/corpus" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        result="FAILED (exit $rc; see $work/log and $work/artifacts)"
        status=1
    fi
    printf '%-13s execs=%s cov=%s ft=%s corpus=%s time=%ss %s\n' "$t" \
        "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corp" "$seconds" "$result"
done

if [ "$status" -eq 0 ]; then
    rm -rf "$scratch"
else
    echo "run.sh: failures kept in $scratch" >&2
fi
exit "$status"
