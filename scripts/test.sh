#!/usr/bin/env bash
# Install what is missing, then configure, build and run every test of each preset named
# (default: the `default` preset). Exits non-zero on the first failure.
#   scripts/test.sh                 the Debug build with -Werror: unit, lesson, crossbuild, install,
#                                   then unit and scenario suites under two controlled schedules
#   scripts/test.sh default asan    also under AddressSanitizer + UndefinedBehaviorSanitizer
#   scripts/test.sh default asan tsan   and under ThreadSanitizer too
#   scripts/test.sh fuzz            every suite built with clang's ASan + UBSan, the fuzz targets
#                                   replaying their corpora, and each fuzzed for 20 s (docs/fuzzing.md)
# CI (.ci/run) runs default asan tsan release fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh test
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(default)
for preset in "${presets[@]}"; do
    echo "=== preset $preset"
    cmake --preset "$preset" -DWDMSIM_BUILD_TESTS=ON >/dev/null
    cmake --build --preset "$preset"
    ctest --preset "$preset"
    if [ "$preset" = default ]; then
        # The unit and scenario suites again, each kernel under one controlled schedule: they must
        # hold whatever the interleaving.
        for schedule in pct:3:1 random:1; do
            echo "=== preset $preset under WDMSIM_SCHED=$schedule"
            WDMSIM_SCHED=$schedule ctest --preset "$preset" -L 'unit|scenario'
        done
    fi
done
