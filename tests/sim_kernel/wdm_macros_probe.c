/*
 * wdm_macros_probe.c - wdm.h's record macros (CONTAINING_RECORD, FIELD_OFFSET) on live addresses,
 * built by check_clang_ubsan.sh with clang's UndefinedBehaviorSanitizer, null checks on: spelled
 * as the DDK spells them, through a member access on a NULL pointer, they stop it; with offsetof
 * they run clean. Exits 0 when every macro gives the right address or offset.
 */
#include <stdio.h>

#include <wdm.h>

typedef struct _PROBE_RECORD {
    ULONG First;
    LIST_ENTRY Link;
    UCHAR Data[3];
} PROBE_RECORD;

int main(void)
{
    PROBE_RECORD record;
    volatile PLIST_ENTRY link = &record.Link;
    volatile PUCHAR data = &record.Data[2];
    int failures = 0;

    if (CONTAINING_RECORD(link, PROBE_RECORD, Link) != &record)
        failures += printf("CONTAINING_RECORD(Link) is not the record\n");
    if (CONTAINING_RECORD(data, PROBE_RECORD, Data[2]) != &record)
        failures += printf("CONTAINING_RECORD(Data[2]) is not the record\n");
    if (FIELD_OFFSET(PROBE_RECORD, Data) != (LONG)((PCHAR)&record.Data - (PCHAR)&record))
        failures += printf("FIELD_OFFSET(Data) is wrong\n");
    return failures == 0 ? 0 : 1;
}
