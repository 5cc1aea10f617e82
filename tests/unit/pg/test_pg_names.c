/*
 * test_pg_names.c - the tenant name rule, object names, reading migration directories, the
 * settings allow-list and its bounds, the conninfo rules and the session settings (no server
 * needed).
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

/* The memory settings a tenant database may have are bounded (work_mem=100TB was taken to the
 * server, 2GB was set), in PostgreSQL's units and spelling; other settings are not. */
static void test_setting_bounds(void **state)
{
    (void)state;
    const char *ok[] = {"work_mem=1GB",
                        "work_mem=4096",
                        "work_mem=64",
                        "work_mem=1.5MB",
                        "work_mem=1 GB",
                        "work_mem=65536B",
                        "maintenance_work_mem=4GB",
                        "temp_buffers=100",
                        "temp_buffers=8MB",
                        "hash_mem_multiplier=2.5",
                        "statement_timeout=30s",
                        "datestyle=SQL, DMY"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        eqops_error e = EQOPS_ERROR_INIT;
        if (eqops__pg_setting_entry_check(ok[i], "settings[0]", &e) != 0)
            fail_msg("%s: %s", ok[i], e.message);
    }
    struct {
        const char *setting, *says;
    } bad[] = {
        {"work_mem=100TB", "work_mem must be from 64kB to 1GB for a tenant database"},
        {"work_mem=2GB", "from 64kB to 1GB"},
        {"work_mem=1025MB", "from 64kB to 1GB"},
        {"work_mem=63", "from 64kB to 1GB"},
        {"work_mem=lots", "work_mem must be a size like 64MB"},
        {"work_mem=1gb", "a size like 64MB"},
        {"work_mem=-1", "a size like 64MB"},
        {"work_mem=0x100000", "a size like 64MB"},
        {"work_mem=1e9", "a size like 64MB"},
        {"work_mem=", "a size like 64MB"},
        {"maintenance_work_mem=8GB", "from 1MB to 4GB"},
        {"temp_buffers=99", "from 800kB to 1GB"},
        {"hash_mem_multiplier=100", "from 1 to 8"},
        {"hash_mem_multiplier=2MB", "must be a number"},
        {"role=x", "not a setting a tenant database may have"},
        {"app.key=x", "not a setting a tenant database may have"},
        {"Work_mem=1MB", "must be a setting name"},
        {"work_mem", "name=value"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eqops_error e = EQOPS_ERROR_INIT;
        assert_int_equal(eqops__pg_setting_entry_check(bad[i].setting, "settings[2]", &e),
                         EQOPS_EINVAL);
        assert_string_equal(e.field, "settings[2]");
        if (strstr(e.message, bad[i].says) == NULL)
            fail_msg("%s: '%s'", bad[i].setting, e.message);
    }
    /* what a database carries is judged by the same rules, names in any case */
    json_t *have = json_pack("{s:s, s:s, s:s, s:s, s:s}", "DateStyle", "SQL, DMY", "work_mem",
                             "2GB", "role", "tenant_x", "app.secret", "hunter2", "TimeZone", "UTC");
    json_t *findings = json_array();
    eqops_buf names = EQOPS_BUF_INIT;
    assert_int_equal(eqops__pg_settings_findings(have, findings, &names), 3);
    assert_string_equal(eqops__buf_cstr(&names), "work_mem, role, app.secret");
    char *text = json_dumps(findings, 0);
    assert_non_null(strstr(text, "work_mem must be from 64kB to 1GB"));
    assert_non_null(strstr(text, "database setting role is not one a tenant database may have"));
    assert_null(strstr(text, "hunter2")); /* values of refused settings are not repeated */
    free(text);
    eqops__buf_free(&names);
    json_decref(findings);
    json_decref(have);
}

/* A URI password holding '@' (or '/') was partly taken for the host or the database name by
 * libpq and then printed in every error and retry line. Such a URI is refused without
 * repeating it; keyword conninfo and an encoded password are fine. */
static void test_uri_password_not_echoed(void **state)
{
    (void)state;
    const char *uris[] = {"postgresql://eqops_admin:Sup3r@S3cr3t@127.0.0.1:1/postgres",
                          "postgres://eqops_admin:Sup3r/S3cr3t@127.0.0.1:1/postgres",
                          "postgresql://u@h:1/db?application_name=S3cr3t@x"};
    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        eqops_pg *pg = (eqops_pg *)1;
        eqops_error e = EQOPS_ERROR_INIT;
        int rc = eqops_pg_new(&pg, uris[i], NULL, &e);
        if (rc != EQOPS_EINVAL || strstr(e.message, "S3cr3t") != NULL ||
            strcmp(e.field, "conninfo") != 0)
            fail_msg("%s: %d '%s'", uris[i], rc, e.message);
        assert_null(pg);
        assert_non_null(strstr(e.message, "percent-encoded"));
    }
    /* parsed, not refused: an encoded '@' in the password or the user, and keywords */
    const char *fine[] = {"postgresql://eqops_admin:Sup3r%40S3cr3t@127.0.0.1:1/postgres",
                          "postgresql://admin%40server:pw@127.0.0.1:1/postgres",
                          "host=127.0.0.1 port=1 password=Sup3r@S3cr3t"};
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        eqops_pg *pg = eqops__calloc(1, sizeof(*pg));
        eqops_error e = EQOPS_ERROR_INIT;
        if (eqops__pg_conninfo_parse(pg, fine[i], 10, &e) != 0)
            fail_msg("%s: %s", fine[i], e.message);
        pg->conn = NULL;
        eqops_pg_free(pg);
    }
}

/* Every eqops session starts with its own settings (startup options, which a database's
 * settings do not override and RESET ALL goes back to), then the conninfo's options; only a
 * multi-host, read-write conninfo looks for the primary. */
static void test_session_settings(void **state)
{
    (void)state;
    eqops_pg *pg = eqops__calloc(1, sizeof(*pg));
    eqops_error e = EQOPS_ERROR_INIT;
    pg->statement_timeout_ms = 60000;
    pg->lock_timeout_ms = 5000;
    assert_int_equal(
        eqops__pg_conninfo_parse(pg, "host=a,b port=1,2 options='-c geqo=off'", 10, &e), 0);
    assert_true(pg->find_primary);
    assert_int_equal(eqops__pg_pins_set(pg, NULL, &e), 0);
    const char *o = eqops__pg_param(pg, "options");
    assert_non_null(o);
    const char *want[] = {"-c DateStyle=ISO,\\ MDY ",
                          "-c IntervalStyle=postgres ",
                          "-c TimeZone=UTC ",
                          "-c extra_float_digits=1 ",
                          "-c bytea_output=hex ",
                          "-c idle_session_timeout=0 ",
                          "-c idle_in_transaction_session_timeout=0 ",
                          "-c default_transaction_read_only=off ",
                          "-c default_transaction_isolation=read\\ committed ",
                          "-c statement_timeout=60000 ",
                          "-c lock_timeout=5000 "};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(o, want[i]) == NULL)
            fail_msg("no '%s' in '%s'", want[i], o);
    size_t n = strlen(o);
    assert_true(n > 12 && strcmp(o + n - 12, " -c geqo=off") == 0); /* theirs last: they win */
    assert_string_equal(eqops__pg_param(pg, "target_session_attrs"), "read-write");
    eqops_pg_free(pg);

    const char *single[] = {"host=a port=1", "host=a,b target_session_attrs=any",
                            "postgresql://h1:1,h2:2/postgres?target_session_attrs=read-only"};
    for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
        pg = eqops__calloc(1, sizeof(*pg));
        assert_int_equal(eqops__pg_conninfo_parse(pg, single[i], 10, &e), 0);
        assert_false(pg->find_primary);
        eqops_pg_free(pg);
    }
    pg = eqops__calloc(1, sizeof(*pg));
    assert_int_equal(eqops__pg_conninfo_parse(pg, "postgresql://h1:1,h2:2/postgres", 10, &e), 0);
    assert_true(pg->find_primary);
    eqops_pg_free(pg);
}

/* failover_wait_ms: how long connecting waits for a primary. */
static void test_failover_wait_option(void **state)
{
    (void)state;
    eqops_pg_options o = EQOPS_PG_OPTIONS_INIT;
    assert_int_equal(o.version, EQOPS_PG_OPTIONS_VERSION);
    eqops_pg *pg = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    o.failover_wait_ms = -2;
    assert_int_equal(eqops_pg_new(&pg, "host=127.0.0.1 port=1", &o, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "opts.failover_wait_ms");
    o.failover_wait_ms = 3600001;
    assert_int_equal(eqops_pg_new(&pg, "host=127.0.0.1 port=1", &o, &e), EQOPS_EINVAL);
    o.version = EQOPS_PG_OPTIONS_VERSION + 1;
    assert_int_equal(eqops_pg_new(&pg, "host=127.0.0.1 port=1", &o, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "opts.version");
    assert_null(pg);
}

int main(void)
{
    eqops_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_rule),        cmocka_unit_test(test_object_names),
        cmocka_unit_test(test_migrations_load),  cmocka_unit_test(test_random_password),
        cmocka_unit_test(test_sqlstate_codes),   cmocka_unit_test(test_setting_allow_list),
        cmocka_unit_test(test_setting_bounds),   cmocka_unit_test(test_uri_password_not_echoed),
        cmocka_unit_test(test_session_settings), cmocka_unit_test(test_failover_wait_option),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    eqops_cleanup();
    return rc;
}
