#!/bin/sh
# SPDX-License-Identifier: MIT
# The Redis tests against hiredis 1.x, which Debian 12 does not ship (it
# has 0.14): fetches Debian's hiredis 1.x source package with apt through a
# private configuration (the system's sources and lists stay as they are),
# checks the tarball against the .dsc, builds it without TLS into a prefix
# inside the build directory, configures a meson build against it (ASan +
# UBSan, warnings as errors), checks that the build really uses hiredis 1.x
# (a build that fell back to the system's 0.14 fails here) and runs every
# test of the redis suite. Ends with meson's test summary; exits 0 when all
# passed, 1 otherwise (a failed download or build included).
#   sh tests/hiredis1.sh [BUILDDIR]     # default build-hiredis1
# Downloads are kept in $RESDELIV_HIREDIS1_CACHE (default
# ~/.cache/resdeliv/hiredis1), so a rerun does not fetch them again.
# RESDELIV_HIREDIS1_SUITE names the Debian suite to take hiredis from
# (default trixie).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

build=${1:-build-hiredis1}
case $build in
/*) ;;
*) build="$here/$build" ;;
esac
cache_home=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}
cache=${RESDELIV_HIREDIS1_CACHE:-$cache_home/resdeliv/hiredis1}
suite=${RESDELIV_HIREDIS1_SUITE:-trixie}
hr="$build/hiredis1"
prefix="$hr/prefix"

work=""
trap '[ -z "$work" ] || rm -rf "$work"' EXIT

fail() {
    echo "hiredis1: $*" >&2
    exit 1
}

# Print the log of a failed step and stop.
fail_log() {
    tail -n 30 "$2" >&2
    fail "$1 (log: $2)"
}

# make is not among the packages tests/deps.sh installs.
need_make() {
    command -v make >/dev/null 2>&1 && return 0
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        sudo="sudo"
    fi
    echo "hiredis1: installing make"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends make >/dev/null
}

# The .dsc's SHA-256 line for the upstream tarball: "sum size name".
orig_line() {
    sed -n '/^Checksums-Sha256:/,/^[^ ]/p' "$1" |
        grep -E '^ [0-9a-f]{64} [0-9]+ hiredis_[^ ]+\.orig\.tar\.[a-z0-9]+$' |
        head -n 1
}

# 0 when the tarball named by .dsc $1 sits beside it with its checksum.
verify() {
    line=$(orig_line "$1")
    [ -n "$line" ] || return 1
    # shellcheck disable=SC2086
    set -- $line "$(dirname "$1")"
    [ -f "$4/$3" ] && [ "$(wc -c < "$4/$3")" -eq "$2" ] &&
        printf '%s  %s\n' "$1" "$4/$3" | sha256sum -c --status
}

newest_dsc() {
    find "$cache" -maxdepth 1 -name 'hiredis_*.dsc' 2>/dev/null |
        sort -V | tail -n 1
}

# The machine's own Debian mirror, as its apt sources name it.
mirror() {
    # shellcheck disable=SC1091
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    # shellcheck disable=SC2016
    apt-get indextargets --no-release-info \
        --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
        awk -v c="$codename" '$2 == c { print $1; exit }'
}

# Download the source package into the cache with apt, through a sources
# list, lists and cache of its own in a scratch directory.
fetch() {
    uri=$(mirror)
    [ -n "$uri" ] || fail "no Debian mirror in the apt sources of this machine"
    work=$(mktemp -d)
    # apt downloads as the _apt user, which must reach these directories.
    chmod 755 "$work"
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial" \
        "$work/parts" "$work/src"
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    opt=""
    if [ -f "$keyring" ]; then
        opt="[signed-by=$keyring] "
    fi
    printf 'deb-src %s%s %s main\n' "$opt" "$uri" "$suite" \
        > "$work/sources.list"
    set -- -o "Dir::Etc::sourcelist=$work/sources.list" \
        -o "Dir::Etc::sourceparts=$work/parts" \
        -o "Dir::State::lists=$work/lists" -o "Dir::Cache=$work/cache"
    echo "hiredis1: fetching the hiredis source package of Debian $suite"
    # A mirror's passing hiccup is not a test failure: three tries.
    tries=0
    until apt-get "$@" update > "$work/apt.log" 2>&1 &&
        (cd "$work/src" && apt-get "$@" source --download-only hiredis) \
            >> "$work/apt.log" 2>&1; do
        tries=$((tries + 1))
        if [ "$tries" -ge 3 ]; then
            tail -n 20 "$work/apt.log" >&2
            fail "apt could not fetch the hiredis source package"
        fi
        echo "hiredis1: fetch failed, trying again"
        sleep 5
    done
    mkdir -p "$cache"
    dsc=$(find "$work/src" -maxdepth 1 -name 'hiredis_*.dsc' | head -n 1)
    [ -n "$dsc" ] || fail "apt fetched no .dsc"
    line=$(orig_line "$dsc")
    [ -n "$line" ] || fail "no tarball in $dsc"
    # shellcheck disable=SC2086
    set -- $line
    cp "$dsc" "$work/src/$3" "$cache/"
    rm -rf "$work"
    work=""
}

# ---- the hiredis 1.x source ----

dsc=$(newest_dsc)
if [ -z "$dsc" ] || ! verify "$dsc"; then
    fetch
    dsc=$(newest_dsc)
fi
verify "$dsc" || fail "the tarball does not match the checksum in $dsc"
version=$(sed -n 's/^Version: \([0-9][0-9.]*\).*/\1/p' "$dsc")
case $version in
'' | 0.*) fail "Debian $suite has hiredis ${version:-?}, not 1.x" ;;
esac
tarball="$(dirname "$dsc")/$(orig_line "$dsc" | cut -d ' ' -f 4)"
echo "hiredis1: hiredis $version ($(basename "$tarball"), SHA-256 checked)"

# ---- build it into the private prefix ----

# A build this script made with another hiredis: start afresh. A meson
# build of anything else is left alone.
if [ -f "$hr/version" ] && [ "$(cat "$hr/version")" != "$version" ]; then
    rm -rf "$build"
elif [ -f "$build/build.ninja" ] && [ ! -f "$hr/version" ]; then
    fail "$build is not a build of this script: name another BUILDDIR"
fi
if [ ! -f "$hr/version" ]; then
    need_make
    rm -rf "$hr"
    mkdir -p "$hr/src"
    tar -xf "$tarball" -C "$hr/src" --strip-components=1
    # Explicit paths: the Makefile's LIBRARY_PATH and friends default to
    # the environment's, which mean something else to the compiler.
    set -- PREFIX="$prefix" LIBRARY_PATH=lib INCLUDE_PATH=include/hiredis \
        PKGCONF_PATH=pkgconfig DESTDIR= USE_SSL=0
    echo "hiredis1: building hiredis $version into $prefix"
    make -C "$hr/src" -j2 "$@" dynamic static pkgconfig > "$hr/make.log" 2>&1 ||
        fail_log "hiredis did not build" "$hr/make.log"
    make -C "$hr/src" "$@" install >> "$hr/make.log" 2>&1 ||
        fail_log "hiredis did not install" "$hr/make.log"
    echo "$version" > "$hr/version"
fi

# ---- libresdeliv against it ----

if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" -Dpkg_config_path="$prefix/lib/pkgconfig" \
        -Dredis=enabled -Dtests=enabled -Dexamples=true -Dbench=true \
        -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
        > "$hr/setup.log" 2>&1 || fail_log "meson setup failed" "$hr/setup.log"
fi

# What the redis suite runs (as `meson test` would rebuild it, but with at
# most two jobs) and the library itself, paths relative to the build.
targets=$(meson introspect "$build" --targets --tests | python3 -c '
import json, os, sys
d = json.load(sys.stdin)
b = sys.argv[1]
files = {t["id"]: t["filename"] for t in d["targets"]}
out = set()
for t in d["tests"]:
    if any(s.split(":")[-1] == "redis" for s in t["suite"]):
        for dep in t["depends"]:
            out.update(files.get(dep, []))
for t in d["targets"]:
    if t["name"] == "resdeliv":
        out.update(t["filename"])
print("\n".join(sorted(os.path.relpath(f, b) for f in out)))
' "$build")
[ -n "$targets" ] || fail "the build has no redis suite"
echo "hiredis1: building $(echo "$targets" | wc -l) targets"
# shellcheck disable=SC2086
ninja -C "$build" -j2 $targets > "$hr/build.log" 2>&1 || {
    grep -E 'error|warning' "$hr/build.log" | head -n 40 >&2
    fail_log "libresdeliv did not build against hiredis $version" \
        "$hr/build.log"
}

# ---- it really is hiredis 1.x ----

# meson found the private one...
found=$(meson introspect "$build" --dependencies | python3 -c '
import json, sys
for d in json.load(sys.stdin):
    if d["name"] == "hiredis":
        print(d["version"], " ".join(d["link_args"]))
')
case $found in
"$version "*"$prefix/lib/"*) ;;
*) fail "meson did not pick the private hiredis: ${found:-none}" ;;
esac
# ...the library was compiled against its headers: these calls exist only
# under HIREDIS_MAJOR >= 1 (redis_conn.c, redis_loop.c)...
for sym in redisConnectWithOptions redisAsyncHandleTimeout; do
    nm -u "$build/lib/libresdeliv.a" 2>/dev/null | grep -qw "$sym" ||
        fail "libresdeliv.a does not call $sym: not built for hiredis 1.x"
done
# ...and every program loads it from the prefix, never the system's 0.14.
# (meson's RUNPATH may name the prefix relative to the program.)
libdir=$(cd "$prefix/lib" && pwd -P)
linked=0
for f in $targets; do
    case $f in
    *.a) continue ;;
    esac
    libs=$( (unset LD_LIBRARY_PATH; ldd "$build/$f") 2>/dev/null |
        awk '$1 ~ /^libhiredis/')
    [ -n "$libs" ] || continue
    other=$(echo "$libs" | while read -r name arrow path rest; do
        dir=$(cd "$(dirname "$path")" 2>/dev/null && pwd -P) || dir=""
        case $arrow:$dir:$(basename "$path") in
        "=>:$libdir:libhiredis.so.1"*) ;;
        *) echo "$name $arrow $path $rest" ;;
        esac
    done)
    [ -z "$other" ] || fail "$f loads another hiredis: $other"
    linked=$((linked + 1))
done
[ "$linked" -gt 0 ] || fail "no program of the redis suite links hiredis"
echo "hiredis1: $linked programs load $prefix/lib/libhiredis.so.1*"

# ---- the redis suite ----

# A skipped Redis test proves nothing here: no redis-server is a failure.
export RESDELIV_REQUIRE_REDIS="${RESDELIV_REQUIRE_REDIS:-1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
echo "hiredis1: meson test --suite redis (hiredis $version)"
meson test -C "$build" --no-rebuild --print-errorlogs --suite redis \
    --num-processes 2
