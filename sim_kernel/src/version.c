/*
 * version.c - the Windows version the simulator presents to drivers: Windows 10 22H2 (10.0.19045),
 * a free build, no service pack, a workstation. PsGetVersion and RtlGetVersion report it.
 * Locking: none; everything here is constant.
 */
#include "internal.h"

#define VERSION_MAJOR 10
#define VERSION_MINOR 0
#define VERSION_BUILD 19045
#define VERSION_PLATFORM_WIN32_NT 2     /* VER_PLATFORM_WIN32_NT */
#define VERSION_NT_WORKSTATION 1        /* VER_NT_WORKSTATION */
#define VERSION_SUITE_SINGLEUSERTS 0x0100

/* The empty service-pack string, which PsGetVersion hands out as the kernel's own. */
static WCHAR version_csd[] = { 0 };

/* Any IRQL (PASSIVE_LEVEL when CSDVersion is asked for). Each pointer may be NULL. TRUE only on a
 * checked build, which this is not. */
BOOLEAN NTAPI PsGetVersion(PULONG MajorVersion, PULONG MinorVersion, PULONG BuildNumber, PUNICODE_STRING CSDVersion)
{
    if (MajorVersion != NULL)
        *MajorVersion = VERSION_MAJOR;
    if (MinorVersion != NULL)
        *MinorVersion = VERSION_MINOR;
    if (BuildNumber != NULL)
        *BuildNumber = VERSION_BUILD;
    if (CSDVersion != NULL) {
        CSDVersion->Buffer = version_csd;
        CSDVersion->Length = 0;
        CSDVersion->MaximumLength = sizeof version_csd;
    }
    return FALSE;
}

/* PASSIVE_LEVEL. Fills an RTL_OSVERSIONINFOW, and the extended fields too when
 * dwOSVersionInfoSize says the caller passed an RTL_OSVERSIONINFOEXW. */
NTSTATUS NTAPI RtlGetVersion(PRTL_OSVERSIONINFOW lpVersionInformation)
{
    PRTL_OSVERSIONINFOEXW extended = (PRTL_OSVERSIONINFOEXW)lpVersionInformation;

    RULE_CHECK_ARGUMENT(lpVersionInformation, RULE_WRITES);
    lpVersionInformation->dwMajorVersion = VERSION_MAJOR;
    lpVersionInformation->dwMinorVersion = VERSION_MINOR;
    lpVersionInformation->dwBuildNumber = VERSION_BUILD;
    lpVersionInformation->dwPlatformId = VERSION_PLATFORM_WIN32_NT;
    RtlZeroMemory(lpVersionInformation->szCSDVersion, sizeof lpVersionInformation->szCSDVersion);
    if (lpVersionInformation->dwOSVersionInfoSize == sizeof(RTL_OSVERSIONINFOEXW)) {
        extended->wServicePackMajor = 0;
        extended->wServicePackMinor = 0;
        extended->wSuiteMask = VERSION_SUITE_SINGLEUSERTS;
        extended->wProductType = VERSION_NT_WORKSTATION;
        extended->wReserved = 0;
    }
    return STATUS_SUCCESS;
}
