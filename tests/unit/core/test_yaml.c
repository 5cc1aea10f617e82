/*
 * test_yaml.c - anchors and aliases of the YAML reader: what they resolve to, the expansion
 * cap (billion laughs), and that resolving them is linear in the size of the document.
 *
 * Run with the argument "big" it parses a document of half a million anchors and half a million
 * aliases (ctest test_core_yaml_aliases_500k, plain build only: the ctest timeout is what fails
 * a quadratic reader, and sanitizers or valgrind would only measure themselves).
 */
#include "core/json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

static json_t *parse_ok(const char *text)
{
    json_t *v = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops__yaml_parse(&v, text, strlen(text), false, "test", &e) != 0)
        fail_msg("%s: %s", text, e.message);
    return v;
}

static int parse_code(const char *text, size_t len, eqops_error *e)
{
    json_t *v = NULL;
    eqops_error_clear(e);
    int rc = eqops__yaml_parse(&v, text, len, true, "test", e);
    if (rc != 0)
        assert_null(v);
    json_decref(v);
    return rc;
}

static void aliases_resolve(void **state)
{
    (void)state;
    json_t *v = parse_ok("a: &x 1\n"
                         "b: *x\n"
                         "c: &l [1, &y two, {k: *y}]\n"
                         "d: *l\n"
                         "e: &x later\n" /* a later anchor of the same name wins */
                         "f: *x\n");
    assert_int_equal(json_integer_value(json_object_get(v, "b")), 1);
    assert_true(json_equal(json_object_get(v, "c"), json_object_get(v, "d")));
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(v, "d"), 2), "k")), "two");
    assert_string_equal(json_string_value(json_object_get(v, "f")), "later");
    json_decref(v);

    /* an anchor redefined from a big node to a scalar counts as a scalar again */
    v = parse_ok("a: &x [1, 2, 3]\nb: &x 1\nc: [*x, *x]\n");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(v, "c"), 1)), 1);
    json_decref(v);

    eqops_error e = EQOPS_ERROR_INIT;
    const char *unknown = "a: *nowhere\n";
    assert_int_equal(parse_code(unknown, strlen(unknown), &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "alias to an unknown anchor"));
    assert_non_null(strstr(e.message, "line 1"));
    /* a node cannot contain itself: the anchor is known once its node is complete */
    const char *self = "a: &s [1, *s]\n";
    assert_int_equal(parse_code(self, strlen(self), &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "unknown anchor"));
    /* an anchor belongs to its document (YAML 1.2, 3.2.2.2): the next cannot refer to it */
    const char *later = "a: &x 1\n---\nb: *x\n";
    assert_int_equal(parse_code(later, strlen(later), &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "unknown anchor"));
    assert_non_null(strstr(e.message, "line 3"));
    const char *own = "a: &x 1\n---\nb: &x 2\nc: *x\n";
    assert_int_equal(parse_code(own, strlen(own), &e), 0);
    eqops_error_clear(&e);
}

/* Aliases count as the nodes they expand to: billion laughs is refused early. */
static void expansion_capped(void **state)
{
    (void)state;
    eqops_buf b = EQOPS_BUF_INIT;
    eqops__buf_puts(&b, "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 10; i++) {
        eqops__buf_printf(&b, "l%d: &l%d [", i, i);
        for (int k = 0; k < 10; k++)
            eqops__buf_printf(&b, "%s*l%d", k ? ", " : "", i - 1);
        eqops__buf_puts(&b, "]\n");
    }
    assert_int_equal(eqops__buf_ok(&b), 0);
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(parse_code(b.data, b.len, &e), EQOPS_ETOOBIG);
    assert_non_null(strstr(e.message, "more than a million nodes"));

    /* nested aliases: 100 aliases of a list of 100 aliases of a list of 100 scalars are a
     * million nodes and more */
    eqops__buf_truncate(&b, 0);
    eqops__buf_puts(&b, "a: &a [");
    for (int k = 0; k < 100; k++)
        eqops__buf_puts(&b, k ? ", x" : "x");
    eqops__buf_puts(&b, "]\nb: &b [");
    for (int k = 0; k < 100; k++)
        eqops__buf_puts(&b, k ? ", *a" : "*a");
    eqops__buf_puts(&b, "]\nc: [");
    for (int k = 0; k < 100; k++)
        eqops__buf_puts(&b, k ? ", *b" : "*b");
    eqops__buf_puts(&b, "]\n");
    assert_int_equal(parse_code(b.data, b.len, &e), EQOPS_ETOOBIG);
    /* ... and 90 of them fit */
    eqops__buf_truncate(&b, b.len - 2 - 10 * 4);
    eqops__buf_puts(&b, "]\n");
    assert_int_equal(parse_code(b.data, b.len, &e), 0);
    eqops__buf_free(&b);
    eqops_error_clear(&e);
}

/*
 * The cap, exactly: a map of two keys holding an anchored scalar and a list of aliases to it
 * is 5 nodes plus one per alias; 999,995 aliases make a million nodes, one more is refused.
 */
static void cap_exact(void **state)
{
    (void)state;
    eqops_buf b = EQOPS_BUF_INIT;
    eqops__buf_puts(&b, "a: &a x\nb: [*a");
    for (int k = 1; k < 999995; k++)
        eqops__buf_puts(&b, ",*a");
    eqops__buf_puts(&b, "]\n");
    assert_int_equal(eqops__buf_ok(&b), 0);
    json_t *v = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops__yaml_parse(&v, b.data, b.len, false, "test", &e) != 0)
        fail_msg("%s", e.message);
    assert_int_equal(json_array_size(json_object_get(v, "b")), 999995);
    json_decref(v);
    eqops__buf_truncate(&b, b.len - 2);
    eqops__buf_puts(&b, ",*a]\n");
    assert_int_equal(parse_code(b.data, b.len, &e), EQOPS_ETOOBIG);
    eqops__buf_free(&b);
    eqops_error_clear(&e);
}

/*
 * 499,990 anchors, then 499,990 aliases to the first ones (the worst case for a reader that
 * looks anchors up by a scan from the last one): a million nodes, just under the cap. Linear
 * resolution reads it in about a second; a scan per alias took hours.
 */
static void half_a_million_aliases(void **state)
{
    (void)state;
    enum { N = 499990 };
    eqops_buf b = EQOPS_BUF_INIT;
    eqops__buf_puts(&b, "a: [");
    for (int i = 0; i < N; i++)
        eqops__buf_printf(&b, "%s&a%d x", i ? "," : "", i);
    eqops__buf_puts(&b, "]\nb: [");
    for (int i = 0; i < N; i++)
        eqops__buf_printf(&b, "%s*a%d", i ? "," : "", i % 7);
    eqops__buf_puts(&b, "]\n");
    assert_int_equal(eqops__buf_ok(&b), 0);
    int64_t t0 = eqops__mono_ms();
    json_t *v = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops__yaml_parse(&v, b.data, b.len, false, "test", &e) != 0)
        fail_msg("%s", e.message);
    printf("%d anchors and %d aliases (%zu bytes) parsed in %lld ms\n", N, N, b.len,
           (long long)(eqops__mono_ms() - t0));
    assert_int_equal(json_array_size(json_object_get(v, "b")), N);
    assert_string_equal(json_string_value(json_array_get(json_object_get(v, "b"), N - 1)), "x");
    json_decref(v);
    eqops__buf_free(&b);
}

int main(int argc, char **argv)
{
    eqops_init();
    int rc;
    if (argc > 1 && strcmp(argv[1], "big") == 0 && RUNNING_ON_VALGRIND) {
        printf("the big documents are for the plain build: not under valgrind\n");
        rc = 0;
    } else if (argc > 1 && strcmp(argv[1], "big") == 0) {
        const struct CMUnitTest big[] = {
            cmocka_unit_test(half_a_million_aliases),
            cmocka_unit_test(cap_exact),
        };
        rc = cmocka_run_group_tests(big, NULL, NULL);
    } else {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(aliases_resolve),
            cmocka_unit_test(expansion_capped),
        };
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    }
    eqops_cleanup();
    return rc;
}
