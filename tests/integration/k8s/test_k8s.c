/*
 * test_k8s.c - the k8s module against a real kube-apiserver and controller manager
 * (scripts/testenv): merged kubeconfigs and contexts, client-certificate, token, token-file,
 * in-cluster and exec-plugin users (the plugin's token expiring and refreshed, a 401 renewing
 * it), RBAC errors with their reason, every verb with dry runs and preconditions, server-side
 * apply conflicts and force, pagination, selectors, a CRD managed by kind, impersonation, and
 * watches that see every change across an API server restart and a 410.
 *
 * Needs EQOPS_TEST_K8S_KUBECONFIG and the others of `scripts/testenv env`; without them the
 * tests skip (and fail with CI=true). Objects live in namespaces named "ct-*".
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

static const char *admin_kc, *tenant_kc, *exec_kc, *exec_calls, *token_a, *ca_file, *server;
static char dir[64];

static int setup(void **state)
{
    (void)state;
    admin_kc = getenv("EQOPS_TEST_K8S_KUBECONFIG");
    tenant_kc = getenv("EQOPS_TEST_K8S_KUBECONFIG_TENANT_A");
    exec_kc = getenv("EQOPS_TEST_K8S_KUBECONFIG_EXEC");
    exec_calls = getenv("EQOPS_TEST_K8S_EXEC_CALLS");
    token_a = getenv("EQOPS_TEST_K8S_TOKEN_TENANT_A");
    ca_file = getenv("EQOPS_TEST_K8S_CA");
    server = getenv("EQOPS_TEST_K8S_URL");
    if (!admin_kc || !tenant_kc || !exec_kc || !exec_calls || !token_a || !ca_file || !server) {
        const char *ci = getenv("CI");
        fprintf(stderr, "test environment not running: scripts/testenv up k8s; eval "
                        "\"$(scripts/testenv env)\"\n");
        admin_kc = NULL;
        return ci && !strcmp(ci, "true") ? -1 : 0;
    }
    snprintf(dir, sizeof(dir), "/tmp/eqops-k8s-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    unsetenv("KUBECONFIG");
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
        if (admin_kc == NULL)                                                                      \
            skip();                                                                                \
    } while (0)

static eqops_k8s *client_for(const char *kubeconfig, const char *context)
{
    eqops_k8s_options o = EQOPS_K8S_OPTIONS_INIT;
    o.kubeconfig = kubeconfig;
    o.context = context;
    eqops_k8s *k = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_k8s_new(&k, &o, &e) != 0)
        fail_msg("k8s_new %s: %s", kubeconfig ? kubeconfig : "(default)", e.message);
    return k;
}

static json_t *doc_of(char *text)
{
    assert_non_null(text);
    json_t *doc = json_loads(text, 0, NULL);
    if (doc == NULL)
        fail_msg("not JSON: %.200s", text);
    eqops_free(text);
    return doc;
}

static const char *meta(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static void write_file(const char *name, const char *text, int mode)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

/* apply, failing the test on error; returns the object */
static json_t *apply(eqops_k8s *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *apply(eqops_k8s *k, const char *fmt, ...)
{
    char obj[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(obj, sizeof(obj), fmt, ap);
    va_end(ap);
    char *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_k8s_apply(&out, k, obj, NULL, &e) != 0)
        fail_msg("apply %s: %s", obj, e.message);
    return doc_of(out);
}

/* A namespace of this run: one left by an earlier run may still be terminating. */
static void namespace(eqops_k8s *k, const char *name)
{
    for (int i = 0; i < 1200; i++) {
        char *out = NULL;
        eqops_error e = EQOPS_ERROR_INIT;
        int rc = eqops_k8s_get(&out, k, "v1", "Namespace", NULL, name, &e);
        eqops_error_clear(&e);
        json_t *ns = rc == 0 ? doc_of(out) : NULL;
        bool terminating = ns && meta(ns, "deletionTimestamp");
        json_decref(ns);
        if (!terminating)
            break;
        usleep(100 * 1000);
    }
    json_decref(apply(k,
                      "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": "
                      "{\"name\": \"%s\", \"labels\": {\"eqops-test\": \"c\"}}}",
                      name));
}

/* ---- configuration ------------------------------------------------------------------------ */

static void test_kubeconfig_merge(void **state)
{
    (void)state;
    NEED_ENV();
    /* the admin's user and CA from its kubeconfig, split over two files with a decoy */
    char *text = NULL;
    FILE *f = fopen(admin_kc, "r");
    assert_non_null(f);
    json_t *admin = json_loadf(f, 0, NULL);
    fclose(f);
    assert_non_null(admin);
    json_t *user = json_object_get(json_array_get(json_object_get(admin, "users"), 0), "user");
    json_t *cluster =
        json_object_get(json_array_get(json_object_get(admin, "clusters"), 0), "cluster");
    json_t *first =
        json_pack("{s:s, s:[{s:s, s:O}], s:[{s:s, s:{s:s, s:s, s:s}}]}", "current-context",
                  "second", "users", "name", "admin", "user", user, "contexts", "name", "second",
                  "context", "cluster", "real", "user", "admin", "namespace", "ct-merge");
    json_t *decoy = json_deep_copy(cluster);
    json_object_set_new(decoy, "server", json_string("https://127.0.0.1:1"));
    json_t *second = json_pack("{s:s, s:[{s:s, s:O}, {s:s, s:O}], s:[{s:s, s:{s:s, s:s}}], "
                               "s:[{s:s, s:{s:s}}]}",
                               "current-context", "decoy", "clusters", "name", "real", "cluster",
                               cluster, "name", "decoy", "cluster", decoy, "contexts", "name",
                               "decoy", "context", "cluster", "decoy", "user", "admin", "users",
                               "name", "admin", "user", "token", "wrong");
    assert_non_null(first);
    assert_non_null(second);
    text = json_dumps(first, 0);
    write_file("first.yaml", text, 0600);
    free(text);
    text = json_dumps(second, 0);
    write_file("second.yaml", text, 0600);
    free(text);
    json_decref(first);
    json_decref(second);
    json_decref(decoy);
    json_decref(admin);
    char paths[300];
    snprintf(paths, sizeof(paths), "%s/missing.yaml:%s/first.yaml:%s/second.yaml", dir, dir, dir);
    setenv("KUBECONFIG", paths, 1);
    eqops_k8s *k = client_for(NULL, NULL);
    assert_string_equal(eqops_k8s_context(k), "second"); /* the first current-context */
    assert_string_equal(eqops_k8s_namespace(k), "ct-merge");
    assert_string_equal(eqops_k8s_server(k), server);
    char *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    /* the first file's user (client certificate) won over the second's token */
    assert_int_equal(eqops_k8s_request(&out, k, "GET", "/api", NULL, NULL, &e), 0);
    eqops_free(out);
    eqops_k8s_free(k);
    assert_int_equal(eqops_k8s_contexts(&out, NULL, &e), 0);
    json_t *ctx = doc_of(out);
    assert_string_equal(json_string_value(json_object_get(ctx, "current")), "second");
    assert_int_equal(json_array_size(json_object_get(ctx, "contexts")), 2);
    json_decref(ctx);
    /* an explicit context; an unknown one */
    k = client_for(NULL, "decoy");
    assert_string_equal(eqops_k8s_server(k), "https://127.0.0.1:1");
    eqops_k8s_free(k);
    eqops_k8s_options o = EQOPS_K8S_OPTIONS_INIT;
    o.context = "nope";
    assert_int_equal(eqops_k8s_new(&k, &o, &e), EQOPS_ENOTFOUND);
    assert_string_equal(e.field, "context");
    eqops_error_clear(&e);
    unsetenv("KUBECONFIG");
    /* a named file that is missing, a malformed one */
    snprintf(paths, sizeof(paths), "%s/missing.yaml", dir);
    o.context = NULL;
    o.kubeconfig = paths;
    assert_int_equal(eqops_k8s_new(&k, &o, &e), EQOPS_ENOTFOUND);
    eqops_error_clear(&e);
    write_file("bad.yaml", "clusters: {not: a list}\n", 0600);
    snprintf(paths, sizeof(paths), "%s/bad.yaml", dir);
    assert_int_equal(eqops_k8s_new(&k, &o, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "bad.yaml"));
    eqops_error_clear(&e);
    write_file("provider.yaml",
               "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
               "users: [{name: u, user: {auth-provider: {name: oidc}}}]\n"
               "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
               0600);
    snprintf(paths, sizeof(paths), "%s/provider.yaml", dir);
    assert_int_equal(eqops_k8s_new(&k, &o, &e), EQOPS_ENOTSUP);
    eqops_error_clear(&e);
}

static void test_users(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_error e = EQOPS_ERROR_INIT;
    char *out = NULL;
    /* token user: RBAC says no, with the reason */
    eqops_k8s *k = client_for(tenant_kc, NULL);
    assert_int_equal(eqops_k8s_get(&out, k, "v1", "Namespace", NULL, "kube-system", &e),
                     EQOPS_EFORBIDDEN);
    assert_string_equal(e.reason, "Forbidden");
    assert_int_equal(e.http_status, 403);
    assert_non_null(strstr(e.message, "tenant-a"));
    assert_non_null(e.body);
    eqops_error_clear(&e);
    eqops_k8s_free(k);

    /* impersonation by the admin: the same refusal */
    eqops_k8s_options o = EQOPS_K8S_OPTIONS_INIT;
    o.kubeconfig = admin_kc;
    o.impersonate_user = "tenant-a";
    assert_int_equal(eqops_k8s_new(&k, &o, &e), 0);
    assert_int_equal(eqops_k8s_get(&out, k, "v1", "Namespace", NULL, "kube-system", &e),
                     EQOPS_EFORBIDDEN);
    eqops_error_clear(&e);
    eqops_k8s_free(k);

    /* a token file, read again after a 401 */
    char kc[2048], path[128];
    snprintf(path, sizeof(path), "%s/token", dir);
    snprintf(kc, sizeof(kc),
             "{\"clusters\": [{\"name\": \"c\", \"cluster\": {\"server\": \"%s\", "
             "\"certificate-authority\": \"%s\"}}], \"users\": [{\"name\": \"u\", \"user\": "
             "{\"tokenFile\": \"token\"}}], \"contexts\": [{\"name\": \"x\", \"context\": "
             "{\"cluster\": \"c\", \"user\": \"u\"}}], \"current-context\": \"x\"}",
             server, ca_file);
    write_file("tokenfile.yaml", kc, 0600);
    write_file("token", "not-a-valid-token\n", 0600);
    snprintf(path, sizeof(path), "%s/tokenfile.yaml", dir);
    k = client_for(path, NULL);
    assert_int_equal(eqops_k8s_request(&out, k, "GET", "/api", NULL, NULL, &e), EQOPS_EAUTH);
    assert_string_equal(e.reason, "Unauthorized");
    eqops_error_clear(&e);
    char tok[128];
    snprintf(tok, sizeof(tok), "%s\n", token_a);
    write_file("token", tok, 0600); /* rotated */
    assert_int_equal(eqops_k8s_request(&out, k, "GET", "/api", NULL, NULL, &e), 0);
    eqops_free(out);
    eqops_k8s_free(k);

    /* in-cluster: the service account's files */
    char sa[128];
    snprintf(sa, sizeof(sa), "%s/sa", dir);
    mkdir(sa, 0700);
    write_file("sa/token", tok, 0600);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s/ca.crt'", ca_file, sa);
    assert_int_equal(system(cmd), 0);
    write_file("sa/namespace", "ct-incluster\n", 0600);
    const char *port = strrchr(server, ':') + 1;
    setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", port, 1);
    setenv("EQOPS_K8S_SERVICEACCOUNT_DIR", sa, 1);
    eqops_k8s_options ic = EQOPS_K8S_OPTIONS_INIT;
    ic.in_cluster = 1;
    assert_int_equal(eqops_k8s_new(&k, &ic, &e), 0);
    assert_string_equal(eqops_k8s_namespace(k), "ct-incluster");
    assert_int_equal(eqops_k8s_request(&out, k, "GET", "/api", NULL, NULL, &e), 0);
    eqops_free(out);
    eqops_k8s_free(k);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("EQOPS_K8S_SERVICEACCOUNT_DIR");
}

static long lines_of(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static void test_exec_plugin(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_error e = EQOPS_ERROR_INIT;
    char *out = NULL;
    /* the test plugin's token lives 4 s: too short to renew it 30 s early, so it is renewed
     * at half its life, after ~2 s */
    setenv("EQOPS_TEST_EXEC_TTL", "4", 1);
    eqops_k8s *k = client_for(exec_kc, NULL);
    long before = lines_of(exec_calls);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(eqops_k8s_request(&out, k, "GET", "/api", NULL, NULL, &e), 0);
        eqops_free(out);
    }
    assert_int_equal(lines_of(exec_calls), before + 1); /* cached */
    sleep(3);
    assert_int_equal(eqops_k8s_request(&out, k, "GET", "/api", NULL, NULL, &e), 0);
    eqops_free(out);
    assert_int_equal(lines_of(exec_calls), before + 2); /* expired: run again */
    eqops_k8s_free(k);
    unsetenv("EQOPS_TEST_EXEC_TTL");

    /* a plugin whose first token the server refuses: run again once after the 401; the
     * kubeconfig's env reaches only the plugin; no shell reads the arguments */
    char script[1024], kc[2048], path[128];
    snprintf(script, sizeof(script),
             "#!/bin/sh\n"
             "[ \"$1\" = 'a b;c' ] || exit 7\n"
             "[ \"$EQOPS_PLUGIN_ENV\" = only-me ] || exit 8\n"
             "case \"$KUBERNETES_EXEC_INFO\" in *'\"interactive\":false'*) ;; *) exit 9 ;; esac\n"
             "n=$(cat %s/count 2>/dev/null || echo 0); echo $((n + 1)) > %s/count\n"
             "tok=%s; [ \"$n\" = 0 ] && tok=refused-token\n"
             "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
             "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%%s\"}}' \"$tok\"\n",
             dir, dir, token_a);
    write_file("plugin.sh", script, 0700);
    snprintf(kc, sizeof(kc),
             "{\"clusters\": [{\"name\": \"c\", \"cluster\": {\"server\": \"%s\", "
             "\"certificate-authority\": \"%s\"}}], \"users\": [{\"name\": \"u\", \"user\": "
             "{\"exec\": {\"apiVersion\": \"client.authentication.k8s.io/v1beta1\", "
             "\"command\": \"./plugin.sh\", \"args\": [\"a b;c\"], \"env\": [{\"name\": "
             "\"EQOPS_PLUGIN_ENV\", \"value\": \"only-me\"}]}}}], \"contexts\": [{\"name\": "
             "\"x\", \"context\": {\"cluster\": \"c\", \"user\": \"u\"}}], "
             "\"current-context\": \"x\"}",
             server, ca_file);
    write_file("exec.yaml", kc, 0600);
    snprintf(path, sizeof(path), "%s/exec.yaml", dir);
    k = client_for(path, NULL);
    assert_int_equal(eqops_k8s_request(&out, k, "GET", "/api", NULL, NULL, &e), 0);
    eqops_free(out);
    assert_null(getenv("EQOPS_PLUGIN_ENV"));
    char count[160];
    snprintf(count, sizeof(count), "%s/count", dir);
    FILE *f = fopen(count, "r");
    assert_non_null(f);
    int n = 0;
    assert_int_equal(fscanf(f, "%d", &n), 1);
    fclose(f);
    assert_int_equal(n, 2);
    eqops_k8s_free(k);
    /* a plugin that fails: the error names it */
    write_file("plugin.sh", "#!/bin/sh\nexit 4\n", 0700);
    k = client_for(path, NULL);
    assert_int_equal(eqops_k8s_request(&out, k, "GET", "/api", NULL, NULL, &e), EQOPS_EIO);
    assert_non_null(strstr(e.message, "plugin.sh"));
    eqops_error_clear(&e);
    eqops_k8s_free(k);
}

/* ---- verbs ------------------------------------------------------------------------------ */

static void test_verbs(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_k8s *k = client_for(admin_kc, NULL);
    eqops_error e = EQOPS_ERROR_INIT;
    char *out = NULL;
    namespace(k, "ct-verbs");
    const char *cm = "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": "
                     "\"c1\", \"namespace\": \"ct-verbs\", \"labels\": {\"app\": \"x\"}}, "
                     "\"data\": {\"a\": \"1\"}}";
    /* dry run leaves nothing */
    eqops_k8s_write_options dry = EQOPS_K8S_WRITE_OPTIONS_INIT;
    dry.dry_run = 1;
    assert_int_equal(eqops_k8s_create(&out, k, cm, &dry, &e), 0);
    eqops_free(out);
    assert_int_equal(eqops_k8s_get(&out, k, "v1", "ConfigMap", "ct-verbs", "c1", &e),
                     EQOPS_ENOTFOUND);
    assert_string_equal(e.reason, "NotFound");
    eqops_error_clear(&e);
    assert_int_equal(eqops_k8s_create(&out, k, cm, NULL, &e), 0);
    json_t *created = doc_of(out);
    assert_int_equal(eqops_k8s_create(&out, k, cm, NULL, &e), EQOPS_EEXISTS);
    assert_string_equal(e.reason, "AlreadyExists");
    eqops_error_clear(&e);
    /* replace with a stale resourceVersion */
    json_t *stale = json_deep_copy(created);
    json_object_set_new(json_object_get(stale, "data"), "a", json_string("2"));
    char *stale_text = json_dumps(stale, 0);
    assert_int_equal(eqops_k8s_replace(&out, k, stale_text, NULL, &e), 0);
    eqops_free(out);
    assert_int_equal(eqops_k8s_replace(&out, k, stale_text, NULL, &e), EQOPS_ECONFLICT);
    assert_string_equal(e.reason, "Conflict");
    eqops_error_clear(&e);
    free(stale_text);
    json_decref(stale);
    /* merge patch */
    assert_int_equal(eqops_k8s_patch(&out, k, "v1", "ConfigMap", "ct-verbs", "c1",
                                     "{\"data\": {\"b\": \"3\", \"a\": null}}", NULL, &e),
                     0);
    json_t *patched = doc_of(out);
    assert_string_equal(json_string_value(json_object_get(json_object_get(patched, "data"), "b")),
                        "3");
    assert_null(json_object_get(json_object_get(patched, "data"), "a"));
    /* invalid: the field is named */
    assert_int_equal(eqops_k8s_create(&out, k,
                                      "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", "
                                      "\"metadata\": {\"name\": \"Bad_Name\", \"namespace\": "
                                      "\"ct-verbs\"}}",
                                      NULL, &e),
                     EQOPS_EINVAL);
    assert_string_equal(e.reason, "Invalid");
    assert_string_equal(e.field, "metadata.name");
    eqops_error_clear(&e);
    /* delete: a wrong uid precondition, a dry run, then for real */
    eqops_k8s_write_options pre = EQOPS_K8S_WRITE_OPTIONS_INIT;
    pre.uid = "00000000-0000-0000-0000-000000000000";
    assert_int_equal(eqops_k8s_delete(NULL, k, "v1", "ConfigMap", "ct-verbs", "c1", &pre, &e),
                     EQOPS_ECONFLICT);
    eqops_error_clear(&e);
    assert_int_equal(eqops_k8s_delete(NULL, k, "v1", "ConfigMap", "ct-verbs", "c1", &dry, &e), 0);
    assert_int_equal(eqops_k8s_get(&out, k, "v1", "ConfigMap", "ct-verbs", "c1", &e), 0);
    eqops_free(out);
    eqops_k8s_write_options bg = EQOPS_K8S_WRITE_OPTIONS_INIT;
    bg.propagation_policy = "Background";
    bg.uid = meta(patched, "uid");
    assert_int_equal(eqops_k8s_delete(&out, k, "v1", "ConfigMap", "ct-verbs", "c1", &bg, &e), 0);
    eqops_free(out);
    assert_int_equal(eqops_k8s_delete(NULL, k, "v1", "ConfigMap", "ct-verbs", "c1", NULL, &e),
                     EQOPS_ENOTFOUND);
    eqops_error_clear(&e);
    json_decref(patched);
    json_decref(created);
    /* unknown kinds, bad names, never sent */
    assert_int_equal(eqops_k8s_get(&out, k, "v1", "NoSuchKind", "ct-verbs", "x", &e),
                     EQOPS_ENOTFOUND);
    assert_string_equal(e.reason, "NoSuchKind");
    eqops_error_clear(&e);
    assert_int_equal(eqops_k8s_get(&out, k, "nosuch.example.com/v1", "Thing", NULL, "x", &e),
                     EQOPS_ENOTFOUND);
    eqops_error_clear(&e);
    assert_int_equal(eqops_k8s_get(&out, k, "v1", "ConfigMap", "ct-verbs", "../../x", &e),
                     EQOPS_EINVAL);
    assert_string_equal(e.field, "name");
    eqops_error_clear(&e);
    assert_int_equal(eqops_k8s_create(&out, k, "{\"kind\": \"ConfigMap\"}", NULL, &e),
                     EQOPS_EINVAL);
    assert_string_equal(e.field, "apiVersion");
    eqops_error_clear(&e);
    eqops_k8s_free(k);
}

static void test_apply_conflicts(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_k8s *k = client_for(admin_kc, NULL);
    eqops_error e = EQOPS_ERROR_INIT;
    char *out = NULL;
    namespace(k, "ct-apply");
    const char *mine = "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": "
                       "{\"name\": \"shared\", \"namespace\": \"ct-apply\"}, \"data\": "
                       "{\"quota\": \"10\"}}";
    const char *theirs = "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": "
                         "{\"name\": \"shared\", \"namespace\": \"ct-apply\"}, \"data\": "
                         "{\"quota\": \"20\"}}";
    assert_int_equal(eqops_k8s_apply(&out, k, mine, NULL, &e), 0);
    eqops_free(out);
    assert_int_equal(eqops_k8s_apply(&out, k, mine, NULL, &e), 0); /* idempotent */
    eqops_free(out);
    eqops_k8s_write_options other = EQOPS_K8S_WRITE_OPTIONS_INIT;
    other.field_manager = "someone-else";
    assert_int_equal(eqops_k8s_apply(&out, k, theirs, &other, &e), EQOPS_ECONFLICT);
    assert_string_equal(e.reason, "Conflict");
    assert_string_equal(e.field, ".data.quota");
    assert_non_null(strstr(e.message, "libeqops")); /* the manager holding the field */
    eqops_error_clear(&e);
    other.force = 1;
    assert_int_equal(eqops_k8s_apply(&out, k, theirs, &other, &e), 0);
    json_t *doc = doc_of(out);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "data"), "quota")),
                        "20");
    json_decref(doc);
    /* a dry-run apply changes nothing */
    eqops_k8s_write_options dry = EQOPS_K8S_WRITE_OPTIONS_INIT;
    dry.dry_run = 1;
    dry.force = 1;
    assert_int_equal(eqops_k8s_apply(&out, k, mine, &dry, &e), 0);
    eqops_free(out);
    assert_int_equal(eqops_k8s_get(&out, k, "v1", "ConfigMap", "ct-apply", "shared", &e), 0);
    doc = doc_of(out);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "data"), "quota")),
                        "20");
    json_decref(doc);
    eqops_k8s_free(k);
}

static void test_lists(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_k8s *k = client_for(admin_kc, NULL);
    eqops_error e = EQOPS_ERROR_INIT;
    char *out = NULL;
    namespace(k, "ct-lists");
    for (int i = 0; i < 25; i++)
        json_decref(apply(k,
                          "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": "
                          "{\"name\": \"m%02d\", \"namespace\": \"ct-lists\", \"labels\": "
                          "{\"parity\": \"%s\"}}}",
                          i, i % 2 ? "odd" : "even"));
    eqops_k8s_list_options lo = EQOPS_K8S_LIST_OPTIONS_INIT;
    lo.limit = 10;
    lo.label_selector = "parity in (odd,even)";
    eqops_k8s_pager *p = NULL;
    assert_int_equal(eqops_k8s_pager_new(&p, k, "v1", "ConfigMap", "ct-lists", &lo, &e), 0);
    size_t pages = 0, items = 0;
    while (eqops_k8s_pager_next(&out, p, &e) == 0 && out) {
        json_t *page = doc_of(out);
        pages++;
        items += json_array_size(json_object_get(page, "items"));
        json_decref(page);
    }
    assert_int_equal(e.code, 0);
    eqops_k8s_pager_free(p);
    assert_int_equal(pages, 3);
    assert_int_equal(items, 25);
    lo.label_selector = "parity=odd";
    assert_int_equal(eqops_k8s_list(&out, k, "v1", "ConfigMap", "ct-lists", &lo, &e), 0);
    json_t *list = doc_of(out);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 12);
    assert_non_null(meta(list, "resourceVersion"));
    assert_null(meta(list, "continue"));
    json_decref(list);
    lo.label_selector = NULL;
    lo.field_selector = "metadata.name=m07";
    assert_int_equal(eqops_k8s_list(&out, k, "v1", "ConfigMap", "ct-lists", &lo, &e), 0);
    list = doc_of(out);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 1);
    json_decref(list);
    lo.field_selector = "no such field=1";
    assert_int_equal(eqops_k8s_list(&out, k, "v1", "ConfigMap", "ct-lists", &lo, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
    /* across namespaces */
    eqops_k8s_list_options all = EQOPS_K8S_LIST_OPTIONS_INIT;
    all.all_namespaces = 1;
    all.label_selector = "parity=even";
    assert_int_equal(eqops_k8s_list(&out, k, "v1", "ConfigMap", NULL, &all, &e), 0);
    list = doc_of(out);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 13);
    json_decref(list);
    eqops_k8s_free(k);
}

static void test_crd(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_k8s *k = client_for(admin_kc, NULL);
    eqops_error e = EQOPS_ERROR_INIT;
    char *out = NULL;
    json_decref(apply(
        k, "{\"apiVersion\": \"apiextensions.k8s.io/v1\", \"kind\": "
           "\"CustomResourceDefinition\", \"metadata\": {\"name\": \"tenants.eqops.test\"}, "
           "\"spec\": {\"group\": \"eqops.test\", \"scope\": \"Namespaced\", \"names\": "
           "{\"plural\": \"tenants\", \"singular\": \"tenant\", \"kind\": \"Tenant\"}, "
           "\"versions\": [{\"name\": \"v1\", \"served\": true, \"storage\": true, \"schema\": "
           "{\"openAPIV3Schema\": {\"type\": \"object\", \"x-kubernetes-preserve-unknown-fields\": "
           "true}}}]}}"));
    namespace(k, "ct-crd");
    /* the kind appears once the CRD is established: retry for a while */
    int rc = -1;
    for (int i = 0; i < 100 && rc != 0; i++) {
        rc = eqops_k8s_apply(&out, k,
                             "{\"apiVersion\": \"eqops.test/v1\", \"kind\": \"Tenant\", "
                             "\"metadata\": {\"name\": \"acme\", \"namespace\": \"ct-crd\"}, "
                             "\"spec\": {\"tier\": \"gold\"}}",
                             NULL, &e);
        eqops_error_clear(&e);
        if (rc != 0)
            usleep(100 * 1000);
        else
            eqops_free(out);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(eqops_k8s_get(&out, k, "eqops.test/v1", "Tenant", "ct-crd", "acme", &e), 0);
    json_t *t = doc_of(out);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "spec"), "tier")),
                        "gold");
    json_decref(t);
    assert_int_equal(eqops_k8s_resource(&out, k, "eqops.test/v1", "Tenant", &e), 0);
    json_t *r = doc_of(out);
    assert_string_equal(json_string_value(json_object_get(r, "resource")), "tenants");
    assert_true(json_is_true(json_object_get(r, "namespaced")));
    json_decref(r);
    /* a CRD and its objects in one manifest: the objects wait for the CRD to be served */
    const char *manifest =
        "apiVersion: apiextensions.k8s.io/v1\n"
        "kind: CustomResourceDefinition\n"
        "metadata: {name: widgets.eqops.test}\n"
        "spec:\n"
        "  group: eqops.test\n"
        "  scope: Namespaced\n"
        "  names: {plural: widgets, singular: widget, kind: Widget}\n"
        "  versions:\n"
        "  - name: v1\n"
        "    served: true\n"
        "    storage: true\n"
        "    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: "
        "true}}\n"
        "---\n"
        "apiVersion: eqops.test/v1\n"
        "kind: Widget\n"
        "metadata: {name: w1, namespace: ct-crd}\n"
        "spec: {size: 3}\n";
    assert_int_equal(eqops_k8s_apply_manifest(&out, k, manifest, NULL, &e), 0);
    json_t *applied = doc_of(out);
    assert_int_equal(json_array_size(applied), 2);
    json_decref(applied);
    assert_int_equal(eqops_k8s_get(&out, k, "eqops.test/v1", "Widget", "ct-crd", "w1", &e), 0);
    eqops_free(out);
    eqops_k8s_free(k);
}

/* ---- watch ------------------------------------------------------------------------------- */

typedef struct seen {
    pthread_mutex_t mu;
    char log[8192];
    int events;
    int stop_after; /* return non-zero at this many events (0: never) */
} seen;

static int on_event(const char *type, const char *object, void *payload)
{
    seen *s = payload;
    json_t *o = json_loads(object, 0, NULL);
    pthread_mutex_lock(&s->mu);
    size_t n = strlen(s->log);
    snprintf(s->log + n, sizeof(s->log) - n, "%s %s %s\n", type,
             meta(o, "name") ? meta(o, "name") : "?",
             json_string_value(json_object_get(json_object_get(o, "data"), "v"))
                 ? json_string_value(json_object_get(json_object_get(o, "data"), "v"))
                 : "-");
    int stop = ++s->events == s->stop_after;
    pthread_mutex_unlock(&s->mu);
    json_decref(o);
    return stop;
}

typedef struct watch_run {
    const char *rv;
    long duration_ms;
    seen s;
    int rc;
    char message[256];
} watch_run;

static void *watcher(void *arg)
{
    watch_run *w = arg;
    eqops_k8s *k = client_for(admin_kc, NULL);
    eqops_k8s_watch_options o = EQOPS_K8S_WATCH_OPTIONS_INIT;
    o.duration_ms = w->duration_ms;
    o.resource_version = w->rv;
    o.idle_timeout_ms = 5000;
    o.label_selector = "eqops-watch=yes"; /* not the namespace's kube-root-ca.crt */
    eqops_error e = EQOPS_ERROR_INIT;
    w->rc = eqops_k8s_watch(k, "v1", "ConfigMap", "ct-watch", &o, on_event, &w->s, &e);
    snprintf(w->message, sizeof(w->message), "%s", e.message);
    eqops_error_clear(&e);
    eqops_k8s_free(k);
    return NULL;
}

static void set_v(eqops_k8s *k, const char *name, const char *v)
{
    json_decref(apply(k,
                      "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": "
                      "{\"name\": \"%s\", \"namespace\": \"ct-watch\", \"labels\": "
                      "{\"eqops-watch\": \"yes\"}}, \"data\": {\"v\": \"%s\"}}",
                      name, v));
}

static void wait_events(seen *s, int n)
{
    for (int i = 0; i < 900; i++) { /* 90 s: an API server restart under valgrind is slow */
        pthread_mutex_lock(&s->mu);
        int got = s->events;
        pthread_mutex_unlock(&s->mu);
        if (got >= n)
            return;
        usleep(100 * 1000);
    }
    fail_msg("waited for %d events:\n%s", n, s->log);
}

static void test_watch(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_k8s *k = client_for(admin_kc, NULL);
    eqops_error e = EQOPS_ERROR_INIT;
    namespace(k, "ct-watch");
    set_v(k, "before", "0");
    watch_run w;
    memset(&w, 0, sizeof(w));
    pthread_mutex_init(&w.s.mu, NULL);
    w.duration_ms = 120000;
    const char *testenv_dir = getenv("EQOPS_TESTENV_DIR");
    w.s.stop_after = testenv_dir ? 5 : 4;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, watcher, &w), 0);
    wait_events(&w.s, 1); /* the existing object, from the list */
    set_v(k, "w1", "1");
    set_v(k, "w1", "2");
    assert_int_equal(eqops_k8s_delete(NULL, k, "v1", "ConfigMap", "ct-watch", "w1", NULL, &e), 0);
    wait_events(&w.s, 4);
    /* the API server restarts: the watch resumes where it was, nothing lost */
    if (testenv_dir) {
        assert_int_equal(system(EQOPS_TEST_ROOT "/scripts/testenv k8s-restart k8s >/dev/null"), 0);
        eqops_k8s_free(k);
        k = client_for(admin_kc, NULL);
        set_v(k, "w2", "after-restart");
        wait_events(&w.s, 5);
    }
    pthread_mutex_lock(&w.s.mu);
    const char *want = "ADDED before 0\nADDED w1 1\nMODIFIED w1 2\nDELETED w1 2\n";
    if (strncmp(w.s.log, want, strlen(want)) != 0)
        fail_msg("events:\n%s", w.s.log);
    if (testenv_dir && strstr(w.s.log, "ADDED w2 after-restart") == NULL)
        fail_msg("after the restart:\n%s", w.s.log);
    pthread_mutex_unlock(&w.s.mu);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, EQOPS_ECANCELED); /* stopped by the callback */
    pthread_mutex_destroy(&w.s.mu);

    /* a resourceVersion that is long gone: listed again, reported as a difference */
    watch_run old;
    memset(&old, 0, sizeof(old));
    pthread_mutex_init(&old.s.mu, NULL);
    old.rv = "1";
    old.duration_ms = 3000;
    watcher(&old);
    assert_int_equal(old.rc, 0);
    assert_non_null(strstr(old.s.log, "ADDED before 0"));
    pthread_mutex_destroy(&old.s.mu);

    /* a watch the server refuses outright is an error, not a retry loop */
    eqops_k8s *tenant = client_for(tenant_kc, NULL);
    eqops_k8s_watch_options o = EQOPS_K8S_WATCH_OPTIONS_INIT;
    o.duration_ms = 5000;
    assert_int_equal(
        eqops_k8s_watch(tenant, "v1", "ConfigMap", "ct-watch", &o, on_event, &old.s, &e),
        EQOPS_EFORBIDDEN);
    eqops_error_clear(&e);
    eqops_k8s_free(tenant);
    eqops_k8s_free(k);
}

/* ---- EKS ----------------------------------------------------------------------------------- */

/* A client for an EKS cluster that moto describes: its endpoint and CA; nothing is sent to
 * the endpoint (it is not on this machine). */
static void test_eks(void **state)
{
    (void)state;
    NEED_ENV();
    const char *moto = getenv("EQOPS_TEST_AWS_ENDPOINT");
    if (moto == NULL)
        skip();
    char name[64], cmd[512];
    snprintf(name, sizeof(name), "eqops-k8s-%ld", (long)getpid());
    snprintf(cmd, sizeof(cmd),
             "aws eks create-cluster --region eu-west-1 --name %s --role-arn "
             "arn:aws:iam::123456789012:role/eks --resources-vpc-config subnetIds=subnet-1 "
             ">/dev/null",
             name);
    assert_int_equal(system(cmd), 0);
    eqops_aws_options ao = EQOPS_AWS_OPTIONS_INIT;
    ao.region = "eu-west-1";
    ao.endpoint_url = moto;
    eqops_aws *aws = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_aws_new(&aws, &ao, &e), 0);
    char *desc = NULL;
    assert_int_equal(eqops_aws_eks_describe_cluster(&desc, aws, name, &e), 0);
    json_t *d = doc_of(desc);
    eqops_k8s *k = NULL;
    assert_int_equal(eqops_k8s_new_eks(&k, aws, name, NULL, &e), 0);
    assert_string_equal(eqops_k8s_server(k), json_string_value(json_object_get(d, "endpoint")));
    assert_string_equal(eqops_k8s_context(k), "");
    eqops_k8s_free(k);
    json_decref(d);
    assert_int_equal(eqops_k8s_new_eks(&k, aws, "no-such-cluster", NULL, &e), EQOPS_ENOTFOUND);
    eqops_error_clear(&e);
    eqops_aws_free(aws);
}

/* ---- clean up ------------------------------------------------------------------------------ */

static void test_cleanup(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_k8s *k = client_for(admin_kc, NULL);
    eqops_error e = EQOPS_ERROR_INIT;
    const char *spaces[] = {"ct-verbs", "ct-apply", "ct-lists", "ct-crd", "ct-watch"};
    for (size_t i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++) {
        int rc = eqops_k8s_delete(NULL, k, "v1", "Namespace", NULL, spaces[i], NULL, &e);
        assert_true(rc == 0 || rc == EQOPS_ENOTFOUND);
        eqops_error_clear(&e);
    }
    const char *crds[] = {"tenants.eqops.test", "widgets.eqops.test"};
    for (size_t i = 0; i < 2; i++) {
        int rc = eqops_k8s_delete(NULL, k, "apiextensions.k8s.io/v1", "CustomResourceDefinition",
                                  NULL, crds[i], NULL, &e);
        assert_true(rc == 0 || rc == EQOPS_ENOTFOUND);
        eqops_error_clear(&e);
    }
    eqops_k8s_free(k);
}

int main(void)
{
    eqops_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kubeconfig_merge),
        cmocka_unit_test(test_users),
        cmocka_unit_test(test_exec_plugin),
        cmocka_unit_test(test_verbs),
        cmocka_unit_test(test_apply_conflicts),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_crd),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_eks),
        cmocka_unit_test(test_cleanup),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    eqops_cleanup();
    return rc;
}
