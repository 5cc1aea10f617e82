/*
 * test_yaml.c - anchors, aliases and merge keys of the YAML reader: what they resolve to, the
 * expansion caps (billion laughs, in nodes and in bytes), nesting through aliases, one
 * document, and that resolving them is linear in the size of the stream.
 *
 * Run with the argument "big" it parses a document of half a million anchors and half a million
 * aliases, and a stream of 450,000 anchors followed by 500,000 empty documents (ctest
 * test_core_yaml_aliases_500k, plain build only: the ctest timeout is what fails a quadratic
 * reader, and sanitizers or valgrind would only measure themselves).
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

/* An alias is a copy: changing the document through one path leaves the others alone (the
 * tenant spec reader fills defaults into the document it is given). */
static void aliases_are_copies(void **state)
{
    (void)state;
    json_t *v = parse_ok("database: &e {}\n"
                         "secrets: {kubernetes: *e, aws: *e}\n"
                         "s: &s text\n"
                         "t: [*s]\n");
    json_t *db = json_object_get(v, "database");
    json_t *k8s = json_object_get(json_object_get(v, "secrets"), "kubernetes");
    assert_ptr_not_equal(db, k8s);
    assert_int_equal(json_object_set_new(db, "enabled", json_true()), 0);
    assert_int_equal(json_object_size(k8s), 0);
    assert_int_equal(json_object_size(json_object_get(json_object_get(v, "secrets"), "aws")), 0);
    assert_ptr_not_equal(json_object_get(v, "s"), json_array_get(json_object_get(v, "t"), 0));
    json_decref(v);
}

/* An alias of a big string counts its bytes: a megabyte and seventy aliases of it is more
 * than the 64 MiB a stream may expand to (a JSON body of that size would be built from it). */
static void expansion_capped_in_bytes(void **state)
{
    (void)state;
    eqops_buf b = EQOPS_BUF_INIT;
    eqops__buf_puts(&b,
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: amp}\ndata:\n  a0: &a \"");
    for (int i = 0; i < (1 << 20); i++)
        eqops__buf_putc(&b, 'x');
    eqops__buf_puts(&b, "\"\n");
    for (int i = 1; i <= 70; i++)
        eqops__buf_printf(&b, "  a%d: *a\n", i);
    assert_int_equal(eqops__buf_ok(&b), 0);
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(parse_code(b.data, b.len, &e), EQOPS_ETOOBIG);
    assert_non_null(strstr(e.message, "aliases expand to more than 67108864 bytes"));
    assert_non_null(strstr(e.message, "line 6")); /* the alias that crossed the line: a64 */
    /* sixty of them fit */
    eqops__buf_truncate(&b, (size_t)(strstr(b.data, "  a61:") - b.data));
    assert_int_equal(parse_code(b.data, b.len, &e), 0);
    eqops__buf_free(&b);
    eqops_error_clear(&e);
}

/* The nesting limit holds through aliases: each alias of a nested list nests one deeper. */
static void depth_through_aliases(void **state)
{
    (void)state;
    eqops_buf b = EQOPS_BUF_INIT;
    eqops__buf_puts(&b, "a0: &a0 [[[[[[[[[[1]]]]]]]]]]\n");
    for (int i = 1; i < 60; i++)
        eqops__buf_printf(&b, "a%d: &a%d [*a%d]\n", i, i, i - 1);
    assert_int_equal(eqops__buf_ok(&b), 0);
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(parse_code(b.data, b.len, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "nested too deeply (through aliases)"));
    assert_non_null(strstr(e.message, "line 55")); /* a54: 1 + 10 + 54 levels */
    /* up to a53 (64 levels with the map around it) is fine */
    eqops__buf_truncate(&b, (size_t)(strstr(b.data, "a54:") - b.data));
    assert_int_equal(parse_code(b.data, b.len, &e), 0);
    eqops__buf_free(&b);
    eqops_error_clear(&e);
}

static void merge_keys(void **state)
{
    (void)state;
    /* a mapping through an alias; explicit keys win, before or after the merge key */
    json_t *v = parse_ok("base: &b {team: a, env: prod, app: base}\n"
                         "labels: {app: x, <<: *b, env: dev}\n");
    json_t *l = json_object_get(v, "labels");
    assert_int_equal(json_object_size(l), 3);
    assert_string_equal(json_string_value(json_object_get(l, "app")), "x");
    assert_string_equal(json_string_value(json_object_get(l, "env")), "dev");
    assert_string_equal(json_string_value(json_object_get(l, "team")), "a");
    assert_null(json_object_get(l, "<<"));
    json_decref(v);
    /* an inline mapping, and a list: earlier mappings win over later ones */
    v = parse_ok("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\n"
                 "m: {<<: {name: cm4, namespace: default}, labels: {a: b}}\n"
                 "n: {<<: [*a, *b], w: 0}\n"
                 "q: {\"<<\": literal, '<<x': 1}\n");
    json_t *m = json_object_get(v, "m");
    assert_string_equal(json_string_value(json_object_get(m, "name")), "cm4");
    assert_non_null(json_object_get(m, "labels"));
    json_t *n = json_object_get(v, "n");
    assert_int_equal(json_object_size(n), 4);
    assert_int_equal(json_integer_value(json_object_get(n, "y")), 1);
    assert_int_equal(json_integer_value(json_object_get(n, "z")), 2);
    /* a quoted "<<" is an ordinary key */
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "q"), "<<")),
                        "literal");
    /* merged values are copies too */
    json_object_set_new(json_object_get(v, "a"), "x", json_integer(9));
    assert_int_equal(json_integer_value(json_object_get(n, "x")), 1);
    /* ... and written back quoted, so they read back as the same key */
    eqops_buf out = EQOPS_BUF_INIT;
    assert_int_equal(eqops__yaml_dump(v, &out, NULL), 0);
    json_t *back = parse_ok(out.data);
    assert_true(json_equal(back, v));
    json_decref(back);
    eqops__buf_free(&out);
    json_decref(v);

    eqops_error e = EQOPS_ERROR_INIT;
    static const char *const bad[][2] = {
        {"a: {<<: 1}\n", "a merge key '<<' takes a mapping or a list of mappings"},
        {"a: {<<: [{x: 1}, 2]}\n", "takes a mapping or a list of mappings"},
        {"a: {<<: []}\n", "takes a mapping or a list of mappings"},
        {"a: {<<: {x: 1}, <<: {y: 1}}\n", "duplicate merge key '<<'"},
        {"a: {<<: *nowhere}\n", "alias to an unknown anchor"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse_code(bad[i][0], strlen(bad[i][0]), &e), EQOPS_EINVAL);
        if (strstr(e.message, bad[i][1]) == NULL)
            fail_msg("%s: %s", bad[i][0], e.message);
    }
    /* merged keys count against the caps like the aliases they come from */
    eqops_buf b = EQOPS_BUF_INIT;
    eqops__buf_puts(&b, "a: &a {");
    for (int k = 0; k < 1000; k++)
        eqops__buf_printf(&b, "%sk%d: x", k ? ", " : "", k);
    eqops__buf_puts(&b, "}\nb: [");
    for (int k = 0; k < 600; k++)
        eqops__buf_printf(&b, "%s{<<: *a}", k ? ", " : "");
    eqops__buf_puts(&b, "]\n");
    assert_int_equal(parse_code(b.data, b.len, &e), EQOPS_ETOOBIG);
    assert_non_null(strstr(e.message, "more than a million nodes"));
    eqops__buf_free(&b);
    eqops_error_clear(&e);
}

/* One document expected: the second is refused as soon as it starts, not after the rest of
 * the stream has been read (here a syntax error further on would have been reported). */
static void one_document(void **state)
{
    (void)state;
    const char *text = "a: 1\n---\nb: 2\n---\nc: [\n";
    json_t *v = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops__yaml_parse(&v, text, strlen(text), false, "spec", &e), EQOPS_EINVAL);
    assert_null(v);
    assert_string_equal(e.message, "spec: expected one YAML document, found several");
    assert_int_equal(eqops__yaml_parse(&v, text, 14, false, "spec", &e), EQOPS_EINVAL);
    assert_int_equal(eqops__yaml_parse(&v, text, 5, false, "spec", &e), 0);
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);
    eqops_error_clear(&e);
}

/* The caps are for the whole stream (everything read is held at once): two documents of
 * 600,000 nodes each are refused in the second. */
static void caps_are_for_the_stream(void **state)
{
    (void)state;
    eqops_buf b = EQOPS_BUF_INIT;
    for (int d = 0; d < 2; d++) {
        eqops__buf_puts(&b, "---\na: &a [x");
        for (int k = 1; k < 1000; k++)
            eqops__buf_puts(&b, ",x");
        eqops__buf_puts(&b, "]\nb: [*a");
        for (int k = 1; k < 599; k++)
            eqops__buf_puts(&b, ",*a");
        eqops__buf_puts(&b, "]\n");
    }
    assert_int_equal(eqops__buf_ok(&b), 0);
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(parse_code(b.data, b.len, &e), EQOPS_ETOOBIG);
    assert_non_null(strstr(e.message, "line 6")); /* in the second document */
    assert_int_equal(parse_code(b.data, b.len / 2, &e), 0);
    eqops__buf_free(&b);
    eqops_error_clear(&e);
}

/*
 * 450,000 anchors in one document, then 500,000 empty documents (each a null node: together
 * just under the node cap): a reader that empties its anchor table at each document (a cost
 * of one step per bucket the table ever had) takes 450,000 x 500,000 steps, minutes; one that
 * starts a new table takes a moment. The same stream read as one document is refused at the
 * second document.
 */
static void anchors_then_many_documents(void **state)
{
    (void)state;
    enum { ANCHORS = 450000, DOCS = 500000 };
    eqops_buf b = EQOPS_BUF_INIT;
    eqops__buf_puts(&b, "[");
    for (int i = 0; i < ANCHORS; i++)
        eqops__buf_printf(&b, "%s&a%d x", i ? "," : "", i);
    eqops__buf_puts(&b, "]\n");
    for (int i = 0; i < DOCS; i++)
        eqops__buf_puts(&b, "---\n");
    assert_int_equal(eqops__buf_ok(&b), 0);
    int64_t t0 = eqops__mono_ms();
    json_t *v = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops__yaml_parse(&v, b.data, b.len, true, "test", &e) != 0)
        fail_msg("%s", e.message);
    printf("%d anchors and %d documents (%zu bytes) parsed in %lld ms\n", ANCHORS, DOCS + 1, b.len,
           (long long)(eqops__mono_ms() - t0));
    assert_int_equal(json_array_size(v), DOCS + 1);
    json_decref(v);
    assert_int_equal(eqops__yaml_parse(&v, b.data, b.len, false, "test", &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "found several"));
    eqops__buf_free(&b);
    eqops_error_clear(&e);
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
            cmocka_unit_test(anchors_then_many_documents),
        };
        rc = cmocka_run_group_tests(big, NULL, NULL);
    } else {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(aliases_resolve),       cmocka_unit_test(aliases_are_copies),
            cmocka_unit_test(expansion_capped),      cmocka_unit_test(expansion_capped_in_bytes),
            cmocka_unit_test(depth_through_aliases), cmocka_unit_test(merge_keys),
            cmocka_unit_test(one_document),          cmocka_unit_test(caps_are_for_the_stream),
        };
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    }
    eqops_cleanup();
    return rc;
}
