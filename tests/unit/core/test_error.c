/* Error model: codes, names, filling and clearing the caller-owned error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core_internal.h"

static void codes_are_stable(void **state)
{
    /* these numbers are ABI: a change here is a breaking change */
    assert_int_equal(EQOPS_EINVAL, -1);
    assert_int_equal(EQOPS_ENOMEM, -2);
    assert_int_equal(EQOPS_ENOTFOUND, -3);
    assert_int_equal(EQOPS_EEXISTS, -4);
    assert_int_equal(EQOPS_ECONFLICT, -5);
    assert_int_equal(EQOPS_EAUTH, -6);
    assert_int_equal(EQOPS_EFORBIDDEN, -7);
    assert_int_equal(EQOPS_ETIMEOUT, -8);
    assert_int_equal(EQOPS_EUNAVAILABLE, -9);
    assert_int_equal(EQOPS_EIO, -10);
    assert_int_equal(EQOPS_ETLS, -11);
    assert_int_equal(EQOPS_ETOOBIG, -12);
    assert_int_equal(EQOPS_EPROTO, -13);
    assert_int_equal(EQOPS_ECANCELED, -14);
    assert_int_equal(EQOPS_EBUSY, -15);
    assert_int_equal(EQOPS_EGONE, -16);
    assert_int_equal(EQOPS_ERATELIMIT, -17);
    assert_int_equal(EQOPS_ENOTSUP, -18);
    assert_int_equal(EQOPS_EINTERNAL, -19);
    assert_int_equal(EQOPS_CODE_MIN, -19);
}

static void every_code_has_a_name_and_text(void **state)
{
    for (int c = 0; c >= EQOPS_CODE_MIN; c--) {
        assert_non_null(strstr(eqops_code_name(c), "EQOPS_"));
        assert_string_not_equal(eqops_code_name(c), "EQOPS_EUNKNOWN");
        assert_string_not_equal(eqops_strerror(c), "unknown error");
    }
    assert_string_equal(eqops_code_name(EQOPS_ENOTFOUND), "EQOPS_ENOTFOUND");
    assert_string_equal(eqops_strerror(EQOPS_ENOTFOUND), "not found");
    assert_string_equal(eqops_code_name(-1000), "EQOPS_EUNKNOWN");
    assert_string_equal(eqops_strerror(42), "unknown error");
}

static void fill_and_clear(void **state)
{
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops__err(&e, EQOPS_ENOTFOUND, "tenant %s: missing", "acme"),
                     EQOPS_ENOTFOUND);
    assert_int_equal(e.code, EQOPS_ENOTFOUND);
    assert_string_equal(e.message, "tenant acme: missing");
    eqops__err_upstream(&e, 404, "NotFound", 2.5);
    eqops__err_body(&e, "{\"kind\":\"Status\"}", 17);
    assert_int_equal(e.http_status, 404);
    assert_string_equal(e.reason, "NotFound");
    assert_true(e.retry_after == 2.5);
    assert_string_equal(e.body, "{\"kind\":\"Status\"}");
    assert_int_equal(e.body_len, 17);
    /* refilling releases the previous body */
    eqops__err(&e, EQOPS_EINVAL, "again");
    assert_null(e.body);
    assert_int_equal(e.http_status, 0);
    eqops__err_body(&e, "x", 1);
    eqops_error_clear(&e);
    assert_int_equal(e.code, 0);
    assert_null(e.body);
    assert_int_equal(e.version, EQOPS_ERROR_VERSION);
    eqops_error_clear(NULL);
    eqops_error_init(NULL);
}

static void zero_initialised_error_works(void **state)
{
    eqops_error e = {0};
    eqops__err(&e, EQOPS_EIO, "io");
    assert_int_equal(e.code, EQOPS_EIO);
    eqops_error_clear(&e);
}

static void null_error_is_fine(void **state)
{
    assert_int_equal(eqops__err(NULL, EQOPS_EIO, "x %d", 1), EQOPS_EIO);
    assert_int_equal(eqops__err_field(NULL, EQOPS_EINVAL, "f", "y"), EQOPS_EINVAL);
    eqops__err_upstream(NULL, 1, "r", 0);
    eqops__err_body(NULL, "b", 1);
    eqops__err_prefix(NULL, "p");
}

static void field_errors_name_the_field(void **state)
{
    eqops_error e = EQOPS_ERROR_INIT;
    eqops__err_field(&e, EQOPS_EINVAL, "objectives[0].target", "must be below 100, got %g", 100.0);
    assert_string_equal(e.field, "objectives[0].target");
    assert_string_equal(e.message, "objectives[0].target: must be below 100, got 100");
    eqops__err_prefix(&e, "slo %s: ", "api");
    assert_string_equal(e.message, "slo api: objectives[0].target: must be below 100, got 100");
    eqops_error_clear(&e);
}

static void messages_stay_on_one_line(void **state)
{
    eqops_error e = EQOPS_ERROR_INIT;
    eqops__err(&e, EQOPS_EPROTO, "bad\nline\r\tend");
    assert_null(strchr(e.message, '\n'));
    assert_null(strchr(e.message, '\r'));
    char longer[1000];
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    eqops__err(&e, EQOPS_EPROTO, "%s", longer);
    assert_int_equal(strlen(e.message), sizeof(e.message) - 1);
    eqops_error_clear(&e);
}

static void truncation_keeps_utf8_valid(void **state)
{
    eqops_error e = EQOPS_ERROR_INIT;
    char text[400] = "";
    for (int i = 0; i < 150; i++)
        strcat(text, "\xc3\xa9"); /* é: 2 bytes each, so 255 bytes end mid-character */
    eqops__err(&e, EQOPS_EINVAL, "%s", text);
    size_t len = strlen(e.message);
    assert_int_equal(len % 2, 0);
    assert_int_equal(len, 254);
    eqops_error_clear(&e);
}

static void clear_keeps_the_callers_version(void **state)
{
    eqops_error e = {0};
    eqops__err(&e, EQOPS_EIO, "x");
    eqops_error_clear(&e);
    assert_int_equal(e.version, EQOPS_ERROR_VERSION);
    e.version = 1;
    eqops__err(&e, EQOPS_EIO, "y");
    assert_int_equal(e.version, 1);
    eqops_error_clear(&e);
}

static void body_is_truncated(void **state)
{
    size_t n = 200 * 1024;
    char *big = malloc(n);
    memset(big, 'b', n);
    eqops_error e = EQOPS_ERROR_INIT;
    eqops__err(&e, EQOPS_EPROTO, "big");
    eqops__err_body(&e, big, n);
    assert_int_equal(e.body_len, 64 * 1024);
    eqops_error_clear(&e);
    free(big);
}

static void http_status_mapping(void **state)
{
    assert_int_equal(eqops__http_status_code(200), 0);
    assert_int_equal(eqops__http_status_code(400), EQOPS_EINVAL);
    assert_int_equal(eqops__http_status_code(401), EQOPS_EAUTH);
    assert_int_equal(eqops__http_status_code(403), EQOPS_EFORBIDDEN);
    assert_int_equal(eqops__http_status_code(404), EQOPS_ENOTFOUND);
    assert_int_equal(eqops__http_status_code(409), EQOPS_ECONFLICT);
    assert_int_equal(eqops__http_status_code(410), EQOPS_EGONE);
    assert_int_equal(eqops__http_status_code(422), EQOPS_EINVAL);
    assert_int_equal(eqops__http_status_code(429), EQOPS_ERATELIMIT);
    assert_int_equal(eqops__http_status_code(500), EQOPS_EUNAVAILABLE);
    assert_int_equal(eqops__http_status_code(503), EQOPS_EUNAVAILABLE);
    assert_int_equal(eqops__http_status_code(504), EQOPS_ETIMEOUT);
    assert_int_equal(eqops__errno_code(ENOENT), EQOPS_ENOTFOUND);
    assert_int_equal(eqops__errno_code(EACCES), EQOPS_EFORBIDDEN);
    assert_int_equal(eqops__errno_code(EIO), EQOPS_EIO);
}

static void version_and_init(void **state)
{
    assert_string_equal(eqops_version(), EQOPS_VERSION_STRING);
    assert_int_equal(eqops_version_number(), EQOPS_VERSION_NUMBER);
    assert_false(eqops__initialized());
    assert_int_equal(eqops_init(), 0);
    assert_int_equal(eqops_init(), 0);
    eqops_cleanup();
    assert_true(eqops__initialized());
    eqops_cleanup();
    assert_false(eqops__initialized());
    eqops_cleanup(); /* extra cleanup is harmless */
}

static void *test_malloc_fn(size_t n, void *p)
{
    return malloc(n);
}

static void *test_realloc_fn(void *ptr, size_t n, void *p)
{
    return realloc(ptr, n);
}

static void test_free_fn(void *ptr, void *p)
{
    free(ptr);
}

static void allocator_hook_validates(void **state)
{
    eqops_allocator bad = {EQOPS_ALLOCATOR_VERSION, NULL, NULL, NULL, NULL};
    assert_int_equal(eqops_set_allocator(&bad), EQOPS_EINVAL);
    eqops_allocator future = {99, test_malloc_fn, test_realloc_fn, test_free_fn, NULL};
    assert_int_equal(eqops_set_allocator(&future), EQOPS_EINVAL);
    assert_int_equal(eqops_set_allocator(NULL), 0);
    void *p = eqops__malloc(0);
    assert_non_null(p);
    eqops_free(p);
    eqops_free(NULL);
    assert_null(eqops__calloc(SIZE_MAX / 2, 4));
    char *s = eqops__strndup("secret-value", 6);
    assert_string_equal(s, "secret");
    eqops__secret_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codes_are_stable),
        cmocka_unit_test(every_code_has_a_name_and_text),
        cmocka_unit_test(fill_and_clear),
        cmocka_unit_test(zero_initialised_error_works),
        cmocka_unit_test(null_error_is_fine),
        cmocka_unit_test(field_errors_name_the_field),
        cmocka_unit_test(messages_stay_on_one_line),
        cmocka_unit_test(body_is_truncated),
        cmocka_unit_test(truncation_keeps_utf8_valid),
        cmocka_unit_test(clear_keeps_the_callers_version),
        cmocka_unit_test(http_status_mapping),
        cmocka_unit_test(version_and_init),
        cmocka_unit_test(allocator_hook_validates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
