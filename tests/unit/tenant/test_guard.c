/*
 * test_guard.c - the tenant module's guards from the security review (issue 13), without a
 * network: reserved tenant names (built in, the env's Argo CD namespace, the operator's),
 * which every operation but destroy refuses; the allow-list of database.settings; the
 * AppProject's deny list; and a fleet run reading each spec file once.
 */
#include "tenant_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *spec_named(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof(buf),
             "name: %s\ntier: bare\nclusters: [{name: only, context: ctx-missing}]\n"
             "database: {enabled: false}\n",
             name);
    return buf;
}

static eqops_tenant_env *env_reserving(const char *argocd_ns, const char *const *reserved)
{
    eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
    o.tiers_file = tiers_path;
    o.kubeconfig = kubeconfig_path;
    o.argocd_namespace = argocd_ns;
    o.reserved_names = reserved;
    eqops_tenant_env *e = NULL;
    eqops_error err = EQOPS_ERROR_INIT;
    if (eqops_tenant_env_new(&e, &o, &err) != 0)
        fail_msg("env_new: %s", err.message);
    return e;
}

/* Every operation but destroy refuses `name` with field "name" and `words`, before any
 * request or progress event; destroy gets past the name (and fails later, at the missing
 * kubeconfig context, not at the name). */
static void refused_but_destroyable(eqops_tenant_env *e, const char *name, const char *words)
{
    const char *spec = spec_named(name);
    char label[96];
    snprintf(label, sizeof(label), "tenant %s", name);
    check_refused(e, spec, EQOPS_EINVAL, "name", words, label);
    eqops_tenant_run_options o = EQOPS_TENANT_RUN_OPTIONS_INIT;
    o.progress = count_progress;
    progress_calls = 0;
    char sentinel = 0, *out = &sentinel;
    size_t drifted = 0;
    eqops_error err = EQOPS_ERROR_INIT;
    int rcs[] = {eqops_tenant_render(&out, e, spec, NULL, &err),
                 eqops_tenant_plan(&out, e, spec, &o, &err),
                 eqops_tenant_apply(&out, e, spec, &o, &err),
                 eqops_tenant_reconcile(&out, e, spec, &o, &err),
                 eqops_tenant_drift(&out, &drifted, e, spec, &o, &err),
                 eqops_tenant_status(&out, e, spec, &err)};
    for (size_t i = 0; i < sizeof(rcs) / sizeof(rcs[0]); i++)
        if (rcs[i] != EQOPS_EINVAL)
            fail_msg("%s: operation %zu returned %d", label, i, rcs[i]);
    assert_true(out == NULL || out == &sentinel);
    assert_string_equal(err.field, "name");
    assert_int_equal(progress_calls, 0);
    /* destroy goes on to the clusters: the context is not in the kubeconfig */
    o.confirm = name;
    out = NULL;
    int rc = eqops_tenant_destroy(&out, e, spec, &o, &err);
    if (rc == 0 || strcmp(err.field, "name") == 0 || strstr(err.message, "ctx-missing") == NULL)
        fail_msg("%s: destroy: %d '%s' (field '%s')", label, rc, err.message, err.field);
    json_t *doc = loads(out);
    assert_string_equal(str_at(doc, "operation"), "destroy");
    json_decref(doc);
    eqops_free(out);
    eqops_error_clear(&err);
}

/*
 * Regression (issue 13): a tenant could be named like the Argo CD namespace (or kube-system's
 * siblings, monitoring, ...): its namespace then was the one every tenant's AppProject and
 * Application went into, readable by its workload, and its destroy deleted them all.
 */
static void reserved_names_refused(void **state)
{
    (void)state;
    static const struct {
        const char *name, *words;
    } builtin[] = {
        {"argocd", "the Argo CD namespace"},
        {"kube-system", "kube-* namespaces"},
        {"kube-anything", "kube-* namespaces"},
        {"monitoring", "well-known system namespace"},
        {"prometheus", "well-known"},
        {"cert-manager", "well-known"},
        {"ingress-nginx", "well-known"},
        {"kyverno", "well-known"},
        {"gatekeeper-system", "well-known"},
        {"amazon-cloudwatch", "well-known"},
        {"external-secrets", "well-known"},
        {"eqops-system", "eqops's own namespace"},
        /* the platform runs Kubeflow, Knative and the Argo projects besides Argo CD */
        {"kubeflow", "(Kubeflow)"},
        {"kubeflow-system", "(Kubeflow)"},
        {"knative-serving", "(Knative"},
        {"knative-eventing", "(Knative"},
        {"argo", "(Argo Workflows)"},
        {"argo-events", "(Argo Events)"},
    };
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
        refused_but_destroyable(env, builtin[i].name, builtin[i].words);
    /* "default" was already an SQL word */
    check_refused(env, spec_named("default"), EQOPS_EINVAL, "name", "reserved", "default");
    /* the message says why, and that destroy still works */
    char *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_tenant_spec_check(&out, env, spec_named("argocd"), &e), EQOPS_EINVAL);
    assert_string_equal(e.message, "name: \"argocd\" is reserved: the Argo CD namespace "
                                   "(argocd_namespace), where every tenant's AppProject and "
                                   "Application live; an existing tenant of that name can still "
                                   "be destroyed");
    /* near misses are tenants like any other */
    static const char *const fine[] = {"kube",         "argocd2", "my-argocd", "monitoring-x",
                                       "defaults",     "knative", "argon",     "kubeflow2",
                                       "argo-rollout", "my-argo"};
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
        json_decref(check_ok(env, spec_named(fine[i])));

    /* the env's own Argo CD namespace, whatever it is called; argocd stays reserved */
    eqops_tenant_env *gitops = env_reserving("gitops", NULL);
    refused_but_destroyable(gitops, "gitops", "(argocd_namespace)");
    refused_but_destroyable(gitops, "argocd", "Argo CD");
    eqops_tenant_env_free(gitops);

    /* the operator's names and prefixes add to the built-in ones, never take any away */
    static const char *const mine[] = {"billing", "team-*", "ops*", NULL};
    eqops_tenant_env *ops = env_reserving(NULL, mine);
    refused_but_destroyable(ops, "billing", "reserved by the operator (reserved_names: billing)");
    refused_but_destroyable(ops, "team-red", "(reserved_names: team-*)");
    refused_but_destroyable(ops, "ops", "(reserved_names: ops*)");
    refused_but_destroyable(ops, "opsgenie", "(reserved_names: ops*)");
    refused_but_destroyable(ops, "argocd", "Argo CD");
    refused_but_destroyable(ops, "kube-public", "kube-*");
    static const char *const allowed[] = {"billing-east", "team", "tea", "acme-power"};
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        json_decref(check_ok(ops, spec_named(allowed[i])));
    eqops_tenant_env_free(ops);
    eqops_error_clear(&e);
}

static void reserved_names_option_checked(void **state)
{
    (void)state;
    static const char *const bad[] = {"",     "*",      "-team", "team-",    "Team", "a b",
                                      "a*b",  "team**", "a_b",   "a.b",      "-*",   "é",
                                      "a\nb", "x*y*",   "**",    "billing;", NULL};
    for (size_t i = 0; bad[i]; i++) {
        const char *list[] = {"fine", bad[i], NULL};
        eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
        o.tiers_file = tiers_path;
        o.reserved_names = list;
        eqops_tenant_env *sentinel = (eqops_tenant_env *)&o, *out = sentinel;
        eqops_error e = EQOPS_ERROR_INIT;
        if (eqops_tenant_env_new(&out, &o, &e) != EQOPS_EINVAL)
            fail_msg("reserved entry '%s' accepted", bad[i]);
        assert_null(out);
        assert_string_equal(e.field, "reserved_names[1]");
        assert_non_null(strstr(e.message, "ending in '*'"));
    }
    /* 63 characters is a namespace name; 64 is not */
    char long_name[65];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    const char *list[] = {long_name, NULL};
    eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
    o.tiers_file = tiers_path;
    o.reserved_names = list;
    eqops_tenant_env *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_tenant_env_new(&out, &o, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "reserved_names[0]");
    long_name[63] = '\0';
    assert_int_equal(eqops_tenant_env_new(&out, &o, &e), 0);
    eqops_tenant_env_free(out);
    /* at most 256 */
    const char **many = calloc(258, sizeof(char *));
    assert_non_null(many);
    for (size_t i = 0; i < 257; i++)
        many[i] = "x";
    o.reserved_names = many;
    assert_int_equal(eqops_tenant_env_new(&out, &o, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "reserved_names");
    many[256] = NULL;
    assert_int_equal(eqops_tenant_env_new(&out, &o, &e), 0);
    eqops_tenant_env_free(out);
    free(many);
    /* checked before the tiers file is read */
    const char *bad_list[] = {"Nope", NULL};
    o.reserved_names = bad_list;
    o.tiers_file = in_tmp("no-such-tiers.yaml");
    assert_int_equal(eqops_tenant_env_new(&out, &o, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "reserved_names[0]");
    /* under the 0.2.0 ABI reserved_names is part of version 1: it is read */
    o.tiers_file = tiers_path;
    o.version = 1;
    assert_int_equal(eqops_tenant_env_new(&out, &o, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "reserved_names[0]");
    eqops_error_clear(&e);
}

/* Regression (review of issue 13): argocd_namespace took any run of a-z, 0-9 and '-', so
 * "-bad-" (no namespace can have it) and "default" or "kube-system" (every tenant's AppProject
 * and Application sent there) were accepted. It must be a DNS label and not one of the
 * built-in reserved names, argocd itself excepted. */
static void argocd_namespace_checked(void **state)
{
    (void)state;
    static const struct {
        const char *ns, *says;
    } bad[] = {
        {"-bad-", "starting and ending with a letter or digit"},
        {"bad-", "starting and ending"},
        {"-bad", "starting and ending"},
        {"", "1 to 63"},
        {"Argo", "a-z, 0-9"},
        {"argo*", "a-z, 0-9"},
        {"a.b", "a-z, 0-9"},
        {"default", "\"default\" is not Argo CD's to have: the cluster's default namespace"},
        {"kube-system", "Kubernetes keeps the kube-* namespaces"},
        {"kube-public", "kube-*"},
        {"monitoring", "well-known system namespace"},
        {"argo-rollouts", "(Argo Rollouts)"},
        {"eqops-system", "eqops's own namespace"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
        o.tiers_file = tiers_path;
        o.argocd_namespace = bad[i].ns;
        eqops_tenant_env *sentinel = (eqops_tenant_env *)&o, *out = sentinel;
        eqops_error e = EQOPS_ERROR_INIT;
        if (eqops_tenant_env_new(&out, &o, &e) != EQOPS_EINVAL ||
            strcmp(e.field, "argocd_namespace") != 0 || strstr(e.message, bad[i].says) == NULL)
            fail_msg("argocd_namespace '%s' accepted or wrong message: '%s'", bad[i].ns, e.message);
        assert_null(out);
    }
    char long_ns[65];
    memset(long_ns, 'a', 64);
    long_ns[64] = '\0';
    static const char *const good[] = {"argocd", "gitops", "openshift-gitops", "a", "argocd-2"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]) + 2; i++) {
        eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
        o.tiers_file = tiers_path;
        long_ns[63] = i == sizeof(good) / sizeof(good[0]) ? 'a' : '\0';
        o.argocd_namespace = i < sizeof(good) / sizeof(good[0]) ? good[i] : long_ns;
        eqops_tenant_env *out = NULL;
        eqops_error e = EQOPS_ERROR_INIT;
        int rc = eqops_tenant_env_new(&out, &o, &e);
        if (i == sizeof(good) / sizeof(good[0])) { /* 64 characters */
            assert_int_equal(rc, EQOPS_EINVAL);
            assert_string_equal(e.field, "argocd_namespace");
        } else if (rc != 0) {
            fail_msg("argocd_namespace '%s' refused: %s", o.argocd_namespace, e.message);
        }
        eqops_tenant_env_free(out);
    }
}

/* A fleet refuses a reserved name among its specs before anything is asked (naming the
 * file), except destroy, which goes on to the clusters. */
static void fleet_reserved_names(void **state)
{
    (void)state;
    make_dir("fleet-reserved");
    const char *dir = in_tmp("fleet-reserved");
    char path[512];
    snprintf(path, sizeof(path), "%s/a.yaml", dir);
    write_file(path, spec_named("acme-power"));
    snprintf(path, sizeof(path), "%s/b.yaml", dir);
    write_file(path, spec_named("monitoring"));
    eqops_tenant_run_options o = EQOPS_TENANT_RUN_OPTIONS_INIT;
    o.progress = count_progress;
    progress_calls = 0;
    static const char *const ops[] = {"plan", "apply", "drift", "reconcile", "status"};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        char sentinel = 0, *out = &sentinel;
        size_t failed = 9;
        eqops_error e = EQOPS_ERROR_INIT;
        assert_int_equal(eqops_tenant_fleet(&out, &failed, env, ops[i], dir, &o, &e), EQOPS_EINVAL);
        assert_null(out);
        assert_string_equal(e.field, "name");
        assert_non_null(strstr(e.message, "b.yaml"));
        assert_non_null(strstr(e.message, "\"monitoring\" is reserved"));
    }
    assert_int_equal(progress_calls, 0);
    o.confirm = dir;
    char *out = NULL;
    size_t failed = 0;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_tenant_fleet(&out, &failed, env, "destroy", dir, &o, &e), 0);
    json_t *doc = loads(out);
    eqops_free(out);
    assert_int_equal(json_array_size(at(doc, "tenants")), 2);
    assert_int_equal(failed, 2); /* both reached the clusters: ctx-missing */
    assert_non_null(strstr(str_at(doc, "tenants|1|error"), "ctx-missing"));
    json_decref(doc);
}

/*
 * Regression (issue 13): database.settings took any setting name: "role" made every session
 * of the database (the admin's migrations too: it is a member of every tenant role) run as
 * another role. The pg module's allow-list decides, for the spec and for eqops_pg alike.
 */
static void database_settings_allow_list(void **state)
{
    (void)state;
    static const char *const refused[] = {"role",
                                          "session_authorization",
                                          "search_path",
                                          "session_preload_libraries",
                                          "local_preload_libraries",
                                          "default_transaction_read_only",
                                          "row_security",
                                          "session_replication_role",
                                          "log_statement",
                                          "lc_messages",
                                          "app.tenant"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        char spec[256], field[96];
        snprintf(spec, sizeof(spec), HEAD ONE_CLUSTER "database: {settings: {%s: x}}\n",
                 refused[i]);
        snprintf(field, sizeof(field), "database.settings.%s", refused[i]);
        check_refused(env, spec, EQOPS_EINVAL, field, "not a setting a tenant database may have",
                      refused[i]);
    }
    char *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(
        eqops_tenant_spec_check(
            &out, env, HEAD ONE_CLUSTER "database: {settings: {work_mem: 8MB, role: admin}}\n", &e),
        EQOPS_EINVAL);
    assert_string_equal(e.message, "database.settings.role: \"role\" is not a setting a tenant "
                                   "database may have (only timeouts, memory, locale, format and "
                                   "planner settings; docs/pg.md lists them)");
    /* what a tenant may tune */
    json_t *doc = check_ok(env, HEAD ONE_CLUSTER
                           "database: {settings: {statement_timeout: 30s, lock_timeout: 5s, "
                           "idle_in_transaction_session_timeout: 60s, work_mem: 8MB, timezone: "
                           "Europe/Berlin, jit: false, random_page_cost: 1.1}}\n");
    assert_int_equal(json_object_size(at(doc, "database|settings")), 7);
    json_decref(doc);
    eqops_error_clear(&e);
}

/* The project denies Argo CD's own kinds: an Application, ApplicationSet or AppProject from
 * the tenant's repository would escape its project. Regression (review of issue 13): it denied
 * kind "*" in argoproj.io, which Argo CD matches as a glob, so a tenant could not deploy the
 * other Argo projects' kinds of that group (Rollout, AnalysisTemplate, Workflow, Sensor). */
static void appproject_denies_argo_cd_kinds(void **state)
{
    (void)state;
    json_t *objs = render_ok(env, ACME_YAML, NULL);
    json_t *project = NULL, *o;
    size_t i;
    json_array_foreach(objs, i, o)
    {
        if (strcmp(str_at(o, "kind"), "AppProject") == 0)
            project = o;
    }
    assert_non_null(project);
    char denied[256] = "";
    json_array_foreach(at(project, "spec|namespaceResourceBlacklist"), i, o)
    {
        if (strcmp(str_at(o, "group"), "argoproj.io") == 0)
            snprintf(denied + strlen(denied), sizeof(denied) - strlen(denied), "%s ",
                     str_at(o, "kind"));
    }
    assert_string_equal(denied, "Application ApplicationSet AppProject ");
    json_decref(objs);
}

/* ---- a fleet reads each spec once ------------------------------------------------------- */

static long allocations;
static void *count_malloc(size_t n, void *payload)
{
    (void)payload;
    allocations++;
    return malloc(n);
}
static void *count_realloc(void *p, size_t n, void *payload)
{
    (void)payload;
    allocations += p == NULL;
    return realloc(p, n);
}
static void count_free(void *p, void *payload)
{
    (void)payload;
    free(p);
}

static long counted(int (*fn)(void *), void *arg)
{
    eqops_allocator a = {EQOPS_ALLOCATOR_VERSION, count_malloc, count_realloc, count_free, NULL};
    allocations = 0;
    assert_int_equal(eqops_set_allocator(&a), 0);
    int rc = fn(arg);
    long n = allocations;
    assert_int_equal(eqops_set_allocator(NULL), 0);
    assert_int_equal(rc, EQOPS_EINVAL);
    return n;
}

static const char *big_spec;

static int check_big(void *arg)
{
    (void)arg;
    char *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops_tenant_spec_check(&out, env, big_spec, &e);
    eqops_error_clear(&e);
    return rc;
}

static int fleet_big(void *dir)
{
    char *out = NULL;
    size_t failed = 0;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops_tenant_fleet(&out, &failed, env, "plan", dir, NULL, &e);
    eqops_error_clear(&e);
    return rc;
}

/*
 * Regression (issue 13): a fleet run parsed each spec file twice (once to tell a tiers file
 * from a spec, once as the spec). A spec whose document is big and refused at its first key
 * costs about one YAML parse; the fleet over a directory holding only it must cost about the
 * same, not twice as much (allocations counted through the allocator hook).
 */
static void fleet_parses_each_file_once(void **state)
{
    (void)state;
    size_t cap = 64 * 1024, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text, cap, "%sunknown:\n", spec_named("acme-power"));
    for (int i = 0; i < 2000; i++)
        len += (size_t)snprintf(text + len, cap - len, "  k%d: [v%d, {x: y}]\n", i, i);
    assert_true(len < cap - 1);
    big_spec = text;
    make_dir("fleet-once");
    const char *dir = in_tmp("fleet-once");
    char path[512];
    snprintf(path, sizeof(path), "%s/big.yaml", dir);
    write_file(path, text);
    long one = counted(check_big, NULL);
    long fleet = counted(fleet_big, (void *)dir);
    printf("allocations: spec check %ld, fleet over the same spec %ld\n", one, fleet);
    assert_true(one > 8000);
    if (fleet > one + one / 2)
        fail_msg("the fleet made %ld allocations for a spec that checks in %ld: parsed twice?",
                 fleet, one);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reserved_names_refused),
        cmocka_unit_test(reserved_names_option_checked),
        cmocka_unit_test(fleet_reserved_names),
        cmocka_unit_test(database_settings_allow_list),
        cmocka_unit_test(appproject_denies_argo_cd_kinds),
        cmocka_unit_test(argocd_namespace_checked),
        cmocka_unit_test(fleet_parses_each_file_once),
    };
    return cmocka_run_group_tests_name("tenant_guard", tests, setup, teardown);
}
