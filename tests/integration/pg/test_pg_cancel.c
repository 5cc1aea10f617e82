/*
 * test_pg_cancel.c - cancellation and connection failures in the pg module against a real
 * PostgreSQL 15 (scripts/testenv): a fleet migration stopped inside a running statement
 * (PQcancel: the server ends it) and finished by the next run, each migration applied once; a
 * connect to a server that never answers, stopped by the handle's token; a refused connect
 * classified by its SQLSTATE.
 *
 * Needs EQOPS_TEST_PG_ADMIN_DSN and EQOPS_TEST_PG_SUPER_DSN; without them the tests skip (and
 * fail with CI=true). Objects use the prefix "cc_" and their own template and control
 * databases.
 */
#include "pgtest.h"

#include <eqops.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static const char *admin_dsn, *super_dsn;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define super_value(db, ...) pgtest_sql(super_dsn, (db), __VA_ARGS__)

/* A tenant's database ("cc_" and the name with '-' as '_'). */
static const char *db_of(const char *tenant, char out[64])
{
    snprintf(out, 64, "cc_%s", tenant);
    for (char *p = out; *p; p++)
        *p = *p == '-' ? '_' : *p;
    return out;
}

static eqops_pg *connect_admin(const char *conninfo, eqops_cancel *cancel, eqops_error *e)
{
    eqops_pg_options o = EQOPS_PG_OPTIONS_INIT;
    o.db_prefix = "cc_";
    o.template_db = "cctpl_main";
    o.control_db = "ccl_control";
    o.failover_wait_ms = -1;
    o.cancel = cancel;
    eqops_pg *pg = NULL;
    eqops_pg_new(&pg, conninfo, &o, e);
    return pg;
}

static int setup(void **state)
{
    (void)state;
    admin_dsn = getenv("EQOPS_TEST_PG_ADMIN_DSN");
    super_dsn = getenv("EQOPS_TEST_PG_SUPER_DSN");
    if (!admin_dsn || !super_dsn) {
        const char *ci = getenv("CI");
        fprintf(stderr, "test environment not running: scripts/testenv up postgres; eval "
                        "\"$(scripts/testenv env)\"\n");
        return ci && !strcmp(ci, "true") ? -1 : 0;
    }
    return 0;
}

#define NEED_ENV()                                                                                 \
    do {                                                                                           \
        if (admin_dsn == NULL)                                                                     \
            skip();                                                                                \
    } while (0)

/* ---- a fleet migration stopped inside a statement ------------------------------------------ */

static char dir[256];

static void put_migration(const char *name, const char *sql)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(sql, f);
    fclose(f);
}

/* Trigger the token once the server runs the slow statement; when it did, in trigger_ms. */
typedef struct watcher {
    eqops_cancel *cancel;
    int64_t trigger_ms;
} watcher;

static void *watch_and_trigger(void *arg)
{
    watcher *w = arg;
    for (int i = 0; i < 3000; i++) {
        const char *n = super_value("postgres", "SELECT count(*) FROM pg_stat_activity WHERE "
                                                "query LIKE '%%pg_sleep(60)%%' AND pid <> "
                                                "pg_backend_pid() AND state = 'active'");
        if (atoi(n) > 0)
            break;
        usleep(10000);
    }
    w->trigger_ms = now_ms();
    eqops_cancel_trigger(w->cancel);
    return NULL;
}

static const char *const tenants[] = {"cancel-a", "cancel-b", "cancel-c", NULL};

/* In every tenant database: `rows` history rows of V2, and its table there ("t") or not. */
static void expect_v2(const char *rows, const char *table)
{
    for (size_t i = 0; tenants[i]; i++) {
        char db[64];
        db_of(tenants[i], db);
        assert_string_equal(
            super_value(db, "SELECT count(*) FROM eqops.schema_history WHERE version = 2"), rows);
        assert_string_equal(super_value(db, "SELECT to_regclass('slow') IS NOT NULL"), table);
    }
}

static void test_fleet_migration_cancelled_in_a_statement(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_pg *pg = connect_admin(admin_dsn, NULL, &e);
    if (pg == NULL)
        fail_msg("connect: %s", e.message);
    snprintf(dir, sizeof(dir), "/tmp/eqops-pg-cancel-%d", (int)getpid());
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s", dir, dir);
    assert_int_equal(system(cmd), 0);
    put_migration("V1__base.sql", "CREATE TABLE base (id int PRIMARY KEY);\n");
    for (size_t i = 0; tenants[i]; i++) {
        eqops_pg_tenant *t = NULL;
        if (eqops_pg_tenant_drop(pg, tenants[i], tenants[i], &e) != 0 && e.code != EQOPS_ENOTFOUND)
            fail_msg("drop %s: %s", tenants[i], e.message);
        eqops_error_clear(&e);
        eqops_pg_tenant_options to = EQOPS_PG_TENANT_OPTIONS_INIT;
        to.migrations_dir = dir;
        if (eqops_pg_tenant_create(&t, pg, tenants[i], &to, &e) != 0)
            fail_msg("create %s: %s", tenants[i], e.message);
        eqops_pg_tenant_free(t);
    }
    /* V2 sleeps while the role cc_sleep exists: the first run is stopped inside it, the
     * second one (the same file, the same checksum) goes through */
    super_value("postgres", "DROP ROLE IF EXISTS cc_sleep");
    super_value("postgres", "CREATE ROLE cc_sleep NOLOGIN");
    put_migration("V2__slow.sql",
                  "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cc_sleep') "
                  "THEN PERFORM pg_sleep(60); END IF; END $$;\n"
                  "CREATE TABLE slow (id int PRIMARY KEY);\n");

    eqops_cancel *cancel = NULL;
    assert_int_equal(eqops_cancel_new(&cancel, NULL), 0);
    eqops_pg_migrate_options mo = EQOPS_PG_MIGRATE_OPTIONS_INIT;
    mo.migrations_dir = dir;
    mo.tenants = tenants;
    mo.skip_template = 1;
    mo.concurrency = 1;
    mo.cancel = cancel;
    watcher w = {cancel, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, watch_and_trigger, &w), 0);
    char *out = NULL;
    size_t failed = 0;
    int64_t t0 = now_ms();
    int rc = eqops_pg_migrate(&out, &failed, pg, &mo, &e);
    int64_t t1 = now_ms();
    pthread_join(th, NULL);
    if (rc != EQOPS_ECANCELED)
        fail_msg("migrate: %d %s (want EQOPS_ECANCELED)", rc, e.message);
    print_message("fleet migration: pg_sleep(60) stopped %lld ms after the token was triggered "
                  "(%lld ms in all)\n",
                  (long long)(t1 - w.trigger_ms), (long long)(t1 - t0));
    assert_true(t1 - w.trigger_ms < 10000);
    /* the server ended the statement (PQcancel), not just the client's wait */
    assert_string_equal(super_value("postgres", "SELECT count(*) FROM pg_stat_activity WHERE "
                                                "query LIKE '%%pg_sleep(60)%%' AND pid <> "
                                                "pg_backend_pid()"),
                        "0");
    /* the result says what happened: one database failed (cancelled), none after it ran */
    json_t *doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    size_t i, nfailed = 0, nskipped = 0;
    json_t *r;
    json_array_foreach(json_object_get(doc, "databases"), i, r)
    {
        const char *st = json_string_value(json_object_get(r, "status"));
        nfailed += !strcmp(st, "failed");
        nskipped += !strcmp(st, "skipped");
    }
    assert_int_equal(nfailed, 1);
    assert_int_equal(nskipped, 2);
    json_decref(doc);
    eqops_free(out);
    /* nothing of V2 anywhere: the cancelled transaction was rolled back */
    expect_v2("0", "f");

    /* the next run finishes the job: V2 exactly once everywhere */
    super_value("postgres", "DROP ROLE cc_sleep");
    eqops_cancel_reset(cancel);
    rc = eqops_pg_migrate(&out, &failed, pg, &mo, &e);
    if (rc != 0 || failed != 0)
        fail_msg("second run: %d %s (%zu failed)", rc, e.message, failed);
    eqops_free(out);
    expect_v2("1", "t");
    for (i = 0; tenants[i]; i++) {
        if (eqops_pg_tenant_drop(pg, tenants[i], tenants[i], &e) != 0)
            fail_msg("drop %s: %s", tenants[i], e.message);
    }
    eqops_cancel_free(cancel);
    eqops_pg_free(pg);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- a connect that never gets an answer ----------------------------------------------------- */

static void *trigger_later(void *arg)
{
    usleep(300000);
    eqops_cancel_trigger(arg);
    return NULL;
}

static void test_connect_cancelled(void **state)
{
    (void)state;
    /* a loopback port that accepts connections (the kernel's backlog) and never answers */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s, 8), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    char conninfo[200];
    snprintf(conninfo, sizeof(conninfo),
             "host=127.0.0.1 port=%d user=nobody dbname=postgres connect_timeout=60",
             ntohs(a.sin_port));
    eqops_cancel *cancel = NULL;
    assert_int_equal(eqops_cancel_new(&cancel, NULL), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, trigger_later, cancel), 0);
    eqops_error e = EQOPS_ERROR_INIT;
    int64_t t0 = now_ms();
    eqops_pg *pg = connect_admin(conninfo, cancel, &e);
    int64_t ms = now_ms() - t0;
    pthread_join(th, NULL);
    assert_null(pg);
    if (e.code != EQOPS_ECANCELED)
        fail_msg("connect: %d %s (want EQOPS_ECANCELED)", e.code, e.message);
    print_message("connect stopped %lld ms after its start (the token at 300 ms)\n", (long long)ms);
    assert_true(ms < 10000); /* not the 60 s connect_timeout */
    eqops_error_clear(&e);
    eqops_cancel_free(cancel);
    close(s);
}

/* ---- a refusal classified by its SQLSTATE ------------------------------------------------ */

/* A database that takes no connections (being dropped: ALLOW_CONNECTIONS false) answers with
 * SQLSTATE 55000: final, not worth the failover wait. Its message reads "is not currently
 * accepting connections", which a match on message text once missed, retrying for 30 s. */
static void test_refusal_classified_by_sqlstate(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_pg_options o = EQOPS_PG_OPTIONS_INIT;
    o.db_prefix = "cc_";
    o.template_db = "cctpl_main";
    o.control_db = "ccl_control"; /* failover_wait_ms: the default 30 s */
    eqops_pg *pg = NULL;
    if (eqops_pg_new(&pg, admin_dsn, &o, &e) != 0)
        fail_msg("connect: %s", e.message);
    eqops_pg_tenant *t = NULL;
    eqops_pg_tenant_options to = EQOPS_PG_TENANT_OPTIONS_INIT;
    if (eqops_pg_tenant_create(&t, pg, "closed", &to, &e) != 0)
        fail_msg("create: %s", e.message);
    eqops_pg_tenant_free(t);
    super_value("postgres", "ALTER DATABASE cc_closed ALLOW_CONNECTIONS false");
    snprintf(dir, sizeof(dir), "/tmp/eqops-pg-closed-%d", (int)getpid());
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s", dir, dir);
    assert_int_equal(system(cmd), 0);
    put_migration("V1__base.sql", "CREATE TABLE base (id int);\n");
    char *out = NULL;
    size_t problems = 0;
    int64_t t0 = now_ms();
    int rc = eqops_pg_validate(&out, &problems, pg, dir, "cc_closed", &e);
    int64_t ms = now_ms() - t0;
    super_value("postgres", "ALTER DATABASE cc_closed ALLOW_CONNECTIONS true");
    if (rc != 0)
        fail_msg("validate: %d %s", rc, e.message);
    print_message("a database not accepting connections: refused in %lld ms\n", (long long)ms);
    assert_true(ms < 10000);
    assert_int_equal(problems, 1);
    assert_non_null(strstr(out, "not currently accepting connections"));
    eqops_free(out);
    if (eqops_pg_tenant_drop(pg, "closed", "closed", &e) != 0)
        fail_msg("drop: %s", e.message);
    eqops_pg_free(pg);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    eqops_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_cancelled),
        cmocka_unit_test(test_fleet_migration_cancelled_in_a_statement),
        cmocka_unit_test(test_refusal_classified_by_sqlstate),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    eqops_cleanup();
    return rc;
}
