#!/bin/sh
# check_status_table.sh NTSTATUS.H STATUS.C - every status ntstatus.h defines has its row in
# status.c's name table, and the table names nothing ntstatus.h lacks (their values are compared
# with the DDK's by tests/crossbuild).
set -u
header=${1:?usage: check_status_table.sh NTSTATUS.H STATUS.C}
table=${2:?usage: check_status_table.sh NTSTATUS.H STATUS.C}
defined=$(sed -n 's/^#define \(STATUS_[A-Z0-9_]*\) .*/\1/p' "$header" | sort)
named=$(sed -n 's/^ *S(\(STATUS_[A-Z0-9_]*\)),$/\1/p' "$table" | sort)
if [ "$defined" != "$named" ]; then
    echo "ntstatus.h and status.c's table differ (< only in ntstatus.h, > only in the table):"
    dir=$(mktemp -d)
    printf '%s\n' "$defined" >"$dir/defined"
    printf '%s\n' "$named" >"$dir/named"
    diff "$dir/defined" "$dir/named"
    rm -rf "$dir"
    exit 1
fi
echo "all $(printf '%s\n' "$defined" | wc -l) statuses of ntstatus.h are named"
