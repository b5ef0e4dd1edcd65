/*
 * hash.c - growable chained hash tables, for the kernel's look-ups by address or name (objects,
 * names, drivers). Linear hashing, as Windows' RTL_DYNAMIC_HASH_TABLE does: the table grows by
 * splitting one bucket at a time when it holds more entries than buckets, and shrinks by merging
 * one when it holds fewer than a quarter, so no insert or removal ever rehashes the whole table
 * and a look-up costs the same at 100 entries as at 100,000. Entries are the owners' (an embedded
 * struct hash_link); each keeps its 64-bit signature, so a split never recomputes a hash.
 * Locking: none of its own; each table belongs to its owner's lock.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The fewest buckets a table has: a power of two. */
#define HASH_MIN_BUCKETS 8

/* The bucket a signature lives in: below the split point the bucket has already been split and
 * the wider mask decides. */
static size_t hash_index(const struct hash_table *table, uint64_t signature)
{
    size_t index = (size_t)signature & table->low_mask;

    if (index < table->split)
        index = (size_t)signature & (table->low_mask << 1 | 1);
    return index;
}

static size_t hash_buckets_in_use(const struct hash_table *table)
{
    return table->low_mask + 1 + table->split;
}

void hash_init(struct hash_table *table)
{
    memset(table, 0, sizeof *table);
    table->low_mask = HASH_MIN_BUCKETS - 1;
}

void hash_destroy(struct hash_table *table)
{
    free(table->buckets);
    hash_init(table);
}

/* Room for one more bucket, or false: a table that cannot grow stays correct, with longer chains. */
static bool hash_reserve(struct hash_table *table, size_t buckets)
{
    size_t capacity = table->capacity ? table->capacity : HASH_MIN_BUCKETS;
    struct hash_link **grown;

    if (buckets <= table->capacity)
        return true;
    while (capacity < buckets)
        capacity *= 2;
    grown = realloc(table->buckets, capacity * sizeof *grown);
    if (grown == NULL)
        return false;
    memset(grown + table->capacity, 0, (capacity - table->capacity) * sizeof *grown);
    table->buckets = grown;
    table->capacity = capacity;
    return true;
}

/* Splits the bucket at the split point into itself and its image one mask bit higher. */
static void hash_split_one(struct hash_table *table)
{
    size_t from = table->split, image = from + table->low_mask + 1;
    struct hash_link *chain = table->buckets[from], *next;

    if (!hash_reserve(table, image + 1))
        return;
    table->buckets[from] = NULL;
    if (++table->split > table->low_mask) {
        table->low_mask = table->low_mask << 1 | 1;
        table->split = 0;
    }
    for (; chain != NULL; chain = next) {
        size_t to = hash_index(table, chain->signature);

        next = chain->next;
        chain->next = table->buckets[to];
        table->buckets[to] = chain;
    }
}

/* Merges the last bucket back into the one it was split from. */
static void hash_merge_one(struct hash_table *table)
{
    struct hash_link **last, **into;

    if (table->split == 0) {
        table->low_mask >>= 1;
        table->split = table->low_mask + 1;
    }
    table->split--;
    last = &table->buckets[table->split + table->low_mask + 1];
    into = &table->buckets[table->split];
    while (*into != NULL)
        into = &(*into)->next;
    *into = *last;
    *last = NULL;
}

void hash_insert(struct hash_table *table, struct hash_link *link, uint64_t signature)
{
    size_t index;

    if (table->buckets == NULL && !hash_reserve(table, HASH_MIN_BUCKETS))
        abort();
    link->signature = signature;
    index = hash_index(table, signature);
    link->next = table->buckets[index];
    table->buckets[index] = link;
    if (++table->count > hash_buckets_in_use(table))
        hash_split_one(table);
}

void hash_remove(struct hash_table *table, struct hash_link *link)
{
    struct hash_link **at = &table->buckets[hash_index(table, link->signature)];

    while (*at != link)
        at = &(*at)->next;
    *at = link->next;
    link->next = NULL;
    table->count--;
    /* Up to four merges for one removal keep pace with a table emptying entry by entry. */
    while (table->count < hash_buckets_in_use(table) / 4 && hash_buckets_in_use(table) > HASH_MIN_BUCKETS)
        hash_merge_one(table);
}

struct hash_link *hash_first(const struct hash_table *table, uint64_t signature)
{
    struct hash_link *link;

    if (table->buckets == NULL)
        return NULL;
    link = table->buckets[hash_index(table, signature)];
    while (link != NULL && link->signature != signature)
        link = link->next;
    return link;
}

struct hash_link *hash_next(const struct hash_link *link)
{
    uint64_t signature = link->signature;

    for (link = link->next; link != NULL; link = link->next)
        if (link->signature == signature)
            return (struct hash_link *)link;
    return NULL;
}

size_t hash_bucket_count(const struct hash_table *table)
{
    return table->buckets == NULL ? 0 : hash_buckets_in_use(table);
}

struct hash_link *hash_bucket(const struct hash_table *table, size_t index)
{
    return table->buckets[index];
}

struct hash_link *hash_drain(struct hash_table *table)
{
    struct hash_link *all = NULL, *next;

    for (size_t i = 0; i < hash_bucket_count(table); i++) {
        for (struct hash_link *link = table->buckets[i]; link != NULL; link = next) {
            next = link->next;
            link->next = all;
            all = link;
        }
    }
    hash_destroy(table);
    return all;
}

/* The murmur3 finalizer: every input bit moves every output bit, so the low bits the buckets use
 * are as good as the high ones. */
uint64_t hash_mix(uint64_t value)
{
    value ^= value >> 33;
    value *= 0xFF51AFD7ED558CCDull;
    value ^= value >> 33;
    value *= 0xC4CEB9FE1A85EC53ull;
    value ^= value >> 33;
    return value;
}

uint64_t hash_pointer(const void *pointer)
{
    return hash_mix((uint64_t)(uintptr_t)pointer);
}

uint64_t hash_bytes(const void *bytes, size_t size)
{
    const unsigned char *p = bytes;
    uint64_t value = 0xCBF29CE484222325ull;

    for (size_t i = 0; i < size; i++)
        value = (value ^ p[i]) * 0x100000001B3ull;
    return hash_mix(value);
}
