/*
 * test_render.c - the tenant module's output without a network: the rendered Kubernetes
 * objects, Kubernetes quantities, the desired/live comparison, the argument checks of
 * destroy and fleet that come before any request, and allocation failures in env_new,
 * spec_check and render.
 *
 * Usage: test_tenant_render [allocfail]
 *   allocfail  only the allocation-failure loops (ctest label allocfail); without it, every
 *              test but those
 */
#include "tenant_fixture.h"

#include "fail_alloc.h"

#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- render ---------------------------------------------------------------------------------- */

static void render_objects_in_order(void **state)
{
    (void)state;
    static const struct {
        const char *kind, *name, *api;
    } want[] = {
        {"Namespace", "acme-power", "v1"},
        {"ResourceQuota", "tenant-quota", "v1"},
        {"LimitRange", "tenant-limits", "v1"},
        {"NetworkPolicy", "default-deny", "networking.k8s.io/v1"},
        {"NetworkPolicy", "allow-same-namespace", "networking.k8s.io/v1"},
        {"NetworkPolicy", "allow-dns", "networking.k8s.io/v1"},
        {"NetworkPolicy", "allow-database", "networking.k8s.io/v1"},
        {"ServiceAccount", "workload", "v1"},
        {"Role", "tenant-workload", "rbac.authorization.k8s.io/v1"},
        {"RoleBinding", "tenant-workload", "rbac.authorization.k8s.io/v1"},
        {"Secret", "db-credentials", "v1"},
        {"AppProject", "acme-power", "argoproj.io/v1alpha1"},
        {"Application", "acme-power", "argoproj.io/v1alpha1"},
    };
    json_t *objs = render_ok(env, ACME_YAML, NULL);
    assert_int_equal(json_array_size(objs), sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < json_array_size(objs); i++) {
        json_t *o = json_array_get(objs, i);
        if (strcmp(str_at(o, "kind"), want[i].kind) != 0 ||
            strcmp(str_at(o, "metadata|name"), want[i].name) != 0 ||
            strcmp(str_at(o, "apiVersion"), want[i].api) != 0)
            fail_msg("object %zu: %s %s %s, want %s %s %s", i, str_at(o, "apiVersion"),
                     str_at(o, "kind"), str_at(o, "metadata|name"), want[i].api, want[i].kind,
                     want[i].name);
        /* every object is marked as the tenant's and eqops's */
        json_t *labels = at(o, "metadata|labels");
        assert_string_equal(json_string_value(json_object_get(labels, TN_LABEL_TENANT)),
                            "acme-power");
        assert_string_equal(json_string_value(json_object_get(labels, TN_LABEL_MANAGED)), "eqops");
        /* in the tenant's namespace, but the namespace itself and Argo CD's objects */
        const char *ns = str_at(o, "metadata|namespace");
        if (i == 0)
            assert_null(ns);
        else if (i >= 11)
            assert_string_equal(ns, "argocd");
        else
            assert_string_equal(ns, "acme-power");
    }
    /* the namespace's labels */
    json_t *nsl = at(objs, "0|metadata|labels");
    assert_string_equal(json_string_value(json_object_get(nsl, TN_LABEL_TIER)), "small");
    assert_string_equal(json_string_value(json_object_get(nsl, TN_PSA_ENFORCE)), "restricted");
    assert_string_equal(json_string_value(json_object_get(nsl, "team")), "grid-ops");
    assert_string_equal(json_string_value(json_object_get(nsl, "cost-center")), "4711");
    assert_int_equal(json_object_size(nsl), 7);
    /* the tier's quota and limits */
    assert_string_equal(str_at(objs, "1|spec|hard|requests.cpu"), "2");
    assert_string_equal(str_at(objs, "1|spec|hard|requests.memory"), "4Gi");
    assert_string_equal(str_at(objs, "1|spec|hard|pods"), "20");
    assert_string_equal(str_at(objs, "2|spec|limits|0|type"), "Container");
    assert_string_equal(str_at(objs, "2|spec|limits|0|default|cpu"), "500m");
    assert_string_equal(str_at(objs, "2|spec|limits|0|defaultRequest|memory"), "128Mi");
    assert_string_equal(str_at(objs, "2|spec|limits|0|max|memory"), "2Gi");
    assert_null(at(objs, "2|spec|limits|0|min"));
    /* default deny both ways; the database egress to the CIDR on 5432 */
    assert_int_equal(json_array_size(at(objs, "3|spec|policyTypes")), 2);
    assert_true(json_is_object(at(objs, "3|spec|podSelector")));
    assert_null(at(objs, "3|spec|ingress"));
    assert_string_equal(str_at(objs, "6|spec|egress|0|to|0|ipBlock|cidr"), "10.20.0.0/16");
    assert_int_equal(json_integer_value(at(objs, "6|spec|egress|0|ports|0|port")), 5432);
    assert_string_equal(str_at(objs, "9|roleRef|name"), "tenant-workload");
    assert_string_equal(str_at(objs, "9|subjects|0|name"), "workload");
    assert_string_equal(str_at(objs, "9|subjects|0|namespace"), "acme-power");
    /* the Secret without its data */
    assert_string_equal(str_at(objs, "10|type"), "Opaque");
    assert_null(at(objs, "10|data"));
    assert_null(at(objs, "10|stringData"));
    /* the AppProject confines the Application to the tenant's namespace */
    json_t *dest = at(objs, "11|spec|destinations");
    assert_int_equal(json_array_size(dest), 1);
    assert_string_equal(str_at(dest, "0|namespace"), "acme-power");
    assert_string_equal(str_at(dest, "0|server"), "https://kubernetes.default.svc");
    assert_true(json_is_array(at(objs, "11|spec|clusterResourceWhitelist")));
    assert_int_equal(json_array_size(at(objs, "11|spec|clusterResourceWhitelist")), 0);
    assert_null(at(objs, "11|spec|namespaceResourceWhitelist"));
    assert_int_equal(json_array_size(at(objs, "11|spec|sourceRepos")), 1);
    assert_string_equal(str_at(objs, "11|spec|sourceRepos|0"), "https://git.example.com/acme.git");
    assert_string_equal(str_at(objs, "12|spec|project"), "acme-power");
    assert_string_equal(str_at(objs, "12|spec|destination|namespace"), "acme-power");
    assert_string_equal(str_at(objs, "12|spec|source|targetRevision"), "HEAD");
    assert_string_equal(str_at(objs, "12|spec|source|path"), "deploy/prod");
    json_decref(objs);

    /* the JSON spec renders the same, and so does the other cluster */
    char *a = NULL, *b = NULL, *c = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_tenant_render(&a, env, ACME_YAML, NULL, &e), 0);
    assert_int_equal(eqops_tenant_render(&b, env, ACME_JSON, "eu-west", &e), 0);
    assert_int_equal(eqops_tenant_render(&c, env, ACME_JSON, "eu-north", &e), 0);
    assert_string_equal(a, b);
    assert_string_equal(a, c);
    eqops_free(a);
    eqops_free(b);
    eqops_free(c);
}

static void render_variants(void **state)
{
    (void)state;
    /* an unknown cluster */
    char sentinel = 0, *out = &sentinel;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_tenant_render(&out, env, ACME_YAML, "us-east", &e), EQOPS_ENOTFOUND);
    assert_null(out);
    assert_string_equal(e.field, "cluster");
    assert_non_null(strstr(e.message, "us-east"));
    out = &sentinel;
    assert_int_equal(eqops_tenant_render(&out, env, ACME_YAML, "", &e), EQOPS_ENOTFOUND);
    assert_null(out);

    /* no database: no Secret, and no allow-database even with egress_cidr */
    json_t *objs = render_ok(
        env, HEAD ONE_CLUSTER "database: {enabled: false, egress_cidr: 10.0.0.0/8}\n", NULL);
    assert_int_equal(json_array_size(objs), 9);
    for (size_t i = 0; i < json_array_size(objs); i++) {
        assert_string_not_equal(str_at(json_array_get(objs, i), "kind"), "Secret");
        assert_string_not_equal(str_at(json_array_get(objs, i), "metadata|name"), "allow-database");
    }
    json_decref(objs);
    /* a database port moves the egress rule; a named Secret; another Argo CD namespace; the
     * tier's Pod Security level; a tier without limits */
    eqops_tenant_env *gitops = env_from(tiers_path, "gitops");
    objs = render_ok(gitops,
                     "name: acme-power\ntier: large\n" ONE_CLUSTER
                     "database: {port: 6432, egress_cidr: 'fd00::/64'}\n"
                     "secrets: {kubernetes: {name: pg.acme}}\n"
                     "argocd: {repo: 'https://x/a.git', path: a, revision: main, server: "
                     "'https://10.1.2.3'}\n",
                     "a");
    assert_int_equal(json_array_size(objs), 13);
    assert_string_equal(str_at(objs, "0|metadata|labels|" TN_PSA_ENFORCE), "baseline");
    assert_string_equal(str_at(objs, "0|metadata|labels|" TN_LABEL_TIER), "large");
    assert_null(at(objs, "2|spec|limits|0|default"));
    assert_string_equal(str_at(objs, "2|spec|limits|0|type"), "Container");
    assert_string_equal(str_at(objs, "6|spec|egress|0|to|0|ipBlock|cidr"), "fd00::/64");
    assert_int_equal(json_integer_value(at(objs, "6|spec|egress|0|ports|0|port")), 6432);
    assert_string_equal(str_at(objs, "10|metadata|name"), "pg.acme");
    assert_string_equal(str_at(objs, "11|metadata|namespace"), "gitops");
    assert_string_equal(str_at(objs, "11|spec|destinations|0|server"), "https://10.1.2.3");
    assert_string_equal(str_at(objs, "12|metadata|namespace"), "gitops");
    assert_string_equal(str_at(objs, "12|spec|source|targetRevision"), "main");
    json_decref(objs);
    eqops_tenant_env_free(gitops);
    /* a tier without pod_security is restricted */
    objs = render_ok(env, "name: acme-power\ntier: bare\n" ONE_CLUSTER, NULL);
    assert_string_equal(str_at(objs, "0|metadata|labels|" TN_PSA_ENFORCE), "restricted");
    assert_int_equal(json_array_size(objs), 10); /* the Secret, no Argo CD */
    json_decref(objs);

    /* the Secret with credentials: base64 data; without: none */
    tn_spec s;
    assert_int_equal(eqops__tn_spec_parse(&s, env->tiers, ACME_YAML, strlen(ACME_YAML), "spec", &e),
                     0);
    json_t *creds =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "host", "db", "port", "5432", "dbname",
                  "tenant_acme_power", "user", "tenant_acme_power", "password", "pa:ss/wo+rd");
    json_t *sec = NULL;
    assert_int_equal(eqops__tn_render_secret(&sec, &s, creds, &e), 0);
    assert_string_equal(str_at(sec, "data|password"), "cGE6c3Mvd28rcmQ=");
    assert_string_equal(str_at(sec, "data|port"), "NTQzMg==");
    assert_string_equal(str_at(sec, "metadata|namespace"), "acme-power");
    json_decref(sec);
    assert_int_equal(eqops__tn_render_secret(&sec, &s, NULL, &e), 0);
    assert_null(at(sec, "data"));
    json_decref(sec);
    json_decref(creds);
    /* Argo CD objects only with argocd */
    tn_objects argo = {.n = 5};
    assert_int_equal(eqops__tn_render_argocd(&argo, &s, "argocd", &e), 0);
    assert_int_equal(argo.n, 2);
    eqops__tn_objects_free(&argo);
    assert_int_equal(argo.n, 0);
    eqops__tn_spec_free(&s);
    const char *plain = "name: acme-power\ntier: bare\n" ONE_CLUSTER;
    assert_int_equal(eqops__tn_spec_parse(&s, env->tiers, plain, strlen(plain), "spec", &e), 0);
    argo.n = 5;
    assert_int_equal(eqops__tn_render_argocd(&argo, &s, "argocd", &e), 0);
    assert_int_equal(argo.n, 0);
    eqops__tn_spec_free(&s);
    eqops_error_clear(&e);
}

/* ---- quantities ------------------------------------------------------------------------------ */

static void quantities(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        long double value;
    } good[] = {
        {"500m", 0.5L},
        {"2Gi", 2147483648.0L},
        {"1e3", 1000.0L},
        {"1E3", 1000.0L},
        {"1e-3", 0.001L},
        {"1e+2", 100.0L},
        {"1.5", 1.5L},
        {"+1", 1.0L},
        {"-1", -1.0L},
        {"0", 0.0L},
        {"1", 1.0L},
        {".5", 0.5L},
        {"1k", 1000.0L},
        {"1Ki", 1024.0L},
        {"100Mi", 104857600.0L},
        {"1.5G", 1.5e9L},
        {"2T", 2e12L},
        {"2Ti", 2199023255552.0L},
        {"3P", 3e15L},
        {"1Pi", 1125899906842624.0L},
        {"250u", 0.00025L},
        {"5n", 5e-9L},
        {"0.1m", 0.0001L},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        long double v = -12345;
        if (!eqops__tn_quantity(good[i].text, &v))
            fail_msg("'%s' refused", good[i].text);
        long double want = good[i].value;
        if (fabsl(v - want) > 1e-12L * fmaxl(1.0L, fabsl(want)))
            fail_msg("'%s' = %Lg, want %Lg", good[i].text, v, want);
        assert_true(eqops__tn_quantity(good[i].text, NULL));
    }
    static const char *const bad[] = {
        "",      "m",   "1..2", "1Q",    "1 Gi", "--1",  "++1",   " 1",
        "1 ",    "Gi",  "1e",   "1e+",   "0x10", "1e3m", "inf",   "nan",
        "1.5.5", "1gi", "1KI",  "+",     ".",    "1,5",  "1e3.5", "2 cores",
        "1i",    "1mi", "e3",   "1e400", "-",    "1.5e", "1e-",   "\xef\xbc\x91",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long double v = 42;
        if (eqops__tn_quantity(bad[i], &v))
            fail_msg("'%s' accepted as %Lg", bad[i], v);
    }
    assert_false(eqops__tn_quantity(NULL, NULL));
    char longq[80];
    memset(longq, '1', 65);
    longq[65] = '\0';
    assert_false(eqops__tn_quantity(longq, NULL)); /* over 64 characters */
    longq[64] = '\0';
    assert_true(eqops__tn_quantity(longq, NULL));
}

/*
 * Regression: lib/tenant/spec.c:58 (eqops__tn_quantity): any 'E' after the number is taken as
 * the start of an exponent, so the Kubernetes suffixes "E" (exa, 10^18) and "Ei" (exbi, 2^60),
 * which the suffix table lists, can never match: "1E" and "2Ei" are refused, and a tiers file
 * using them is refused ("not a Kubernetes quantity").
 */
static void quantity_exa_suffixes(void **state)
{
    (void)state;
    long double v = 0;
    assert_true(eqops__tn_quantity("2Ei", &v));
    assert_true(v == 2.0L * 1152921504606846976.0L);
    assert_true(eqops__tn_quantity("1E", &v));
    assert_true(v == 1e18L);
}

/* ---- diff ------------------------------------------------------------------------------------ */

static int diff_count(const char *desired, const char *live, json_t **fields)
{
    json_t *d = loads(desired), *l = loads(live);
    *fields = json_array();
    int n = eqops__tn_diff(d, l, *fields);
    json_decref(d);
    json_decref(l);
    assert_int_equal((size_t)n, json_array_size(*fields));
    return n;
}

static void diff_fields(void **state)
{
    (void)state;
    json_t *f = NULL;
    const char *quota = "{\"apiVersion\": \"v1\", \"kind\": \"ResourceQuota\", \"metadata\": "
                        "{\"name\": \"tenant-quota\", \"namespace\": \"t\", \"labels\": "
                        "{\"eqops.io/tenant\": \"t\"}}, \"spec\": {\"hard\": {\"requests.cpu\": "
                        "\"1\", \"pods\": \"20\", \"requests.memory\": \"1Gi\"}}}";
    /* equal */
    assert_int_equal(diff_count(quota, quota, &f), 0);
    json_decref(f);
    /* quantities by value */
    assert_int_equal(
        diff_count(
            quota,
            "{\"metadata\": {\"labels\": {\"eqops.io/tenant\": \"t\"}}, \"spec\": {\"hard\": "
            "{\"requests.cpu\": \"1000m\", \"pods\": \"20\", \"requests.memory\": "
            "\"1024Mi\"}}}",
            &f),
        0);
    json_decref(f);
    /* a changed quota field, by its path */
    assert_int_equal(
        diff_count(
            quota,
            "{\"metadata\": {\"labels\": {\"eqops.io/tenant\": \"t\"}}, \"spec\": {\"hard\": "
            "{\"requests.cpu\": \"1\", \"pods\": \"25\", \"requests.memory\": \"1Gi\"}}}",
            &f),
        1);
    assert_string_equal(json_string_value(json_array_get(f, 0)), "spec.hard.pods");
    json_decref(f);
    /* what the server adds is not ours: status, uid, other labels, other hard entries */
    assert_int_equal(
        diff_count(quota,
                   "{\"apiVersion\": \"v1\", \"kind\": \"ResourceQuota\", \"metadata\": {\"name\": "
                   "\"other\", \"uid\": \"u\", \"resourceVersion\": \"7\", \"labels\": "
                   "{\"eqops.io/tenant\": \"t\", \"x\": \"y\"}, \"annotations\": {\"a\": \"b\"}}, "
                   "\"spec\": {\"hard\": {\"requests.cpu\": \"1\", \"pods\": \"20\", "
                   "\"requests.memory\": \"1Gi\", \"services\": \"5\"}, \"scopes\": []}, "
                   "\"status\": {\"used\": {\"pods\": \"3\"}}}",
                   &f),
        0);
    json_decref(f);
    /* a deleted hard entry, a missing spec */
    assert_int_equal(
        diff_count(
            quota,
            "{\"metadata\": {\"labels\": {\"eqops.io/tenant\": \"t\"}}, \"spec\": {\"hard\": "
            "{\"requests.cpu\": \"1\", \"pods\": \"20\"}}}",
            &f),
        1);
    assert_string_equal(json_string_value(json_array_get(f, 0)), "spec.hard.requests.memory");
    json_decref(f);
    assert_int_equal(
        diff_count(quota, "{\"metadata\": {\"labels\": {\"eqops.io/tenant\": \"t\"}}}", &f), 1);
    assert_string_equal(json_string_value(json_array_get(f, 0)), "spec");
    json_decref(f);
    /* labels compared one by one; a live object without labels misses every one */
    assert_int_equal(
        diff_count("{\"metadata\": {\"labels\": {\"a\": \"1\", \"b\": \"x\"}}}",
                   "{\"metadata\": {\"labels\": {\"a\": \"1\", \"b\": \"y\", \"c\": \"z\"}}}", &f),
        1);
    assert_string_equal(json_string_value(json_array_get(f, 0)), "metadata.labels.b");
    json_decref(f);
    assert_int_equal(diff_count("{\"metadata\": {\"labels\": {\"a\": \"1\", \"b\": \"x\"}}}",
                                "{\"metadata\": {\"name\": \"n\"}}", &f),
                     2);
    assert_string_equal(json_string_value(json_array_get(f, 0)), "metadata.labels.a");
    assert_string_equal(json_string_value(json_array_get(f, 1)), "metadata.labels.b");
    json_decref(f);
    assert_int_equal(diff_count("{\"metadata\": {\"labels\": {\"a\": \"1\"}}}", "{}", &f), 1);
    json_decref(f);
    /* lists: a missing element, a changed one, an extra one; reported by the list's path */
    const char *np = "{\"spec\": {\"podSelector\": {}, \"policyTypes\": [\"Ingress\", \"Egress\"], "
                     "\"egress\": [{\"ports\": [{\"protocol\": \"UDP\", \"port\": 53}]}]}}";
    assert_int_equal(
        diff_count(np,
                   "{\"spec\": {\"policyTypes\": [\"Ingress\", \"Egress\"], "
                   "\"egress\": [{\"ports\": [{\"protocol\": \"UDP\", \"port\": 53}]}]}}",
                   &f),
        0); /* an empty object equals an absent one */
    json_decref(f);
    assert_int_equal(
        diff_count(np,
                   "{\"spec\": {\"podSelector\": {}, \"policyTypes\": [\"Ingress\"], "
                   "\"egress\": [{\"ports\": [{\"protocol\": \"UDP\", \"port\": 53}]}]}}",
                   &f),
        1);
    assert_string_equal(json_string_value(json_array_get(f, 0)), "spec.policyTypes");
    json_decref(f);
    assert_int_equal(diff_count(np,
                                "{\"spec\": {\"podSelector\": {}, \"policyTypes\": [\"Ingress\", "
                                "\"Egress\", \"Other\"], \"egress\": [{\"ports\": [{\"protocol\": "
                                "\"UDP\", \"port\": 53}]}]}}",
                                &f),
                     1);
    json_decref(f);
    assert_int_equal(diff_count(np,
                                "{\"spec\": {\"podSelector\": {}, \"policyTypes\": [\"Ingress\", "
                                "\"Egress\"], \"egress\": [{\"ports\": [{\"protocol\": \"UDP\", "
                                "\"port\": 54}]}]}}",
                                &f),
                     1);
    assert_string_equal(json_string_value(json_array_get(f, 0)), "spec.egress");
    json_decref(f);
    /* a number the server gives back as a string is the same number */
    assert_int_equal(diff_count(np,
                                "{\"spec\": {\"podSelector\": {}, \"policyTypes\": [\"Ingress\", "
                                "\"Egress\"], \"egress\": [{\"ports\": [{\"protocol\": \"UDP\", "
                                "\"port\": \"53\"}]}]}}",
                                &f),
                     0);
    json_decref(f);
    /* a type change */
    assert_int_equal(
        diff_count("{\"spec\": {\"a\": {\"b\": \"c\"}}}", "{\"spec\": {\"a\": \"c\"}}", &f), 1);
    assert_string_equal(json_string_value(json_array_get(f, 0)), "spec.a");
    json_decref(f);
    /* fields are appended to what is there; the count is of the new ones */
    json_t *d = loads("{\"spec\": {\"x\": \"1\"}}"), *l = loads("{\"spec\": {\"x\": \"2\"}}");
    f = json_pack("[s]", "earlier");
    assert_int_equal(eqops__tn_diff(d, l, f), 1);
    assert_int_equal(json_array_size(f), 2);
    json_decref(f);
    json_decref(d);
    json_decref(l);

    /* every rendered object equals itself, and differs from the tier's after a quota edit */
    tn_spec s;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops__tn_spec_parse(&s, env->tiers, ACME_YAML, strlen(ACME_YAML), "spec", &e),
                     0);
    tn_objects objs = {.n = 0};
    assert_int_equal(eqops__tn_render_namespace(&objs, &s, &e), 0);
    assert_int_equal(objs.n, 10);
    for (size_t i = 0; i < objs.n; i++) {
        f = json_array();
        json_t *live = json_deep_copy(objs.v[i].obj);
        assert_int_equal(eqops__tn_diff(objs.v[i].obj, live, f), 0);
        if (strcmp(objs.v[i].step, "quota") == 0) {
            json_object_set_new(at(live, "spec|hard"), "pods", json_string("21"));
            assert_int_equal(eqops__tn_diff(objs.v[i].obj, live, f), 1);
            assert_string_equal(json_string_value(json_array_get(f, 0)), "spec.hard.pods");
        }
        json_decref(live);
        json_decref(f);
    }
    assert_string_equal(objs.v[0].step, "namespace");
    eqops__tn_objects_free(&objs);
    eqops__tn_spec_free(&s);
}

/*
 * Regression: lib/tenant/render.c:235 (same_scalar): every pair of strings that both parse as
 * quantities is compared by value, not only the quantity fields. A namespace label changed
 * from "0100" to "100" (or "1e3" to "1000"), or an Argo CD targetRevision changed from "1.10"
 * to "1.1", shows no difference, so plan/drift say "none" and apply never makes the change.
 */
static void diff_non_quantity_strings(void **state)
{
    (void)state;
    json_t *f = NULL;
    int n = diff_count("{\"metadata\": {\"labels\": {\"cost-center\": \"0100\"}}}",
                       "{\"metadata\": {\"labels\": {\"cost-center\": \"100\"}}}", &f);
    json_decref(f);
    assert_int_equal(n, 1);
    n = diff_count("{\"spec\": {\"source\": {\"targetRevision\": \"1.10\"}}}",
                   "{\"spec\": {\"source\": {\"targetRevision\": \"1.1\"}}}", &f);
    json_decref(f);
    assert_int_equal(n, 1);
}

/* ---- operations that stop before any request ------------------------------------------------- */

static void destroy_needs_confirmation(void **state)
{
    (void)state;
    eqops_tenant_run_options o = EQOPS_TENANT_RUN_OPTIONS_INIT;
    o.progress = count_progress;
    progress_calls = 0;
    const char *confirms[] = {NULL, "acme", "solo ", "SOLO", ""};
    for (size_t i = 0; i < sizeof(confirms) / sizeof(confirms[0]); i++) {
        char sentinel = 0, *out = &sentinel;
        eqops_error e = EQOPS_ERROR_INIT;
        o.confirm = confirms[i];
        assert_int_equal(eqops_tenant_destroy(&out, env, SOLO_YAML, &o, &e), EQOPS_EINVAL);
        assert_null(out);
        assert_string_equal(e.field, "confirm");
        out = &sentinel;
        assert_int_equal(eqops_tenant_destroy(&out, env, SOLO_YAML, NULL, &e), EQOPS_EINVAL);
        assert_null(out);
        assert_string_equal(e.field, "confirm");
    }
    assert_int_equal(progress_calls, 0);
    /* the message names the tenant (it once read the name from the freed spec: "(null)") */
    char *res = NULL;
    eqops_error m = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_tenant_destroy(&res, env, SOLO_YAML, NULL, &m), EQOPS_EINVAL);
    if (strstr(m.message, "tenant solo ") == NULL)
        fail_msg("message: '%s'", m.message);
    /* run options and the spec are checked before anything else, for every operation */
    char sentinel = 0, *out = &sentinel;
    eqops_error e = EQOPS_ERROR_INIT;
    o.confirm = NULL;
    o.version = EQOPS_TENANT_RUN_OPTIONS_VERSION + 1;
    assert_int_equal(eqops_tenant_plan(&out, env, SOLO_YAML, &o, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_string_equal(e.field, "opts.version");
    o.version = 1;
    o.cluster_parallel = 17;
    out = &sentinel;
    assert_int_equal(eqops_tenant_apply(&out, env, SOLO_YAML, &o, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_string_equal(e.field, "cluster_parallel");
    o.cluster_parallel = 0;
    out = &sentinel;
    assert_int_equal(eqops_tenant_reconcile(&out, env, "name: Bad\n", &o, &e), EQOPS_EINVAL);
    assert_null(out);
    size_t drifted = 7;
    out = &sentinel;
    assert_int_equal(eqops_tenant_drift(&out, NULL, env, SOLO_YAML, &o, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_tenant_drift(&out, &drifted, env, "tier: small\n", &o, &e),
                     EQOPS_EINVAL);
    assert_null(out);
    assert_int_equal(drifted, 0);
    assert_string_equal(e.field, "name");
    out = &sentinel;
    assert_int_equal(eqops_tenant_status(&out, env, NULL, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_int_equal(eqops_tenant_plan(NULL, env, SOLO_YAML, &o, &e), EQOPS_EINVAL);
    out = &sentinel;
    assert_int_equal(eqops_tenant_plan(&out, NULL, SOLO_YAML, &o, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_int_equal(progress_calls, 0);
    eqops_error_clear(&e);
}

static void fleet_checks_first(void **state)
{
    (void)state;
    eqops_tenant_run_options o = EQOPS_TENANT_RUN_OPTIONS_INIT;
    o.progress = count_progress;
    progress_calls = 0;
    char sentinel = 0, *out = &sentinel;
    size_t failed = 9;
    eqops_error e = EQOPS_ERROR_INIT;
    /* the operation */
    make_dir("fleet-dup");
    const char *dir = in_tmp("fleet-dup");
    static const char *const bad_ops[] = {"explode", "", "Plan", "list", NULL};
    for (size_t i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++) {
        out = &sentinel;
        failed = 9;
        assert_int_equal(eqops_tenant_fleet(&out, &failed, env, bad_ops[i], dir, &o, &e),
                         EQOPS_EINVAL);
        assert_null(out);
        assert_int_equal(failed, 0);
        assert_string_equal(e.field, "operation");
    }
    out = &sentinel;
    assert_int_equal(eqops_tenant_fleet(&out, &failed, env, "plan", NULL, &o, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_string_equal(e.field, "dir");
    assert_int_equal(eqops_tenant_fleet(&out, NULL, env, "plan", dir, &o, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_tenant_fleet(NULL, &failed, env, "plan", dir, &o, &e), EQOPS_EINVAL);
    out = &sentinel;
    assert_int_equal(eqops_tenant_fleet(&out, &failed, NULL, "plan", dir, &o, &e), EQOPS_EINVAL);
    assert_null(out);
    /* destroy needs the directory as confirmation */
    out = &sentinel;
    o.confirm = "acme-power";
    assert_int_equal(eqops_tenant_fleet(&out, &failed, env, "destroy", dir, &o, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_string_equal(e.field, "confirm");
    o.confirm = NULL;
    /* a directory that is not there */
    out = &sentinel;
    assert_int_equal(eqops_tenant_fleet(&out, &failed, env, "plan", in_tmp("no-such-dir"), &o, &e),
                     EQOPS_ENOTFOUND);
    assert_null(out);

    /* two specs of one tenant: refused before anything is asked */
    char path[512];
    snprintf(path, sizeof(path), "%s/a.yaml", dir);
    write_file(path, "name: acme-power\ntier: small\nclusters: [{name: a, context: ctx-missing}]\n"
                     "database: {enabled: false}\n");
    snprintf(path, sizeof(path), "%s/b.json", dir);
    write_file(path, "{\"name\": \"acme-power\", \"tier\": \"large\", \"clusters\": [{\"name\": "
                     "\"b\", \"context\": \"ctx-other\"}], \"database\": {\"enabled\": false}}");
    snprintf(path, sizeof(path), "%s/notes.txt", dir); /* not a spec: ignored */
    write_file(path, "not: [a spec\n");
    static const char *const ops[] = {"plan", "apply", "drift", "reconcile", "status"};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        out = &sentinel;
        failed = 9;
        assert_int_equal(eqops_tenant_fleet(&out, &failed, env, ops[i], dir, &o, &e), EQOPS_EINVAL);
        assert_null(out);
        assert_int_equal(failed, 0);
        assert_string_equal(e.field, "name");
        assert_non_null(strstr(e.message, "acme-power"));
    }
    o.confirm = dir;
    out = &sentinel;
    assert_int_equal(eqops_tenant_fleet(&out, &failed, env, "destroy", dir, &o, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_string_equal(e.field, "name");
    o.confirm = NULL;
    /* a spec that does not check stops the fleet, naming its file */
    snprintf(path, sizeof(path), "%s/b.json", dir);
    write_file(path, "{\"name\": \"north-wind\", \"tier\": \"gold\", \"clusters\": [{\"name\": "
                     "\"a\", \"context\": \"c\"}]}");
    out = &sentinel;
    assert_int_equal(eqops_tenant_fleet(&out, &failed, env, "apply", dir, &o, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_string_equal(e.field, "tier");
    assert_non_null(strstr(e.message, "b.json"));
    assert_int_equal(progress_calls, 0);

    /* a tiers file among the specs is not a spec */
    make_dir("fleet-tiers");
    dir = in_tmp("fleet-tiers");
    snprintf(path, sizeof(path), "%s/tiers.yaml", dir);
    write_file(path, TIERS);
    snprintf(path, sizeof(path), "%s/solo.yaml", dir);
    write_file(path, SOLO_YAML);
    out = NULL;
    failed = 9;
    int rc = eqops_tenant_fleet(&out, &failed, env, "plan", dir, &o, &e);
    if (rc != 0)
        fail_msg("fleet over specs and tiers: %d %s", rc, e.message);
    json_t *doc = loads(out);
    eqops_free(out);
    assert_string_equal(str_at(doc, "operation"), "plan");
    assert_int_equal(json_array_size(at(doc, "tenants")), 1);
    assert_string_equal(str_at(doc, "tenants|0|tenant"), "solo");
    /* its one cluster is a context the kubeconfig lacks: that tenant failed, locally */
    assert_int_equal(failed, 1);
    assert_int_equal(json_integer_value(at(doc, "failed")), 1);
    assert_int_equal(json_integer_value(at(doc, "ok")), 0);
    assert_true(json_is_false(at(doc, "tenants|0|ok")));
    assert_non_null(strstr(str_at(doc, "tenants|0|error"), "ctx-missing"));
    json_decref(doc);
    /* an empty directory is an empty run */
    make_dir("fleet-empty");
    out = NULL;
    assert_int_equal(
        eqops_tenant_fleet(&out, &failed, env, "status", in_tmp("fleet-empty"), &o, &e), 0);
    doc = loads(out);
    eqops_free(out);
    assert_int_equal(json_array_size(at(doc, "tenants")), 0);
    assert_int_equal(failed, 0);
    json_decref(doc);
    eqops_error_clear(&e);
}

/* Prefixed messages keep a separator: the tiers file's path, the cluster's name (they once ran
 * together: "/tmp/x/tiers.yamltiers.small...", "cluster onlycontext: ..."). */
static void error_prefixes_separated(void **state)
{
    (void)state;
    const char *path = in_tmp("sep-tiers.yaml");
    write_file(path, "tiers: {small: {quota: {pods: 1Q}}}\n");
    eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
    o.tiers_file = path;
    eqops_tenant_env *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_tenant_env_new(&out, &o, &e), EQOPS_EINVAL);
    char want[400];
    snprintf(want, sizeof(want), "%s: ", path);
    if (strncmp(e.message, want, strlen(want)) != 0)
        fail_msg("tiers: '%s'", e.message);
    /* a plan that fails locally: the tenant's cluster names a context the kubeconfig lacks */
    make_dir("sep-fleet");
    snprintf(want, sizeof(want), "%s/solo.yaml", in_tmp("sep-fleet"));
    write_file(want, SOLO_YAML);
    char *res = NULL;
    size_t failed = 0;
    assert_int_equal(eqops_tenant_fleet(&res, &failed, env, "plan", in_tmp("sep-fleet"), NULL, &e),
                     0);
    json_t *doc = loads(res);
    eqops_free(res);
    const char *msg = str_at(doc, "tenants|0|error");
    bool glued = msg == NULL || strstr(msg, "cluster only: ") == NULL;
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", msg ? msg : "(none)");
    json_decref(doc);
    if (glued)
        fail_msg("plan: '%s'", copy);
}

/* eqops__err_field() starts the message with "<field>: "; the message does not say it again
 * ("database.port: database.port: must be ..." before 716aafc). */
static void field_named_once(void **state)
{
    (void)state;
    static const char *const specs[] = {
        HEAD ONE_CLUSTER "database: {port: 0}\n",
        "name: acme-power\ntier: gold\n" ONE_CLUSTER,
        "name: Acme\ntier: small\n" ONE_CLUSTER,
        HEAD ONE_CLUSTER "labels: {team: 'a b'}\n",
        HEAD "clusters: [{name: a, context: c}, {name: b, context: c}]\n",
    };
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        char *out = NULL;
        eqops_error e = EQOPS_ERROR_INIT;
        assert_int_equal(eqops_tenant_spec_check(&out, env, specs[i], &e), EQOPS_EINVAL);
        char twice[300];
        snprintf(twice, sizeof(twice), "%s: %s", e.field, e.field);
        if (strstr(e.message, twice) != NULL)
            fail_msg("spec %zu: '%s'", i, e.message);
    }
    char *out = NULL;
    size_t failed = 0;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_tenant_fleet(&out, &failed, env, "explode", tmpdir, NULL, &e),
                     EQOPS_EINVAL);
    if (strstr(e.message, "operation: operation") != NULL)
        fail_msg("fleet: '%s'", e.message);
    eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
    o.concurrency = 99;
    eqops_tenant_env *bad = NULL;
    assert_int_equal(eqops_tenant_env_new(&bad, &o, &e), EQOPS_EINVAL);
    if (strstr(e.message, "concurrency: concurrency") != NULL)
        fail_msg("env: '%s'", e.message);
}

/* ---- allocation failures --------------------------------------------------------------------- */

struct check_ctx {
    char *checked, *rendered;
};

static int op_check_render(void *p)
{
    struct check_ctx *c = p;
    int rc = eqops_tenant_spec_check(&c->checked, env, ACME_YAML, NULL);
    if (rc == 0)
        rc = eqops_tenant_render(&c->rendered, env, ACME_JSON, "eu-north", NULL);
    return rc;
}

static void free_check(void *p)
{
    struct check_ctx *c = p;
    eqops_free(c->checked);
    eqops_free(c->rendered);
    c->checked = c->rendered = NULL;
}

static int op_env_new(void *p)
{
    eqops_tenant_env **e = p;
    eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
    o.tiers_file = tiers_path;
    o.kubeconfig = kubeconfig_path;
    o.pg_conninfo = "host=/nonexistent";
    static const char *const reserved[] = {"billing", "team-*", NULL};
    o.reserved_names = reserved;
    return eqops_tenant_env_new(e, &o, NULL);
}

static void free_env(void *p)
{
    eqops_tenant_env **e = p;
    eqops_tenant_env_free(*e);
    *e = NULL;
}

static void allocation_failures_env_new(void **state)
{
    (void)state;
    eqops_tenant_env *e = NULL;
    fa_install();
    long points = fa_loop(op_env_new, free_env, &e, EQOPS_ENOMEM, false);
    fa_uninstall();
    printf("env_new: %ld allocation failure points\n", points);
    assert_true(points > 20);
}

/*
 * Regression: lib/tenant/render.c:95-102 (with): when `obj` is NULL (its object() failed to
 * allocate) the `value` passed in is neither attached nor released, so every failed
 * allocation inside object()/meta() leaks the value: 272 of the 1193 failure points of this
 * loop leak (render.c lines 109, 114, 118, 126, 135, 144, 150-158, 202, 174, 184; the first at
 * failing allocation ~330 leaks the ResourceQuota's spec). With `json_decref(value)` when obj
 * is NULL, all 1193 points end in ENOMEM or success with nothing left.
 */
static void allocation_failures_render(void **state)
{
    (void)state;
    struct check_ctx c = {NULL, NULL};
    static const int codes[] = {EQOPS_ENOMEM, 0};
    long outcomes[2] = {0, 0};
    fa_install();
    long points = fa_loop_codes(op_check_render, free_check, &c, codes, outcomes, 2);
    fa_uninstall();
    printf("spec_check + render: %ld allocation failure points (%ld ENOMEM, %ld success)\n", points,
           outcomes[0], outcomes[1]);
    assert_true(points > 500);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(render_objects_in_order),
        cmocka_unit_test(render_variants),
        cmocka_unit_test(quantities),
        cmocka_unit_test(quantity_exa_suffixes),
        cmocka_unit_test(diff_fields),
        cmocka_unit_test(diff_non_quantity_strings),
        cmocka_unit_test(destroy_needs_confirmation),
        cmocka_unit_test(fleet_checks_first),
        cmocka_unit_test(error_prefixes_separated),
        cmocka_unit_test(field_named_once),
    };
    const struct CMUnitTest alloc_tests[] = {
        cmocka_unit_test(allocation_failures_env_new),
        cmocka_unit_test(allocation_failures_render),
    };
    bool allocfail = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "allocfail") == 0)
            allocfail = true;
        else {
            fprintf(stderr, "usage: %s [allocfail]\n", argv[0]);
            return 2;
        }
    }
    if (allocfail)
        return cmocka_run_group_tests_name("tenant_render_allocfail", alloc_tests, setup, teardown);
    return cmocka_run_group_tests_name("tenant_render", tests, setup, teardown);
}
