/* Budgets, burn rates and alert windows against the SRE Workbook's numbers and the factor
 * tables in the SLO notes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "slo/slo_internal.h"

#define MIN  60000LL
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)
static int close_to(double a, double b)
{
    return fabs(a - b) <= 1e-9 * (1 + fabs(b));
}
#define CLOSE(a, b) assert_true(close_to((a), (b)))

static void budgets(void **state)
{
    eqops_slo_budget b;
    /* 10 requests an hour, 1 failure, 99.9% over 30 days: error ratio 10%, burn 100x
     * (the Workbook prints 1,000x, but its own 13.9% = 100 x 1h / 720h) */
    assert_int_equal(eqops_slo_budget_from_counts(&b, 0.999, 1, 10, 1, NULL), 0);
    CLOSE(b.error_ratio, 0.1);
    CLOSE(b.burn_rate, 100);
    CLOSE(b.allowed_bad, 0.01);
    CLOSE(b.burn_rate * 1 / 720, 0.13888888888888889); /* an hour of it: 13.9% of the budget */
    /* allowed failures over the month at that traffic: 7.2 ("seven") */
    CLOSE(0.001 * 10 * 720, 7.2);
    /* no traffic: nothing spent */
    assert_int_equal(eqops_slo_budget_from_counts(&b, 0.999, 0, 0, 0, NULL), 0);
    assert_true(b.error_ratio == 0 && b.consumed == 0 && b.remaining == 1);
    /* min_events floors the denominator */
    assert_int_equal(eqops_slo_budget_from_counts(&b, 0.99, 1, 3, 100, NULL), 0);
    CLOSE(b.error_ratio, 0.01);
    /* overspent */
    assert_int_equal(eqops_slo_budget_from_counts(&b, 0.99, 50, 1000, 1, NULL), 0);
    CLOSE(b.consumed, 5);
    CLOSE(b.remaining, -4);
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_slo_budget_from_counts(&b, 1.0, 0, 1, 1, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_slo_budget_from_counts(&b, 99.9, 0, 1, 1, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "did you mean 0.999"));
    assert_int_equal(eqops_slo_budget_from_counts(&b, 0.9, 5, 4, 1, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "bad");
    assert_int_equal(eqops_slo_budget_from_counts(&b, 0.9, -1, 4, 1, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_slo_budget_from_counts(&b, 0.9, 1, INFINITY, 1, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_slo_budget_from_counts(NULL, 0.9, 1, 4, 1, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
}

static void exhaustion(void **state)
{
    int64_t ms;
    int ex;
    /* Workbook table 5-4, 99.9% over 30 days: burn 1 -> 30d, 2 -> 15d, 10 -> 3d, 1000 -> 43m */
    const double burns[] = {1, 2, 10, 1000};
    const int64_t want[] = {30 * DAY, 15 * DAY, 3 * DAY, 43 * MIN + 12000};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(eqops_slo_time_to_exhaustion(&ms, &ex, 1, burns[i], 30 * DAY, NULL), 0);
        assert_int_equal(ex, 1);
        assert_int_equal(ms, want[i]);
    }
    /* 99.999% monthly, full outage (burn 100000): 25.92 s */
    assert_int_equal(eqops_slo_time_to_exhaustion(&ms, &ex, 1, 1 / (1 - 0.99999), 30 * DAY, NULL),
                     0);
    assert_true(llabs(ms - 25920) <= 1);
    /* a half-used budget lasts half as long */
    assert_int_equal(eqops_slo_time_to_exhaustion(&ms, &ex, 0.5, 2, 30 * DAY, NULL), 0);
    assert_int_equal(ms, 7 * DAY + 12 * HOUR);
    /* never, and already spent */
    assert_int_equal(eqops_slo_time_to_exhaustion(&ms, &ex, 1, 0, 30 * DAY, NULL), 0);
    assert_int_equal(ex, 0);
    assert_int_equal(ms, 0);
    assert_int_equal(eqops_slo_time_to_exhaustion(&ms, &ex, -0.2, 3, 30 * DAY, NULL), 0);
    assert_int_equal(ex, 1);
    assert_int_equal(ms, 0);
    assert_int_equal(eqops_slo_time_to_exhaustion(&ms, &ex, 1, 1, 0, NULL), EQOPS_EINVAL);
    assert_int_equal(eqops_slo_time_to_exhaustion(&ms, &ex, NAN, 1, DAY, NULL), EQOPS_EINVAL);
}

static void factors(void **state)
{
    double f;
    /* Sloth's 30d: 2%/1h 5%/6h 10%/1d 10%/3d -> 14.4 6 3 1 */
    assert_int_equal(eqops_slo_burn_factor(&f, 0.02, 30 * DAY, HOUR, NULL), 0);
    CLOSE(f, 14.4);
    assert_int_equal(eqops_slo_burn_factor(&f, 0.05, 30 * DAY, 6 * HOUR, NULL), 0);
    CLOSE(f, 6);
    assert_int_equal(eqops_slo_burn_factor(&f, 0.10, 30 * DAY, DAY, NULL), 0);
    CLOSE(f, 3);
    assert_int_equal(eqops_slo_burn_factor(&f, 0.10, 30 * DAY, 3 * DAY, NULL), 0);
    CLOSE(f, 1);
    assert_int_equal(eqops_slo_burn_factor(&f, 0, DAY, HOUR, NULL), EQOPS_EINVAL);
    assert_int_equal(eqops_slo_burn_factor(&f, 0.1, DAY, 0, NULL), EQOPS_EINVAL);
}

static void default_tables(void **state)
{
    eqops_slo_alert_window w[8];
    size_t n;
    struct {
        int64_t period;
        int severity;
        double factors[2];
    } cases[] = {
        {30 * DAY, 0, {14.4, 6}},    {30 * DAY, 1, {3, 1}},
        {28 * DAY, 0, {13.44, 5.6}}, {28 * DAY, 1, {2.8, 0.9333333333333333}},
        {7 * DAY, 0, {13.44, 3.5}},  {7 * DAY, 1, {1.4, 0.98}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(
            eqops_slo_default_windows(w, 8, &n, cases[i].period, cases[i].severity, NULL), 0);
        assert_int_equal(n, 2);
        CLOSE(w[0].factor, cases[i].factors[0]);
        CLOSE(w[1].factor, cases[i].factors[1]);
        assert_int_equal(w[0].long_ms, cases[i].severity ? DAY : HOUR);
        assert_int_equal(w[0].short_ms, w[0].long_ms / 12);
    }
    /* the short windows are a twelfth of the long ones */
    assert_int_equal(eqops_slo_default_windows(w, 8, &n, 30 * DAY, 1, NULL), 0);
    assert_int_equal(w[1].short_ms, 6 * HOUR);
    /* windows as long as the period are left out */
    assert_int_equal(eqops_slo_default_windows(w, 8, &n, DAY, 1, NULL), 0);
    assert_int_equal(n, 0);
    /* too little room says how much is needed */
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_slo_default_windows(w, 1, &n, 30 * DAY, 0, &e), EQOPS_EINVAL);
    assert_int_equal(n, 2);
    assert_int_equal(eqops_slo_default_windows(w, 8, &n, 30 * DAY, 2, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
}

static void alert_analysis(void **state)
{
    eqops_slo_alert_analysis a;
    /* Workbook approach 4: 5% of the budget in 1h (factor 36), full outage: detection
     * 129.6 s, reset 57.8 min */
    eqops_slo_alert_window w36 = {HOUR, HOUR, 36, 0};
    assert_int_equal(eqops_slo_alert_analyze(&a, 0.999, 30 * DAY, &w36, 1, NULL), 0);
    assert_int_equal(a.detection_ms, 129600);
    assert_true(llabs(a.reset_ms - 3470400) <= 1); /* 57.84 min */
    CLOSE(a.budget_consumed, 0.05);
    /* the page window 1h/5m x14.4 with 15% errors: the long window crosses at 5.76 min,
     * the short one drops 4.52 min after the errors stop */
    eqops_slo_alert_window page = {HOUR, 5 * MIN, 14.4, 0};
    assert_int_equal(eqops_slo_alert_analyze(&a, 0.999, 30 * DAY, &page, 0.15, NULL), 0);
    assert_int_equal(a.fires, 1);
    assert_int_equal(a.detection_ms, 345600); /* 5.76 min */
    assert_int_equal(a.reset_ms, 271200);     /* 4.52 min */
    CLOSE(a.threshold, 0.0144);
    CLOSE(a.budget_consumed, 0.02);
    assert_int_equal(a.exhaustion_ms, 50 * HOUR);
    /* with for: 2m, detection is two minutes later */
    page.for_ms = 2 * MIN;
    assert_int_equal(eqops_slo_alert_analyze(&a, 0.999, 30 * DAY, &page, 0.15, NULL), 0);
    assert_int_equal(a.detection_ms, 345600 + 2 * MIN);
    /* below the threshold it never fires */
    assert_int_equal(eqops_slo_alert_analyze(&a, 0.999, 30 * DAY, &page, 0.01, NULL), 0);
    assert_int_equal(a.fires, 0);
    assert_int_equal(a.detection_ms, 0);
    /* a 90% SLO: a full outage for an hour spends 1.4% of the budget, and the 2% page can
     * never fire */
    eqops_slo_alert_window p90 = {HOUR, 5 * MIN, 14.4, 0};
    assert_int_equal(eqops_slo_alert_analyze(&a, 0.9, 30 * DAY, &p90, 1, NULL), 0);
    assert_int_equal(a.can_fire, 0);
    assert_int_equal(a.fires, 0);
    CLOSE(1.0 / 0.1 * HOUR / (30.0 * DAY), 0.013888888888888888);
    /* 0.1% errors for 10 minutes on 30 days: 0.023% of the budget */
    CLOSE(0.001 / 0.001 * (10.0 * MIN) / (30.0 * DAY), 0.000231481481481481);
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_slo_alert_window bad = {HOUR, 2 * HOUR, 1, 0};
    assert_int_equal(eqops_slo_alert_analyze(&a, 0.999, DAY, &bad, 1, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "short");
    assert_int_equal(eqops_slo_alert_analyze(&a, 0.999, DAY, &page, 1.5, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
}

static void multi_window(void **state)
{
    eqops_slo_alert_window w = {HOUR, 5 * MIN, 14.4, 0};
    int fires = -1;
    assert_int_equal(eqops_slo_window_fires(&fires, 0.999, &w, 0.02, 0.02, NULL), 0);
    assert_int_equal(fires, 1);
    assert_int_equal(eqops_slo_window_fires(&fires, 0.999, &w, 0.02, 0.01, NULL), 0);
    assert_int_equal(fires, 0); /* the short window has recovered: reset */
    assert_int_equal(eqops_slo_window_fires(&fires, 0.999, &w, 0.01, 0.5, NULL), 0);
    assert_int_equal(fires, 0); /* a blip: the long window has not seen enough */
    assert_int_equal(eqops_slo_window_fires(&fires, 0.999, &w, NAN, 0.5, NULL), EQOPS_EINVAL);
}

static void composite(void **state)
{
    double out;
    double slis[] = {0.999, 0.99, 0.5};
    double w[] = {2, 1, 1};
    int data[] = {1, 1, 0};
    assert_int_equal(eqops_slo_composite(&out, slis, w, data, 3, EQOPS_SLO_NODATA_IGNORE, NULL), 0);
    CLOSE(out, (2 * 0.999 + 0.99) / 3);
    assert_int_equal(eqops_slo_composite(&out, slis, w, data, 3, EQOPS_SLO_NODATA_GOOD, NULL), 0);
    CLOSE(out, (2 * 0.999 + 0.99 + 1) / 4);
    assert_int_equal(eqops_slo_composite(&out, slis, w, data, 3, EQOPS_SLO_NODATA_BAD, NULL), 0);
    CLOSE(out, (2 * 0.999 + 0.99) / 4);
    int none[] = {0, 0, 0};
    assert_int_equal(eqops_slo_composite(&out, slis, w, none, 3, EQOPS_SLO_NODATA_IGNORE, NULL), 0);
    assert_true(out == 1);
    double negw[] = {1, -1, 1};
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_slo_composite(&out, slis, negw, NULL, 3, 0, &e), EQOPS_EINVAL);
    double zero[] = {0, 0, 0};
    assert_int_equal(eqops_slo_composite(&out, slis, zero, NULL, 3, 0, &e), EQOPS_EINVAL);
    double badsli[] = {1.5};
    assert_int_equal(eqops_slo_composite(&out, badsli, w, NULL, 1, 0, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_slo_composite(&out, slis, w, NULL, 3, 7, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
}

static void decimals(void **state)
{
    assert_int_equal(eqops__decimal_places(99.9), 1);
    assert_int_equal(eqops__decimal_places(0.001), 3);
    assert_int_equal(eqops__decimal_places(14.4), 1);
    assert_int_equal(eqops__decimal_places(1e-05), 5);
    assert_int_equal(eqops__decimal_places(100), 0);
    assert_true(eqops__decimal_round(100 - 99.9, 1) == 0.1);
    assert_true(eqops__decimal_round(14.4 * 0.001, 4) == 0.0144);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(budgets),        cmocka_unit_test(exhaustion),
        cmocka_unit_test(factors),        cmocka_unit_test(default_tables),
        cmocka_unit_test(alert_analysis), cmocka_unit_test(multi_window),
        cmocka_unit_test(composite),      cmocka_unit_test(decimals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
