/*
 * test_rules.c - the rule catalog as the host API shows it: every row complete, ids unique and
 * stable, and the Markdown page written from it.
 */
#include <stdio.h>
#include <stdlib.h>

#include <wdmsim/test.h>

static void every_rule_has_an_id_ddi_condition_code_explanation_and_fix(void **state)
{
    (void)state;
    assert_true(wdmsim_rule_count() > 0);
    for (size_t i = 0; i < wdmsim_rule_count(); i++) {
        const struct wdmsim_rule_info *rule = wdmsim_rule_at(i);

        assert_non_null(rule);
        assert_non_null(rule->id);
        assert_non_null(strchr(rule->id, '.'));
        assert_true(rule->ddi && *rule->ddi);
        assert_true(rule->condition && *rule->condition);
        /* Only a warning has no bug check of its own (its code stands for "made fatal"). */
        assert_true((rule->code != 0) == (wdmsim_rule_severity(i) == WDMSIM_RULE_STOPS));
        assert_true(rule->code_name && *rule->code_name >= 'A' && *rule->code_name <= 'Z');
        assert_true(rule->explanation && *rule->explanation);
        assert_true(rule->fix && *rule->fix);
    }
    assert_null(wdmsim_rule_at(wdmsim_rule_count()));
}

static void warning_rules_say_so_in_the_markdown_page(void **state)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    size_t warnings = 0;

    (void)state;
    wdmsim_rules_write_markdown(out);
    fclose(out);
    for (size_t i = 0; i < wdmsim_rule_count(); i++) {
        const struct wdmsim_rule_info *rule = wdmsim_rule_at(i);
        char cell[128];
        const char *row;

        if (wdmsim_rule_severity(i) != WDMSIM_RULE_WARNS)
            continue;
        warnings++;
        snprintf(cell, sizeof cell, "| `%s` |", rule->id);
        row = strstr(text, cell);
        assert_non_null(row);
        assert_non_null(strstr(row, "| warning (if made fatal"));
    }
    assert_true(warnings >= 1);     /* io.dispatch_wait_with_timeout */
    assert_int_equal(wdmsim_rule_severity(wdmsim_rule_count()), WDMSIM_RULE_STOPS);
    free(text);
}

static void rule_ids_are_unique(void **state)
{
    (void)state;
    for (size_t i = 0; i < wdmsim_rule_count(); i++)
        for (size_t j = i + 1; j < wdmsim_rule_count(); j++)
            assert_string_not_equal(wdmsim_rule_at(i)->id, wdmsim_rule_at(j)->id);
}

static void codes_with_subcodes_carry_them_and_exceptions_carry_their_status(void **state)
{
    (void)state;
    for (size_t i = 0; i < wdmsim_rule_count(); i++) {
        const struct wdmsim_rule_info *rule = wdmsim_rule_at(i);

        if (rule->code == 0xC4 || rule->code == 0xC2 || rule->code == 0x139 || rule->code == 0xC7 ||
            rule->code == 0xE4 || rule->code == 0xC9 || rule->code == 0xCA)
            assert_true(rule->subcode >= 0);
        else if (rule->code == 0x1E)
            assert_true(rule->subcode >= (long long)0x80000000);
        else if (rule->code == 0x7F)
            assert_int_equal(rule->subcode, 8);     /* the trap: a double fault */
        else
            assert_int_equal(rule->subcode, -1);
    }
}

static void the_markdown_page_has_one_table_row_per_rule(void **state)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    size_t rows = 0;

    (void)state;
    assert_non_null(out);
    wdmsim_rules_write_markdown(out);
    fclose(out);
    for (const char *p = text; (p = strstr(p, "\n| `")) != NULL; p++)
        rows++;
    assert_int_equal(rows, wdmsim_rule_count());
    assert_non_null(strstr(text, "| `spinlock.recursive_acquire` |"));
    assert_non_null(strstr(text, "&le; DISPATCH_LEVEL"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_rule_has_an_id_ddi_condition_code_explanation_and_fix),
        cmocka_unit_test(warning_rules_say_so_in_the_markdown_page),
        cmocka_unit_test(rule_ids_are_unique),
        cmocka_unit_test(codes_with_subcodes_carry_them_and_exceptions_carry_their_status),
        cmocka_unit_test(the_markdown_page_has_one_table_row_per_rule),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
