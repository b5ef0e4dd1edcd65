/*
 * outside_program.c - a plain C program built against an installed wdmsim with nothing but
 * `pkg-config --cflags --libs --static wdmsim`. It uses a few DDIs correctly from main(), then
 * acquires a spin lock it already holds: the simulated machine must stop with
 * SPIN_LOCK_ALREADY_OWNED (0x0F) and the process exit with WDMSIM_STOP_EXIT_STATUS.
 */
#include <stdio.h>

#include <ntddk.h>
#include <wdmsim/wdmsim.h>

#define OUTSIDE_TAG 'tuO '

typedef struct _OUTSIDE_ITEM {
    LIST_ENTRY Link;
    ULONG Value;
} OUTSIDE_ITEM, *POUTSIDE_ITEM;

int main(void)
{
    LARGE_INTEGER now;
    TIME_FIELDS fields;
    LIST_ENTRY queue;
    KSPIN_LOCK lock;
    KIRQL oldIrql;
    KIRQL againIrql;
    POUTSIDE_ITEM item;

    KeQuerySystemTime(&now);
    RtlTimeToTimeFields(&now, &fields);
    printf("outside: system time %04d-%02d-%02d %02d:%02d:%02d UTC\n", fields.Year, fields.Month,
           fields.Day, fields.Hour, fields.Minute, fields.Second);

    item = ExAllocatePoolWithTag(NonPagedPool, sizeof(*item), OUTSIDE_TAG);
    if (item == NULL) {
        fprintf(stderr, "outside: ExAllocatePoolWithTag failed\n");
        return 1;
    }
    item->Value = 42;
    InitializeListHead(&queue);
    KeInitializeSpinLock(&lock);

    KeAcquireSpinLock(&lock, &oldIrql);
    InsertTailList(&queue, &item->Link);
    KeReleaseSpinLock(&lock, oldIrql);
    if (IsListEmpty(&queue) || KeGetCurrentIrql() != PASSIVE_LEVEL) {
        fprintf(stderr, "outside: the list or the IRQL is wrong after a balanced acquire/release\n");
        return 1;
    }
    RemoveEntryList(&item->Link);
    ExFreePoolWithTag(item, OUTSIDE_TAG);
    printf("outside: DDIs used correctly; now acquiring the same spin lock twice\n");
    fflush(stdout);

    KeAcquireSpinLock(&lock, &oldIrql);
    KeAcquireSpinLock(&lock, &againIrql);

    printf("outside: still running after acquiring a spin lock twice\n");
    KeReleaseSpinLock(&lock, againIrql);
    KeReleaseSpinLock(&lock, oldIrql);
    return 0;
}
