/*
 * symbolize.c - code addresses as a report's reader wants them: the function and offset, the
 * object (the program, a library, a driver module), and the source file and line, for every frame
 * that has them - static functions and driver modules included, which dladdr cannot name. The
 * DWARF reading is elfutils' libdwfl: it finds the process's modules in /proc/self/maps, reads
 * each one's symbol table and line table from its file (so a parked driver module, whose pages
 * are inaccessible, is read as well as any other), and is the maintained library every Linux
 * debugging tool shares. Reading a program's DWARF index costs tens of milliseconds, more than
 * the rest of a STOP: so a parent about to fork children that may stop (wdmsim_run_isolated, an
 * explorer's schedules) reads it once, symbolize_prepare, and every child inherits what was read;
 * modules loaded since (a driver loaded in the child) are added when an address needs them.
 * Locking: none. symbolize_prepare runs before a fork, on the forking thread; afterwards a STOP's
 * report (bugcheck.c lets one thread make it) and the leak reports (pool.c: an unload's check, the
 * shutdown, wdmsim_pool_report) read or extend the session, each on the one thread doing that job;
 * a STOP racing a leak report on another thread could extend it twice at once.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static Dwfl *session;
static bool symbols_only;           /* set for a report made inside a signal handler */

/* Only the DWARF in the module's own file: the standard search for separate debug files loads
 * debuginfod (which may go to the network) and checksums every candidate file. */
static int symbolize_no_separate_debuginfo(Dwfl_Module *module, void **user_data, const char *name, Dwarf_Addr base,
                                           const char *file_name, const char *debuglink_file,
                                           GElf_Word debuglink_crc, char **debuginfo_file_name)
{
    (void)module, (void)user_data, (void)name, (void)base, (void)file_name, (void)debuglink_file;
    (void)debuglink_crc, (void)debuginfo_file_name;
    return -1;
}

static const Dwfl_Callbacks symbolize_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = symbolize_no_separate_debuginfo,
};

/* The modules mapped now, with the main program's symbol and line index read. */
static void symbolize_begin(void)
{
    Dwfl_Module *self;

    session = dwfl_begin(&symbolize_callbacks);
    if (session == NULL)
        return;
    if (dwfl_linux_proc_report(session, getpid()) != 0 || dwfl_report_end(session, NULL, NULL) != 0) {
        dwfl_end(session);
        session = NULL;
        return;
    }
    self = dwfl_addrmodule(session, (Dwarf_Addr)(uintptr_t)symbolize_begin);
    if (self != NULL)
        dwfl_module_getsrc(self, (Dwarf_Addr)(uintptr_t)symbolize_begin);
}

void symbolize_prepare(void)
{
    if (session == NULL)
        symbolize_begin();
}

/* The module of address, reporting the modules mapped since the session began if need be. */
static Dwfl_Module *symbolize_module(Dwarf_Addr address)
{
    Dwfl_Module *module;

    symbolize_prepare();
    if (session == NULL)
        return NULL;
    module = dwfl_addrmodule(session, address);
    if (module != NULL)
        return module;
    dwfl_report_begin_add(session);
    if (dwfl_linux_proc_report(session, getpid()) != 0 || dwfl_report_end(session, NULL, NULL) != 0)
        return NULL;
    return dwfl_addrmodule(session, address);
}

static const char *symbolize_basename(const char *path)
{
    const char *slash = path != NULL ? strrchr(path, '/') : NULL;

    return slash != NULL ? slash + 1 : (path != NULL ? path : "?");
}

/* The project's own files are named from its top directory, others by their full path. */
static const char *symbolize_source_path(const char *path)
{
    size_t top = strlen(WDMSIM_SOURCE_DIR);

    if (strncmp(path, WDMSIM_SOURCE_DIR, top) == 0 && path[top] == '/')
        return path + top + 1;
    return path;
}

/* The line of address from the compile unit whose ranges hold it: the way for objects without a
 * .debug_aranges index, which libdwfl's own lookup needs (clang emits none by default). */
static Dwarf_Line *symbolize_line_by_unit(Dwfl_Module *module, Dwarf_Addr address)
{
    Dwarf_Die *unit = NULL;
    Dwarf_Addr bias;

    while ((unit = dwfl_module_nextcu(module, unit, &bias)) != NULL) {
        if (dwarf_haspc(unit, address - bias) == 1)
            return dwarf_getsrc_die(unit, address - bias);
    }
    return NULL;
}

static void symbolize_line(Dwfl_Module *module, Dwarf_Addr address, char *out, size_t size)
{
    Dwfl_Line *indexed = dwfl_module_getsrc(module, address);
    Dwarf_Line *line;
    const char *file = NULL;
    int number = 0;

    out[0] = '\0';
    if (indexed != NULL) {
        file = dwfl_lineinfo(indexed, NULL, &number, NULL, NULL, NULL);
    } else if ((line = symbolize_line_by_unit(module, address)) != NULL) {
        file = dwarf_linesrc(line, NULL, NULL);
        dwarf_lineno(line, &number);
    }
    if (file != NULL && number > 0)
        snprintf(out, size, " at %s:%d", symbolize_source_path(file), number);
}

/* dladdr's answer, for a frame libdwfl cannot place (no session, or an address no module has). */
static void symbolize_with_dladdr(const void *pc, const void *lookup, char *out, size_t size)
{
    Dl_info info;

    if (dladdr(lookup, &info) && info.dli_sname != NULL)
        snprintf(out, size, "%s+0x%" PRIxPTR " (%s)", info.dli_sname, (uintptr_t)pc - (uintptr_t)info.dli_saddr,
                 symbolize_basename(info.dli_fname));
    else if (dladdr(lookup, &info))
        snprintf(out, size, "%p (%s)", pc, symbolize_basename(info.dli_fname));
    else
        snprintf(out, size, "%p (?)", pc);
}

void symbolize_from_signal_handler(void)
{
    symbols_only = true;
}

void symbolize(const void *pc, const void *lookup, char *out, size_t size)
{
    Dwarf_Addr address = (Dwarf_Addr)(uintptr_t)lookup;
    Dwfl_Module *module = symbols_only ? NULL : symbolize_module(address);
    const char *object, *name;
    GElf_Off offset = 0;
    GElf_Sym symbol;
    char line[256];

    if (module == NULL) {
        symbolize_with_dladdr(pc, lookup, out, size);
        return;
    }
    name = dwfl_module_addrinfo(module, address, &offset, &symbol, NULL, NULL, NULL);
    object = dwfl_module_info(module, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    symbolize_line(module, address, line, sizeof line);
    if (name != NULL)
        snprintf(out, size, "%s+0x%" PRIx64 " (%s)%s", name,
                 (uint64_t)(offset + ((uintptr_t)pc - (uintptr_t)lookup)), symbolize_basename(object), line);
    else
        symbolize_with_dladdr(pc, lookup, out, size);
}
