#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the build into a temporary root, then build and run a downstream
# program with nothing but pkg-config, shared and static.
# usage: downstream.sh BUILD_ROOT SOURCE_FILE [SANITIZE]
set -eu
build=$1
src=$2
sanitize=${3:-none}
cc=${CC:-cc}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

meson install -C "$build" --no-rebuild --destdir "$root" --quiet >/dev/null
pcfile=$(find "$root" -name resdeliv.pc | head -n 1)
if [ -z "$pcfile" ]; then
    echo "resdeliv.pc was not installed"; exit 1
fi
header=$(find "$root" -path '*/include/resdeliv/resdeliv.h' | head -n 1)
if [ -z "$header" ]; then
    echo "headers were not installed under include/resdeliv/"; exit 1
fi
export PKG_CONFIG_PATH="$(dirname "$pcfile")"
export PKG_CONFIG_SYSROOT_DIR="$root"
extra=""
if [ "$sanitize" != "none" ] && [ -n "$sanitize" ]; then
    extra="-fsanitize=$sanitize"
fi
# The installed library sits beside the pkgconfig directory.
libdir=$(dirname "$(dirname "$pcfile")")

# shellcheck disable=SC2046,SC2086
$cc $extra -o "$root/downstream" "$src" $(pkg-config --cflags --libs resdeliv)
LD_LIBRARY_PATH="$libdir" "$root/downstream"
if LD_LIBRARY_PATH="$libdir" ldd "$root/downstream" | grep -q 'libresdeliv.so.0'; then
    echo "shared: linked against libresdeliv.so.0"
else
    echo "shared build did not link libresdeliv.so.0"; exit 1
fi

# shellcheck disable=SC2046,SC2086
$cc $extra -o "$root/downstream-static" "$src" -static-libgcc \
    $(pkg-config --cflags resdeliv) "$libdir/libresdeliv.a" \
    $(pkg-config --libs-only-l --static resdeliv | sed 's/-lresdeliv//')
"$root/downstream-static"
if ldd "$root/downstream-static" | grep -q 'libresdeliv'; then
    echo "static build still needs the shared library"; exit 1
fi
echo "static: ok"
