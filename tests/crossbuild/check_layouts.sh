#!/bin/sh
# check_layouts.sh TABLE OUTPUT.c - the layout check: wdmsim's structures against the mingw-w64 DDK's.
#
# TABLE (layout_table, built against wdmsim's headers) writes OUTPUT.c: one _Static_assert per
# size, member offset and value listed in layout_fields.h. This compiles OUTPUT.c with the cross
# compiler against the DDK headers: every assertion that fails names the structure size, x64 member
# offset or constant that differs between the two.
#
# Exit status: 0 pass; 1 fail; 77 skip (cross tools missing; see mingw_env.sh).
set -u

usage="usage: check_layouts.sh TABLE OUTPUT.c"
table=${1:?$usage}
output=${2:?$usage}

# shellcheck source=tests/crossbuild/mingw_env.sh
. "$(dirname "$0")/mingw_env.sh"

"$table" >"$output" || fail "$table could not write $output"
count=$(grep -c '^_Static_assert' "$output")
[ "$count" -gt 0 ] || fail "$output holds no layout entry"

echo "checking $count sizes, offsets and values against $ddk"
"$cc" -std=gnu11 -Wall -Wextra -Werror -I"$ddk" -c "$output" -o "${output%.c}.o" ||
    fail "wdmsim's headers and the mingw-w64 DDK disagree on the layouts above (each message" \
         "gives wdmsim's value; the DDK's is in $ddk)"
echo "all $count sizes, offsets and values match the DDK's"
