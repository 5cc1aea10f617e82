/*
 * test_options.c - versioned options, the libgit2 way, for every family of functions that
 * takes an options struct: NULL is the defaults, every version from 1 to the current one is
 * read, 0 and the next version are refused naming opts.version, and the struct is read only
 * as far as the caller's version defines it. No server: an accepted struct is proven read by
 * a bad value in another of its fields, which is then the field the error names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core_internal.h"
#include "eqops.h"

static char dir[64], kubeconfig[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/eqops-opts-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/config", dir);
    FILE *f = fopen(kubeconfig, "w");
    if (f == NULL)
        return -1;
    fputs("clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n" /* nobody there */
          "users: [{name: u, user: {token: t}}]\n"
          "contexts: [{name: x, context: {cluster: c, user: u, namespace: n}}]\n"
          "current-context: x\n",
          f);
    fclose(f);
    setenv("KUBECONFIG", kubeconfig, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(kubeconfig);
    rmdir(dir);
    return 0;
}

/* rc is EQOPS_EINVAL naming `field`; a version error also says why */
static void refused(int rc, eqops_error *e, const char *field)
{
    assert_int_equal(rc, EQOPS_EINVAL);
    assert_string_equal(e->field, field);
    if (!strcmp(field, "opts.version") && strstr(e->message, "libeqops ") == NULL &&
        strstr(e->message, "version 0 is not a version") == NULL)
        fail_msg("message: '%s'", e->message);
    eqops_error_clear(e);
}

/* ---- the core helper --------------------------------------------------------------------- */

typedef struct v2_options {
    unsigned version;
    int a;
    int b; /* version 2 */
} v2_options;

static void read_stops_at_the_callers_version(void **state)
{
    (void)state;
    static const size_t sizes[] = {offsetof(v2_options, b), sizeof(v2_options)};
    /* a version 1 caller's struct, followed by bytes that are not its own */
    struct {
        unsigned version;
        int a;
        unsigned char beyond[16];
    } v1;
    memset(&v1, 0xAB, sizeof(v1));
    v1.version = 1;
    v1.a = 7;
    v2_options o;
    memset(&o, 0x55, sizeof(o));
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(EQOPS__OPTS_READ(&o, &v1, sizes, "test options", &e), 0);
    assert_int_equal(o.version, 1);
    assert_int_equal(o.a, 7);
    assert_int_equal(o.b, 0); /* not read: zero, its default */
    /* NULL: the defaults, at the current version */
    assert_int_equal(EQOPS__OPTS_READ(&o, NULL, sizes, "test options", &e), 0);
    assert_int_equal(o.version, 2);
    assert_int_equal(o.a, 0);
    v2_options v2 = {2, 1, 2};
    assert_int_equal(EQOPS__OPTS_READ(&o, &v2, sizes, "test options", &e), 0);
    assert_int_equal(o.b, 2);
    v2.version = 3;
    refused(EQOPS__OPTS_READ(&o, &v2, sizes, "test options", &e), &e, "opts.version");
    v2.version = 3;
    EQOPS__OPTS_READ(&o, &v2, sizes, "test options", &e);
    char want[128];
    snprintf(want, sizeof(want),
             "test options: version 3 is newer than this library's 2 (libeqops %s)",
             eqops_version());
    if (strstr(e.message, want) == NULL)
        fail_msg("message: '%s'", e.message);
    eqops_error_clear(&e);
    v2.version = 0;
    refused(EQOPS__OPTS_READ(&o, &v2, sizes, "test options", &e), &e, "opts.version");
    /* init: zeroes what that version has, sets it */
    memset(&v2, 0x55, sizeof(v2));
    assert_int_equal(EQOPS__OPTS_INIT(&v2, 2, sizes), 0);
    assert_int_equal(v2.version, 2);
    assert_int_equal(v2.a, 0);
    assert_int_equal(v2.b, 0);
    assert_int_equal(EQOPS__OPTS_INIT(&v2, 0, sizes), EQOPS_EINVAL);
    assert_int_equal(EQOPS__OPTS_INIT(&v2, 3, sizes), EQOPS_EINVAL);
    assert_int_equal(EQOPS__OPTS_INIT(NULL, 1, sizes), EQOPS_EINVAL);
}

/* Every public *_options_init: the INIT macro's struct, 0 and the next version refused. */
#define CHECK_INIT(type, fn, VERSION, INIT)                                                        \
    do {                                                                                           \
        type a = INIT, b;                                                                          \
        memset(&b, 0x5A, sizeof(b));                                                               \
        assert_int_equal(fn(&b, VERSION), 0);                                                      \
        assert_memory_equal(&a, &b, sizeof(a));                                                    \
        assert_int_equal(fn(&b, 0), EQOPS_EINVAL);                                                 \
        assert_int_equal(fn(&b, (VERSION) + 1), EQOPS_EINVAL);                                     \
        assert_int_equal(fn(NULL, VERSION), EQOPS_EINVAL);                                         \
    } while (0)

static void init_functions(void **state)
{
    (void)state;
    CHECK_INIT(eqops_aws_sign_options, eqops_aws_sign_options_init, EQOPS_AWS_SIGN_OPTIONS_VERSION,
               EQOPS_AWS_SIGN_OPTIONS_INIT);
    CHECK_INIT(eqops_aws_options, eqops_aws_options_init, EQOPS_AWS_OPTIONS_VERSION,
               EQOPS_AWS_OPTIONS_INIT);
    CHECK_INIT(eqops_aws_metric, eqops_aws_metric_init, EQOPS_AWS_METRIC_VERSION,
               EQOPS_AWS_METRIC_INIT);
    CHECK_INIT(eqops_k8s_options, eqops_k8s_options_init, EQOPS_K8S_OPTIONS_VERSION,
               EQOPS_K8S_OPTIONS_INIT);
    CHECK_INIT(eqops_k8s_list_options, eqops_k8s_list_options_init, EQOPS_K8S_LIST_OPTIONS_VERSION,
               EQOPS_K8S_LIST_OPTIONS_INIT);
    CHECK_INIT(eqops_k8s_write_options, eqops_k8s_write_options_init,
               EQOPS_K8S_WRITE_OPTIONS_VERSION, EQOPS_K8S_WRITE_OPTIONS_INIT);
    CHECK_INIT(eqops_k8s_watch_options, eqops_k8s_watch_options_init,
               EQOPS_K8S_WATCH_OPTIONS_VERSION, EQOPS_K8S_WATCH_OPTIONS_INIT);
    CHECK_INIT(eqops_pg_options, eqops_pg_options_init, EQOPS_PG_OPTIONS_VERSION,
               EQOPS_PG_OPTIONS_INIT);
    CHECK_INIT(eqops_pg_tenant_options, eqops_pg_tenant_options_init,
               EQOPS_PG_TENANT_OPTIONS_VERSION, EQOPS_PG_TENANT_OPTIONS_INIT);
    CHECK_INIT(eqops_pg_migrate_options, eqops_pg_migrate_options_init,
               EQOPS_PG_MIGRATE_OPTIONS_VERSION, EQOPS_PG_MIGRATE_OPTIONS_INIT);
    CHECK_INIT(eqops_slo_rules_options, eqops_slo_rules_options_init,
               EQOPS_SLO_RULES_OPTIONS_VERSION, EQOPS_SLO_RULES_OPTIONS_INIT);
    CHECK_INIT(eqops_slo_report_options, eqops_slo_report_options_init,
               EQOPS_SLO_REPORT_OPTIONS_VERSION, EQOPS_SLO_REPORT_OPTIONS_INIT);
    CHECK_INIT(eqops_tenant_env_options, eqops_tenant_env_options_init,
               EQOPS_TENANT_ENV_OPTIONS_VERSION, EQOPS_TENANT_ENV_OPTIONS_INIT);
    CHECK_INIT(eqops_tenant_run_options, eqops_tenant_run_options_init,
               EQOPS_TENANT_RUN_OPTIONS_VERSION, EQOPS_TENANT_RUN_OPTIONS_INIT);
}

/* ---- aws ------------------------------------------------------------------------------------ */

static void aws_families(void **state)
{
    (void)state;
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_aws_credentials *c = NULL;
    assert_int_equal(eqops_aws_credentials_new(&c, "AKID", "SECRET", NULL, 0, &e), 0);
    /* signer: NULL is read (and the region it lacks is named) */
    eqops_aws_signer *s = NULL;
    refused(eqops_aws_signer_new(&s, c, NULL, &e), &e, "opts.region");
    eqops_aws_sign_options so = EQOPS_AWS_SIGN_OPTIONS_INIT;
    so.region = "eu-west-1";
    so.service = "sts";
    for (unsigned v = 1; v <= EQOPS_AWS_SIGN_OPTIONS_VERSION; v++) {
        so.version = v;
        assert_int_equal(eqops_aws_signer_new(&s, c, &so, &e), 0);
        eqops_aws_signer_free(s);
    }
    so.version = 0;
    refused(eqops_aws_signer_new(&s, c, &so, &e), &e, "opts.version");
    so.version = EQOPS_AWS_SIGN_OPTIONS_VERSION + 1;
    refused(eqops_aws_signer_new(&s, c, &so, &e), &e, "opts.version");
    assert_null(s);

    /* client: nothing is sent before the first request */
    eqops_aws *aws = NULL;
    assert_int_equal(eqops_aws_new(&aws, NULL, &e), 0);
    eqops_aws_free(aws);
    eqops_aws_options o = EQOPS_AWS_OPTIONS_INIT;
    o.region = "eu-west-1";
    o.max_retries = 21;
    for (unsigned v = 1; v <= EQOPS_AWS_OPTIONS_VERSION; v++) {
        o.version = v;
        refused(eqops_aws_new(&aws, &o, &e), &e, "opts.max_retries");
    }
    o.version = 0;
    refused(eqops_aws_new(&aws, &o, &e), &e, "opts.version");
    o.version = EQOPS_AWS_OPTIONS_VERSION + 1;
    refused(eqops_aws_new(&aws, &o, &e), &e, "opts.version");
    o.version = EQOPS_AWS_OPTIONS_VERSION;
    o.max_retries = -1;
    o.credentials = c;
    o.endpoint_url = "http://127.0.0.1:9";
    assert_int_equal(eqops_aws_new(&aws, &o, &e), 0);

    /* metrics: each carries its version; all are checked before anything is sent */
    eqops_aws_metric m0 = EQOPS_AWS_METRIC_INIT, m1 = EQOPS_AWS_METRIC_INIT;
    m0.name = m1.name = "Onboarded";
    const eqops_aws_metric *ms[2] = {&m0, &m1};
    m1.version = 0;
    refused(eqops_aws_metrics_put(aws, "Platform", ms, 2, &e), &e, "metrics[1].version");
    m1.version = EQOPS_AWS_METRIC_VERSION + 1;
    refused(eqops_aws_metrics_put(aws, "Platform", ms, 2, &e), &e, "metrics[1].version");
    m1.version = EQOPS_AWS_METRIC_VERSION;
    m1.unit = "Parsecs";
    refused(eqops_aws_metrics_put(aws, "Platform", ms, 2, &e), &e, "metrics[1].unit");
    ms[1] = NULL;
    refused(eqops_aws_metrics_put(aws, "Platform", ms, 2, &e), &e, "metrics[1]");
    eqops_aws_free(aws);
    eqops_aws_credentials_free(c);
}

static int never(const char *type, const char *object, void *payload)
{
    (void)type, (void)object, (void)payload;
    fail_msg("no event: the options are refused first");
    return 1;
}

/* ---- k8s ------------------------------------------------------------------------------------ */

static void k8s_families(void **state)
{
    (void)state;
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_k8s *k = NULL;
    assert_int_equal(eqops_k8s_new(&k, NULL, &e), 0); /* KUBECONFIG */
    eqops_k8s_free(k);
    k = NULL;
    eqops_k8s_options o = EQOPS_K8S_OPTIONS_INIT;
    o.max_retries = 21;
    for (unsigned v = 1; v <= EQOPS_K8S_OPTIONS_VERSION; v++) {
        o.version = v;
        refused(eqops_k8s_new(&k, &o, &e), &e, "opts.max_retries");
    }
    /* each range error names its field */
    o.max_retries = 0;
    o.burst = -1;
    refused(eqops_k8s_new(&k, &o, &e), &e, "opts.burst");
    o.burst = 0;
    o.connect_timeout_ms = -5;
    refused(eqops_k8s_new(&k, &o, &e), &e, "opts.connect_timeout_ms");
    o.connect_timeout_ms = 0;
    o.max_retries = 21;
    o.version = 0;
    refused(eqops_k8s_new(&k, &o, &e), &e, "opts.version");
    o.version = EQOPS_K8S_OPTIONS_VERSION + 1;
    refused(eqops_k8s_new(&k, &o, &e), &e, "opts.version");
    assert_null(k);
    o.version = EQOPS_K8S_OPTIONS_VERSION;
    o.max_retries = -1;
    assert_int_equal(eqops_k8s_new(&k, &o, &e), 0);

    /* list */
    eqops_k8s_pager *p = NULL;
    eqops_k8s_list_options lo = EQOPS_K8S_LIST_OPTIONS_INIT;
    lo.limit = -1;
    for (unsigned v = 1; v <= EQOPS_K8S_LIST_OPTIONS_VERSION; v++) {
        lo.version = v;
        refused(eqops_k8s_pager_new(&p, k, "v1", "ConfigMap", NULL, &lo, &e), &e, "opts.limit");
    }
    lo.version = 0;
    refused(eqops_k8s_pager_new(&p, k, "v1", "ConfigMap", NULL, &lo, &e), &e, "opts.version");
    lo.version = EQOPS_K8S_LIST_OPTIONS_VERSION + 1;
    char *out = NULL;
    refused(eqops_k8s_list(&out, k, "v1", "ConfigMap", NULL, &lo, &e), &e, "opts.version");

    /* write: create, apply, patch, delete, apply_manifest */
    const char *cm = "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": "
                     "{\"name\": \"x\"}}";
    eqops_k8s_write_options wo = EQOPS_K8S_WRITE_OPTIONS_INIT;
    wo.concurrency = 65;
    for (unsigned v = 1; v <= EQOPS_K8S_WRITE_OPTIONS_VERSION; v++) {
        wo.version = v;
        refused(eqops_k8s_apply_manifest(&out, k, cm, &wo, &e), &e, "opts.concurrency");
    }
    wo.concurrency = 0;
    wo.propagation_policy = "Sometimes";
    refused(eqops_k8s_delete(&out, k, "v1", "ConfigMap", NULL, "x", &wo, &e), &e,
            "opts.propagation_policy");
    for (unsigned bad = 0; bad <= 1; bad++) {
        wo.version = bad ? EQOPS_K8S_WRITE_OPTIONS_VERSION + 1 : 0;
        refused(eqops_k8s_create(&out, k, cm, &wo, &e), &e, "opts.version");
        refused(eqops_k8s_apply(&out, k, cm, &wo, &e), &e, "opts.version");
        refused(eqops_k8s_patch(&out, k, "v1", "ConfigMap", NULL, "x", "{}", &wo, &e), &e,
                "opts.version");
        refused(eqops_k8s_delete(&out, k, "v1", "ConfigMap", NULL, "x", &wo, &e), &e,
                "opts.version");
        refused(eqops_k8s_apply_manifest(&out, k, cm, &wo, &e), &e, "opts.version");
        refused(eqops_k8s_apply_path(&out, k, kubeconfig, 0, &wo, &e), &e, "opts.version");
    }
    assert_null(out);

    /* watch */
    eqops_k8s_watch_options wa = EQOPS_K8S_WATCH_OPTIONS_INIT;
    wa.duration_ms = -1;
    for (unsigned v = 1; v <= EQOPS_K8S_WATCH_OPTIONS_VERSION; v++) {
        wa.version = v;
        refused(eqops_k8s_watch(k, "v1", "ConfigMap", NULL, &wa, never, NULL, &e), &e,
                "opts.duration_ms");
    }
    wa.version = 0;
    refused(eqops_k8s_watch(k, "v1", "ConfigMap", NULL, &wa, never, NULL, &e), &e, "opts.version");
    wa.version = EQOPS_K8S_WATCH_OPTIONS_VERSION + 1;
    refused(eqops_k8s_watch(k, "v1", "ConfigMap", NULL, &wa, never, NULL, &e), &e, "opts.version");
    eqops_k8s_free(k);
}

/* ---- pg ------------------------------------------------------------------------------------- */

/* (eqops_pg_tenant_create and eqops_pg_migrate need a connected handle: their option checks
 * are in tests/integration/pg/test_pg.c) */
static void pg_family(void **state)
{
    (void)state;
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_pg *pg = NULL;
    /* NULL options pass; the conninfo is what is wrong */
    refused(eqops_pg_new(&pg, "host=x password=hunter2 =", NULL, &e), &e, "conninfo");
    eqops_pg_options o = EQOPS_PG_OPTIONS_INIT;
    o.failover_wait_ms = -2;
    for (unsigned v = 1; v <= EQOPS_PG_OPTIONS_VERSION; v++) {
        o.version = v;
        refused(eqops_pg_new(&pg, "host=127.0.0.1 port=1", &o, &e), &e, "opts.failover_wait_ms");
    }
    o.failover_wait_ms = 0;
    o.connect_timeout_ms = 3600001;
    refused(eqops_pg_new(&pg, "host=127.0.0.1 port=1", &o, &e), &e, "opts.connect_timeout_ms");
    o.version = 0;
    refused(eqops_pg_new(&pg, "host=127.0.0.1 port=1", &o, &e), &e, "opts.version");
    o.version = EQOPS_PG_OPTIONS_VERSION + 1;
    refused(eqops_pg_new(&pg, "host=127.0.0.1 port=1", &o, &e), &e, "opts.version");
    assert_null(pg);
}

/* ---- slo ------------------------------------------------------------------------------------ */

static void slo_families(void **state)
{
    (void)state;
    const char *text =
        "{\"service\": \"svc\", \"slos\": [{\"name\": \"avail\", \"window\": \"1d\", "
        "\"target\": 99, \"sli\": {\"events\": {\"bad\": \"sum(rate(e[{{.window}}]))\", "
        "\"total\": \"sum(rate(t[{{.window}}]))\"}}}]}";
    eqops_slo_set *set = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_slo_set_parse(&set, text, strlen(text), EQOPS_SLO_FORMAT_JSON, &e), 0);
    char *out = NULL;
    assert_int_equal(eqops_slo_rules(&out, set, NULL, &e), 0);
    eqops_free(out);
    assert_int_equal(eqops_slo_rules_test(&out, set, NULL, &e), 0);
    eqops_free(out);
    eqops_slo_rules_options ro = EQOPS_SLO_RULES_OPTIONS_INIT;
    for (unsigned v = 1; v <= EQOPS_SLO_RULES_OPTIONS_VERSION; v++) {
        ro.version = v;
        assert_int_equal(eqops_slo_rules(&out, set, &ro, &e), 0);
        eqops_free(out);
    }
    ro.version = 0;
    refused(eqops_slo_rules(&out, set, &ro, &e), &e, "opts.version");
    ro.version = EQOPS_SLO_RULES_OPTIONS_VERSION + 1;
    refused(eqops_slo_rules_test(&out, set, &ro, &e), &e, "opts.version");
    assert_int_equal(eqops_slo_recorded_series(set, &ro), eqops_slo_recorded_series(set, NULL));

    /* report: NULL is read (and names what it lacks: a URL or samples) */
    refused(eqops_slo_report(&out, set, NULL, &e), &e, "opts");
    eqops_slo_report_options po = EQOPS_SLO_REPORT_OPTIONS_INIT;
    for (unsigned v = 1; v <= EQOPS_SLO_REPORT_OPTIONS_VERSION; v++) {
        po.version = v;
        refused(eqops_slo_report(&out, set, &po, &e), &e, "opts");
    }
    po.version = 0;
    refused(eqops_slo_report(&out, set, &po, &e), &e, "opts.version");
    po.version = EQOPS_SLO_REPORT_OPTIONS_VERSION + 1;
    refused(eqops_slo_report(&out, set, &po, &e), &e, "opts.version");
    assert_null(out);
    eqops_slo_set_free(set);
}

/* ---- tenant --------------------------------------------------------------------------------- */

static void tenant_families(void **state)
{
    (void)state;
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_tenant_env *env = NULL;
    assert_int_equal(eqops_tenant_env_new(&env, NULL, &e), 0);
    eqops_tenant_env_free(env);
    env = NULL;
    eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
    o.concurrency = 33;
    for (unsigned v = 1; v <= EQOPS_TENANT_ENV_OPTIONS_VERSION; v++) {
        o.version = v;
        refused(eqops_tenant_env_new(&env, &o, &e), &e, "concurrency");
    }
    o.version = 0;
    refused(eqops_tenant_env_new(&env, &o, &e), &e, "opts.version");
    o.version = EQOPS_TENANT_ENV_OPTIONS_VERSION + 1;
    refused(eqops_tenant_env_new(&env, &o, &e), &e, "opts.version");
    assert_null(env);

    assert_int_equal(eqops_tenant_env_new(&env, NULL, &e), 0);
    eqops_tenant_run_options ro = EQOPS_TENANT_RUN_OPTIONS_INIT;
    ro.cluster_parallel = 17;
    char *out = NULL;
    for (unsigned v = 1; v <= EQOPS_TENANT_RUN_OPTIONS_VERSION; v++) {
        ro.version = v;
        refused(eqops_tenant_plan(&out, env, "{}", &ro, &e), &e, "cluster_parallel");
    }
    size_t n = 0;
    for (unsigned bad = 0; bad <= 1; bad++) {
        ro.version = bad ? EQOPS_TENANT_RUN_OPTIONS_VERSION + 1 : 0;
        refused(eqops_tenant_plan(&out, env, "{}", &ro, &e), &e, "opts.version");
        refused(eqops_tenant_apply(&out, env, "{}", &ro, &e), &e, "opts.version");
        refused(eqops_tenant_destroy(&out, env, "{}", &ro, &e), &e, "opts.version");
        refused(eqops_tenant_reconcile(&out, env, "{}", &ro, &e), &e, "opts.version");
        refused(eqops_tenant_drift(&out, &n, env, "{}", &ro, &e), &e, "opts.version");
        refused(eqops_tenant_fleet(&out, &n, env, "plan", dir, &ro, &e), &e, "opts.version");
    }
    assert_null(out);
    eqops_tenant_env_free(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(read_stops_at_the_callers_version),
        cmocka_unit_test(init_functions),
        cmocka_unit_test(aws_families),
        cmocka_unit_test(k8s_families),
        cmocka_unit_test(pg_family),
        cmocka_unit_test(slo_families),
        cmocka_unit_test(tenant_families),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
