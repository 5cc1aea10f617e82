/*
 * Cancellation in the HTTP layer against a real HTTPS server on 127.0.0.1
 * (tests/support/https_server.py): a token triggered from another thread stops a transfer the
 * server never answers, a retry wait and a rate-limit wait; a triggered token sends nothing;
 * a request's own token is used instead of the handle's. Each stop is EQOPS_ECANCELED with
 * the method and the redacted URL. The time from the trigger to the return is printed.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/http.h"
#include "testserver.h"

static ts_server srv;
static char ca_path[512];
static int port;

static char *url(const char *path, char *out, size_t n)
{
    snprintf(out, n, "https://127.0.0.1:%d%s", port, path);
    return out;
}

static eqops_http *client(eqops_http_options *o, eqops_cancel *c)
{
    eqops_http *h = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    o->ca_file = ca_path;
    o->cancel = c;
    if (eqops__http_new(&h, o, &e) != 0)
        fail_msg("http_new: %s", e.message);
    return h;
}

static eqops_cancel *token(void)
{
    eqops_cancel *c = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_cancel_new(&c, &e) != 0)
        fail_msg("cancel_new: %s", e.message);
    return c;
}

/* How many requests the server saw for `key` (/flaky, /hang); -1 when it cannot say. No
 * cmocka assertion: the trigger thread calls it too. */
static long count_of(const char *key)
{
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.ca_file = ca_path;
    eqops_http *h = NULL;
    if (eqops__http_new(&h, &o, NULL) != 0)
        return -1;
    char u[256], path[128];
    snprintf(path, sizeof(path), "/count?key=%s", key);
    eqops_http_request req = {0};
    req.url = url(path, u, sizeof(u));
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    long n = eqops__http_do(h, &req, &r, NULL) == 0 && r.status == 200
                 ? strtol(eqops__buf_cstr(&r.body), NULL, 10)
                 : -1;
    eqops__http_response_clear(&r);
    eqops__http_free(h);
    return n;
}

/* Trigger a token from another thread `after_ms` after the server saw the first request for
 * `key` (NULL: after `after_ms` from the start): under valgrind a TLS handshake alone can take
 * longer than any fixed delay. `at` is when it triggered. */
typedef struct trigger {
    eqops_cancel *c;
    const char *key;
    int64_t after_ms;
    int64_t at;
    pthread_t t;
} trigger;

static void *trigger_main(void *arg)
{
    trigger *tr = arg;
    for (int i = 0; tr->key && i < 1200 && count_of(tr->key) < 1; i++)
        usleep(50 * 1000);
    usleep((useconds_t)tr->after_ms * 1000);
    tr->at = eqops__mono_ms();
    eqops_cancel_trigger(tr->c);
    return NULL;
}

static void trigger_start(trigger *tr, eqops_cancel *c, const char *key, int64_t after_ms)
{
    tr->c = c;
    tr->key = key;
    tr->after_ms = after_ms;
    tr->at = 0;
    assert_int_equal(pthread_create(&tr->t, NULL, trigger_main, tr), 0);
}

/* Join the trigger thread; the ms from the trigger to `returned`. */
static int64_t trigger_join(trigger *tr, int64_t returned, const char *what)
{
    pthread_join(tr->t, NULL);
    int64_t ms = returned - tr->at;
    fprintf(stderr, "# %s: stopped %lld ms after the trigger\n", what, (long long)ms);
    return ms;
}

static long server_count(const char *key)
{
    long n = count_of(key);
    assert_true(n >= 0);
    return n;
}

/* The server never answers: the transfer stops soon after the trigger, not at its timeout. */
static void stalled_transfer_stops(void **state)
{
    (void)state;
    eqops_cancel *c = token();
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.timeout_ms = 60000;
    eqops_http *h = client(&o, c);
    char u[256];
    eqops_http_request req = {0};
    req.url = url("/hang?key=st1&token=s3cr3t", u, sizeof(u));
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    trigger tr;
    trigger_start(&tr, c, "st1", 300); /* the server holds the request */
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_ECANCELED);
    int64_t ms = trigger_join(&tr, eqops__mono_ms(), "stalled GET");
    assert_true(ms < 5000); /* libcurl calls back about once a second while idle */
    assert_int_equal(e.code, EQOPS_ECANCELED);
    assert_non_null(strstr(e.message, "GET https://127.0.0.1:"));
    assert_non_null(strstr(e.message, "cancelled"));
    assert_null(strstr(e.message, "s3cr3t"));
    assert_int_equal(r.status, 0);
    eqops_error_clear(&e);

    /* a triggered token sends nothing at all */
    req.url = url("/flaky?key=pre&fail=0", u, sizeof(u));
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_ECANCELED);
    assert_int_equal(server_count("pre"), 0);
    eqops_error_clear(&e);

    /* reset, the same handle works again */
    eqops_cancel_reset(c);
    assert_int_equal(eqops__http_do(h, &req, &r, &e), 0);
    assert_int_equal(r.status, 200);
    eqops__http_response_clear(&r);
    eqops__http_free(h);
    eqops_cancel_free(c);
}

/* A Retry-After of 20 s: the wait ends at the trigger, and no second attempt is made. */
static void retry_wait_cut_short(void **state)
{
    (void)state;
    eqops_cancel *c = token();
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.timeout_ms = 60000;
    o.max_retries = 3;
    eqops_http *h = client(&o, c);
    char u[256];
    eqops_http_request req = {0};
    req.url = url("/flaky?key=rw1&fail=100&retry_after=20", u, sizeof(u));
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    trigger tr;
    trigger_start(&tr, c, "rw1", 300); /* the first attempt answered: in the 20 s wait */
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_ECANCELED);
    int64_t ms = trigger_join(&tr, eqops__mono_ms(), "Retry-After wait");
    assert_true(ms < 5000);
    assert_non_null(strstr(e.message, "cancelled"));
    assert_int_equal(server_count("rw1"), 1);
    eqops_error_clear(&e);
    eqops__http_response_clear(&r);
    eqops__http_free(h);
    eqops_cancel_free(c);
}

/* One request a minute: the second waits for the bucket, and the token ends that wait. */
static void rate_limit_wait_cut_short(void **state)
{
    (void)state;
    eqops_cancel *c = token();
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.qps = 1.0 / 60;
    o.burst = 1;
    eqops_http *h = client(&o, c);
    char u[256];
    eqops_http_request req = {0};
    req.url = url("/ok", u, sizeof(u));
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops__http_do(h, &req, &r, &e), 0);
    trigger tr;
    trigger_start(&tr, c, NULL, 300);
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_ECANCELED);
    assert_true(trigger_join(&tr, eqops__mono_ms(), "rate-limit wait") < 5000);
    eqops_error_clear(&e);
    eqops__http_free(h);
    eqops_cancel_free(c);
}

/* A request's own token is used instead of the handle's, either way round; swapping the
 * handle's token takes effect for the next request. */
static void request_token_wins(void **state)
{
    (void)state;
    eqops_cancel *handle_token = token(), *call_token = token();
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    eqops_http *h = client(&o, handle_token);
    char u[256];
    eqops_http_request req = {0};
    req.url = url("/ok", u, sizeof(u));
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_cancel_trigger(handle_token);
    req.cancel = call_token;
    assert_int_equal(eqops__http_do(h, &req, &r, &e), 0);
    eqops_cancel_reset(handle_token);
    eqops_cancel_trigger(call_token);
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_ECANCELED);
    eqops_error_clear(&e);
    req.cancel = NULL;
    assert_int_equal(eqops__http_do(h, &req, &r, &e), 0);
    assert_ptr_equal(eqops__http_set_cancel(h, call_token), handle_token);
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_ECANCELED);
    eqops_error_clear(&e);
    assert_ptr_equal(eqops__http_set_cancel(h, NULL), call_token);
    assert_int_equal(eqops__http_do(h, &req, &r, &e), 0);
    eqops__http_response_clear(&r);
    eqops__http_free(h);
    eqops_cancel_free(handle_token);
    eqops_cancel_free(call_token);
}

static int group_setup(void **state)
{
    (void)state;
    if (eqops_init() != 0)
        return -1;
    if (ts_start_support(&srv, "https_server.py") != 0)
        return -1;
    port = (int)ts_int(&srv, "port");
    ts_str(&srv, "ca", ca_path, sizeof(ca_path));
    return port > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    ts_stop(&srv);
    eqops_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stalled_transfer_stops),
        cmocka_unit_test(retry_wait_cut_short),
        cmocka_unit_test(rate_limit_wait_cut_short),
        cmocka_unit_test(request_token_wins),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
