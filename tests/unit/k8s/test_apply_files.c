/*
 * test_apply_files.c - server-side apply of files and directories, up to the first request:
 * nothing to apply is an error (never a silent success), every file is read and checked
 * before anything is sent, and messages name the file and the object. Nothing listens at the
 * kubeconfig's server, so a test that got as far as sending would fail with
 * EQOPS_EUNAVAILABLE. What the API server does with the objects is tested against the real
 * control plane in tests/integration/test_k8s.py, side by side with kubectl.
 */
#include "k8s/k8s_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testserver.h"

#include "fail_alloc.h"

static char dir[64];
static eqops_k8s *k;

static const char *put(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (text != NULL) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
    }
    return path;
}

static int apply(const char *name, int recursive, eqops_error *e)
{
    char *out = NULL;
    eqops_error_clear(e);
    int rc = eqops_k8s_apply_path(&out, k, put(name, NULL), recursive, NULL, e);
    assert_null(out);
    return rc;
}

#define CM(name) "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " name ", namespace: n}\n"

static void nothing_to_apply(void **state)
{
    (void)state;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(mkdir(put("m", NULL), 0700), 0);
    assert_int_equal(apply("m", 1, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "path");
    assert_non_null(strstr(e.message, "no manifest files"));
    assert_int_equal(mkdir(put("m/sub", NULL), 0700), 0);
    put("m/notes.txt", "apiVersion: v1\n"); /* not a manifest's name: not read */
    put("m/sub/empty.yaml", "");
    assert_int_equal(apply("m", 0, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "-R for subdirectories"));
    assert_int_equal(apply("m", 1, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "m: no objects passed to apply"));
    put("m/sub/blank.yml", "---\n# only a comment\n---\n");
    assert_int_equal(apply("m/sub/blank.yml", 0, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "no objects passed to apply"));
    char *out = NULL;
    static const char *const empty[] = {"", "---\n", "[]", "{\"kind\": \"List\", \"items\": []}"};
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        assert_int_equal(eqops_k8s_apply_manifest(&out, k, empty[i], NULL, &e), EQOPS_EINVAL);
        assert_null(out);
        assert_string_equal(e.field, "manifest");
        assert_non_null(strstr(e.message, "no objects passed to apply"));
    }
    eqops_error_clear(&e);
}

/* A bad file anywhere stops everything before the first request; the message names it. */
static void every_file_checked_first(void **state)
{
    (void)state;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(mkdir(put("d", NULL), 0700), 0);
    assert_int_equal(mkdir(put("d/sub", NULL), 0700), 0);
    put("d/a.yaml", CM("a"));
    put("d/b.json", "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"apiVersion\": "
                    "\"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"b\"}}]}");
    put("d/sub/c.yml", CM("c") "---\n" CM("c2") "---\napiVersion: v1\nkind: ConfigMap\n");
    assert_int_equal(apply("d", 1, &e), EQOPS_EINVAL);
    if (strstr(e.message, "d/sub/c.yml: object 2: apply ConfigMap ?") == NULL)
        fail_msg("%s", e.message);
    assert_string_equal(e.field, "metadata.name");
    /* Regression: the message began with the field ("metadata.name: .../c.yml: object 2: ..."),
     * against every other message of apply (lib/k8s/manifest.c:155): it starts with the file */
    if (strncmp(e.message, put("d/sub/c.yml", NULL), strlen(put("d/sub/c.yml", NULL))) != 0)
        fail_msg("%s", e.message);
    char *out = NULL;
    assert_int_equal(eqops_k8s_apply_manifest(&out, k, "kind: ConfigMap\n", NULL, &e),
                     EQOPS_EINVAL);
    assert_string_equal(e.field, "apiVersion");
    assert_string_equal(e.message, "manifest: object 0: apply ConfigMap ?: apiVersion, kind and "
                                   "metadata.name are required");
    put("d/sub/c.yml", "kind: [\n");
    assert_int_equal(apply("d", 1, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "d/sub/c.yml: invalid YAML at line"));
    put("d/sub/c.yml", "- 1\n- 2\n");
    assert_int_equal(apply("d", 1, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "d/sub/c.yml: object 0 is not a mapping"));
    /* a YAML list of objects means what the JSON list means */
    put("d/sub/c.yml", "- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n"
                       "- {apiVersion: v1, kind: ConfigMap, metadata: {}}\n");
    assert_int_equal(apply("d", 1, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "d/sub/c.yml: object 1: apply ConfigMap ?"));
    put("d/sub/c.yml", CM("c"));
    assert_int_equal(mkfifo(put("d/sub/f.yaml", NULL), 0600), 0);
    alarm(30); /* a reader that waits on the FIFO for ever fails the test rather than hang it */
    setenv("EQOPS_FIFO_WAIT", "1", 1);
    assert_int_equal(apply("d", 1, &e), EQOPS_ETIMEOUT);
    assert_non_null(strstr(e.message, "no data from FIFO"));
    assert_non_null(strstr(e.message, "d/sub/f.yaml within 1 s"));
    assert_int_equal(apply("d/sub/f.yaml", 0, &e), EQOPS_ETIMEOUT);
    unsetenv("EQOPS_FIFO_WAIT");
    alarm(0);
    assert_int_equal(apply("d/missing.yaml", 0, &e), EQOPS_ENOTFOUND);
    assert_int_equal(eqops_k8s_apply_path(&out, k, "", 0, NULL, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_k8s_apply_path(&out, NULL, dir, 0, NULL, &e), EQOPS_EINVAL);
    eqops_k8s_write_options o = EQOPS_K8S_WRITE_OPTIONS_INIT;
    o.concurrency = 65;
    assert_int_equal(eqops_k8s_apply_path(&out, k, dir, 0, &o, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
}

struct actx {
    const char *path;
    char *out;
    eqops_error err;
};

/* up to the first request: reading, parsing and checking every file; the object without a
 * name in s/b.json is where a run without failures ends (0 here) */
static int op_apply(void *p)
{
    struct actx *c = p;
    int rc = eqops_k8s_apply_path(&c->out, k, c->path, 1, NULL, &c->err);
    if (rc == EQOPS_EINVAL && strstr(c->err.message, "s/b.json: object 0: apply ConfigMap ?"))
        return 0;
    return rc;
}

static void cleanup(void *p)
{
    struct actx *c = p;
    eqops_free(c->out);
    c->out = NULL;
    eqops_error_clear(&c->err);
}

static void allocation_failures(void **state)
{
    (void)state;
    assert_int_equal(mkdir(put("af", NULL), 0700), 0);
    assert_int_equal(mkdir(put("af/s", NULL), 0700), 0);
    put("af/a.yaml", CM("a") "---\n" CM("b"));
    put("af/s/b.json", "[{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {}}]");
    struct actx c = {NULL, NULL, EQOPS_ERROR_INIT};
    char path[256];
    c.path = strcpy(path, put("af", NULL));
    fa_install();
    /* may succeed: when jansson fails on an allocation without saying so, the text is read
     * again as YAML, to the same objects */
    long points = fa_loop(op_apply, cleanup, &c, EQOPS_ENOMEM, true);
    fa_uninstall();
    assert_true(points > 20);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/eqops-test-apply-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    char kc[128];
    snprintf(kc, sizeof(kc), "%s/config", dir);
    FILE *f = fopen(kc, "w");
    if (f == NULL)
        return -1;
    fputs("clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n" /* nobody there */
          "users: [{name: u, user: {token: t}}]\n"
          "contexts: [{name: x, context: {cluster: c, user: u, namespace: n}}]\n"
          "current-context: x\n",
          f);
    fclose(f);
    eqops_k8s_options o = EQOPS_K8S_OPTIONS_INIT;
    o.kubeconfig = kc;
    o.max_retries = -1;
    return eqops_k8s_new(&k, &o, NULL);
}

static int teardown(void **state)
{
    (void)state;
    eqops_k8s_free(k);
    ts_rmtree(dir);
    return 0;
}

int main(void)
{
    eqops_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nothing_to_apply),
        cmocka_unit_test(every_file_checked_first),
        cmocka_unit_test(allocation_failures),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    eqops_cleanup();
    return rc;
}
