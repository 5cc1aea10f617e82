/*
 * test_k8s_faults.c - the k8s client against a loopback API server that misbehaves on demand
 * (tests/support/k8s_faults.py): 429 with Retry-After and 503 retried for reads, never for a
 * create; a connection dropped mid-body retried; a stalled body reported as a timeout; a watch
 * stream cut off resumed from the last resourceVersion, a silent one noticed by the idle
 * timeout; the client's token stopping a silent watch stream and a wait to reconnect
 * (EQOPS_ECANCELED, the time from the trigger printed). Status answers read into errors: bad input
 * reported as a 500 by server-side apply, and the values of a Secret never copied from the server's
 * message. The real API server is used by the integration tests.
 */
#include "k8s/k8s_internal.h"
#include "testserver.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static ts_server fake;
static char base[128], kubeconfig[300];

static int setup(void **state)
{
    (void)state;
    if (ts_start_support(&fake, "k8s_faults.py") != 0)
        return -1;
    snprintf(base, sizeof(base), "http://127.0.0.1:%ld", ts_int(&fake, "port"));
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/config", fake.dir);
    FILE *f = fopen(kubeconfig, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "clusters: [{name: c, cluster: {server: '%s'}}]\n"
            "users: [{name: u, user: {token: t}}]\n"
            "contexts: [{name: x, context: {cluster: c, user: u, namespace: faults}}]\n"
            "current-context: x\n",
            base);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_stop(&fake);
    return 0;
}

static eqops_k8s *client(long timeout_ms)
{
    eqops_k8s_options o = EQOPS_K8S_OPTIONS_INIT;
    o.kubeconfig = kubeconfig;
    o.timeout_ms = timeout_ms;
    eqops_k8s *k = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_k8s_new(&k, &o, &e) != 0)
        fail_msg("k8s_new: %s", e.message);
    return k;
}

static long fake_get(const char *path)
{
    return ts_get_number(base, path, NULL);
}

static void test_retries(void **state)
{
    (void)state;
    eqops_k8s *k = client(0);
    eqops_error e = EQOPS_ERROR_INIT;
    char *out = NULL;
    const char *faults[] = {"/mode?fault=429&times=1", "/mode?fault=503&times=2",
                            "/mode?fault=drop&times=1"};
    long before = fake_get("/count?key=get");
    long want = before;
    for (size_t i = 0; i < 3; i++) {
        fake_get(faults[i]);
        int64_t t0 = eqops__mono_ms();
        if (eqops_k8s_get(&out, k, "v1", "ConfigMap", NULL, "a", &e) != 0)
            fail_msg("%s: %s", faults[i], e.message);
        eqops_free(out);
        want += i == 1 ? 3 : 2;
        assert_int_equal(fake_get("/count?key=get"), want);
        if (i == 0) /* Retry-After: 1 was honoured */
            assert_true(eqops__mono_ms() - t0 >= 900);
    }
    /* a create is not repeated: the 503 is the answer */
    fake_get("/mode?fault=503&times=1");
    long creates = fake_get("/count?key=create");
    assert_int_equal(eqops_k8s_create(&out, k,
                                      "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", "
                                      "\"metadata\": {\"name\": \"new\"}}",
                                      NULL, &e),
                     EQOPS_EUNAVAILABLE);
    assert_string_equal(e.reason, "ServiceUnavailable");
    assert_int_equal(e.http_status, 503);
    eqops_error_clear(&e);
    assert_int_equal(fake_get("/count?key=create"), creates + 1);
    /* more 429s than retries: reported with the server's advice */
    eqops_k8s_options o = EQOPS_K8S_OPTIONS_INIT;
    o.kubeconfig = kubeconfig;
    o.max_retries = -1;
    eqops_k8s *once = NULL;
    assert_int_equal(eqops_k8s_new(&once, &o, &e), 0);
    fake_get("/mode?fault=429&times=1");
    assert_int_equal(eqops_k8s_get(&out, once, "v1", "ConfigMap", NULL, "a", &e), EQOPS_ERATELIMIT);
    assert_string_equal(e.reason, "TooManyRequests");
    assert_true(e.retry_after >= 1.0);
    eqops_error_clear(&e);
    eqops_k8s_free(once);
    eqops_k8s_free(k);
}

/* A write's own token covers the whole call: triggered, a new client's create sends nothing,
 * not even the discovery request before it (which ran under the client's token). */
static void test_write_token_covers_discovery(void **state)
{
    (void)state;
    eqops_k8s *k = client(0);
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_cancel *c = NULL;
    assert_int_equal(eqops_cancel_new(&c, &e), 0);
    eqops_cancel_trigger(c);
    eqops_k8s_write_options wo = EQOPS_K8S_WRITE_OPTIONS_INIT;
    wo.cancel = c;
    long discoveries = fake_get("/count?key=discovery"), creates = fake_get("/count?key=create");
    char *out = NULL;
    assert_int_equal(eqops_k8s_create(&out, k,
                                      "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", "
                                      "\"metadata\": {\"name\": \"new\"}}",
                                      &wo, &e),
                     EQOPS_ECANCELED);
    eqops_error_clear(&e);
    assert_int_equal(eqops_k8s_delete(&out, k, "v1", "ConfigMap", NULL, "new", &wo, &e),
                     EQOPS_ECANCELED);
    eqops_error_clear(&e);
    assert_int_equal(fake_get("/count?key=discovery"), discoveries);
    assert_int_equal(fake_get("/count?key=create"), creates);
    /* the client's own token is back afterwards: the same client works */
    assert_int_equal(eqops_k8s_get(&out, k, "v1", "ConfigMap", NULL, "a", &e), 0);
    eqops_free(out);
    eqops_cancel_free(c);
    eqops_k8s_free(k);
}

static void test_slow_body(void **state)
{
    (void)state;
    eqops_k8s_options o = EQOPS_K8S_OPTIONS_INIT;
    o.kubeconfig = kubeconfig;
    o.timeout_ms = 1500;
    o.max_retries = -1;
    eqops_k8s *k = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_k8s_new(&k, &o, &e), 0);
    fake_get("/mode?fault=slow&times=1");
    int64_t t0 = eqops__mono_ms();
    char *out = NULL;
    assert_int_equal(eqops_k8s_get(&out, k, "v1", "ConfigMap", NULL, "a", &e), EQOPS_ETIMEOUT);
    assert_true(eqops__mono_ms() - t0 < 10000);
    assert_non_null(strstr(e.message, "get ConfigMap"));
    eqops_error_clear(&e);
    fake_get("/mode?fault=none&times=0");
    eqops_k8s_free(k);
}

static char events[512];

static int on_event(const char *type, const char *object, void *payload)
{
    (void)payload;
    json_t *o = json_loads(object, 0, NULL);
    size_t n = strlen(events);
    snprintf(events + n, sizeof(events) - n, "%s %s;", type,
             json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion")));
    json_decref(o);
    return strstr(events, "MODIFIED") != NULL; /* stop after the resumed event */
}

static void test_watch_resumes(void **state)
{
    (void)state;
    eqops_k8s *k = client(0);
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_k8s_watch_options o = EQOPS_K8S_WATCH_OPTIONS_INIT;
    o.resource_version = "9";
    o.duration_ms = 20000;
    int rc = eqops_k8s_watch(k, "v1", "ConfigMap", NULL, &o, on_event, NULL, &e);
    assert_int_equal(rc, EQOPS_ECANCELED); /* stopped by the callback */
    eqops_error_clear(&e);
    assert_string_equal(events, "ADDED 10;MODIFIED 11;");
    assert_int_equal(fake_get("/count?key=watch"), 2);
    eqops_k8s_free(k);
}

/* a watch stream that goes silent is noticed by the idle timeout and resumed */
static void test_watch_idle(void **state)
{
    (void)state;
    eqops_k8s *k = client(0);
    eqops_error e = EQOPS_ERROR_INIT;
    long watches = fake_get("/count?key=watch");
    fake_get("/mode?fault=stall&times=1");
    events[0] = '\0';
    eqops_k8s_watch_options o = EQOPS_K8S_WATCH_OPTIONS_INIT;
    o.resource_version = "10";
    o.idle_timeout_ms = 1000;
    o.duration_ms = 20000;
    int64_t t0 = eqops__mono_ms();
    assert_int_equal(eqops_k8s_watch(k, "v1", "ConfigMap", NULL, &o, on_event, NULL, &e),
                     EQOPS_ECANCELED);
    eqops_error_clear(&e);
    assert_true(eqops__mono_ms() - t0 < 15000);
    assert_string_equal(events, "MODIFIED 11;");
    assert_int_equal(fake_get("/count?key=watch"), watches + 2);
    eqops_k8s_free(k);
}

typedef struct later {
    eqops_cancel *c;
    int64_t after_ms;
} later;

static void *trigger_later(void *arg)
{
    later *l = arg;
    usleep((useconds_t)l->after_ms * 1000);
    eqops_cancel_trigger(l->c);
    return NULL;
}

/* A watch cancelled from another thread: on a stream that sends nothing (libcurl looks at the
 * token about once a second while idle), and while waiting to reconnect to a server that
 * refuses it, which must end at once (before the fix it ran to its end: 1 s late). */
static void test_watch_cancelled(void **state)
{
    (void)state;
    const char *faults[] = {"/mode?fault=stall&times=1", "/mode?fault=503&times=100"};
    const int64_t trigger_ms[] = {1500, 2500}, within_ms[] = {5000, 500};
    for (int i = 0; i < 2; i++) {
        eqops_k8s_options ko = EQOPS_K8S_OPTIONS_INIT;
        ko.kubeconfig = kubeconfig;
        ko.max_retries = -1; /* the 503s reach the watch loop */
        eqops_k8s *k = NULL;
        eqops_error e = EQOPS_ERROR_INIT;
        eqops_cancel *c = NULL;
        assert_int_equal(eqops_cancel_new(&c, &e), 0);
        if (i == 0)
            ko.cancel = c; /* the client's token; the second watch has its own */
        assert_int_equal(eqops_k8s_new(&k, &ko, &e), 0);
        long watches = fake_get("/count?key=watch");
        fake_get(faults[i]);
        eqops_k8s_watch_options o = EQOPS_K8S_WATCH_OPTIONS_INIT;
        o.resource_version = "11";
        o.idle_timeout_ms = 60000;
        o.duration_ms = 60000;
        if (i == 1)
            o.cancel = c;
        pthread_t t;
        later l = {c, trigger_ms[i]};
        assert_int_equal(pthread_create(&t, NULL, trigger_later, &l), 0);
        int64_t t0 = eqops__mono_ms();
        int rc = eqops_k8s_watch(k, "v1", "ConfigMap", NULL, &o, on_event, NULL, &e);
        int64_t after = eqops__mono_ms() - t0 - trigger_ms[i];
        pthread_join(t, NULL);
        fprintf(stderr, "# %s: stopped %lld ms after the trigger\n", faults[i] + 12,
                (long long)after);
        assert_int_equal(rc, EQOPS_ECANCELED);
        assert_non_null(strstr(e.message, "cancelled"));
        assert_true(after < within_ms[i]);
        long n = fake_get("/count?key=watch") - watches;
        assert_true(i == 0 ? n == 1 : n >= 2); /* the refused one reconnected meanwhile */
        eqops_error_clear(&e);
        fake_get("/mode?fault=none&times=0");
        eqops_k8s_free(k);
        eqops_cancel_free(c);
    }
}

/*
 * Regression: lib/k8s/manifest.c:224 copied the server's message into the error, and for a
 * Secret it quotes the value it refused (the real API server's answer to a Secret with
 * stringData.password: 98237465019283); the 500 it comes with is bad input, not an unavailable
 * server.
 */
static void test_status_errors(void **state)
{
    (void)state;
    static const char typed[] =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"failed to create typed patch object (default/s1; /v1, Kind=Secret): "
        ".stringData.password: expected string, got "
        "&value.valueUnstructured{Value:98237465019283}\",\"reason\":\"InternalError\","
        "\"details\":{\"causes\":[{\"message\":\"failed to create typed patch object "
        "(default/s1; /v1, Kind=Secret): .stringData.password: expected string, got "
        "&value.valueUnstructured{Value:98237465019283}\"}]},\"code\":500}";
    eqops_error e = EQOPS_ERROR_INIT;
    int rc =
        eqops__k8s_status_error(typed, strlen(typed), 500, 0, "apply Secret default/s1", true, &e);
    assert_int_equal(rc, EQOPS_EINVAL);
    assert_null(strstr(e.message, "98237465019283"));
    assert_null(e.body);
    assert_string_equal(e.message, "apply Secret default/s1: refused (InternalError, HTTP 500) at "
                                   ".stringData.password; the server's message is not shown: for "
                                   "a Secret it may quote the values");
    assert_string_equal(e.reason, "InternalError");
    assert_int_equal(e.http_status, 500);
    /* another kind keeps the server's words, with the same code */
    rc = eqops__k8s_status_error(typed, strlen(typed), 500, 0, "apply ConfigMap default/c", false,
                                 &e);
    assert_int_equal(rc, EQOPS_EINVAL);
    assert_non_null(strstr(e.message, ".stringData.password: expected string"));
    assert_non_null(e.body);
    /* a 422 names its fields in causes: they stay, the values do not */
    static const char invalid[] =
        "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Secret \\\"s1\\\" is "
        "invalid: data[tls.key]: Invalid value: \\\"hunter2\\\": bad\",\"reason\":\"Invalid\","
        "\"details\":{\"causes\":[{\"reason\":\"FieldValueInvalid\",\"message\":\"Invalid value: "
        "\\\"hunter2\\\"\",\"field\":\"data[tls.key]\"}]},\"code\":422}";
    rc = eqops__k8s_status_error(invalid, strlen(invalid), 422, 0, "apply Secret n/s1", true, &e);
    assert_int_equal(rc, EQOPS_EINVAL);
    assert_null(strstr(e.message, "hunter2"));
    assert_non_null(strstr(e.message, "(Invalid, HTTP 422) at data[tls.key];"));
    assert_string_equal(e.field, "data[tls.key]");
    /* a plain 500 is still the server's trouble */
    static const char internal[] = "{\"kind\":\"Status\",\"message\":\"etcdserver: leader "
                                   "changed\",\"reason\":\"InternalError\",\"code\":500}";
    assert_int_equal(eqops__k8s_status_error(internal, strlen(internal), 500, 0, "x", false, &e),
                     EQOPS_EUNAVAILABLE);
    eqops_error_clear(&e);

    assert_true(eqops__k8s_secret_path("/api/v1/namespaces/default/secrets/s1?fieldManager=x"));
    assert_true(eqops__k8s_secret_path("/api/v1/namespaces/default/secrets"));
    assert_true(eqops__k8s_secret_path("/api/v1/secrets?watch=1"));
    assert_false(eqops__k8s_secret_path("/api/v1/namespaces/default/configmaps/s1"));
    assert_false(eqops__k8s_secret_path("/apis/x.io/v1/namespaces/d/externalsecrets/a"));
    assert_false(eqops__k8s_secret_path("/api/v1/namespaces/d/configmaps/a?x=secrets"));
    assert_false(eqops__k8s_secret_path(NULL));
}

int main(void)
{
    eqops_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retries),      cmocka_unit_test(test_write_token_covers_discovery),
        cmocka_unit_test(test_slow_body),    cmocka_unit_test(test_watch_resumes),
        cmocka_unit_test(test_watch_idle),   cmocka_unit_test(test_watch_cancelled),
        cmocka_unit_test(test_status_errors)};
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    eqops_cleanup();
    return rc;
}
