#!/usr/bin/env bash
# check_explore_cli.sh WDMSIM SCENARIO... - what `wdmsim explore` refuses (exit 2, a message that
# names the problem, nothing run, so no summary on stdout) and that `wdmsim explore` alone lists
# exactly the scenarios named, each with a description. Prints a line per check; exit 1 on any
# failure.
set -u

wdmsim=$1
shift
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# refused MESSAGE ARGUMENT...: `wdmsim explore ARGUMENT...` exits 2, says MESSAGE on stderr and
# prints nothing on stdout.
refused() {
    local expected=$1 out err rc
    shift
    err=$(mktemp)
    out=$("$wdmsim" explore "$@" 2>"$err")
    rc=$?
    if [ "$rc" -ne 2 ]; then
        fail "wdmsim explore $*: exit status $rc, expected 2"
    elif ! grep -qF -- "$expected" "$err"; then
        fail "wdmsim explore $*: stderr does not say '$expected': $(cat "$err")"
    elif ! grep -qF -- "nothing was run" "$err"; then
        fail "wdmsim explore $*: stderr does not say that nothing was run: $(cat "$err")"
    elif [ -n "$out" ]; then
        fail "wdmsim explore $*: printed on stdout: $out"
    else
        echo "ok: wdmsim explore $* -> $(cat "$err")"
    fi
    rm -f "$err"
}

scenario=$1
refused "no scenario named 'no-such-scenario'" no-such-scenario
refused "unknown strategy 'fifo'" "$scenario" --strategy fifo
refused "unknown strategy 'random:7'" "$scenario" --strategy random:7
refused "unknown schedule 'pct:0'" "$scenario" --strategy pct:0
refused "--seeds 0: say how many schedules" "$scenario" --seeds 0
refused "--seeds 9..3: the range is reversed" "$scenario" --seeds 9..3
refused "a range needs both ends" "$scenario" --seeds 3..
refused "--seeds '1x' is not a number" "$scenario" --seeds 1x
refused "--seeds '-4' is not a number" "$scenario" --seeds -4
refused "--first-seed 'x' is not a seed number" "$scenario" --first-seed x
refused "--seeds needs a value" "$scenario" --seeds
refused "unknown option '--fast'" "$scenario" --fast 1
refused "--first-seed and a range --seeds A..B both give the first seed" "$scenario" --seeds 1..2 --first-seed 5
refused "run past the last seed number" "$scenario" --first-seed 18446744073709551615 --seeds 2
refused "the replay token 'w1-garbage' is malformed" "$scenario" --replay w1-garbage
refused "comes from another build" "$scenario" --replay w1-00000000-p3-1-100-7-0123456789abcdef-
refused "a replay runs the one schedule its token names" "$scenario" --replay w1-garbage --seeds 5

# The list: one line per scenario, its name and a description, exactly the scenarios named here.
list=$("$wdmsim" explore)
rc=$?
[ "$rc" -eq 0 ] || fail "wdmsim explore: exit status $rc, expected 0"
listed=$(awk 'NF >= 2 { print $1 }' <<<"$list" | sort | tr '\n' ' ')
expected=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
if [ "$listed" != "$expected" ] || [ "$(wc -l <<<"$list")" -ne $# ]; then
    fail "wdmsim explore lists '$listed', expected '$expected' (each on a line with its description)"
else
    echo "ok: wdmsim explore lists $listed"
fi

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all checks passed"
