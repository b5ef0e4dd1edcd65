/*
 * fuzz_zw.c - the Zw surface an application controls, against TraceDrv and the DebugPrint driver:
 * ZwCreateFile with any name (the drivers' names and links, mangled, cut, lengthened; any Length
 * and MaximumLength over a buffer of exactly MaximumLength bytes) and any OBJECT_ATTRIBUTES,
 * access, share, disposition and options; then ZwDeviceIoControlFile with the drivers' codes
 * under every method and access, or any code, with buffers of any size (METHOD_NEITHER
 * included); ZwReadFile and ZwWriteFile of any size; ZwClose. Each input is a thread of one
 * application process; one kernel serves the whole fuzzing process.
 *
 * Everything here is legal for an application, so a STOP, a crash or a sanitizer report is a
 * finding. Pointers are valid (the simulator does not probe user buffers: a bad pointer would be
 * a crash of the target, not of the kernel), and reads go only to overlapped handles, since a
 * synchronous read of an empty DebugPrint queue waits for ever. The statuses are not checked:
 * the target is after crashes and broken rules.
 */
#include <stdbool.h>
#include <stdlib.h>

#include <ntifs.h>
#include <wdmsim/wdmsim.h>

#include "DbgPrtGUID.h"
#include "TraceDrv.h"
#include "fuzz_check.h"
#include "fuzz_input.h"

#define ZW_MAX_OPS 32
#define ZW_HANDLES 4
#define ZW_MAX_NAME 160
#define ZW_MAX_BUFFER 600

NTSTATUS NTAPI DebugPrintDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);
NTSTATUS NTAPI TraceDrvEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);

/* A request that may pend: its buffers and IO_STATUS_BLOCK live until the input's thread has
 * ended. A read the DebugPrint driver holds may be completed by TraceDrv's DebugPrint thread
 * while the application closes its handle, so only the end of the thread that issued it, which
 * cancels its overlapped requests and waits for them (IoCancelThreadIo), makes them free. */
struct zw_transfer {
    struct zw_transfer *next;
    IO_STATUS_BLOCK iosb;
    uint8_t data[];
};

struct zw_case {
    struct fuzz_input in;
    HANDLE handles[ZW_HANDLES];
    bool synchronous[ZW_HANDLES];
    struct zw_transfer *transfers;
};

static PEPROCESS application;
static struct wdmsim_device_interface debugprint_interface;

static void zw_fuzz_start(void)
{
    static const GUID debugprint = DEBUGPRINT_GUID_INIT;
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_VIRTUAL, .time_zone_bias_set = 1 };
    PDRIVER_OBJECT driver;

    wdmsim_boot(&config);
    FUZZ_CHECK(wdmsim_driver_load("DebugPrint", DebugPrintDriverEntry, &driver) == STATUS_SUCCESS,
               "the DebugPrint driver did not load");
    FUZZ_CHECK(wdmsim_driver_load("TraceDrv", TraceDrvEntry, &driver) == STATUS_SUCCESS, "TraceDrv did not load");
    FUZZ_CHECK(wdmsim_device_interfaces(&debugprint, &debugprint_interface, 1) == 1, "no DebugPrint interface");
    application = wdmsim_process_create("FuzzApp");
}

/* ---- ZwCreateFile ---- */

static size_t zw_wide_length(const WCHAR *s)
{
    size_t n = 0;

    while (s[n] != 0)
        n++;
    return n;
}

/* A name to start from, then changes: letters' case flipped, characters appended, a cut. */
static size_t zw_name(struct fuzz_input *in, WCHAR name[ZW_MAX_NAME])
{
    static const WCHAR *const bases[] = {
        TRACEDRV_DEVICE_NAME, TRACEDRV_LINK_NAME, L"\\DosDevices\\TraceDrv", L"\\Device\\PHDDebugPrint",
        NULL, L"\\Device\\", L"\\??\\", L"\\",
    };
    const WCHAR *base = bases[fuzz_u8(in) % (sizeof bases / sizeof bases[0])];
    size_t length;
    uint8_t changes = fuzz_u8(in);

    if (base == NULL)
        base = debugprint_interface.name;
    length = zw_wide_length(base);
    memcpy(name, base, length * sizeof(WCHAR));
    if (changes & 1) {
        for (size_t i = 0; i < length; i++)
            name[i] = (WCHAR)(name[i] ^ (fuzz_u8(in) % 4 == 0 ? 0x20 : 0));
    }
    if (changes & 2) {
        for (size_t extra = fuzz_u8(in) % 24; extra > 0 && length < ZW_MAX_NAME; extra--)
            name[length++] = fuzz_u8(in) % 2 ? (WCHAR)fuzz_u16(in) : (WCHAR)"\\?.:A0 \0"[fuzz_u8(in) % 8];
    }
    if (changes & 4)
        length = fuzz_u8(in) % (length + 1);
    return length;
}

/* A UNICODE_STRING over exactly MaximumLength bytes; its Length as it comes, or the name's. */
static UNICODE_STRING *zw_counted(struct fuzz_input *in, UNICODE_STRING *s)
{
    WCHAR name[ZW_MAX_NAME];
    size_t length = zw_name(in, name);
    uint8_t choice = fuzz_u8(in);

    if (choice % 16 == 0)
        return NULL;
    s->Length = (USHORT)(length * sizeof(WCHAR));
    s->MaximumLength = s->Length;
    if (choice & 0x10)
        s->MaximumLength = (USHORT)(s->MaximumLength + fuzz_u8(in));
    if (choice & 0x20)
        s->Length = fuzz_u16(in) % (ZW_MAX_NAME * sizeof(WCHAR) + 8);
    s->Buffer = choice % 16 == 1 ? NULL : malloc(s->MaximumLength > 0 ? s->MaximumLength : 1);
    if (s->Buffer != NULL) {
        memset(s->Buffer, 0, s->MaximumLength);
        memcpy(s->Buffer, name, length * sizeof(WCHAR) < s->MaximumLength ? length * sizeof(WCHAR) : s->MaximumLength);
    }
    return s;
}

static int zw_free_slot(const struct zw_case *c)
{
    for (int i = 0; i < ZW_HANDLES; i++) {
        if (c->handles[i] == NULL)
            return i;
    }
    return -1;
}

static ACCESS_MASK zw_access(struct fuzz_input *in)
{
    static const ACCESS_MASK common[] = {
        GENERIC_READ | GENERIC_WRITE, GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE, GENERIC_READ, GENERIC_WRITE,
        FILE_READ_DATA, FILE_WRITE_DATA | SYNCHRONIZE, 0, GENERIC_ALL,
    };
    uint8_t choice = fuzz_u8(in);

    return choice < 0xF0 ? common[choice % 8] : fuzz_u32(in);
}

static ULONG zw_options(struct fuzz_input *in)
{
    static const ULONG common[] = { 0, FILE_SYNCHRONOUS_IO_NONALERT, FILE_SYNCHRONOUS_IO_ALERT, FILE_NON_DIRECTORY_FILE };
    uint8_t choice = fuzz_u8(in);

    return choice < 0xF0 ? common[choice % 4] : fuzz_u32(in);
}

static void zw_create(struct zw_case *c)
{
    int slot = zw_free_slot(c);
    UNICODE_STRING name = { 0 };
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    LARGE_INTEGER allocation = { .QuadPart = (LONGLONG)fuzz_u64(&c->in) };
    ACCESS_MASK access = zw_access(&c->in);
    ULONG options = zw_options(&c->in);
    ULONG share = fuzz_u8(&c->in) % 8, disposition = fuzz_u8(&c->in) % 8;
    ULONG flags = fuzz_u8(&c->in) < 0xF0 ? OBJ_CASE_INSENSITIVE : fuzz_u32(&c->in);
    HANDLE handle = NULL;
    NTSTATUS status;

    if (slot < 0)
        return;
    InitializeObjectAttributes(&attributes, zw_counted(&c->in, &name), flags, NULL, NULL);
    if (fuzz_u8(&c->in) % 16 == 0)
        attributes.Length = fuzz_u32(&c->in);
    status = ZwCreateFile(&handle, access, &attributes, &iosb, fuzz_u8(&c->in) % 2 ? &allocation : NULL, 0, share,
                          disposition, options, NULL, 0);
    free(name.Buffer);
    if (NT_SUCCESS(status)) {
        FUZZ_CHECK(handle != NULL, "ZwCreateFile succeeded without a handle");
        c->handles[slot] = handle;
        c->synchronous[slot] = (options & (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT)) != 0;
    } else {
        FUZZ_CHECK(handle == NULL, "ZwCreateFile failed (%s) with a handle", wdmsim_status_text(status).text);
    }
}

/* ---- Calls on a handle ---- */

static int zw_open_slot(struct zw_case *c)
{
    int slot = fuzz_u8(&c->in) % ZW_HANDLES;

    return c->handles[slot] != NULL ? slot : -1;
}

static struct zw_transfer *zw_transfer(struct zw_case *c, size_t length)
{
    struct zw_transfer *t = calloc(1, sizeof *t + (length > 0 ? length : 1));

    FUZZ_CHECK(t != NULL, "out of memory");
    t->next = c->transfers;
    c->transfers = t;
    return t;
}

/* Waits for a request that pended on an overlapped handle, as an application would. */
static void zw_wait_if_pending(HANDLE handle, NTSTATUS status, bool synchronous)
{
    if (status == STATUS_PENDING && !synchronous)
        ZwWaitForSingleObject(handle, FALSE, NULL);
}

static ULONG zw_ioctl_code(struct fuzz_input *in)
{
    static const ULONG codes[] = {
        IOCTL_TRACEDRV_ZERO_BUFFER, IOCTL_TRACEDRV_GET_BUFFER_SIZE, IOCTL_TRACEDRV_QUEUE_WORK_ITEM,
        IOCTL_DEBUGPRINT_GET_STATISTICS,
    };
    uint8_t choice = fuzz_u8(in);
    ULONG code = codes[choice % 4];

    if (choice >= 0xF0)
        return fuzz_u32(in);
    if (choice & 0x10)
        code = (code & ~3u) | (fuzz_u8(in) & 3);            /* another method */
    if (choice & 0x20)
        code = (code & ~(3u << 14)) | (ULONG)(fuzz_u8(in) & 3) << 14;   /* another access */
    return code;
}

/* Buffers of the sizes asked for (none for 0). An IOCTL the driver holds only on an overlapped
 * handle, so its buffers live until the thread ends. */
static void zw_ioctl(struct zw_case *c)
{
    int slot = zw_open_slot(c);
    ULONG code = zw_ioctl_code(&c->in);
    ULONG in_length = fuzz_u16(&c->in) % ZW_MAX_BUFFER, out_length = fuzz_u16(&c->in) % ZW_MAX_BUFFER;
    struct zw_transfer *input, *output;
    NTSTATUS status;

    if (slot < 0)
        return;
    input = zw_transfer(c, in_length);
    output = zw_transfer(c, out_length);
    fuzz_bytes(&c->in, input->data, in_length);
    status = ZwDeviceIoControlFile(c->handles[slot], NULL, NULL, NULL, &output->iosb, code,
                                   in_length > 0 ? input->data : NULL, in_length, out_length > 0 ? output->data : NULL,
                                   out_length);
    zw_wait_if_pending(c->handles[slot], status, c->synchronous[slot]);
}

static void zw_read_write(struct zw_case *c, bool write)
{
    int slot = zw_open_slot(c);
    ULONG length = fuzz_u16(&c->in) % ZW_MAX_BUFFER;
    LARGE_INTEGER zero = { .QuadPart = 0 };
    struct zw_transfer *t;

    if (slot < 0 || (!write && c->synchronous[slot]))
        return;
    t = zw_transfer(c, length);
    if (write)
        fuzz_bytes(&c->in, t->data, length);
    if (write)
        ZwWriteFile(c->handles[slot], NULL, NULL, NULL, &t->iosb, length > 0 ? t->data : NULL, length, &zero, NULL);
    else
        ZwReadFile(c->handles[slot], NULL, NULL, NULL, &t->iosb, length > 0 ? t->data : NULL, length, &zero, NULL);
}

static void zw_close(struct zw_case *c)
{
    int slot = zw_open_slot(c);

    if (slot < 0)
        return;
    FUZZ_CHECK(ZwClose(c->handles[slot]) == STATUS_SUCCESS, "closing an open handle failed");
    c->handles[slot] = NULL;
}

static void zw_run(void *context)
{
    struct zw_case *c = context;

    for (int op = 0; op < ZW_MAX_OPS && fuzz_left(&c->in) > 0; op++) {
        switch (fuzz_u8(&c->in) % 5) {
        case 0: zw_create(c); break;
        case 1: zw_ioctl(c); break;
        case 2: zw_read_write(c, false); break;
        case 3: zw_read_write(c, true); break;
        default: zw_close(c); break;
        }
    }
    for (int i = 0; i < ZW_HANDLES; i++) {
        if (c->handles[i] != NULL)
            ZwClose(c->handles[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zw_case c = { .in = { data, size, 0 } };

    if (application == NULL)
        zw_fuzz_start();
    wdmsim_process_run(application, zw_run, &c);
    while (c.transfers != NULL) {
        struct zw_transfer *next = c.transfers->next;

        free(c.transfers);
        c.transfers = next;
    }
    return 0;
}
