/* Growable buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core_internal.h"

static void append_and_detach(void **state)
{
    eqops_buf b = EQOPS_BUF_INIT;
    assert_string_equal(eqops__buf_cstr(&b), "");
    eqops__buf_puts(&b, "hello");
    eqops__buf_putc(&b, ' ');
    eqops__buf_printf(&b, "%s %d", "world", 42);
    eqops__buf_put(&b, "", 0);
    assert_int_equal(eqops__buf_ok(&b), 0);
    assert_string_equal(eqops__buf_cstr(&b), "hello world 42");
    assert_int_equal(b.len, 14);
    eqops__buf_truncate(&b, 5);
    assert_string_equal(b.data, "hello");
    char *s = eqops__buf_detach(&b);
    assert_string_equal(s, "hello");
    assert_null(b.data);
    eqops__free(s);
    s = eqops__buf_detach(&b);
    assert_string_equal(s, "");
    eqops__free(s);
}

static void grows_large(void **state)
{
    eqops_buf b = EQOPS_BUF_INIT;
    for (int i = 0; i < 100000; i++)
        eqops__buf_putc(&b, (char)('a' + i % 26));
    assert_int_equal(b.len, 100000);
    assert_int_equal(b.data[26], 'a');
    assert_int_equal(b.data[b.len], '\0');
    eqops__buf_wipe(&b);
    assert_null(b.data);
}

static void overflow_is_oom_and_sticky(void **state)
{
    eqops_buf b = EQOPS_BUF_INIT;
    eqops__buf_puts(&b, "x");
    assert_int_equal(eqops__buf_reserve(&b, SIZE_MAX - 1), EQOPS_ENOMEM);
    assert_int_equal(eqops__buf_ok(&b), EQOPS_ENOMEM);
    assert_int_equal(eqops__buf_puts(&b, "more"), EQOPS_ENOMEM);
    assert_null(eqops__buf_detach(&b));
    assert_null(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_and_detach),
        cmocka_unit_test(grows_large),
        cmocka_unit_test(overflow_is_oom_and_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
