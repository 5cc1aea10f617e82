/*
 * test_tenant.c - the tenant module through its C API against the real services of
 * scripts/testenv: two control planes (contexts eqops-k8s and eqops-k8s2), PostgreSQL and
 * moto. Run plain, under ASan+UBSan and under valgrind by the integration tier, so the worker
 * threads, pools and progress queue are checked against real answers. The Python suite
 * (tests/integration/test_tenant.py) covers kills, races and isolation through the CLI.
 *
 * Needs EQOPS_TEST_K8S_CONTEXT_KUBECONFIG, EQOPS_TEST_K8S2_CONTEXT_KUBECONFIG,
 * EQOPS_TEST_PG_ADMIN_DSN and EQOPS_TEST_AWS_ENDPOINT; without them the tests skip (and fail
 * with CI=true). Tenants are named "ct-*".
 */
#include <eqops.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testserver.h"

static char kubeconfig[2048], dir[64], tiers[128];
static const char *dsn;

static const char TIERS[] = "{\"tiers\": {\"small\": {\"quota\": {\"pods\": \"10\", "
                            "\"requests.cpu\": \"2\"}, \"limits\": {\"default\": {\"cpu\": "
                            "\"500m\", \"memory\": \"256Mi\"}}, \"connection_limit\": 5}}}";

static int setup(void **state)
{
    (void)state;
    const char *kc1 = getenv("EQOPS_TEST_K8S_CONTEXT_KUBECONFIG");
    const char *kc2 = getenv("EQOPS_TEST_K8S2_CONTEXT_KUBECONFIG");
    dsn = getenv("EQOPS_TEST_PG_ADMIN_DSN");
    if (!kc1 || !kc2 || !dsn || !getenv("EQOPS_TEST_AWS_ENDPOINT")) {
        const char *ci = getenv("CI");
        fprintf(stderr, "test environment not running: scripts/testenv up postgres k8s k8s2 "
                        "moto; eval \"$(scripts/testenv env)\"\n");
        dsn = NULL;
        return ci && !strcmp(ci, "true") ? -1 : 0;
    }
    /* two regions in two files: a KUBECONFIG list, as kubectl takes it (the option is one path) */
    snprintf(kubeconfig, sizeof(kubeconfig), "%s:%s", kc1, kc2);
    setenv("KUBECONFIG", kubeconfig, 1);
    snprintf(dir, sizeof(dir), "/tmp/eqops-tenant-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(tiers, sizeof(tiers), "%s/tiers.json", dir);
    FILE *f = fopen(tiers, "w");
    if (f == NULL)
        return -1;
    fputs(TIERS, f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_rmtree(dir);
    return 0;
}

#define NEED_ENV()                                                                                 \
    do {                                                                                           \
        if (dsn == NULL)                                                                           \
            skip();                                                                                \
    } while (0)

static eqops_tenant_env *env_new(void)
{
    eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
    o.tiers_file = tiers;
    o.pg_conninfo = dsn;
    o.concurrency = 2;
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_tenant_env *env = NULL;
    if (eqops_tenant_env_new(&env, &o, &e) != 0)
        fail_msg("env: %s", e.message);
    return env;
}

static char *spec_text(const char *name, bool aws)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"name\": \"%s\", \"tier\": \"small\", \"clusters\": [{\"name\": \"a\", "
             "\"context\": \"eqops-k8s\"}, {\"name\": \"b\", \"context\": \"eqops-k8s2\"}]%s}",
             name, aws ? ", \"secrets\": {\"aws\": {\"name\": \"eqops/ct/secret\"}}" : "");
    return buf;
}

static json_t *parsed(char *out)
{
    json_t *doc = json_loads(out, 0, NULL);
    eqops_free(out);
    assert_non_null(doc);
    return doc;
}

static int64_t num(const json_t *doc, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(doc, key));
}

typedef struct progress_seen {
    size_t calls, last_done, starts;
    bool increasing;
} progress_seen;

static int progress(const char *tenant, const char *cluster, const char *step, const char *status,
                    size_t done, size_t total, void *payload)
{
    progress_seen *p = payload;
    assert_string_equal(tenant, "ct-life");
    assert_non_null(cluster);
    assert_non_null(step);
    assert_true(done <= total);
    if (done < p->last_done)
        p->increasing = false;
    p->last_done = done;
    p->calls++;
    p->starts += strcmp(status, "start") == 0;
    return 0;
}

static int stop_at_third(const char *tenant, const char *cluster, const char *step,
                         const char *status, size_t done, size_t total, void *payload)
{
    size_t *n = payload;
    return ++*n >= 3;
}

static void test_lifecycle(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_tenant_env *env = env_new();
    eqops_error e = EQOPS_ERROR_INIT;
    char *out = NULL;
    const char *spec = spec_text("ct-life", true);
    progress_seen seen = {0, 0, 0, true};
    eqops_tenant_run_options ro = EQOPS_TENANT_RUN_OPTIONS_INIT;
    ro.progress = progress;
    ro.payload = &seen;

    /* plan: everything to create, nothing changed */
    assert_int_equal(eqops_tenant_plan(&out, env, spec, NULL, &e), 0);
    json_t *doc = parsed(out);
    assert_true(num(doc, "changed") >= 20);
    json_decref(doc);

    assert_int_equal(eqops_tenant_apply(&out, env, spec, &ro, &e), 0);
    doc = parsed(out);
    assert_true(json_is_true(json_object_get(doc, "ok")));
    assert_true(num(doc, "changed") >= 20);
    assert_true(seen.increasing);
    assert_true(seen.starts > 20 && seen.calls == 2 * seen.starts);
    json_decref(doc);

    /* idempotent */
    assert_int_equal(eqops_tenant_apply(&out, env, spec, NULL, &e), 0);
    doc = parsed(out);
    assert_int_equal(num(doc, "changed"), 0);
    json_decref(doc);
    size_t drifted = 99;
    assert_int_equal(eqops_tenant_drift(&out, &drifted, env, spec, NULL, &e), 0);
    eqops_free(out);
    assert_int_equal(drifted, 0);

    assert_int_equal(eqops_tenant_status(&out, env, spec, &e), 0);
    doc = parsed(out);
    assert_string_equal(json_string_value(json_object_get(doc, "health")), "healthy");
    json_decref(doc);

    const char *contexts[] = {"eqops-k8s", "eqops-k8s2", NULL};
    assert_int_equal(eqops_tenant_list(&out, env, contexts, &e), 0);
    assert_non_null(strstr(out, "\"ct-life\""));
    eqops_free(out);

    /* a stopped run is ECANCELED with its result so far, and the next run finishes */
    size_t calls = 0;
    eqops_tenant_run_options stop = EQOPS_TENANT_RUN_OPTIONS_INIT;
    stop.progress = stop_at_third;
    stop.payload = &calls;
    stop.confirm = "ct-life";
    assert_int_equal(eqops_tenant_destroy(&out, env, spec, &stop, &e), EQOPS_ECANCELED);
    assert_non_null(out);
    eqops_free(out);
    eqops_error_clear(&e);

    /* destroy: confirmation first, then everything goes, then again finds nothing */
    eqops_tenant_run_options none = EQOPS_TENANT_RUN_OPTIONS_INIT;
    out = (char *)1;
    assert_int_equal(eqops_tenant_destroy(&out, env, spec, &none, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_string_equal(e.field, "confirm");
    eqops_error_clear(&e);
    none.confirm = "ct-life";
    assert_int_equal(eqops_tenant_destroy(&out, env, spec, &none, &e), 0);
    eqops_free(out);
    assert_int_equal(eqops_tenant_destroy(&out, env, spec, &none, &e), 0);
    doc = parsed(out);
    assert_int_equal(num(doc, "changed"), 0);
    json_decref(doc);
    assert_int_equal(eqops_tenant_status(&out, env, spec, &e), 0);
    doc = parsed(out);
    assert_string_equal(json_string_value(json_object_get(doc, "health")), "absent");
    json_decref(doc);
    eqops_tenant_env_free(env);
}

static void test_fleet(void **state)
{
    (void)state;
    NEED_ENV();
    char fleet[128], path[192];
    snprintf(fleet, sizeof(fleet), "%s/fleet", dir);
    assert_int_equal(mkdir(fleet, 0700), 0);
    static const char *const names[] = {"ct-fleet-a", "ct-fleet-b", "ct-fleet-c"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s.json", fleet, names[i]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(spec_text(names[i], false), f);
        fclose(f);
    }
    eqops_tenant_env *env = env_new();
    eqops_error e = EQOPS_ERROR_INIT;
    char *out = NULL;
    size_t failed = 99;
    assert_int_equal(eqops_tenant_fleet(&out, &failed, env, "apply", fleet, NULL, &e), 0);
    json_t *doc = parsed(out);
    assert_int_equal(failed, 0);
    assert_int_equal(num(doc, "ok"), 3);
    json_decref(doc);
    assert_int_equal(eqops_tenant_fleet(&out, &failed, env, "status", fleet, NULL, &e), 0);
    doc = parsed(out);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(doc, "tenants"), i, t)
    {
        assert_string_equal(json_string_value(json_object_get(t, "health")), "healthy");
    }
    json_decref(doc);
    eqops_tenant_run_options ro = EQOPS_TENANT_RUN_OPTIONS_INIT;
    ro.confirm = fleet;
    assert_int_equal(eqops_tenant_fleet(&out, &failed, env, "destroy", fleet, &ro, &e), 0);
    eqops_free(out);
    assert_int_equal(failed, 0);
    eqops_tenant_env_free(env);
}

/* A token triggered from another thread once the run is under way. */
typedef struct trigger_at {
    eqops_cancel *cancel;
    size_t events, at;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} trigger_at;

static int count_events(const char *tenant, const char *cluster, const char *step,
                        const char *status, size_t done, size_t total, void *payload)
{
    trigger_at *t = payload;
    pthread_mutex_lock(&t->mu);
    t->events++;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return 0;
}

static void *trigger_thread(void *arg)
{
    trigger_at *t = arg;
    pthread_mutex_lock(&t->mu);
    while (t->events < t->at)
        pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
    eqops_cancel_trigger(t->cancel);
    return NULL;
}

/* A fleet apply cancelled mid-way from another thread: EQOPS_ECANCELED, "fleet: cancelled";
 * the next apply finishes every tenant and a plan finds nothing left. Under ASan and
 * valgrind in the integration tier: the pools, the borrowed clients and their tokens. */
static void test_fleet_cancelled(void **state)
{
    (void)state;
    NEED_ENV();
    char fleet[128], path[192];
    snprintf(fleet, sizeof(fleet), "%s/cancel", dir);
    assert_int_equal(mkdir(fleet, 0700), 0);
    static const char *const names[] = {"ct-cx-a", "ct-cx-b", "ct-cx-c"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s.json", fleet, names[i]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(spec_text(names[i], false), f);
        fclose(f);
    }
    eqops_tenant_env *env = env_new();
    eqops_error e = EQOPS_ERROR_INIT;
    trigger_at t = {NULL, 0, 20, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};
    assert_int_equal(eqops_cancel_new(&t.cancel, &e), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, trigger_thread, &t), 0);
    eqops_tenant_run_options ro = EQOPS_TENANT_RUN_OPTIONS_INIT;
    ro.progress = count_events;
    ro.payload = &t;
    ro.cancel = t.cancel;
    char *out = NULL;
    size_t failed = 0;
    int rc = eqops_tenant_fleet(&out, &failed, env, "apply", fleet, &ro, &e);
    pthread_mutex_lock(&t.mu);
    t.events = t.at; /* the thread ends whatever happened */
    pthread_cond_signal(&t.cv);
    pthread_mutex_unlock(&t.mu);
    pthread_join(th, NULL);
    if (rc != EQOPS_ECANCELED)
        fail_msg("cancelled fleet apply: %d %s", rc, e.message);
    assert_non_null(strstr(e.message, "cancelled"));
    eqops_free(out);
    eqops_error_clear(&e);
    /* the next run finishes the job */
    assert_int_equal(eqops_tenant_fleet(&out, &failed, env, "apply", fleet, NULL, &e), 0);
    eqops_free(out);
    assert_int_equal(failed, 0);
    assert_int_equal(eqops_tenant_fleet(&out, &failed, env, "plan", fleet, NULL, &e), 0);
    json_t *doc = parsed(out);
    assert_int_equal(num(doc, "changed"), 0);
    json_decref(doc);
    ro = (eqops_tenant_run_options)EQOPS_TENANT_RUN_OPTIONS_INIT;
    ro.confirm = fleet;
    assert_int_equal(eqops_tenant_fleet(&out, &failed, env, "destroy", fleet, &ro, &e), 0);
    eqops_free(out);
    assert_int_equal(failed, 0);
    eqops_cancel_free(t.cancel);
    eqops_tenant_env_free(env);
}

int main(void)
{
    eqops_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_fleet),
        cmocka_unit_test(test_fleet_cancelled),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    eqops_cleanup();
    return rc;
}
