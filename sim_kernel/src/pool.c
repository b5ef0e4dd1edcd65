/*
 * pool.c - ExAllocatePool(WithTag) and ExFreePool(WithTag) with Driver Verifier's checks always on.
 * Every live block is tracked by address in a table outside the block, so no check ever reads the
 * memory a driver hands in; recently freed blocks wait in a quarantine ring, their memory held back,
 * so a second free is told apart from a bad address. Locking: the table and the ring are split
 * into shards by address hash, each guarded by its own lock (with its blocks' counters), so
 * threads allocating and freeing different blocks seldom wait for each other and never for a lock
 * that every free takes; fault injection is atomic. Host memory is allocated and freed outside every
 * lock; a freed block is filled under its shard lock, as it moves from the table to the ring.
 * Whole-pool views (stats, counts, the report, shutdown) take every shard lock in order.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/asan_interface.h>

#include "internal.h"

/* ReactOS's TAG_NONE for untagged pool: a pool dump shows the bytes "None". */
#define POOL_LARGEST_REQUEST ((size_t)1 << 40)  /* 1 TB: more than x64 Windows' pool */
#define POOL_TAG_UNTAGGED 'enoN'
/* The MSVC debug heap's bytes for uninitialised and freed memory, familiar to Windows developers. */
#define POOL_FILL_ALLOCATED 0xCD
#define POOL_FILL_FREED 0xDD

#define POOL_TABLE_MIN_CAPACITY 64
/* A power of two; 16 makes two threads meeting on one shard rare with a handful of threads. */
#define POOL_SHARD_BITS 4
#define POOL_SHARDS (1u << POOL_SHARD_BITS)
/* About the last 1024 frees and 8 MB in all: enough to catch the usual double free (soon after the
 * first) without hoarding host memory. Addresses spread evenly over the shards. */
#define POOL_QUARANTINE_BLOCKS (1024 / POOL_SHARDS)
#define POOL_QUARANTINE_BYTES (((size_t)8 << 20) / POOL_SHARDS)

/* POOL_TYPE bits as the kernel tests them, so the Nx and session variants behave alike. */
#define POOL_TYPE_PAGED 1
#define POOL_TYPE_MUST_SUCCEED 2
#define POOL_TYPE_CACHE_ALIGNED 4
#define POOL_ALIGNMENT 16
#define POOL_CACHE_LINE 64

struct pool_block {
    uintptr_t address;              /* 0: an empty slot */
    size_t size;
    unsigned long long serial;      /* allocation order: the report lists oldest first */
    const struct sim_driver *driver;
    POOL_TYPE type;
    ULONG tag;
    const void *site;               /* the allocating DDI's return address (Verifier's pool tracking
                                     * keeps it too): leak reports name the code that allocated */
};

enum pool_state { POOL_UNKNOWN, POOL_LIVE, POOL_FREED };

typedef bool pool_match_fn(const struct pool_block *block, const void *key);

struct pool_quarantined {
    uintptr_t address;
    size_t size;
    ULONG tag;                      /* for the double free report */
};

/* Freed blocks whose memory is held back, oldest at head. */
struct pool_quarantine {
    struct pool_quarantined ring[POOL_QUARANTINE_BLOCKS];
    size_t head;
    size_t count;
    size_t bytes;
};

/* One cache line or more each, so shard locks taken by different threads do not share a line. */
struct pool_shard {
    _Alignas(POOL_CACHE_LINE) pthread_mutex_t lock;
    struct pool_block *table;       /* open addressing, linear probing, at most half full */
    size_t capacity;                /* a power of two, 0 until the shard's first allocation */
    size_t used;                    /* live blocks */
    struct wdmsim_pool_stats stats; /* this shard's blocks; failed_injected stays 0 */
    struct pool_quarantine quarantine; /* this shard's freed blocks */
};

static struct pool_shard pool_shards[POOL_SHARDS];

static atomic_ullong pool_serial;
static atomic_size_t pool_fail_countdown;
static atomic_uint pool_fail_tag;
static atomic_size_t pool_failed_injected;

static void pool_shard_lock(pthread_mutex_t *lock)
{
    host_lock(lock);
}

static void pool_shard_unlock(pthread_mutex_t *lock)
{
    host_unlock(lock);
}

/* Every shard, in index order: the only order in which two shard locks are ever held. */
static void pool_lock_all(void)
{
    for (size_t i = 0; i < POOL_SHARDS; i++)
        pool_shard_lock(&pool_shards[i].lock);
}

static void pool_unlock_all(void)
{
    for (size_t i = POOL_SHARDS; i-- > 0;)
        pool_shard_unlock(&pool_shards[i].lock);
}

static bool pool_is_paged(POOL_TYPE type)
{
    return (type & POOL_TYPE_PAGED) != 0;
}

static uint64_t pool_hash(uintptr_t address)
{
    return (uint64_t)(address >> 4) * 0x9E3779B97F4A7C15ull;
}

/* The hash's top bits choose the shard, its folded low bits the slot, so the two are independent. */
static struct pool_shard *pool_shard_of(uintptr_t address)
{
    return &pool_shards[pool_hash(address) >> (64 - POOL_SHARD_BITS)];
}

static size_t pool_home_slot(const struct pool_shard *shard, uintptr_t address)
{
    uint64_t hash = pool_hash(address);

    return (size_t)(hash ^ (hash >> 32)) & (shard->capacity - 1);
}

/* The slot holding address, or the empty slot where it would go. Needs the shard lock, capacity > 0. */
static struct pool_block *pool_slot(struct pool_shard *shard, uintptr_t address)
{
    size_t i = pool_home_slot(shard, address);

    while (shard->table[i].address != 0 && shard->table[i].address != address)
        i = (i + 1) & (shard->capacity - 1);
    return &shard->table[i];
}

static struct pool_block *pool_lookup_locked(struct pool_shard *shard, uintptr_t address)
{
    struct pool_block *slot;

    if (address == 0 || shard->capacity == 0)
        return NULL;
    slot = pool_slot(shard, address);
    return slot->address != 0 ? slot : NULL;
}

/* Makes room for one more block; false when the host is out of memory. Needs the shard lock. */
static bool pool_table_reserve(struct pool_shard *shard)
{
    struct pool_block *old = shard->table;
    size_t old_capacity = shard->capacity;
    size_t capacity = old_capacity ? old_capacity * 2 : POOL_TABLE_MIN_CAPACITY;
    struct pool_block *table;

    if ((shard->used + 1) * 2 <= old_capacity)
        return true;
    table = calloc(capacity, sizeof *table);
    if (table == NULL)
        return false;
    shard->table = table;
    shard->capacity = capacity;
    for (size_t i = 0; i < old_capacity; i++) {
        if (old[i].address != 0)
            *pool_slot(shard, old[i].address) = old[i];
    }
    free(old);
    return true;
}

/* Empties a slot, shifting later entries of its probe run back so lookups never stop early. */
static void pool_slot_clear(struct pool_shard *shard, struct pool_block *slot)
{
    size_t mask = shard->capacity - 1;
    size_t hole = (size_t)(slot - shard->table);

    for (size_t i = (hole + 1) & mask; shard->table[i].address != 0; i = (i + 1) & mask) {
        size_t home = pool_home_slot(shard, shard->table[i].address);

        if (((i - home) & mask) >= ((i - hole) & mask)) {
            shard->table[hole] = shard->table[i];
            hole = i;
        }
    }
    shard->table[hole].address = 0;
    shard->used--;
}

static struct pool_quarantined *pool_quarantine_at(struct pool_quarantine *q, size_t i)
{
    return &q->ring[(q->head + i) % POOL_QUARANTINE_BLOCKS];
}

/* The quarantined block at address, or NULL. Needs the shard lock; only failed look-ups come here. */
static const struct pool_quarantined *pool_quarantine_find(struct pool_shard *shard, uintptr_t address)
{
    for (size_t i = 0; i < shard->quarantine.count; i++) {
        if (pool_quarantine_at(&shard->quarantine, i)->address == address)
            return pool_quarantine_at(&shard->quarantine, i);
    }
    return NULL;
}

/* Takes the oldest block out of a shard's ring. Needs the shard lock and a non-empty ring; the
 * caller frees its memory once the lock is dropped. */
static uintptr_t pool_quarantine_evict(struct pool_quarantine *q)
{
    struct pool_quarantined victim = q->ring[q->head];

    q->head = (q->head + 1) % POOL_QUARANTINE_BLOCKS;
    q->count--;
    q->bytes -= victim.size;
    return victim.address;
}

/* Needs the shard lock. Holds a freed block's memory back so its address is not reused while a
 * double free of it can still be told apart from a bad address; stores in victims the addresses of
 * the blocks it pushes out, to be freed once the lock is dropped, and returns how many. */
static size_t pool_quarantine_push(struct pool_quarantine *q, const struct pool_block *block,
                                   uintptr_t victims[POOL_QUARANTINE_BLOCKS])
{
    size_t evicted = 0;

    if (q->count == POOL_QUARANTINE_BLOCKS)
        victims[evicted++] = pool_quarantine_evict(q);
    *pool_quarantine_at(q, q->count) = (struct pool_quarantined){ block->address, block->size, block->tag };
    q->count++;
    q->bytes += block->size;
    while (q->bytes > POOL_QUARANTINE_BYTES && q->count > 1)
        victims[evicted++] = pool_quarantine_evict(q);
    return evicted;
}

/* Decides an injected failure; every allocation that passed its checks counts toward fail_nth. */
static bool pool_inject_failure(ULONG tag)
{
    ULONG fail_tag = atomic_load(&pool_fail_tag);
    bool fail = fail_tag != 0 && tag == fail_tag;
    size_t countdown = atomic_load(&pool_fail_countdown);

    /* Exactly one allocation takes the countdown from 1 to 0, however many race for it. */
    while (countdown > 0 && !atomic_compare_exchange_weak(&pool_fail_countdown, &countdown, countdown - 1))
        ;
    if (countdown == 1)
        fail = true;
    if (fail)
        atomic_fetch_add(&pool_failed_injected, 1);
    return fail;
}

/* Aligned as x64 Windows aligns pool; the exact size is kept so ASan sees any overrun. A request
 * larger than any machine's pool fails, as on Windows, without asking the host (whose allocator,
 * under a sanitizer, would end the process instead of returning NULL). */
static void *pool_memory_get(POOL_TYPE type, size_t size)
{
    size_t alignment = POOL_ALIGNMENT;
    void *memory;

    if (size > POOL_LARGEST_REQUEST)
        return NULL;
    if (size >= PAGE_SIZE)
        alignment = PAGE_SIZE;
    else if (type & POOL_TYPE_CACHE_ALIGNED)
        alignment = POOL_CACHE_LINE;
    /* malloc's own alignment is enough for most blocks, and its fast path is faster. */
    if (alignment <= _Alignof(max_align_t))
        memory = malloc(size);
    else if (posix_memalign(&memory, alignment, size) != 0)
        memory = NULL;
    if (memory == NULL)
        return NULL;
    memset(memory, POOL_FILL_ALLOCATED, size);
    return memory;
}

/* Records a new block; false when the host is out of memory for the table. */
static bool pool_insert(void *memory, size_t size, POOL_TYPE type, ULONG tag,
                        const struct sim_driver *driver, const void *site)
{
    struct pool_shard *shard = pool_shard_of((uintptr_t)memory);
    unsigned long long serial = atomic_fetch_add(&pool_serial, 1) + 1;
    bool kept = false;

    pool_shard_lock(&shard->lock);
    if (pool_table_reserve(shard)) {
        *pool_slot(shard, (uintptr_t)memory) =
            (struct pool_block){ (uintptr_t)memory, size, serial, driver, type, tag, site };
        shard->used++;
        shard->stats.allocations++;
        shard->stats.outstanding_blocks++;
        shard->stats.outstanding_bytes += size;
        kept = true;
    }
    pool_shard_unlock(&shard->lock);
    return kept;
}

static void *pool_allocate(POOL_TYPE type, SIZE_T size, ULONG tag, const void *site)
{
    const struct sim_driver *driver = thread_current()->driver;
    void *memory = pool_memory_get(type, size);

    if (pool_inject_failure(tag) || memory == NULL || !pool_insert(memory, size, type, tag, driver, site)) {
        free(memory);
        return NULL;
    }
    return memory;
}

static void pool_check_allocate(POOL_TYPE type, SIZE_T size, ULONG tag)
{
    KIRQL irql = irql_current();

    if (type & POOL_TYPE_MUST_SUCCEED)
        rule_stop(RULE_POOL_MUST_SUCCEED, (ULONG_PTR)type, size, tag, 0);
    rule_check_irql(pool_is_paged(type) ? RULE_POOL_PAGED_ABOVE_APC : RULE_POOL_NONPAGED_ABOVE_DISPATCH,
                    irql, (ULONG_PTR)type, size, 0);
    if (size == 0)
        rule_stop(RULE_POOL_ZERO_SIZE, 0, (ULONG_PTR)type, tag, 0);
    if (tag == 0)
        rule_stop(RULE_POOL_ZERO_TAG, (ULONG_PTR)type, size, 0, 0);
}

/* A live block is copied whole; of a quarantined one only the address, size and tag are known. */
static enum pool_state pool_find(const void *address, struct pool_block *copy)
{
    struct pool_shard *shard = pool_shard_of((uintptr_t)address);
    const struct pool_quarantined *freed = NULL;
    struct pool_block *slot;

    pool_shard_lock(&shard->lock);
    slot = pool_lookup_locked(shard, (uintptr_t)address);
    if (slot != NULL)
        *copy = *slot;
    else if ((freed = pool_quarantine_find(shard, (uintptr_t)address)) != NULL)
        *copy = (struct pool_block){ .address = freed->address, .size = freed->size, .tag = freed->tag };
    pool_shard_unlock(&shard->lock);
    return slot != NULL ? POOL_LIVE : freed != NULL ? POOL_FREED : POOL_UNKNOWN;
}

/* Needs the shard lock: moves a live block from its slot to the quarantine, filled and (under
 * ASan) poisoned; returns how many blocks the quarantine pushed out into victims. */
static size_t pool_retire_locked(struct pool_shard *shard, struct pool_block *slot,
                                 uintptr_t victims[POOL_QUARANTINE_BLOCKS])
{
    struct pool_block block = *slot;

    pool_slot_clear(shard, slot);
    shard->stats.frees++;
    shard->stats.outstanding_blocks--;
    shard->stats.outstanding_bytes -= block.size;
    memset((void *)block.address, POOL_FILL_FREED, block.size);
    /* Under ASan a driver touching quarantined memory is reported as a use after free. */
    ASAN_POISON_MEMORY_REGION((void *)block.address, block.size);
    return pool_quarantine_push(&shard->quarantine, &block, victims);
}

/* The blocks the quarantine pushed out, freed once the shard lock is dropped. */
static void pool_free_victims(const uintptr_t *victims, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free((void *)victims[i]);
}

/* Moves the block found earlier from the table to the quarantine, filled and (under ASan)
 * poisoned, in one step under its shard lock: from then on any other free of it stops as a double
 * free. False if another thread freed it meanwhile. */
static bool pool_retire(const struct pool_block *block)
{
    struct pool_shard *shard = pool_shard_of(block->address);
    uintptr_t victims[POOL_QUARANTINE_BLOCKS];
    size_t evicted = 0;
    struct pool_block *slot;
    bool retired = false;

    pool_shard_lock(&shard->lock);
    slot = pool_lookup_locked(shard, block->address);
    if (slot != NULL && slot->serial == block->serial) {
        evicted = pool_retire_locked(shard, slot, victims);
        retired = true;
    }
    pool_shard_unlock(&shard->lock);
    pool_free_victims(victims, evicted);
    return retired;
}

static SIM_NORETURN void pool_stop_double_free(const struct pool_block *block)
{
    rule_stop(RULE_POOL_DOUBLE_FREE, 0, block->tag, block->address, 0);
}

/* A set timer or queued DPC inside the block would fire into freed memory. */
/* Written only before main (constructors), read-only after. */
static struct pool_free_check *free_checks;

void pool_free_check_register(struct pool_free_check *check)
{
    struct pool_free_check **link = &free_checks;

    while (*link != NULL)
        link = &(*link)->next;
    check->next = NULL;
    *link = check;
}

void pool_check_free_range(ULONG_PTR address, size_t size, POOL_TYPE type)
{
    for (const struct pool_free_check *c = free_checks; c != NULL; c = c->next)
        c->check(address, size, type);
}

/* True when no registered free check has anything to look for: a free may skip them all. */
static bool pool_free_checks_idle(void)
{
    for (const struct pool_free_check *c = free_checks; c != NULL; c = c->next)
        if (c->watched == NULL || atomic_load_explicit(c->watched, memory_order_acquire) != 0)
            return false;
    return true;
}

static enum rule_id pool_free_irql_rule(POOL_TYPE type)
{
    return pool_is_paged(type) ? RULE_POOL_FREE_PAGED_ABOVE_APC : RULE_POOL_FREE_NONPAGED_ABOVE_DISPATCH;
}

/* The usual free in one visit to its shard: a live block, freed at an IRQL its type allows, with
 * its own tag (or none), while no free check has anything to look for. False for anything else,
 * which pool_free's full path then finds and reports. */
static bool pool_free_quick(PVOID address, ULONG tag, KIRQL irql)
{
    struct pool_shard *shard = pool_shard_of((uintptr_t)address);
    uintptr_t victims[POOL_QUARANTINE_BLOCKS];
    size_t evicted = 0;
    struct pool_block *slot;
    bool freed = false;

    if (!pool_free_checks_idle())
        return false;
    pool_shard_lock(&shard->lock);
    slot = pool_lookup_locked(shard, (uintptr_t)address);
    if (slot != NULL && (tag == 0 || tag == slot->tag) && rule_irql_ok(pool_free_irql_rule(slot->type), irql)) {
        evicted = pool_retire_locked(shard, slot, victims);
        freed = true;
    }
    pool_shard_unlock(&shard->lock);
    pool_free_victims(victims, evicted);
    return freed;
}

/* tag 0 frees without a tag check, as ExFreePool does. */
static void pool_free(PVOID address, ULONG tag)
{
    KIRQL irql = irql_current();
    struct pool_block block;
    enum pool_state state;

    if (pool_free_quick(address, tag, irql))
        return;
    state = pool_find(address, &block);

    if (state == POOL_UNKNOWN)
        rule_stop(RULE_POOL_FREE_BAD_ADDRESS, (ULONG_PTR)address, 0, 0, 0);
    if (state == POOL_FREED)
        pool_stop_double_free(&block);
    rule_check_irql(pool_free_irql_rule(block.type), irql, (ULONG_PTR)block.type, (ULONG_PTR)address, 0);
    if (tag != 0 && tag != block.tag)
        rule_stop(RULE_POOL_FREE_TAG_MISMATCH, (ULONG_PTR)address, block.tag, tag, 0);
    pool_check_free_range(block.address, block.size, block.type);
    if (!pool_retire(&block))
        pool_stop_double_free(&block);
}

/* IRQL <= DISPATCH_LEVEL, and <= APC_LEVEL for paged pool types; never waits. */
PVOID NTAPI ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    pool_check_allocate(PoolType, NumberOfBytes, Tag);
    return pool_allocate(PoolType, NumberOfBytes, Tag, __builtin_return_address(0));
}

/* IRQL <= DISPATCH_LEVEL, and <= APC_LEVEL for paged pool types; never waits. */
PVOID NTAPI ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes)
{
    pool_check_allocate(PoolType, NumberOfBytes, POOL_TAG_UNTAGGED);
    return pool_allocate(PoolType, NumberOfBytes, POOL_TAG_UNTAGGED, __builtin_return_address(0));
}

/* The pool flags the kernel knows; an unknown one below POOL_FLAG_OPTIONAL_START fails the call. */
#define POOL_FLAGS_KINDS (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED)
#define POOL_FLAGS_KNOWN (POOL_FLAG_USE_QUOTA | POOL_FLAG_UNINITIALIZED | POOL_FLAG_SESSION | \
                          POOL_FLAG_CACHE_ALIGNED | POOL_FLAG_RAISE_ON_FAILURE | POOL_FLAGS_KINDS)

/* The pool type POOL_FLAGS ask for: exactly one kind, and no required flag the kernel does not
 * know (optional ones, such as POOL_FLAG_SPECIAL_POOL, may be ignored). A session has no pool of
 * its own in the simulator, and quota has no limit: both allocate ordinary pool. */
static bool pool_type_of_flags(POOL_FLAGS flags, POOL_TYPE *type, const char **why)
{
    POOL_FLAGS kind = flags & POOL_FLAGS_KINDS;

    if ((flags & (POOL_FLAG_OPTIONAL_START - 1) & ~POOL_FLAGS_KNOWN) != 0) {
        *why = "it has a required flag the kernel does not know";
        return false;
    }
    if (kind == 0 || (kind & (kind - 1)) != 0) {
        *why = "it needs exactly one of POOL_FLAG_NON_PAGED, POOL_FLAG_NON_PAGED_EXECUTE and POOL_FLAG_PAGED";
        return false;
    }
    *type = kind == POOL_FLAG_PAGED ? PagedPool : kind == POOL_FLAG_NON_PAGED ? NonPagedPoolNx : NonPagedPoolExecute;
    if (flags & POOL_FLAG_CACHE_ALIGNED)
        *type = (POOL_TYPE)(*type | POOL_TYPE_CACHE_ALIGNED);
    return true;
}

/* A failed allocation that was asked to raise: the simulator has no structured exception
 * handling, so STATUS_INSUFFICIENT_RESOURCES is an exception nobody handles. */
static SIM_NORETURN void pool_raise_failure(const char *ddi, const void *caller, SIZE_T size, ULONG tag)
{
    rule_stop_detail(RULE_POOL_RAISED_FAILURE, (ULONG_PTR)caller, size, tag, 0,
                     "%s of %zu bytes failed and raises STATUS_INSUFFICIENT_RESOURCES", ddi, (size_t)size);
}

/* ExAllocatePool2 and 3: refused (why) or allocated as the flags say, zeroed unless
 * POOL_FLAG_UNINITIALIZED; a failure raises with POOL_FLAG_RAISE_ON_FAILURE. */
static PVOID pool_allocate_flags(const char *ddi, const void *caller, POOL_FLAGS flags, SIZE_T size, ULONG tag,
                                 const char *why)
{
    POOL_TYPE type;
    void *memory = NULL;

    if (why == NULL && pool_type_of_flags(flags, &type, &why)) {
        pool_check_allocate(type, size, tag);
        memory = pool_allocate(type, size, tag, caller);
    } else {
        fprintf(stderr, "wdmsim: %s(0x%llx, %zu, tag 0x%08x) fails: %s\n", ddi, (unsigned long long)flags,
                (size_t)size, (unsigned)tag, why);
    }
    if (memory == NULL && (flags & POOL_FLAG_RAISE_ON_FAILURE))
        pool_raise_failure(ddi, caller, size, tag);
    if (memory != NULL && !(flags & POOL_FLAG_UNINITIALIZED))
        memset(memory, 0, size);
    return memory;
}

/* IRQL <= DISPATCH_LEVEL, and <= APC_LEVEL for POOL_FLAG_PAGED; never waits. A zeroed block unless
 * POOL_FLAG_UNINITIALIZED; NULL on failure, or with POOL_FLAG_RAISE_ON_FAILURE an exception. */
PVOID NTAPI ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)
{
    return pool_allocate_flags("ExAllocatePool2", __builtin_return_address(0), Flags, NumberOfBytes, Tag, NULL);
}

/* Whether the allocator can honour one extended parameter: a priority always (it matters only
 * when memory runs low), a NUMA node when it is node 0 of the machine's one node or any node will
 * do (and it concerns only POOL_FLAG_NON_PAGED); secure pool never, the simulator has none. */
static bool pool_parameter_honoured(POOL_FLAGS flags, const POOL_EXTENDED_PARAMETER *parameter)
{
    switch (parameter->Type) {
    case PoolExtendedParameterPriority:
        return true;
    case PoolExtendedParameterNumaNode:
        return !(flags & POOL_FLAG_NON_PAGED) || (parameter->PreferredNode & ~MM_ANY_NODE_OK) == 0 ||
               (parameter->PreferredNode & MM_ANY_NODE_OK) != 0;
    default:
        return false;
    }
}

/* Why ExAllocatePool3's extended parameters refuse the allocation, or NULL: a required one (Optional
 * 0) the allocator does not know or cannot honour; optional ones are ignored then. */
static const char *pool_parameters_refuse(POOL_FLAGS flags, PCPOOL_EXTENDED_PARAMETER parameters, ULONG count)
{
    if (count != 0 && parameters == NULL)
        return "ExtendedParametersCount is not 0 but ExtendedParameters is NULL";
    for (ULONG i = 0; i < count; i++) {
        if (!parameters[i].Optional && !pool_parameter_honoured(flags, &parameters[i]))
            return parameters[i].Type == PoolExtendedParameterSecurePool
                       ? "a required extended parameter asks for secure pool, which the simulator has not"
                       : "a required extended parameter is unknown or cannot be honoured";
    }
    return NULL;
}

/* As ExAllocatePool2, with extended parameters (priority, NUMA node, secure pool). */
PVOID NTAPI ExAllocatePool3(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag,
                            PCPOOL_EXTENDED_PARAMETER ExtendedParameters, ULONG ExtendedParametersCount)
{
    return pool_allocate_flags("ExAllocatePool3", __builtin_return_address(0), Flags, NumberOfBytes, Tag,
                               pool_parameters_refuse(Flags, ExtendedParameters, ExtendedParametersCount));
}

/* As ExAllocatePoolWithTag, charged to the process's quota (which has no limit here); a failure
 * raises unless POOL_QUOTA_FAIL_INSTEAD_OF_RAISE is in PoolType. */
PVOID NTAPI ExAllocatePoolWithQuotaTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    POOL_TYPE type = (POOL_TYPE)(PoolType & ~POOL_QUOTA_FAIL_INSTEAD_OF_RAISE);
    void *memory;

    pool_check_allocate(type, NumberOfBytes, Tag);
    memory = pool_allocate(type, NumberOfBytes, Tag, __builtin_return_address(0));
    if (memory == NULL && !(PoolType & POOL_QUOTA_FAIL_INSTEAD_OF_RAISE))
        pool_raise_failure("ExAllocatePoolWithQuotaTag", __builtin_return_address(0), NumberOfBytes, Tag);
    return memory;
}

/* As ExAllocatePoolWithTag: the priority matters only when memory runs low, which the simulator
 * models with fault injection alone, and special pool is not simulated. */
PVOID NTAPI ExAllocatePoolWithTagPriority(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                          EX_POOL_PRIORITY Priority)
{
    (void)Priority;
    pool_check_allocate(PoolType, NumberOfBytes, Tag);
    return pool_allocate(PoolType, NumberOfBytes, Tag, __builtin_return_address(0));
}

/* IRQL <= DISPATCH_LEVEL for a nonpaged block, <= APC_LEVEL for a paged one; never waits. */
VOID NTAPI ExFreePoolWithTag(PVOID P, ULONG Tag)
{
    pool_free(P, Tag);
}

/* IRQL <= DISPATCH_LEVEL for a nonpaged block, <= APC_LEVEL for a paged one; never waits. */
VOID NTAPI ExFreePool(PVOID P)
{
    pool_free(P, 0);
}

void pool_boot(void)
{
    for (size_t i = 0; i < POOL_SHARDS; i++) {
        memset(&pool_shards[i], 0, sizeof pool_shards[i]);
        if (pthread_mutex_init(&pool_shards[i].lock, NULL) != 0)
            abort();
    }
    atomic_store(&pool_serial, 0);
    atomic_store(&pool_fail_countdown, 0);
    atomic_store(&pool_fail_tag, 0);
    atomic_store(&pool_failed_injected, 0);
}

/* Names what is left on stderr, as the other components' shutdowns do. */
static void pool_report_leaks(void)
{
    struct wdmsim_pool_stats stats;

    wdmsim_pool_stats(&stats);
    if (stats.outstanding_blocks == 0)
        return;
    fprintf(stderr, "wdmsim: shutdown: leaked pool blocks (freed now):\n");
    wdmsim_pool_report(stderr);
}

size_t pool_shutdown(void)
{
    size_t leaked = 0;

    pool_report_leaks();
    pool_lock_all();
    for (size_t s = 0; s < POOL_SHARDS; s++) {
        struct pool_shard *shard = &pool_shards[s];

        leaked += shard->stats.outstanding_blocks;
        for (size_t i = 0; i < shard->capacity; i++) {
            if (shard->table[i].address != 0)
                free((void *)shard->table[i].address);
        }
        for (size_t i = 0; i < shard->quarantine.count; i++)
            free((void *)pool_quarantine_at(&shard->quarantine, i)->address);
        free(shard->table);
        shard->table = NULL;
        shard->capacity = 0;
        shard->used = 0;
        memset(&shard->stats, 0, sizeof shard->stats);
        memset(&shard->quarantine, 0, sizeof shard->quarantine);
    }
    pool_unlock_all();
    atomic_store(&pool_serial, 0);
    atomic_store(&pool_fail_countdown, 0);
    atomic_store(&pool_fail_tag, 0);
    atomic_store(&pool_failed_injected, 0);
    return leaked;
}

void wdmsim_pool_stats(struct wdmsim_pool_stats *stats)
{
    kernel_ensure_booted();
    memset(stats, 0, sizeof *stats);
    pool_lock_all();
    for (size_t s = 0; s < POOL_SHARDS; s++) {
        stats->allocations += pool_shards[s].stats.allocations;
        stats->frees += pool_shards[s].stats.frees;
        stats->outstanding_blocks += pool_shards[s].stats.outstanding_blocks;
        stats->outstanding_bytes += pool_shards[s].stats.outstanding_bytes;
    }
    pool_unlock_all();
    stats->failed_injected = atomic_load(&pool_failed_injected);
}

static size_t pool_count_outstanding(pool_match_fn *match, const void *key, size_t *bytes)
{
    size_t blocks = 0;
    size_t total = 0;

    kernel_ensure_booted();
    pool_lock_all();
    for (size_t s = 0; s < POOL_SHARDS; s++) {
        for (size_t i = 0; i < pool_shards[s].capacity; i++) {
            const struct pool_block *block = &pool_shards[s].table[i];

            if (block->address != 0 && match(block, key)) {
                blocks++;
                total += block->size;
            }
        }
    }
    pool_unlock_all();
    if (bytes != NULL)
        *bytes = total;
    return blocks;
}

static bool pool_match_tag(const struct pool_block *block, const void *key)
{
    return block->tag == *(const ULONG *)key;
}

static bool pool_match_driver(const struct pool_block *block, const void *key)
{
    const char *name = key;

    if (name == NULL || name[0] == '\0')
        return block->driver == NULL;
    return block->driver != NULL && strcmp(block->driver->name, name) == 0;
}

size_t wdmsim_pool_outstanding_by_tag(ULONG tag, size_t *bytes)
{
    return pool_count_outstanding(pool_match_tag, &tag, bytes);
}

size_t wdmsim_pool_outstanding_by_driver(const char *driver_name, size_t *bytes)
{
    return pool_count_outstanding(pool_match_driver, driver_name, bytes);
}

/* Copies the live blocks so the report is printed without holding a pool lock. */
static struct pool_block *pool_snapshot(size_t *count)
{
    struct pool_block *blocks;
    size_t outstanding = 0;
    size_t n = 0;

    kernel_ensure_booted();
    pool_lock_all();
    for (size_t s = 0; s < POOL_SHARDS; s++)
        outstanding += pool_shards[s].stats.outstanding_blocks;
    blocks = malloc((outstanding + 1) * sizeof *blocks);
    if (blocks == NULL)
        abort();
    for (size_t s = 0; s < POOL_SHARDS; s++) {
        for (size_t i = 0; i < pool_shards[s].capacity; i++) {
            if (pool_shards[s].table[i].address != 0)
                blocks[n++] = pool_shards[s].table[i];
        }
    }
    pool_unlock_all();
    *count = n;
    return blocks;
}

static int pool_compare_serial(const void *a, const void *b)
{
    unsigned long long x = ((const struct pool_block *)a)->serial;
    unsigned long long y = ((const struct pool_block *)b)->serial;

    return (x > y) - (x < y);
}

static const char *pool_type_name(POOL_TYPE type)
{
    switch ((int)type) {
    case NonPagedPool: return "NonPagedPool";
    case PagedPool: return "PagedPool";
    case NonPagedPoolCacheAligned: return "NonPagedPoolCacheAligned";
    case PagedPoolCacheAligned: return "PagedPoolCacheAligned";
    case NonPagedPoolNx: return "NonPagedPoolNx";
    case NonPagedPoolNxCacheAligned: return "NonPagedPoolNxCacheAligned";
    default: return pool_is_paged(type) ? "PagedPool (other)" : "NonPagedPool (other)";
    }
}

/* A tag as a pool dump shows it: its bytes in memory order, so 'gbDP' reads "PDbg". */
static void pool_tag_text(ULONG tag, char text[5])
{
    for (int i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)(tag >> (8 * i));

        text[i] = (c >= 0x20 && c <= 0x7E) ? (char)c : '.';
    }
    text[4] = '\0';
}

size_t wdmsim_pool_report(FILE *out)
{
    size_t count;
    size_t bytes = 0;
    struct pool_block *blocks = pool_snapshot(&count);
    char tag[5], site[512];

    qsort(blocks, count, sizeof *blocks, pool_compare_serial);
    for (size_t i = 0; i < count; i++)
        bytes += blocks[i].size;
    fprintf(out, "Pool: %zu outstanding block%s, %zu bytes\n", count, count == 1 ? "" : "s", bytes);
    if (count > 0)
        fprintf(out, "  %-20s %-4s  %-26s %10s  %s\n", "driver", "tag", "type", "bytes", "address");
    for (size_t i = 0; i < count; i++) {
        pool_tag_text(blocks[i].tag, tag);
        fprintf(out, "  %-20s %-4s  %-26s %10zu  %p\n",
                blocks[i].driver ? blocks[i].driver->name : "(host code)", tag,
                pool_type_name(blocks[i].type), blocks[i].size, (void *)blocks[i].address);
        symbolize(blocks[i].site, (const char *)blocks[i].site - 1, site, sizeof site);
        fprintf(out, "    allocated by %s\n", site);
    }
    free(blocks);
    return count;
}

/* The unload check's inventory of pool: each block still charged to the driver, oldest first. */
static void pool_collect_leftovers(struct driver_check *check)
{
    const struct sim_driver *driver = driver_check_driver(check);
    size_t count;
    struct pool_block *blocks = pool_snapshot(&count);
    char tag[5], what[768], site[512];

    qsort(blocks, count, sizeof *blocks, pool_compare_serial);
    for (size_t i = 0; i < count; i++) {
        if (blocks[i].driver != driver)
            continue;
        pool_tag_text(blocks[i].tag, tag);
        symbolize(blocks[i].site, (const char *)blocks[i].site - 1, site, sizeof site);
        snprintf(what, sizeof what, "pool block %p, tag '%s', %s, %zu bytes, allocated by %s",
                 (void *)blocks[i].address, tag, pool_type_name(blocks[i].type), blocks[i].size, site);
        driver_check_pool_block(check, (const void *)blocks[i].address, blocks[i].size, what);
    }
    free(blocks);
}

static struct driver_inventory pool_inventory = {
    .order = DRIVER_INVENTORY_MEMORY,
    .collect = pool_collect_leftovers,
};
DRIVER_INVENTORY(pool_inventory)

void wdmsim_pool_fail_nth(size_t nth)
{
    kernel_ensure_booted();
    atomic_store(&pool_fail_countdown, nth);
}

void wdmsim_pool_fail_tag(ULONG tag)
{
    kernel_ensure_booted();
    atomic_store(&pool_fail_tag, tag);
}
