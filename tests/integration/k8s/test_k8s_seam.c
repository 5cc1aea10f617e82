/*
 * test_k8s_seam.c - the k8s module's document interface (lib/k8s/k8s_seam.h, what the tenant
 * module calls) against a real kube-apiserver (scripts/testenv): every verb takes and returns
 * json_t, errors are those of the public text functions, the caller's documents are never
 * changed. Objects live in the namespace "ct-seam".
 *
 * Needs EQOPS_TEST_K8S_KUBECONFIG (`scripts/testenv env`); without it the tests skip (and fail
 * with CI=true).
 */
#include <eqops.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "k8s/k8s_seam.h"

static const char *admin_kc;

static int setup(void **state)
{
    (void)state;
    admin_kc = getenv("EQOPS_TEST_K8S_KUBECONFIG");
    if (admin_kc == NULL) {
        const char *ci = getenv("CI");
        fprintf(stderr, "test environment not running: scripts/testenv up k8s; eval "
                        "\"$(scripts/testenv env)\"\n");
        return ci && !strcmp(ci, "true") ? -1 : 0;
    }
    unsetenv("KUBECONFIG");
    return 0;
}

#define NEED_ENV()                                                                                 \
    do {                                                                                           \
        if (admin_kc == NULL)                                                                      \
            skip();                                                                                \
    } while (0)

static eqops_k8s *client(void)
{
    eqops_k8s_options o = EQOPS_K8S_OPTIONS_INIT;
    o.kubeconfig = admin_kc;
    eqops_k8s *k = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_k8s_new(&k, &o, &e) != 0)
        fail_msg("k8s_new: %s", e.message);
    return k;
}

static const char *meta(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static const char *data(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "data"), key));
}

static json_t *configmap(const char *name, const char *a)
{
    json_t *o =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                  "metadata", "name", name, "namespace", "ct-seam", "data", "a", a);
    assert_non_null(o);
    return o;
}

/* The namespace of this test; one left by an earlier run may still be terminating. */
static void namespace(eqops_k8s *k)
{
    eqops_error e = EQOPS_ERROR_INIT;
    for (int i = 0; i < 1200; i++) {
        json_t *ns = NULL;
        int rc = eqops__k8s_get_doc(&ns, k, "v1", "Namespace", NULL, "ct-seam", &e);
        eqops_error_clear(&e);
        bool terminating = rc == 0 && meta(ns, "deletionTimestamp");
        json_decref(ns);
        if (!terminating)
            break;
        usleep(100 * 1000);
    }
    json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                           "metadata", "name", "ct-seam");
    json_t *out = NULL;
    if (eqops__k8s_apply_doc(&out, k, ns, NULL, &e) != 0)
        fail_msg("apply namespace: %s", e.message);
    json_decref(out);
    json_decref(ns);
}

static void test_verbs(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_k8s *k = client();
    eqops_error e = EQOPS_ERROR_INIT;
    namespace(k);
    json_t *out = NULL, *cm = configmap("s1", "1");
    char *before = json_dumps(cm, JSON_SORT_KEYS);

    /* create, and the same again: the Status error as the text function gives it */
    assert_int_equal(eqops__k8s_create_doc(&out, k, cm, NULL, &e), 0);
    assert_string_equal(meta(out, "name"), "s1");
    assert_non_null(meta(out, "uid"));
    json_t *created = out;
    out = (json_t *)1;
    assert_int_equal(eqops__k8s_create_doc(&out, k, cm, NULL, &e), EQOPS_EEXISTS);
    assert_null(out);
    assert_string_equal(e.reason, "AlreadyExists");
    eqops_error_clear(&e);
    /* the caller's document is the caller's: never changed */
    char *after = json_dumps(cm, JSON_SORT_KEYS);
    assert_string_equal(before, after);
    free(after);
    free(before);

    /* get */
    assert_int_equal(eqops__k8s_get_doc(&out, k, "v1", "ConfigMap", "ct-seam", "s1", &e), 0);
    assert_string_equal(data(out, "a"), "1");
    json_decref(out);

    /* replace with the created resourceVersion, then again with it (stale) */
    json_t *stale = json_deep_copy(created);
    json_object_set_new(json_object_get(stale, "data"), "a", json_string("2"));
    assert_int_equal(eqops__k8s_replace_doc(&out, k, stale, NULL, &e), 0);
    assert_string_equal(data(out, "a"), "2");
    json_decref(out);
    assert_int_equal(eqops__k8s_replace_doc(&out, k, stale, NULL, &e), EQOPS_ECONFLICT);
    assert_null(out);
    eqops_error_clear(&e);
    json_decref(stale);

    /* merge patch; a patch that is not an object is refused before anything is sent */
    json_t *patch = json_pack("{s:{s:s}}", "data", "b", "3");
    assert_int_equal(
        eqops__k8s_patch_doc(&out, k, "v1", "ConfigMap", "ct-seam", "s1", patch, NULL, &e), 0);
    assert_string_equal(data(out, "a"), "2");
    assert_string_equal(data(out, "b"), "3");
    json_decref(out);
    json_decref(patch);
    json_t *arr = json_array();
    assert_int_equal(
        eqops__k8s_patch_doc(&out, k, "v1", "ConfigMap", "ct-seam", "s1", arr, NULL, &e),
        EQOPS_EINVAL);
    assert_string_equal(e.field, "merge_patch");
    eqops_error_clear(&e);

    /* server-side apply: a new object and the same one again */
    json_t *cm2 = configmap("s2", "x");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(eqops__k8s_apply_doc(&out, k, cm2, NULL, &e), 0);
        assert_string_equal(data(out, "a"), "x");
        json_decref(out);
    }
    /* an object without a name, and one that is not an object */
    json_t *anon =
        json_pack("{s:s, s:s, s:{}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata");
    assert_int_equal(eqops__k8s_apply_doc(&out, k, anon, NULL, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "metadata.name");
    eqops_error_clear(&e);
    assert_int_equal(eqops__k8s_apply_doc(&out, k, arr, NULL, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "object");
    eqops_error_clear(&e);
    json_decref(anon);

    /* list: both, as one List document */
    eqops_k8s_list_options lo = EQOPS_K8S_LIST_OPTIONS_INIT;
    lo.limit = 1; /* two pages */
    assert_int_equal(eqops__k8s_list_doc(&out, k, "v1", "ConfigMap", "ct-seam", &lo, &e), 0);
    size_t named = 0, i;
    json_t *item;
    json_array_foreach(json_object_get(out, "items"), i, item) named +=
        !strcmp(meta(item, "name"), "s1") || !strcmp(meta(item, "name"), "s2");
    assert_int_equal(named, 2);
    assert_null(json_object_get(json_object_get(out, "metadata"), "continue"));
    json_decref(out);

    /* apply_manifest on an array (a List unpacked); the applied objects in order */
    json_t *objects = json_pack("[O, {s:s, s:s, s:[o]}]", cm2, "apiVersion", "v1", "kind",
                                "ConfigMapList", "items", configmap("s3", "y"));
    assert_int_equal(eqops__k8s_apply_manifest_doc(&out, k, objects, NULL, &e), 0);
    assert_int_equal(json_array_size(out), 2);
    assert_string_equal(meta(json_array_get(out, 0), "name"), "s2");
    assert_string_equal(meta(json_array_get(out, 1), "name"), "s3");
    json_decref(out);
    json_decref(objects);
    /* an empty array, and something that is not an array */
    json_t *none = json_array();
    assert_int_equal(eqops__k8s_apply_manifest_doc(&out, k, none, NULL, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "no objects passed to apply"));
    eqops_error_clear(&e);
    assert_int_equal(eqops__k8s_apply_manifest_doc(&out, k, cm2, NULL, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "manifest");
    eqops_error_clear(&e);
    json_decref(none);

    /* delete: the answer, or none asked for; then not found */
    assert_int_equal(eqops__k8s_delete_doc(&out, k, "v1", "ConfigMap", "ct-seam", "s1", NULL, &e),
                     0);
    assert_true(json_is_object(out));
    json_decref(out);
    assert_int_equal(eqops__k8s_delete_doc(NULL, k, "v1", "ConfigMap", "ct-seam", "s2", NULL, &e),
                     0);
    assert_int_equal(eqops__k8s_delete_doc(&out, k, "v1", "ConfigMap", "ct-seam", "s1", NULL, &e),
                     EQOPS_ENOTFOUND);
    assert_null(out);
    eqops_error_clear(&e);
    assert_int_equal(eqops__k8s_get_doc(&out, k, "v1", "ConfigMap", "ct-seam", "s2", &e),
                     EQOPS_ENOTFOUND);
    eqops_error_clear(&e);

    /* the kind lookup */
    const char *resource = NULL;
    bool namespaced = false;
    assert_int_equal(eqops__k8s_lookup(k, "v1", "ConfigMap", &resource, &namespaced, &e), 0);
    assert_string_equal(resource, "configmaps");
    assert_true(namespaced);
    assert_int_equal(eqops__k8s_lookup(k, "v1", "NoSuchThing", &resource, &namespaced, &e),
                     EQOPS_ENOTFOUND);
    assert_string_equal(e.reason, "NoSuchKind");
    eqops_error_clear(&e);

    json_decref(arr);
    json_decref(cm2);
    json_decref(created);
    json_decref(cm);
    eqops_k8s_free(k);
}

static void test_cleanup(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_k8s *k = client();
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops__k8s_delete_doc(NULL, k, "v1", "Namespace", NULL, "ct-seam", NULL, &e);
    assert_true(rc == 0 || rc == EQOPS_ENOTFOUND);
    eqops_error_clear(&e);
    eqops_k8s_free(k);
}

int main(void)
{
    eqops_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verbs),
        cmocka_unit_test(test_cleanup),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    eqops_cleanup();
    return rc;
}
