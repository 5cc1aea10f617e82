/*
 * test_spec.c - the tenant module's input without a network: the tiers file, spec validation
 * (every rule names its field), defaults, and the regressions of validation.
 *
 * The tests under "Regression:" comments each hold a bug these tests found in lib/tenant
 * (fixed); the comment says what it was.
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

/* ---- the spec: defaults, YAML and JSON ------------------------------------------------------- */

static void yaml_and_json_normalise_alike(void **state)
{
    (void)state;
    char *a = NULL, *b = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_tenant_spec_check(&a, env, ACME_YAML, &e), 0);
    assert_int_equal(eqops_tenant_spec_check(&b, env, ACME_JSON, &e), 0);
    assert_string_equal(a, b);
    /* the normalised spec checks again to itself */
    char *c = NULL;
    assert_int_equal(eqops_tenant_spec_check(&c, env, a, &e), 0);
    assert_string_equal(a, c);

    json_t *doc = loads(a);
    assert_string_equal(str_at(doc, "apiVersion"), "eqops.io/v1");
    assert_string_equal(str_at(doc, "kind"), "Tenant");
    assert_string_equal(str_at(doc, "name"), "acme-power");
    assert_true(json_is_true(at(doc, "database|enabled")));
    assert_int_equal(json_integer_value(at(doc, "database|connection_limit")), 10); /* the tier's */
    assert_string_equal(str_at(doc, "database|egress_cidr"), "10.20.0.0/16");
    assert_string_equal(str_at(doc, "secrets|kubernetes|name"), "db-credentials");
    assert_null(at(doc, "secrets|aws"));
    assert_string_equal(str_at(doc, "argocd|revision"), "HEAD");
    assert_string_equal(str_at(doc, "argocd|server"), "https://kubernetes.default.svc");
    assert_string_equal(str_at(doc, "clusters|1|eks|region"), "eu-north-1");
    assert_string_equal(str_at(doc, "labels|cost-center"), "4711");
    json_decref(doc);
    eqops_free(a);
    eqops_free(b);
    eqops_free(c);
}

static void defaults_and_overrides(void **state)
{
    (void)state;
    /* the fewest fields: no argocd defaults appear, labels become {} */
    json_t *doc = check_ok(env, "name: acme-power\ntier: bare\n" ONE_CLUSTER);
    assert_true(json_is_true(at(doc, "database|enabled")));
    assert_int_equal(json_integer_value(at(doc, "database|connection_limit")), 20); /* no tier's */
    assert_string_equal(str_at(doc, "secrets|kubernetes|name"), "db-credentials");
    assert_null(at(doc, "argocd"));
    assert_true(json_is_object(at(doc, "labels")) && json_object_size(at(doc, "labels")) == 0);
    json_decref(doc);
    /* what the spec gives wins over the defaults */
    doc =
        check_ok(env, HEAD ONE_CLUSTER
                 "database: {enabled: false, connection_limit: -1, host: db.internal, port: 6432}\n"
                 "secrets: {kubernetes: {name: creds.v2}, aws: {name: eqops/tenants/acme, region: "
                 "eu-west-1}}\n"
                 "argocd: {repo: 'git@git.example.com:acme.git', path: ., revision: v1.4.2, "
                 "server: 'https://10.0.0.1:6443'}\n");
    assert_true(json_is_false(at(doc, "database|enabled")));
    assert_int_equal(json_integer_value(at(doc, "database|connection_limit")), -1);
    assert_int_equal(json_integer_value(at(doc, "database|port")), 6432);
    assert_string_equal(str_at(doc, "secrets|kubernetes|name"), "creds.v2");
    assert_string_equal(str_at(doc, "secrets|aws|name"), "eqops/tenants/acme");
    assert_string_equal(str_at(doc, "argocd|revision"), "v1.4.2");
    assert_string_equal(str_at(doc, "argocd|server"), "https://10.0.0.1:6443");
    json_decref(doc);
    /* the internal reader fills the same into the spec struct */
    tn_spec s;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops__tn_spec_parse(&s, env->tiers, ACME_YAML, strlen(ACME_YAML), "spec", &e),
                     0);
    assert_string_equal(s.name, "acme-power");
    assert_string_equal(s.tier, "small");
    assert_int_equal(s.nclusters, 2);
    assert_string_equal(s.clusters[0].context, "ctx-missing");
    assert_null(s.clusters[0].eks_cluster);
    assert_null(s.clusters[1].context);
    assert_string_equal(s.clusters[1].eks_cluster, "prod-eu");
    assert_true(s.db_enabled);
    assert_int_equal(s.connection_limit, 10);
    assert_null(s.db_host);
    assert_int_equal(s.db_port, 0);
    assert_string_equal(s.k8s_secret, "db-credentials");
    assert_null(s.aws_secret);
    assert_true(s.argocd);
    assert_string_equal(s.argo_revision, "HEAD");
    eqops__tn_spec_free(&s);
    assert_null(s.doc);
    eqops__tn_spec_free(NULL);
}

static void examples_check_and_render(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/../../examples/tenants/tiers.yaml", EQOPS_TEST_SUPPORT_DIR);
    eqops_tenant_env *ex = env_from(path, NULL);
    static const char *const specs[] = {"acme-power.yaml", "north-wind.json", "solar-coop.yaml"};
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        snprintf(path, sizeof(path), "%s/../../examples/tenants/%s", EQOPS_TEST_SUPPORT_DIR,
                 specs[i]);
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(eqops__read_file(&text, &len, path, 1 << 20, NULL), 0);
        json_t *doc = check_ok(ex, text);
        json_decref(doc);
        json_t *objs = render_ok(ex, text, NULL);
        assert_true(json_array_size(objs) >= 9);
        assert_string_equal(str_at(objs, "0|kind"), "Namespace");
        json_decref(objs);
        eqops__free(text);
    }
    eqops_tenant_env_free(ex);
}

/* ---- the spec: names and rules --------------------------------------------------------------- */

static char *spec_named(const json_t *name)
{
    json_t *doc = json_pack("{s:O, s:s, s:[{s:s, s:s}]}", "name", name, "tier", "small", "clusters",
                            "name", "a", "context", "ctx-missing");
    assert_non_null(doc);
    char *dumped = json_dumps(doc, 0);
    json_decref(doc);
    assert_non_null(dumped);
    /* jansson writes DEL raw, which the YAML reader (JSON goes through it too) refuses as a
     * control character before the name is looked at: escape it */
    char *text = malloc(strlen(dumped) * 6 + 1), *w = text;
    assert_non_null(text);
    for (const char *r = dumped; *r; r++) {
        if (*r == 0x7f) {
            memcpy(w, "\\u007f", 6);
            w += 6;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    eqops_free(dumped);
    return text;
}

static void hostile_names_refused(void **state)
{
    (void)state;
    static const char *const names[] = {
        "../../etc/passwd",
        "..",
        "acme/../kube-system",
        "acme'; DROP DATABASE postgres; --",
        "x' OR '1'='1",
        "acme\"power",
        "acme;drop",
        "$(reboot)",
        "`id`",
        "Acme",
        "ACME-POWER",
        "a",
        "",
        "abcdefghijklmnopqrstuvwxyz-0123456789abcd", /* 41 */
        "1acme",
        "-acme",
        "acme-",
        "ac--me",
        "select",
        "user",
        "postgres",
        "template1",
        "acm\xc3\xa9",                /* é */
        "\xef\xbd\x81\xef\xbd\x83me", /* fullwidth a, c */
        "acme\x01",
        "acme\tpower",
        "acme\npower",
        "acme\rpower",
        "acme\x7f",
        "acme power",
        "acme_power",
        "acme.power",
        "kube-system\x1b[0m",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        json_t *n = json_string(names[i]);
        if (n == NULL)
            fail_msg("case %zu: not UTF-8", i);
        char *text = spec_named(n);
        json_decref(n);
        char label[64];
        snprintf(label, sizeof(label), "name case %zu", i);
        check_refused(env, text, EQOPS_EINVAL, "name", NULL, label);
        /* render refuses it the same way */
        char sentinel = 0, *out = &sentinel;
        eqops_error e = EQOPS_ERROR_INIT;
        assert_int_equal(eqops_tenant_render(&out, env, text, NULL, &e), EQOPS_EINVAL);
        assert_null(out);
        assert_string_equal(e.field, "name");
        free(text);
    }
    /* 300 characters, a NUL inside, not a string, missing */
    char long_name[301];
    memset(long_name, 'a', 300);
    long_name[300] = '\0';
    json_t *n = json_string(long_name);
    char *text = spec_named(n);
    check_refused(env, text, EQOPS_EINVAL, "name", "2 to 40", "300 characters");
    json_decref(n);
    free(text);
    n = json_stringn("ac\0me", 5);
    text = spec_named(n);
    check_refused(env, text, EQOPS_EINVAL, "name", "NUL", "NUL inside");
    json_decref(n);
    free(text);
    n = json_integer(5);
    text = spec_named(n);
    check_refused(env, text, EQOPS_EINVAL, "name", "must be a string", "a number");
    json_decref(n);
    free(text);
    check_refused(env, "tier: small\n" ONE_CLUSTER, EQOPS_EINVAL, "name", "required", "no name");
    /* and the good ones of the rule pass */
    json_decref(check_ok(env, "name: a1\ntier: small\n" ONE_CLUSTER));
    json_decref(
        check_ok(env, "name: abcdefghijklmnopqrstuvwxyz-0123456789abc\ntier: small\n" ONE_CLUSTER));
}

static void every_rule_names_its_field(void **state)
{
    (void)state;
    static const struct {
        const char *spec, *field, *words;
    } cases[] = {
        /* clusters */
        {HEAD "clusters: [{name: a, context: c}, {name: b, eks: {cluster: x, region: eu_west}}]\n",
         "clusters[1].eks.region", "AWS region"},
        {HEAD "clusters: [{name: a, eks: {cluster: x, region: euwest1}}]\n",
         "clusters[0].eks.region", "AWS region"},
        {HEAD "clusters: [{name: a, eks: {cluster: 'x y', region: eu-west-1}}]\n",
         "clusters[0].eks.cluster", "EKS cluster name"},
        {HEAD "clusters: [{name: a, eks: {cluster: x}}]\n", "clusters[0].eks.region", "required"},
        {HEAD "clusters: [{name: a, eks: {cluster: x, region: eu-west-1, role: r}}]\n",
         "clusters[0].eks.role", "unknown field"},
        {HEAD "clusters: [{name: a, context: c, eks: {cluster: x, region: eu-west-1}}]\n",
         "clusters[0]", "either context or eks"},
        {HEAD "clusters: [{name: a}]\n", "clusters[0]", "either context or eks"},
        {HEAD "clusters: [{name: a, context: c}, {name: a, context: d}]\n", "clusters[1].name",
         "names another cluster"},
        {HEAD "clusters: [{name: a, context: c}, {name: b, context: c}]\n", "clusters[1]",
         "same cluster"},
        {HEAD "clusters: [{name: a, eks: {cluster: x, region: eu-west-1}}, {name: b, eks: "
              "{cluster: x, region: eu-west-1}}]\n",
         "clusters[1]", "same cluster"},
        {HEAD "clusters: []\n", "clusters", "1 to 16"},
        {HEAD "clusters: {name: a, context: c}\n", "clusters", "must be a list"},
        {HEAD, "clusters", "required"},
        {HEAD "clusters: [5]\n", "clusters[0]", "must be an object"},
        {HEAD "clusters: [{name: Bad, context: c}]\n", "clusters[0].name", "lowercase"},
        {HEAD "clusters: [{name: a-, context: c}]\n", "clusters[0].name", "lowercase"},
        {HEAD "clusters: [{name: a, context: c, zone: x}]\n", "clusters[0].zone", "unknown field"},
        {HEAD "clusters: [{name: a, context: \"c\\td\"}]\n", "clusters[0].context", "printable"},
        {HEAD "clusters: [{name: a, contxt: c}]\n", "clusters[0].contxt", "did you mean context"},
        /* labels */
        {HEAD ONE_CLUSTER "labels: {eqops.io/x: y}\n", "labels.eqops.io/x", "set by eqops"},
        {HEAD ONE_CLUSTER "labels: {eqops.io/tenant: other}\n", "labels.eqops.io/tenant",
         "set by eqops"},
        {HEAD ONE_CLUSTER "labels: {pod-security.kubernetes.io/enforce: privileged}\n",
         "labels.pod-security.kubernetes.io/enforce", "set by eqops"},
        {HEAD ONE_CLUSTER "labels: {app.kubernetes.io/managed-by: helm}\n",
         "labels.app.kubernetes.io/managed-by", "set by eqops"},
        {HEAD ONE_CLUSTER "labels: {kubernetes.io/metadata.name: x}\n",
         "labels.kubernetes.io/metadata.name", "set by eqops"},
        {HEAD ONE_CLUSTER "labels: {team: grid ops}\n", "labels.team", "label value"},
        {HEAD ONE_CLUSTER "labels: {team: -grid}\n", "labels.team", "label value"},
        {HEAD ONE_CLUSTER "labels: {team: 5}\n", "labels.team", "label value"},
        {HEAD ONE_CLUSTER "labels: {team: "
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n",
         "labels.team", "label value"},
        {HEAD ONE_CLUSTER "labels: {'bad key': x}\n", "labels.bad key", "not a label key"},
        {HEAD ONE_CLUSTER "labels: {'a/b/c': x}\n", "labels.a/b/c", "not a label key"},
        {HEAD ONE_CLUSTER "labels: [team]\n", "labels", "must be an object"},
        /* database */
        {HEAD ONE_CLUSTER "database: {connection_limit: 10001}\n", "database.connection_limit",
         "from -1 to 10000"},
        {HEAD ONE_CLUSTER "database: {connection_limit: -2}\n", "database.connection_limit",
         "from -1 to 10000"},
        {HEAD ONE_CLUSTER "database: {connection_limit: 0}\n", "database.connection_limit",
         "nobody"},
        {HEAD ONE_CLUSTER "database: {connection_limit: 1.5}\n", "database.connection_limit",
         "whole number"},
        {HEAD ONE_CLUSTER "database: {connection_limit: '20'}\n", "database.connection_limit",
         "must be a number"},
        {HEAD ONE_CLUSTER "database: {egress_cidr: 10.0.0.0/33}\n", "database.egress_cidr", "CIDR"},
        {HEAD ONE_CLUSTER "database: {egress_cidr: 10.0.0/8}\n", "database.egress_cidr", "CIDR"},
        {HEAD ONE_CLUSTER "database: {egress_cidr: 10.0.0.0}\n", "database.egress_cidr", "CIDR"},
        {HEAD ONE_CLUSTER "database: {egress_cidr: 10.0.0.0/}\n", "database.egress_cidr", "CIDR"},
        {HEAD ONE_CLUSTER "database: {egress_cidr: 10.0.0.0/8x}\n", "database.egress_cidr", "CIDR"},
        {HEAD ONE_CLUSTER "database: {egress_cidr: 'fd00::/129'}\n", "database.egress_cidr",
         "CIDR"},
        {HEAD ONE_CLUSTER "database: {egress_cidr: banana/8}\n", "database.egress_cidr", "CIDR"},
        {HEAD ONE_CLUSTER "database: {port: 0}\n", "database.port", "from 1 to 65535"},
        {HEAD ONE_CLUSTER "database: {port: 65536}\n", "database.port", "from 1 to 65535"},
        {HEAD ONE_CLUSTER "database: {host: \"db'; x\"}\n", "database.host", "host name"},
        {HEAD ONE_CLUSTER "database: {host: 'user@db'}\n", "database.host", "host name"},
        {HEAD ONE_CLUSTER "database: {settings: {Work-Mem: 8MB}}\n", "database.settings.Work-Mem",
         "setting name"},
        {HEAD ONE_CLUSTER "database: {settings: {work_mem: \"8MB\\nx\"}}\n",
         "database.settings.work_mem", "one line"},
        {HEAD ONE_CLUSTER "database: {settings: {work_mem: [8MB]}}\n", "database.settings.work_mem",
         "string, number or boolean"},
        {HEAD ONE_CLUSTER "database: {enabled: 'yes'}\n", "database.enabled", "true or false"},
        {HEAD ONE_CLUSTER "database: {colour: blue}\n", "database.colour", "unknown field"},
        {HEAD ONE_CLUSTER "database: 5\n", "database", "must be an object"},
        /* argocd */
        {HEAD ONE_CLUSTER "argocd: {repo: 'https://git.example.com/a.git', path: ../x}\n",
         "argocd.path", "'..'"},
        {HEAD ONE_CLUSTER "argocd: {repo: 'https://git.example.com/a.git', path: deploy/../../x}\n",
         "argocd.path", "'..'"},
        {HEAD ONE_CLUSTER "argocd: {repo: 'https://git.example.com/a.git', path: deploy/..}\n",
         "argocd.path", "'..'"},
        {HEAD ONE_CLUSTER "argocd: {repo: 'https://git.example.com/a.git', path: /etc}\n",
         "argocd.path", "relative path"},
        {HEAD ONE_CLUSTER "argocd: {repo: 'https://git.example.com/a b.git', path: x}\n",
         "argocd.repo", "no spaces"},
        {HEAD ONE_CLUSTER "argocd: {repo: 'ftp://git.example.com/a.git', path: x}\n", "argocd.repo",
         "repository URL"},
        {HEAD ONE_CLUSTER "argocd: {repo: 'file:///etc', path: x}\n", "argocd.repo",
         "repository URL"},
        {HEAD ONE_CLUSTER "argocd: {path: x}\n", "argocd.repo", "required"},
        {HEAD ONE_CLUSTER "argocd: {repo: 'https://git.example.com/a.git'}\n", "argocd.path",
         "required"},
        {HEAD ONE_CLUSTER "argocd: {repo: 'https://x/a.git', path: x, server: 'http://x'}\n",
         "argocd.server", "https://"},
        {HEAD ONE_CLUSTER "argocd: {repo: 'https://x/a.git', path: x, revision: 'a b'}\n",
         "argocd.revision", "without spaces"},
        {HEAD ONE_CLUSTER "argocd: {repo: 'https://x/a.git', path: x, project: p}\n",
         "argocd.project", "unknown field"},
        /* secrets */
        {HEAD ONE_CLUSTER "secrets: {aws: {name: 'bad name!'}}\n", "secrets.aws.name",
         "letters, digits"},
        {HEAD ONE_CLUSTER "secrets: {aws: {name: x, region: mars}}\n", "secrets.aws.region",
         "AWS region"},
        {HEAD ONE_CLUSTER "secrets: {aws: {region: eu-west-1}}\n", "secrets.aws.name", "required"},
        {HEAD ONE_CLUSTER "secrets: {kubernetes: {name: Bad_Name}}\n", "secrets.kubernetes.name",
         "DNS subdomain"},
        {HEAD ONE_CLUSTER "secrets: {kubernetes: {name: 'a..b'}}\n", "secrets.kubernetes.name",
         "DNS subdomain"},
        {HEAD ONE_CLUSTER "secrets: {vault: {}}\n", "secrets.vault", "unknown field"},
        {HEAD ONE_CLUSTER "secrets: [x]\n", "secrets", "must be an object"},
        /* the top level */
        {HEAD ONE_CLUSTER "clusterz: []\n", "clusterz", "did you mean clusters"},
        {HEAD ONE_CLUSTER "labls: {}\n", "labls", "did you mean labels"},
        {HEAD ONE_CLUSTER "databse: {}\n", "databse", "did you mean database"},
        {HEAD ONE_CLUSTER "argo: {}\n", "argo", "did you mean argocd"},
        {HEAD ONE_CLUSTER "apiVersion: eqops.io/v2\n", "apiVersion", "eqops.io/v1"},
        {HEAD ONE_CLUSTER "kind: Namespace\n", "kind", "Tenant"},
        {"name: acme-power\ntier: gold\n" ONE_CLUSTER, "tier", "not a tier"},
        {"name: acme-power\n" ONE_CLUSTER, "tier", "required"},
        {"name: acme-power\ntier: [small]\n" ONE_CLUSTER, "tier", "must be a string"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char label[64];
        snprintf(label, sizeof(label), "rule case %zu", i);
        check_refused(env, cases[i].spec, EQOPS_EINVAL, cases[i].field, cases[i].words, label);
    }
    /* 16 clusters are fine, 17 are not */
    char text[4096];
    int n = snprintf(text, sizeof(text), HEAD "clusters:\n");
    for (int i = 0; i < 17; i++) {
        n += snprintf(text + n, sizeof(text) - (size_t)n, "  - {name: c%d, context: ctx-%d}\n", i,
                      i);
        if (i == 15)
            json_decref(check_ok(env, text));
    }
    check_refused(env, text, EQOPS_EINVAL, "clusters", "1 to 16", "17 clusters");
    /* documents that are not a spec */
    check_refused(env, "[1, 2]", EQOPS_EINVAL, NULL, "must be an object", "a list");
    check_refused(env, "", EQOPS_EINVAL, NULL, "must be an object", "empty");
    check_refused(env, "{\"name\": ", EQOPS_EINVAL, NULL, NULL, "broken JSON");
    check_refused(env, "name: [\n", EQOPS_EINVAL, NULL, NULL, "broken YAML");
    check_refused(env, HEAD ONE_CLUSTER "name: other\n", EQOPS_EINVAL, NULL, "duplicate key",
                  "duplicate key");
    check_refused(env, HEAD ONE_CLUSTER "---\n" HEAD ONE_CLUSTER, EQOPS_EINVAL, NULL, NULL,
                  "two documents");
}

static void arguments_checked(void **state)
{
    (void)state;
    char sentinel = 0, *out = &sentinel;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_tenant_spec_check(NULL, env, ACME_YAML, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_tenant_spec_check(&out, NULL, ACME_YAML, &e), EQOPS_EINVAL);
    assert_null(out);
    out = &sentinel;
    assert_int_equal(eqops_tenant_spec_check(&out, env, NULL, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_string_equal(e.field, "spec");
    out = &sentinel;
    assert_int_equal(eqops_tenant_render(&out, env, NULL, NULL, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_int_equal(eqops_tenant_render(NULL, env, ACME_YAML, NULL, &e), EQOPS_EINVAL);
    /* an env without a tiers file knows no tier */
    eqops_tenant_env *bare = env_from(NULL, NULL);
    check_refused(bare, ACME_YAML, EQOPS_EINVAL, "tier", "tiers file", "no tiers file");
    eqops_tenant_env_free(bare);
    eqops_error_clear(&e);
}

/* ---- the tiers file -------------------------------------------------------------------------- */

static void env_options_checked(void **state)
{
    (void)state;
    eqops_tenant_env *sentinel = (eqops_tenant_env *)&sentinel, *out = sentinel;
    eqops_error e = EQOPS_ERROR_INIT;
    /* NULL options are the defaults, as for every constructor: an env that can only list */
    assert_int_equal(eqops_tenant_env_new(&out, NULL, &e), 0);
    assert_non_null(out);
    eqops_tenant_env_free(out);
    out = sentinel;
    assert_int_equal(eqops_tenant_env_new(NULL, NULL, &e), EQOPS_EINVAL);

    eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
    o.tiers_file = tiers_path;
    o.version = 0;
    out = sentinel;
    assert_int_equal(eqops_tenant_env_new(&out, &o, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_string_equal(e.field, "opts.version");
    o.version = EQOPS_TENANT_ENV_OPTIONS_VERSION + 1;
    out = sentinel;
    assert_int_equal(eqops_tenant_env_new(&out, &o, &e), EQOPS_EINVAL);
    assert_null(out);

    o.version = 1;
    o.concurrency = 99;
    out = sentinel;
    assert_int_equal(eqops_tenant_env_new(&out, &o, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_string_equal(e.field, "concurrency");
    o.concurrency = -1;
    assert_int_equal(eqops_tenant_env_new(&out, &o, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "concurrency");
    o.concurrency = 32;
    assert_int_equal(eqops_tenant_env_new(&out, &o, &e), 0);
    eqops_tenant_env_free(out);
    o.concurrency = 0;
    o.lock_wait_ms = -1;
    out = sentinel;
    assert_int_equal(eqops_tenant_env_new(&out, &o, &e), EQOPS_EINVAL);
    assert_null(out);
    o.lock_wait_ms = 0;

    o.tiers_file = in_tmp("no-such-tiers.yaml");
    out = sentinel;
    assert_int_equal(eqops_tenant_env_new(&out, &o, &e), EQOPS_ENOTFOUND);
    assert_null(out);
    assert_non_null(strstr(e.message, "no-such-tiers.yaml"));
    eqops_error_clear(&e);
}

static void bad_tiers_files_refused(void **state)
{
    (void)state;
    static const struct {
        const char *tiers, *field, *words;
    } cases[] = {
        {"tiers: {small: {quota: {requests.cpu: 2 cores}}}\n", "tiers.small.quota.requests.cpu",
         "Kubernetes quantity"},
        {"tiers: {small: {quota: {requests.cpu: '-2'}}}\n", "tiers.small.quota.requests.cpu",
         "negative"},
        {"tiers: {small: {quota: {pods: -1}}}\n", "tiers.small.quota.pods", "negative"},
        {"tiers: {small: {quota: {pods: '1'}, connection_limit: 0}}\n",
         "tiers.small.connection_limit", "nobody"},
        {"tiers: {small: {quota: {pods: \"1\"}, quotas: {}}}\n", "tiers.small.quotas",
         "did you mean quota"},
        {"tiers: {small: {quota: {pods: \"1\"}, pod_security: strict}}\n",
         "tiers.small.pod_security", "restricted, baseline or privileged"},
        {"tiers: {small: {quota: {pods: \"1\"}, pod_security: 1}}\n", "tiers.small.pod_security",
         "must be a string"},
        {"tiers: {small: {quota: {pods: 0.5}}}\n", "tiers.small.quota.pods", "Kubernetes quantity"},
        {"tiers: {small: {quota: {'Bad Key': \"1\"}}}\n", "tiers.small.quota.Bad Key",
         "resource name"},
        {"tiers: {small: {quota: {}}}\n", "tiers.small.quota", "must not be empty"},
        {"tiers: {small: {pod_security: baseline}}\n", "tiers.small.quota", "required"},
        {"tiers: {small: {quota: {pods: \"1\"}, limits: {defaults: {cpu: 1}}}}\n",
         "tiers.small.limits.defaults", "did you mean default"},
        {"tiers: {small: {quota: {pods: \"1\"}, limits: {max: {cpu: 1Q}}}}\n",
         "tiers.small.limits.max.cpu", "Kubernetes quantity"},
        {"tiers: {small: {quota: {pods: \"1\"}, limits: {max: 5}}}\n", "tiers.small.limits.max",
         "must be an object"},
        {"tiers: {small: {quota: {pods: \"1\"}, connection_limit: 10001}}\n",
         "tiers.small.connection_limit", "from -1 to 10000"},
        {"tiers: {Small: {quota: {pods: \"1\"}}}\n", "tiers.Small", "tier name"},
        {"tiers: {small: 5}\n", "tiers.small", "must be an object"},
        {"tiers: {}\n", "tiers", "1 to 64 tiers"},
        {"tierz: {small: {quota: {pods: \"1\"}}}\n", NULL, "did you mean tiers"},
        {"[]\n", NULL, "must be an object"},
        {"tiers: [\n", NULL, NULL},
    };
    const char *path = in_tmp("bad-tiers.yaml");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_file(path, cases[i].tiers);
        eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
        o.tiers_file = path;
        eqops_tenant_env *sentinel = (eqops_tenant_env *)&sentinel, *out = sentinel;
        eqops_error e = EQOPS_ERROR_INIT;
        int rc = eqops_tenant_env_new(&out, &o, &e);
        if (rc != EQOPS_EINVAL || out != NULL ||
            (cases[i].field && strcmp(e.field, cases[i].field) != 0) ||
            (cases[i].words && strstr(e.message, cases[i].words) == NULL) ||
            strstr(e.message, "bad-tiers.yaml") == NULL)
            fail_msg("tiers case %zu: rc %d, field '%s' (want '%s'), message '%s' (want '%s')", i,
                     rc, e.field, cases[i].field ? cases[i].field : "", e.message,
                     cases[i].words ? cases[i].words : "");
        eqops_error_clear(&e);
    }
    /* integers are accepted and become strings; every tier name rule passes at 40 */
    write_file(path, "tiers:\n  abcdefghijklmnopqrstuvwxyz-0123456789abc:\n"
                     "    quota: {pods: 20, requests.cpu: 2}\n"
                     "    pod_security: privileged\n");
    eqops_tenant_env *ok = env_from(path, NULL);
    json_t *objs = render_ok(
        ok, "name: acme-power\ntier: abcdefghijklmnopqrstuvwxyz-0123456789abc\n" ONE_CLUSTER, NULL);
    assert_string_equal(str_at(objs, "1|spec|hard|pods"), "20");
    assert_string_equal(str_at(objs, "1|spec|hard|requests.cpu"), "2");
    assert_string_equal(str_at(objs, "0|metadata|labels|" TN_PSA_ENFORCE), "privileged");
    json_decref(objs);
    eqops_tenant_env_free(ok);
    /* the internal check too */
    json_t *doc = loads("{\"tiers\": {\"t\": {\"quota\": {\"pods\": \"1\"}}}}");
    assert_int_equal(eqops__tn_tiers_check(doc, NULL), 0);
    json_decref(doc);
    assert_int_equal(eqops__tn_tiers_check(NULL, NULL), EQOPS_EINVAL);
}

/* ---- validation gaps (regressions) ------------------------------------------------------------
 */

/*
 * Regression: lib/tenant/spec.c:577-581 and 609-617: a field given as null counts as absent
 * (json.h: "*out untouched when the field is absent and not required"), but the default is
 * only written into the document when the key is missing, and the pointer is then read back
 * from the document: with secrets.kubernetes.name, argocd.revision or argocd.server null,
 * s->k8s_secret / s->argo_revision / s->argo_server become NULL. spec_check passes (showing
 * "name": null), and render then fails with EQOPS_ENOMEM "out of memory" (json_pack of a NULL
 * string), leaking the Secret's "type" value on the way (render.c:202, see with() below);
 * apply would look up the Secret with a NULL name (tenant.c:64). A key left empty in YAML
 * ("revision:") is null too: fuzz_tenant_spec finds this in seconds.
 */
static void null_means_default(void **state)
{
    (void)state;
    static const struct {
        const char *spec, *path, *want;
    } cases[] = {
        {HEAD ONE_CLUSTER "secrets: {kubernetes: {name: null}}\n", "9|metadata|name",
         "db-credentials"},
        {HEAD ONE_CLUSTER "argocd: {repo: 'https://x/a.git', path: a, revision: null}\n",
         "11|spec|source|targetRevision", "HEAD"},
        {HEAD ONE_CLUSTER "argocd: {repo: 'https://x/a.git', path: a, server: null}\n",
         "11|spec|destination|server", "https://kubernetes.default.svc"},
        /* what the fuzzer found: a key left empty in YAML is null */
        {HEAD ONE_CLUSTER "argocd:\n  repo: https://x/a.git\n  path: a\n  revision:\n",
         "11|spec|source|targetRevision", "HEAD"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        eqops_error e = EQOPS_ERROR_INIT;
        int rc = eqops_tenant_render(&out, env, cases[i].spec, NULL, &e);
        if (rc != 0)
            fail_msg("null case %zu: render rc %d (%s)", i, rc, e.message);
        json_t *objs = loads(out);
        eqops_free(out);
        const char *got = str_at(objs, cases[i].path);
        if (got == NULL || strcmp(got, cases[i].want) != 0)
            fail_msg("null case %zu: %s is '%s', want '%s'", i, cases[i].path, got ? got : "NULL",
                     cases[i].want);
        json_decref(objs);
    }
}

/*
 * Regression: lib/tenant/spec.c:187-201 (int_field): for a key present with the value null,
 * eqops__json_number() returns 0 without setting `d` (null counts as absent), and int_field
 * then range-checks and stores the uninitialised `d`. database.connection_limit: null or
 * database.port: null (or a tier's connection_limit: null) give a random outcome: refused
 * with "must be a whole number", or accepted with a garbage value (valgrind: "Conditional jump
 * or move depends on uninitialised value(s)" in int_field).
 */
static void null_number_is_absent(void **state)
{
    (void)state;
    json_t *doc = check_ok(env, HEAD ONE_CLUSTER
                           "database: {connection_limit: null, port: null, egress_cidr: "
                           "10.0.0.0/8}\n");
    assert_int_equal(json_integer_value(at(doc, "database|connection_limit")), 10);
    json_decref(doc);
    json_t *objs =
        render_ok(env, HEAD ONE_CLUSTER "database: {port: null, egress_cidr: 10.0.0.0/8}\n", NULL);
    assert_int_equal(json_integer_value(at(objs, "6|spec|egress|0|ports|0|port")), 5432);
    json_decref(objs);
}

/*
 * Regression: lib/tenant/spec.c:654 (spec_labels) and spec.c:523 (database.settings): string
 * values are checked with strlen(), so a value with a NUL inside ("a\u0000b; rm -rf" in JSON,
 * "a\0b" in YAML) passes as its part before the NUL and the whole value, NUL included, goes
 * into the Namespace's labels (and into the ALTER DATABASE settings). Other fields use
 * eqops__json_string(), which refuses NUL.
 */
static void nul_inside_values(void **state)
{
    (void)state;
    check_refused(
        env,
        "{\"name\": \"acme-power\", \"tier\": \"small\", \"clusters\": [{\"name\": \"a\", "
        "\"context\": \"c\"}], \"labels\": {\"team\": \"a\\u0000b; rm -rf\"}}",
        EQOPS_EINVAL, "labels.team", NULL, "NUL in a label value");
    check_refused(env, HEAD ONE_CLUSTER "database: {settings: {statement_timeout: \"a\\0b\"}}\n",
                  EQOPS_EINVAL, "database.settings.statement_timeout", "must not contain NUL",
                  "NUL in a setting");
}

/*
 * Regression: lib/tenant/spec.c:395-397 (cidr_ok): the prefix length is read with strtol(),
 * which skips leading white space and takes a sign, so "10.0.0.0/ 8" and "10.0.0.0/+8" pass
 * the check; the API server refuses them in the NetworkPolicy (after the namespace and the
 * objects before it were already applied).
 */
static void cidr_prefix_syntax(void **state)
{
    (void)state;
    check_refused(env, HEAD ONE_CLUSTER "database: {egress_cidr: '10.0.0.0/ 8'}\n", EQOPS_EINVAL,
                  "database.egress_cidr", NULL, "space before the prefix length");
    check_refused(env, HEAD ONE_CLUSTER "database: {egress_cidr: '10.0.0.0/+8'}\n", EQOPS_EINVAL,
                  "database.egress_cidr", NULL, "sign before the prefix length");
}

/*
 * Regression: lib/tenant/spec.c:491-493 (spec_database): a tier's connection_limit is checked
 * by int_field(), which accepts any whole number (30.0 in JSON or YAML), but only read with
 * json_is_integer(), so a tier with "connection_limit": 30.0 passes the check and is silently
 * ignored: its tenants get 20.
 */
static void tier_connection_limit_real(void **state)
{
    (void)state;
    const char *path = in_tmp("real-tiers.json");
    write_file(path,
               "{\"tiers\": {\"t\": {\"quota\": {\"pods\": \"1\"}, \"connection_limit\": 30.0}}}");
    eqops_tenant_env *e = env_from(path, NULL);
    json_t *doc = check_ok(e, "name: acme-power\ntier: t\n" ONE_CLUSTER);
    eqops_tenant_env_free(e);
    int limit = (int)json_integer_value(at(doc, "database|connection_limit"));
    json_decref(doc);
    assert_int_equal(limit, 30);
}

/*
 * Regression: lib/tenant/spec.c:651-652 (spec_labels): besides the
 * reserved prefixes, every key containing ".kubernetes.io/" is refused, so the recommended
 * labels app.kubernetes.io/part-of, app.kubernetes.io/component, ... can never be given,
 * and the reserved entry "app.kubernetes.io/managed-by" is dead. include/eqops/tenant.h and
 * docs/tenant.md only exclude eqops.io/ keys and the Pod Security ones.
 */
static void app_kubernetes_io_labels(void **state)
{
    (void)state;
    json_decref(check_ok(env, HEAD ONE_CLUSTER "labels: {app.kubernetes.io/part-of: billing}\n"));
}

/*
 * Regression: lib/tenant/api.c:25, 69-70 and 454: three messages still say their
 * field again after eqops__err_field()'s "<field>: ": "spec: spec must not be NULL",
 * "cluster: cluster \"us-east\" is not one of the spec's clusters", "dir: dir must not be
 * NULL".
 */
static void field_named_twice(void **state)
{
    (void)state;
    char *out = NULL;
    size_t failed = 0;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_tenant_render(&out, env, ACME_YAML, "us-east", &e), EQOPS_ENOTFOUND);
    if (strstr(e.message, "cluster: cluster") != NULL)
        fail_msg("render: '%s'", e.message);
    assert_int_equal(eqops_tenant_spec_check(&out, env, NULL, &e), EQOPS_EINVAL);
    if (strstr(e.message, "spec: spec") != NULL)
        fail_msg("spec_check: '%s'", e.message);
    assert_int_equal(eqops_tenant_fleet(&out, &failed, env, "plan", NULL, NULL, &e), EQOPS_EINVAL);
    if (strstr(e.message, "dir: dir") != NULL)
        fail_msg("fleet: '%s'", e.message);
}

/*
 * Regression: the YAML reader shared an alias's node with its anchor (lib/core/yaml.c), and
 * the spec reader fills defaults into the document (lib/tenant/spec.c): `database: &e {}`
 * with `secrets: {kubernetes: *e}` got database's defaults inside secrets.kubernetes and
 * failed "secrets.kubernetes.enabled: unknown field"; the same spec with two literal {} passed.
 * Merge keys (`<<`) are read as kubectl reads them.
 */
static void aliases_in_specs(void **state)
{
    (void)state;
    json_t *shared = check_ok(env, HEAD ONE_CLUSTER "database: &e {}\n"
                                                    "secrets: {kubernetes: *e}\n");
    json_t *literal = check_ok(env, HEAD ONE_CLUSTER "database: {}\n"
                                                     "secrets: {kubernetes: {}}\n");
    assert_true(json_equal(shared, literal));
    assert_string_equal(str_at(shared, "secrets|kubernetes|name"), "db-credentials");
    assert_null(at(shared, "secrets|kubernetes|enabled"));
    json_decref(shared);
    json_decref(literal);
    json_t *merged = check_ok(env, HEAD "clusters:\n"
                                        "  - &c {name: a, context: ctx-a}\n"
                                        "  - {<<: *c, name: b, context: ctx-b}\n"
                                        "labels: {<<: {team: grid}, cost-center: '4711'}\n");
    assert_string_equal(str_at(merged, "clusters|1|name"), "b");
    assert_string_equal(str_at(merged, "labels|team"), "grid");
    json_decref(merged);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(yaml_and_json_normalise_alike),
        cmocka_unit_test(defaults_and_overrides),
        cmocka_unit_test(examples_check_and_render),
        cmocka_unit_test(hostile_names_refused),
        cmocka_unit_test(every_rule_names_its_field),
        cmocka_unit_test(arguments_checked),
        cmocka_unit_test(env_options_checked),
        cmocka_unit_test(bad_tiers_files_refused),
        cmocka_unit_test(null_means_default),
        cmocka_unit_test(null_number_is_absent),
        cmocka_unit_test(nul_inside_values),
        cmocka_unit_test(cidr_prefix_syntax),
        cmocka_unit_test(tier_connection_limit_real),
        cmocka_unit_test(app_kubernetes_io_labels),
        cmocka_unit_test(field_named_twice),
        cmocka_unit_test(aliases_in_specs),
    };
    return cmocka_run_group_tests_name("tenant_spec", tests, setup, teardown);
}
