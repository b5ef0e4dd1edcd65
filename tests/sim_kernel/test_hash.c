/*
 * test_hash.c - the kernel's growable hash tables (sim_kernel/src/hash.c, an internal component
 * with no DDI of its own, so this suite includes internal.h): growth one bucket at a time,
 * removal in the middle of a round of splits, shrinking, many entries sharing a signature, and the
 * walks over every entry.
 */
#include <wdmsim/test.h>

#include "internal.h"

#define MANY 10000

struct item {
    int key;
    struct hash_link link;
    bool in_table;
};

static struct item *items_new(size_t count)
{
    struct item *items = calloc(count, sizeof *items);

    assert_non_null(items);
    for (size_t i = 0; i < count; i++)
        items[i].key = (int)i;
    return items;
}

static uint64_t key_signature(int key)
{
    return hash_mix((uint64_t)key);
}

static void insert(struct hash_table *table, struct item *item)
{
    hash_insert(table, &item->link, key_signature(item->key));
    item->in_table = true;
}

static void remove_item(struct hash_table *table, struct item *item)
{
    hash_remove(table, &item->link);
    item->in_table = false;
}

static struct item *find(const struct hash_table *table, int key)
{
    for (struct hash_link *l = hash_first(table, key_signature(key)); l != NULL; l = hash_next(l)) {
        struct item *item = HASH_ENTRY(l, struct item, link);

        if (item->key == key)
            return item;
    }
    return NULL;
}

/* The whole table: each item found exactly when it is in, the walk sees each one once, and the
 * count and the buckets agree. */
static void check_table(const struct hash_table *table, struct item *items, size_t count)
{
    size_t in = 0, walked = 0;

    for (size_t i = 0; i < count; i++) {
        assert_ptr_equal(find(table, items[i].key), items[i].in_table ? &items[i] : NULL);
        in += items[i].in_table;
    }
    for (size_t b = 0; b < hash_bucket_count(table); b++)
        for (const struct hash_link *l = hash_bucket(table, b); l != NULL; l = l->next)
            walked++;
    assert_int_equal(table->count, in);
    assert_int_equal(walked, in);
}

static void an_empty_table_finds_nothing_and_has_no_buckets(void **state)
{
    struct hash_table table;

    (void)state;
    hash_init(&table);
    assert_null(hash_first(&table, 42));
    assert_int_equal(hash_bucket_count(&table), 0);
    assert_null(hash_drain(&table));
    hash_destroy(&table);
}

static void the_table_grows_with_its_entries_and_finds_every_one(void **state)
{
    struct item *items = items_new(MANY);
    struct hash_table table;

    (void)state;
    hash_init(&table);
    for (size_t i = 0; i < MANY; i++) {
        insert(&table, &items[i]);
        /* Never more entries than buckets: chains stay short whatever the count. */
        assert_true(table.count <= hash_bucket_count(&table));
    }
    assert_true(hash_bucket_count(&table) >= MANY);
    check_table(&table, items, MANY);
    hash_destroy(&table);
    free(items);
}

static void removal_in_the_middle_of_a_round_of_splits_keeps_the_rest_findable(void **state)
{
    struct item *items = items_new(MANY);
    struct hash_table table;
    size_t inserted = 0;

    (void)state;
    hash_init(&table);
    /* Stop halfway through a round: some buckets split, the rest not yet. */
    while (inserted < 100 || table.split == 0 || table.split > table.low_mask / 2)
        insert(&table, &items[inserted++]);
    for (size_t i = 0; i < inserted; i += 2)
        remove_item(&table, &items[i]);
    check_table(&table, items, inserted);
    /* Growing again after the removals, then removing while it grows. */
    for (size_t i = inserted; i < MANY; i++) {
        insert(&table, &items[i]);
        if (i % 3 == 0 && items[i - 1].in_table)
            remove_item(&table, &items[i - 1]);
    }
    check_table(&table, items, MANY);
    hash_destroy(&table);
    free(items);
}

static void the_table_shrinks_back_as_entries_go(void **state)
{
    struct item *items = items_new(MANY);
    struct hash_table table;

    (void)state;
    hash_init(&table);
    for (size_t i = 0; i < MANY; i++)
        insert(&table, &items[i]);
    for (size_t i = 0; i < MANY - 10; i++) {
        remove_item(&table, &items[i]);
        /* Never more than four buckets per entry, above the minimum of 8. */
        assert_true(hash_bucket_count(&table) <= 8 || hash_bucket_count(&table) <= 4 * (table.count + 1));
    }
    check_table(&table, items, MANY);
    assert_true(hash_bucket_count(&table) <= 64);
    hash_destroy(&table);
    free(items);
}

static void entries_sharing_one_signature_are_all_reached_through_hash_next(void **state)
{
    struct item *items = items_new(1000);
    struct hash_table table;
    size_t seen = 0;

    (void)state;
    hash_init(&table);
    for (size_t i = 0; i < 1000; i++)
        hash_insert(&table, &items[i].link, i % 2 == 0 ? 7 : hash_mix(i));
    for (size_t i = 0; i < 1000; i += 4)
        hash_remove(&table, &items[i].link);
    for (struct hash_link *l = hash_first(&table, 7); l != NULL; l = hash_next(l)) {
        struct item *item = HASH_ENTRY(l, struct item, link);

        assert_int_equal(item->key % 4, 2);
        seen++;
    }
    assert_int_equal(seen, 250);
    hash_destroy(&table);
    free(items);
}

static void hash_drain_hands_back_every_entry_and_empties_the_table(void **state)
{
    struct item *items = items_new(MANY);
    struct hash_table table;
    size_t drained = 0;

    (void)state;
    hash_init(&table);
    for (size_t i = 0; i < MANY; i++)
        insert(&table, &items[i]);
    for (struct hash_link *l = hash_drain(&table); l != NULL; l = l->next) {
        HASH_ENTRY(l, struct item, link)->in_table = false;
        drained++;
    }
    assert_int_equal(drained, MANY);
    for (size_t i = 0; i < MANY; i++)
        assert_false(items[i].in_table);
    assert_int_equal(table.count, 0);
    assert_null(hash_first(&table, key_signature(1)));
    free(items);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(an_empty_table_finds_nothing_and_has_no_buckets),
        wdmsim_test(the_table_grows_with_its_entries_and_finds_every_one),
        wdmsim_test(removal_in_the_middle_of_a_round_of_splits_keeps_the_rest_findable),
        wdmsim_test(the_table_shrinks_back_as_entries_go),
        wdmsim_test(entries_sharing_one_signature_are_all_reached_through_hash_next),
        wdmsim_test(hash_drain_hands_back_every_entry_and_empties_the_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
