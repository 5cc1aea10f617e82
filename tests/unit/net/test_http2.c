/*
 * HTTP/2 when the server offers it: nginx on 127.0.0.1 with TLS and ALPN h2
 * (tests/support/h2_server.py). Requests share one connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/http.h"
#include "testserver.h"

static ts_server srv;
static char ca_path[512];
static char ok_url[128];

static void negotiates_http2_and_multiplexes(void **state)
{
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.ca_file = ca_path;
    eqops_http *h = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops__http_new(&h, &o, &e), 0);
    eqops_http_request req = {.method = "GET", .url = ok_url};
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(eqops__http_do(h, &req, &r, &e), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.http_version, 20);
        assert_string_equal(eqops__buf_cstr(&r.body), "ok");
        assert_int_equal(r.new_connections, i == 0 ? 1 : 0);
    }
    eqops__http_response_clear(&r);
    eqops__http_free(h);

    /* and HTTP/1.1 when asked */
    o.disable_http2 = true;
    assert_int_equal(eqops__http_new(&h, &o, &e), 0);
    assert_int_equal(eqops__http_do(h, &req, &r, &e), 0);
    assert_int_equal(r.http_version, 11);
    eqops__http_response_clear(&r);
    eqops__http_free(h);
}

static int setup(void **state)
{
    if (eqops_init() != 0)
        return -1;
    if (ts_start_support(&srv, "h2_server.py") != 0)
        return -1;
    ts_str(&srv, "ca", ca_path, sizeof(ca_path));
    snprintf(ok_url, sizeof(ok_url), "https://127.0.0.1:%ld/ok", ts_int(&srv, "port"));
    return 0;
}

static int teardown(void **state)
{
    ts_stop(&srv);
    eqops_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(negotiates_http2_and_multiplexes)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
