/*
 * test_pg.c - the pg module against a real PostgreSQL 15 (scripts/testenv): tenant
 * lifecycle, isolation, concurrency, drops with sessions, fleet migrations and their
 * failures, validation, drift, locks and secrets in the server log.
 *
 * Needs EQOPS_TEST_PG_ADMIN_DSN, EQOPS_TEST_PG_SUPER_DSN and EQOPS_TEST_PG_LOG; without them
 * the tests skip (and fail with CI=true). Objects use the prefix "ct_" and their own template
 * and control databases, so other suites on the same server are not disturbed.
 */
#include "pg/pg_internal.h"
#include "pgtest.h"

#include <eqops.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define MIGRATIONS EQOPS_TEST_EXAMPLES_DIR "/pg/migrations"

static const char *admin_dsn, *super_dsn, *server_log;

static eqops_pg *connect_admin(const char *tmpl)
{
    eqops_pg_options o = EQOPS_PG_OPTIONS_INIT;
    o.db_prefix = "ct_";
    o.template_db = tmpl ? tmpl : "ctpl_main";
    o.control_db = "ctl_control";
    o.max_retries = 2;
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_pg *pg = NULL;
    int rc = eqops_pg_new(&pg, admin_dsn, &o, &e);
    if (rc != 0)
        fail_msg("connect: %s", e.message);
    return pg;
}

/* As the superuser (hand-made changes) or as the admin role. */
static char *super_sql(const char *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *super_sql(const char *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = pgtest_vsql(super_dsn, db, fmt, ap);
    va_end(ap);
    return v;
}

static char *admin_sql(const char *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *admin_sql(const char *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = pgtest_vsql(admin_dsn, db, fmt, ap);
    va_end(ap);
    return v;
}

/* Connect with a tenant's conninfo, optionally to another database. */
static PGconn *tenant_conn(const eqops_pg_tenant *t, const char *other_db)
{
    char dsn[1024];
    snprintf(dsn, sizeof(dsn), "%s%s%s", eqops_pg_tenant_conninfo(t), other_db ? " dbname=" : "",
             other_db ? other_db : "");
    return PQconnectdb(dsn);
}

static int exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static eqops_pg_tenant *create(eqops_pg *pg, const char *name, const eqops_pg_tenant_options *o)
{
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_pg_tenant *t = NULL;
    if (eqops_pg_tenant_create(&t, pg, name, o, &e) != 0)
        fail_msg("create %s: %s [%s]", name, e.message, e.reason);
    eqops_error_clear(&e);
    return t;
}

static void drop(eqops_pg *pg, const char *name)
{
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_pg_tenant_drop(pg, name, name, &e) != 0)
        fail_msg("drop %s: %s [%s]", name, e.message, e.reason);
}

static int setup(void **state)
{
    (void)state;
    admin_dsn = getenv("EQOPS_TEST_PG_ADMIN_DSN");
    super_dsn = getenv("EQOPS_TEST_PG_SUPER_DSN");
    server_log = getenv("EQOPS_TEST_PG_LOG");
    if (!admin_dsn || !super_dsn || !server_log) {
        const char *ci = getenv("CI");
        fprintf(stderr, "test environment not running: scripts/testenv up postgres; eval "
                        "\"$(scripts/testenv env)\"\n");
        return ci && !strcmp(ci, "true") ? -1 : 0;
    }
    /* leftovers of an earlier run that failed half-way */
    eqops_pg *pg = connect_admin(NULL);
    char *list = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_pg_tenant_list(&list, pg, 0, &e) != 0)
        fail_msg("list: %s", e.message);
    json_t *doc = json_loads(list, 0, NULL);
    size_t i;
    json_t *t;
    json_array_foreach(doc, i, t) drop(pg, json_string_value(json_object_get(t, "name")));
    json_decref(doc);
    eqops_free(list);
    eqops_pg_free(pg);
    return 0;
}

#define NEED_ENV()                                                                                 \
    do {                                                                                           \
        if (admin_dsn == NULL)                                                                     \
            skip();                                                                                \
    } while (0)

/* ---- lifecycle ------------------------------------------------------------------------------- */

static void test_lifecycle(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_pg *pg = connect_admin(NULL);
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_pg_template_ensure(pg, MIGRATIONS, &e), 0);

    eqops_pg_tenant_options o = EQOPS_PG_TENANT_OPTIONS_INIT;
    const char *settings[] = {"statement_timeout=1234ms", "timezone=Europe/Berlin", NULL};
    o.settings = settings;
    o.connection_limit = 7;
    eqops_pg_tenant *t = create(pg, "life-cycle", &o);
    assert_true(eqops_pg_tenant_created(t));
    assert_string_equal(eqops_pg_tenant_database(t), "ct_life_cycle");
    assert_string_equal(eqops_pg_tenant_role(t), "ct_life_cycle");
    assert_string_equal(eqops_pg_tenant_state(t), "ready");
    assert_int_equal(eqops_pg_tenant_schema_version(t), 4);
    assert_true(eqops_pg_tenant_size(t) > 1000000);
    const char *pw = eqops_pg_tenant_password(t);
    assert_non_null(pw);
    assert_int_equal(strlen(pw), 43);
    assert_non_null(strstr(eqops_pg_tenant_conninfo(t), "target_session_attrs"));

    /* the tenant can use its tables, not change the schema, and sees its settings */
    PGconn *c = tenant_conn(t, NULL);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    assert_true(exec_ok(c, "INSERT INTO sites (name, region) VALUES ('a', 'eu')"));
    assert_true(exec_ok(c, "SELECT count(*) FROM daily_energy"));
    assert_true(exec_ok(c, "SELECT max(version) FROM eqops.schema_history"));
    assert_false(exec_ok(c, "CREATE TABLE mine (x int)"));
    assert_false(exec_ok(c, "DROP TABLE readings"));
    assert_false(exec_ok(c, "DELETE FROM eqops.schema_history"));
    PGresult *r = PQexec(c, "SELECT current_setting('statement_timeout'), "
                            "current_setting('timezone')");
    assert_string_equal(PQgetvalue(r, 0, 0), "1234ms");
    assert_string_equal(PQgetvalue(r, 0, 1), "Europe/Berlin");
    PQclear(r);
    PQfinish(c);
    /* the limit is the role's: the database has none, so the admin is never locked out */
    assert_string_equal(
        super_sql(NULL, "SELECT rolconnlimit FROM pg_roles WHERE rolname = 'ct_life_cycle'"), "7");
    assert_string_equal(
        super_sql(NULL, "SELECT datconnlimit FROM pg_database WHERE datname = 'ct_life_cycle'"),
        "-1");

    /* again: converges, keeps the password (none returned), database not re-created */
    eqops_pg_tenant *again = create(pg, "life-cycle", &o);
    assert_false(eqops_pg_tenant_created(again));
    assert_null(eqops_pg_tenant_password(again));
    eqops_pg_tenant_free(again);
    c = tenant_conn(t, NULL);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQfinish(c);

    /* show and list */
    eqops_pg_tenant *shown = NULL;
    assert_int_equal(eqops_pg_tenant_show(&shown, pg, "life-cycle", &e), 0);
    assert_int_equal(eqops_pg_tenant_schema_version(shown), 4);
    assert_null(eqops_pg_tenant_password(shown));
    assert_null(strstr(eqops_pg_tenant_conninfo(shown), "password"));
    eqops_pg_tenant_free(shown);
    assert_int_equal(eqops_pg_tenant_show(&shown, pg, "no-such", &e), EQOPS_ENOTFOUND);
    char *list = NULL;
    assert_int_equal(eqops_pg_tenant_list(&list, pg, 1, &e), 0);
    assert_non_null(strstr(list, "\"name\": \"life-cycle\""));
    assert_non_null(strstr(list, "\"schema_version\": 4"));
    eqops_free(list);

    /* rotate: the old password stops working, the new one works */
    eqops_pg_tenant *rot = NULL;
    assert_int_equal(eqops_pg_tenant_rotate(&rot, pg, "life-cycle", &e), 0);
    assert_string_not_equal(eqops_pg_tenant_password(rot), pw);
    c = tenant_conn(t, NULL);
    assert_int_not_equal(PQstatus(c), CONNECTION_OK);
    PQfinish(c);
    c = tenant_conn(rot, NULL);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQfinish(c);
    assert_string_equal(
        super_sql(NULL, "SELECT rolconnlimit FROM pg_roles WHERE rolname = 'ct_life_cycle'"), "7");
    eqops_pg_tenant_free(rot);

    /* drop needs the confirmation; then twice is fine */
    assert_int_equal(eqops_pg_tenant_drop(pg, "life-cycle", "life", &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "confirm");
    drop(pg, "life-cycle");
    drop(pg, "life-cycle");
    assert_int_equal(eqops_pg_tenant_show(&shown, pg, "life-cycle", &e), EQOPS_ENOTFOUND);
    assert_string_equal(super_sql(NULL, "SELECT count(*) FROM pg_roles WHERE rolname = "
                                        "'ct_life_cycle'"),
                        "0");
    eqops_pg_tenant_free(t);
    eqops_error_clear(&e);
    eqops_pg_free(pg);
}

/* ---- isolation ---------------------------------------------------------------------------- */

static void test_isolation(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_pg *pg = connect_admin(NULL);
    eqops_pg_tenant *a = create(pg, "iso-a", NULL), *b = create(pg, "iso-b", NULL);
    /* A's credentials on B's database: refused */
    PGconn *c = tenant_conn(a, "ct_iso_b");
    assert_int_not_equal(PQstatus(c), CONNECTION_OK);
    assert_non_null(strstr(PQerrorMessage(c), "permission denied for database"));
    PQfinish(c);
    /* nor the maintenance or control databases' data, nor the template */
    c = tenant_conn(a, "ctpl_main");
    assert_int_not_equal(PQstatus(c), CONNECTION_OK);
    PQfinish(c);
    c = tenant_conn(a, "ctl_control");
    assert_int_not_equal(PQstatus(c), CONNECTION_OK);
    PQfinish(c);
    /* B on B works */
    c = tenant_conn(b, NULL);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQfinish(c);
    /* the drift check reports PUBLIC's CONNECT when someone grants it by hand */
    super_sql(NULL, "GRANT CONNECT ON DATABASE ct_iso_b TO PUBLIC");
    char *out = NULL;
    size_t drifted = 0;
    eqops_error e = EQOPS_ERROR_INIT;
    const char *names[] = {"iso-a", "iso-b", NULL};
    assert_int_equal(eqops_pg_drift(&out, &drifted, pg, names, &e), 0);
    assert_int_equal(drifted, 1);
    assert_non_null(strstr(out, "PUBLIC can connect"));
    eqops_free(out);
    /* create converges the isolation again */
    eqops_pg_tenant_free(create(pg, "iso-b", NULL));
    assert_int_equal(eqops_pg_drift(&out, &drifted, pg, names, &e), 0);
    assert_int_equal(drifted, 0);
    eqops_free(out);
    drop(pg, "iso-a");
    drop(pg, "iso-b");
    eqops_pg_tenant_free(a);
    eqops_pg_tenant_free(b);
    eqops_pg_free(pg);
}

/* ---- hostile names ---------------------------------------------------------------------- */

static void test_hostile_names(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_pg *pg = connect_admin(NULL);
    const char *bad[] = {"a'; DROP DATABASE postgres; --",
                         "acme\"power",
                         "acme;power",
                         "ac me",
                         "ÄCME",
                         "acm\xc3\xa9",
                         "Acme",
                         "1acme",
                         "acme-",
                         "ac--me",
                         "a",
                         "select",
                         "user",
                         "table",
                         "postgres",
                         "template1",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                         "",
                         "acme\npower",
                         "acme%power",
                         "acme_power"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eqops_error e = EQOPS_ERROR_INIT;
        eqops_pg_tenant *t = NULL;
        assert_int_equal(eqops_pg_tenant_create(&t, pg, bad[i], NULL, &e), EQOPS_EINVAL);
        assert_null(t);
        assert_string_equal(e.field, "name");
        assert_null(strchr(e.message, '\n'));
        assert_int_equal(eqops_pg_tenant_drop(pg, bad[i], bad[i], &e), EQOPS_EINVAL);
    }
    /* settings: name rule, control characters */
    const char *bad_settings[][2] = {{"statement_timeout", NULL},
                                     {"x; DROP TABLE y=1", NULL},
                                     {"=1", NULL},
                                     {"a..b=1", NULL},
                                     {"search_path=\x01", NULL}};
    for (size_t i = 0; i < sizeof(bad_settings) / sizeof(bad_settings[0]); i++) {
        eqops_pg_tenant_options o = EQOPS_PG_TENANT_OPTIONS_INIT;
        o.settings = bad_settings[i];
        eqops_error e = EQOPS_ERROR_INIT;
        eqops_pg_tenant *t = NULL;
        assert_int_equal(eqops_pg_tenant_create(&t, pg, "settings-test", &o, &e), EQOPS_EINVAL);
        assert_string_equal(e.field, "settings[0]");
    }
    /* a value with quotes reaches the server as a literal */
    eqops_pg_tenant_options o = EQOPS_PG_TENANT_OPTIONS_INIT;
    const char *quoted[] = {"application_name=it's \"quoted\"; DROP TABLE sites", NULL};
    o.settings = quoted;
    eqops_pg_tenant *t = create(pg, "quoted-value", &o);
    PGconn *c = tenant_conn(t, NULL);
    PGresult *r = PQexec(c, "SELECT current_setting('application_name'), count(*) FROM sites");
    assert_string_equal(PQgetvalue(r, 0, 0), "it's \"quoted\"; DROP TABLE sites");
    PQclear(r);
    PQfinish(c);
    eqops_pg_tenant_free(t);
    drop(pg, "quoted-value");
    eqops_pg_free(pg);
}

/* ---- objects that are not ours --------------------------------------------------------------- */

static void test_foreign_objects(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_pg *pg = connect_admin(NULL);
    super_sql(NULL, "DROP DATABASE IF EXISTS ct_not_ours");
    super_sql(NULL, "CREATE DATABASE ct_not_ours");
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_pg_tenant *t = NULL;
    /* the role is created, the database refused: nothing of someone else's is touched */
    assert_int_equal(eqops_pg_tenant_create(&t, pg, "not-ours", NULL, &e), EQOPS_EEXISTS);
    assert_non_null(strstr(e.message, "not an eqops tenant database"));
    assert_int_equal(eqops_pg_tenant_drop(pg, "not-ours", "not-ours", &e), EQOPS_EEXISTS);
    assert_string_equal(super_sql(NULL, "SELECT count(*) FROM pg_database WHERE datname = "
                                        "'ct_not_ours'"),
                        "1");
    super_sql(NULL, "DROP DATABASE ct_not_ours");
    drop(pg, "not-ours"); /* the role that create made */
    /* made by the admin by hand (open, no comment): not adopted either */
    admin_sql(NULL, "CREATE DATABASE ct_by_hand");
    assert_int_equal(eqops_pg_tenant_create(&t, pg, "by-hand", NULL, &e), EQOPS_EEXISTS);
    assert_int_equal(eqops_pg_tenant_drop(pg, "by-hand", "by-hand", &e), EQOPS_EEXISTS);
    assert_string_equal(admin_sql(NULL, "SELECT count(*) FROM pg_database WHERE datname = "
                                        "'ct_by_hand'"),
                        "1");
    admin_sql(NULL, "DROP DATABASE ct_by_hand");
    super_sql(NULL, "DROP ROLE IF EXISTS ct_squatter");
    super_sql(NULL, "CREATE ROLE ct_squatter LOGIN");
    assert_int_equal(eqops_pg_tenant_create(&t, pg, "squatter", NULL, &e), EQOPS_EEXISTS);
    assert_non_null(strstr(e.message, "not an eqops tenant role"));
    super_sql(NULL, "DROP ROLE ct_squatter");
    eqops_error_clear(&e);
    eqops_pg_free(pg);
}

/* ---- a create that stopped half-way is finished by the next one ------------------------------ */

static void test_resume_create(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_pg *pg = connect_admin(NULL);
    eqops_pg_tenant_options o = EQOPS_PG_TENANT_OPTIONS_INIT;
    const char *bad[] = {"statement_timeout=not-a-duration", NULL};
    o.settings = bad;
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_pg_tenant *t = NULL;
    /* the server refuses the setting after the database was cloned */
    assert_int_equal(eqops_pg_tenant_create(&t, pg, "half-made", &o, &e), EQOPS_EINVAL);
    assert_string_equal(e.reason, "22023");
    /* no one can connect to the half-made database, the registry shows it as creating */
    assert_string_equal(super_sql(NULL, "SELECT datallowconn FROM pg_database WHERE datname = "
                                        "'ct_half_made'"),
                        "f");
    char *list = NULL;
    assert_int_equal(eqops_pg_tenant_list(&list, pg, 0, &e), 0);
    assert_non_null(strstr(list, "\"state\": \"creating\""));
    eqops_free(list);
    /* the re-run finishes it */
    const char *good[] = {"statement_timeout=30s", NULL};
    o.settings = good;
    t = create(pg, "half-made", &o);
    assert_false(eqops_pg_tenant_created(t));     /* the earlier run created it */
    assert_non_null(eqops_pg_tenant_password(t)); /* no one could know the first password? */
    eqops_pg_tenant_free(t);
    assert_int_equal(eqops_pg_tenant_show(&t, pg, "half-made", &e), 0);
    assert_string_equal(eqops_pg_tenant_state(t), "ready");
    eqops_pg_tenant_free(t);
    drop(pg, "half-made");
    eqops_pg_free(pg);
}

/* ---- concurrency ------------------------------------------------------------------------------
 */

typedef struct create_job {
    char name[32];
    int rc;
    char message[256];
} create_job;

static void *create_thread(void *arg)
{
    create_job *j = arg;
    eqops_pg *pg = connect_admin(NULL);
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_pg_tenant *t = NULL;
    j->rc = eqops_pg_tenant_create(&t, pg, j->name, NULL, &e);
    snprintf(j->message, sizeof(j->message), "%s", e.message);
    eqops_pg_tenant_free(t);
    eqops_error_clear(&e);
    eqops_pg_free(pg);
    return NULL;
}

static void test_concurrent_creates(void **state)
{
    (void)state;
    NEED_ENV();
    enum { N = 6 };
    pthread_t th[N];
    create_job jobs[N];
    for (int i = 0; i < N; i++) {
        /* two threads race for the same tenant too */
        snprintf(jobs[i].name, sizeof(jobs[i].name), "conc-%d", i < N - 1 ? i : 0);
        assert_int_equal(pthread_create(&th[i], NULL, create_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].rc != 0)
            fail_msg("create %s: %s", jobs[i].name, jobs[i].message);
    }
    eqops_pg *pg = connect_admin(NULL);
    for (int i = 0; i < N - 1; i++) {
        eqops_pg_tenant *t = NULL;
        eqops_error e = EQOPS_ERROR_INIT;
        assert_int_equal(eqops_pg_tenant_show(&t, pg, jobs[i].name, &e), 0);
        assert_string_equal(eqops_pg_tenant_state(t), "ready");
        assert_int_equal(eqops_pg_tenant_schema_version(t), 4);
        eqops_pg_tenant_free(t);
        drop(pg, jobs[i].name);
    }
    eqops_pg_free(pg);
}

/* ---- drop with sessions ------------------------------------------------------------------------
 */

static void test_drop_with_sessions(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_pg *pg = connect_admin(NULL);
    eqops_pg_tenant *t = create(pg, "busy", NULL);
    PGconn *idle = tenant_conn(t, NULL), *in_txn = tenant_conn(t, NULL);
    assert_int_equal(PQstatus(idle), CONNECTION_OK);
    assert_true(exec_ok(in_txn, "BEGIN"));
    assert_true(exec_ok(in_txn, "LOCK TABLE sites IN ACCESS EXCLUSIVE MODE"));
    drop(pg, "busy");
    assert_false(exec_ok(idle, "SELECT 1")); /* terminated */
    assert_string_equal(
        super_sql(NULL, "SELECT count(*) FROM pg_database WHERE datname = 'ct_busy'"), "0");
    PQfinish(idle);
    PQfinish(in_txn);
    eqops_pg_tenant_free(t);
    eqops_pg_free(pg);
}

/* ---- no secrets in the server log -------------------------------------------------------------
 */

static void test_password_not_logged(void **state)
{
    (void)state;
    NEED_ENV();
    super_sql(NULL, "ALTER SYSTEM SET log_statement = 'all'");
    super_sql(NULL, "SELECT pg_reload_conf()");
    usleep(300000);
    eqops_pg *pg = connect_admin(NULL);
    eqops_pg_tenant_options o = EQOPS_PG_TENANT_OPTIONS_INIT;
    o.password = "a-chosen-password-4c1e6f";
    eqops_pg_tenant *t = create(pg, "logged", &o), *rot = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_pg_tenant_rotate(&rot, pg, "logged", &e), 0);
    char rotated[64];
    snprintf(rotated, sizeof(rotated), "%s", eqops_pg_tenant_password(rot));
    drop(pg, "logged");
    eqops_pg_tenant_free(t);
    eqops_pg_tenant_free(rot);
    eqops_pg_free(pg);
    super_sql(NULL, "ALTER SYSTEM RESET log_statement");
    super_sql(NULL, "SELECT pg_reload_conf()");
    char *log = NULL;
    size_t len = 0;
    assert_int_equal(eqops__read_file(&log, &len, server_log, 1u << 30, NULL), 0);
    assert_non_null(strstr(log, "CREATE ROLE \"ct_logged\"")); /* statements were logged */
    assert_non_null(strstr(log, "SCRAM-SHA-256$"));            /* as verifiers */
    assert_null(strstr(log, "a-chosen-password-4c1e6f"));
    assert_null(strstr(log, rotated));
    eqops__free(log);
}

/* ---- fleet migrations ---------------------------------------------------------------------------
 */

static char tmpdir[256];

/* A copy of the example migrations, V1..V<upto>, in a fresh directory. */
static const char *migrations_upto(int upto)
{
    char cmd[1024];
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/eqops-pg-test-%d", (int)getpid());
    snprintf(cmd, sizeof(cmd),
             "rm -rf %s && mkdir -p %s && for f in %s/V*.sql; do "
             "v=$(basename $f | sed 's/^V\\([0-9]*\\)__.*/\\1/'); "
             "[ $v -le %d ] && cp $f %s/; done; true",
             tmpdir, tmpdir, MIGRATIONS, upto, tmpdir);
    assert_int_equal(system(cmd), 0);
    return tmpdir;
}

static void add_migration(const char *name, const char *sql)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(sql, f);
    fclose(f);
}

static json_t *migrate(eqops_pg *pg, eqops_pg_migrate_options *o, int want_rc, size_t *failed)
{
    char *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops_pg_migrate(&out, failed, pg, o, &e);
    if (rc != want_rc)
        fail_msg("migrate: %d %s", rc, e.message);
    json_t *doc = out ? json_loads(out, 0, NULL) : NULL;
    eqops_free(out);
    eqops_error_clear(&e);
    return doc;
}

static json_t *result_of(json_t *doc, const char *db)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "databases"), i, r)
    {
        if (!strcmp(json_string_value(json_object_get(r, "database")), db))
            return r;
    }
    fail_msg("no result for %s", db);
    return NULL;
}

static const char *status_of(json_t *doc, const char *db)
{
    return json_string_value(json_object_get(result_of(doc, db), "status"));
}

static int version_of(const char *db)
{
    return atoi(super_sql(db, "SELECT coalesce(max(version), 0) FROM eqops.schema_history"));
}

static void test_fleet_migrate(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_pg *pg = connect_admin("ctpl_fleet");
    super_sql(NULL, "DROP DATABASE IF EXISTS ctpl_fleet");
    eqops_pg_tenant_options to = EQOPS_PG_TENANT_OPTIONS_INIT;
    to.migrations_dir = migrations_upto(2);
    /* no template yet: the first tenant is migrated from empty (the fallback) */
    eqops_pg_tenant *t = create(pg, "fleet-a", &to);
    assert_int_equal(eqops_pg_tenant_schema_version(t), 2);
    eqops_pg_tenant_free(t);
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_pg_template_ensure(pg, tmpdir, &e), 0);
    const char *names[] = {"fleet-b", "fleet-c", "fleet-d", "fleet-e"};
    for (size_t i = 0; i < 4; i++)
        eqops_pg_tenant_free(create(pg, names[i], NULL));

    /* dry run: a plan, nothing applied */
    migrations_upto(4);
    eqops_pg_migrate_options o = EQOPS_PG_MIGRATE_OPTIONS_INIT;
    o.migrations_dir = tmpdir;
    o.dry_run = 1;
    size_t failed = 9;
    json_t *doc = migrate(pg, &o, 0, &failed);
    assert_int_equal(failed, 0);
    assert_string_equal(status_of(doc, "ct_fleet_c"), "planned");
    assert_int_equal(json_array_size(json_object_get(result_of(doc, "ct_fleet_c"), "applied")), 2);
    json_decref(doc);
    assert_int_equal(version_of("ct_fleet_c"), 2);

    /* a hand-made table in fleet-c makes V3 fail there: c stays at 2, nothing of V3 left */
    super_sql("ct_fleet_c", "CREATE TABLE meter_audit (x int)");
    o.dry_run = 0;
    o.concurrency = 1;
    doc = migrate(pg, &o, 0, &failed);
    assert_int_equal(failed, 1);
    assert_string_equal(status_of(doc, "ctpl_fleet"), "ok");
    assert_string_equal(status_of(doc, "ct_fleet_a"), "ok");
    assert_string_equal(status_of(doc, "ct_fleet_b"), "ok");
    assert_string_equal(status_of(doc, "ct_fleet_c"), "failed");
    assert_string_equal(status_of(doc, "ct_fleet_d"), "skipped"); /* stop on error */
    assert_non_null(
        strstr(json_string_value(json_object_get(result_of(doc, "ct_fleet_c"), "error")),
               "V3__audit.sql"));
    json_decref(doc);
    assert_int_equal(version_of("ct_fleet_c"), 2);
    assert_string_equal(super_sql("ct_fleet_c", "SELECT count(*) FROM pg_proc WHERE proname = "
                                                "'meter_audit_row'"),
                        "0");
    assert_int_equal(version_of("ct_fleet_d"), 2);

    /* continue on error: the rest are migrated, c still fails */
    o.continue_on_error = 1;
    o.concurrency = 3;
    doc = migrate(pg, &o, 0, &failed);
    assert_int_equal(failed, 1);
    assert_string_equal(status_of(doc, "ct_fleet_d"), "ok");
    assert_string_equal(status_of(doc, "ct_fleet_e"), "ok");
    json_decref(doc);
    assert_int_equal(version_of("ct_fleet_e"), 4);

    /* fixed by hand, the re-run finishes c; everyone at 4, the new index is there */
    super_sql("ct_fleet_c", "DROP TABLE meter_audit");
    doc = migrate(pg, &o, 0, &failed);
    assert_int_equal(failed, 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "ok")), 6);
    json_decref(doc);
    const char *dbs[] = {"ctpl_fleet", "ct_fleet_a", "ct_fleet_b",
                         "ct_fleet_c", "ct_fleet_d", "ct_fleet_e"};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(version_of(dbs[i]), 4);
        assert_string_equal(super_sql(dbs[i], "SELECT count(*) FROM pg_indexes WHERE indexname "
                                              "= 'readings_at'"),
                            "1");
    }
    /* the tenant role can use the tables that came with the new migrations */
    eqops_pg_tenant *rot = NULL;
    assert_int_equal(eqops_pg_tenant_rotate(&rot, pg, "fleet-c", &e), 0);
    PGconn *c = tenant_conn(rot, NULL);
    assert_true(exec_ok(c, "SELECT count(*) FROM meter_audit"));
    PQfinish(c);
    eqops_pg_tenant_free(rot);

    /* nothing to do: no-op run */
    doc = migrate(pg, &o, 0, &failed);
    assert_int_equal(json_array_size(json_object_get(result_of(doc, "ct_fleet_e"), "applied")), 0);
    json_decref(doc);

    /* canary: a failing canary stops the run before the rest */
    add_migration("V5__canary.sql", "CREATE TABLE canary_marker (x int);");
    super_sql("ct_fleet_a", "CREATE TABLE canary_marker (y int)");
    o.canary = 1;
    o.skip_template = 1;
    doc = migrate(pg, &o, 0, &failed);
    assert_int_equal(failed, 1);
    assert_string_equal(status_of(doc, "ct_fleet_a"), "failed");
    assert_string_equal(status_of(doc, "ct_fleet_b"), "skipped");
    assert_string_equal(status_of(doc, "ct_fleet_e"), "skipped");
    json_decref(doc);
    assert_int_equal(version_of("ctpl_fleet"), 4); /* skip_template */
    super_sql("ct_fleet_a", "DROP TABLE canary_marker");

    /* only named tenants; unknown names are refused */
    const char *only[] = {"fleet-b", NULL};
    o.tenants = only;
    o.canary = 0;
    doc = migrate(pg, &o, 0, &failed);
    assert_int_equal(json_array_size(json_object_get(doc, "databases")), 1);
    json_decref(doc);
    assert_int_equal(version_of("ct_fleet_b"), 5);
    const char *unknown[] = {"fleet-zz", NULL};
    o.tenants = unknown;
    assert_null(migrate(pg, &o, EQOPS_ENOTFOUND, &failed));
    o.tenants = NULL;
    o.skip_template = 0;
    json_decref(migrate(pg, &o, 0, &failed));
    assert_int_equal(failed, 0);

    /* validate: an edited applied migration and a missing one */
    add_migration("V2__readings.sql", "-- edited\nCREATE TABLE readings (x int);\n");
    char path[512];
    snprintf(path, sizeof(path), "%s/V1__meters.sql", tmpdir);
    assert_int_equal(unlink(path), 0);
    char *out = NULL;
    size_t problems = 0;
    assert_int_equal(eqops_pg_validate(&out, &problems, pg, tmpdir, NULL, &e), 0);
    assert_int_equal(problems, 12); /* six databases, one edited and one missing each */
    assert_non_null(strstr(out, "V2__readings.sql"));
    eqops_free(out);
    assert_int_equal(eqops_pg_validate(&out, &problems, pg, tmpdir, "ct_fleet_b", &e), 0);
    assert_int_equal(problems, 2);
    eqops_free(out);
    assert_int_equal(eqops_pg_validate(&out, &problems, pg, tmpdir, "postgres", &e),
                     EQOPS_ENOTFOUND);
    /* and migrate refuses to run on top of them, per database */
    doc = migrate(pg, &o, 0, &failed);
    assert_int_equal(failed, 1); /* the template fails first; tenants are not touched */
    assert_non_null(
        strstr(json_string_value(json_object_get(result_of(doc, "ctpl_fleet"), "error")),
               "applied but has no file"));
    assert_string_equal(status_of(doc, "ct_fleet_a"), "skipped");
    json_decref(doc);

    /* drift: the fleet is the same; a hand change is found with its object */
    migrations_upto(4);
    add_migration("V5__canary.sql", "CREATE TABLE canary_marker (x int);");
    size_t drifted = 9;
    assert_int_equal(eqops_pg_drift(&out, &drifted, pg, NULL, &e), 0);
    assert_int_equal(drifted, 0);
    eqops_free(out);
    super_sql("ct_fleet_d", "ALTER TABLE sites ADD COLUMN hand_made text");
    super_sql("ct_fleet_e", "DROP VIEW daily_energy");
    super_sql("ct_fleet_b", "ALTER TABLE meters ALTER COLUMN serial TYPE varchar(64)");
    assert_int_equal(eqops_pg_drift(&out, &drifted, pg, NULL, &e), 0);
    assert_int_equal(drifted, 3);
    assert_non_null(strstr(out, "column public.sites.hand_made: text"));
    assert_non_null(strstr(out, "view public.daily_energy"));
    assert_non_null(strstr(out, "column public.meters.serial: text not null -> character "
                                "varying(64) not null"));
    eqops_free(out);
    char *fp1 = NULL, *fp2 = NULL;
    assert_int_equal(eqops_pg_fingerprint(&fp1, pg, "ct_fleet_a", &e), 0);
    assert_int_equal(eqops_pg_fingerprint(&fp2, pg, "ctpl_fleet", &e), 0);
    assert_string_equal(fp1, fp2);
    assert_int_equal(strlen(fp1), 64);
    eqops_free(fp1);
    eqops_free(fp2);

    for (size_t i = 0; i < 4; i++)
        drop(pg, names[i]);
    drop(pg, "fleet-a");
    eqops_error_clear(&e);
    eqops_pg_free(pg);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    assert_int_equal(system(cmd), 0);
}

/* ---- locks with deadlines, progress ------------------------------------------------------------
 */

static int stop_after_two(const char *db, const char *status, size_t done, size_t total,
                          void *payload)
{
    (void)db;
    (void)status;
    (void)total;
    *(size_t *)payload = done;
    return done >= 2;
}

static void test_locks_and_progress(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_pg *pg = connect_admin(NULL);
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_pg_template_ensure(pg, MIGRATIONS, &e), 0);
    const char *names[] = {"lock-a", "lock-b", "lock-c", "lock-d"};
    for (size_t i = 0; i < 4; i++)
        eqops_pg_tenant_free(create(pg, names[i], NULL));

    /* another run holds the fleet lock: we give up after lock_wait, naming the holder */
    PGconn *holder = NULL;
    assert_int_equal(eqops__pg_lock_open(pg, &holder, PG_LOCK_FLEET, false, 100, "test", &e), 0);
    eqops_pg_migrate_options o = EQOPS_PG_MIGRATE_OPTIONS_INIT;
    o.migrations_dir = MIGRATIONS;
    o.lock_wait_ms = 300;
    char *out = NULL;
    assert_int_equal(eqops_pg_migrate(&out, NULL, pg, &o, &e), EQOPS_EBUSY);
    assert_non_null(strstr(e.message, "held by backend"));
    assert_null(out);
    PQfinish(holder);

    /* a database's own migration lock held: that database fails after lock_wait, the rest
     * go on */
    PGconn *c = NULL;
    assert_int_equal(eqops__pg_connect_db(pg, &c, "ct_lock_b", &e), 0);
    assert_int_equal(eqops__pg_try_lock(c, PG_LOCK_MIGRATE, false, 0, "test", &e), 0);
    o.continue_on_error = 1;
    size_t failed = 0;
    json_t *doc = migrate(pg, &o, 0, &failed);
    assert_int_equal(failed, 1);
    assert_string_equal(status_of(doc, "ct_lock_b"), "failed");
    assert_string_equal(status_of(doc, "ct_lock_c"), "ok");
    json_decref(doc);
    PQfinish(c);

    /* the progress callback sees every database and can stop the run */
    size_t seen = 0;
    o.progress = stop_after_two;
    o.payload = &seen;
    o.concurrency = 1;
    assert_int_equal(eqops_pg_migrate(&out, &failed, pg, &o, &e), EQOPS_ECANCELED);
    assert_non_null(out); /* the results so far */
    doc = json_loads(out, 0, NULL);
    assert_true(json_integer_value(json_object_get(doc, "skipped")) >= 2);
    json_decref(doc);
    eqops_free(out);
    assert_true(seen >= 2 && seen <= 3); /* one more may finish while the callback runs */

    for (size_t i = 0; i < 4; i++)
        drop(pg, names[i]);
    eqops_error_clear(&e);
    eqops_pg_free(pg);
}

/* ---- a busy tenant, a failed concurrent index ------------------------------------------ */

static void test_busy_tenant_and_concurrent_index(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_pg *pg = connect_admin(NULL);
    eqops_pg_tenant_options to = EQOPS_PG_TENANT_OPTIONS_INIT;
    to.connection_limit = 1;
    eqops_pg_tenant *t = create(pg, "nt-a", &to);
    /* the tenant uses its one connection: the admin still gets in */
    PGconn *c = tenant_conn(t, NULL);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    assert_true(exec_ok(c, "INSERT INTO sites (name, region) VALUES ('a', 'eu'), ('b', 'eu')"));
    eqops_pg_tenant *shown = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_pg_tenant_show(&shown, pg, "nt-a", &e), 0);
    assert_int_equal(eqops_pg_tenant_schema_version(shown), 4);
    eqops_pg_tenant_free(shown);

    /* a unique index built concurrently fails on the duplicates, leaving an INVALID index */
    const char *dir = migrations_upto(4);
    add_migration("V5__unique_region.sql", "-- eqops:no-transaction\n"
                                           "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "
                                           "sites_region ON sites (region);\n");
    eqops_pg_migrate_options o = EQOPS_PG_MIGRATE_OPTIONS_INIT;
    o.migrations_dir = dir;
    o.skip_template = 1;
    const char *only[] = {"nt-a", NULL};
    o.tenants = only;
    size_t failed = 0;
    json_t *doc = migrate(pg, &o, 0, &failed);
    assert_int_equal(failed, 1);
    json_decref(doc);
    assert_int_equal(version_of("ct_nt_a"), 4);
    /* the duplicates gone, IF NOT EXISTS would skip the invalid index: it is reported */
    assert_true(exec_ok(c, "DELETE FROM sites WHERE name = 'b'"));
    doc = migrate(pg, &o, 0, &failed);
    assert_int_equal(failed, 1);
    assert_non_null(strstr(json_string_value(json_object_get(result_of(doc, "ct_nt_a"), "error")),
                           "invalid index public.sites_region"));
    json_decref(doc);
    assert_int_equal(version_of("ct_nt_a"), 4);
    admin_sql("ct_nt_a", "DROP INDEX sites_region");
    doc = migrate(pg, &o, 0, &failed);
    assert_int_equal(failed, 0);
    json_decref(doc);
    assert_int_equal(version_of("ct_nt_a"), 5);
    /* a tenant named twice is refused */
    const char *twice[] = {"nt-a", "nt-a", NULL};
    o.tenants = twice;
    assert_null(migrate(pg, &o, EQOPS_EINVAL, &failed));
    PQfinish(c);
    eqops_pg_tenant_free(t);
    drop(pg, "nt-a");
    eqops_pg_free(pg);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    assert_int_equal(system(cmd), 0);
}

/* ---- connections --------------------------------------------------------------------------------
 */

static void test_connect_errors(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_pg *pg = NULL;
    eqops_pg_options o = EQOPS_PG_OPTIONS_INIT;
    o.max_retries = 1;
    /* a wrong password: EAUTH, and the password is not in the message */
    char dsn[512];
    snprintf(dsn, sizeof(dsn), "%s password=wrong-secret-77", admin_dsn);
    assert_int_equal(eqops_pg_new(&pg, dsn, &o, &e), EQOPS_EAUTH);
    assert_null(strstr(e.message, "wrong-secret-77"));
    /* a broken conninfo does not echo its text */
    assert_int_equal(eqops_pg_new(&pg, "host=x password=hunter2 =", &o, &e), EQOPS_EINVAL);
    assert_null(strstr(e.message, "hunter2"));
    assert_string_equal(e.field, "conninfo");
    /* nothing listens: EUNAVAILABLE once the failover wait is over */
    o.failover_wait_ms = 1000;
    assert_int_equal(eqops_pg_new(&pg, "host=127.0.0.1 port=1 connect_timeout=2", &o, &e),
                     EQOPS_EUNAVAILABLE);
    /* a multi-host list: the dead host is skipped */
    const char *port = getenv("EQOPS_TEST_PG_PORT");
    snprintf(dsn, sizeof(dsn), "%s host=127.0.0.1,127.0.0.1 port=1,%s", admin_dsn,
             port ? port : "5432");
    assert_int_equal(eqops_pg_new(&pg, dsn, &o, &e), 0);
    eqops_pg_free(pg);
    /* bad options */
    o.db_prefix = "Tenant";
    assert_int_equal(eqops_pg_new(&pg, admin_dsn, &o, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "opts.db_prefix");
    o.db_prefix = "x_";
    o.template_db = "x_template";
    assert_int_equal(eqops_pg_new(&pg, admin_dsn, &o, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
}

/* The per-call options of a connected handle: NULL is read as the defaults, versions 1 to the
 * current one are read, 0 and the next are refused naming opts.version (nothing is changed). */
static void test_call_options_versions(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_pg *pg = connect_admin(NULL);
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_pg_tenant *t = NULL;
    eqops_pg_tenant_options to = EQOPS_PG_TENANT_OPTIONS_INIT;
    to.connection_limit = -2;
    for (unsigned v = 1; v <= EQOPS_PG_TENANT_OPTIONS_VERSION; v++) {
        to.version = v;
        assert_int_equal(eqops_pg_tenant_create(&t, pg, "opts-versions", &to, &e), EQOPS_EINVAL);
        assert_string_equal(e.field, "opts.connection_limit");
    }
    for (unsigned bad = 0; bad <= 1; bad++) {
        to.version = bad ? EQOPS_PG_TENANT_OPTIONS_VERSION + 1 : 0;
        assert_int_equal(eqops_pg_tenant_create(&t, pg, "opts-versions", &to, &e), EQOPS_EINVAL);
        assert_string_equal(e.field, "opts.version");
    }
    assert_null(t);
    char *out = NULL;
    /* NULL: the defaults, which lack the one required field */
    assert_int_equal(eqops_pg_migrate(&out, NULL, pg, NULL, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "opts.migrations_dir");
    eqops_pg_migrate_options mo = EQOPS_PG_MIGRATE_OPTIONS_INIT;
    mo.migrations_dir = "/nonexistent";
    mo.concurrency = 65;
    for (unsigned v = 1; v <= EQOPS_PG_MIGRATE_OPTIONS_VERSION; v++) {
        mo.version = v;
        assert_int_equal(eqops_pg_migrate(&out, NULL, pg, &mo, &e), EQOPS_EINVAL);
        assert_string_equal(e.field, "opts.concurrency");
    }
    for (unsigned bad = 0; bad <= 1; bad++) {
        mo.version = bad ? EQOPS_PG_MIGRATE_OPTIONS_VERSION + 1 : 0;
        assert_int_equal(eqops_pg_migrate(&out, NULL, pg, &mo, &e), EQOPS_EINVAL);
        assert_string_equal(e.field, "opts.version");
    }
    assert_null(out);
    eqops_error_clear(&e);
    eqops_pg_free(pg);
}

int main(void)
{
    eqops_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_errors),
        cmocka_unit_test(test_call_options_versions),
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_isolation),
        cmocka_unit_test(test_hostile_names),
        cmocka_unit_test(test_foreign_objects),
        cmocka_unit_test(test_resume_create),
        cmocka_unit_test(test_concurrent_creates),
        cmocka_unit_test(test_drop_with_sessions),
        cmocka_unit_test(test_password_not_logged),
        cmocka_unit_test(test_fleet_migrate),
        cmocka_unit_test(test_locks_and_progress),
        cmocka_unit_test(test_busy_tenant_and_concurrent_index),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    eqops_cleanup();
    return rc;
}
