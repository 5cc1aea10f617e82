/*
 * test_spec.c - the tenant module without a network: the tiers file, spec validation (every
 * rule names its field), defaults, the rendered Kubernetes objects, Kubernetes quantities, the
 * desired/live comparison, the argument checks of env/destroy/fleet that come before any
 * request, and allocation failures in spec_check and render.
 *
 * Every client these tests make points at a kubeconfig without contexts and no Postgres, so
 * nothing can reach a server even where a check comes too late.
 *
 * The tests under "Regression:" comments each hold a bug these tests found in lib/tenant
 * (fixed); the comment says what it was.
 *
 * Usage: test_tenant_spec [allocfail]
 *   allocfail  only the allocation-failure loops (ctest label allocfail); without it, every
 *              test but those
 */
#include "tenant/tenant_internal.h"

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

/* ---- fixtures -------------------------------------------------------------------------------- */

static const char TIERS[] = "tiers:\n"
                            "  small:\n"
                            "    pod_security: restricted\n"
                            "    quota: {requests.cpu: \"2\", requests.memory: 4Gi, pods: 20}\n"
                            "    limits:\n"
                            "      default: {cpu: 500m, memory: 512Mi}\n"
                            "      default_request: {cpu: 100m, memory: 128Mi}\n"
                            "      max: {cpu: \"2\", memory: 2Gi}\n"
                            "    connection_limit: 10\n"
                            "  large:\n"
                            "    pod_security: baseline\n"
                            "    quota: {requests.cpu: \"8\", pods: \"80\"}\n"
                            "    connection_limit: 50\n"
                            "  bare:\n"
                            "    quota: {pods: \"5\"}\n";

/* The same tenant in YAML and in JSON. */
static const char ACME_YAML[] = "name: acme-power\n"
                                "tier: small\n"
                                "clusters:\n"
                                "  - name: eu-west\n"
                                "    context: ctx-missing\n"
                                "  - name: eu-north\n"
                                "    eks: {cluster: prod-eu, region: eu-north-1}\n"
                                "database:\n"
                                "  settings: {statement_timeout: 30s}\n"
                                "  egress_cidr: 10.20.0.0/16\n"
                                "argocd:\n"
                                "  repo: https://git.example.com/acme.git\n"
                                "  path: deploy/prod\n"
                                "labels:\n"
                                "  team: grid-ops\n"
                                "  cost-center: \"4711\"\n";

static const char ACME_JSON[] =
    "{\"name\": \"acme-power\", \"tier\": \"small\",\n"
    " \"clusters\": [{\"name\": \"eu-west\", \"context\": \"ctx-missing\"},\n"
    "              {\"name\": \"eu-north\", \"eks\": {\"cluster\": \"prod-eu\", \"region\": "
    "\"eu-north-1\"}}],\n"
    " \"database\": {\"settings\": {\"statement_timeout\": \"30s\"}, \"egress_cidr\": "
    "\"10.20.0.0/16\"},\n"
    " \"argocd\": {\"repo\": \"https://git.example.com/acme.git\", \"path\": \"deploy/prod\"},\n"
    " \"labels\": {\"team\": \"grid-ops\", \"cost-center\": \"4711\"}}\n";

/* A tenant without a database whose only cluster is a context the kubeconfig lacks (specs
 * that reach an operation use contexts only: an EKS cluster would ask AWS for its endpoint). */
static const char SOLO_YAML[] = "name: solo\n"
                                "tier: bare\n"
                                "clusters: [{name: only, context: ctx-missing}]\n"
                                "database: {enabled: false}\n";

#define HEAD        "name: acme-power\ntier: small\n"
#define ONE_CLUSTER "clusters: [{name: a, context: ctx-a}]\n"

static char tmpdir[128];
static char tiers_path[256];
static char kubeconfig_path[256];
static eqops_tenant_env *env; /* TIERS, the empty kubeconfig, no Postgres */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static const char *in_tmp(const char *name)
{
    static char path[4][384];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
    return p;
}

/* rm -r (the test's own directory: files and directories only) */
static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char sub[512];
        snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(sub);
        else
            remove(sub);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

static void make_dir(const char *name)
{
    assert_int_equal(mkdir(in_tmp(name), 0700), 0);
}

static eqops_tenant_env *env_from(const char *tiers_file, const char *argocd_ns)
{
    eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
    o.tiers_file = tiers_file;
    o.kubeconfig = kubeconfig_path;
    o.argocd_namespace = argocd_ns;
    eqops_tenant_env *e = NULL;
    eqops_error err = EQOPS_ERROR_INIT;
    if (eqops_tenant_env_new(&e, &o, &err) != 0)
        fail_msg("env_new(%s): %s", tiers_file ? tiers_file : "NULL", err.message);
    return e;
}

static int setup(void **state)
{
    (void)state;
    if (eqops_init() != 0)
        return -1;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/eqops-tenant-test-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(tiers_path, sizeof(tiers_path), "%s/tiers.yaml", tmpdir);
    snprintf(kubeconfig_path, sizeof(kubeconfig_path), "%s/kubeconfig", tmpdir);
    FILE *f = fopen(tiers_path, "w");
    if (f == NULL)
        return -1;
    fputs(TIERS, f);
    fclose(f);
    f = fopen(kubeconfig_path, "w");
    if (f == NULL)
        return -1;
    fputs("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n", f);
    fclose(f);
    eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
    o.tiers_file = tiers_path;
    o.kubeconfig = kubeconfig_path;
    return eqops_tenant_env_new(&env, &o, NULL);
}

static int teardown(void **state)
{
    (void)state;
    eqops_tenant_env_free(env);
    env = NULL;
    remove_tree(tmpdir);
    eqops_cleanup();
    return 0;
}

/* ---- small helpers --------------------------------------------------------------------------- */

/* The value at a path of keys and list indexes separated by '|' ("metadata|labels|team"). */
static json_t *at(json_t *v, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save = NULL, *part = strtok_r(buf, "|", &save); part && v;
         part = strtok_r(NULL, "|", &save)) {
        char *end = NULL;
        unsigned long i = strtoul(part, &end, 10);
        v = json_is_array(v) && *end == '\0' ? json_array_get(v, i) : json_object_get(v, part);
    }
    return v;
}

static const char *str_at(json_t *v, const char *path)
{
    return json_string_value(at(v, path));
}

static json_t *loads(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (v == NULL)
        fail_msg("json: %s: %s", je.text, text);
    return v;
}

static json_t *check_ok(eqops_tenant_env *e, const char *spec)
{
    char *out = NULL;
    eqops_error err = EQOPS_ERROR_INIT;
    int rc = eqops_tenant_spec_check(&out, e, spec, &err);
    if (rc != 0)
        fail_msg("spec_check: %d %s\n%s", rc, err.message, spec);
    json_t *doc = loads(out);
    eqops_free(out);
    return doc;
}

static json_t *render_ok(eqops_tenant_env *e, const char *spec, const char *cluster)
{
    char *out = NULL;
    eqops_error err = EQOPS_ERROR_INIT;
    int rc = eqops_tenant_render(&out, e, spec, cluster, &err);
    if (rc != 0)
        fail_msg("render: %d %s\n%s", rc, err.message, spec);
    json_t *doc = loads(out);
    eqops_free(out);
    assert_true(json_is_array(doc));
    return doc;
}

/* spec_check must refuse `spec` with `code`, naming `field` and saying `words`; *out NULL. */
static void check_refused(eqops_tenant_env *e, const char *spec, int code, const char *field,
                          const char *words, const char *label)
{
    char sentinel = 0, *out = &sentinel;
    eqops_error err = EQOPS_ERROR_INIT;
    int rc = eqops_tenant_spec_check(&out, e, spec, &err);
    bool out_set = out != NULL;
    if (out != &sentinel)
        eqops_free(out);
    if (rc != code || out_set || (field && strcmp(err.field, field) != 0) ||
        (words && strstr(err.message, words) == NULL))
        fail_msg("%s: rc %d (want %d), out %s, field '%s' (want '%s'), message '%s' (want '%s')",
                 label, rc, code, out_set ? "set" : "NULL", err.field, field ? field : "",
                 err.message, words ? words : "");
    eqops_error_clear(&err);
}

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
    assert_int_equal(eqops_tenant_env_new(&out, NULL, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_int_equal(eqops_tenant_env_new(NULL, NULL, &e), EQOPS_EINVAL);

    eqops_tenant_env_options o = EQOPS_TENANT_ENV_OPTIONS_INIT;
    o.tiers_file = tiers_path;
    o.version = 0;
    out = sentinel;
    assert_int_equal(eqops_tenant_env_new(&out, &o, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_string_equal(e.field, "version");
    o.version = 2;
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
    check_refused(env, HEAD ONE_CLUSTER "database: {settings: {search_path: \"a\\0b\"}}\n",
                  EQOPS_EINVAL, "database.settings.search_path", NULL, "NUL in a setting");
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

/* ---- operations that stop before any request ------------------------------------------------- */

static int progress_calls;

static int count_progress(const char *tenant, const char *cluster, const char *step,
                          const char *status, size_t done, size_t total, void *payload)
{
    (void)tenant;
    (void)cluster;
    (void)step;
    (void)status;
    (void)done;
    (void)total;
    (void)payload;
    progress_calls++;
    return 0;
}

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
    o.version = 2;
    assert_int_equal(eqops_tenant_plan(&out, env, SOLO_YAML, &o, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_string_equal(e.field, "version");
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
        cmocka_unit_test(yaml_and_json_normalise_alike),
        cmocka_unit_test(defaults_and_overrides),
        cmocka_unit_test(examples_check_and_render),
        cmocka_unit_test(hostile_names_refused),
        cmocka_unit_test(every_rule_names_its_field),
        cmocka_unit_test(arguments_checked),
        cmocka_unit_test(env_options_checked),
        cmocka_unit_test(bad_tiers_files_refused),
        cmocka_unit_test(render_objects_in_order),
        cmocka_unit_test(render_variants),
        cmocka_unit_test(quantities),
        cmocka_unit_test(diff_fields),
        cmocka_unit_test(destroy_needs_confirmation),
        cmocka_unit_test(fleet_checks_first),
        cmocka_unit_test(error_prefixes_separated),
        cmocka_unit_test(field_named_once),
        cmocka_unit_test(quantity_exa_suffixes),
        cmocka_unit_test(diff_non_quantity_strings),
        cmocka_unit_test(null_means_default),
        cmocka_unit_test(null_number_is_absent),
        cmocka_unit_test(nul_inside_values),
        cmocka_unit_test(cidr_prefix_syntax),
        cmocka_unit_test(tier_connection_limit_real),
        cmocka_unit_test(app_kubernetes_io_labels),
        cmocka_unit_test(field_named_twice),
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
        return cmocka_run_group_tests_name("tenant_spec_allocfail", alloc_tests, setup, teardown);
    return cmocka_run_group_tests_name("tenant_spec", tests, setup, teardown);
}
