/*
 * test_pg_names.c - the tenant name rule, object names, and reading migration directories
 * (no server needed).
 */
#include "pg/pg_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static void test_name_rule(void **state)
{
    (void)state;
    const char *good[] = {"ab",           "acme", "acme-power",
                          "north-wind-2", "a1",   "abcdefghijklmnopqrstuvwxyz-0123456789abc"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        eqops_error e = EQOPS_ERROR_INIT;
        if (eqops_pg_tenant_name_check(good[i], &e) != 0)
            fail_msg("%s: %s", good[i], e.message);
    }
    struct {
        const char *name, *says;
    } bad[] = {
        {NULL, "required"},
        {"", "2 to 40"},
        {"a", "2 to 40"},
        {"abcdefghijklmnopqrstuvwxyz-0123456789abcd", "2 to 40"},
        {"Acme", "start with a lowercase letter"},
        {"1acme", "start with a lowercase letter"},
        {"-acme", "start with a lowercase letter"},
        {"acme-", "end with '-'"},
        {"ac--me", "\"--\""},
        {"acme_power", "'_' at position 5"},
        {"acme'power", "''' at position 5"},
        {"acme;drop", "';' at position 5"},
        {"acme power", "byte 0x20 at position 5"},
        {"acm\xc3\xa9", "byte 0xc3 at position 4"},
        {"acme\npower", "byte 0x0a"},
        {"select", "reserved word"},
        {"user", "reserved word"},
        {"current-user", "reserved word"},
        {"postgres", "system name"},
        {"template0", "system name"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eqops_error e = EQOPS_ERROR_INIT;
        assert_int_equal(eqops_pg_tenant_name_check(bad[i].name, &e), EQOPS_EINVAL);
        assert_string_equal(e.field, "name");
        if (strstr(e.message, bad[i].says) == NULL)
            fail_msg("%s: '%s' does not say '%s'", bad[i].name ? bad[i].name : "NULL", e.message,
                     bad[i].says);
    }
    /* 300 bytes: rejected without reading them all */
    char long_name[301];
    memset(long_name, 'a', 300);
    long_name[300] = '\0';
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_pg_tenant_name_check(long_name, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "over 256"));
    assert_true(eqops__pg_reserved_sorted());
}

static void test_object_names(void **state)
{
    (void)state;
    eqops_pg pg;
    memset(&pg, 0, sizeof(pg));
    pg.prefix = "tenant_";
    char out[64], back[48];
    assert_int_equal(eqops__pg_object_name(&pg, "acme-power-2", out, sizeof(out)), 0);
    assert_string_equal(out, "tenant_acme_power_2");
    assert_true(eqops__pg_tenant_from_object(&pg, out, back, sizeof(back)));
    assert_string_equal(back, "acme-power-2");
    assert_false(eqops__pg_tenant_from_object(&pg, "other_acme", back, sizeof(back)));
    assert_false(eqops__pg_tenant_from_object(&pg, "tenant_Bad", back, sizeof(back)));
    assert_false(eqops__pg_tenant_from_object(&pg, "tenant_a__b", back, sizeof(back)));
    /* the longest name with the longest prefix still fits NAMEDATALEN */
    pg.prefix = "abcdefghijklmnopqrst";
    assert_int_equal(
        eqops__pg_object_name(&pg, "abcdefghijklmnopqrstuvwxyz-0123456789abc", out, sizeof(out)),
        0);
    assert_true(strlen(out) <= 63);
}

/* ---- migration directories ------------------------------------------------------------------ */

static char dir[128];

static void put(const char *name, const char *text, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void fresh_dir(void)
{
    char cmd[300];
    snprintf(dir, sizeof(dir), "/tmp/eqops-mig-unit-%d", (int)getpid());
    snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s", dir, dir);
    assert_int_equal(system(cmd), 0);
}

static int load_expect(int want, const char *says)
{
    pg_migrations ms;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops__pg_migrations_load(&ms, dir, &e);
    if (rc != want)
        fail_msg("load: %d %s", rc, e.message);
    if (says && strstr(e.message, says) == NULL)
        fail_msg("'%s' does not say '%s'", e.message, says);
    eqops__pg_migrations_free(&ms);
    return rc;
}

static void test_migrations_load(void **state)
{
    (void)state;
    fresh_dir();
    put("V2__second-step.sql", "CREATE TABLE b (x int);\n", 24);
    put("V001__first.sql", "CREATE TABLE a (x int);\n", 24);
    put("V10__index.sql", "-- eqops:no-transaction\nCREATE INDEX CONCURRENTLY i ON a (x);\n", 62);
    put("README.md", "not a migration", 15);
    put(".hidden.sql", "ignored", 7);
    pg_migrations ms;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops__pg_migrations_load(&ms, dir, &e), 0);
    assert_int_equal(ms.n, 3);
    assert_int_equal(ms.m[0].version, 1);
    assert_string_equal(ms.m[0].description, "first");
    assert_int_equal(ms.m[1].version, 2);
    assert_string_equal(ms.m[1].description, "second-step");
    assert_int_equal(ms.m[2].version, 10);
    assert_true(ms.m[2].no_transaction);
    assert_false(ms.m[0].no_transaction);
    assert_int_equal(eqops__pg_migrations_target(&ms), 10);
    /* sha256 of "CREATE TABLE a (x int);\n" */
    assert_string_equal(ms.m[0].checksum,
                        "1c0a5f21cdffcd4210b24724676c9084acc427f170eb1a8bdd097e359601ecca");
    eqops__pg_migrations_free(&ms);

    put("V2__again.sql", "x", 1);
    load_expect(EQOPS_EINVAL, "version 2 is also used by");
    /* one bad file per directory */
    static const struct {
        const char *file, *text;
        size_t len;
        const char *says;
    } bad[] = {
        {"V0__zero.sql", "x", 1, "must be named V<version>"},
        {"v1__lower.sql", "x", 1, "must be named V<version>"},
        {"V1_single.sql", "x", 1, "must be named"},
        {"V1__bad name.sql", "x", 1, "must be named"},
        {"V1__.sql", "x", 1, "must be named"},
        {"V99999999999999999999__huge.sql", "x", 1, "too large"},
        {"V1__nul.sql", "SELECT 1;\0DROP TABLE x;", 23, "NUL byte"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fresh_dir();
        put(bad[i].file, bad[i].text, bad[i].len);
        load_expect(EQOPS_EINVAL, bad[i].says);
    }
    fresh_dir();
    load_expect(0, NULL); /* empty: target 0 */
    snprintf(dir, sizeof(dir), "/nonexistent/eqops");
    load_expect(EQOPS_ENOTFOUND, "/nonexistent/eqops");
    eqops_error e2 = EQOPS_ERROR_INIT;
    assert_int_equal(eqops__pg_migrations_load(&ms, NULL, &e2), EQOPS_EINVAL);
    assert_string_equal(e2.field, "migrations_dir");
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf /tmp/eqops-mig-unit-%d", (int)getpid());
    assert_int_equal(system(cmd), 0);
}

static void test_random_password(void **state)
{
    (void)state;
    char a[48], b[48];
    assert_int_equal(eqops__pg_random_password(a), 0);
    assert_int_equal(eqops__pg_random_password(b), 0);
    assert_int_equal(strlen(a), 43);
    assert_string_not_equal(a, b);
    for (const char *p = a; *p; p++)
        assert_non_null(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
}

static void test_sqlstate_codes(void **state)
{
    (void)state;
    assert_int_equal(eqops__pg_sqlstate_code("42P04"), EQOPS_EEXISTS);
    assert_int_equal(eqops__pg_sqlstate_code("3D000"), EQOPS_ENOTFOUND);
    assert_int_equal(eqops__pg_sqlstate_code("28P01"), EQOPS_EAUTH);
    assert_int_equal(eqops__pg_sqlstate_code("42501"), EQOPS_EFORBIDDEN);
    assert_int_equal(eqops__pg_sqlstate_code("08006"), EQOPS_EUNAVAILABLE);
    assert_int_equal(eqops__pg_sqlstate_code("57P01"), EQOPS_EUNAVAILABLE);
    assert_int_equal(eqops__pg_sqlstate_code("40001"), EQOPS_ECONFLICT);
    assert_int_equal(eqops__pg_sqlstate_code("55P03"), EQOPS_EBUSY);
    assert_int_equal(eqops__pg_sqlstate_code("22023"), EQOPS_EINVAL);
    eqops_error e = EQOPS_ERROR_INIT;
    const struct {
        const char *state, *message;
        bool transient;
    } cases[] = {
        {"08006", "", true},
        {"57P01", "", true},
        {"25006", "", true},
        {"40P01", "", true},
        {"55006", "", true},
        {"55P03", "", true},
        {"XX000", "tuple concurrently updated", true},
        {"XX000", "other", false},
        {"42601", "", false},
        {"23505", "", false},
        {"", "", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(e.reason, sizeof(e.reason), "%s", cases[i].state);
        snprintf(e.message, sizeof(e.message), "%s", cases[i].message);
        assert_int_equal(eqops__pg_transient(&e), cases[i].transient);
    }
}

/*
 * Regression (issue 13): any syntactically valid setting name reached ALTER DATABASE ... SET,
 * `role` too; the admin is a member of every tenant role, so a database whose sessions start
 * as another role was one setting away. Only the allow-list passes now.
 */
static void test_setting_allow_list(void **state)
{
    (void)state;
    const char *allowed[] = {"statement_timeout",
                             "lock_timeout",
                             "idle_in_transaction_session_timeout",
                             "work_mem",
                             "timezone",
                             "application_name",
                             "jit"};
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        eqops_error e = EQOPS_ERROR_INIT;
        if (eqops__pg_setting_check(allowed[i], "settings[0]", &e) != 0)
            fail_msg("%s: %s", allowed[i], e.message);
    }
    const char *refused[] = {"role",
                             "session_authorization",
                             "search_path",
                             "session_preload_libraries",
                             "local_preload_libraries",
                             "shared_preload_libraries",
                             "dynamic_library_path",
                             "default_transaction_read_only",
                             "row_security",
                             "session_replication_role",
                             "lc_messages",
                             "log_statement",
                             "password_encryption",
                             "app.tenant",
                             "pgaudit.log",
                             "statement_timeout_",
                             "",
                             NULL};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        eqops_error e = EQOPS_ERROR_INIT;
        assert_int_equal(eqops__pg_setting_check(refused[i], "settings[3]", &e), EQOPS_EINVAL);
        assert_string_equal(e.field, "settings[3]");
        if (strstr(e.message, "not a setting a tenant database may have") == NULL)
            fail_msg("%s: '%s'", refused[i] ? refused[i] : "NULL", e.message);
    }
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops__pg_setting_check("role", "settings[0]", &e), EQOPS_EINVAL);
    assert_string_equal(e.message, "settings[0]: \"role\" is not a setting a tenant database may "
                                   "have (only timeouts, memory, locale, format and planner "
                                   "settings; docs/pg.md lists them)");
    assert_int_equal(eqops__pg_setting_check("role", "settings[0]", NULL), EQOPS_EINVAL);
    assert_true(eqops__pg_reserved_sorted());
}

int main(void)
{
    eqops_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_rule),       cmocka_unit_test(test_object_names),
        cmocka_unit_test(test_migrations_load), cmocka_unit_test(test_random_password),
        cmocka_unit_test(test_sqlstate_codes),  cmocka_unit_test(test_setting_allow_list),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    eqops_cleanup();
    return rc;
}
