#!/bin/sh
# check_clang_ubsan.sh SOURCE INCLUDE_DIR WORK_DIR - builds SOURCE with clang's ASan and UBSan
# (null checks on, every report fatal) against the driver headers in INCLUDE_DIR, then runs it.
# gcc's UBSan does not flag a member access through NULL inside an address computation; clang's
# does, and the fuzz preset builds the whole kernel that way.
#
# Exit status: the program's (0 pass); 1 build failure; 77 skip (no clang), except under CI=true,
# where setup.sh installs clang and a missing one fails.
set -u
source=${1:?usage: check_clang_ubsan.sh SOURCE INCLUDE_DIR WORK_DIR}
include=${2:?usage: check_clang_ubsan.sh SOURCE INCLUDE_DIR WORK_DIR}
work=${3:?usage: check_clang_ubsan.sh SOURCE INCLUDE_DIR WORK_DIR}
cc=${WDMSIM_CLANG:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then
        echo "FAILED (CI=true): $cc is not installed (scripts/setup.sh fuzz installs it)" >&2
        exit 1
    fi
    echo "skipped: $cc is not installed" >&2
    exit 77
fi
mkdir -p "$work" || exit 1
program="$work/$(basename "$source" .c)"
"$cc" -std=gnu11 -fshort-wchar -Wno-multichar -Wall -Wextra -Werror -g -fsanitize=address,undefined \
    -fno-sanitize-recover=all -I "$include" "$source" -o "$program" || exit 1
exec "$program"
