/* Allocation-failure loop over the HTTP layer: make a client, do a TLS request against the
 * local server, free, with every allocation failing in turn (ours and libcurl's, which go
 * through the same hook). Never a crash or a leak. Our failures give EQOPS_ENOMEM; inside
 * libcurl a few allocations are optional (caches: the run succeeds) and a failure inside its
 * resolver thread is reported as "could not resolve host" (EQOPS_EUNAVAILABLE). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fail_alloc.h"
#include "net/http.h"
#include "testserver.h"

static ts_server srv;
static char ca_path[512];
static char ok_url[128];

struct ctx {
    eqops_http *h;
    eqops_http_response r;
    eqops_error e;
};

static int op_request(void *p)
{
    struct ctx *c = p;
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.ca_file = ca_path;
    o.max_retries = -1;
    int rc = eqops__http_new(&c->h, &o, &c->e);
    if (rc != 0)
        return rc;
    const char *hdrs[] = {"Accept: text/plain", NULL};
    eqops_http_request req = {.method = "GET", .url = ok_url, .headers = hdrs};
    rc = eqops__http_do(c->h, &req, &c->r, &c->e);
    if (rc == 0 && (c->r.status != 200 || strcmp(eqops__buf_cstr(&c->r.body), "ok") != 0))
        fail_msg("unexpected answer %ld", c->r.status);
    return rc;
}

static void cleanup(void *p)
{
    struct ctx *c = p;
    eqops__http_response_clear(&c->r);
    eqops__http_free(c->h);
    c->h = NULL;
    eqops_error_clear(&c->e);
}

static void http_request_loop(void **state)
{
    struct ctx c = {NULL, EQOPS_HTTP_RESPONSE_INIT, EQOPS_ERROR_INIT};
    fa_install();
    const int ok[] = {EQOPS_ENOMEM, 0, EQOPS_EUNAVAILABLE};
    long seen[3] = {0};
    long points = fa_loop_codes(op_request, cleanup, &c, ok, seen, 3);
    fa_uninstall();
    printf("http request: %ld allocation failure points: %ld ENOMEM, %ld absorbed by libcurl, "
           "%ld reported by libcurl as unreachable\n",
           points, seen[0], seen[1], seen[2]);
    assert_true(points > 10);
    assert_true(seen[0] > seen[1] + seen[2]);
}

static int setup(void **state)
{
    if (eqops_init() != 0)
        return -1;
    if (ts_start_support(&srv, "https_server.py") != 0)
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
    const struct CMUnitTest tests[] = {cmocka_unit_test(http_request_loop)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
