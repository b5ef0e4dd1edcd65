/*
 * rules.c - the rule catalog: one row per kernel rule a DDI enforces, with the bug check Windows
 * (or Driver Verifier, which the simulator always runs) raises, why, and the usual fix.
 * Checks, STOP reports and docs/irql-rules.md all read this table. Read-only: no locking.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define C4 0xC4u, "DRIVER_VERIFIER_DETECTED_VIOLATION"
#define C2 0xC2u, "BAD_POOL_CALLER"
/* What an unhandled exception becomes in a system thread (0x1E elsewhere). */
#define RULE_SYSTEM_THREAD_EXCEPTION 0x7Eu

const struct rule rule_catalog[RULE_COUNT] = {
    [RULE_RAISE_IRQL_TO_LOWER] = {
        { "irql.raise_to_lower", "KeRaiseIrql", "the new IRQL is lower than the current IRQL, or not an IRQL at all",
          C4, 0x30,
          "KeRaiseIrql only raises; going down with it would hide a missing KeLowerIrql.",
          "Lower with KeLowerIrql(OldIrql), passing the IRQL the matching KeRaiseIrql saved." },
        RULE_STATE, 0 },
    [RULE_LOWER_IRQL_TO_HIGHER] = {
        { "irql.lower_to_higher", "KeLowerIrql", "the new IRQL is higher than the current IRQL",
          C4, 0x31,
          "KeLowerIrql only lowers; a higher value means the saved IRQL was lost or swapped.",
          "Pass exactly the OldIrql that KeRaiseIrql or KeAcquireSpinLock returned." },
        RULE_STATE, 0 },
    [RULE_SPINLOCK_ACQUIRE_ABOVE_DISPATCH] = {
        { "spinlock.acquire_above_dispatch", "KeAcquireSpinLock, KeAcquireSpinLockRaiseToDpc",
          "called above DISPATCH_LEVEL", C4, 0x42,
          "KeAcquireSpinLock raises to DISPATCH_LEVEL; called higher it would lower the IRQL.",
          "Above DISPATCH_LEVEL use the interrupt spin lock (KeSynchronizeExecution) instead." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_SPINLOCK_ACQUIRE_RECURSIVE] = {
        { "spinlock.recursive_acquire",
          "KeAcquireSpinLock, KeAcquireSpinLockAtDpcLevel, ExInterlocked*List",
          "the calling thread already owns the spin lock", 0x0Fu, "SPIN_LOCK_ALREADY_OWNED", -1,
          "Spin locks are not recursive: the second acquire spins forever on a real machine.",
          "Release the lock before calling code that takes it again; never call ExInterlocked*List "
          "with a lock you hold." },
        RULE_STATE, 0 },
    [RULE_SPINLOCK_RELEASE_NOT_OWNER] = {
        { "spinlock.release_not_owner", "KeReleaseSpinLock, KeReleaseSpinLockFromDpcLevel",
          "the calling thread does not own the spin lock", 0x10u, "SPIN_LOCK_NOT_OWNED", -1,
          "Releasing a lock you do not hold (a double release, or another thread's lock) breaks "
          "the mutual exclusion of whoever holds it.",
          "Release each lock exactly once, on the thread that acquired it." },
        RULE_STATE, 0 },
    [RULE_SPINLOCK_RELEASE_NOT_AT_DISPATCH] = {
        { "spinlock.release_not_at_dispatch", "KeReleaseSpinLock",
          "called at an IRQL other than DISPATCH_LEVEL", C4, 0x32,
          "Holding a spin lock means running at DISPATCH_LEVEL; any other IRQL at release means "
          "the IRQL was changed while it was held, or the lock was already released.",
          "Do not change the IRQL while holding a spin lock; release it once with the OldIrql "
          "from its acquire." },
        RULE_IRQL_EXACTLY, DISPATCH_LEVEL },
    [RULE_SPINLOCK_AT_DPC_BELOW_DISPATCH] = {
        { "spinlock.at_dpc_level_below_dispatch", "KeAcquireSpinLockAtDpcLevel",
          "called below DISPATCH_LEVEL", C4, 0x40,
          "The AtDpcLevel form does not raise the IRQL, so below DISPATCH_LEVEL the holder can "
          "be preempted while other processors spin.",
          "Use KeAcquireSpinLock at PASSIVE_LEVEL or APC_LEVEL; keep the AtDpcLevel form for "
          "DPCs and code already at DISPATCH_LEVEL." },
        RULE_IRQL_AT_LEAST, DISPATCH_LEVEL },
    [RULE_SPINLOCK_FROM_DPC_BELOW_DISPATCH] = {
        { "spinlock.from_dpc_level_below_dispatch", "KeReleaseSpinLockFromDpcLevel",
          "called below DISPATCH_LEVEL", C4, 0x41,
          "The FromDpcLevel form pairs with KeAcquireSpinLockAtDpcLevel; below DISPATCH_LEVEL "
          "the lock was taken another way or the IRQL was lowered while holding it.",
          "Pair KeAcquireSpinLock with KeReleaseSpinLock and the AtDpcLevel form with the "
          "FromDpcLevel form." },
        RULE_IRQL_AT_LEAST, DISPATCH_LEVEL },
    [RULE_LIST_CORRUPT] = {
        { "list.corrupt_links", "InsertHeadList, InsertTailList, RemoveEntryList, RemoveHeadList, "
          "RemoveTailList", "a neighbouring entry does not point back at the entry",
          0x139u, "KERNEL_SECURITY_CHECK_FAILURE", 3,
          "The list links are corrupt: usually an entry removed twice, inserted twice, freed "
          "while still on a list, or a list head that was never initialised.",
          "Call InitializeListHead before use; remove an entry exactly once; never free memory "
          "that is still linked into a list." },
        RULE_STATE, 0 },
    [RULE_POOL_ZERO_SIZE] = {
        { "pool.zero_size", "ExAllocatePool*", "NumberOfBytes is 0",
          C2, 0x00,
          "A zero-byte allocation is almost always a length computed wrongly.",
          "Check the size computation; allocate at least one byte or skip the allocation." },
        RULE_STATE, 0 },
    [RULE_POOL_NONPAGED_ABOVE_DISPATCH] = {
        { "pool.nonpaged_alloc_above_dispatch", "ExAllocatePool*",
          "a nonpaged allocation above DISPATCH_LEVEL", C2, 0x08,
          "The pool allocator takes locks that work only up to DISPATCH_LEVEL.",
          "Allocate beforehand, at DISPATCH_LEVEL or below, and hand the memory in." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_POOL_PAGED_ABOVE_APC] = {
        { "pool.paged_alloc_above_apc", "ExAllocatePool*",
          "a PagedPool allocation above APC_LEVEL", C2, 0x08,
          "Paged pool can cause a page fault, and page faults cannot be served at "
          "DISPATCH_LEVEL or above.",
          "Use NonPagedPool (NonPagedPoolNx) for memory touched at DISPATCH_LEVEL, or allocate "
          "at PASSIVE_LEVEL." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_POOL_MUST_SUCCEED] = {
        { "pool.must_succeed", "ExAllocatePool, ExAllocatePoolWithTag, ExAllocatePoolWithQuotaTag, "
          "ExAllocatePoolWithTagPriority, ExAllocatePoolZero, ExAllocatePoolUninitialized",
          "a MustSucceed pool type", C2, 0x9A,
          "MustSucceed pool types are obsolete; the kernel refuses them.",
          "Use NonPagedPoolNx and handle a NULL return." },
        RULE_STATE, 0 },
    [RULE_POOL_ZERO_TAG] = {
        { "pool.zero_tag", "ExAllocatePoolWithTag, ExAllocatePool2, ExAllocatePool3, ExAllocatePool*Tag*, "
          "ExAllocatePoolZero, ExAllocatePoolUninitialized", "the pool tag is 0",
          C2, 0x9B,
          "A tag of 0 makes the allocation untraceable in pool reports.",
          "Use a four-character tag unique to your driver, such as 'gbDP'." },
        RULE_STATE, 0 },
    [RULE_POOL_FREE_NONPAGED_ABOVE_DISPATCH] = {
        { "pool.nonpaged_free_above_dispatch", "ExFreePool, ExFreePoolWithTag",
          "freeing nonpaged pool above DISPATCH_LEVEL", C2, 0x09,
          "The pool allocator takes locks that work only up to DISPATCH_LEVEL.",
          "Free the block later, at DISPATCH_LEVEL or below." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_POOL_FREE_PAGED_ABOVE_APC] = {
        { "pool.paged_free_above_apc", "ExFreePool, ExFreePoolWithTag",
          "freeing PagedPool above APC_LEVEL", C2, 0x09,
          "Freeing paged pool can touch pageable memory, which faults at DISPATCH_LEVEL.",
          "Free paged pool at PASSIVE_LEVEL or APC_LEVEL, e.g. from a work item." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_POOL_DOUBLE_FREE] = {
        { "pool.double_free", "ExFreePool, ExFreePoolWithTag", "the block was already freed",
          C2, 0x07,
          "Freeing a block twice corrupts the pool for every driver in the system.",
          "Free each block once and set your pointer to NULL after freeing it." },
        RULE_STATE, 0 },
    [RULE_POOL_FREE_BAD_ADDRESS] = {
        { "pool.free_bad_address", "ExFreePool, ExFreePoolWithTag",
          "the address is not one the pool returned (NULL, an interior pointer, stack memory)",
          C2, 0x46,
          "The pool can only free the exact address an allocation returned.",
          "Free the pointer ExAllocatePoolWithTag returned, not an offset into it; check for NULL "
          "before freeing." },
        RULE_STATE, 0 },
    [RULE_POOL_FREE_TAG_MISMATCH] = {
        { "pool.free_tag_mismatch", "ExFreePoolWithTag",
          "the tag differs from the one the block was allocated with", C2, 0x0A,
          "A different tag means the code frees a block it did not allocate, or mixes up tags.",
          "Free with the same tag you allocated with." },
        RULE_STATE, 0 },
    [RULE_POOL_FREE_ACTIVE_TIMER] = {
        { "pool.free_active_timer", "ExFreePool, ExFreePoolWithTag, IoDeleteDevice (its extension)",
          "the block holds a KTIMER that is still set", C4, 0x15,
          "The timer will fire into freed memory: the kernel's timer list now points into garbage.",
          "KeCancelTimer every timer in a block or device extension before freeing or deleting it "
          "(in Unload: cancel, then free or IoDeleteDevice)." },
        RULE_STATE, 0 },
    [RULE_POOL_FREE_QUEUED_DPC] = {
        { "pool.free_queued_dpc", "ExFreePool, ExFreePoolWithTag, IoDeleteDevice (its extension)",
          "the block holds a KDPC that is still queued", 0xC7u, "TIMER_OR_DPC_INVALID", 1,
          "The DPC will run from freed memory.",
          "KeRemoveQueueDpc (or KeFlushQueuedDpcs) before freeing memory that holds a KDPC." },
        RULE_STATE, 0 },
    [RULE_DISPATCHER_UNINITIALIZED] = {
        { "dispatcher.uninitialized_object",
          "KeWaitFor*, KeSetEvent, KeReleaseMutex, KeReleaseSemaphore, KeSetTimer and friends",
          "the object was never initialised (or is not a dispatcher object)", C4, 0x1002,
          "A dispatcher object's wait list must be set up by its KeInitializeXxx call before any "
          "other use; garbage there corrupts the kernel's wait lists.",
          "Call KeInitializeEvent/Mutex/Semaphore/Timer(Ex) once before first use, and pass the "
          "object itself, not a pointer to a pointer." },
        RULE_STATE, 0 },
    [RULE_KE_ABOVE_DISPATCH] = {
        { "ke.above_dispatch",
          "KeClearEvent, KeResetEvent, KeReadStateEvent, KePulseEvent, KeReleaseMutex, "
          "KeReadStateMutex, KeReleaseSemaphore, KeInitializeTimer(Ex), KeSetTimer(Ex), "
          "KeCancelTimer, KeReadStateTimer, ObReferenceObject, ObReferenceObjectByPointer, "
          "ObDereferenceObject, ExQueueWorkItem, "
          "KeAreApcsDisabled, KeAreAllApcsDisabled, ExInitializeResourceLite, ExReinitializeResourceLite, "
          "ExDeleteResourceLite, ExReleaseResourceLite, ExReleaseResourceForThreadLite, "
          "ExConvertExclusiveToSharedLite, ExSetResourceOwnerPointer, ExIsResourceAcquired*Lite, "
          "ExGet*WaiterCount, KeSetSystemAffinityThread(Ex), KeRevertToUserAffinityThread(Ex), "
          "KeInitializeDeviceQueue, KeRemoveEntryDeviceQueue",
          "called above DISPATCH_LEVEL", C4, 0x20011,
          "These DDIs work only up to DISPATCH_LEVEL; most take the dispatcher lock, which does.",
          "Call them from DISPATCH_LEVEL or below: queue a DPC from an ISR and call them there." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_WAIT_ABOVE_DISPATCH] = {
        { "wait.above_dispatch", "KeWaitForSingleObject, KeWaitForMultipleObjects, KeDelayExecutionThread",
          "called above DISPATCH_LEVEL", C4, 0x120,
          "Nothing can wait above DISPATCH_LEVEL, not even for zero time.",
          "Wait only at PASSIVE_LEVEL (or APC_LEVEL); signal a thread from a DPC instead." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_WAIT_AT_DISPATCH_FOREVER] = {
        { "wait.at_dispatch_forever", "KeWaitForSingleObject, KeWaitForMultipleObjects",
          "a wait with no timeout at DISPATCH_LEVEL", C4, 0x121,
          "At DISPATCH_LEVEL the processor cannot switch to another thread, so a real wait "
          "never ends; only a zero timeout (a poll) is allowed there.",
          "Wait at PASSIVE_LEVEL, or poll with a zero timeout; from a DPC, signal a thread." },
        RULE_STATE, 0 },
    [RULE_WAIT_AT_DISPATCH_WITH_TIMEOUT] = {
        { "wait.at_dispatch_with_timeout",
          "KeWaitForSingleObject, KeWaitForMultipleObjects, KeDelayExecutionThread",
          "a wait with a non-zero timeout at DISPATCH_LEVEL", C4, 0x122,
          "At DISPATCH_LEVEL the processor cannot switch to another thread; only a zero timeout "
          "(a poll) is allowed there.",
          "Wait at PASSIVE_LEVEL, or poll with a zero timeout." },
        RULE_STATE, 0 },
    [RULE_WAIT_IN_DPC] = {
        { "wait.in_dpc", "KeWaitForSingleObject, KeWaitForMultipleObjects, KeDelayExecutionThread",
          "a blocking wait inside a DPC routine", 0xB8u, "ATTEMPTED_SWITCH_FROM_DPC", -1,
          "A DPC borrows whatever thread was running; it must never block it.",
          "In a DPC only poll (zero timeout); hand waiting work to a system thread or work item." },
        RULE_STATE, 0 },
    [RULE_WAIT_TOO_MANY_OBJECTS] = {
        { "wait.too_many_objects", "KeWaitForMultipleObjects",
          "Count > MAXIMUM_WAIT_OBJECTS (64), or Count > THREAD_WAIT_OBJECTS (3) without a "
          "WaitBlockArray", 0x0Cu, "MAXIMUM_WAIT_OBJECTS_EXCEEDED", -1,
          "The thread has wait blocks for three objects only; more need the caller's array, and "
          "no wait can take more than 64 objects.",
          "Pass a nonpaged array of Count KWAIT_BLOCKs for more than three objects; never more "
          "than 64." },
        RULE_STATE, 0 },
    [RULE_SET_EVENT_ABOVE_DISPATCH] = {
        { "event.set_above_dispatch", "KeSetEvent", "called above DISPATCH_LEVEL", C4, 0x80,
          "KeSetEvent takes the dispatcher lock, which works only up to DISPATCH_LEVEL.",
          "Queue a DPC from the ISR and set the event in the DPC." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_WAIT_TRUE_ABOVE_APC] = {
        { "ke.wait_true_above_apc", "KeSetEvent, KePulseEvent, KeReleaseMutex, KeReleaseSemaphore",
          "Wait = TRUE above APC_LEVEL", C4, 0x20016,
          "Wait = TRUE promises that a KeWaitXxx call follows at once, and waiting needs "
          "APC_LEVEL or below.",
          "Pass Wait = FALSE unless a wait really follows, at PASSIVE_LEVEL." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_DEADLOCK] = {
        { "sched.deadlock", "KeWaitForSingleObject, KeWaitForMultipleObjects, ExAcquireFastMutex, "
          "KeAcquireSpinLock (a lock whose owner ended)",
          "every simulated thread is blocked and no timeout or timer can wake any of them",
          0xE2u, "MANUALLY_INITIATED_CRASH", -1,
          "A real machine would hang here for ever, until someone broke in with a debugger or "
          "crashed it by hand (which is bug check 0xE2); the simulator does that for you and "
          "lists what every thread waits for.",
          "Look at the thread list: someone must set the event, release the mutex or end the "
          "thread that the others wait for." },
        RULE_STATE, 0 },
    [RULE_LIVELOCK] = {
        { "sched.livelock", "any DDI (a scheduling point of the controlled scheduler)",
          "a controlled schedule made more scheduling decisions than its bound without the scenario "
          "finishing, or one thread kept the turn without reaching a scheduling point for the "
          "watchdog's time",
          0xE2u, "MANUALLY_INITIATED_CRASH", -1,
          "Threads that keep running without ever blocking - polling a flag, retrying a lock-free "
          "operation - would spin on a real machine for ever too; the controlled scheduler counts "
          "its decisions and stops the schedule that exceeds the bound, with the decisions that led "
          "there.",
          "Wait for an event instead of polling (KeWaitForSingleObject), or delay between polls "
          "(KeDelayExecutionThread); if the scenario is just long, raise the bound "
          "(WDMSIM_SCHED_MAX_STEPS, WDMSIM_SCHED_WATCHDOG_SECONDS)." },
        RULE_STATE, 0 },
    [RULE_MUTEX_RELEASE_NOT_OWNER] = {
        { "mutex.release_not_owner", "KeReleaseMutex",
          "the calling thread does not own the mutex", 0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED",
          (long long)0xC0000046,
          "KeReleaseMutex raises STATUS_MUTANT_NOT_OWNED when the caller is not the owner; "
          "nobody handles it in kernel mode.",
          "Release a mutex only on the thread that acquired it, once per acquisition." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_MUTEX_RECURSION_LIMIT] = {
        { "mutex.recursion_limit", "KeWaitForSingleObject on a KMUTEX",
          "the owner acquired the mutex recursively MINLONG times", 0x1Eu,
          "KMODE_EXCEPTION_NOT_HANDLED", (long long)0xC0000191,
          "The recursion count would overflow; the kernel raises STATUS_MUTANT_LIMIT_EXCEEDED.",
          "Release the mutex once per acquisition; look for a loop that acquires without "
          "releasing." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_MUTEX_HELD_AT_THREAD_EXIT] = {
        { "mutex.held_at_thread_exit", "PsTerminateSystemThread, a start routine that returns",
          "the ending thread still owns a KMUTEX", 0x4000008Au, "THREAD_TERMINATE_HELD_MUTEX",
          -1, "Nobody could ever acquire the mutex again.",
          "Release every mutex before the thread ends, on every path out of the thread." },
        RULE_STATE, 0 },
    [RULE_FAST_MUTEX_ACQUIRE_ABOVE_APC] = {
        { "fast_mutex.acquire_above_apc", "ExAcquireFastMutex, ExTryToAcquireFastMutex, KeAcquireGuardedMutex, "
          "KeTryToAcquireGuardedMutex, KeReleaseGuardedMutex",
          "called above APC_LEVEL", C4, 0x33,
          "Acquiring may wait, and a thread can wait only at APC_LEVEL or below.",
          "Use a spin lock for data touched at DISPATCH_LEVEL." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_FAST_MUTEX_RELEASE_NOT_AT_APC] = {
        { "fast_mutex.release_not_at_apc", "ExReleaseFastMutex",
          "called at an IRQL other than APC_LEVEL", C4, 0x34,
          "Holding a fast mutex means running at APC_LEVEL; any other IRQL at release means the "
          "IRQL was changed while it was held.",
          "Do not raise or lower the IRQL while holding a fast mutex; release in reverse order." },
        RULE_IRQL_EXACTLY, APC_LEVEL },
    [RULE_FAST_MUTEX_RECURSIVE] = {
        { "fast_mutex.recursive_acquire", "ExAcquireFastMutex(Unsafe), KeAcquireGuardedMutex(Unsafe)",
          "the calling thread already owns the fast or guarded mutex", C4, 0x1000,
          "Fast mutexes are not recursive: the thread would wait for itself for ever.",
          "Use a KMUTEX if you need recursion, or restructure so the lock is taken once." },
        RULE_STATE, 0 },
    [RULE_FAST_MUTEX_RELEASE_NOT_OWNER] = {
        { "fast_mutex.release_not_owner", "ExReleaseFastMutex(Unsafe), KeReleaseGuardedMutex(Unsafe)",
          "the calling thread does not own the fast or guarded mutex", C4, 0x1004,
          "Releasing a fast mutex another thread holds (or nobody holds) breaks its exclusion.",
          "Release it on the thread that acquired it, exactly once." },
        RULE_STATE, 0 },
    [RULE_SEMAPHORE_LIMIT_EXCEEDED] = {
        { "semaphore.limit_exceeded", "KeReleaseSemaphore",
          "the count would go above the semaphore's limit", 0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED",
          (long long)0xC0000047,
          "KeReleaseSemaphore raises STATUS_SEMAPHORE_LIMIT_EXCEEDED and leaves the count "
          "unchanged; nobody handles it in kernel mode.",
          "Release only what was acquired; check the Adjustment and the Limit given to "
          "KeInitializeSemaphore." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_DPC_CHANGED_IRQL] = {
        { "dpc.changed_irql", "a DPC routine (KDEFERRED_ROUTINE)",
          "the routine returned at an IRQL other than DISPATCH_LEVEL", 0xC8u,
          "IRQL_UNEXPECTED_VALUE", -1,
          "A DPC runs at DISPATCH_LEVEL and must return there; the kernel goes on running the "
          "next DPC at whatever IRQL it finds.",
          "Balance every KeRaiseIrql/KeAcquireSpinLock in the DPC with its lower/release." },
        RULE_STATE, 0 },
    [RULE_PS_NOT_PASSIVE] = {
        { "ps.not_passive", "PsCreateSystemThread, PsTerminateSystemThread, KeSetPriorityThread, "
          "KeFlushQueuedDpcs",
          "called above PASSIVE_LEVEL", C4, 0x2001C,
          "Creating, ending and reprioritising threads need PASSIVE_LEVEL.",
          "Call them from DriverEntry, a system thread or a work item, not under a lock." },
        RULE_IRQL_AT_MOST, PASSIVE_LEVEL },
    [RULE_PS_LOOKUP_ABOVE_APC] = {
        { "ps.lookup_above_apc", "PsLookupProcessByProcessId, PsLookupThreadByThreadId",
          "called above APC_LEVEL", C4, 0x20024,
          "The lookups take the process and thread tables' locks, which need APC_LEVEL or below "
          "(Verifier's IrqlNtifsApcPassive).",
          "Look the object up at PASSIVE_LEVEL and keep the reference while you use it." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_OB_NOT_PASSIVE] = {
        { "ob.not_passive", "ObReferenceObjectByHandle, ObOpenObjectByPointer", "called above PASSIVE_LEVEL",
          C4, 0x2001B,
          "Handle tables are looked up and changed at PASSIVE_LEVEL only.",
          "Reference the object once at PASSIVE_LEVEL and keep the pointer." },
        RULE_IRQL_AT_MOST, PASSIVE_LEVEL },
    [RULE_ZW_NOT_PASSIVE] = {
        { "zw.not_passive", "ZwClose, ObCloseHandle, ZwWaitForSingleObject, ZwQueryInformationProcess", "called above PASSIVE_LEVEL", C4, 0x2001F,
          "Zw calls run at PASSIVE_LEVEL only (and in the right process).",
          "Make Zw calls from a system thread or work item, as DebugPrint's thread does." },
        RULE_IRQL_AT_MOST, PASSIVE_LEVEL },
    [RULE_OB_NOT_AN_OBJECT] = {
        { "ob.not_an_object", "ObReferenceObject, ObReferenceObjectByPointer, ObDereferenceObject",
          "the pointer is not an object the object manager knows (often the address of a "
          "variable that holds the object pointer)", C4, 0x3F,
          "The object manager would treat random memory as an object header and corrupt it.",
          "Pass the object pointer itself (ObDereferenceObject(Thread), not &Thread)." },
        RULE_STATE, 0 },
    [RULE_HANDLE_USER_AS_KERNEL] = {
        { "handle.user_handle_as_kernel", "ObReferenceObjectByHandle, and the Zw calls that take a handle",
          "driver code refers to a handle opened without OBJ_KERNEL_HANDLE, as KernelMode, in a process "
          "other than System (an application's, when a dispatch routine runs in its caller's context)",
          C4, 0xF6,
          "Such a handle is an entry of the current process's table: in an application's process it "
          "names nothing, or an object of the application's own (parameters: the handle, the current "
          "process, 0). Without Driver Verifier the call fails with STATUS_INVALID_HANDLE, or worse, "
          "succeeds on the wrong object.",
          "Open a handle the driver keeps with OBJ_KERNEL_HANDLE (InitializeObjectAttributes), or use it "
          "only from a system thread, which runs in the System process; reference a handle an "
          "application passed with UserMode." },
        RULE_STATE, 0 },
    [RULE_OB_COUNT_ZERO] = {
        { "ob.reference_count_zero", "ObReferenceObject, ObDereferenceObject",
          "the object's reference count is already zero", C4, 0x3F,
          "The object is already deleted: one dereference too many, or a reference taken after "
          "the last one was dropped.",
          "Pair every ObReferenceObject(ByHandle) with exactly one ObDereferenceObject." },
        RULE_STATE, 0 },
    [RULE_WORKER_RETURNED_AT_BAD_IRQL] = {
        { "worker.returned_at_bad_irql", "a work item routine (WORKER_THREAD_ROUTINE)",
          "the routine returned above PASSIVE_LEVEL", 0xE1u, "WORKER_THREAD_RETURNED_AT_BAD_IRQL",
          -1, "The next work item on this system thread would run at a raised IRQL.",
          "Release every spin lock and lower every raised IRQL before returning." },
        RULE_STATE, 0 },
    [RULE_WORKER_RETURNED_WITH_APCS_DISABLED] = {
        { "worker.returned_with_apcs_disabled", "a work item routine (WORKER_THREAD_ROUTINE)",
          "the routine returned holding a mutex or fast mutex, or inside a critical or guarded region",
          0x01u, "APC_INDEX_MISMATCH", -1,
          "A held mutex or fast mutex, or an entered region, leaves APCs disabled on a shared "
          "system thread.",
          "Release every mutex and fast mutex, and leave every region, before the routine returns." },
        RULE_STATE, 0 },
    [RULE_WORK_ITEM_QUEUED_TWICE] = {
        { "worker.item_queued_twice", "ExQueueWorkItem, IoQueueWorkItem",
          "the work item is already queued and has not run yet", 0xE4u, "WORKER_INVALID", 1,
          "Queuing an item twice corrupts the work queue's list.",
          "Queue an item again only after its routine has started running." },
        RULE_STATE, 0 },
    [RULE_WORKER_THREAD_TERMINATED] = {
        { "worker.thread_terminated", "PsTerminateSystemThread",
          "called from a work item, on a system worker thread", 0xE9u, "ACTIVE_EX_WORKER_THREAD_TERMINATION", -1,
          "Worker threads belong to the system, which runs every driver's work items on them; ending "
          "one takes it from everybody.",
          "Return from the work item routine; to end your own thread, create it with "
          "PsCreateSystemThread." },
        RULE_STATE, 0 },
    [RULE_IO_NOT_AN_IRP] = {
        { "io.not_an_irp", "IoCallDriver, IoCompleteRequest, IoCancelIrp",
          "the pointer is not an IRP the I/O manager made", 0xC9u, "DRIVER_VERIFIER_IOMANAGER_VIOLATION", 0x03,
          "Passing something that is not an IRP corrupts whatever memory it points at.",
          "Pass the PIRP your dispatch routine received (or one you allocated with IoAllocateIrp)." },
        RULE_STATE, 0 },
    [RULE_IO_IRP_COMPLETED_TWICE] = {
        { "io.irp_completed_twice", "IoCompleteRequest, IoCallDriver",
          "the IRP was already completed", 0x44u, "MULTIPLE_IRP_COMPLETE_REQUESTS", -1,
          "Once completed, an IRP belongs to its originator again and may already be freed or reused.",
          "Complete each IRP exactly once, and never touch it after IoCompleteRequest: copy what you "
          "need first. With a cancel routine, make sure only one of the two paths completes it." },
        RULE_STATE, 0 },
    [RULE_IO_NOT_A_DEVICE] = {
        { "io.not_a_device",
          "IoCallDriver, IoDeleteDevice, IoStartPacket, IoStartNextPacket(ByKey), IoSetStartIoAttributes",
          "the pointer is not a device object", 0xC9u, "DRIVER_VERIFIER_IOMANAGER_VIOLATION", 0x04,
          "The I/O manager would call through garbage as if it were a driver's dispatch table.",
          "Pass the DEVICE_OBJECT from IoCreateDevice or IoAttachDeviceToDeviceStack." },
        RULE_STATE, 0 },
    [RULE_IO_DEVICE_DELETED_TWICE] = {
        { "io.device_deleted_twice", "IoDeleteDevice", "the device was already deleted", 0xC9u,
          "DRIVER_VERIFIER_IOMANAGER_VIOLATION", 0x240,
          "Deleting a device twice frees it twice.",
          "Delete each device once, usually in Unload or IRP_MN_REMOVE_DEVICE." },
        RULE_STATE, 0 },
    [RULE_IO_ABOVE_APC] = {
        { "io.above_apc", "IoCreateDevice, IoDeleteDevice, IoAttachDeviceToDeviceStack, IoDetachDevice",
          "called above APC_LEVEL", C4, 0x20009,
          "These DDIs allocate and free paged structures and take locks that need APC_LEVEL or below.",
          "Create and delete devices in DriverEntry, AddDevice, PnP handlers or Unload." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_IO_NOT_PASSIVE] = {
        { "io.not_passive", "IoCreateSymbolicLink, IoDeleteSymbolicLink, IoRegisterDeviceInterface, "
          "IoSetDeviceInterfaceState, IoCreateNotificationEvent, IoCreateSynchronizationEvent, "
          "IoOpenDeviceRegistryKey, IoGetDeviceProperty",
          "called above PASSIVE_LEVEL", C4, 0x2000A,
          "These DDIs work on the object name space, which needs PASSIVE_LEVEL.",
          "Call them from DriverEntry, AddDevice, PnP handlers or Unload." },
        RULE_IRQL_AT_MOST, PASSIVE_LEVEL },
    [RULE_IO_CALL_ABOVE_DISPATCH] = {
        { "io.call_above_dispatch", "IoCallDriver, IoCancelIrp", "called above DISPATCH_LEVEL", 0xC9u,
          "DRIVER_VERIFIER_IOMANAGER_VIOLATION", 0x10,
          "Dispatch routines run at DISPATCH_LEVEL at most.",
          "Pass the IRP on from a DPC or from PASSIVE_LEVEL." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_IO_NO_MORE_STACK_LOCATIONS] = {
        { "io.no_more_stack_locations", "IoCallDriver",
          "the IRP has no stack location left for the next driver", 0x35u, "NO_MORE_IRP_STACK_LOCATIONS", -1,
          "Every driver in a stack needs its own IO_STACK_LOCATION; this IRP was built too small, or "
          "passed down twice without IoSkipCurrentIrpStackLocation.",
          "Set StackSize right (IoAttachDeviceToDeviceStack does it); call IoCallDriver once per "
          "stack location." },
        RULE_STATE, 0 },
    [RULE_IO_DISPATCH_CHANGED_IRQL] = {
        { "io.dispatch_changed_irql", "a dispatch routine (DRIVER_DISPATCH)",
          "returned at another IRQL than it was called at", 0xC9u, "DRIVER_VERIFIER_IOMANAGER_VIOLATION", 0x05,
          "The caller goes on at the wrong IRQL: a raise or spin lock was left unbalanced.",
          "Pair every KeRaiseIrql/KeAcquireSpinLock in the routine with its lower/release on every path." },
        RULE_STATE, 0 },
    [RULE_IO_DISPATCH_HELD_SPIN_LOCK] = {
        { "io.dispatch_held_spin_lock", "a dispatch routine (DRIVER_DISPATCH)",
          "returned holding a spin lock", C4, 0x40009,
          "Every spin lock taken in a dispatch routine must be released before it returns.",
          "Release the lock on every path out of the routine, including error paths." },
        RULE_STATE, 0 },
    [RULE_IO_DISPATCH_HELD_MUTEX] = {
        { "io.dispatch_held_mutex", "a dispatch routine (DRIVER_DISPATCH)",
          "returned holding a mutex or fast mutex, or with a critical or guarded region unbalanced",
          C4, 0xC5,
          "A held mutex or an entered region leaves APCs disabled in the caller's thread (its "
          "APC-disable count changed across the call).",
          "Release every KMUTEX and FAST_MUTEX, and leave every region entered, before the routine "
          "returns." },
        RULE_STATE, 0 },
    [RULE_IO_PENDING_NOT_MARKED] = {
        { "io.pending_not_marked", "a dispatch routine (DRIVER_DISPATCH)",
          "returned STATUS_PENDING without IoMarkIrpPending", 0xC9u, "DRIVER_VERIFIER_IOMANAGER_VIOLATION", 0x23D,
          "Without the pending mark the I/O manager does not wait for the later completion, so the "
          "caller sees the IRP finish early and its results are lost.",
          "Call IoMarkIrpPending(Irp) before queuing the IRP and returning STATUS_PENDING." },
        RULE_STATE, 0 },
    [RULE_IO_COMPLETE_ABOVE_DISPATCH] = {
        { "io.complete_above_dispatch", "IoCompleteRequest", "called above DISPATCH_LEVEL", 0xC9u,
          "DRIVER_VERIFIER_IOMANAGER_VIOLATION", 0x0E,
          "Completion runs completion routines, which may run at DISPATCH_LEVEL at most.",
          "Complete IRPs from a DPC, not from an ISR." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_IO_COMPLETE_PENDING_STATUS] = {
        { "io.complete_with_pending_status", "IoCompleteRequest",
          "IoStatus.Status is STATUS_PENDING (or -1)", 0xC9u, "DRIVER_VERIFIER_IOMANAGER_VIOLATION", 0x06,
          "A completed IRP needs its final status; STATUS_PENDING would tell the caller to wait again.",
          "Set Irp->IoStatus.Status to the real result before IoCompleteRequest." },
        RULE_STATE, 0 },
    [RULE_IO_COMPLETE_WITH_CANCEL_ROUTINE] = {
        { "io.complete_with_cancel_routine", "IoCompleteRequest",
          "the IRP still has a cancel routine", 0xC9u, "DRIVER_VERIFIER_IOMANAGER_VIOLATION", 0x07,
          "The cancel routine could still run after completion, on an IRP the driver no longer owns.",
          "Clear it with IoSetCancelRoutine(Irp, NULL) first; if that returns NULL, the cancel routine "
          "owns the IRP and will complete it." },
        RULE_STATE, 0 },
    [RULE_DRIVER_LEFT_PENDING_OPERATIONS] = {
        { "driver.unload_pending_operations", "DriverUnload, DriverEntry (wdmsim_driver_unload, wdmsim_driver_load)",
          "after DriverUnload, or a DriverEntry that failed, a system thread, set timer, queued DPC, queued "
          "work item or device of the driver is still alive",
          0xCEu, "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS", -1,
          "Once the driver's image is gone each of these runs code or touches memory that no longer "
          "exists: Windows stops when one fires (0xCE), or at unload for a timer or DPC inside the image "
          "(0xC7). The simulator stops at unload and lists them all (parameters: the routine or object "
          "referenced, 0, the object that references it, 0).",
          "Undo everything before Unload returns, and on DriverEntry's error paths: KeCancelTimer then "
          "KeFlushQueuedDpcs, tell each system thread to end and wait for its thread object, wait for "
          "queued work items to finish, IoDeleteDevice every device." },
        RULE_STATE, 0 },
    [RULE_DRIVER_LEFT_POOL] = {
        { "driver.unload_leaked_pool", "DriverUnload, DriverEntry (wdmsim_driver_unload, wdmsim_driver_load)",
          "after DriverUnload, or a DriverEntry that failed, pool the driver allocated is still allocated",
          C4, 0x62,
          "Driver Verifier's pool tracking: memory that no code of the driver can free any more is lost "
          "until reboot (parameters: the driver's name, its record, the number of blocks).",
          "Free each allocation on the path that undoes what made it: Unload for DriverEntry's and "
          "AddDevice's, DriverEntry's own error path for what it allocated before failing." },
        RULE_STATE, 0 },
    [RULE_DRIVER_LEFT_REFERENCES] = {
        { "driver.unload_leaked_references", "DriverUnload, DriverEntry (wdmsim_driver_unload, wdmsim_driver_load)",
          "after DriverUnload, or a DriverEntry that failed, a handle the driver opened is still open, or "
          "an object it created still holds references it took",
          C4, 0x62,
          "Each handle and reference keeps an object, and its pool, alive with nobody left to release it. "
          "Windows has no stop of its own for this; the simulator reports it as Verifier reports leaked "
          "pool, counting handles and references.",
          "ZwClose every handle and ObDereferenceObject every reference from ObReferenceObject(ByHandle) "
          "before Unload returns, passing the object pointer itself, not its address." },
        RULE_STATE, 0 },
    [RULE_DRIVER_INIT_TOUCHED] = {
        { "driver.init_discarded_touched", "any access to a driver's INIT section",
          "the driver's code read, wrote or ran something in its section INIT after DriverEntry returned",
          0x50u, "PAGE_FAULT_IN_NONPAGED_AREA", -1,
          "Windows frees the pages of a section named INIT once DriverEntry returns, so a pointer kept "
          "into them (a name, a table) points at nothing (parameters: the address, 0 read / 2 write / "
          "0x10 execute, the instruction, 0).",
          "Copy what must outlive DriverEntry to nonpaged pool or to a global outside INIT, as "
          "DebugPrintInit copies the driver's name; put in INIT only what DriverEntry alone uses." },
        RULE_STATE, 0 },
    [RULE_DRIVER_INIT_TOUCHED_AT_DISPATCH] = {
        { "driver.init_discarded_touched_at_dispatch", "any access to a driver's INIT section",
          "the same at DISPATCH_LEVEL or above: in a DPC, or holding a spin lock",
          0xD1u, "DRIVER_IRQL_NOT_LESS_OR_EQUAL", -1,
          "At DISPATCH_LEVEL a fault on an invalid address cannot even be resolved, so Windows reports "
          "the IRQL (parameters: the address, the IRQL, 0 read / 1 write / 8 execute, the instruction).",
          "Copy what must outlive DriverEntry to nonpaged pool or to a global outside INIT; put in INIT "
          "only what DriverEntry alone uses." },
        RULE_STATE, 0 },
    [RULE_ZW_FILE_NOT_PASSIVE] = {
        { "zw.file_not_passive",
          "ZwCreateFile, ZwOpenFile, ZwReadFile, ZwWriteFile, ZwDeviceIoControlFile, ZwQueryInformationFile, "
          "ZwSetInformationFile, ZwFlushBuffersFile",
          "called above PASSIVE_LEVEL", C4, 0xE6,
          "File I/O waits for the driver and runs its dispatch routines in the caller's thread, which "
          "needs PASSIVE_LEVEL. Driver Verifier's check of every Zw call (0xE6) reports it; ZwClose "
          "keeps its own DDI rule, IrqlZwPassive.",
          "Hand the I/O to a system thread or a work item (IoQueueWorkItem) and make the Zw calls there, "
          "as DebugPrint's thread does." },
        RULE_IRQL_AT_MOST, PASSIVE_LEVEL },
    [RULE_IO_DISPATCH_NOT_COMPLETED] = {
        { "io.dispatch_returned_without_completing", "a dispatch routine (DRIVER_DISPATCH)",
          "returned a status other than STATUS_PENDING, but the IRP was neither completed nor passed "
          "on to a driver that completed it", 0xC9u, "DRIVER_VERIFIER_IOMANAGER_VIOLATION", 0x226,
          "The caller takes the returned status as final, but the IRP is still out: its buffers are "
          "freed while the driver may still complete into them, and nobody waits for that completion. "
          "Driver Verifier's I/O verification reports it with this code (parameters: the dispatch "
          "routine, the IRP, 0).",
          "On every path either IoCompleteRequest the IRP and return its status, or IoCallDriver it and "
          "return what that returns, or IoMarkIrpPending it and return STATUS_PENDING. A completion "
          "routine that returns STATUS_MORE_PROCESSING_REQUIRED must complete the IRP again itself." },
        RULE_STATE, 0 },
    [RULE_IO_WORK_ITEM_ABOVE_DISPATCH] = {
        { "io.work_item_above_dispatch", "IoAllocateWorkItem, IoQueueWorkItem, IoFreeWorkItem",
          "called above DISPATCH_LEVEL", C4, 0x20022,
          "IoAllocateWorkItem takes nonpaged pool and the other two take the work queue's lock, which "
          "work only up to DISPATCH_LEVEL: the DDI rule for I/O routines limited to DISPATCH_LEVEL "
          "(IrqlIoDispatch) reports it.",
          "Queue the work item from a DPC, not from an ISR." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_IO_WORK_ITEM_FREED_QUEUED] = {
        { "worker.item_freed_while_queued", "IoFreeWorkItem",
          "the work item is queued and its routine has not started yet", 0xE4u, "WORKER_INVALID", 0,
          "The worker thread will take the freed item off its queue and call through freed memory "
          "(parameters: the item, the start and the end of its memory).",
          "Free a work item only when it is not queued: in its own routine, or after the routine "
          "signalled that it ran (wait for that in Unload)." },
        RULE_STATE, 0 },
    [RULE_PROCESS_ATTACH_IN_DPC] = {
        { "process.attach_in_dpc", "KeStackAttachProcess", "called from a DPC routine",
          0x05u, "INVALID_PROCESS_ATTACH_ATTEMPT", -1,
          "A DPC runs on whatever thread the processor was running; switching that thread to another "
          "process would pull the address space from under the code the DPC interrupted (parameters: "
          "the target process, the current process, 1 if already attached, 1 = in a DPC).",
          "Attach at PASSIVE_LEVEL: queue a work item, or let a system thread do the work." },
        RULE_STATE, 0 },
    [RULE_PROCESS_ATTACH_ABOVE_APC] = {
        { "process.attach_above_apc", "KeStackAttachProcess", "called above APC_LEVEL",
          0x05u, "INVALID_PROCESS_ATTACH_ATTEMPT", -1,
          "Attaching switches the thread's address space and may wait for the process to be paged in, "
          "which needs an IRQL below DISPATCH_LEVEL. Windows stops for certain in a DPC; the simulator "
          "stops for any attach above APC_LEVEL (parameters as in a DPC, with 0 as the last).",
          "Release spin locks and lower the IRQL before attaching; keep the attached stretch short." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_PROCESS_ATTACH_NOT_A_PROCESS] = {
        { "process.attach_not_a_process", "KeStackAttachProcess",
          "the Process argument is not a live process object (often the HANDLE ZwOpenProcess returned, "
          "or a process already deleted)",
          0x50u, "PAGE_FAULT_IN_NONPAGED_AREA", -1,
          "KeStackAttachProcess reads the EPROCESS it is given to switch address spaces; a handle or a "
          "freed process is no EPROCESS, and Windows faults on it or switches to garbage (parameters: "
          "the Process argument, 0 read, 0, 0).",
          "Pass a referenced PEPROCESS: ObReferenceObjectByHandle(handle, ..., *PsProcessType, ...) or "
          "PsLookupProcessByProcessId, and keep the reference until after KeUnstackDetachProcess." },
        RULE_STATE, 0 },
    [RULE_PROCESS_DETACH_ABOVE_APC] = {
        { "process.detach_above_apc", "KeUnstackDetachProcess", "called above APC_LEVEL",
          0x06u, "INVALID_PROCESS_DETACH_ATTEMPT", -1,
          "Detaching switches the address space back, which needs an IRQL below DISPATCH_LEVEL, as "
          "attaching does.",
          "Release spin locks and lower the IRQL before detaching, to the IRQL you attached at." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_PROCESS_DETACH_NOT_ATTACHED] = {
        { "process.detach_not_attached", "KeUnstackDetachProcess",
          "the thread is not attached to another process", 0x06u, "INVALID_PROCESS_DETACH_ATTEMPT", -1,
          "There is no context to go back to: this detach has no KeStackAttachProcess, or its attach "
          "was detached already.",
          "Pair every KeStackAttachProcess with exactly one KeUnstackDetachProcess, passing the same "
          "KAPC_STATE." },
        RULE_STATE, 0 },
    [RULE_PROCESS_DETACH_OUT_OF_ORDER] = {
        { "process.detach_out_of_order", "KeUnstackDetachProcess",
          "ApcState is not the one the thread's latest KeStackAttachProcess filled",
          0x06u, "INVALID_PROCESS_DETACH_ATTEMPT", -1,
          "Attaches nest like a stack: each KAPC_STATE holds the context its attach replaced, so "
          "detaching out of order would leave the thread in a process nobody meant it to be in.",
          "Detach in the reverse order of attaching, each time with that attach's own KAPC_STATE." },
        RULE_STATE, 0 },
    [RULE_PROCESS_ATTACHED_AT_THREAD_EXIT] = {
        { "process.attached_at_thread_exit", "PsTerminateSystemThread, a thread routine that returns",
          "the thread ends while attached to another process", 0x05u, "INVALID_PROCESS_ATTACH_ATTEMPT", -1,
          "A thread must end in its own process; this one left a KeStackAttachProcess without its "
          "KeUnstackDetachProcess (parameters: the thread's process, the attached process, 1, the "
          "thread).",
          "Call KeUnstackDetachProcess on every path out of the code that attached, error paths too." },
        RULE_STATE, 0 },
    [RULE_CRASH_ACCESS_VIOLATION] = {
        { "crash.access_violation", "any code of a simulated thread",
          "an instruction read, wrote or ran an address in the first 64 KB: a NULL pointer, or a field of one",
          0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED", (long long)0xC0000005,
          "Windows maps nothing there, so the access raises STATUS_ACCESS_VIOLATION, and kernel code "
          "has nobody to handle it (parameters: the exception code, the instruction, 0 read / 1 write "
          "/ 8 execute, the address).",
          "Check what may be NULL before using it: a failed allocation, a lookup that found nothing, an "
          "optional argument; the backtrace names the code that used it." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_CRASH_PAGE_FAULT] = {
        { "crash.page_fault", "any code of a simulated thread",
          "an instruction touched an address with nothing valid there: freed, unmapped or protected memory",
          0x50u, "PAGE_FAULT_IN_NONPAGED_AREA", -1,
          "The page fault handler finds no page to bring in for a kernel address (parameters: the "
          "address, 0 read / 2 write / 0x10 execute, the instruction, 0).",
          "Look for a pointer kept after the memory went: pool freed, a stack frame returned from, a "
          "driver unloaded; or for an index past the end of a buffer." },
        RULE_STATE, 0 },
    [RULE_CRASH_PAGE_FAULT_AT_DISPATCH] = {
        { "crash.page_fault_at_dispatch", "any code of a simulated thread",
          "the same, or a NULL pointer, at DISPATCH_LEVEL or above: in a DPC, or holding a spin lock",
          0xD1u, "DRIVER_IRQL_NOT_LESS_OR_EQUAL", -1,
          "At DISPATCH_LEVEL the page fault handler cannot run at all, so any bad access stops the "
          "machine with the IRQL (parameters: the address, the IRQL, 0 read / 1 write / 8 execute, "
          "the instruction).",
          "Find the bad pointer as for a page fault; and touch only nonpaged memory at DISPATCH_LEVEL." },
        RULE_STATE, 0 },
    [RULE_CRASH_ILLEGAL_INSTRUCTION] = {
        { "crash.illegal_instruction", "any code of a simulated thread",
          "the processor met an instruction it cannot run (often a jump through a garbage pointer, or "
          "a compiler's trap for undefined behaviour)",
          0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED", (long long)0xC000001D,
          "The processor raises STATUS_ILLEGAL_INSTRUCTION, which nobody handles in kernel mode "
          "(parameters: the exception code, the instruction, 0, 0).",
          "Check function pointers (dispatch tables, callbacks) and look for undefined behaviour the "
          "compiler turned into a trap." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_CRASH_INTEGER_DIVIDE_BY_ZERO] = {
        { "crash.integer_divide_by_zero", "any code of a simulated thread", "an integer division by zero",
          0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED", (long long)0xC0000094,
          "The processor raises STATUS_INTEGER_DIVIDE_BY_ZERO, which nobody handles in kernel mode "
          "(parameters: the exception code, the instruction, 0, 0).",
          "Check the divisor first, above all one that comes from a caller, a device or a length." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_CRASH_INTEGER_OVERFLOW] = {
        { "crash.integer_overflow", "any code of a simulated thread",
          "an integer division overflowed (the most negative number divided by -1)",
          0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED", (long long)0xC0000095,
          "The processor raises STATUS_INTEGER_OVERFLOW, which nobody handles in kernel mode "
          "(parameters: the exception code, the instruction, 0, 0).",
          "Check the operands of a signed division that can come from outside." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_CRASH_FLOAT] = {
        { "crash.float", "any code of a simulated thread", "a floating-point operation trapped",
          0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED", (long long)0xC0000090,
          "A floating-point exception nobody handles in kernel mode (parameters: the exception code, "
          "the instruction, 0, 0); Windows drivers must also save the floating-point state "
          "(KeSaveFloatingPointState) to use it at all.",
          "Avoid floating point in the driver, or check its operands." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_CRASH_IN_PAGE_ERROR] = {
        { "crash.in_page_error", "any code of a simulated thread",
          "an access the memory system could not complete (SIGBUS: a mapping past its file's end, or a "
          "misaligned access the processor refuses)",
          0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED", (long long)0xC0000006,
          "The access raises STATUS_IN_PAGE_ERROR, which nobody handles in kernel mode (parameters: "
          "the exception code, the instruction, 0 read / 1 write / 8 execute, the address).",
          "Check the mapping or the alignment of the pointer the backtrace names." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_CRASH_STACK_OVERFLOW] = {
        { "crash.stack_overflow", "any code of a simulated thread",
          "the thread ran off the end of its stack: deep or endless recursion, or large locals",
          0x7Fu, "UNEXPECTED_KERNEL_MODE_TRAP", 8,
          "A kernel stack is small (12 to 24 KB on Windows) and cannot grow; running past it is a "
          "double fault, trap 8 (parameters: 8, the address, the instruction, 0).",
          "Make the recursion iterative, and put large buffers in pool instead of on the stack." },
        RULE_STATE, 0 },
    [RULE_DEBUG_ASSERTION_FAILED] = {
        { "debug.assertion_failed", "ASSERT, ASSERTMSG, NT_ASSERT, NT_ASSERTMSG, NT_VERIFY, RtlAssert",
          "the asserted expression is false", 0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED", (long long)0x80000003,
          "A failed assertion breaks into the kernel debugger; with none attached, the breakpoint "
          "(STATUS_BREAKPOINT) is an exception nobody handles. The report names the expression, "
          "file and line.",
          "Fix the condition the assertion guards; an assertion states what must always hold, so "
          "never use one to check input that may legitimately be wrong." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_DEBUG_BREAKPOINT] = {
        { "debug.breakpoint", "DbgBreakPoint, DbgBreakPointWithStatus, KdBreakPoint",
          "no kernel debugger is attached", 0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED", (long long)0x80000003,
          "A breakpoint without a kernel debugger is an exception (STATUS_BREAKPOINT) nobody "
          "handles.",
          "Remove the breakpoint from code that runs without a debugger attached, or use "
          "DbgPrintEx to report the condition instead." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_DEBUG_UNICODE_ABOVE_PASSIVE] = {
        { "debug.unicode_format_above_passive", "DbgPrint, DbgPrintEx, vDbgPrintEx, vDbgPrintExWithPrefix, "
          "KdPrint, KdPrintEx", "a Unicode format code (%wZ, %ws, %S, %ls, %wc, %C, %lc) above PASSIVE_LEVEL",
          0x0Au, "IRQL_NOT_LESS_OR_EQUAL", -1,
          "Converting a Unicode argument uses the code page tables, which are pageable; above "
          "PASSIVE_LEVEL the page fault that may bring them in cannot be served.",
          "Print Unicode strings only at PASSIVE_LEVEL; at DISPATCH_LEVEL print a copy converted "
          "beforehand, or only the length and address." },
        RULE_IRQL_AT_MOST, PASSIVE_LEVEL },
    [RULE_PAGED_CODE_ABOVE_APC] = {
        { "irql.paged_code_above_apc", "PAGED_CODE",
          "pageable code entered above APC_LEVEL", 0xD1u, "DRIVER_IRQL_NOT_LESS_OR_EQUAL", -1,
          "PAGED_CODE() marks a routine in a pageable section; above APC_LEVEL a page fault on "
          "its code cannot be served, and Driver Verifier's IRQL checking pages such code out so "
          "that the fault happens every time (parameters: the code, the IRQL, 8 = execute, the "
          "instruction).",
          "Do not call the routine from a DPC, a spin-locked region or other code above APC_LEVEL: "
          "queue a work item, or move the routine out of the pageable section and drop its "
          "PAGED_CODE()." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_CRITICAL_REGION_ENTER_ABOVE_APC] = {
        { "region.critical_enter_above_apc", "KeEnterCriticalRegion", "called above APC_LEVEL", C4, 0x11A,
          "A critical region keeps normal kernel APCs from interrupting a thread at PASSIVE_LEVEL; "
          "above APC_LEVEL no APC can run anyway, and the call means the IRQL is not what the "
          "code assumes.",
          "Enter the region at PASSIVE_LEVEL, before raising the IRQL or taking a spin lock." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_CRITICAL_REGION_LEAVE_ABOVE_APC] = {
        { "region.critical_leave_above_apc", "KeLeaveCriticalRegion", "called above APC_LEVEL", C4, 0x11B,
          "Leaving may deliver the normal kernel APCs that waited, which cannot run above "
          "APC_LEVEL.",
          "Release spin locks and lower the IRQL before leaving the critical region." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_CRITICAL_REGION_UNBALANCED] = {
        { "region.critical_leave_unbalanced", "KeLeaveCriticalRegion",
          "the thread is in no critical region", C4, 0x3E,
          "Each KeLeaveCriticalRegion must match an earlier KeEnterCriticalRegion of the same "
          "thread; an extra one re-enables APCs under whoever entered the region.",
          "Leave exactly once per enter, on the same thread, on every path." },
        RULE_STATE, 0 },
    [RULE_GUARDED_REGION_ABOVE_APC] = {
        { "region.guarded_above_apc", "KeEnterGuardedRegion, KeLeaveGuardedRegion",
          "called above APC_LEVEL", C4, 0x4000E,
          "Guarded regions are for code at PASSIVE_LEVEL or APC_LEVEL; above it every APC is "
          "disabled by the IRQL already, and the call means the IRQL is not what the code "
          "assumes. (No Verifier subcode of its own is documented: this one is the "
          "GuardedRegions rule's.)",
          "Enter and leave the guarded region at APC_LEVEL or below." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_GUARDED_REGION_UNBALANCED] = {
        { "region.guarded_leave_unbalanced", "KeLeaveGuardedRegion",
          "the thread is in no guarded region", C4, 0x4000E,
          "KeEnterGuardedRegion and KeLeaveGuardedRegion must alternate on each thread (the "
          "GuardedRegions rule); an extra leave re-enables special kernel APCs under whoever "
          "entered the region.",
          "Leave exactly once per enter, on the same thread, on every path." },
        RULE_STATE, 0 },
    [RULE_REGION_HELD_AT_THREAD_EXIT] = {
        { "region.held_at_thread_exit", "PsTerminateSystemThread, a thread routine that returns",
          "the thread ends inside a critical or guarded region", 0x20u, "KERNEL_APC_PENDING_DURING_EXIT", -1,
          "A thread must end with APCs enabled, or the APCs that run it down could never be "
          "delivered (parameters: 0, the APC-disable count, the IRQL).",
          "Call KeLeaveCriticalRegion / KeLeaveGuardedRegion on every path out of the code that "
          "entered the region." },
        RULE_STATE, 0 },
    [RULE_RESOURCE_ACQUIRE_ABOVE_APC] = {
        { "resource.acquire_above_apc", "ExAcquireResourceExclusiveLite, ExAcquireResourceSharedLite, "
          "ExAcquireSharedStarveExclusive, ExAcquireSharedWaitForExclusive",
          "called above APC_LEVEL", C4, 0x20007,
          "Acquiring may wait, and a thread can wait only at APC_LEVEL or below (the IrqlExApcLte3 "
          "rule).",
          "Acquire the resource at PASSIVE_LEVEL inside a critical region; data touched at "
          "DISPATCH_LEVEL needs a spin lock instead." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_RESOURCE_APCS_ENABLED] = {
        { "resource.acquire_with_apcs_enabled", "ExAcquireResourceExclusiveLite, ExAcquireResourceSharedLite, "
          "ExAcquireSharedStarveExclusive, ExAcquireSharedWaitForExclusive",
          "normal kernel APCs are enabled: no critical or guarded region, no KMUTEX held, below APC_LEVEL",
          C4, 0x37,
          "A thread holding a resource must not be suspended by an APC (parameters: the IRQL, "
          "the thread's APC-disable count, the resource), or every other thread that needs the "
          "resource waits with it.",
          "Call KeEnterCriticalRegion before acquiring and KeLeaveCriticalRegion after releasing, "
          "or use ExEnterCriticalRegionAndAcquireResourceExclusive and "
          "ExReleaseResourceAndLeaveCriticalRegion." },
        RULE_STATE, 0 },
    [RULE_RESOURCE_NOT_INITIALIZED] = {
        { "resource.not_initialized", "ExAcquire*Resource*, ExAcquireShared*, ExRelease*Resource*, "
          "ExConvertExclusiveToSharedLite, ExSetResourceOwnerPointer, ExIsResourceAcquired*, "
          "ExGet*WaiterCount, ExReinitializeResourceLite",
          "the ERESOURCE was not set up by ExInitializeResourceLite, or was deleted", C4, 0x1002,
          "An ERESOURCE is usable only between ExInitializeResourceLite and ExDeleteResourceLite "
          "(Driver Verifier's deadlock detection reports an uninitialized lock).",
          "Initialise the resource once, in nonpaged memory, before any thread uses it, and delete "
          "it only after the last use." },
        RULE_STATE, 0 },
    [RULE_RESOURCE_MISALIGNED] = {
        { "resource.misaligned", "ExInitializeResourceLite", "the ERESOURCE is not 8-byte aligned", C4, 0x3D,
          "The kernel updates an ERESOURCE's fields with interlocked operations, which need "
          "natural alignment.",
          "Declare the ERESOURCE as a structure member or global of its own type, or allocate it "
          "from pool; never at an offset computed by hand." },
        RULE_STATE, 0 },
    [RULE_RESOURCE_INITIALIZED_TWICE] = {
        { "resource.initialized_twice", "ExInitializeResourceLite",
          "the ERESOURCE is initialised already and was never deleted", C4, 0xD0,
          "Initialising it again would drop its owners and waiters and link it into the kernel's "
          "resource list twice.",
          "Initialise each resource once; use ExReinitializeResourceLite to reset one nobody holds, "
          "or ExDeleteResourceLite before reusing its memory." },
        RULE_STATE, 0 },
    [RULE_RESOURCE_DELETE_UNINITIALIZED] = {
        { "resource.delete_uninitialized", "ExDeleteResourceLite",
          "the ERESOURCE was never initialised, or was deleted already", C4, 0xD1,
          "Deleting unlinks the resource from the kernel's list; one that is not on it corrupts "
          "the list.",
          "Delete each initialised resource exactly once." },
        RULE_STATE, 0 },
    [RULE_RESOURCE_DELETED_IN_USE] = {
        { "resource.deleted_in_use", "ExDeleteResourceLite, ExReinitializeResourceLite",
          "a thread still holds the ERESOURCE or waits for it", C4, 0x100B,
          "The owners would release, and the waiters wake into, a resource that no longer "
          "exists (Driver Verifier's deadlock detection: a deleted lock still owned).",
          "Make sure every holder has released the resource and no thread can still ask for it "
          "before deleting it (in Unload: after the threads that use it have ended)." },
        RULE_STATE, 0 },
    [RULE_RESOURCE_RELEASE_NOT_OWNED] = {
        { "resource.release_not_owned", "ExReleaseResourceLite, ExReleaseResourceForThreadLite, "
          "ExReleaseResourceAndLeaveCriticalRegion, ExConvertExclusiveToSharedLite, ExSetResourceOwnerPointer",
          "the thread (or owner pointer) does not hold the ERESOURCE (in the way asked)", 0xE3u,
          "RESOURCE_NOT_OWNED", -1,
          "Releasing a hold that does not exist (a double release, another thread's hold) breaks "
          "the exclusion of whoever really holds the resource (parameters: the resource, the "
          "owner named, the owner table).",
          "Release once per acquire, on the thread that acquired, or with "
          "ExReleaseResourceForThreadLite and the owner pointer set by ExSetResourceOwnerPointer." },
        RULE_STATE, 0 },
    [RULE_RESOURCE_EXCLUSIVE_WHILE_SHARED] = {
        { "resource.exclusive_while_shared", "ExAcquireResourceExclusiveLite",
          "Wait is TRUE and the calling thread holds the ERESOURCE shared", C4, 0x1000,
          "A shared holder cannot become the exclusive owner without releasing: it would wait "
          "for itself for ever (Driver Verifier's deadlock detection: a self-deadlock).",
          "Release the shared hold first and acquire exclusively, then re-check what the shared "
          "hold protected; or acquire exclusively from the start." },
        RULE_STATE, 0 },
    [RULE_RESOURCE_HELD_AT_THREAD_EXIT] = {
        { "resource.held_at_thread_exit", "PsTerminateSystemThread, a thread routine that returns",
          "the ending thread still holds an ERESOURCE", C4, 0x100A,
          "Nobody could release the hold, so every thread that needs the resource would wait for "
          "ever (Driver Verifier's deadlock detection: a terminated thread owns a lock).",
          "Release every resource on every path out of the thread, or hand the hold over with "
          "ExSetResourceOwnerPointer first." },
        RULE_STATE, 0 },
    [RULE_RESOURCE_FREED_ACTIVE] = {
        { "resource.freed_active", "ExFreePool, ExFreePoolWithTag, IoDeleteDevice (its extension)",
          "the memory holds an ERESOURCE that was never deleted", C4, 0xD2,
          "The kernel's list of resources still links the freed memory, which the next walk of "
          "the list (or the next owner) reads as garbage.",
          "Call ExDeleteResourceLite before freeing the memory that holds the resource." },
        RULE_STATE, 0 },
    [RULE_POOL_RAISED_FAILURE] = {
        { "pool.raised_failure", "ExAllocatePool2, ExAllocatePool3 (POOL_FLAG_RAISE_ON_FAILURE), ExAllocatePoolWithQuotaTag, "
          "ExAllocateFrom*LookasideList* (a list initialised to raise)",
          "the allocation failed and was asked to raise", 0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED",
          (long long)0xC000009A,
          "A failed allocation that raises throws STATUS_INSUFFICIENT_RESOURCES; driver code built "
          "for the simulator has no __try/__except to catch it, so nobody handles it.",
          "Leave POOL_FLAG_RAISE_ON_FAILURE out and check for NULL (for quota allocations, add "
          "POOL_QUOTA_FAIL_INSTEAD_OF_RAISE): every allocation can fail." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_SLIST_MISALIGNED] = {
        { "slist.misaligned", "InitializeSListHead, InterlockedPushEntrySList, ExInterlockedPushEntrySList",
          "the SLIST_HEADER or SLIST_ENTRY is not 16-byte aligned", 0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED",
          (long long)0x80000002,
          "On x64 an SLIST header keeps the first entry's address shifted right by 4: a misaligned "
          "header raises STATUS_DATATYPE_MISALIGNMENT, and a misaligned entry would come back as "
          "another address. (Windows does not check the entry; the simulator stops here instead "
          "of handing back a wrong pointer later.)",
          "Declare headers and entries as SLIST_HEADER and SLIST_ENTRY (16-byte aligned types) "
          "inside structures from pool, which is 16-byte aligned; never cast other memory to them." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_LOOKASIDE_PAGED_ABOVE_APC] = {
        { "lookaside.paged_above_apc", "ExInitializePagedLookasideList, ExAllocateFromPagedLookasideList, "
          "ExFreeToPagedLookasideList, ExDeletePagedLookasideList, the LOOKASIDE_LIST_EX DDIs on paged pool",
          "called above APC_LEVEL", C4, 0x20006,
          "A paged lookaside list hands out and caches paged pool, which may fault, and a fault "
          "cannot be served above APC_LEVEL. (The subcode is the IrqlExApcLte2 DDI rule's; which "
          "group lists these DDIs is not confirmed.)",
          "Use an NPAGED_LOOKASIDE_LIST (or a LOOKASIDE_LIST_EX on NonPagedPoolNx) for blocks used "
          "at DISPATCH_LEVEL." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_LOOKASIDE_NOT_INITIALIZED] = {
        { "lookaside.not_initialized", "ExAllocateFrom*LookasideList*, ExFreeTo*LookasideList*, "
          "ExFlushLookasideListEx", "the lookaside list was never initialised, or was deleted", 0x1Eu,
          "KMODE_EXCEPTION_NOT_HANDLED", (long long)0xC0000005,
          "The list's allocate and free routine pointers are garbage until it is initialised and "
          "after it is deleted: calling one faults (STATUS_ACCESS_VIOLATION).",
          "Initialise the list before its first use (DriverEntry) and delete it after its last "
          "(Unload, once nothing can allocate from it any more)." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_LOOKASIDE_FREED_ACTIVE] = {
        { "lookaside.freed_active", "ExFreePool, ExFreePoolWithTag, IoDeleteDevice (its extension)",
          "the memory holds a lookaside list that was never deleted", C4, 0xCC,
          "The kernel's list of lookaside lists still links the freed memory, and the balance set "
          "manager walks it every second.",
          "Call ExDelete*LookasideList* before freeing the memory that holds the list." },
        RULE_STATE, 0 },
    [RULE_FAST_MUTEX_UNSAFE_APCS_ENABLED] = {
        { "fast_mutex.unsafe_acquire_with_apcs_enabled", "ExAcquireFastMutexUnsafe, KeAcquireGuardedMutexUnsafe",
          "below APC_LEVEL outside a critical region (ExAcquireFastMutexUnsafe) or a guarded region "
          "(KeAcquireGuardedMutexUnsafe)", C4, 0x39,
          "The unsafe forms do not disable APCs themselves: an APC delivered to the holder could try "
          "to take the same mutex and deadlock (parameters: the mutex, the IRQL, the thread's "
          "APC-disable count).",
          "Enter the region first (KeEnterCriticalRegion, KeEnterGuardedRegion), or use the safe "
          "forms ExAcquireFastMutex and KeAcquireGuardedMutex." },
        RULE_STATE, 0 },
    [RULE_FAST_MUTEX_UNSAFE_RELEASE_APCS_ENABLED] = {
        { "fast_mutex.unsafe_release_with_apcs_enabled", "ExReleaseFastMutexUnsafe, KeReleaseGuardedMutexUnsafe",
          "below APC_LEVEL outside the region the unsafe acquire needed", C4, 0x3A,
          "The region was left while the mutex was still held, so APCs could reach its holder.",
          "Release the mutex before leaving the region." },
        RULE_STATE, 0 },
    [RULE_RTL_STRING_NOT_PASSIVE] = {
        { "rtl.string_not_passive",
          "RtlAnsiStringToUnicodeString, RtlUnicodeStringToAnsiString, RtlFreeUnicodeString, "
          "RtlFreeAnsiString, RtlCompareUnicodeString, RtlPrefixUnicodeString, RtlUpcaseUnicodeString, "
          "RtlDowncaseUnicodeString, RtlIntegerToUnicodeString, RtlUnicodeStringToInteger",
          "called above PASSIVE_LEVEL", 0x0Au, "IRQL_NOT_LESS_OR_EQUAL", -1,
          "Windows keeps these routines and the code page and case tables they read in pageable "
          "memory; above PASSIVE_LEVEL a page fault cannot be served, and Driver Verifier's IRQL "
          "checking pages them out so that the fault happens every time (parameters: the routine, "
          "the IRQL, 8 = execute, the caller).",
          "Convert, compare and free strings at PASSIVE_LEVEL (DriverEntry, a dispatch routine, a "
          "work item); at DISPATCH_LEVEL use a copy prepared beforehand, or RtlEqualMemory on the "
          "bytes." },
        RULE_IRQL_AT_MOST, PASSIVE_LEVEL },
    [RULE_RTL_HASH_ABOVE_APC] = {
        { "rtl.hash_above_apc", "RtlHashUnicodeString", "called above APC_LEVEL", 0x0Au,
          "IRQL_NOT_LESS_OR_EQUAL", -1,
          "The routine and its case table are pageable; above APC_LEVEL a page fault cannot be "
          "served, and Driver Verifier's IRQL checking makes it happen every time (parameters: the "
          "routine, the IRQL, 8 = execute, the caller).",
          "Hash names when they are created, at PASSIVE_LEVEL or APC_LEVEL, and keep the value." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_STRSAFE_UNICODE_ABOVE_PASSIVE] = {
        { "strsafe.unicode_conversion_above_passive", "RtlString*Printf*A, RtlString*Printf*W, "
          "RtlUnicodeString*Printf*",
          "a text argument converted between Unicode and ANSI (%wZ, %ws, %ls, %S, %wc, %C into ANSI "
          "output; %Z, %hs, %S, %hc, %C into Unicode output) above PASSIVE_LEVEL",
          0x0Au, "IRQL_NOT_LESS_OR_EQUAL", -1,
          "The conversion goes through the code page tables, which are pageable; above "
          "PASSIVE_LEVEL the page fault that may bring them in cannot be served. Formatting "
          "numbers, and text of the output's own width, works at any IRQL.",
          "Format text of the other width only at PASSIVE_LEVEL; at DISPATCH_LEVEL format a copy "
          "converted beforehand, or use the function of the argument's width." },
        RULE_IRQL_AT_MOST, PASSIVE_LEVEL },
    [RULE_DPC_TARGET_NOT_A_PROCESSOR] = {
        { "dpc.target_not_a_processor", "KeInsertQueueDpc (of a DPC given to KeSetTargetProcessorDpc)",
          "the DPC's target processor does not exist", 0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED", (long long)0xC0000005,
          "KeSetTargetProcessorDpc takes any number; queuing the DPC then looks up that processor's DPC "
          "data, which a processor the machine lacks does not have, and the access faults (parameters: "
          "the DPC, the target).",
          "Target only processors that exist: numbers below KeQueryActiveProcessorCount(NULL), or "
          "leave the DPC on the processor that queues it." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_LOCK_ORDER_CYCLE] = {
        { "lockorder.cycle",
          "KeAcquireSpinLock(AtDpcLevel), ExInterlocked*List, ExAcquireFastMutex(Unsafe), KeAcquireGuardedMutex(Unsafe), "
          "KeWaitFor*Object on a KMUTEX, ExAcquireResource*Lite, ExAcquireShared*",
          "a thread takes a lock while holding another, and the locks' classes were seen taken the other way "
          "round before (by any thread, at any time)",
          C4, 0x1001,
          "Two threads taking the two locks in opposite orders at the same moment would each wait for the "
          "other for ever; the run that showed both orders did not deadlock, the next one may (Driver "
          "Verifier's deadlock detection: a lock hierarchy violation; parameters: the lock taken, the lock "
          "held).",
          "Choose one order for every pair of locks and take them in that order on every path; release and "
          "re-take the first lock if a path needs the second one first." },
        RULE_STATE, 0 },
    [RULE_LOCK_RELEASE_OUT_OF_ORDER] = {
        { "lockorder.release_out_of_order", "KeReleaseSpinLock, ExReleaseFastMutex",
          "the release restores an IRQL below what a lock taken after it, and still held, needs",
          C4, 0x1003,
          "Each acquire saved the IRQL before it; releasing the first lock first lowers the IRQL while the "
          "later lock is still held, so its holder can be preempted or wait at the wrong IRQL (Driver "
          "Verifier's deadlock detection: an unexpected release; parameters: the lock released, the lock "
          "that should be released first).",
          "Release locks in the reverse order of their acquisition." },
        RULE_STATE, 0 },
    [RULE_LOCK_HELD_AT_THREAD_EXIT] = {
        { "lockorder.held_at_thread_exit", "PsTerminateSystemThread, a thread routine that returns",
          "the ending thread still holds a spin lock, fast mutex or guarded mutex",
          C4, 0x100A,
          "Nobody could ever release the lock, so every thread that needs it would spin or wait for ever "
          "(Driver Verifier's deadlock detection: a terminated thread owns a lock; parameters: the lock, "
          "the thread).",
          "Release every lock on every path out of the thread routine." },
        RULE_STATE, 0 },
    [RULE_LOCK_FREED_HELD] = {
        { "lockorder.freed_while_held", "ExFreePool, ExFreePoolWithTag, IoDeleteDevice (its extension)",
          "the memory holds a spin lock, fast mutex, guarded mutex or KMUTEX a thread still holds",
          C4, 0x100B,
          "The holder would release, and the next acquirer take, a lock in freed memory that is already "
          "something else (Driver Verifier's deadlock detection: a deleted resource still owned; "
          "parameters: the lock, the thread that holds it, the block).",
          "Release the lock, and make sure no thread can still take it, before freeing its memory." },
        RULE_STATE, 0 },
    [RULE_NULL_ARGUMENT] = {
        { "ddi.null_argument", "any DDI with a pointer argument it uses at once",
          "the pointer is NULL (or in the first 64 KB: a field of a NULL record)",
          0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED", (long long)0xC0000005,
          "The DDI would read, write or call through the pointer and fault: kernel-mode callers' "
          "arguments are not probed, so Windows stops with the access violation nobody handles "
          "(parameters: the exception code, the caller's return address, 0 read / 1 write / 8 "
          "execute, the address).",
          "Pass a valid pointer for the argument the detail names: check allocations and lookups "
          "for NULL before passing their result on, and initialise what the DDI expects initialised." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_NULL_ARGUMENT_AT_DISPATCH] = {
        { "ddi.null_argument_at_dispatch", "any DDI with a pointer argument it uses at once",
          "the same at DISPATCH_LEVEL or above: in a DPC, or holding a spin lock",
          0xD1u, "DRIVER_IRQL_NOT_LESS_OR_EQUAL", -1,
          "At DISPATCH_LEVEL and above a fault cannot be resolved, so Windows stops with 0xD1 "
          "(parameters: the address, the IRQL, 0 read / 1 write / 8 execute, the caller's return "
          "address).",
          "Pass a valid pointer for the argument the detail names; a DPC's DeferredRoutine must be "
          "set (KeInitializeDpc) before the DPC is queued or given to a timer." },
        RULE_STATE, 0 },
    [RULE_DRIVER_UNLOADED_IMAGE_TOUCHED] = {
        { "driver.unloaded_image_touched", "any code of a simulated thread",
          "an instruction ran code of a driver that has unloaded, or wrote its data",
          0xCEu, "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS", -1,
          "Something outlived DriverUnload and still points into the driver's image: a routine (a "
          "DPC, timer, work item, thread, callback, or a function pointer another driver kept) runs "
          "code that is gone, or writes globals that are gone (parameters: the address, 0 read / 1 "
          "write / 8 execute, the instruction, 0).",
          "Before Unload returns, undo every registration that can call back into the driver and wait "
          "for what is running; other drivers must drop their pointers into it (a dereferenced "
          "interface, an unregistered callback) before it unloads." },
        RULE_STATE, 0 },
    [RULE_DEVQUEUE_NOT_AT_DISPATCH] = {
        { "devqueue.not_at_dispatch",
          "KeInsertDeviceQueue, KeInsertByKeyDeviceQueue, KeRemoveDeviceQueue, KeRemoveByKeyDeviceQueue(IfBusy), "
          "IoStartNextPacket",
          "called at an IRQL other than DISPATCH_LEVEL", C4, 0x20003,
          "These DDIs take the device queue's spin lock at DISPATCH_LEVEL without raising: below it the "
          "holder can be preempted, or a DPC of the same device run on top of it (the DDI rule "
          "IrqlDispatch reports it).",
          "Call them from StartIo, a DPC or with a spin lock held; elsewhere raise with "
          "KeRaiseIrql(DISPATCH_LEVEL, &old) around the call." },
        RULE_IRQL_EXACTLY, DISPATCH_LEVEL },
    [RULE_IO_START_PACKET_ABOVE_DISPATCH] = {
        { "io.start_packet_above_dispatch", "IoStartPacket, IoStartNextPacketByKey, IoSetStartIoAttributes",
          "called above DISPATCH_LEVEL", C4, 0x20022,
          "StartIo runs at DISPATCH_LEVEL and the device queue's lock works only up to it: the DDI rule "
          "for I/O routines limited to DISPATCH_LEVEL (IrqlIoDispatch) reports it.",
          "Start packets from a dispatch routine or a DPC, not from an ISR: queue a DPC (IoRequestDpc)." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_IO_NO_START_IO] = {
        { "io.start_packet_without_start_io", "IoStartPacket, IoStartNextPacket, IoStartNextPacketByKey",
          "the device's driver has no StartIo routine (DriverObject->DriverStartIo is NULL)",
          0xD1u, "DRIVER_IRQL_NOT_LESS_OR_EQUAL", -1,
          "The I/O manager calls DriverStartIo at DISPATCH_LEVEL with the packet it starts: through NULL "
          "that is a page fault at address 0 where none can be served (parameters: 0, the IRQL, 8 = "
          "execute, 0).",
          "Set DriverObject->DriverStartIo in DriverEntry before any packet is started, or keep the "
          "driver's own queue (a cancel-safe queue) instead of IoStartPacket." },
        RULE_STATE, 0 },
    [RULE_IO_COMPLETE_QUEUED_IRP] = {
        { "io.complete_irp_in_device_queue", "IoCompleteRequest",
          "the IRP is still in a device queue (IoStartPacket, KeInsert(ByKey)DeviceQueue)",
          0xC9u, "DRIVER_VERIFIER_IOMANAGER_VIOLATION", 0x209,
          "The queue still links the IRP: the next IoStartNextPacket hands StartIo an IRP its originator "
          "may already have freed. Verifier reports a completion of an IRP that is still queued "
          "with this code (parameters: the IRP, the device queue, 0).",
          "Take the IRP out of the queue before completing it: in its cancel routine, "
          "KeRemoveEntryDeviceQueue(&DeviceObject->DeviceQueue, &Irp->Tail.Overlay.DeviceQueueEntry) "
          "(unless it is DeviceObject->CurrentIrp), and complete only IRPs StartIo was handed." },
        RULE_STATE, 0 },
    [RULE_IRP_ABOVE_DISPATCH] = {
        { "irp.above_dispatch",
          "IoAllocateIrp, IoFreeIrp, IoReuseIrp, IoMakeAssociatedIrp, IoBuildAsynchronousFsdRequest",
          "called above DISPATCH_LEVEL", C4, 0x20022,
          "IRPs come from and go back to nonpaged pool, whose locks work only up to DISPATCH_LEVEL: the "
          "DDI rule for I/O routines limited to DISPATCH_LEVEL (IrqlIoDispatch) reports it.",
          "Build, send and free IRPs from a dispatch or completion routine or a DPC, not from an ISR." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_IRP_BUILD_NOT_PASSIVE] = {
        { "irp.build_not_passive", "IoBuildSynchronousFsdRequest, IoBuildDeviceIoControlRequest",
          "called above PASSIVE_LEVEL", C4, 0x2000A,
          "These build threaded IRPs, which the I/O manager finishes in the calling thread and which the "
          "caller waits for on its event: that needs PASSIVE_LEVEL (the DDI rule IrqlIoPassive1).",
          "Build them where you can wait (PASSIVE_LEVEL); at DISPATCH_LEVEL use IoAllocateIrp or "
          "IoBuildAsynchronousFsdRequest with a completion routine instead." },
        RULE_IRQL_AT_MOST, PASSIVE_LEVEL },
    [RULE_IRP_FREE_NOT_AN_IRP] = {
        { "irp.free_not_an_irp", "IoFreeIrp, IoReuseIrp",
          "the pointer is not a live IRP: never one, or freed already", 0xC9u, "DRIVER_VERIFIER_IOMANAGER_VIOLATION",
          0x01,
          "Freeing what is not an IRP, or an IRP a second time, corrupts the pool for every driver "
          "(parameters: the address, 0, 0).",
          "Free each IRP you allocated exactly once, and forget the pointer at once (the completion "
          "routine that frees it returns STATUS_MORE_PROCESSING_REQUIRED and touches it no more)." },
        RULE_STATE, 0 },
    [RULE_IRP_FREE_IN_USE] = {
        { "irp.free_in_use", "IoFreeIrp",
          "the IRP is in use: sent to a driver and not completed back up, or still in a device queue",
          0xC9u, "DRIVER_VERIFIER_IOMANAGER_VIOLATION", 0x20B,
          "A lower driver still owns the IRP and will complete it, or a device queue still links it: "
          "either then writes to freed memory (parameters: the IRP, 0, 0).",
          "Free an IRP only in the completion routine you set on it (returning "
          "STATUS_MORE_PROCESSING_REQUIRED), or after that routine signalled you that it ran; cancel a "
          "request you no longer want with IoCancelIrp and wait for its completion." },
        RULE_STATE, 0 },
    [RULE_IRP_FREE_THREADED] = {
        { "irp.free_threaded", "IoFreeIrp",
          "the IRP came from IoBuildSynchronousFsdRequest or IoBuildDeviceIoControlRequest",
          0xC9u, "DRIVER_VERIFIER_IOMANAGER_VIOLATION", 0x20C,
          "Such IRPs are queued to the thread that built them and freed by the I/O manager once they "
          "complete; freeing one leaves the thread's list pointing at freed memory (parameters: the IRP, "
          "0, 0).",
          "Do not free them: wait on the event you passed, then read the IO_STATUS_BLOCK. If your "
          "completion routine returns STATUS_MORE_PROCESSING_REQUIRED, complete the IRP again "
          "afterwards so the I/O manager can finish it." },
        RULE_STATE, 0 },
    [RULE_IOTIMER_NOT_PASSIVE] = {
        { "iotimer.initialize_not_passive", "IoInitializeTimer", "called above PASSIVE_LEVEL", C4, 0x2000E,
          "IoInitializeTimer allocates the device's timer and links it into the I/O manager's list, which "
          "needs PASSIVE_LEVEL (the DDI rule IrqlIoPassive5).",
          "Initialise the timer where the device is made: AddDevice or DriverEntry." },
        RULE_IRQL_AT_MOST, PASSIVE_LEVEL },
    [RULE_IOTIMER_INITIALIZED_TWICE] = {
        { "iotimer.initialized_twice", "IoInitializeTimer", "the device already has a timer",
          0xC9u, "DRIVER_VERIFIER_IOMANAGER_VIOLATION", 0x0A,
          "A device has one timer; a second IoInitializeTimer would lose the first, still linked in the "
          "I/O manager's list (parameters: the device, 0, 0).",
          "Call IoInitializeTimer once per device; to change what runs, keep the routine's state in the "
          "device extension." },
        RULE_STATE, 0 },
    [RULE_IOTIMER_ABOVE_DISPATCH] = {
        { "iotimer.above_dispatch", "IoStartTimer, IoStopTimer", "called above DISPATCH_LEVEL", C4, 0x20022,
          "The I/O manager's timer list is guarded by a spin lock, which works only up to DISPATCH_LEVEL "
          "(the DDI rule IrqlIoDispatch).",
          "Start and stop the timer from a dispatch routine, a DPC or the timer routine itself, not from "
          "an ISR." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_IOTIMER_NOT_INITIALIZED] = {
        { "iotimer.not_initialized", "IoStartTimer, IoStopTimer", "the device has no timer (no IoInitializeTimer)",
          0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED", (long long)0xC0000005,
          "DeviceObject->Timer is NULL until IoInitializeTimer: starting or stopping it dereferences NULL "
          "(STATUS_ACCESS_VIOLATION).",
          "Call IoInitializeTimer for the device (in AddDevice) before IoStartTimer." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_REMOVE_LOCK_ABOVE_DISPATCH] = {
        { "removelock.above_dispatch", "IoInitializeRemoveLock(Ex), IoAcquireRemoveLock(Ex), IoReleaseRemoveLock(Ex)",
          "called above DISPATCH_LEVEL", C4, 0x20022,
          "The lock's count and its checked-build tag tracking are updated under locks that work only up "
          "to DISPATCH_LEVEL (the DDI rule IrqlIoDispatch).",
          "Acquire and release remove locks in dispatch and completion routines and DPCs, not in an ISR." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_REMOVE_LOCK_RELEASE_NOT_ACQUIRED] = {
        { "removelock.release_not_acquired", "IoReleaseRemoveLock(Ex), IoReleaseRemoveLockAndWait(Ex)",
          "the tag is not one this lock was acquired with (or it was released already)",
          0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED", (long long)0x80000003,
          "The checked build tracks each acquire by its tag and breaks into the debugger when a release "
          "names a tag it does not hold (STATUS_BREAKPOINT, with no debugger attached an exception nobody "
          "handles): a release without its acquire lets IoReleaseRemoveLockAndWait return while I/O is "
          "still in progress.",
          "Release with the tag you acquired with (usually the IRP), exactly once per successful acquire; "
          "do not release after an acquire that returned STATUS_DELETE_PENDING." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_REMOVE_LOCK_RELEASED_TOO_OFTEN] = {
        { "removelock.released_too_often", "IoReleaseRemoveLock(Ex), IoReleaseRemoveLockAndWait(Ex)",
          "the lock's count would drop to zero before IoReleaseRemoveLockAndWait",
          0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED", (long long)0x80000003,
          "A remove lock counts one for itself until IoReleaseRemoveLockAndWait; a count that reaches "
          "zero earlier means more releases than acquires, which the checked build asserts.",
          "Pair every IoReleaseRemoveLock with a successful IoAcquireRemoveLock." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_CSQ_ABOVE_DISPATCH] = {
        { "csq.above_dispatch",
          "IoCsqInitialize(Ex), IoCsqInsertIrp(Ex), IoCsqRemoveIrp, IoCsqRemoveNextIrp",
          "called above DISPATCH_LEVEL", C4, 0x20022,
          "A cancel-safe queue runs under the driver's lock and the cancel spin lock, which work only "
          "up to DISPATCH_LEVEL (the DDI rule IrqlIoDispatch).",
          "Queue and dequeue IRPs in dispatch routines and DPCs, not in an ISR." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_IO_DEVICE_POINTER_NOT_PASSIVE] = {
        { "io.device_pointer_not_passive", "IoGetDeviceObjectPointer", "called above PASSIVE_LEVEL", C4, 0x2000E,
          "IoGetDeviceObjectPointer opens the device by name (an IRP_MJ_CREATE the caller waits for) and "
          "closes the handle again, which needs PASSIVE_LEVEL (the DDI rule IrqlIoPassive5).",
          "Look the device up once, in DriverEntry or AddDevice, and keep the file object it returns "
          "(ObDereferenceObject it in Unload)." },
        RULE_IRQL_AT_MOST, PASSIVE_LEVEL },
    [RULE_ZW_REGISTRY_NOT_PASSIVE] = {
        { "zw.registry_not_passive",
          "ZwCreateKey, ZwOpenKey, ZwQueryKey, ZwEnumerateKey, ZwQueryValueKey, ZwEnumerateValueKey, "
          "ZwSetValueKey, ZwDeleteValueKey, ZwDeleteKey, ZwFlushKey, RtlQueryRegistryValues, "
          "RtlWriteRegistryValue, RtlDeleteRegistryValue, RtlCheckRegistryKey, RtlCreateRegistryKey",
          "called above PASSIVE_LEVEL", C4, 0xE6,
          "The registry is paged memory guarded by a lock that may wait, so every registry call needs "
          "PASSIVE_LEVEL. Driver Verifier's check of every Zw call (0xE6) reports it.",
          "Read the parameters once, at PASSIVE_LEVEL (DriverEntry, AddDevice, a work item), and keep "
          "the values in the device extension for code that runs at DISPATCH_LEVEL." },
        RULE_IRQL_AT_MOST, PASSIVE_LEVEL },
    [RULE_REGISTRY_NULL_POINTER] = {
        { "registry.null_pointer",
          "ZwCreateKey, ZwOpenKey, ZwQueryKey, ZwEnumerateKey, ZwQueryValueKey, ZwEnumerateValueKey, "
          "ZwSetValueKey, ZwDeleteValueKey",
          "a kernel-mode caller passes NULL for a pointer the call reads or writes: KeyHandle, "
          "ObjectAttributes, ValueName, ResultLength, Data or the information buffer with a non-zero "
          "length (an application gets STATUS_ACCESS_VIOLATION)",
          0x1Eu, "KMODE_EXCEPTION_NOT_HANDLED", (long long)0xC0000005,
          "A kernel-mode caller's pointers are not probed: the registry reads or writes through them "
          "and faults (STATUS_ACCESS_VIOLATION), and nobody handles it. (The report names the "
          "parameter; the machine stops before the fault.)",
          "Pass every pointer the DDI documents as required; to learn a value's size, pass a NULL "
          "buffer with Length 0 and read *ResultLength after STATUS_BUFFER_TOO_SMALL." },
        RULE_UNHANDLED_EXCEPTION, 0 },
    [RULE_ZW_MALFORMED_UNICODE_STRING] = {
        { "zw.malformed_unicode_string",
          "ZwCreateKey, ZwOpenKey (ObjectName, Class), ZwQueryValueKey, ZwSetValueKey, ZwDeleteValueKey "
          "(ValueName)",
          "a kernel-mode caller's UNICODE_STRING has an odd Length, one larger than its MaximumLength, "
          "or a NULL Buffer with a non-zero Length (an application gets an error status)", C4, 0xE4,
          "Lengths count bytes of whole WCHARs inside the buffer; any other string makes the kernel "
          "read past the buffer or split a character. Driver Verifier checks every string a Zw call "
          "gets (parameter 2 is the string).",
          "Build strings with RtlInitUnicodeString or RTL_CONSTANT_STRING, and compute lengths in "
          "bytes: chars * sizeof(WCHAR)." },
        RULE_STATE, 0 },
    [RULE_ERRORLOG_ABOVE_DISPATCH] = {
        { "errorlog.above_dispatch", "IoAllocateErrorLogEntry, IoWriteErrorLogEntry, IoFreeErrorLogEntry",
          "called above DISPATCH_LEVEL", C4, 0x20003,
          "Error log entries are nonpaged pool queued to the I/O manager under a spin lock, which "
          "works only up to DISPATCH_LEVEL. (The subcode is the IrqlDispatch DDI rule's; which group "
          "lists these DDIs is not confirmed.)",
          "From an ISR, queue a DPC (IoRequestDpc) and write the entry there." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_ERRORLOG_NOT_AN_ENTRY] = {
        { "errorlog.not_an_entry", "IoWriteErrorLogEntry, IoFreeErrorLogEntry",
          "the pointer is not an entry IoAllocateErrorLogEntry returned, or the entry was already "
          "written or freed", C2, 0x07,
          "The I/O manager owns the entry from the write (or free) on and frees its pool: a second "
          "write or free frees it twice (parameters: the entry, 0, 0).",
          "Write or free each entry exactly once, and never touch it afterwards." },
        RULE_STATE, 0 },
    [RULE_PNP_NOT_A_PDO] = {
        { "pnp.not_a_pdo", "IoOpenDeviceRegistryKey, IoGetDeviceProperty",
          "the device object is not a PDO the PnP manager enumerated (an FDO, a device the driver "
          "created itself, or random memory)", 0xCAu, "PNP_DETECTED_FATAL_ERROR", 0x2,
          "The device's registry keys and properties belong to its device node, which only the "
          "physical device object (PDO) has: Windows stops with INVALID_PDO (parameter 2 is the "
          "device).",
          "Pass the PDO AddDevice received (keep it in the device extension), not your own "
          "device object or the one IoAttachDeviceToDeviceStack returned." },
        RULE_STATE, 0 },
    [RULE_IO_DISPATCH_WAIT_WITH_TIMEOUT] = {
        { "io.dispatch_wait_with_timeout", "KeWaitForSingleObject, KeWaitForMultipleObjects in a dispatch routine",
          "a dispatch routine (any IRP_MJ_ but PnP and power) waits on a dispatcher object with a non-zero "
          "timeout (NULL, for ever, included), other than for an IRP it passed down", 0, "WDMSIM_WARNING_MADE_FATAL", -1,
          "A dispatch routine runs in the thread of whoever sent the IRP, often an application's: while it "
          "waits, that thread is stuck, and a wait for something that needs this very thread, or that never "
          "comes, hangs the caller. The book's guideline: dispatch routines should not wait on dispatcher "
          "objects with a non-zero timeout (PnP and power handlers may, as may a routine waiting for the "
          "completion of an IRP it passed down, as ForwardIrpAndWait does: the completion routine's "
          "context is the event, or holds it, or the event is the IRP's UserEvent).",
          "Do not wait: mark the IRP pending (IoMarkIrpPending), queue it, return STATUS_PENDING and "
          "complete it when the awaited thing happens (a DPC, a system thread, a work item), or poll with "
          "a zero timeout." },
        RULE_WARNING, 0 },
};

static struct rule_warning_observer *warning_observers;    /* fixed before main */
static int warnings_fatal = -1;         /* -1: WDMSIM_WARNINGS decides */
static size_t warnings_given;           /* atomic */
/* Warnings printed before the rest are only counted, so a loop cannot flood stderr. */
#define RULE_WARNINGS_PRINTED 50

const struct rule *rule_get(enum rule_id id)
{
    return &rule_catalog[id];
}

static SIM_NORETURN void rule_stop_with(enum rule_id id, ULONG_PTR a, ULONG_PTR b, ULONG_PTR c,
                                         ULONG_PTR d, const char *detail)
{
    const struct rule *rule = rule_get(id);
    struct _KTHREAD *self = thread_current_if_known();
    ULONG code = rule->info.code;
    ULONG_PTR params[4] = { a, b, c, d };

    if (rule->info.subcode >= 0) {
        params[0] = (ULONG_PTR)rule->info.subcode;
        params[1] = a;
        params[2] = b;
        params[3] = c;
    }
    if (rule->kind == RULE_UNHANDLED_EXCEPTION && self != NULL && self->system)
        code = RULE_SYSTEM_THREAD_EXCEPTION;
    bugcheck_stop(code, params, rule, detail);
}

SIM_NORETURN void rule_stop(enum rule_id id, ULONG_PTR a, ULONG_PTR b, ULONG_PTR c, ULONG_PTR d)
{
    rule_stop_with(id, a, b, c, d, NULL);
}

SIM_NORETURN void rule_stop_detail(enum rule_id id, ULONG_PTR a, ULONG_PTR b, ULONG_PTR c, ULONG_PTR d,
                                   const char *fmt, ...)
{
    char detail[2304];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    rule_stop_with(id, a, b, c, d, detail);
}

SIM_NORETURN void rule_stop_text(enum rule_id id, ULONG_PTR a, ULONG_PTR b, ULONG_PTR c, ULONG_PTR d,
                                 const char *detail)
{
    rule_stop_with(id, a, b, c, d, detail);
}

void rule_warning_observer_register(struct rule_warning_observer *observer)
{
    observer->next = warning_observers;
    warning_observers = observer;
}

static bool rule_warnings_are_fatal(void)
{
    int fatal = __atomic_load_n(&warnings_fatal, __ATOMIC_RELAXED);
    const char *env;

    if (fatal >= 0)
        return fatal != 0;
    env = getenv("WDMSIM_WARNINGS");
    return env != NULL && strcmp(env, "fatal") == 0;
}

void rule_warn(enum rule_id id, const char *fmt, ...)
{
    const struct rule *rule = rule_get(id);
    char text[1024];
    size_t given;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (rule_warnings_are_fatal())
        rule_stop_text(id, 0, 0, 0, 0, text);
    given = __atomic_add_fetch(&warnings_given, 1, __ATOMIC_RELAXED);
    if (given <= RULE_WARNINGS_PRINTED)
        fprintf(stderr, "wdmsim: warning: %s: %s\n", rule->info.id, text);
    if (given == RULE_WARNINGS_PRINTED)
        fprintf(stderr, "wdmsim: warning: further warnings are counted, not printed\n");
    for (struct rule_warning_observer *o = warning_observers; o != NULL; o = o->next)
        o->warned(rule, text);
}

void wdmsim_warnings_fatal(int fatal)
{
    __atomic_store_n(&warnings_fatal, fatal < 0 ? -1 : fatal != 0, __ATOMIC_RELAXED);
}

size_t wdmsim_warning_count(void)
{
    return __atomic_load_n(&warnings_given, __ATOMIC_RELAXED);
}

SIM_NORETURN void rule_stop_null_argument(const char *ddi, const char *argument, uintptr_t pointer,
                                          ULONG_PTR operation, const void *caller, const char *fix)
{
    static const char *const used[] = { [RULE_READS] = "reads", [RULE_WRITES] = "writes", [RULE_RUNS] = "calls" };
    KIRQL irql = irql_current();
    char detail[512], value[32] = "NULL";

    if (pointer != 0)
        snprintf(value, sizeof value, "%#" PRIxPTR, pointer);
    snprintf(detail, sizeof detail, "%s: %s is %s, and %s %s through it at once.%s%s", ddi, argument, value, ddi,
             used[operation], fix != NULL ? " " : "", fix != NULL ? fix : "");
    if (irql >= DISPATCH_LEVEL)
        rule_stop_text(RULE_NULL_ARGUMENT_AT_DISPATCH, (ULONG_PTR)pointer, irql, operation, (ULONG_PTR)caller,
                       detail);
    rule_stop_text(RULE_NULL_ARGUMENT, (ULONG_PTR)caller, operation, (ULONG_PTR)pointer, 0, detail);
}

size_t wdmsim_rule_count(void)
{
    return RULE_COUNT;
}

const struct wdmsim_rule_info *wdmsim_rule_at(size_t index)
{
    return index < RULE_COUNT ? &rule_catalog[index].info : NULL;
}

enum wdmsim_rule_severity wdmsim_rule_severity(size_t index)
{
    return index < RULE_COUNT && rule_catalog[index].kind == RULE_WARNING ? WDMSIM_RULE_WARNS : WDMSIM_RULE_STOPS;
}

static void rules_write_row(FILE *out, const struct rule *rule)
{
    const struct wdmsim_rule_info *info = &rule->info;
    static const char *const relation[] = {
        [RULE_IRQL_AT_MOST] = "&le; ", [RULE_IRQL_AT_LEAST] = "&ge; ", [RULE_IRQL_EXACTLY] = "= ",
    };
    char irql[32] = "-";
    char code[64];

    if (rule->kind <= RULE_IRQL_EXACTLY)
        snprintf(irql, sizeof irql, "%s%s", relation[rule->kind], irql_name(rule->irql));
    if (rule->kind == RULE_WARNING)
        snprintf(code, sizeof code, "warning (if made fatal: 0x0");
    else if (rule->kind == RULE_UNHANDLED_EXCEPTION)
        snprintf(code, sizeof code, "0x%X (0x%X in a system thread) / 0x%llX", info->code,
                 RULE_SYSTEM_THREAD_EXCEPTION, (unsigned long long)info->subcode);
    else if (info->subcode >= 0)
        snprintf(code, sizeof code, "0x%X / 0x%llX", info->code, (unsigned long long)info->subcode);
    else
        snprintf(code, sizeof code, "0x%X", info->code);
    fprintf(out, "| `%s` | %s | %s | %s | %s %s%s | %s | %s |\n", info->id, info->ddi, info->condition,
            irql, code, info->code_name, rule->kind == RULE_WARNING ? ")" : "", info->explanation,
            info->fix);
}

void wdmsim_rules_write_markdown(FILE *out)
{
    fputs("# The rule catalog\n\n"
          "Generated by `wdmsim rules` from `sim_kernel/src/rules.c`; do not edit by hand.\n"
          "Each row is one rule a DDI checks on entry. Breaking it stops the simulated machine with\n"
          "the bug check shown (parameter 1 is the subcode where there is one), as Windows with\n"
          "Driver Verifier would. The IRQL column is the IRQL the DDI requires, where the rule is about\n"
          "IRQL. The `lockorder.*` rows come from the lock-order checker: docs/lock-order.md explains its\n"
          "classes, edges and report. A rule whose bug check reads \"warning\" does not stop the machine: it\n"
          "prints `wdmsim: warning: RULE: ...` on stderr and the run goes on (`WDMSIM_WARNINGS=fatal` or\n"
          "`wdmsim_warnings_fatal(1)` makes it stop instead).\n\n"
          "| rule | DDI | broken when | IRQL | bug check | why | fix |\n"
          "|---|---|---|---|---|---|---|\n",
          out);
    for (size_t i = 0; i < RULE_COUNT; i++)
        rules_write_row(out, &rule_catalog[i]);
}
