#!/bin/sh
# check_cplusplus.sh INCLUDE_DIR - the driver-facing headers and <wdmsim/test.h> compile as C++
# (C++11 and C++17) with g++ and, where it is installed, clang++, warnings as errors.
# Exit status: 0 pass, 1 fail.
set -u

include=$1
source=$(dirname "$0")/cplusplus.cpp
checked=0
failed=0
for cxx in g++ clang++; do
    if ! command -v "$cxx" >/dev/null 2>&1; then
        echo "$cxx: not installed, not checked"
        continue
    fi
    for standard in c++11 c++17; do
        if "$cxx" -std="$standard" -fshort-wchar -Wno-multichar -Wall -Wextra -Werror -I"$include" \
            -fsyntax-only "$source"; then
            echo "$cxx -std=$standard: the headers compile"
        else
            echo "$cxx -std=$standard: the headers do not compile as C++"
            failed=1
        fi
        checked=$((checked + 1))
    done
done
[ "$checked" -gt 0 ] || { echo "no C++ compiler found: install g++ (scripts/setup.sh does it)"; exit 1; }
exit "$failed"
