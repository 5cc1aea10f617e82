/*
 * The HTTP layer against a real HTTPS server on 127.0.0.1 with its own test CA
 * (tests/support/https_server.py): TLS verification, client certificates from memory,
 * retries, Retry-After, timeouts, size limits, streaming, connection reuse, redaction.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/http.h"
#include "testserver.h"

static ts_server srv;
static char ca_path[512], other_ca_path[512], cert_path[512], key_path[512];
static int port, mtls_port;

static char *url(const char *path, char *out, size_t n)
{
    snprintf(out, n, "https://127.0.0.1:%d%s", port, path);
    return out;
}

static eqops_http *client(const eqops_http_options *o)
{
    eqops_http *h = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_http_options dflt = EQOPS_HTTP_OPTIONS_INIT;
    if (o == NULL) {
        dflt.ca_file = ca_path;
        o = &dflt;
    }
    if (eqops__http_new(&h, o, &e) != 0)
        fail_msg("http_new: %s", e.message);
    return h;
}

/* GET (or another method) and return the status; body copied into resp. */
static int do_req(eqops_http *h, const char *method, const char *path, eqops_http_response *r,
                  eqops_error *e)
{
    char u[256];
    eqops_http_request req = {0};
    req.method = method;
    req.url = url(path, u, sizeof(u));
    return eqops__http_do(h, &req, r, e);
}

static void get_ok_with_ca_file(void **state)
{
    eqops_http *h = client(NULL);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(do_req(h, "GET", "/ok", &r, &e), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(eqops__buf_cstr(&r.body), "ok");
    assert_string_equal(eqops__http_header(&r, "content-type"), "text/plain");
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.http_version, 11);
    eqops__http_response_clear(&r);
    eqops__http_free(h);
}

static void ca_from_memory(void **state)
{
    size_t len = 0;
    char *pem = ts_read_file(ca_path, &len);
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.ca_pem = pem;
    o.ca_pem_len = len;
    eqops_http *h = client(&o);
    free(pem); /* the handle keeps its own copy */
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    assert_int_equal(do_req(h, "GET", "/ok", &r, NULL), 0);
    assert_int_equal(r.status, 200);
    eqops__http_response_clear(&r);
    eqops__http_free(h);
}

static void unknown_ca_is_refused(void **state)
{
    size_t len = 0;
    char *pem = ts_read_file(other_ca_path, &len);
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.ca_pem = pem;
    o.ca_pem_len = len;
    eqops_http *h = client(&o);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(do_req(h, "GET", "/ok", &r, &e), EQOPS_ETLS);
    assert_int_equal(e.code, EQOPS_ETLS);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(e.message, "https://127.0.0.1:"));
    eqops_error_clear(&e);
    eqops__http_free(h);
    free(pem);

    /* the system trust store does not know the test CA either */
    eqops_http_options sys = EQOPS_HTTP_OPTIONS_INIT;
    h = client(&sys);
    assert_int_equal(do_req(h, "GET", "/ok", &r, &e), EQOPS_ETLS);
    eqops_error_clear(&e);
    eqops__http_free(h);
}

static int warnings;
static char logged[64 * 1024];

static void capture_log(eqops_log_level level, const char *module, const char *msg, void *p)
{
    if (level == EQOPS_LOG_WARN)
        warnings++;
    strncat(logged, msg, sizeof(logged) - strlen(logged) - 2);
    strcat(logged, "\n");
}

static void insecure_switch_is_loud(void **state)
{
    warnings = 0;
    eqops_set_log(capture_log, EQOPS_LOG_WARN, NULL);
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.insecure_skip_tls_verify = true;
    eqops_http *h = client(&o);
    assert_int_equal(warnings, 1);
    eqops_set_log(NULL, EQOPS_LOG_NONE, NULL);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    assert_int_equal(do_req(h, "GET", "/ok", &r, NULL), 0);
    assert_int_equal(r.status, 200);
    eqops__http_response_clear(&r);
    eqops__http_free(h);
}

static void tls_server_name_is_verified(void **state)
{
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.ca_file = ca_path;
    o.tls_server_name = "eqops-test.internal";
    eqops_http *h = client(&o);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(do_req(h, "GET", "/ok", &r, &e), 0);
    assert_int_equal(r.status, 200);
    eqops__http_response_clear(&r);
    eqops__http_free(h);

    o.tls_server_name = "wrong.internal";
    h = client(&o);
    assert_int_equal(do_req(h, "GET", "/ok", &r, &e), EQOPS_ETLS);
    eqops_error_clear(&e);
    eqops__http_free(h);
}

static void client_certificate_from_memory(void **state)
{
    size_t clen = 0, klen = 0;
    char *cert = ts_read_file(cert_path, &clen);
    char *key = ts_read_file(key_path, &klen);
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.ca_file = ca_path;
    o.cert_pem = cert;
    o.cert_pem_len = clen;
    o.key_pem = key;
    o.key_pem_len = klen;
    eqops_http *h = client(&o);
    memset(key, 0, klen); /* the handle must not depend on the caller's copy */
    free(key);
    free(cert);
    char u[256];
    snprintf(u, sizeof(u), "https://127.0.0.1:%d/whoami", mtls_port);
    eqops_http_request req = {.method = "GET", .url = u};
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops__http_do(h, &req, &r, &e), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(eqops__buf_cstr(&r.body), "eqops-client");
    eqops__http_response_clear(&r);
    eqops__http_free(h);

    /* without a certificate the server refuses the session. Depending on timing the client
     * reads the TLS alert (EQOPS_ETLS) or finds the connection reset (EQOPS_EUNAVAILABLE);
     * either way a new connection that fails like this is not retried */
    h = client(NULL);
    warnings = 0;
    eqops_set_log(capture_log, EQOPS_LOG_WARN, NULL);
    int rc = eqops__http_do(h, &req, &r, &e);
    eqops_set_log(NULL, EQOPS_LOG_NONE, NULL);
    assert_true(rc == EQOPS_ETLS || rc == EQOPS_EUNAVAILABLE);
    assert_int_equal(warnings, 0);
    eqops_error_clear(&e);
    eqops__http_free(h);

    /* a certificate without its key is refused up front */
    eqops_http_options half = EQOPS_HTTP_OPTIONS_INIT;
    half.cert_pem = "x";
    eqops_http *none = NULL;
    assert_int_equal(eqops__http_new(&none, &half, &e), EQOPS_EINVAL);
    assert_null(none);
    assert_string_equal(e.field, "key_pem");
    eqops_error_clear(&e);

    /* garbage PEM is a TLS error at request time, not a crash */
    half.cert_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
    half.key_pem = "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n";
    half.ca_file = ca_path;
    h = client(&half);
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_ETLS);
    eqops_error_clear(&e);
    eqops__http_free(h);
}

static void retry_after_seconds_then_success(void **state)
{
    eqops_http *h = client(NULL);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    int64_t t0 = eqops__mono_ms();
    assert_int_equal(do_req(h, "GET", "/flaky?key=ra1&fail=1&retry_after=1", &r, &e), 0);
    int64_t took = eqops__mono_ms() - t0;
    assert_int_equal(r.status, 200);
    assert_int_equal(r.attempts, 2);
    assert_string_equal(eqops__buf_cstr(&r.body), "recovered after 1");
    assert_true(took >= 900); /* it did wait for the server's Retry-After */
    eqops__http_response_clear(&r);
    eqops__http_free(h);
}

static void retry_after_http_date(void **state)
{
    eqops_http *h = client(NULL);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    assert_int_equal(do_req(h, "GET", "/flaky?key=ra2&fail=1&retry_after=2&date=1", &r, NULL), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.attempts, 2);
    eqops__http_response_clear(&r);
    eqops__http_free(h);
}

static void retry_after_is_capped(void **state)
{
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.ca_file = ca_path;
    o.retry_after_cap_ms = 200;
    eqops_http *h = client(&o);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    int64_t t0 = eqops__mono_ms();
    assert_int_equal(do_req(h, "GET", "/flaky?key=ra3&fail=1&retry_after=3600", &r, NULL), 0);
    assert_int_equal(r.status, 200);
    /* an hour was asked for; a test that waited that long would never finish */
    assert_true(eqops__mono_ms() - t0 < 60000);
    eqops__http_response_clear(&r);
    eqops__http_free(h);
}

static long server_count(eqops_http *h, const char *key)
{
    char path[128];
    snprintf(path, sizeof(path), "/count?key=%s", key);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    assert_int_equal(do_req(h, "GET", path, &r, NULL), 0);
    long n = atol(eqops__buf_cstr(&r.body));
    eqops__http_response_clear(&r);
    return n;
}

static void post_is_not_retried(void **state)
{
    eqops_http *h = client(NULL);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    char u[256];
    eqops_http_request req = {.method = "POST",
                              .url = url("/flaky?key=post1&fail=1&retry_after=0", u, sizeof(u)),
                              .body = "{\"a\":1}",
                              .body_len = 7};
    assert_int_equal(eqops__http_do(h, &req, &r, &e), 0);
    assert_int_equal(r.status, 503);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(server_count(h, "post1"), 1);
    /* the caller maps the status to an error that keeps the body */
    assert_int_equal(eqops__http_status_error(&r, "create", &e), EQOPS_EUNAVAILABLE);
    assert_int_equal(e.http_status, 503);
    assert_string_equal(e.body, "try later");
    assert_string_equal(e.message, "create: HTTP 503");

    /* unless the caller says the request is safe to repeat */
    req.url = url("/flaky?key=post2&fail=1", u, sizeof(u));
    req.retry = EQOPS_HTTP_RETRY_ALWAYS;
    assert_int_equal(eqops__http_do(h, &req, &r, &e), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(server_count(h, "post2"), 2);
    eqops_error_clear(&e);
    eqops__http_response_clear(&r);
    eqops__http_free(h);
}

static void deadline_covers_retries(void **state)
{
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.ca_file = ca_path;
    o.timeout_ms = 1500;
    eqops_http *h = client(&o);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    int64_t t0 = eqops__mono_ms();
    /* 503 with Retry-After: 1 forever: one retry fits in 1.5 s, a second wait would not */
    assert_int_equal(do_req(h, "GET", "/flaky?key=dl1&fail=100&retry_after=1", &r, NULL), 0);
    assert_int_equal(r.status, 503);
    assert_int_equal(r.attempts, 2);
    assert_true(eqops__mono_ms() - t0 < 15000);
    eqops__http_response_clear(&r);
    eqops__http_free(h);
}

static void retries_are_bounded(void **state)
{
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.ca_file = ca_path;
    o.max_retries = 3;
    o.backoff_base_ms = 10;
    o.backoff_cap_ms = 50;
    eqops_http *h = client(&o);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    assert_int_equal(do_req(h, "GET", "/flaky?key=b1&fail=100&status=429", &r, NULL), 0);
    assert_int_equal(r.status, 429);
    assert_int_equal(r.attempts, 4);
    assert_int_equal(server_count(h, "b1"), 4);
    /* 500 is not retried: it is usually a bug, not a passing state */
    assert_int_equal(do_req(h, "DELETE", "/flaky?key=b2&fail=100&status=500", &r, NULL), 0);
    assert_int_equal(r.status, 500);
    assert_int_equal(server_count(h, "b2"), 1);
    eqops__http_response_clear(&r);
    eqops__http_free(h);

    o.max_retries = -1; /* none at all */
    h = client(&o);
    assert_int_equal(do_req(h, "GET", "/flaky?key=b3&fail=100", &r, NULL), 0);
    assert_int_equal(server_count(h, "b3"), 1);
    eqops__http_response_clear(&r);
    eqops__http_free(h);
}

static void silent_server_hits_the_timeout(void **state)
{
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.ca_file = ca_path;
    o.timeout_ms = 700;
    eqops_http *h = client(&o);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    int64_t t0 = eqops__mono_ms();
    assert_int_equal(do_req(h, "GET", "/hang?token=s3cr3t", &r, &e), EQOPS_ETIMEOUT);
    int64_t took = eqops__mono_ms() - t0;
    assert_true(took >= 600);
    assert_true(took < 30000); /* not retried 3 more times, not stuck */
    assert_non_null(strstr(e.message, "timed out"));
    assert_null(strstr(e.message, "s3cr3t"));
    assert_non_null(strstr(e.message, "token=REDACTED"));
    eqops_error_clear(&e);
    eqops__http_free(h);
}

static void oversized_body_is_refused(void **state)
{
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.ca_file = ca_path;
    o.max_response_bytes = 1024 * 1024;
    eqops_http *h = client(&o);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    /* announced by Content-Length */
    assert_int_equal(do_req(h, "GET", "/big?n=3000000", &r, &e), EQOPS_ETOOBIG);
    assert_int_equal(r.body.len, 0);
    /* chunked: noticed while reading */
    assert_int_equal(do_req(h, "GET", "/big?n=3000000&chunked=1", &r, &e), EQOPS_ETOOBIG);
    assert_non_null(strstr(e.message, "larger than 1048576 bytes"));
    /* "no limit" (SIZE_MAX) after a small limit on the same handle */
    eqops_http_request unlimited = {.method = "GET", .max_response_bytes = SIZE_MAX};
    char u[256];
    unlimited.url = url("/big?n=2000000", u, sizeof(u));
    assert_int_equal(eqops__http_do(h, &unlimited, &r, &e), 0);
    assert_int_equal(r.body.len, 2000000);
    /* exactly at the limit is fine */
    assert_int_equal(do_req(h, "GET", "/big?n=1048576&chunked=1", &r, &e), 0);
    assert_int_equal(r.body.len, 1048576);
    eqops__http_response_clear(&r);
    eqops_error_clear(&e);
    eqops__http_free(h);
}

struct lines {
    int n;
    int stop_after;
    char text[256];
};

static int on_data(const char *data, size_t len, void *payload)
{
    struct lines *l = payload;
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\n')
            l->n++;
    strncat(l->text, data, len < sizeof(l->text) - strlen(l->text) - 1 ? len : 0);
    return (l->stop_after && l->n >= l->stop_after) ? 7 : 0;
}

static void streaming_callback(void **state)
{
    eqops_http *h = client(NULL);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    char u[256];
    struct lines l = {0};
    eqops_http_request req = {.method = "GET",
                              .url = url("/stream?n=5&delay=0.02", u, sizeof(u)),
                              .on_data = on_data,
                              .payload = &l};
    assert_int_equal(eqops__http_do(h, &req, &r, &e), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.text, "line 0\nline 1\nline 2\nline 3\nline 4\n");
    assert_int_equal(r.body.len, 0);

    /* a non-zero return stops the stream and comes back to the caller */
    struct lines stop = {.stop_after = 2};
    req.url = url("/stream?n=50&delay=0.05", u, sizeof(u));
    req.payload = &stop;
    assert_int_equal(eqops__http_do(h, &req, &r, &e), 7);
    assert_int_equal(e.code, EQOPS_ECANCELED);
    assert_int_equal(stop.n, 2);

    /* an error answer is collected, not streamed */
    struct lines none = {0};
    req.url = url("/nowhere", u, sizeof(u));
    req.payload = &none;
    assert_int_equal(eqops__http_do(h, &req, &r, &e), 0);
    assert_int_equal(r.status, 404);
    assert_int_equal(none.n, 0);
    assert_string_equal(eqops__buf_cstr(&r.body), "no such route");
    eqops__http_response_clear(&r);
    eqops_error_clear(&e);
    eqops__http_free(h);
}

static void connections_are_reused(void **state)
{
    eqops_http *h = client(NULL);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    assert_int_equal(do_req(h, "GET", "/ok", &r, NULL), 0);
    assert_int_equal(r.new_connections, 1);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(do_req(h, i % 2 ? "PUT" : "GET", "/echo", &r, NULL), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.new_connections, 0);
    }
    eqops__http_response_clear(&r);
    eqops__http_free(h);
}

static void methods_bodies_and_headers(void **state)
{
    eqops_http *h = client(NULL);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    const char *hdrs[] = {"Content-Type: application/apply-patch+yaml", "X-Test: a b", NULL};
    static const char *methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    char u[256];
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        eqops_http_request req = {.method = methods[i],
                                  .url = url("/echo", u, sizeof(u)),
                                  .headers = hdrs,
                                  .body = i ? "{\"k\":\"v\"}" : NULL,
                                  .body_len = i ? 9 : 0};
        assert_int_equal(eqops__http_do(h, &req, &r, &e), 0);
        char want[64];
        snprintf(want, sizeof(want), "\"method\": \"%s\"", methods[i]);
        assert_non_null(strstr(eqops__buf_cstr(&r.body), want));
        assert_non_null(strstr(eqops__buf_cstr(&r.body), "\"x-test\": \"a b\""));
        assert_non_null(
            strstr(eqops__buf_cstr(&r.body), i ? "\"body_len\": 9" : "\"body_len\": 0"));
        assert_null(strstr(eqops__buf_cstr(&r.body), "100-continue"));
    }
    eqops_http_request head = {.method = "HEAD", .url = url("/ok", u, sizeof(u))};
    assert_int_equal(eqops__http_do(h, &head, &r, &e), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    eqops__http_response_clear(&r);
    eqops__http_free(h);
}

static void bad_requests_are_refused(void **state)
{
    eqops_http *h = client(NULL);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    char u[256];
    const char *inject[] = {"X-A: b\r\nX-Injected: 1", NULL};
    eqops_http_request req = {.method = "GET", .url = url("/ok", u, sizeof(u)), .headers = inject};
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "headers");
    const char *noname[] = {": v", NULL};
    req.headers = noname;
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_EINVAL);
    req.headers = NULL;
    req.method = "BREW";
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "method");
    req.method = "GET";
    req.url = "ftp://127.0.0.1/x";
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_EINVAL);
    req.url = NULL;
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_EINVAL);
    req.url = "https://[::1";
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_EINVAL);
    /* a length without a body would send whatever memory follows */
    req.url = url("/echo", u, sizeof(u));
    req.method = "POST";
    req.body_len = 4096;
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "body");
    req.body_len = 0;
    eqops_error_clear(&e);
    eqops__http_free(h);

    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.max_retries = 99;
    eqops_http *none = NULL;
    assert_int_equal(eqops__http_new(&none, &o, &e), EQOPS_EINVAL);
    assert_null(none);
    o.max_retries = 0;
    o.qps = -1;
    assert_int_equal(eqops__http_new(&none, &o, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "qps");
    eqops_error_clear(&e);
}

static void refused_connection(void **state)
{
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.backoff_base_ms = 5;
    o.backoff_cap_ms = 20;
    eqops_http *h = client(&o);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    /* port 1 on loopback: nothing listens there */
    eqops_http_request req = {.method = "GET", .url = "https://127.0.0.1:1/"};
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_EUNAVAILABLE);
    assert_int_equal(r.attempts, 0); /* cleared on failure */
    eqops_error_clear(&e);
    eqops__http_free(h);

    /* the deadline passes while waiting to retry (here for the rate limiter's next token, 1 s
     * against a 300 ms limit; on a loaded machine the backoff alone can do it): the refusal is
     * the answer, not a bare "timed out" */
    o.qps = 1;
    o.burst = 1;
    o.timeout_ms = 300;
    h = client(&o);
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_EUNAVAILABLE);
    assert_null(strstr(e.message, "timed out"));
    eqops_error_clear(&e);
    eqops__http_free(h);
}

static void rate_limit_spaces_requests(void **state)
{
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.ca_file = ca_path;
    o.qps = 5;
    o.burst = 1;
    eqops_http *h = client(&o);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    int64_t t0 = eqops__mono_ms();
    for (int i = 0; i < 4; i++)
        assert_int_equal(do_req(h, "GET", "/ok", &r, NULL), 0);
    /* one token at the start, then one every 200 ms: at least 600 ms for four */
    assert_true(eqops__mono_ms() - t0 >= 580);
    eqops__http_response_clear(&r);
    eqops__http_free(h);
}

static void secrets_never_reach_the_log(void **state)
{
    logged[0] = '\0';
    eqops_set_log(capture_log, EQOPS_LOG_TRACE, NULL);
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.ca_file = ca_path;
    o.backoff_base_ms = 1;
    eqops_http *h = client(&o);
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    char u[256];
    const char *hdrs[] = {"Authorization: Bearer s3cr3t-bearer", NULL};
    eqops_http_request req = {
        .method = "GET",
        .url = url("/flaky?key=sec&fail=2&X-Amz-Signature=s3cr3t-sig&password=s3cr3t-pw", u,
                   sizeof(u)),
        .headers = hdrs};
    assert_int_equal(eqops__http_do(h, &req, &r, &e), 0);
    assert_int_equal(r.attempts, 3);
    eqops_set_log(NULL, EQOPS_LOG_NONE, NULL);
    assert_non_null(strstr(logged, "retry 1 of 3"));
    assert_non_null(strstr(logged, "X-Amz-Signature=REDACTED"));
    assert_null(strstr(logged, "s3cr3t"));
    eqops__http_response_clear(&r);
    eqops__http_free(h);
}

/* Accepts connections, reads the client's first bytes and resets: an API server going down. */
static void *resetter(void *arg)
{
    int fd = *(int *)arg;
    for (int i = 0; i < 4; i++) {
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            break;
        char buf[512];
        (void)!read(c, buf, sizeof(buf));
        struct linger l = {1, 0};
        setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        close(c);
    }
    return NULL;
}

static void reset_during_handshake_is_unavailable(void **state)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, resetter, &fd), 0);
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.ca_file = ca_path;
    o.max_retries = -1;
    eqops_http *h = client(&o);
    char u[128];
    snprintf(u, sizeof(u), "https://127.0.0.1:%d/", ntohs(a.sin_port));
    eqops_http_request req = {.method = "GET", .url = u};
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    /* not EQOPS_ETLS: a watch reconnects after this, as after a refused connection */
    assert_int_equal(eqops__http_do(h, &req, &r, &e), EQOPS_EUNAVAILABLE);
    assert_non_null(strstr(e.message, "reset"));
    eqops_error_clear(&e);
    eqops__http_free(h);
    shutdown(fd, SHUT_RDWR);
    close(fd);
    pthread_join(t, NULL);
}

static int group_setup(void **state)
{
    if (eqops_init() != 0)
        return -1;
    if (ts_start_support(&srv, "https_server.py") != 0)
        return -1;
    port = (int)ts_int(&srv, "port");
    mtls_port = (int)ts_int(&srv, "mtls_port");
    ts_str(&srv, "ca", ca_path, sizeof(ca_path));
    ts_str(&srv, "other_ca", other_ca_path, sizeof(other_ca_path));
    ts_str(&srv, "client_cert", cert_path, sizeof(cert_path));
    ts_str(&srv, "client_key", key_path, sizeof(key_path));
    return port > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    ts_stop(&srv);
    eqops_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_ok_with_ca_file),
        cmocka_unit_test(ca_from_memory),
        cmocka_unit_test(unknown_ca_is_refused),
        cmocka_unit_test(insecure_switch_is_loud),
        cmocka_unit_test(tls_server_name_is_verified),
        cmocka_unit_test(client_certificate_from_memory),
        cmocka_unit_test(retry_after_seconds_then_success),
        cmocka_unit_test(retry_after_http_date),
        cmocka_unit_test(retry_after_is_capped),
        cmocka_unit_test(post_is_not_retried),
        cmocka_unit_test(retries_are_bounded),
        cmocka_unit_test(deadline_covers_retries),
        cmocka_unit_test(silent_server_hits_the_timeout),
        cmocka_unit_test(oversized_body_is_refused),
        cmocka_unit_test(streaming_callback),
        cmocka_unit_test(connections_are_reused),
        cmocka_unit_test(reset_during_handshake_is_unavailable),
        cmocka_unit_test(methods_bodies_and_headers),
        cmocka_unit_test(bad_requests_are_refused),
        cmocka_unit_test(refused_connection),
        cmocka_unit_test(rate_limit_spaces_requests),
        cmocka_unit_test(secrets_never_reach_the_log),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
