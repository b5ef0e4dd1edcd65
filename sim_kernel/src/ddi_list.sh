#!/bin/sh
# ddi_list.sh INCLUDE_DIR OUTPUT - writes to OUTPUT, for ddis.c, one DDI(name, header, kind) line per DDI the driver
# headers declare (the name as an identifier, so ddis.c can also take an exported function's address):
# each function (NTKERNELAPI, NTSYSAPI, NTHALAPI exported; NTSTRSAFEDDI compiled into drivers), inline function
# (FORCEINLINE) and function-like macro with a DDK name. The first declaration of a name wins, in
# the order wdm.h, ntddk.h, ntifs.h, ntstrsafe.h. Run by the build: the headers are the one list.
set -eu
include=${1:?usage: ddi_list.sh INCLUDE_DIR OUTPUT}
output=${2:?usage: ddi_list.sh INCLUDE_DIR OUTPUT}

for header in wdm.h ntddk.h ntifs.h ntstrsafe.h; do
    sed -n -E \
        -e 's/^(NTKERNELAPI|NTSYSAPI|NTHALAPI)[^(]*[ *]([A-Za-z_][A-Za-z0-9_]*)\(.*/\2 '"$header"' DDI_FUNCTION/p' \
        -e 's/^NTSTRSAFEDDIV?[^(]*[ *]([A-Za-z_][A-Za-z0-9_]*)\(.*/\1 '"$header"' DDI_STRSAFE_FUNCTION/p' \
        -e 's/^FORCEINLINE [^(]*[ *]([A-Za-z_][A-Za-z0-9_]*)\(.*/\1 '"$header"' DDI_INLINE/p' \
        -e 's/^#define ([A-Z][A-Za-z0-9_]*)\(.*/\1 '"$header"' DDI_MACRO/p' \
        "$include/$header"
done | awk '!seen[$1]++ { printf "DDI(%s, \"%s\", %s)\n", $1, $2, $3 }' >"$output.tmp"
mv "$output.tmp" "$output"
