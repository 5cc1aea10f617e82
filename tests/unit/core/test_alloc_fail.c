/* Allocation-failure loops over the core paths: every failing allocation gives EQOPS_ENOMEM
 * (or is tolerated where documented), never a crash or a leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core_internal.h"
#include "fail_alloc.h"

struct ctx {
    eqops_buf buf;
    char *str;
    eqops_error err;
};

static void cleanup(void *p)
{
    struct ctx *c = p;
    eqops__buf_free(&c->buf);
    eqops__free(c->str);
    c->str = NULL;
    eqops_error_clear(&c->err);
}

static int op_buf(void *p)
{
    struct ctx *c = p;
    for (int i = 0; i < 200; i++)
        eqops__buf_printf(&c->buf, "line %d of a growing buffer\n", i);
    c->str = eqops__buf_detach(&c->buf);
    return c->str ? 0 : EQOPS_ENOMEM;
}

static int op_strdup(void *p)
{
    struct ctx *c = p;
    c->str = eqops__strdup("tenant-acme");
    return c->str ? 0 : EQOPS_ENOMEM;
}

/* The body copy is optional detail: the error itself is still reported. */
static int op_err_body(void *p)
{
    struct ctx *c = p;
    eqops__err(&c->err, EQOPS_ENOTFOUND, "not there");
    eqops__err_body(&c->err, "{}", 2);
    return c->err.body ? 0 : EQOPS_ENOMEM;
}

static int op_redact(void *p)
{
    struct ctx *c = p;
    if (eqops__redact_url("https://h.test/p?X-Amz-Signature=s&a=b", &c->buf) != 0) {
        eqops__buf_free(&c->buf);
        return EQOPS_ENOMEM;
    }
    c->str = eqops__buf_detach(&c->buf);
    return c->str ? 0 : EQOPS_ENOMEM;
}

static int op_duration_format(void *p)
{
    struct ctx *c = p;
    return eqops_duration_format(&c->str, 5400000, &c->err);
}

static void loops(void **state)
{
    struct ctx c = {EQOPS_BUF_INIT, NULL, EQOPS_ERROR_INIT};
    fa_install();
    assert_true(fa_loop(op_buf, cleanup, &c, EQOPS_ENOMEM, false) > 5);
    assert_int_equal(fa_loop(op_strdup, cleanup, &c, EQOPS_ENOMEM, false), 1);
    assert_int_equal(fa_loop(op_err_body, cleanup, &c, EQOPS_ENOMEM, false), 1);
    assert_true(fa_loop(op_redact, cleanup, &c, EQOPS_ENOMEM, false) >= 5);
    assert_int_equal(fa_loop(op_duration_format, cleanup, &c, EQOPS_ENOMEM, false), 1);
    fa_uninstall();
}

static int setup(void **state)
{
    return eqops_init();
}

static int teardown(void **state)
{
    eqops_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(loops)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
