#!/usr/bin/env bash
# Installs what building wdmsim needs and is missing on this machine (Debian/Ubuntu packages).
#   scripts/setup.sh demo   what the demo needs: a C compiler, CMake >= 3.20, pkg-config, and
#                           elfutils' libdw (STOP reports name each frame's source file and line)
#   scripts/setup.sh test   the same plus CMocka, g++ (the headers must compile as C++), the
#                           mingw-w64 cross compiler with DDK headers, and clang with its
#                           libFuzzer runtime (the fuzz preset)
# As root it runs apt-get; otherwise it prints the command to run and stops.
set -euo pipefail

purpose=${1:-test}
missing=()

need_command() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need_file() { [ -e "$1" ] || missing+=("$2"); }

# clang finds its sanitizer and libFuzzer runtimes here; Debian ships libFuzzer in libclang-rt-dev.
libfuzzer_is_installed() {
    local dir
    dir=$(clang -print-runtime-dir 2>/dev/null) || return 1
    [ -e "$dir/libclang_rt.fuzzer-$(uname -m).a" ] || [ -e "$dir/libclang_rt.fuzzer.a" ]
}

cmake_is_recent() {
    local version
    version=$(cmake --version 2>/dev/null | awk 'NR==1 {print $3}')
    [ -n "$version" ] && [ "$(printf '%s\n3.20\n' "$version" | sort -V | head -n1)" = "3.20" ]
}

need_command cc gcc
need_command make make
need_command pkg-config pkg-config
need_file /usr/include/elfutils/libdwfl.h libdw-dev
cmake_is_recent || missing+=(cmake)
if [ "$purpose" = test ]; then
    need_file /usr/include/cmocka.h libcmocka-dev
    need_command g++ g++
    need_command x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
    need_file /usr/x86_64-w64-mingw32/include/ddk/wdm.h mingw-w64-x86-64-dev
    need_command clang clang
    libfuzzer_is_installed || missing+=(libclang-rt-dev)
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "wdmsim needs these packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "wdmsim needs: ${missing[*]} (no apt-get here: install them with your package manager)" >&2
    exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
