#!/bin/sh
# run_fuzzer.sh BINARY CORPUS WORK SECONDS [LIBFUZZER_FLAG...] - fuzzes one libFuzzer target for
# SECONDS from its committed CORPUS. What it finds goes to WORK/<target>/corpus (new inputs; the
# committed corpus is only read) and WORK/<target>/artifacts (a crash, timeout or leak, with the
# input that caused it). Exits as libFuzzer does: 0 when the time ran out with nothing found.
set -eu
usage="usage: run_fuzzer.sh BINARY CORPUS WORK SECONDS [LIBFUZZER_FLAG...]"
binary=${1:?$usage}
corpus=${2:?$usage}
work=${3:?$usage}
seconds=${4:?$usage}
shift 4
name=$(basename "$binary")
mkdir -p "$work/$name/corpus" "$work/$name/artifacts"
exec "$binary" -max_total_time="$seconds" -max_len=8192 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/$name/artifacts/" "$@" "$work/$name/corpus" "$corpus"
