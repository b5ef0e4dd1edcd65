#!/usr/bin/env bash
# The benchmarks (issue 6, docs/performance.md): build the release preset and run wdmsim-bench.
# Arguments go to wdmsim-bench: --quick for a run under 30 s.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset release >/dev/null
cmake --build --preset release
./build/release/bench/wdmsim-bench "$@"
