/*
 * csq.c - cancel-safe queues (IO_CSQ): the driver keeps the queue and its lock and gives six
 * callbacks; the I/O manager owns the cancel logic. An inserted IRP is marked pending and gets the
 * queue's own cancel routine, and DriverContext[3] leads back to the queue (or to the caller's
 * IO_CSQ_IRP_CONTEXT, which leads to it). Whoever clears the cancel routine first owns the IRP:
 * a remove that finds it already cleared leaves the IRP to the cancel routine, which takes it out
 * of the queue and hands it to CsqCompleteCanceledIrp.
 * Locking: the driver's lock (CsqAcquireLock/CsqReleaseLock) around every queue change, taken
 * after the cancel spin lock is released, never while it is held.
 */
#include "internal.h"

/* The queue an IRP's DriverContext[3] leads to, and the caller's context if there is one. */
static PIO_CSQ csq_of(PIRP irp, PIO_CSQ_IRP_CONTEXT *context)
{
    PVOID link = irp->Tail.Overlay.DriverContext[3];

    *context = NULL;
    if (link != NULL && ((PIO_CSQ_IRP_CONTEXT)link)->Type == IO_TYPE_CSQ_IRP_CONTEXT) {
        *context = link;
        return (*context)->Csq;
    }
    return link;
}

/* The IRP is out of the queue: forget the links to it. Queue lock held. */
static void csq_unlink(PIRP irp)
{
    PIO_CSQ_IRP_CONTEXT context;

    csq_of(irp, &context);
    if (context != NULL)
        context->Irp = NULL;
    irp->Tail.Overlay.DriverContext[3] = NULL;
}

/* Called with the cancel spin lock held, for an IRP whose cancel routine nobody cleared first. */
static VOID NTAPI csq_cancel(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_CSQ_IRP_CONTEXT context;
    PIO_CSQ csq;
    KIRQL irql;

    (void)device;
    IoReleaseCancelSpinLock(irp->CancelIrql);
    csq = csq_of(irp, &context);
    csq->CsqAcquireLock(csq, &irql);
    csq->CsqRemoveIrp(csq, irp);
    csq_unlink(irp);
    csq->CsqReleaseLock(csq, irql);
    csq->CsqCompleteCanceledIrp(csq, irp);
}

static NTSTATUS csq_initialize(PIO_CSQ csq, ULONG type, PIO_CSQ_INSERT_IRP insert, PIO_CSQ_REMOVE_IRP remove,
                               PIO_CSQ_PEEK_NEXT_IRP peek, PIO_CSQ_ACQUIRE_LOCK acquire, PIO_CSQ_RELEASE_LOCK release,
                               PIO_CSQ_COMPLETE_CANCELED_IRP complete)
{
    rule_check_irql(RULE_CSQ_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)csq, 0, 0);
    *csq = (IO_CSQ){ type, insert, remove, peek, acquire, release, complete, NULL };
    return STATUS_SUCCESS;
}

/* IRQL <= DISPATCH_LEVEL. */
NTSTATUS NTAPI IoCsqInitialize(PIO_CSQ Csq, PIO_CSQ_INSERT_IRP CsqInsertIrp, PIO_CSQ_REMOVE_IRP CsqRemoveIrp,
                               PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp, PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock,
                               PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                               PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp)
{
    return csq_initialize(Csq, IO_TYPE_CSQ, CsqInsertIrp, CsqRemoveIrp, CsqPeekNextIrp, CsqAcquireLock,
                          CsqReleaseLock, CsqCompleteCanceledIrp);
}

/* IRQL <= DISPATCH_LEVEL. The insert callback returns a status (IoCsqInsertIrpEx passes it on). */
NTSTATUS NTAPI IoCsqInitializeEx(PIO_CSQ Csq, PIO_CSQ_INSERT_IRP_EX CsqInsertIrp, PIO_CSQ_REMOVE_IRP CsqRemoveIrp,
                                 PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp, PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock,
                                 PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                                 PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp)
{
    return csq_initialize(Csq, IO_TYPE_CSQ_EX, (PIO_CSQ_INSERT_IRP)(void (*)(void))CsqInsertIrp, CsqRemoveIrp,
                          CsqPeekNextIrp, CsqAcquireLock, CsqReleaseLock, CsqCompleteCanceledIrp);
}

/* Queue lock held. The driver's insert; an Ex queue's may refuse the IRP. */
static NTSTATUS csq_insert(PIO_CSQ csq, PIRP irp, PVOID insert_context)
{
    if (csq->Type == IO_TYPE_CSQ_EX)
        return ((PIO_CSQ_INSERT_IRP_EX)(void (*)(void))csq->CsqInsertIrp)(csq, irp, insert_context);
    csq->CsqInsertIrp(csq, irp);
    return STATUS_SUCCESS;
}

/* Queue lock held, the IRP just inserted: cancelled meanwhile (IoCancelIrp found no routine to
 * call), it comes out again. True if it did: the caller completes it as cancelled. */
static bool csq_arm(PIO_CSQ csq, PIRP irp)
{
    IoSetCancelRoutine(irp, csq_cancel);
    if (!irp->Cancel || IoSetCancelRoutine(irp, NULL) == NULL)
        return false;
    csq->CsqRemoveIrp(csq, irp);
    csq_unlink(irp);
    return true;
}

/* IRQL <= DISPATCH_LEVEL. Queues the IRP (marked pending: the dispatch routine returns
 * STATUS_PENDING), cancelable from now on; with a Context, IoCsqRemoveIrp can take it out again. */
NTSTATUS NTAPI IoCsqInsertIrpEx(PIO_CSQ Csq, PIRP Irp, PIO_CSQ_IRP_CONTEXT Context, PVOID InsertContext)
{
    bool cancelled = false;
    NTSTATUS status;
    KIRQL irql;

    rule_check_irql(RULE_CSQ_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Csq, (ULONG_PTR)Irp, 0);
    Csq->CsqAcquireLock(Csq, &irql);
    status = csq_insert(Csq, Irp, InsertContext);
    if (NT_SUCCESS(status)) {
        if (Context != NULL)
            *Context = (IO_CSQ_IRP_CONTEXT){ IO_TYPE_CSQ_IRP_CONTEXT, Irp, Csq };
        Irp->Tail.Overlay.DriverContext[3] = Context != NULL ? (PVOID)Context : (PVOID)Csq;
        IoMarkIrpPending(Irp);
        cancelled = csq_arm(Csq, Irp);
    }
    Csq->CsqReleaseLock(Csq, irql);
    if (cancelled)
        Csq->CsqCompleteCanceledIrp(Csq, Irp);
    return status;
}

/* IRQL <= DISPATCH_LEVEL. */
VOID NTAPI IoCsqInsertIrp(PIO_CSQ Csq, PIRP Irp, PIO_CSQ_IRP_CONTEXT Context)
{
    IoCsqInsertIrpEx(Csq, Irp, Context, NULL);
}

/* IRQL <= DISPATCH_LEVEL. The IRP Context was inserted with, out of the queue and no longer
 * cancelable; NULL if it is gone (or going) to its cancel routine. */
PIRP NTAPI IoCsqRemoveIrp(PIO_CSQ Csq, PIO_CSQ_IRP_CONTEXT Context)
{
    PIRP irp;
    KIRQL irql;

    rule_check_irql(RULE_CSQ_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Csq, (ULONG_PTR)Context, 0);
    Csq->CsqAcquireLock(Csq, &irql);
    irp = Context->Irp;
    if (irp != NULL && IoSetCancelRoutine(irp, NULL) == NULL)
        irp = NULL;
    if (irp != NULL) {
        Csq->CsqRemoveIrp(Csq, irp);
        csq_unlink(irp);
    }
    Csq->CsqReleaseLock(Csq, irql);
    return irp;
}

/* IRQL <= DISPATCH_LEVEL. The first IRP the driver's peek offers (from PeekContext on) whose cancel
 * routine this call clears, out of the queue; those being cancelled are passed over. */
PIRP NTAPI IoCsqRemoveNextIrp(PIO_CSQ Csq, PVOID PeekContext)
{
    PIRP irp;
    KIRQL irql;

    rule_check_irql(RULE_CSQ_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Csq, 0, 0);
    Csq->CsqAcquireLock(Csq, &irql);
    irp = Csq->CsqPeekNextIrp(Csq, NULL, PeekContext);
    while (irp != NULL && IoSetCancelRoutine(irp, NULL) == NULL)
        irp = Csq->CsqPeekNextIrp(Csq, irp, PeekContext);
    if (irp != NULL) {
        Csq->CsqRemoveIrp(Csq, irp);
        csq_unlink(irp);
    }
    Csq->CsqReleaseLock(Csq, irql);
    return irp;
}
