#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's demo: installs what it needs, builds, starts resdeliv-server
# on the embedded memory store and tells a story with two clients:
#   alice drops, misses messages, reconnects with her last id and gets them
#   replayed, in order and once each, then live ones again;
#   bob stays away longer than his channel keeps history and is told so
#   with a resdeliv:gap notice.
# Exits non-zero when the clients' output does not show the story as told.
#   sh examples/run-demo.sh               # the server demo
#   sh examples/run-demo.sh --in-process  # the same idea in one process
# RESDELIV_BUILD_DIR=DIR reuses that (already built) build directory and
# installs nothing: the test suite runs the demo that way.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

build=${RESDELIV_BUILD_DIR:-}
if [ -z "$build" ]; then
    . tests/deps.sh
    resdeliv_install_deps
    build=build
    if [ ! -f "$build/build.ninja" ]; then
        meson setup "$build" >/dev/null
    fi
fi
case $build in
    /*) ;;
    *) build=$here/$build ;;
esac
bin=$build/examples

if [ "${1:-}" = "--in-process" ]; then
    if [ -z "${RESDELIV_BUILD_DIR:-}" ]; then
        ninja -C "$build" examples/resdeliv-demo >/dev/null
    fi
    exec "$bin/resdeliv-demo"
fi
if [ -z "${RESDELIV_BUILD_DIR:-}" ]; then
    # A build directory configured before libwebsockets was installed has
    # no server target; configuring again finds it.
    if ! grep -q 'examples/resdeliv-server:' "$build/build.ninja"; then
        meson setup --reconfigure "$build" >/dev/null
    fi
    ninja -C "$build" examples/resdeliv-server examples/resdeliv-client \
        examples/resdeliv-publish >/dev/null
fi
for p in resdeliv-server resdeliv-client resdeliv-publish; do
    if [ ! -x "$bin/$p" ]; then
        echo "demo: $bin/$p is missing (resdeliv-server needs" \
            "libwebsockets and libuv when meson configures $build)" >&2
        exit 1
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/resdeliv-demo.XXXXXX")
server_pid=""
client_pids=""
cleanup() {
    for p in $client_pids $server_pid; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
    echo "demo: FAILED: $*"
    exit 1
}

# ------------------------------------------------------------- helpers

# wait_for FILE REGEX N: until FILE has N lines matching REGEX (15 s).
wait_for() {
    tries=0
    while :; do
        n=$(grep -c -E "$2" "$1" 2>/dev/null || true)
        [ "${n:-0}" -lt "$3" ] || break
        tries=$((tries + 1))
        if [ "$tries" -gt 150 ]; then
            show_new "$1"
            fail "timed out waiting for '$2' in $(basename "$1" .out)'s" \
                "output"
        fi
        sleep 0.1
    done
}

# Print a client's output lines not shown yet, indented, the long data
# shortened to the message number.
show_new() {
    name=$(basename "$1" .out)
    shown=$(cat "$tmp/$name.shown" 2>/dev/null || echo 0)
    total=$(wc -l <"$1")
    sed -n "$((shown + 1)),${total}p" "$1" |
        sed -e 's/ *{"n":\([0-9]*\),"_replay_id".*/ n=\1/' \
            -e "s/^/    $name | /"
    echo "$total" >"$tmp/$name.shown"
}

# publish CHANNEL EVENT FIRST COUNT
publish() {
    "$bin/resdeliv-publish" --port "$port" --channel "$1" --event "$2" \
        --first "$3" --count "$4" --quiet ||
        fail "resdeliv-publish could not publish on $1"
    last=$(($3 + $4 - 1))
    if [ "$4" = 1 ]; then
        echo "    publisher sends $2 n=$3 on $1"
    else
        echo "    publisher sends $4 x $2 n=$3..$last on $1"
    fi
}

# start_client NAME CHANNEL OPTIONS...
start_client() {
    name=$1
    channel=$2
    shift 2
    : >"$tmp/$name.out"
    "$bin/resdeliv-client" --port "$port" --channel "$channel" "$@" \
        >"$tmp/$name.out" 2>&1 &
    client_pids="$client_pids $!"
    echo $! >"$tmp/$name.pid"
}

# finish_client NAME: wait for its summary line and its exit status 0.
finish_client() {
    wait_for "$tmp/$1.out" '^done ' 1
    show_new "$tmp/$1.out"
    pid=$(cat "$tmp/$1.pid")
    status=0
    wait "$pid" || status=$?
    client_pids=$(echo "$client_pids" | sed "s/ $pid\$//; s/ $pid / /")
    [ "$status" = 0 ] || fail "$1's client exited with status $status"
}

# numbers FILE KIND: the message numbers of KIND lines ("live|replayed").
numbers() {
    grep -E "^($2) " "$1" | sed -n 's/.*{"n":\([0-9]*\).*/\1/p' |
        tr '\n' ' ' | sed 's/ $//'
}

# ids_increase FILE: the ids of delivered messages strictly increase.
ids_increase() {
    grep -E '^(live|replayed) ' "$1" | awk '
        { split($2, p, "-"); ms = p[1] + 0; seq = p[2] + 0
          if (NR > 1 && (ms < pms || (ms == pms && seq <= pseq))) bad = 1
          pms = ms; pseq = seq }
        END { exit bad }'
}

heading() {
    echo
    echo "== $*"
}

# -------------------------------------------------------------- server

# "ticker" keeps only its last 5 messages; every other channel 1000.
cat >"$tmp/config.json" <<'EOF'
{"connection": "memory",
 "retention": {"default_max_messages": 1000, "per_channel": {"ticker": 5}}}
EOF
: >"$tmp/server.out"
"$bin/resdeliv-server" --port 0 --config "$tmp/config.json" \
    >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
tries=0
port=""
while [ -z "$port" ]; do
    port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' \
        "$tmp/server.out")
    tries=$((tries + 1))
    if [ -z "$port" ] && [ "$tries" -gt 100 ]; then
        cat "$tmp/server.err" >&2
        fail "resdeliv-server did not start"
    fi
    [ -n "$port" ] || sleep 0.1
done
echo "resdeliv-server (pid $server_pid) on 127.0.0.1:$port, memory store;" \
    "channel \"ticker\" keeps its last 5 messages"

# ------------------------------------------------------ alice: a replay

heading "1. alice subscribes to \"orders\" and receives live messages"
start_client alice orders --drop-after 3 --reconnect-after-ms 2500 --count 8
wait_for "$tmp/alice.out" '^subscribed ' 1
publish orders order 1 3
wait_for "$tmp/alice.out" '^dropped ' 1
show_new "$tmp/alice.out"
echo "    (each message's data carries its id and its log's epoch:"
echo "     $(sed -n 's/^live .* \({"n":1,.*\)$/\1/p' "$tmp/alice.out"))"

heading "2. alice's connection drops (no close frame); 3 more orders go out"
publish orders order 4 3
echo "    alice missed n=4 5 6"

heading "3. alice reconnects with her last id and gets what she missed"
wait_for "$tmp/alice.out" '^replayed ' 3
show_new "$tmp/alice.out"

heading "4. alice is live again"
publish orders order 7 2
finish_client alice

a=$tmp/alice.out
[ "$(numbers "$a" 'live|replayed')" = "1 2 3 4 5 6 7 8" ] ||
    fail "alice got n=$(numbers "$a" 'live|replayed'), not 1..8 once each"
[ "$(numbers "$a" replayed)" = "4 5 6" ] ||
    fail "alice's replay was n=$(numbers "$a" replayed), not the missed" \
        "4 5 6 (did she reconnect before the publisher finished?)"
[ "$(numbers "$a" live)" = "1 2 3 7 8" ] ||
    fail "alice's live messages were n=$(numbers "$a" live)"
ids_increase "$a" || fail "alice's message ids do not increase"
! grep -q '^gap ' "$a" || fail "alice got a gap notice she should not have"
grep -q '^subscribe orders last_event_id ' "$a" ||
    fail "alice did not resubscribe with last_event_id"

# -------------------------------------------------------- bob: a gap

heading "5. bob subscribes to \"ticker\", gets one tick, then drops"
start_client bob ticker --drop-after 1 --reconnect-after-ms 2500 --count 6
wait_for "$tmp/bob.out" '^subscribed ' 1
publish ticker tick 1 1
wait_for "$tmp/bob.out" '^dropped ' 1
show_new "$tmp/bob.out"

heading "6. 8 ticks go out while bob is away; the channel keeps 5"
publish ticker tick 2 8
echo "    bob missed n=2..9; n=2 3 4 are no longer kept"

heading "7. bob reconnects: a gap notice, then the 5 kept ticks"
finish_client bob

b=$tmp/bob.out
grep -q '^gap ticker reason trimmed ' "$b" ||
    fail "bob was not told of the trimmed history"
[ "$(numbers "$b" replayed)" = "5 6 7 8 9" ] ||
    fail "bob's replay was n=$(numbers "$b" replayed), not the kept 5..9"
[ "$(numbers "$b" 'live|replayed')" = "1 5 6 7 8 9" ] ||
    fail "bob got n=$(numbers "$b" 'live|replayed')"
ids_increase "$b" || fail "bob's message ids do not increase"
oldest=$(sed -n 's/^gap ticker reason trimmed oldest \([0-9-]*\) .*/\1/p' "$b")
first=$(grep '^replayed ' "$b" | head -n 1 | cut -d' ' -f2)
[ "$oldest" = "$first" ] ||
    fail "the gap notice says oldest $oldest, the replay began at $first"

# ---------------------------------------------------------------- stop

heading "8. stop the server"
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
[ "$status" = 0 ] || {
    cat "$tmp/server.err" >&2
    fail "resdeliv-server exited with status $status"
}
echo "    resdeliv-server stopped cleanly"
echo
echo "demo: ok: alice got all 8 orders once each, in order (4 5 6 replayed" \
    "after her drop); bob was told of a gap and got the 5 kept ticks"
