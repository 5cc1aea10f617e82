/* Log hook, levels and the redaction that keeps secrets out of lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/core_internal.h"

static char last[1024];
static int lines;

static void capture(eqops_log_level level, const char *module, const char *msg, void *payload)
{
    snprintf(last, sizeof(last), "%s %s %s %s", eqops_log_level_name(level), module, msg,
             (const char *)payload);
    lines++;
}

static void levels_filter(void **state)
{
    lines = 0;
    eqops__log(EQOPS_LOG_ERROR, "core", "silent by default");
    assert_int_equal(lines, 0);
    eqops_set_log(capture, EQOPS_LOG_INFO, "p");
    eqops__log(EQOPS_LOG_DEBUG, "core", "too verbose");
    assert_int_equal(lines, 0);
    assert_false(eqops__log_enabled(EQOPS_LOG_DEBUG));
    assert_true(eqops__log_enabled(EQOPS_LOG_WARN));
    eqops__log(EQOPS_LOG_WARN, "net", "hello %d\nnext", 7);
    assert_int_equal(lines, 1);
    assert_string_equal(last, "warn net hello 7 next p");
    eqops_set_log(NULL, EQOPS_LOG_TRACE, NULL);
    eqops__log(EQOPS_LOG_ERROR, "core", "off again");
    assert_int_equal(lines, 1);
    assert_string_equal(eqops_log_level_name(EQOPS_LOG_TRACE), "trace");
    assert_string_equal(eqops_log_level_name((eqops_log_level)99), "unknown");
}

static void redacted(const char *url, const char *want)
{
    eqops_buf b = EQOPS_BUF_INIT;
    eqops__redact_url(url, &b);
    assert_string_equal(eqops__buf_cstr(&b), want);
    eqops__buf_free(&b);
}

static void urls_are_redacted(void **state)
{
    redacted(
        "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&X-Amz-Credential=AKIA%2F"
        "x&X-Amz-Signature=abcdef&X-Amz-Security-Token=tok",
        "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&X-Amz-Credential="
        "REDACTED&X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED");
    redacted("https://user:pa55@example.test:8443/api/v1/namespaces?labelSelector=tenant%3Dacme",
             "https://REDACTED@example.test:8443/api/v1/namespaces?labelSelector=tenant%3Dacme");
    redacted("http://127.0.0.1/path?password=x&flag&token=y",
             "http://127.0.0.1/path?password=REDACTED&flag&token=REDACTED");
    /* names are judged as the server decodes them */
    redacted("http://127.0.0.1/p?to%6ben=s3cr3t&%70assword=x",
             "http://127.0.0.1/p?to%6ben=REDACTED&%70assword=REDACTED");
    redacted("not a url", "(unparseable URL)");
    redacted(NULL, "(unparseable URL)");
}

static void secret_headers(void **state)
{
    assert_true(eqops__header_is_secret("Authorization", 13));
    assert_true(eqops__header_is_secret("x-amz-security-token", 20));
    assert_true(eqops__header_is_secret("Cookie", 6));
    assert_false(eqops__header_is_secret("Content-Type", 12));
    assert_false(eqops__header_is_secret("X-Amz-Date", 10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(levels_filter),
        cmocka_unit_test(urls_are_redacted),
        cmocka_unit_test(secret_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
