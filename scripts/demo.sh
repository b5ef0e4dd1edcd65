#!/usr/bin/env bash
# The main job: install what is missing, build, and run the wdmsim demo.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh demo
cmake --preset default -DWDMSIM_BUILD_TESTS=OFF >/dev/null
cmake --build --preset default --target wdmsim
./build/default/tools/wdmsim demo
