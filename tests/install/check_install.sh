#!/bin/sh
# check_install.sh CMAKE CTEST BUILD_DIR CONFIG CC GENERATOR SOURCE_DIR WORK_DIR
#
# Installs the wdmsim build tree BUILD_DIR into a fresh prefix under WORK_DIR and uses it as an
# outsider would:
#  (a) outside_program.c, compiled by CC with only `pkg-config --cflags --libs --static wdmsim`,
#      must use DDIs, then break a spin-lock rule: a "*** STOP: 0x0000000F" report naming
#      SPIN_LOCK_ALREADY_OWNED on stderr and exit status 86 (WDMSIM_STOP_EXIT_STATUS);
#  (b) consumer/, a CMake project using find_package(wdmsim), must configure, build, run and pass
#      its own add_wdmsim_test() tests, among them check_isolation.sh on a suite whose cases fail
#      on purpose, each in its own child.
# WORK_DIR is recreated on every run and removed on success (kept on failure for inspection, or
# always with WDMSIM_KEEP_WORK=1). Exit status: 0 pass, 1 fail.
set -u

if [ $# -ne 8 ]; then
    echo "usage: check_install.sh CMAKE CTEST BUILD_DIR CONFIG CC GENERATOR SOURCE_DIR WORK_DIR" >&2
    exit 1
fi
cmake=$1
ctest=$2
build_dir=$3
config=$4
cc=$5
generator=$6
source_dir=$7
work=$8
prefix="$work/prefix"
config_opt=""
ctest_config_opt=""
build_type_opt=""
if [ -n "$config" ]; then
    config_opt="--config $config"
    ctest_config_opt="-C $config"
    build_type_opt="-DCMAKE_BUILD_TYPE=$config"
fi
stop_exit_status=86

fail() {
    echo "install test FAILED: $*" >&2
    echo "(the work folder $work is kept for inspection)" >&2
    exit 1
}

show() {
    echo "---- $1 ----" >&2
    cat "$2" >&2
    echo "---- end of $1 ----" >&2
}

step() {
    echo "== $*"
}

case $work in
    */install_work) ;;
    *) fail "refusing to use $work as the work folder: its name must end in /install_work" ;;
esac
rm -rf "$work" || fail "cannot remove the previous $work"
mkdir -p "$work" || fail "cannot create $work"

step "cmake --install $build_dir --prefix $prefix"
# shellcheck disable=SC2086 # config_opt is empty or two words
"$cmake" --install "$build_dir" --prefix "$prefix" $config_opt >"$work/install.log" 2>&1 ||
    { show "cmake --install output" "$work/install.log"; fail "cmake --install failed"; }

for header in wdmsim/ddk/wdm.h wdmsim/ddk/ntddk.h wdmsim/ddk/ntstatus.h wdmsim/wdmsim.h wdmsim/test.h; do
    [ -f "$prefix/include/$header" ] || fail "the installed tree lacks include/$header"
done
pc_file=$(find "$prefix" -name wdmsim.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc_file" ] || fail "the installed tree has no pkgconfig/wdmsim.pc"
config_file=$(find "$prefix" -name wdmsimConfig.cmake | head -n 1)
[ -n "$config_file" ] || fail "the installed tree has no wdmsimConfig.cmake"
[ -n "$(find "$prefix" -name libwdmsim.a)" ] || fail "the installed tree has no libwdmsim.a"
[ -n "$(find "$prefix" -name libwdmsim_test.a)" ] || fail "the installed tree has no libwdmsim_test.a"

# (a) a plain C program with pkg-config flags
step "(a) outside_program.c with pkg-config"
command -v pkg-config >/dev/null 2>&1 ||
    fail "pkg-config not found: install pkg-config (scripts/setup.sh does it)"
PKG_CONFIG_PATH=$(dirname "$pc_file")
export PKG_CONFIG_PATH
flags=$(pkg-config --cflags --libs --static wdmsim) ||
    fail "pkg-config --cflags --libs --static wdmsim failed with PKG_CONFIG_PATH=$PKG_CONFIG_PATH"
echo "pkg-config flags: $flags"
outside="$work/outside_program"
# shellcheck disable=SC2086 # the flags are a word list by design
"$cc" -Wall -Wextra -Werror "$source_dir/outside_program.c" -o "$outside" $flags \
    >"$work/outside_build.log" 2>&1 ||
    { show "compiler output" "$work/outside_build.log"; fail "outside_program.c did not build with: $cc ... $flags"; }

"$outside" >"$work/outside.stdout" 2>"$work/outside.stderr"
status=$?
if [ "$status" -ne "$stop_exit_status" ]; then
    show "outside_program stdout" "$work/outside.stdout"
    show "outside_program stderr" "$work/outside.stderr"
    fail "outside_program exited with status $status, expected $stop_exit_status (the machine stopped)"
fi
grep -q '^outside: DDIs used correctly' "$work/outside.stdout" ||
    { show "outside_program stdout" "$work/outside.stdout"; fail "outside_program stopped before its correct DDI calls were done"; }
if grep -q 'still running' "$work/outside.stdout"; then
    fail "outside_program went on after acquiring a spin lock twice"
fi
grep -Eq '^\*\*\* STOP: 0x0000000F \(0x[0-9A-Fa-f]+, 0x[0-9A-Fa-f]+, 0x[0-9A-Fa-f]+, 0x[0-9A-Fa-f]+\)' \
    "$work/outside.stderr" ||
    { show "outside_program stderr" "$work/outside.stderr"; fail "no '*** STOP: 0x0000000F (...)' line on stderr"; }
grep -q 'SPIN_LOCK_ALREADY_OWNED' "$work/outside.stderr" ||
    { show "outside_program stderr" "$work/outside.stderr"; fail "the STOP report does not name SPIN_LOCK_ALREADY_OWNED"; }
grep '^\*\*\* STOP' "$work/outside.stderr"

# (b) a CMake project with find_package(wdmsim)
step "(b) consumer project with find_package(wdmsim)"
consumer_build="$work/consumer-build"
# shellcheck disable=SC2086
"$cmake" -S "$source_dir/consumer" -B "$consumer_build" -G "$generator" \
    $build_type_opt -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/consumer_configure.log" 2>&1 ||
    { show "consumer configure output" "$work/consumer_configure.log"; fail "the consumer project did not configure against $prefix"; }
found_dir=$(sed -n 's/^-- wdmsim .* from //p' "$work/consumer_configure.log")
case $found_dir in
    "$prefix"/*) ;;
    *) fail "find_package(wdmsim) used '$found_dir', not the package installed in $prefix" ;;
esac
# shellcheck disable=SC2086
"$cmake" --build "$consumer_build" $config_opt >"$work/consumer_build.log" 2>&1 ||
    { show "consumer build output" "$work/consumer_build.log"; fail "the consumer project did not build"; }
consumer=$(find "$consumer_build" -type f -name consumer -perm -u+x | head -n 1)
[ -n "$consumer" ] || fail "the consumer build produced no consumer program"
"$consumer" || fail "the consumer program failed (status $?)"
# shellcheck disable=SC2086
# Each case is a test of its own too (label "case"); the whole-suite run leaves those out, and one
# of them runs alone by name.
(cd "$consumer_build" && "$ctest" $ctest_config_opt -L case -R '^consumer_cmocka/' -N) >"$work/consumer_cases.log" 2>&1 &&
    ! grep -q 'Total Tests: 0' "$work/consumer_cases.log" ||
    { show "consumer ctest -N -L case" "$work/consumer_cases.log"; fail "the consumer's cases are not ctest tests"; }
(cd "$consumer_build" && "$ctest" $ctest_config_opt -LE case --output-on-failure) >"$work/consumer_ctest.log" 2>&1 ||
    { show "consumer ctest output" "$work/consumer_ctest.log"; fail "the consumer's add_wdmsim_test() test failed"; }
grep 'tests passed' "$work/consumer_ctest.log"

if [ "${WDMSIM_KEEP_WORK:-0}" = 1 ]; then
    echo "install test passed (work folder kept: $work)"
else
    rm -rf "$work"
    echo "install test passed"
fi
exit 0
