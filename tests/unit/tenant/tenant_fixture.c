/*
 * tenant_fixture.c - the shared fixture of the tenant unit tests (tenant_fixture.h).
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

/* ---- fixtures -------------------------------------------------------------------------------- */

const char TIERS[] = "tiers:\n"
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
const char ACME_YAML[] = "name: acme-power\n"
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

const char ACME_JSON[] =
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
const char SOLO_YAML[] = "name: solo\n"
                         "tier: bare\n"
                         "clusters: [{name: only, context: ctx-missing}]\n"
                         "database: {enabled: false}\n";

char tmpdir[128];
char tiers_path[256];
char kubeconfig_path[256];
eqops_tenant_env *env; /* TIERS, the empty kubeconfig, no Postgres */

void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

const char *in_tmp(const char *name)
{
    static char path[4][384];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
    return p;
}

/* rm -r (the test's own directory: files and directories only) */
void remove_tree(const char *path)
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

void make_dir(const char *name)
{
    assert_int_equal(mkdir(in_tmp(name), 0700), 0);
}

eqops_tenant_env *env_from(const char *tiers_file, const char *argocd_ns)
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

int setup(void **state)
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

int teardown(void **state)
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
json_t *at(json_t *v, const char *path)
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

const char *str_at(json_t *v, const char *path)
{
    return json_string_value(at(v, path));
}

json_t *loads(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (v == NULL)
        fail_msg("json: %s: %s", je.text, text);
    return v;
}

json_t *check_ok(eqops_tenant_env *e, const char *spec)
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

json_t *render_ok(eqops_tenant_env *e, const char *spec, const char *cluster)
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
void check_refused(eqops_tenant_env *e, const char *spec, int code, const char *field,
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

/* A progress callback that counts its calls in progress_calls. */
int progress_calls;

int count_progress(const char *tenant, const char *cluster, const char *step, const char *status,
                   size_t done, size_t total, void *payload)
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
