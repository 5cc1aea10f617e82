/*
 * test_k8s_seam.c - the k8s module's document interface (lib/k8s/k8s_seam.h, what the tenant
 * module calls) against a real kube-apiserver (scripts/testenv): every verb takes and returns
 * json_t, errors are those of the public text functions, the caller's documents are never
 * changed; and the client's cancellation token: a watch cancelled from another thread stops
 * soon, and resumed from its last resourceVersion it reports every change made meanwhile; a
 * cancelled apply_manifest applies nothing. Objects live in the namespace "ct-seam".
 *
 * Needs EQOPS_TEST_K8S_KUBECONFIG (`scripts/testenv env`); without it the tests skip (and fail
 * with CI=true).
 */
#include <eqops.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core_internal.h"
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

/* A client of the admin kubeconfig; `cancel` (may be NULL) its token. */
static eqops_k8s *client_cancel(eqops_cancel *cancel)
{
    eqops_k8s_options o = EQOPS_K8S_OPTIONS_INIT;
    o.kubeconfig = admin_kc;
    o.cancel = cancel;
    eqops_k8s *k = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_k8s_new(&k, &o, &e) != 0)
        fail_msg("k8s_new: %s", e.message);
    return k;
}

static eqops_k8s *client(void)
{
    return client_cancel(NULL);
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

/* ---- cancellation ------------------------------------------------------------------------- */

typedef struct watch_log {
    pthread_mutex_t mu;
    char log[4096];
    char rv[128]; /* of the last event */
    int events;
    int stop_after; /* 0: never */
} watch_log;

static int on_event(const char *type, const char *object, void *payload)
{
    watch_log *w = payload;
    json_t *obj = json_loads(object, 0, NULL);
    pthread_mutex_lock(&w->mu);
    size_t n = strlen(w->log);
    snprintf(w->log + n, sizeof(w->log) - n, "%s %s %s\n", type, meta(obj, "name"),
             data(obj, "a") ? data(obj, "a") : "-");
    snprintf(w->rv, sizeof(w->rv), "%s", meta(obj, "resourceVersion"));
    int stop = w->stop_after && ++w->events >= w->stop_after;
    pthread_mutex_unlock(&w->mu);
    json_decref(obj);
    return stop;
}

typedef struct watch_run {
    eqops_k8s *k;
    const char *rv;
    watch_log *log;
    int rc;
    eqops_error err;
    int64_t returned;
} watch_run;

static void *watcher(void *arg)
{
    watch_run *r = arg;
    eqops_k8s_watch_options o = EQOPS_K8S_WATCH_OPTIONS_INIT;
    o.label_selector = "seam-watch=1";
    o.resource_version = r->rv;
    o.duration_ms = 120000;
    eqops_error_init(&r->err);
    r->rc = eqops_k8s_watch(r->k, "v1", "ConfigMap", "ct-seam", &o, on_event, r->log, &r->err);
    r->returned = eqops__mono_ms();
    return NULL;
}

static void set_a(eqops_k8s *k, const char *name, const char *a)
{
    json_t *cm = configmap(name, a), *out = NULL;
    json_object_set_new(json_object_get(cm, "metadata"), "labels",
                        json_pack("{s:s}", "seam-watch", "1"));
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops__k8s_apply_doc(&out, k, cm, NULL, &e) != 0)
        fail_msg("apply %s: %s", name, e.message);
    json_decref(out);
    json_decref(cm);
}

static void wait_for(watch_log *w, const char *line)
{
    for (int i = 0; i < 600; i++) {
        pthread_mutex_lock(&w->mu);
        bool seen = strstr(w->log, line) != NULL;
        pthread_mutex_unlock(&w->mu);
        if (seen)
            return;
        usleep(50 * 1000);
    }
    fail_msg("no event \"%s\" in:\n%s", line, w->log);
}

static void test_watch_cancel_resume(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_cancel *c = NULL;
    assert_int_equal(eqops_cancel_new(&c, &e), 0);
    eqops_k8s *k = client(), *kw = client_cancel(c); /* kw: every call stops on `c` */
    namespace(k);

    watch_log log;
    memset(&log, 0, sizeof(log));
    pthread_mutex_init(&log.mu, NULL);
    watch_run run = {kw, NULL, &log, 0, EQOPS_ERROR_INIT, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, watcher, &run), 0);
    set_a(k, "w1", "1");
    wait_for(&log, "ADDED w1 1\n");
    usleep(300 * 1000); /* the stream is idle: the token must stop a quiet transfer */
    int64_t triggered = eqops__mono_ms();
    eqops_cancel_trigger(c);
    pthread_join(t, NULL);
    fprintf(stderr, "# watch stopped %lld ms after the trigger\n",
            (long long)(run.returned - triggered));
    assert_int_equal(run.rc, EQOPS_ECANCELED);
    assert_non_null(strstr(run.err.message, "cancelled"));
    assert_true(run.returned - triggered < 10000);
    eqops_error_clear(&run.err);

    /* changes while nobody watches */
    set_a(k, "w1", "2");
    set_a(k, "w2", "x");
    assert_int_equal(eqops__k8s_delete_doc(NULL, k, "v1", "ConfigMap", "ct-seam", "w1", NULL, &e),
                     0);

    /* resumed from the last resourceVersion seen: every change, in order, nothing twice */
    char rv[128];
    snprintf(rv, sizeof(rv), "%s", log.rv);
    log.log[0] = '\0';
    log.stop_after = 3;
    eqops_cancel_reset(c);
    watch_run again = {kw, rv, &log, 0, EQOPS_ERROR_INIT, 0};
    watcher(&again);
    assert_int_equal(again.rc, EQOPS_ECANCELED); /* the callback's stop */
    if (strcmp(log.log, "MODIFIED w1 2\nADDED w2 x\nDELETED w1 2\n") != 0)
        fail_msg("after resuming at %s:\n%s", rv, log.log);
    eqops_error_clear(&again.err);

    /* a token triggered before apply_manifest: nothing is applied */
    eqops_cancel_trigger(c);
    json_t *objects = json_pack("[o]", configmap("never", "1")), *out = NULL;
    assert_int_equal(eqops__k8s_apply_manifest_doc(&out, kw, objects, NULL, &e), EQOPS_ECANCELED);
    assert_null(out);
    eqops_error_clear(&e);
    json_decref(objects);
    assert_int_equal(eqops__k8s_get_doc(&out, k, "v1", "ConfigMap", "ct-seam", "never", &e),
                     EQOPS_ENOTFOUND);
    eqops_error_clear(&e);

    /* the write options' own token stops a call of a client without one */
    eqops_k8s_write_options wo = EQOPS_K8S_WRITE_OPTIONS_INIT;
    wo.cancel = c;
    objects = json_pack("[o]", configmap("never", "1"));
    assert_int_equal(eqops__k8s_apply_manifest_doc(&out, k, objects, &wo, &e), EQOPS_ECANCELED);
    eqops_error_clear(&e);
    assert_int_equal(eqops__k8s_apply_doc(&out, k, json_array_get(objects, 0), &wo, &e),
                     EQOPS_ECANCELED);
    eqops_error_clear(&e);
    json_decref(objects);
    assert_int_equal(eqops__k8s_get_doc(&out, k, "v1", "ConfigMap", "ct-seam", "never", &e),
                     EQOPS_ENOTFOUND);
    eqops_error_clear(&e);

    pthread_mutex_destroy(&log.mu);
    eqops_cancel_free(c);
    eqops_k8s_free(kw);
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
        cmocka_unit_test(test_watch_cancel_resume),
        cmocka_unit_test(test_cleanup),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    eqops_cleanup();
    return rc;
}
