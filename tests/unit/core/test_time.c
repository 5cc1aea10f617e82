/* RFC 3339 timestamps and Prometheus-style durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core_internal.h"

static int64_t ts(const char *s)
{
    int64_t v = -1;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops__time_parse_rfc3339(s, &v, &e);
    if (rc != 0)
        fail_msg("%s: %s", s, e.message);
    return v;
}

static void rfc3339_valid(void **state)
{
    assert_int_equal(ts("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(ts("2026-11-27T10:00:00Z"), 1795773600000LL);
    assert_int_equal(ts("2026-11-27T11:00:00+01:00"), 1795773600000LL);
    assert_int_equal(ts("2026-11-27T09:30:00-00:30"), 1795773600000LL);
    assert_int_equal(ts("2026-11-27T10:00:00.5Z"), 1795773600500LL);
    assert_int_equal(ts("2026-11-27T10:00:00.123456789Z"), 1795773600123LL);
    assert_int_equal(ts("2024-02-29t00:00:00z"), 1709164800000LL);
    assert_int_equal(ts("1969-12-31T23:59:59Z"), -1000);
    assert_int_equal(ts("2016-12-31T23:59:60Z"), ts("2016-12-31T23:59:59Z"));
}

static void rfc3339_invalid(void **state)
{
    static const char *bad[] = {
        "",
        "2026-11-27",
        "2026-11-27T10:00:00",
        "2026-11-27 10:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-11-27T24:00:00Z",
        "2026-11-27T10:60:00Z",
        "2026-11-27T10:00:00.Z",
        "2026-11-27T10:00:00.1234567890Z",
        "2026-11-27T10:00:00+1:00",
        "2026-11-27T10:00:00Zjunk",
        "+026-11-27T10:00:00Z",
        "2026-11-27T10:00:00+24:00",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v = 0;
        eqops_error e = EQOPS_ERROR_INIT;
        assert_int_equal(eqops__time_parse_rfc3339(bad[i], &v, &e), EQOPS_EINVAL);
        assert_non_null(strstr(e.message, "RFC 3339"));
    }
    assert_int_equal(eqops__time_parse_rfc3339(NULL, NULL, NULL), EQOPS_EINVAL);
}

static void rfc3339_format(void **state)
{
    char out[32];
    eqops__time_format_rfc3339(1795773600999LL, out);
    assert_string_equal(out, "2026-11-27T10:00:00Z");
    eqops__time_format_rfc3339(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    eqops__time_format_rfc3339(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59Z");
}

static int64_t dur(const char *s)
{
    int64_t v = -1;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops__duration_parse(s, &v, &e) != 0)
        fail_msg("%s: %s", s, e.message);
    return v;
}

static void durations(void **state)
{
    assert_int_equal(dur("0"), 0);
    assert_int_equal(dur("0s"), 0);
    assert_int_equal(dur("500ms"), 500);
    assert_int_equal(dur("5m"), 300000);
    assert_int_equal(dur("1h30m"), 5400000);
    assert_int_equal(dur("30d"), 2592000000LL);
    assert_int_equal(dur("4w"), 2419200000LL);
    assert_int_equal(dur("1y"), 31536000000LL);
    assert_int_equal(dur("1d2h3m4s5ms"), 93784005LL);
    static const char *bad[] = {"",
                                "1",
                                "h",
                                "1x",
                                "1h1d",
                                "1m1m",
                                "-1s",
                                "1.5h",
                                "1 h",
                                "1ms1s",
                                "99999999999999999999s",
                                "1hh"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v = 0;
        eqops_error e = EQOPS_ERROR_INIT;
        assert_int_equal(eqops__duration_parse(bad[i], &v, &e), EQOPS_EINVAL);
        assert_non_null(strstr(e.message, "duration"));
    }
    assert_int_equal(eqops__duration_parse(NULL, NULL, NULL), EQOPS_EINVAL);
    int64_t v;
    assert_int_equal(eqops__duration_parse("106751991168d", &v, NULL), EQOPS_EINVAL);
}

static void duration_format(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {{"0s", "0s"},          {"30d", "30d"}, {"28d", "4w"},      {"7d", "1w"},
                 {"90d", "90d"},        {"365d", "1y"}, {"1h30m", "1h30m"}, {"5m", "5m"},
                 {"1500ms", "1s500ms"}, {"2h", "2h"}};
    char out[48];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        eqops__duration_format(dur(cases[i].in), out);
        assert_string_equal(out, cases[i].out);
        assert_int_equal(dur(out), dur(cases[i].in));
    }
}

static int64_t fixed_clock(void)
{
    return 1234567;
}

static void clock_can_be_replaced(void **state)
{
    eqops__set_clock(fixed_clock);
    assert_int_equal(eqops__now_ms(), 1234567);
    eqops__set_clock(NULL);
    assert_true(eqops__now_ms() > 1700000000000LL);
    int64_t a = eqops__mono_ms();
    eqops__sleep_ms(20);
    assert_true(eqops__mono_ms() - a >= 19);
}

static void public_duration_api(void **state)
{
    int64_t ms = -1;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_duration_parse(&ms, "1h30m", &e), 0);
    assert_int_equal(ms, 5400000);
    assert_int_equal(eqops_duration_parse(&ms, "90 days", &e), EQOPS_EINVAL);
    assert_int_equal(ms, 0);
    assert_int_equal(e.code, EQOPS_EINVAL);
    assert_int_equal(eqops_duration_parse(NULL, "1h", &e), EQOPS_EINVAL);
    char *s = (char *)"untouched";
    assert_int_equal(eqops_duration_format(&s, 90LL * 86400000, &e), 0);
    assert_string_equal(s, "90d");
    eqops_free(s);
    assert_int_equal(eqops_duration_format(&s, -1, &e), EQOPS_EINVAL);
    assert_null(s);
    assert_string_equal(e.field, "ms");
    assert_int_equal(eqops_duration_format(NULL, 1, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc3339_valid),       cmocka_unit_test(rfc3339_invalid),
        cmocka_unit_test(rfc3339_format),      cmocka_unit_test(durations),
        cmocka_unit_test(duration_format),     cmocka_unit_test(clock_can_be_replaced),
        cmocka_unit_test(public_duration_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
