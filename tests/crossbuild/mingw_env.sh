# shellcheck shell=sh
# mingw_env.sh - sourced by the crossbuild scripts: finds the cross compiler and the mingw-w64 DDK.
#
# Sets prefix, cc (the cross gcc) and ddk (the DDK include dir), and defines fail and missing.
# A missing tool skips the calling test (exit 77), or fails it when CI=true, because CI installs
# it. WDMSIM_MINGW_PREFIX (default x86_64-w64-mingw32) and WDMSIM_MINGW_DDK (default: ddk/ next to
# the compiler's own headers) override the tools and the DDK include dir.

prefix=${WDMSIM_MINGW_PREFIX:-x86_64-w64-mingw32}
cc="$prefix-gcc"

fail() {
    echo "crossbuild FAILED: $*" >&2
    exit 1
}

missing() {
    if [ "${CI:-}" = "true" ]; then
        echo "crossbuild FAILED (CI=true, the cross tools must be installed): $*" >&2
        exit 1
    fi
    echo "crossbuild SKIPPED: $*" >&2
    exit 77
}

install_hint="install gcc-mingw-w64-x86-64 and mingw-w64-x86-64-dev, or run scripts/setup.sh"

command -v "$cc" >/dev/null 2>&1 || missing "$cc not found: $install_hint"

# The DDK lives in ddk/ beside the headers the cross compiler searches (Debian:
# /usr/x86_64-w64-mingw32/include/ddk).
find_ddk() {
    echo | "$cc" -xc -E -v - 2>&1 >/dev/null |
        sed -n '/^#include <\.\.\.> search starts here:/,/^End of search list\./p' |
        sed -e '1d' -e '$d' -e 's/^ *//' |
        while read -r dir; do
            if [ -f "$dir/ddk/wdm.h" ]; then
                (cd "$dir/ddk" && pwd -P)
                break
            fi
        done
}
ddk=${WDMSIM_MINGW_DDK:-$(find_ddk)}
if [ -z "$ddk" ] || [ ! -f "$ddk/wdm.h" ]; then
    missing "the mingw-w64 DDK headers (ddk/wdm.h) were not found for $cc: $install_hint"
fi
