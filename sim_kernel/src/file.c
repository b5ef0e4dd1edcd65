/*
 * file.c - FILE_OBJECTs and the Zw file calls: ZwCreateFile (and ZwOpenFile, its FILE_OPEN form)
 * opens a device through the name space and sends IRP_MJ_CREATE down its stack; ZwReadFile,
 * ZwWriteFile, ZwDeviceIoControlFile, ZwQueryInformationFile, ZwSetInformationFile and
 * ZwFlushBuffersFile build one IRP each and call the top driver in the caller's thread. On a
 * synchronous file (FILE_SYNCHRONOUS_IO_*) the call waits for a pended IRP. On an asynchronous
 * file (opened without those options, for overlapped I/O) a read, write or IOCTL that the driver
 * pends returns STATUS_PENDING at once; when the IRP completes, on whichever thread completes it,
 * the I/O manager copies the output back, fills the caller's IO_STATUS_BLOCK and sets the caller's
 * Event, or else the file object's own event, which ZwWaitForSingleObject on the file waits for
 * (NT's "a file object is signalled when its overlapped I/O completes"). The last handle's close
 * sends IRP_MJ_CLEANUP, the last reference's IRP_MJ_CLOSE (on a worker thread when it goes above
 * PASSIVE_LEVEL), then the device is released.
 * Locking: none of its own. A FILE_OBJECT's fields belong to the request in progress; on a
 * synchronous file requests, and the cleanup, take turns through the file object lock (Busy and
 * the Lock event, as in NT), which also guards CurrentByteOffset. An asynchronous request that
 * pends owns a reference on its file (and on its Event) until it completes. Such requests are
 * listed by the thread that made them (NT's thread IRP list) under file_pending_lock: a thread
 * that ends cancels its own and waits for them (IoCancelThreadIo), so no completion writes to the
 * buffers of a thread that is gone. Who frees such a request (its keeper) is decided under that
 * lock too, when it completes: the completion itself, or the thread that holds it then (its
 * originator, still listing it; its ending thread, cancelling it), so the completion never
 * touches a request it has left to another.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The I/O manager's own pool: a pool dump shows "IoBf" for system buffers. */
#define FILE_BUFFER_TAG 'fBoI'
#define FILE_MAXIMUM_DISPOSITION FILE_OVERWRITE_IF
/* What GENERIC_EXECUTE and GENERIC_ALL mean for files (IoFileObjectType's generic mapping);
 * wdm.h does not define FILE_EXECUTE or FILE_ALL_ACCESS yet. */
#define FILE_ACCESS_EXECUTE 0x0020
#define FILE_MAPPED_EXECUTE (READ_CONTROL | FILE_READ_ATTRIBUTES | FILE_ACCESS_EXECUTE | SYNCHRONIZE)
#define FILE_MAPPED_ALL (STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x01FF)

struct file {
    FILE_OBJECT object;             /* first: the body the object manager knows */
    bool opened;                    /* IRP_MJ_CREATE succeeded: the driver gets CLEANUP and CLOSE */
    bool synchronous;               /* FILE_SYNCHRONOUS_IO_*: the I/O manager keeps the position */
    WORK_QUEUE_ITEM deferred_close; /* the close, when the last reference goes above PASSIVE_LEVEL */
};

/* Who frees an asynchronous request that pended, once it is done. */
enum file_keeper {
    FILE_KEPT_BY_COMPLETION,        /* listed, or left to complete later */
    FILE_KEPT_BY_ORIGINATOR,        /* handed over, not yet listed: frees it if done by then */
    FILE_KEPT_BY_ENDING_THREAD,     /* cancelling it: frees it once `finished` is set */
};

/* One IRP on its way: what the originator keeps until the IRP is complete, and what the caller
 * gets back then. An asynchronous request that pends is finished by the completion, and freed by
 * its keeper. */
struct file_request {
    PDEVICE_OBJECT top;
    PIRP irp;
    PVOID system_buffer;
    IO_STATUS_BLOCK iosb;
    struct file *f;
    PIO_STATUS_BLOCK caller_iosb;
    PVOID out;                      /* where the output goes back (buffered reads and IOCTLs) */
    ULONG out_length;
    PKEVENT event;                  /* the caller's Event, referenced; NULL for none */
    /* An asynchronous request in progress, under file_pending_lock: */
    LIST_ENTRY pending_link;        /* on file_pending while linked */
    bool linked;
    struct _KTHREAD *thread;        /* that made it */
    enum file_keeper keeper;
    bool done;                      /* completed and delivered */
    KEVENT finished;                /* set once done, for an ending thread that keeps it */
};

/* How long an ending thread waits for a cancelled request, as NT waits in IoCancelThreadIo. */
#define FILE_CANCEL_WAIT_SECONDS 300

static pthread_mutex_t file_pending_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_ENTRY file_pending;

void file_boot(void)
{
    pthread_mutex_init(&file_pending_lock, NULL);
    InitializeListHead(&file_pending);
}

static struct file *file_of(PFILE_OBJECT object)
{
    return CONTAINING_RECORD(object, struct file, object);
}

static ACCESS_MASK file_map_generic(ACCESS_MASK access)
{
    ACCESS_MASK mapped = access & ~(ACCESS_MASK)(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL);

    if (access & GENERIC_READ)
        mapped |= FILE_GENERIC_READ;
    if (access & GENERIC_WRITE)
        mapped |= FILE_GENERIC_WRITE;
    if (access & GENERIC_EXECUTE)
        mapped |= FILE_MAPPED_EXECUTE;
    if (access & GENERIC_ALL)
        mapped |= FILE_MAPPED_ALL;
    return mapped;
}

/* ---- The file object lock (synchronous files only) ---- */

static void file_lock(struct file *f)
{
    while (InterlockedExchange((LONG volatile *)&f->object.Busy, 1) != 0)
        KeWaitForSingleObject(&f->object.Lock, Executive, KernelMode, FALSE, NULL);
}

/* A waiter that missed the signal finds Busy clear; a signal nobody took costs a later locker one
 * more turn of its loop. */
static void file_unlock(struct file *f)
{
    InterlockedExchange((LONG volatile *)&f->object.Busy, 0);
    KeSetEvent(&f->object.Lock, IO_NO_INCREMENT, FALSE);
}

/* ---- Requests ---- */

/* The I/O manager's buffers are its own pool, not charged to the driver that made the call. */
static PVOID file_buffer_allocate(SIZE_T size)
{
    struct _KTHREAD *self = thread_current();
    const struct sim_driver *caller = self->driver;
    PVOID buffer;

    thread_charge(self, NULL);
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, size, FILE_BUFFER_TAG);
    thread_charge(self, caller);
    return buffer;
}

/* An IRP for the top of the file's device stack with its next stack location set up; NULL when
 * none could be allocated. */
static PIO_STACK_LOCATION file_request_begin(struct file_request *request, struct file *f, UCHAR major,
                                             KPROCESSOR_MODE mode)
{
    PIO_STACK_LOCATION stack;

    /* The caller's side (file_request_new) stays: only the IRP's fields start afresh. */
    request->system_buffer = NULL;
    request->iosb = (IO_STATUS_BLOCK){ 0 };
    request->f = f;
    request->top = io_device_top(f->object.DeviceObject);
    request->irp = io_irp_allocate(request->top->StackSize);
    if (request->irp == NULL)
        return NULL;
    request->irp->RequestorMode = mode;
    request->irp->Tail.Overlay.OriginalFileObject = &f->object;
    stack = IoGetNextIrpStackLocation(request->irp);
    stack->MajorFunction = major;
    stack->FileObject = &f->object;
    return stack;
}

/* A system buffer of size bytes (none for 0), holding a copy of in. */
static NTSTATUS file_request_buffer(struct file_request *request, ULONG size, const void *in, ULONG in_length)
{
    if (size == 0)
        return STATUS_SUCCESS;
    request->system_buffer = file_buffer_allocate(size);
    if (request->system_buffer == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (in != NULL && in_length != 0)
        memcpy(request->system_buffer, in, in_length);
    request->irp->AssociatedIrp.SystemBuffer = request->system_buffer;
    return STATUS_SUCCESS;
}

/* Calls the top driver and waits for the IRP if it pended. Any other status means the IRP is
 * complete by now, or the dispatch routine broke the rule. */
static NTSTATUS file_request_send(struct file_request *request)
{
    return io_irp_send(request->top, request->irp, &request->iosb);
}

/* Copies up to out_length bytes of what the driver returned (Information) back to out, as the I/O
 * manager does for a request that did not fail. */
static void file_request_copy_out(const struct file_request *request, void *out, ULONG out_length)
{
    ULONG_PTR count = request->iosb.Information < out_length ? request->iosb.Information : out_length;

    if (out != NULL && request->system_buffer != NULL && !NT_ERROR(request->iosb.Status))
        memcpy(out, request->system_buffer, count);
}

/* Lets the IRP and its system buffer go. */
static void file_request_release(struct file_request *request)
{
    if (request->system_buffer != NULL)
        ExFreePoolWithTag(request->system_buffer, FILE_BUFFER_TAG);
    if (request->irp != NULL)
        io_irp_free(request->irp);
}

static void file_request_end(struct file_request *request, void *out, ULONG out_length)
{
    file_request_copy_out(request, out, out_length);
    file_request_release(request);
}

/* A complete read, write or IOCTL goes back to its caller: the output, the IO_STATUS_BLOCK, and,
 * unless it failed at once, the events: the caller's Event if it gave one, the file's own event
 * if it did not or the file is synchronous (as IopCompleteRequest does). */
static void file_request_deliver(struct file_request *request, bool pended)
{
    bool signal = pended || !NT_ERROR(request->iosb.Status);

    *request->caller_iosb = request->iosb;
    file_request_copy_out(request, request->out, request->out_length);
    if (signal && request->event != NULL)
        KeSetEvent(request->event, IO_NO_INCREMENT, FALSE);
    if (signal && (request->event == NULL || request->f->synchronous))
        KeSetEvent(&request->f->object.Event, IO_NO_INCREMENT, FALSE);
    if (request->event != NULL)
        ObDereferenceObject(request->event);
}

/* The request itself and its file reference, once its IRP is gone. Poisoned as io_irp_free
 * poisons an IRP, so a late KeSetEvent on `finished` stops the machine (an uninitialised object)
 * instead of working by chance. */
static void file_request_drop(struct file_request *request)
{
    ObDereferenceObject(&request->f->object);
    memset(request, 0xDD, sizeof *request);
    free(request);
}

/* The last of an asynchronous request: its IRP, its file reference and the request itself. */
static void file_request_free(struct file_request *request)
{
    file_request_release(request);
    file_request_drop(request);
}

/* file_pending_lock held. */
static void file_pending_unlink(struct file_request *request)
{
    if (request->linked)
        RemoveEntryList(&request->pending_link);
    request->linked = false;
}

/* Controlled mode: a scheduling point between the hand-over and the listing, where on a real
 * machine the completion can run on another processor. Nothing in between is a DDI, so without it
 * no schedule could put the completion there. */
static void file_pending_window(void)
{
    if (sched_is_controlled())
        sched_point(thread_current_quiet(), SCHED_POINT_DDI, __builtin_return_address(0));
}

/* After the hand-over: the originator keeps the request, so it is still here. Listed and left to
 * the completion, unless it is done already: the completion has left it to the originator then. */
static void file_pending_link(struct file_request *request)
{
    bool done;

    file_pending_window();
    host_lock(&file_pending_lock);
    done = request->done;
    if (!done) {
        InsertTailList(&file_pending, &request->pending_link);
        request->linked = true;
        request->keeper = FILE_KEPT_BY_COMPLETION;
    }
    host_unlock(&file_pending_lock);
    if (done)
        file_request_free(request);
}

/* The completion of an asynchronous request that pended, on the completing thread. Once `done` is
 * set a request another thread keeps is that thread's: the completion only sets `finished` for an
 * ending thread, which waits for it before freeing the request (its IRP included). */
static void file_request_finish(void *context)
{
    struct file_request *request = context;
    enum file_keeper keeper;

    file_request_deliver(request, true);
    host_lock(&file_pending_lock);
    file_pending_unlink(request);
    request->done = true;
    keeper = request->keeper;
    host_unlock(&file_pending_lock);
    if (keeper == FILE_KEPT_BY_ENDING_THREAD)
        KeSetEvent(&request->finished, IO_NO_INCREMENT, FALSE);
    else if (keeper == FILE_KEPT_BY_COMPLETION)
        file_request_free(request);
}

/* Sends a read, write or IOCTL and delivers it, or leaves that to its completion when an
 * asynchronous file's request pends (*handed_over: the completion delivers it, and its keeper
 * frees it with its file reference). The dispatch routine's status. */
static NTSTATUS file_request_run(struct file_request *request, bool *handed_over)
{
    NTSTATUS status;

    *handed_over = false;
    if (request->f->synchronous) {
        status = io_irp_send(request->top, request->irp, &request->iosb);
        file_request_deliver(request, false);
        file_request_release(request);
        return status;
    }
    /* Kept by the originator until it has listed the request: a request that completes at once
     * (most do) never touches the list. */
    KeInitializeEvent(&request->finished, NotificationEvent, FALSE);
    request->thread = thread_current();
    request->keeper = FILE_KEPT_BY_ORIGINATOR;
    status = io_irp_start(request->top, request->irp, &request->iosb, file_request_finish, request, handed_over);
    if (*handed_over) {
        file_pending_link(request);
    } else {
        file_request_deliver(request, status == STATUS_PENDING);
        file_request_release(request);
    }
    return status;
}

/* The first request of thread still in progress, now kept by the calling (ending) thread; NULL
 * when there is none. */
static struct file_request *file_pending_keep(const struct _KTHREAD *thread)
{
    struct file_request *found = NULL;

    host_lock(&file_pending_lock);
    for (PLIST_ENTRY e = file_pending.Flink; e != &file_pending && found == NULL; e = e->Flink) {
        struct file_request *request = CONTAINING_RECORD(e, struct file_request, pending_link);

        if (request->thread == thread) {
            request->keeper = FILE_KEPT_BY_ENDING_THREAD;
            found = request;
        }
    }
    host_unlock(&file_pending_lock);
    return found;
}

/* The ending thread's wait for a cancelled request is over: one still in progress goes off the
 * list and back to its completion; one that is done is freed once `finished` is set - at once,
 * unless the wait timed out just as the completion came, which is about to set it. */
static void file_pending_let_go(struct file_request *request)
{
    bool done;

    host_lock(&file_pending_lock);
    file_pending_unlink(request);
    done = request->done;
    if (!done)
        request->keeper = FILE_KEPT_BY_COMPLETION;
    host_unlock(&file_pending_lock);
    if (!done)
        return;
    KeWaitForSingleObject(&request->finished, Executive, KernelMode, FALSE, NULL);
    file_request_free(request);
}

/* The calling thread is ending: each overlapped request it made that is still in progress is
 * cancelled and waited for. One the driver does not complete in FILE_CANCEL_WAIT_SECONDS is left
 * to complete later, into buffers that may be gone, as NT leaves it. */
void file_thread_ending(struct _KTHREAD *self)
{
    LARGE_INTEGER wait = { .QuadPart = -(LONGLONG)FILE_CANCEL_WAIT_SECONDS * 10000000LL };
    struct file_request *request;

    while ((request = file_pending_keep(self)) != NULL) {
        IoCancelIrp(request->irp);
        KeWaitForSingleObject(&request->finished, Executive, KernelMode, FALSE, &wait);
        file_pending_let_go(request);
    }
}

/* CLEANUP and CLOSE cannot fail: the I/O manager has must-succeed IRPs for them. */
static void file_request_final(struct file *f, UCHAR major)
{
    struct file_request request = { 0 };

    if (file_request_begin(&request, f, major, KernelMode) == NULL)
        abort();
    file_request_send(&request);
    file_request_end(&request, NULL, 0);
}

/* ---- Callers and handles ---- */

/* The file a handle names in the current process, referenced. A UserMode caller needs every
 * access right in `needed` on the handle; KernelMode skips the check, as on Windows. */
static NTSTATUS file_reference(HANDLE handle, ACCESS_MASK needed, KPROCESSOR_MODE mode, struct file **f)
{
    OBJECT_HANDLE_INFORMATION info;
    PVOID object;
    NTSTATUS status = handle_reference(handle, object_file_type, mode, &object, &info);

    *f = NULL;
    if (!NT_SUCCESS(status))
        return status;
    if (mode == UserMode && (info.GrantedAccess & needed) != needed) {
        ObDereferenceObject(object);
        return STATUS_ACCESS_DENIED;
    }
    *f = file_of(object);
    return STATUS_SUCCESS;
}

static void file_dereference(struct file *f)
{
    ObDereferenceObject(&f->object);
}

/* What a wait on a file waits for: its event, set when an I/O request on it completes. */
static PVOID file_completion_event(PVOID body)
{
    return &file_of(body)->object.Event;
}

/* ---- The object manager's procedures ---- */

/* The last handle is closed: the driver cancels what this file still has pending. Only opened
 * files ever have a handle. */
static void file_object_close(PVOID body)
{
    struct file *f = file_of(body);

    if (f->synchronous)
        file_lock(f);
    file_request_final(f, IRP_MJ_CLEANUP);
    if (f->synchronous)
        file_unlock(f);
}

static void file_close_now(struct file *f)
{
    PDEVICE_OBJECT device = f->object.DeviceObject;

    if (f->opened)
        file_request_final(f, IRP_MJ_CLOSE);
    memset(f, 0xDD, sizeof *f);
    free(f);
    io_device_close(device);
}

static VOID NTAPI file_close_deferred(PVOID parameter)
{
    file_close_now(parameter);
}

/* The last reference is gone. Above PASSIVE_LEVEL (a dereference in a DPC) the close waits for a
 * worker thread, as NT defers object deletion; that work item is the kernel's, not the driver's. */
static void file_object_delete(PVOID body)
{
    struct file *f = file_of(body);
    struct _KTHREAD *self;
    const struct sim_driver *caller;

    if (irql_current() == PASSIVE_LEVEL) {
        file_close_now(f);
        return;
    }
    self = thread_current();
    caller = self->driver;
    thread_charge(self, NULL);
    ExQueueWorkItem(&f->deferred_close, DelayedWorkQueue);
    thread_charge(self, caller);
}

static struct _OBJECT_TYPE file_type = {
    .name = "File",
    .delete_procedure = file_object_delete,
    .close_procedure = file_object_close,
    .wait_procedure = file_completion_event,
};
POBJECT_TYPE object_file_type = &file_type;
POBJECT_TYPE *IoFileObjectType = &object_file_type;

/* ---- ZwCreateFile ---- */

/* The object manager's checks of the name, in its order: the record's Length, the captured name
 * (whole WCHARs inside the buffer), then the lookup (without a root directory a name is absolute:
 * it starts with a backslash; no name at all is the same syntax error). */
static NTSTATUS file_check_name(POBJECT_ATTRIBUTES attributes, const void *caller)
{
    PUNICODE_STRING name = attributes->ObjectName;

    if (attributes->Length != sizeof *attributes)
        return STATUS_INVALID_PARAMETER;
    if (name != NULL && (name->Length % sizeof(WCHAR) != 0 || name->Length > name->MaximumLength))
        return STATUS_OBJECT_NAME_INVALID;
    if (name != NULL && name->Length > 0 &&
        !rule_probe_pointer((uintptr_t)name->Buffer, "ZwCreateFile", "ObjectAttributes->ObjectName->Buffer", RULE_READS,
                            caller))
        return STATUS_ACCESS_VIOLATION;
    if (attributes->RootDirectory != NULL)
        return STATUS_NOT_IMPLEMENTED;      /* relative opens: no directory objects yet */
    if (name == NULL || name->Length == 0 || name->Buffer[0] != L'\\')
        return STATUS_OBJECT_PATH_SYNTAX_BAD;
    return STATUS_SUCCESS;
}

static NTSTATUS file_check_create(POBJECT_ATTRIBUTES attributes, ACCESS_MASK access, ULONG disposition,
                                  ULONG options, const void *caller)
{
    ULONG sync = options & (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT);
    NTSTATUS status = file_check_name(attributes, caller);

    if (!NT_SUCCESS(status))
        return status;
    if (disposition > FILE_MAXIMUM_DISPOSITION)
        return STATUS_INVALID_PARAMETER;
    if (sync == (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT) ||
        (sync != 0 && !(access & SYNCHRONIZE)))
        return STATUS_INVALID_PARAMETER;
    return STATUS_SUCCESS;
}

static struct file *file_new(PDEVICE_OBJECT device, ACCESS_MASK access, ULONG options)
{
    struct file *f = calloc(1, sizeof *f);

    if (f == NULL)
        return NULL;
    f->object.Type = IO_TYPE_FILE;
    f->object.Size = (CSHORT)sizeof f->object;
    f->object.DeviceObject = device;
    f->object.ReadAccess = (access & (FILE_READ_DATA | FILE_ACCESS_EXECUTE)) != 0;
    f->object.WriteAccess = (access & (FILE_WRITE_DATA | FILE_APPEND_DATA)) != 0;
    f->object.DeleteAccess = (access & DELETE) != 0;
    KeInitializeEvent(&f->object.Lock, SynchronizationEvent, FALSE);
    KeInitializeEvent(&f->object.Event, NotificationEvent, FALSE);
    KeInitializeSpinLock(&f->object.IrpListLock);
    InitializeListHead(&f->object.IrpList);
    f->synchronous = (options & (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT)) != 0;
    ExInitializeWorkItem(&f->deferred_close, file_close_deferred, f);
    object_create(f, object_file_type);
    return f;
}

/* Sends IRP_MJ_CREATE; the driver's status, with its IoStatus in *iosb. */
static NTSTATUS file_send_create(struct file *f, KPROCESSOR_MODE mode, PLARGE_INTEGER allocation_size,
                                 ULONG file_attributes, ULONG share_access, ULONG disposition, ULONG options,
                                 PVOID ea_buffer, ULONG ea_length, PIO_STATUS_BLOCK iosb)
{
    struct file_request request = { 0 };
    PIO_STACK_LOCATION stack = file_request_begin(&request, f, IRP_MJ_CREATE, mode);
    NTSTATUS status;

    if (stack == NULL) {
        *iosb = (IO_STATUS_BLOCK){ .Status = STATUS_INSUFFICIENT_RESOURCES };
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    stack->Parameters.Create.Options = disposition << 24 | (options & 0x00FFFFFF);
    stack->Parameters.Create.FileAttributes = (USHORT)file_attributes;
    stack->Parameters.Create.ShareAccess = (USHORT)share_access;
    stack->Parameters.Create.EaLength = ea_length;
    request.irp->Overlay.AllocationSize.QuadPart = allocation_size ? allocation_size->QuadPart : 0;
    request.irp->AssociatedIrp.SystemBuffer = ea_buffer;
    status = file_request_send(&request);
    *iosb = request.iosb;
    file_request_end(&request, NULL, 0);
    return status;
}

/* PASSIVE_LEVEL; may wait. Opens a device (FILE_OPEN, FILE_OPEN_IF; FILE_CREATE of an existing
 * name collides) and sends IRP_MJ_CREATE down its stack; the handle goes to the current process
 * unless OBJ_KERNEL_HANDLE, which an application cannot ask for. Relative opens (RootDirectory)
 * are not supported. */
NTSTATUS NTAPI ZwCreateFile(PHANDLE FileHandle, ACCESS_MASK DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes,
                            PIO_STATUS_BLOCK IoStatusBlock, PLARGE_INTEGER AllocationSize, ULONG FileAttributes,
                            ULONG ShareAccess, ULONG CreateDisposition, ULONG CreateOptions, PVOID EaBuffer,
                            ULONG EaLength)
{
    ACCESS_MASK access = file_map_generic(DesiredAccess);
    KPROCESSOR_MODE mode;
    PDEVICE_OBJECT device;
    IO_STATUS_BLOCK iosb;
    struct file *f;
    ULONG handle_attributes;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_FILE_NOT_PASSIVE, irql_current(), (ULONG_PTR)FileHandle, 0, 0);
    if (!RULE_PROBE_ARGUMENT(FileHandle, RULE_WRITES) || !RULE_PROBE_ARGUMENT(ObjectAttributes, RULE_READS) ||
        !RULE_PROBE_ARGUMENT(IoStatusBlock, RULE_WRITES))
        return STATUS_ACCESS_VIOLATION;
    mode = thread_previous_mode();
    *FileHandle = NULL;
    status = file_check_create(ObjectAttributes, access, CreateDisposition, CreateOptions,
                               __builtin_return_address(0));
    if (!NT_SUCCESS(status))
        return status;
    status = io_device_open(ObjectAttributes->ObjectName, &device);
    if (CreateDisposition == FILE_CREATE && status != STATUS_OBJECT_NAME_NOT_FOUND) {
        if (NT_SUCCESS(status))
            io_device_close(device);
        return STATUS_OBJECT_NAME_COLLISION;
    }
    if (!NT_SUCCESS(status))
        return status;
    f = file_new(device, access, CreateOptions);
    if (f == NULL) {
        io_device_close(device);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    status = file_send_create(f, mode, AllocationSize, FileAttributes, ShareAccess, CreateDisposition,
                              CreateOptions, EaBuffer, EaLength, &iosb);
    if (NT_SUCCESS(status)) {
        f->opened = true;
        handle_attributes = ObjectAttributes->Attributes;
        if (mode == UserMode)
            handle_attributes &= ~(ULONG)OBJ_KERNEL_HANDLE;
        *FileHandle = handle_create(f, access, handle_attributes);
        iosb.Information = FILE_OPENED;
    }
    /* The handle now keeps the file; a failed one goes without CLEANUP or CLOSE. */
    object_release(f);
    if (IoStatusBlock != NULL)
        *IoStatusBlock = iosb;
    return status;
}

/* ---- ZwReadFile, ZwWriteFile ---- */

static bool file_uses_position(PLARGE_INTEGER byte_offset)
{
    return byte_offset == NULL ||
           (byte_offset->HighPart == -1 && byte_offset->LowPart == FILE_USE_FILE_POINTER_POSITION);
}

/* The caller's Event for a read, write or IOCTL, referenced and reset, as NT resets it when the
 * request starts; NULL for none. */
static NTSTATUS file_event_reference(HANDLE event, KPROCESSOR_MODE mode, PKEVENT *referenced)
{
    NTSTATUS status;

    *referenced = NULL;
    if (event == NULL)
        return STATUS_SUCCESS;
    status = handle_reference(event, *ExEventObjectType, mode, (PVOID *)referenced, NULL);
    if (NT_SUCCESS(status))
        KeClearEvent(*referenced);
    return status;
}

/* A request for a read, write or IOCTL from the caller's handle: the file referenced (with the
 * rights a UserMode caller needs), the caller's Event referenced and reset. On failure nothing is
 * held. ApcRoutine is not supported (no user APCs yet). */
static NTSTATUS file_request_new(HANDLE handle, ACCESS_MASK needed, HANDLE event, PIO_APC_ROUTINE apc,
                                 PIO_STATUS_BLOCK iosb, KPROCESSOR_MODE mode, struct file_request **made)
{
    struct file_request *request;
    NTSTATUS status;

    *made = NULL;
    if (apc != NULL)
        return STATUS_NOT_IMPLEMENTED;
    if (iosb == NULL)
        return STATUS_ACCESS_VIOLATION;
    request = calloc(1, sizeof *request);
    if (request == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    status = file_reference(handle, needed, mode, &request->f);
    if (NT_SUCCESS(status)) {
        status = file_event_reference(event, mode, &request->event);
        if (!NT_SUCCESS(status))
            file_dereference(request->f);
    }
    if (!NT_SUCCESS(status)) {
        free(request);
        return status;
    }
    request->caller_iosb = iosb;
    *made = request;
    return STATUS_SUCCESS;
}

/* A synchronous file's requests take turns (the file object lock); then the file's event is reset
 * for the request that starts, as NT resets it. */
static void file_request_turn(struct file_request *request)
{
    if (request->f->synchronous)
        file_lock(request->f);
    KeClearEvent(&request->f->object.Event);
}

/* Lets go of a request that never reached the driver. */
static void file_request_abandon(struct file_request *request)
{
    file_request_release(request);
    if (request->event != NULL)
        ObDereferenceObject(request->event);
    file_request_drop(request);
}

/* Sets up the IRP; false when the I/O manager ran out of pool. */
static bool file_transfer_prepare(struct file_request *request, UCHAR major, KPROCESSOR_MODE mode, PVOID buffer,
                                  ULONG length, LARGE_INTEGER offset, PULONG key)
{
    PIO_STACK_LOCATION stack = file_request_begin(request, request->f, major, mode);

    if (stack == NULL)
        return false;
    stack->Parameters.Read.Length = length;
    stack->Parameters.Read.Key = key ? *key : 0;
    stack->Parameters.Read.ByteOffset = offset;
    request->irp->UserBuffer = buffer;
    /* Direct I/O has no MDLs here yet, so a DO_DIRECT_IO device is served as a buffered one. */
    if (!(request->top->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO)))
        return true;
    if (major == IRP_MJ_READ) {
        request->out = buffer;
        request->out_length = length;
    }
    return NT_SUCCESS(file_request_buffer(request, length, major == IRP_MJ_WRITE ? buffer : NULL, length));
}

static NTSTATUS file_transfer(UCHAR major, HANDLE handle, HANDLE event, PIO_APC_ROUTINE apc,
                              PIO_STATUS_BLOCK iosb, PVOID buffer, ULONG length, PLARGE_INTEGER byte_offset,
                              PULONG key)
{
    KPROCESSOR_MODE mode = thread_previous_mode();
    struct file_request *request;
    bool handed_over = false;
    LARGE_INTEGER offset;
    struct file *f;
    NTSTATUS status;

    status = file_request_new(handle, major == IRP_MJ_READ ? FILE_READ_DATA : FILE_WRITE_DATA, event, apc, iosb,
                              mode, &request);
    if (!NT_SUCCESS(status))
        return status;
    f = request->f;
    /* NT: without a position of its own, an asynchronous file needs an explicit offset. */
    if (!f->synchronous && byte_offset == NULL) {
        file_request_abandon(request);
        return STATUS_INVALID_PARAMETER;
    }
    file_request_turn(request);
    offset = f->synchronous && file_uses_position(byte_offset) ? f->object.CurrentByteOffset : *byte_offset;
    if (!file_transfer_prepare(request, major, mode, buffer, length, offset, key)) {
        if (f->synchronous)
            file_unlock(f);
        file_request_abandon(request);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    status = file_request_run(request, &handed_over);
    if (f->synchronous && !NT_ERROR(iosb->Status))
        f->object.CurrentByteOffset.QuadPart = offset.QuadPart + (LONGLONG)iosb->Information;
    if (f->synchronous)
        file_unlock(f);
    if (!handed_over)
        file_request_drop(request);
    return status;
}

/* PASSIVE_LEVEL; may wait. A synchronous file's read completes before the call returns; an
 * asynchronous file's returns STATUS_PENDING when the driver pends it, and Event (or the file)
 * is set when it completes. ApcRoutine must be NULL: user APCs are STATUS_NOT_IMPLEMENTED. */
NTSTATUS NTAPI ZwReadFile(HANDLE FileHandle, HANDLE Event, PIO_APC_ROUTINE ApcRoutine, PVOID ApcContext,
                          PIO_STATUS_BLOCK IoStatusBlock, PVOID Buffer, ULONG Length, PLARGE_INTEGER ByteOffset,
                          PULONG Key)
{
    rule_check_irql(RULE_ZW_FILE_NOT_PASSIVE, irql_current(), (ULONG_PTR)FileHandle, 0, 0);
    if (!RULE_PROBE_ARGUMENT(IoStatusBlock, RULE_WRITES))
        return STATUS_ACCESS_VIOLATION;
    (void)ApcContext;
    return file_transfer(IRP_MJ_READ, FileHandle, Event, ApcRoutine, IoStatusBlock, Buffer, Length, ByteOffset, Key);
}

/* PASSIVE_LEVEL; may wait. As ZwReadFile. */
NTSTATUS NTAPI ZwWriteFile(HANDLE FileHandle, HANDLE Event, PIO_APC_ROUTINE ApcRoutine, PVOID ApcContext,
                           PIO_STATUS_BLOCK IoStatusBlock, PVOID Buffer, ULONG Length, PLARGE_INTEGER ByteOffset,
                           PULONG Key)
{
    rule_check_irql(RULE_ZW_FILE_NOT_PASSIVE, irql_current(), (ULONG_PTR)FileHandle, 0, 0);
    if (!RULE_PROBE_ARGUMENT(IoStatusBlock, RULE_WRITES))
        return STATUS_ACCESS_VIOLATION;
    (void)ApcContext;
    return file_transfer(IRP_MJ_WRITE, FileHandle, Event, ApcRoutine, IoStatusBlock, Buffer, Length, ByteOffset,
                         Key);
}

/* ---- ZwDeviceIoControlFile ---- */

/* The handle rights an application needs for an IOCTL: its code's FILE_READ_ACCESS and
 * FILE_WRITE_ACCESS bits. */
static ACCESS_MASK file_ioctl_access(ULONG code)
{
    ULONG bits = (code >> 14) & 3;

    return ((bits & FILE_READ_ACCESS) ? FILE_READ_DATA : 0) | ((bits & FILE_WRITE_ACCESS) ? FILE_WRITE_DATA : 0);
}

/* Sets up the IRP; false when the I/O manager ran out of pool. */
static bool file_ioctl_prepare(struct file_request *request, KPROCESSOR_MODE mode, ULONG code, PVOID input,
                               ULONG input_length, PVOID output, ULONG output_length)
{
    PIO_STACK_LOCATION stack = file_request_begin(request, request->f, IRP_MJ_DEVICE_CONTROL, mode);

    if (stack == NULL)
        return false;
    stack->Parameters.DeviceIoControl.OutputBufferLength = output_length;
    stack->Parameters.DeviceIoControl.InputBufferLength = input_length;
    stack->Parameters.DeviceIoControl.IoControlCode = code;
    request->irp->UserBuffer = output;
    if (METHOD_FROM_CTL_CODE(code) == METHOD_NEITHER) {
        stack->Parameters.DeviceIoControl.Type3InputBuffer = input;
        return true;
    }
    request->out = output;
    request->out_length = output_length;
    return NT_SUCCESS(file_request_buffer(request, input_length > output_length ? input_length : output_length,
                                          input, input_length));
}

/* PASSIVE_LEVEL; may wait, and returns STATUS_PENDING as ZwReadFile does on an asynchronous file.
 * METHOD_BUFFERED: one system buffer of the larger length, the input copied in, Information bytes
 * of output copied back. METHOD_NEITHER: the driver gets the caller's pointers (Type3InputBuffer,
 * UserBuffer), valid only in the caller's process. The direct methods are served as
 * METHOD_BUFFERED until MDLs exist. ApcRoutine must be NULL. */
NTSTATUS NTAPI ZwDeviceIoControlFile(HANDLE FileHandle, HANDLE Event, PIO_APC_ROUTINE ApcRoutine, PVOID ApcContext,
                                     PIO_STATUS_BLOCK IoStatusBlock, ULONG IoControlCode, PVOID InputBuffer,
                                     ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength)
{
    KPROCESSOR_MODE mode = thread_previous_mode();
    struct file_request *request;
    bool handed_over;
    struct file *f;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_FILE_NOT_PASSIVE, irql_current(), (ULONG_PTR)FileHandle, IoControlCode, 0);
    if (!RULE_PROBE_ARGUMENT(IoStatusBlock, RULE_WRITES))
        return STATUS_ACCESS_VIOLATION;
    (void)ApcContext;
    status = file_request_new(FileHandle, file_ioctl_access(IoControlCode), Event, ApcRoutine, IoStatusBlock, mode,
                              &request);
    if (!NT_SUCCESS(status))
        return status;
    f = request->f;
    file_request_turn(request);
    if (!file_ioctl_prepare(request, mode, IoControlCode, InputBuffer, InputBufferLength, OutputBuffer,
                            OutputBufferLength)) {
        if (f->synchronous)
            file_unlock(f);
        file_request_abandon(request);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    status = file_request_run(request, &handed_over);
    if (f->synchronous)
        file_unlock(f);
    if (!handed_over)
        file_request_drop(request);
    return status;
}

/* ---- ZwQueryInformationFile ---- */

/* The smallest buffer the I/O manager accepts for a class whose structure wdm.h defines; 0 for
 * the others, whose checks are the driver's. */
static ULONG file_query_minimum(FILE_INFORMATION_CLASS class)
{
    if (class == FileStandardInformation)
        return sizeof(FILE_STANDARD_INFORMATION);
    if (class == FilePositionInformation)
        return sizeof(FILE_POSITION_INFORMATION);
    return 0;
}

/* What the I/O manager answers itself, as NT does: the position of a synchronous file, which only
 * it keeps. false: the class is the driver's. */
static bool file_query_own(struct file *f, PVOID buffer, FILE_INFORMATION_CLASS class, IO_STATUS_BLOCK *iosb)
{
    FILE_POSITION_INFORMATION position;

    if (class != FilePositionInformation || !f->synchronous)
        return false;
    position.CurrentByteOffset = f->object.CurrentByteOffset;
    memcpy(buffer, &position, sizeof position);
    *iosb = (IO_STATUS_BLOCK){ .Status = STATUS_SUCCESS, .Information = sizeof position };
    return true;
}

/* Every other class goes to the driver as IRP_MJ_QUERY_INFORMATION, always buffered. */
static NTSTATUS file_query_driver(struct file *f, KPROCESSOR_MODE mode, PVOID buffer, ULONG length,
                                  FILE_INFORMATION_CLASS class, IO_STATUS_BLOCK *iosb)
{
    struct file_request request = { 0 };
    PIO_STACK_LOCATION stack = file_request_begin(&request, f, IRP_MJ_QUERY_INFORMATION, mode);
    NTSTATUS status = stack == NULL ? STATUS_INSUFFICIENT_RESOURCES : STATUS_SUCCESS;

    if (NT_SUCCESS(status)) {
        stack->Parameters.QueryFile.Length = length;
        stack->Parameters.QueryFile.FileInformationClass = class;
        status = file_request_buffer(&request, length, NULL, 0);
    }
    if (NT_SUCCESS(status)) {
        status = file_request_send(&request);
        *iosb = request.iosb;
    }
    file_request_end(&request, buffer, length);
    return status;
}

/* PASSIVE_LEVEL; may wait. A synchronous file's FilePositionInformation is answered by the I/O
 * manager, every other class by the driver (a device driver answers FileStandardInformation); a
 * buffer too small for a class wdm.h defines gives STATUS_INFO_LENGTH_MISMATCH before either. */
NTSTATUS NTAPI ZwQueryInformationFile(HANDLE FileHandle, PIO_STATUS_BLOCK IoStatusBlock, PVOID FileInformation,
                                      ULONG Length, FILE_INFORMATION_CLASS FileInformationClass)
{
    KPROCESSOR_MODE mode;
    IO_STATUS_BLOCK iosb;
    struct file *f;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_FILE_NOT_PASSIVE, irql_current(), (ULONG_PTR)FileHandle, FileInformationClass, 0);
    mode = thread_previous_mode();
    if (FileInformationClass <= 0 || FileInformationClass >= FileMaximumInformation)
        return STATUS_INVALID_INFO_CLASS;
    if (IoStatusBlock == NULL)
        return STATUS_ACCESS_VIOLATION;
    if (Length < file_query_minimum(FileInformationClass))
        return STATUS_INFO_LENGTH_MISMATCH;
    status = file_reference(FileHandle, 0, mode, &f);
    if (!NT_SUCCESS(status))
        return status;
    if (f->synchronous)
        file_lock(f);
    if (file_query_own(f, FileInformation, FileInformationClass, &iosb)) {
        status = iosb.Status;
        *IoStatusBlock = iosb;
    } else {
        status = file_query_driver(f, mode, FileInformation, Length, FileInformationClass, IoStatusBlock);
    }
    if (f->synchronous)
        file_unlock(f);
    file_dereference(f);
    return status;
}

/* PASSIVE_LEVEL; may wait. ZwCreateFile with FILE_OPEN, no allocation size, attributes or EAs,
 * as NtOpenFile is. */
NTSTATUS NTAPI ZwOpenFile(PHANDLE FileHandle, ACCESS_MASK DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes,
                          PIO_STATUS_BLOCK IoStatusBlock, ULONG ShareAccess, ULONG OpenOptions)
{
    return ZwCreateFile(FileHandle, DesiredAccess, ObjectAttributes, IoStatusBlock, NULL, 0, ShareAccess, FILE_OPEN,
                        OpenOptions, NULL, 0);
}

/* ---- ZwSetInformationFile ---- */

/* The smallest buffer, and the right an application's handle needs, for the classes the I/O
 * manager knows; other classes are the driver's to check. */
static ULONG file_set_minimum(FILE_INFORMATION_CLASS class, ACCESS_MASK *needed)
{
    *needed = 0;
    if (class == FilePositionInformation)
        return sizeof(FILE_POSITION_INFORMATION);
    if (class == FileEndOfFileInformation) {
        *needed = FILE_WRITE_DATA;
        return sizeof(FILE_END_OF_FILE_INFORMATION);
    }
    return 0;
}

/* What the I/O manager does itself, as NT: the position of a synchronous file, which only it
 * keeps (a negative offset is STATUS_INVALID_PARAMETER). false: the class is the driver's. */
static bool file_set_own(struct file *f, PVOID buffer, FILE_INFORMATION_CLASS class, IO_STATUS_BLOCK *iosb)
{
    FILE_POSITION_INFORMATION position;

    if (class != FilePositionInformation || !f->synchronous)
        return false;
    memcpy(&position, buffer, sizeof position);
    if (position.CurrentByteOffset.QuadPart < 0) {
        *iosb = (IO_STATUS_BLOCK){ .Status = STATUS_INVALID_PARAMETER };
        return true;
    }
    f->object.CurrentByteOffset = position.CurrentByteOffset;
    *iosb = (IO_STATUS_BLOCK){ .Status = STATUS_SUCCESS };
    return true;
}

/* Every other class goes to the driver as IRP_MJ_SET_INFORMATION, the input in a system buffer. */
static NTSTATUS file_set_driver(struct file *f, KPROCESSOR_MODE mode, PVOID buffer, ULONG length,
                                FILE_INFORMATION_CLASS class, IO_STATUS_BLOCK *iosb)
{
    struct file_request request = { 0 };
    PIO_STACK_LOCATION stack = file_request_begin(&request, f, IRP_MJ_SET_INFORMATION, mode);
    NTSTATUS status = stack == NULL ? STATUS_INSUFFICIENT_RESOURCES : STATUS_SUCCESS;

    if (NT_SUCCESS(status)) {
        stack->Parameters.SetFile.Length = length;
        stack->Parameters.SetFile.FileInformationClass = class;
        status = file_request_buffer(&request, length, buffer, length);
    }
    if (NT_SUCCESS(status)) {
        status = file_request_send(&request);
        *iosb = request.iosb;
    }
    file_request_end(&request, NULL, 0);
    return status;
}

/* PASSIVE_LEVEL; may wait. A synchronous file's FilePositionInformation is the I/O manager's to
 * set; every other class (FileEndOfFileInformation, ...) goes to the driver as
 * IRP_MJ_SET_INFORMATION. A buffer smaller than a known class's structure is
 * STATUS_INFO_LENGTH_MISMATCH; an application's handle needs FILE_WRITE_DATA for the end of file. */
NTSTATUS NTAPI ZwSetInformationFile(HANDLE FileHandle, PIO_STATUS_BLOCK IoStatusBlock, PVOID FileInformation,
                                    ULONG Length, FILE_INFORMATION_CLASS FileInformationClass)
{
    KPROCESSOR_MODE mode;
    ACCESS_MASK needed;
    IO_STATUS_BLOCK iosb;
    struct file *f;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_FILE_NOT_PASSIVE, irql_current(), (ULONG_PTR)FileHandle, FileInformationClass, 0);
    mode = thread_previous_mode();
    if (FileInformationClass <= 0 || FileInformationClass >= FileMaximumInformation)
        return STATUS_INVALID_INFO_CLASS;
    if (IoStatusBlock == NULL || (FileInformation == NULL && Length != 0))
        return STATUS_ACCESS_VIOLATION;
    if (Length < file_set_minimum(FileInformationClass, &needed))
        return STATUS_INFO_LENGTH_MISMATCH;
    status = file_reference(FileHandle, needed, mode, &f);
    if (!NT_SUCCESS(status))
        return status;
    if (f->synchronous)
        file_lock(f);
    if (file_set_own(f, FileInformation, FileInformationClass, &iosb)) {
        status = iosb.Status;
        *IoStatusBlock = iosb;
    } else {
        status = file_set_driver(f, mode, FileInformation, Length, FileInformationClass, IoStatusBlock);
    }
    if (f->synchronous)
        file_unlock(f);
    file_dereference(f);
    return status;
}

/* ---- ZwFlushBuffersFile ---- */

/* PASSIVE_LEVEL; may wait. IRP_MJ_FLUSH_BUFFERS to the driver; an application's handle needs
 * FILE_WRITE_DATA or FILE_APPEND_DATA (STATUS_ACCESS_DENIED otherwise, as NtFlushBuffersFile). */
NTSTATUS NTAPI ZwFlushBuffersFile(HANDLE FileHandle, PIO_STATUS_BLOCK IoStatusBlock)
{
    struct file_request request = { 0 };
    OBJECT_HANDLE_INFORMATION info;
    KPROCESSOR_MODE mode;
    PVOID object;
    struct file *f;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_FILE_NOT_PASSIVE, irql_current(), (ULONG_PTR)FileHandle, 0, 0);
    mode = thread_previous_mode();
    if (IoStatusBlock == NULL)
        return STATUS_ACCESS_VIOLATION;
    status = handle_reference(FileHandle, object_file_type, mode, &object, &info);
    if (!NT_SUCCESS(status))
        return status;
    f = file_of(object);
    if (mode == UserMode && !(info.GrantedAccess & (FILE_WRITE_DATA | FILE_APPEND_DATA))) {
        file_dereference(f);
        return STATUS_ACCESS_DENIED;
    }
    if (f->synchronous)
        file_lock(f);
    status = file_request_begin(&request, f, IRP_MJ_FLUSH_BUFFERS, mode) == NULL ? STATUS_INSUFFICIENT_RESOURCES
                                                                                 : file_request_send(&request);
    if (request.irp != NULL)
        *IoStatusBlock = request.iosb;
    file_request_end(&request, NULL, 0);
    if (f->synchronous)
        file_unlock(f);
    file_dereference(f);
    return status;
}
