#!/bin/sh
# build_windows_driver.sh IMAGE [-I DIR]... SOURCE... - the Windows half of the crossbuild check.
#
# Compiles each driver source with x86_64-w64-mingw32-gcc against the mingw-w64 DDK headers (and
# the -I folders given, searched after the DDK), links the objects into IMAGE (a .sys) as a native
# kernel image entered at DriverEntry, and checks that it imports nothing but ntoskrnl.exe and
# hal.dll.
#
# Exit status: 0 pass; 1 fail; 77 skip (cross tools missing; see mingw_env.sh for CI=true and the
# WDMSIM_MINGW_* overrides).
set -u

usage="usage: build_windows_driver.sh IMAGE [-I DIR]... SOURCE..."
image=${1:?$usage}
shift
objects_dir="${image%.sys}.obj"

# shellcheck source=tests/crossbuild/mingw_env.sh
. "$(dirname "$0")/mingw_env.sh"
objdump="$prefix-objdump"
command -v "$objdump" >/dev/null 2>&1 || missing "$objdump not found: $install_hint"

rm -rf "$objects_dir" "$image"
mkdir -p "$objects_dir" || fail "cannot create $objects_dir"

# The DDK's inline KeGetCurrentThread reads gs:[0x188]; GCC 12 takes any access at so small an
# address for a null-pointer dereference (-Warray-bounds) unless told that low addresses can be valid.
# The DDK comes first on the include path, so a driver's own headers cannot stand in for it.
includes=""
objects=""
count=0
while [ $# -gt 0 ]; do
    case $1 in
    -I)
        [ $# -ge 2 ] || fail "-I needs a folder ($usage)"
        includes="$includes -I$2"
        shift 2
        continue
        ;;
    esac
    count=$((count + 1))
    object="$objects_dir/$count-$(basename "${1%.c}").o"
    echo "compiling $1 against $ddk"
    # $includes (and $objects below) are split on purpose; the paths must hold no spaces.
    # shellcheck disable=SC2086
    "$cc" -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-multichar --param=min-pagesize=0 -I"$ddk" \
        $includes -c "$1" -o "$object" ||
        fail "$cc could not compile $1 against the mingw-w64 DDK: driver code must build" \
             "unchanged against the real DDK headers (see the errors above)"
    objects="$objects $object"
    shift
done
[ "$count" -gt 0 ] || fail "no source given ($usage)"

echo "linking $image"
# shellcheck disable=SC2086
"$cc" -shared -nostdlib -Wl,--subsystem,native -Wl,--entry,DriverEntry \
    -o "$image" $objects -lntoskrnl -lhal ||
    fail "$cc could not link $image: a DDI it calls is missing from libntoskrnl.a/libhal.a"

headers=$("$objdump" -p "$image") || fail "$objdump -p $image failed"
echo "$headers" | grep -Eq '^Subsystem[[:space:]]+0+1[[:space:]]' ||
    fail "$image is not a native (kernel) image: $(echo "$headers" | grep '^Subsystem')"

dlls=$(echo "$headers" | sed -n 's/^[[:space:]]*DLL Name:[[:space:]]*//p' | tr '[:upper:]' '[:lower:]' | sort -u)
echo "$image imports: $(echo "$dlls" | tr '\n' ' ')"
echo "$dlls" | grep -qx 'ntoskrnl.exe' || fail "$image does not import ntoskrnl.exe"
unexpected=$(echo "$dlls" | grep -vx -e 'ntoskrnl.exe' -e 'hal.dll')
[ -z "$unexpected" ] ||
    fail "$image imports $(echo "$unexpected" | tr '\n' ' ')- a driver may import only" \
         "ntoskrnl.exe and hal.dll"

echo "crossbuild passed: $image is a native driver importing only ntoskrnl.exe/hal.dll"
exit 0
