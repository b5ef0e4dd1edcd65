#!/usr/bin/env bash
# check_cli.sh WDMSIM VERSION - the edges of the wdmsim command: unknown commands and options, and
# wrong arguments, are refused with the usage on stderr and exit status 2 (nothing is run);
# --version, --help, `help COMMAND` and `COMMAND --help` answer on stdout with status 0. Prints a
# line per failure; exit 1 on any.
set -u

wdmsim=$1
version=$2
failures=0
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err" "$out.json"' EXIT

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# refused MESSAGE ARGUMENT...: exit 2, MESSAGE and a usage on stderr, nothing on stdout.
refused() {
    local expected=$1 rc
    shift
    "$wdmsim" "$@" >"$out" 2>"$err"
    rc=$?
    [ "$rc" -eq 2 ] || fail "wdmsim $*: exit status $rc, expected 2"
    grep -qF -- "$expected" "$err" || fail "wdmsim $*: stderr does not say '$expected': $(cat "$err")"
    grep -q '^usage:' "$err" || fail "wdmsim $*: no usage on stderr"
    [ ! -s "$out" ] || fail "wdmsim $*: printed on stdout (did it run?): $(head -n 3 "$out")"
}

# answered TEXT ARGUMENT...: exit 0, TEXT on stdout.
answered() {
    local expected=$1 rc
    shift
    "$wdmsim" "$@" >"$out" 2>"$err"
    rc=$?
    [ "$rc" -eq 0 ] || fail "wdmsim $*: exit status $rc, expected 0: $(cat "$err")"
    grep -qF -- "$expected" "$out" || fail "wdmsim $*: stdout does not say '$expected': $(cat "$out")"
}

refused "unknown command 'bogus'" bogus
refused "unknown option '--bogus'" --bogus
refused "usage: wdmsim" 
refused "unknown option '--help-me'" demo --help-me
refused "unknown option '--bogus'" rules --bogus
refused "needs a FILE after '--check'" rules --check
refused "takes one argument, not also 'extra'" lesson list extra
refused "unknown option '--bogus'" lesson --bogus
refused "takes one argument, not also '--bogus'" lesson spinlock-recursion --bogus
refused "takes nothing after it, not '--fixed'" lesson all --fixed
refused "needs one FILE after '--check'" lesson --check
# An unknown lesson: says so and how to list them, exit status 2, nothing run.
"$wdmsim" lesson no-such-lesson >"$out" 2>"$err"
rc=$?
[ "$rc" -eq 2 ] || fail "wdmsim lesson no-such-lesson: exit status $rc, expected 2"
grep -qF "no lesson named 'no-such-lesson'" "$err" || fail "wdmsim lesson no-such-lesson: stderr: $(cat "$err")"
[ ! -s "$out" ] || fail "wdmsim lesson no-such-lesson: printed on stdout"
answered "same-process-handle" lesson --list
refused "unknown command 'bogus'" help bogus
refused "needs a FILE after '--timeline'" demo --timeline
refused "cannot write the timeline to /nonexistent-directory/t.json" demo --timeline /nonexistent-directory/t.json
refused "cannot write the timeline to /nonexistent-directory/t.json" lesson wait-at-dispatch --timeline /nonexistent-directory/t.json

answered "wdmsim $version" --version
answered "commands:" --help
answered "commands:" help
answered "demo --save FILE" help demo
answered "demo --save FILE" demo --help
answered "demo --timeline FILE" demo --help --timeline "$out.json"
answered "--timeline FILE" --help
answered "rules --check FILE" rules --help
answered "lesson all" lesson --help
answered "explore NAME --replay TOKEN" explore --help
answered "help [COMMAND]" help help

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) of the wdmsim command failed"
    exit 1
fi
echo "the wdmsim command's edges: all checks passed"
