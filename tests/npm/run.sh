#!/bin/sh
# SPDX-License-Identifier: MIT
# resdeliv-server against the real npm clients (pusher-js and the `pusher`
# server SDK): installs them from the npm registry into tests/npm/node_modules
# (npm ci, from the committed package-lock.json), starts the server given as
# $1 on a free loopback port with a small retention, runs test.js, stops the
# server. Exits 0 or 1, or 77 (skip) when node or npm is missing or the
# registry cannot be reached; with RESDELIV_REQUIRE_NPM=1 (as CI sets it)
# those are failures instead.
#   sh tests/npm/run.sh build/examples/resdeliv-server
set -u

here=$(cd "$(dirname "$0")" && pwd)
server=${1:-}
retention=10

skip() {
    if [ "${RESDELIV_REQUIRE_NPM:-0}" = 1 ]; then
        echo "npm_clients: $1 (RESDELIV_REQUIRE_NPM=1: failing)" >&2
        exit 1
    fi
    echo "npm_clients: $1; skipping" >&2
    exit 77
}

if [ -z "$server" ] || [ ! -x "$server" ] || [ -d "$server" ]; then
    echo "usage: run.sh PATH-TO-resdeliv-server" >&2
    exit 1
fi
# The script works from its own directory; keep the server's path valid.
case $server in
    /*) ;;
    *) server=$(pwd)/$server ;;
esac
command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v npm >/dev/null 2>&1 || skip "npm is not installed"
# node:test with hooks and per-test timeouts needs Node 18.8 or later.
node -e 'const [a, b] = process.versions.node.split(".").map(Number);
         process.exit(a > 18 || (a === 18 && b >= 8) ? 0 : 1)' ||
    skip "node $(node --version) is older than 18.8"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/resdeliv-npm.XXXXXX") || exit 1
pid=""
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

cd "$here" || exit 1
# Several build directories may run this suite at once; they share
# node_modules, so installs and runs take turns.
if command -v flock >/dev/null 2>&1; then
    exec 9<"$here"
    flock 9
fi

if [ -f package-lock.json ]; then
    install="ci"
else
    install="install"
fi
if ! npm "$install" --no-audit --no-fund --loglevel=error \
        >"$tmp/npm.log" 2>&1; then
    cat "$tmp/npm.log" >&2
    skip "npm $install failed"
fi

"$server" --host 127.0.0.1 --port 0 --retention "$retention" \
    --app-id app-id --app-key app-key --app-secret app-secret \
    --store memory >"$tmp/server.log" 2>&1 &
pid=$!

# --port 0 lets the kernel pick a free port; the server prints it.
port=""
tries=0
while [ -z "$port" ] && [ "$tries" -lt 200 ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
        break
    fi
    port=$(sed -n 's#.*listening on http://[0-9.]*:\([0-9][0-9]*\).*#\1#p' \
        "$tmp/server.log" | head -n 1)
    [ -n "$port" ] || sleep 0.05
    tries=$((tries + 1))
done
if [ -z "$port" ]; then
    echo "npm_clients: resdeliv-server did not start:" >&2
    cat "$tmp/server.log" >&2
    exit 1
fi

status=0
RESDELIV_PORT=$port RESDELIV_RETENTION=$retention \
    RESDELIV_APP_ID=app-id RESDELIV_APP_KEY=app-key \
    RESDELIV_APP_SECRET=app-secret \
    timeout 300 node test.js || status=1

if ! kill -0 "$pid" 2>/dev/null; then
    echo "npm_clients: resdeliv-server died during the test" >&2
    status=1
fi
kill "$pid" 2>/dev/null
wait "$pid"
server_status=$?
pid=""
if [ "$server_status" != 0 ]; then
    echo "npm_clients: resdeliv-server exited with status $server_status" >&2
    status=1
fi
if [ "$status" != 0 ]; then
    echo "--- resdeliv-server output" >&2
    tail -n 50 "$tmp/server.log" >&2
fi
exit "$status"
