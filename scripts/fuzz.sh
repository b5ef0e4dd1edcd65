#!/usr/bin/env bash
# A fuzzing campaign: builds the fuzz preset (clang, libFuzzer, ASan + UBSan) and fuzzes each
# target for SECONDS (default 600), one after the other, from its committed corpus.
#   scripts/fuzz.sh                     every target, 10 minutes each
#   scripts/fuzz.sh 3600 fuzz_zw        one target for an hour
#   FUZZ_FLAGS="-jobs=2 -workers=2" scripts/fuzz.sh 600   extra libFuzzer flags
# New inputs and findings stay in build/fuzz/tests/fuzz/work/<target>/{corpus,artifacts}; a
# finding's input replays with build/fuzz/tests/fuzz/<target> <input>. Prints each target's
# executions and speed; exits non-zero when a target found something.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_monitor fuzz_sprintf fuzz_debugprint_driver fuzz_zw)

bash scripts/setup.sh test
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target "${targets[@]}"
work=build/fuzz/tests/fuzz/work
status=0
for target in "${targets[@]}"; do
    log="$work/$target.log"
    mkdir -p "$work"
    echo "=== $target: ${seconds} s"
    # shellcheck disable=SC2086
    if sh tests/fuzz/run_fuzzer.sh "build/fuzz/tests/fuzz/$target" "tests/fuzz/corpus/$target" "$work" "$seconds" \
        ${FUZZ_FLAGS:-} >"$log" 2>&1; then
        result=clean
    else
        result="FOUND SOMETHING (see $log and $work/$target/artifacts)"
        status=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: //p' "$log" | tail -n1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: //p' "$log" | tail -n1)
    echo "$target: ${runs:-?} inputs, ${speed:-?} execs/s, $result"
done
exit $status
