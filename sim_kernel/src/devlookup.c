/*
 * devlookup.c - finding the device a driver sends IRPs to: IoGetDeviceObjectPointer (a device by
 * name: a file object opened on it, referenced, and the top of its stack) and
 * IoGetRelatedDeviceObject (the device a file object's IRPs go to). The file object's reference is
 * the caller's, found at unload if never dropped; it keeps the device too, as on Windows, where the
 * device returned carries no reference of its own.
 * Locking: none of its own; the Zw and object calls take theirs.
 */
#include "internal.h"

/* IRQL <= DISPATCH_LEVEL. The top of the file's device stack, unreferenced. */
PDEVICE_OBJECT NTAPI IoGetRelatedDeviceObject(PFILE_OBJECT FileObject)
{
    return io_device_top(FileObject->DeviceObject);
}

/* PASSIVE_LEVEL. Opens ObjectName (IRP_MJ_CREATE, and IRP_MJ_CLEANUP as the handle is closed again)
 * and returns the file object, referenced until the caller's ObDereferenceObject (which sends
 * IRP_MJ_CLOSE), and the device its IRPs go to. */
NTSTATUS NTAPI IoGetDeviceObjectPointer(PUNICODE_STRING ObjectName, ACCESS_MASK DesiredAccess,
                                        PFILE_OBJECT *FileObject, PDEVICE_OBJECT *DeviceObject)
{
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    PFILE_OBJECT file;
    HANDLE handle;
    NTSTATUS status;

    rule_check_irql(RULE_IO_DEVICE_POINTER_NOT_PASSIVE, irql_current(), (ULONG_PTR)ObjectName, 0, 0);
    InitializeObjectAttributes(&attributes, ObjectName, OBJ_KERNEL_HANDLE, NULL, NULL);
    status = ZwCreateFile(&handle, DesiredAccess, &attributes, &iosb, NULL, 0, FILE_SHARE_READ | FILE_SHARE_WRITE,
                          FILE_OPEN, FILE_NON_DIRECTORY_FILE, NULL, 0);
    if (!NT_SUCCESS(status))
        return status;
    status = ObReferenceObjectByHandle(handle, 0, *IoFileObjectType, KernelMode, (PVOID *)&file, NULL);
    if (NT_SUCCESS(status)) {
        *FileObject = file;
        *DeviceObject = IoGetRelatedDeviceObject(file);
    }
    ZwClose(handle);
    return status;
}
