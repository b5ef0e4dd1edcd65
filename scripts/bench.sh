#!/usr/bin/env bash
# The benchmarks (issue 6, docs/performance.md): install what is missing, build the release preset
# and run wdmsim-bench. Arguments go to wdmsim-bench: --quick for a run under 30 s, --only GROUP
# for one group of figures. A full run also times the default preset's ctest run, so it builds
# that preset first.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh test
cmake --preset release >/dev/null
cmake --build --preset release
case " $* " in
*" --quick "* | *" --smoke "*) ;;
*)
    cmake --preset default >/dev/null
    cmake --build --preset default
    ;;
esac
./build/release/bench/wdmsim-bench "$@"
