#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's demo: installs what it needs, builds, and runs resdeliv-demo
# on the embedded memory store (no server to install).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
. tests/deps.sh
resdeliv_install_deps
if [ ! -f build/build.ninja ]; then
    meson setup build >/dev/null
fi
ninja -C build examples/resdeliv-demo >/dev/null
exec ./build/examples/resdeliv-demo "$@"
