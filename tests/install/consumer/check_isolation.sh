#!/bin/sh
# check_isolation.sh PROGRAM - runs test_isolation.c's suite (built with add_wdmsim_test) and checks
# that isolation keeps every case's failure to that case: 1 pass and 3 failures, each with its
# report, on the console, in TAP, subunit and complete XML; and that --list and the filter (option and
# WDMSIM_TEST_FILTER) select cases. Exit status: 0 pass, 1 fail.
set -u

if [ $# -ne 1 ]; then
    echo "usage: check_isolation.sh PROGRAM" >&2
    exit 1
fi
program=$1
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT

fail() {
    echo "isolation check FAILED: $*" >&2
    for f in "$work"/*; do
        [ -f "$f" ] && { echo "---- $(basename "$f") ----" >&2; cat "$f" >&2; }
    done
    exit 1
}

expect() {   # expect FILE EXTENDED-REGEX WHAT
    grep -Eq "$2" "$1" || fail "$3"
}

count() {    # count FILE EXTENDED-REGEX
    grep -Ec "$2" "$1"
}

# The console: CMocka's lines on stdout and stderr, the reports on stderr.
"$program" >"$work/console.out" 2>"$work/console.err"
status=$?
[ "$status" -eq 3 ] || fail "the suite exited with status $status, expected 3 (its failed cases)"
expect "$work/console.err" '^\[  PASSED  \] 1 test\(s\)' "the console does not count 1 passed case"
[ "$(count "$work/console.out" '^\[  FAILED  \] ')" -eq 3 ] || fail "the console does not show 3 failed cases"
expect "$work/console.err" '^\*\*\* STOP: 0x0000000F ' "the stopping case's report is not on the console"
expect "$work/console.err" 'a_case_that_leaks: it leaked 1 resource' "the leaking case is not reported as a leak"
expect "$work/console.err" 'Leak +NonPagedPool +16' "the leaked block is not named"
expect "$work/console.err" 'a_case_that_dereferences_NULL: it stopped the machine: STOP 0x0000001E ' \
    "the NULL dereference is not reported as the STOP Windows makes of it (0x1E)"
expect "$work/console.out" '^\[       OK \] a_case_that_passes' "the passing case did not pass"

# TAP on stdout: every case has its line, each failure its report as comments.
CMOCKA_MESSAGE_OUTPUT=tap "$program" >"$work/tap.out" 2>"$work/tap.err"
expect "$work/tap.out" '^1\.\.4$' "TAP does not announce 4 cases"
expect "$work/tap.out" '^ok 1 - a_case_that_passes$' "TAP lacks the passing case"
[ "$(count "$work/tap.out" '^not ok [234] - ')" -eq 3 ] || fail "TAP does not list 3 failed cases"
expect "$work/tap.out" '^# \*\*\* STOP: 0x0000000F ' "TAP lacks the STOP report"

# subunit on stdout: each case started and ended, each failure's message closed (CMocka cuts a
# subunit message at 1 KB, so the report goes to stderr there).
CMOCKA_MESSAGE_OUTPUT=subunit "$program" >"$work/subunit.out" 2>"$work/subunit.err"
[ "$(count "$work/subunit.out" '^test: ')" -eq 4 ] || fail "subunit does not start 4 cases"
expect "$work/subunit.out" '^success: a_case_that_passes$' "subunit lacks the passing case"
[ "$(count "$work/subunit.out" '^failure: a_case_that_')" -eq 3 ] || fail "subunit does not end 3 cases in failure"
[ "$(count "$work/subunit.out" '^\]$')" -eq 3 ] || fail "subunit does not close the 3 failure messages"
expect "$work/subunit.err" '^\*\*\* STOP: 0x0000000F ' "the STOP report is not on stderr with subunit"

# XML into a file: complete, with the reports.
CMOCKA_MESSAGE_OUTPUT=xml CMOCKA_XML_FILE="$work/cases.xml" "$program" >"$work/xml.out" 2>"$work/xml.err"
[ -f "$work/cases.xml" ] || fail "no XML was written"
expect "$work/cases.xml" 'tests="4" failures="3" errors="0"' "the XML does not count 4 cases and 3 failures"
[ "$(count "$work/cases.xml" '<testcase ')" -eq 4 ] || fail "the XML does not have 4 test cases"
[ "$(count "$work/cases.xml" '<failure>')" -eq 3 ] || fail "the XML does not have 3 failures"
expect "$work/cases.xml" '\*\*\* STOP: 0x0000000F ' "the XML lacks the STOP report"
expect "$work/cases.xml" 'Leak +NonPagedPool +16' "the XML lacks the leaked block"
[ "$(tail -n 1 "$work/cases.xml")" = "</testsuites>" ] || fail "the XML does not end with </testsuites>"

# Listing and filtering.
"$program" --list >"$work/list.out" 2>&1 || fail "--list failed"
[ "$(count "$work/list.out" '^a_case_that_')" -eq 4 ] || fail "--list does not name the 4 cases"
"$program" --list --filter '*leaks' >"$work/list_filtered.out" 2>&1
[ "$(cat "$work/list_filtered.out")" = "a_case_that_leaks" ] || fail "--list --filter '*leaks' does not name just that case"
"$program" --filter a_case_that_passes >"$work/filter.out" 2>&1 || fail "--filter a_case_that_passes did not pass"
expect "$work/filter.out" 'Running 1 test' "--filter ran more than one case"
WDMSIM_TEST_FILTER='*stops' "$program" >"$work/env_filter.out" 2>&1
status=$?
[ "$status" -eq 1 ] || fail "WDMSIM_TEST_FILTER='*stops' exited with $status, expected 1 (that case failing)"
expect "$work/env_filter.out" 'Running 1 test' "WDMSIM_TEST_FILTER ran more than one case"
# Without isolation the first STOP ends the whole program, as it did before isolation.
"$program" --no-isolation >"$work/no_isolation.out" 2>&1
status=$?
[ "$status" -eq 86 ] || fail "--no-isolation exited with $status, expected 86 (the first STOP)"
echo "isolation check passed"
exit 0
