/*
 * test_proc.c - running helper programs: output, exit codes, the deadline (also when the
 * helper closes its output and lingers, or leaves a child holding it), the size limit, the
 * child-only environment; and base64.
 */
#include "core/core_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static int run_sh(eqops_buf *out, const char *script, const char *const *envp, int64_t timeout_ms,
                  size_t max, eqops_error *e)
{
    const char *argv[] = {"sh", "-c", script, NULL};
    eqops__buf_truncate(out, 0);
    eqops_error_clear(e);
    return eqops__run(out, argv, envp, timeout_ms, max, "helper", e);
}

static void test_run(void **state)
{
    (void)state;
    eqops_buf out = EQOPS_BUF_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(run_sh(&out, "printf hello; cat", NULL, 5000, 100, &e), 0);
    assert_string_equal(eqops__buf_cstr(&out), "hello"); /* stdin is /dev/null */
    assert_int_equal(run_sh(&out, "exit 3", NULL, 5000, 100, &e), EQOPS_EIO);
    assert_non_null(strstr(e.message, "exit 3"));
    const char *argv[] = {"/nonexistent/helper", NULL};
    assert_int_equal(eqops__run(&out, argv, NULL, 5000, 100, "helper", &e), EQOPS_EIO);
    eqops_error_clear(&e);
    assert_int_equal(run_sh(&out, "head -c 5000 /dev/zero", NULL, 5000, 100, &e), EQOPS_ETOOBIG);

    /* the deadline holds when the helper lingers after closing its output, or leaves a
     * child holding it */
    const char *lingering[] = {"echo x; exec >&-; sleep 20", "sleep 20 & echo x", "sleep 20"};
    for (size_t i = 0; i < 3; i++) {
        int64_t t0 = eqops__mono_ms();
        assert_int_equal(run_sh(&out, lingering[i], NULL, 500, 100, &e), EQOPS_ETIMEOUT);
        int64_t took = eqops__mono_ms() - t0;
        if (took > 5000)
            fail_msg("case %zu took %lld ms", i, (long long)took);
    }

    /* no descriptor of ours reaches the helper (an open pipe without close-on-exec here) */
    int leak[2];
    assert_int_equal(pipe(leak), 0);
    assert_int_equal(run_sh(&out, "for f in /proc/$$/fd/*; do printf '%s ' ${f##*/}; done", NULL,
                            5000, 1000, &e),
                     0);
    char mine[32];
    snprintf(mine, sizeof(mine), " %d ", leak[1]);
    char list[1100];
    snprintf(list, sizeof(list), " %s", eqops__buf_cstr(&out));
    if (strstr(list, mine) != NULL)
        fail_msg("fd %d inherited: %s", leak[1], list);
    close(leak[0]);
    close(leak[1]);

    /* the environment given is the child's, and only the child's */
    const char *envp[] = {"EQOPS_PROC_TEST=only-child", "PATH=/usr/bin:/bin", NULL};
    assert_int_equal(run_sh(&out, "printf %s \"$EQOPS_PROC_TEST\"", envp, 5000, 100, &e), 0);
    assert_string_equal(eqops__buf_cstr(&out), "only-child");
    assert_null(getenv("EQOPS_PROC_TEST"));
    eqops_error_clear(&e);
    eqops__buf_free(&out);
}

static void test_base64(void **state)
{
    (void)state;
    eqops_buf b = EQOPS_BUF_INIT;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops__base64_decode(&b, "aGVsbG8g\nd29ybGQ=\n", 18, "data", &e), 0);
    assert_string_equal(eqops__buf_cstr(&b), "hello world");
    eqops__buf_truncate(&b, 0);
    assert_int_equal(eqops__base64_decode(&b, "not base64!", 11, "data", &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "data"));
    eqops_error_clear(&e);
    eqops__buf_truncate(&b, 0);
    assert_int_equal(eqops__base64_encode(&b, "hello world", 11), 0);
    assert_string_equal(eqops__buf_cstr(&b), "aGVsbG8gd29ybGQ=");
    eqops__buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_run), cmocka_unit_test(test_base64)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
