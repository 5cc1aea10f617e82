/*
 * test_kubeconfig.c - kubeconfig rules kubectl enforces, without a server: a name twice in one
 * file is refused (the same name in two files of KUBECONFIG is the merge, first file wins);
 * insecure-skip-tls-verify with a CA is refused; the `kubeconfig` option is one path (as
 * kubectl's --kubeconfig), KUBECONFIG a ':'-separated list; an entry without a name is read
 * (kubectl reads it) but never used; a tokenFile or a kubeconfig that is a FIFO is read with a
 * bounded wait for its writer (EQOPS_FIFO_WAIT, 1 s here), never waited on for ever. The
 * behaviour was checked against kubectl 1.32 (`kubectl config view`, `kubectl get` with such
 * files).
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

static char dir[64];

static const char *file(const char *name, const char *text)
{
    static char path[8][256];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, 256, "%s/%s", dir, name);
    if (text != NULL) {
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
    }
    return p;
}

static int new_client(eqops_k8s **k, const char *kubeconfig, eqops_error *e)
{
    eqops_k8s_options o = EQOPS_K8S_OPTIONS_INIT;
    o.kubeconfig = kubeconfig;
    eqops_error_clear(e);
    int rc = eqops_k8s_new(k, &o, e);
    if (rc != 0)
        assert_null(*k);
    return rc;
}

#define CLUSTER(name, port) "- {name: " name ", cluster: {server: 'https://127.0.0.1:" port "'}}\n"
#define USER(name, token)   "- {name: " name ", user: {token: " token "}}\n"
#define CONTEXT(name)       "- {name: " name ", context: {cluster: x, user: u}}\n"

static void duplicate_names(void **state)
{
    (void)state;
    eqops_k8s *k = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    static const struct {
        const char *text, *field, *name;
    } cases[] = {
        {"clusters:\n" CLUSTER("x", "1") CLUSTER("y", "3") CLUSTER("x", "2") "users:\n" USER(
             "u", "t") "contexts:\n" CONTEXT("c") "current-context: c\n",
         "clusters[2].name", "duplicate name \"x\" (clusters[0] has it too)"},
        {"clusters:\n" CLUSTER("x", "1") "users:\n" USER("u", "first-secret")
             USER("u", "second-secret") "contexts:\n" CONTEXT("c") "current-context: c\n",
         "users[1].name", "duplicate name \"u\" (users[0] has it too)"},
        {"clusters:\n" CLUSTER("x", "1") "users:\n" USER("u", "t") "contexts:\n" CONTEXT("c")
             CONTEXT("c") "current-context: c\n",
         "contexts[1].name", "duplicate name \"c\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *path = file("dup.yaml", cases[i].text);
        assert_int_equal(new_client(&k, path, &e), EQOPS_EINVAL);
        assert_string_equal(e.field, cases[i].field);
        if (strstr(e.message, cases[i].name) == NULL || strstr(e.message, path) == NULL)
            fail_msg("case %zu: %s", i, e.message);
        assert_null(strstr(e.message, "secret")); /* kubectl prints the credentials here */
        /* the contexts listing reads the same files the same way */
        char *out = NULL;
        assert_int_equal(eqops_k8s_contexts(&out, path, &e), EQOPS_EINVAL);
        assert_null(out);
    }
    /* the duplicate is refused in any file of the list, as kubectl does */
    const char *good =
        file("good.yaml", "clusters:\n" CLUSTER("x", "9") "users:\n" USER(
                              "u", "t9") "contexts:\n" CONTEXT("c") "current-context: c\n");
    char list[600];
    snprintf(list, sizeof(list), "%s:%s", good, file("dup.yaml", NULL));
    setenv("KUBECONFIG", list, 1);
    assert_int_equal(new_client(&k, NULL, &e), EQOPS_EINVAL);
    unsetenv("KUBECONFIG");
    assert_non_null(strstr(e.message, "dup.yaml"));
    eqops_error_clear(&e);
}

/* The same names in two files are the merge: the first file to name an entry wins. */
static void same_names_in_two_files(void **state)
{
    (void)state;
    const char *a =
        file("a.yaml", "clusters:\n" CLUSTER("x", "1") "users:\n" USER(
                           "u", "ta") "contexts:\n" CONTEXT("c") "current-context: c\n");
    const char *b =
        file("b.yaml",
             "clusters:\n" CLUSTER("x", "2") "users:\n" USER("u", "tb") "contexts:\n" CONTEXT("c")
                 CONTEXT("d") "current-context: d\n");
    char list[600];
    snprintf(list, sizeof(list), "%s:%s", a, b);
    setenv("KUBECONFIG", list, 1);
    eqops_k8s *k = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(new_client(&k, NULL, &e), 0);
    assert_string_equal(eqops_k8s_server(k), "https://127.0.0.1:1");
    assert_string_equal(eqops_k8s_context(k), "c");
    eqops_k8s_free(k);
    snprintf(list, sizeof(list), "%s:%s", b, a);
    setenv("KUBECONFIG", list, 1);
    assert_int_equal(new_client(&k, NULL, &e), 0);
    assert_string_equal(eqops_k8s_server(k), "https://127.0.0.1:2");
    assert_string_equal(eqops_k8s_context(k), "d");
    eqops_k8s_free(k);
    /* the token of the first file is the one used */
    k8s_config cfg;
    snprintf(list, sizeof(list), "%s:%s", a, b);
    setenv("KUBECONFIG", list, 1);
    assert_int_equal(eqops__k8s_config_load(&cfg, NULL, "c", &e), 0);
    assert_string_equal(cfg.token, "ta");
    eqops__k8s_config_clear(&cfg);
    unsetenv("KUBECONFIG");
}

/*
 * Regression: the `kubeconfig` option (eqops --kubeconfig) was split on ':' like KUBECONFIG;
 * kubectl's --kubeconfig is one path, and a file whose name has a ':' was not found. An
 * explicit path must exist; KUBECONFIG's missing files are skipped.
 */
static void explicit_path_is_one_file(void **state)
{
    (void)state;
    const char *a =
        file("with:colon.yaml", "clusters:\n" CLUSTER("x", "7") "users:\n" USER(
                                    "u", "t") "contexts:\n" CONTEXT("c") "current-context: c\n");
    eqops_k8s *k = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (new_client(&k, a, &e) != 0)
        fail_msg("%s", e.message);
    assert_string_equal(eqops_k8s_server(k), "https://127.0.0.1:7");
    eqops_k8s_free(k);
    char *out = NULL;
    assert_int_equal(eqops_k8s_contexts(&out, a, &e), 0);
    assert_non_null(strstr(out, "\"current\":\"c\""));
    eqops_free(out);
    /* two paths in the option are one (missing) file, not a list */
    char list[600];
    snprintf(list, sizeof(list), "%s:%s", file("good.yaml", NULL), a);
    assert_int_equal(new_client(&k, list, &e), EQOPS_ENOTFOUND);
    assert_non_null(strstr(e.message, list));
    /* KUBECONFIG stays a list: a missing file in it is skipped */
    snprintf(list, sizeof(list), "%s:%s", file("missing.yaml", NULL), file("good.yaml", NULL));
    setenv("KUBECONFIG", list, 1);
    assert_int_equal(new_client(&k, NULL, &e), 0);
    assert_string_equal(eqops_k8s_server(k), "https://127.0.0.1:9");
    eqops_k8s_free(k);
    unsetenv("KUBECONFIG");
    eqops_error_clear(&e);
}

/*
 * Regression: an entry with `name: ""` (or none) made the whole file fail "clusters[1]: needs
 * a name"; kubectl reads such a file. eqops reads it too, and refuses only to use such an
 * entry: kubectl would take the unnamed cluster (and the unnamed user's credentials) for a
 * context that names none.
 */
static void unnamed_entries(void **state)
{
    (void)state;
    eqops_k8s *k = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    const char *path =
        file("unnamed.yaml", "clusters:\n" CLUSTER("x", "1") CLUSTER("''", "2") "users:\n" USER(
                                 "u", "t") "- {user: {token: t2}}\n"
                                           "contexts:\n" CONTEXT("c") "- {name: '', context: {}}\n"
                                                                      "current-context: c\n");
    if (new_client(&k, path, &e) != 0)
        fail_msg("%s", e.message);
    assert_string_equal(eqops_k8s_server(k), "https://127.0.0.1:1");
    eqops_k8s_free(k);
    char *out = NULL;
    assert_int_equal(eqops_k8s_contexts(&out, path, &e), 0);
    assert_null(strstr(out, "\"name\":\"\""));
    eqops_free(out);
    /* a context that names no cluster while an unnamed one exists */
    path = file("unnamed.yaml", "clusters:\n" CLUSTER("''", "2") "users:\n" USER(
                                    "u", "t") "contexts: [{name: c, context: {user: u}}]\n"
                                              "current-context: c\n");
    assert_int_equal(new_client(&k, path, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "cluster");
    if (strstr(e.message, "context \"c\" names no cluster (an entry of clusters has no name") ==
        NULL)
        fail_msg("%s", e.message);
    /* ... or no user while an unnamed user exists: its credentials are not sent */
    path = file("unnamed.yaml", "clusters:\n" CLUSTER("x", "2") "users: [{name: '', user: "
                                                                "{token: t2}}]\n"
                                                                "contexts: [{name: c, context: "
                                                                "{cluster: x}}]\n"
                                                                "current-context: c\n");
    assert_int_equal(new_client(&k, path, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "user");
    assert_non_null(strstr(e.message, "names no user, and an entry of users has no name"));
    /* two unnamed entries are a duplicate, as in kubectl */
    path = file("unnamed.yaml", "clusters:\n" CLUSTER("x", "1") "- {cluster: {server: "
                                                                "'https://127.0.0.1:2'}}\n"
                                                                "- {name: null}\n"
                                                                "contexts:\n" CONTEXT("c"));
    assert_int_equal(new_client(&k, path, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "clusters[2].name");
    /* a name that is not a string */
    path = file("unnamed.yaml", "clusters: [{name: [x]}]\n");
    assert_int_equal(new_client(&k, path, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "clusters[0]: its name must be a string"));
    /* the server's scheme: https:// or, as kubectl allows, http:// */
    path = file("unnamed.yaml",
                "clusters: [{name: x, cluster: {server: 'ftp://127.0.0.1:1'}}]\n"
                "users:\n" USER("u", "t") "contexts:\n" CONTEXT("c") "current-context: c\n");
    assert_int_equal(new_client(&k, path, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "must be an https:// (or http://) URL"));
    path = file("unnamed.yaml",
                "clusters: [{name: x, cluster: {server: 'http://127.0.0.1:1'}}]\n"
                "users:\n" USER("u", "t") "contexts:\n" CONTEXT("c") "current-context: c\n");
    assert_int_equal(new_client(&k, path, &e), 0);
    eqops_k8s_free(k);
    eqops_error_clear(&e);
}

static void insecure_with_a_ca(void **state)
{
    (void)state;
    eqops_k8s *k = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    file("ca.crt", "-----BEGIN CERTIFICATE-----\n");
    char text[1200];
    static const char *const settings[] = {
        "certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",
        "certificate-authority: ca.crt",
    };
    static const char *const said[] = {"certificate-authority-data", "certificate-authority:"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(text, sizeof(text),
                 "clusters:\n- {name: x, cluster: {server: 'https://127.0.0.1:1', "
                 "insecure-skip-tls-verify: true, %s}}\n"
                 "users:\n" USER("u", "t") "contexts:\n" CONTEXT("c") "current-context: c\n",
                 settings[i]);
        const char *path = file("insecure.yaml", text);
        assert_int_equal(new_client(&k, path, &e), EQOPS_EINVAL);
        assert_string_equal(e.field, "clusters[x].insecure-skip-tls-verify");
        if (strstr(e.message, said[i]) == NULL || strstr(e.message, "not allowed") == NULL ||
            strstr(e.message, path) == NULL)
            fail_msg("case %zu: %s", i, e.message);
    }
    /* not a boolean */
    const char *path =
        file("insecure.yaml",
             "clusters:\n- {name: x, cluster: {server: 'https://127.0.0.1:1', "
             "insecure-skip-tls-verify: 'yes'}}\n"
             "users:\n" USER("u", "t") "contexts:\n" CONTEXT("c") "current-context: c\n");
    assert_int_equal(new_client(&k, path, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "must be true or false"));
    /* insecure alone, or false with a CA: accepted */
    path =
        file("insecure.yaml", "clusters:\n- {name: x, cluster: {server: 'https://127.0.0.1:1', "
                              "insecure-skip-tls-verify: true}}\n"
                              "- {name: y, cluster: {server: 'https://127.0.0.1:2', "
                              "insecure-skip-tls-verify: false, certificate-authority: ca.crt}}\n"
                              "users:\n" USER("u", "t") "contexts:\n" CONTEXT(
                                  "c") "- {name: d, context: {cluster: y, user: u}}\n"
                                       "current-context: c\n");
    assert_int_equal(new_client(&k, path, &e), 0);
    eqops_k8s_free(k);
    eqops_k8s_options o = EQOPS_K8S_OPTIONS_INIT;
    o.kubeconfig = path;
    o.context = "d";
    k = NULL;
    assert_int_equal(eqops_k8s_new(&k, &o, &e), 0);
    eqops_k8s_free(k);
    eqops_error_clear(&e);
}

/* A FIFO named as a tokenFile (or as the kubeconfig) without a writer: no data within the
 * bounded wait, never a hang. */
static void fifos_waited_on(void **state)
{
    (void)state;
    const char *fifo = file("token.fifo", NULL);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    static const char text[] = "clusters:\n" CLUSTER("x", "1") /* nothing listens there */
        "users: [{name: u, user: {tokenFile: token.fifo}}]\n"
        "contexts:\n" CONTEXT("c") "current-context: c\n";
    const char *path = file("fifo-token.yaml", text);
    eqops_k8s *k = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(new_client(&k, path, &e), 0);
    char *out = NULL;
    alarm(30); /* a reader blocking on the FIFO fails the test rather than hanging it */
    int rc = eqops_k8s_request(&out, k, "GET", "/version", NULL, NULL, &e);
    alarm(0);
    assert_int_equal(rc, EQOPS_ETIMEOUT);
    assert_null(out);
    if (strstr(e.message, "no data from FIFO") == NULL ||
        strstr(e.message, "token.fifo within 1 s") == NULL)
        fail_msg("%s", e.message);
    eqops_k8s_free(k);
    alarm(30);
    assert_int_equal(new_client(&k, fifo, &e), EQOPS_ETIMEOUT);
    alarm(0);
    assert_non_null(strstr(e.message, "no data from FIFO"));
    eqops_error_clear(&e);
}

static int setup(void **state)
{
    (void)state;
    setenv("EQOPS_FIFO_WAIT", "1", 1);
    unsetenv("KUBECONFIG");
    snprintf(dir, sizeof(dir), "/tmp/eqops-test-kubeconfig-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ts_rmtree(dir);
    return 0;
}

int main(void)
{
    eqops_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(duplicate_names),           cmocka_unit_test(same_names_in_two_files),
        cmocka_unit_test(explicit_path_is_one_file), cmocka_unit_test(unnamed_entries),
        cmocka_unit_test(insecure_with_a_ca),        cmocka_unit_test(fifos_waited_on),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    eqops_cleanup();
    return rc;
}
