#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared library exports exactly the functions the public headers
# declare with RESDELIV_API: no internal resdeliv__ helper, no symbol of
# another prefix, and nothing declared that is missing.
# usage: symbols.sh LIBRARY.so INCLUDE_DIR [INCLUDE_DIR...]
set -eu
lib=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' |
    sed 's/@.*//' | sort -u > "$tmp/exported"
# Names of functions declared RESDELIV_API: the identifier before the
# first '(' of the declaration, which may span lines.
for d in "$@"; do cat "$d"/*.h; done | tr '\n' ' ' | sed 's/;/;\n/g' | grep 'RESDELIV_API' |
    grep -o 'resdeliv_[a-z0-9_]*[[:space:]]*(' | sed 's/[[:space:]]*($//' |
    sort -u > "$tmp/declared"

status=0
leaked=$(grep -v '^resdeliv_' "$tmp/exported" | grep -v '^RESDELIV_' || true)
if [ -n "$leaked" ]; then
    echo "exported symbols without the resdeliv_ prefix:"; echo "$leaked"
    status=1
fi
internal=$(grep '^resdeliv__' "$tmp/exported" || true)
if [ -n "$internal" ]; then
    echo "internal resdeliv__ symbols exported:"; echo "$internal"
    status=1
fi
extra=$(comm -23 "$tmp/exported" "$tmp/declared" | grep -v '^RESDELIV_' || true)
if [ -n "$extra" ]; then
    echo "exported but not declared in a public header:"; echo "$extra"
    status=1
fi
missing=$(comm -13 "$tmp/exported" "$tmp/declared")
if [ -n "$missing" ]; then
    echo "declared in a public header but not exported:"; echo "$missing"
    status=1
fi
soname=$(readelf -d "$lib" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
case "$soname" in
    libresdeliv.so.[0-9]*) ;;
    *) echo "unexpected SONAME '$soname'"; status=1 ;;
esac
n=$(wc -l < "$tmp/exported")
echo "$n exported symbols, SONAME $soname"
exit $status
