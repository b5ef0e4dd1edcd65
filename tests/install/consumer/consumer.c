/*
 * consumer.c - a program built by an outside CMake project against the installed wdmsim::kernel.
 * It queues pool-allocated events on an interlocked list and drains it, as the DebugPrint path
 * does, and checks that no pool is left behind. The multi-character tag needs -Wno-multichar and
 * the L"" string needs -fshort-wchar: both must arrive through the target's usage requirements.
 */
#include <stdio.h>

#include <wdm.h>
#include <wdmsim/wdmsim.h>

#define CONSUMER_TAG 'snoC'

typedef struct _CONSUMER_EVENT {
    LIST_ENTRY Link;
    ULONG Sequence;
} CONSUMER_EVENT, *PCONSUMER_EVENT;

int main(void)
{
    UNICODE_STRING name;
    LIST_ENTRY queue;
    KSPIN_LOCK lock;
    PLIST_ENTRY entry;
    struct wdmsim_pool_stats stats;
    ULONG sequence;
    ULONG drained = 0;

    RtlInitUnicodeString(&name, L"consumer");
    InitializeListHead(&queue);
    KeInitializeSpinLock(&lock);
    for (sequence = 1; sequence <= 3; sequence++) {
        PCONSUMER_EVENT event = ExAllocatePoolWithTag(NonPagedPool, sizeof(*event), CONSUMER_TAG);

        if (event == NULL) {
            fprintf(stderr, "consumer: ExAllocatePoolWithTag failed\n");
            return 1;
        }
        event->Sequence = sequence;
        ExInterlockedInsertTailList(&queue, &event->Link, &lock);
    }
    while ((entry = ExInterlockedRemoveHeadList(&queue, &lock)) != NULL) {
        PCONSUMER_EVENT event = CONTAINING_RECORD(entry, CONSUMER_EVENT, Link);

        if (event->Sequence != ++drained) {
            fprintf(stderr, "consumer: event %u drained out of order\n", event->Sequence);
            return 1;
        }
        ExFreePoolWithTag(event, CONSUMER_TAG);
    }
    wdmsim_pool_stats(&stats);
    if (drained != 3 || stats.outstanding_blocks != 0 || name.Length != 8 * sizeof(WCHAR)) {
        fprintf(stderr, "consumer: drained %u events, %zu pool blocks left\n", drained,
                stats.outstanding_blocks);
        return 1;
    }
    printf("consumer: queued and drained %u events through wdmsim::kernel\n", drained);
    return 0;
}
