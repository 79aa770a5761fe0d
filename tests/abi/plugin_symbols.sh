#!/bin/sh
# SPDX-License-Identifier: MIT
# A plugin shared object exports exactly one symbol, its entry
# resdeliv_plugin_entry, and takes the library from libresdeliv.so rather
# than carrying a copy of it.
# usage: plugin_symbols.sh PLUGIN.so
set -eu
so=$1
exported=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVWui]$/ {print $3}' |
    sed 's/@.*//' | sort -u)
status=0
if [ "$exported" != "resdeliv_plugin_entry" ]; then
    echo "expected only resdeliv_plugin_entry to be exported, got:"
    echo "$exported"
    status=1
fi
if ! readelf -d "$so" | grep -q 'NEEDED.*libresdeliv\.so\.'; then
    echo "the plugin does not link libresdeliv.so"
    status=1
fi
if nm "$so" 2>/dev/null | awk '$2 ~ /^[TDBRW]$/' | grep -q ' resdeliv_log_open$'; then
    echo "the plugin carries its own copy of the library"
    status=1
fi
echo "exported: $exported"
exit $status
