#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the Debian 12 packages libresdeliv builds and tests with, when any
# is missing. Sourced by the README's two commands.
set -eu
RESDELIV_PACKAGES="meson ninja-build gcc g++ pkg-config libcjson-dev check \
libsubunit-dev libhiredis-dev redis-server redis-tools libwebsockets-dev \
libuv1-dev libevent-dev valgrind clang libclang-rt-14-dev"

resdeliv_install_deps() {
    missing=""
    for p in $RESDELIV_PACKAGES; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q 'install ok installed'; then
            missing="$missing $p"
        fi
    done
    # Node.js runs the npm client test; a machine that has node and npm
    # from elsewhere keeps them.
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1
    then
        missing="$missing nodejs npm"
    fi
    [ -z "$missing" ] && return 0
    echo "installing:$missing"
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends $missing >/dev/null
}
