/* Series math: increase() as Prometheus computes it, sliding windows, period and time-slice
 * budgets, series files. Reference values from promtool 2.42 (see the SLO notes). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "slo/slo_internal.h"

#define MIN 60000

static double inc(const int64_t *t, const double *v, size_t n, int64_t start, int64_t end,
                  int *defined)
{
    double out = -1;
    assert_int_equal(eqops_slo_increase(&out, defined, t, v, n, start, end, NULL), 0);
    return out;
}

static void prometheus_vectors(void **state)
{
    int def;
    /* 0+60x20 at 1m: increase(x[5m]) @5m = 300 */
    int64_t t[21];
    double v[21];
    for (int i = 0; i <= 20; i++) {
        t[i] = i * MIN;
        v[i] = 60.0 * i;
    }
    assert_true(inc(t, v, 21, 0, 5 * MIN, &def) == 300);
    assert_int_equal(def, 1);
    /* @5m30s: samples 1m..5m, extrapolated back 30s and forward 30s */
    assert_true(fabs(inc(t, v, 21, 30000, 5 * MIN + 30000, &def) - 300) < 1e-9);
    /* a reset: 100 160 220 10 70 130 190, increase(x[5m]) @6m = 250 */
    double r[] = {100, 160, 220, 10, 70, 130, 190};
    assert_true(fabs(inc(t, r, 7, 1 * MIN, 6 * MIN, &def) - 250) < 1e-9);
    /* starting mid-range: _ _ _ 5 65 125 @5m: extrapolated to the zero point = 125.000... */
    int64_t t2[] = {3 * MIN, 4 * MIN, 5 * MIN};
    double v2[] = {5, 65, 125};
    double x = inc(t2, v2, 3, 0, 5 * MIN, &def);
    assert_true(fabs(x - 125.00000000000001) < 1e-12);
    /* 0 _ _ _ 240 @4m = 240 */
    int64_t t3[] = {0, 4 * MIN};
    double v3[] = {0, 240};
    assert_true(fabs(inc(t3, v3, 2, 0, 4 * MIN, &def) - 240) < 1e-9);
    /* fewer than two samples: undefined, reported as 0 */
    assert_true(inc(t3, v3, 2, MIN, 5 * MIN, &def) == 0);
    assert_int_equal(def, 0);
    assert_true(inc(t3, v3, 0, 0, MIN, &def) == 0);
}

static void increase_rejects_bad_input(void **state)
{
    int64_t t[] = {0, 1000, 1000};
    double v[] = {1, 2, NAN};
    double out;
    int def;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_slo_increase(&out, &def, t, v, 3, 0, 5000, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "t_ms");
    int64_t t2[] = {0, 1000, 2000};
    assert_int_equal(eqops_slo_increase(&out, &def, t2, v, 3, 0, 5000, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "v");
    assert_int_equal(eqops_slo_increase(&out, &def, t2, v, 2, 5000, 0, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_slo_increase(NULL, &def, t2, v, 2, 0, 1, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
}

/* The sliding series must equal one eqops_slo_increase() per window. */
static void sliding_matches_direct(void **state)
{
    enum { N = 3000 };
    int64_t *t = malloc(N * sizeof(*t));
    double *bad = malloc(N * sizeof(double)), *tot = malloc(N * sizeof(double));
    double *out = malloc(N * sizeof(double));
    uint64_t seed = 42;
    double b = 0, n = 0;
    int64_t now = 1700000000000LL;
    for (int i = 0; i < N; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        now += 10000 + (int64_t)(seed >> 60) * 1000 + (i % 97 == 0 ? 400000 : 0); /* gaps */
        double step = (double)((seed >> 33) % 50);
        if (i % 501 == 500) { /* a counter reset of both */
            b = 0;
            n = 0;
        }
        if (i > 1000 && i < 1200)
            step = 0; /* no traffic */
        n += step;
        b += step * ((seed >> 20) % 7 == 0 ? 0.5 : 0.01);
        t[i] = now;
        bad[i] = floor(b);
        tot[i] = n;
    }
    eqops_slo_series s = {t, bad, NULL, tot, N};
    int64_t window = 30 * MIN;
    assert_int_equal(eqops_slo_error_ratio_series(out, N, &s, window, 1, NULL), 0);
    for (int i = 0; i < N; i++) {
        double ib, it;
        int db, dt;
        assert_int_equal(eqops_slo_increase(&ib, &db, t, bad, N, t[i] - window, t[i], NULL), 0);
        assert_int_equal(eqops_slo_increase(&it, &dt, t, tot, N, t[i] - window, t[i], NULL), 0);
        double want = dt ? eqops__slo_ratio(ib, it, 1) : 0;
        if (fabs(out[i] - want) > 1e-12 * (1 + fabs(want)))
            fail_msg("sample %d: sliding %.17g, direct %.17g", i, out[i], want);
        assert_true(isfinite(out[i]) && out[i] >= 0 && out[i] <= 1);
    }
    /* burn rates are ratios over the budget; good counters give the same as bad ones */
    double *burn = malloc(N * sizeof(double)), *good = malloc(N * sizeof(double));
    assert_int_equal(eqops_slo_burn_rate_series(burn, N, &s, window, 0.999, 1, NULL), 0);
    for (int i = 0; i < N; i++)
        assert_true(fabs(burn[i] - out[i] / (1 - 0.999)) < 1e-9 * (1 + burn[i]));
    free(burn);
    free(good);
    free(t);
    free(bad);
    free(tot);
    free(out);
}

static void low_traffic_and_no_data(void **state)
{
    /* one failure among three requests, min_events 100: ratio 1/100, not 1/3 */
    int64_t t[] = {0, MIN, 2 * MIN};
    double bad[] = {0, 1, 1}, tot[] = {0, 2, 3};
    eqops_slo_series s = {t, bad, NULL, tot, 3};
    double out[3];
    assert_int_equal(eqops_slo_error_ratio_series(out, 3, &s, 5 * MIN, 100, NULL), 0);
    assert_true(out[0] == 0);                 /* a single sample: no evidence */
    assert_true(fabs(out[2] - 0.01) < 1e-12); /* increase 1 of 3, floored at 100 events */
    /* flat counters: 0, never NaN */
    double flat[] = {5, 5, 5};
    eqops_slo_series q = {t, flat, NULL, flat, 3};
    assert_int_equal(eqops_slo_error_ratio_series(out, 3, &q, 5 * MIN, 0, NULL), 0);
    for (int i = 0; i < 3; i++)
        assert_true(out[i] == 0);
    /* bad > total is clamped */
    double more[] = {0, 10, 20}, less[] = {0, 5, 10};
    eqops_slo_series g = {t, more, NULL, less, 3};
    assert_int_equal(eqops_slo_error_ratio_series(out, 3, &g, 5 * MIN, 1, NULL), 0);
    assert_true(out[2] == 1);
}

static void series_arguments(void **state)
{
    int64_t t[] = {0, MIN};
    double v[] = {0, 1};
    double out[2];
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_slo_series both = {t, v, v, v, 2};
    assert_int_equal(eqops_slo_error_ratio_series(out, 2, &both, MIN, 1, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "exactly one of bad and good"));
    eqops_slo_series s = {t, v, NULL, v, 2};
    assert_int_equal(eqops_slo_error_ratio_series(out, 1, &s, MIN, 1, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "out");
    assert_int_equal(eqops_slo_error_ratio_series(out, 2, &s, 0, 1, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_slo_burn_rate_series(out, 2, &s, MIN, 1.0, 1, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "target");
    assert_int_equal(eqops_slo_burn_rate_series(out, 2, &s, MIN, 99.9, 1, &e), EQOPS_EINVAL);
    assert_non_null(strstr(e.message, "did you mean 0.999"));
    eqops_error_clear(&e);
}

static void period_budget_sums_steps(void **state)
{
    /* 1000 requests a minute, 1 in 1000 bad, for a day at 1m samples */
    enum { N = 24 * 60 + 1 };
    int64_t t[N];
    double bad[N], good[N], tot[N];
    for (int i = 0; i < N; i++) {
        t[i] = (int64_t)i * MIN;
        tot[i] = 1000.0 * i;
        bad[i] = 1.0 * i;
        good[i] = tot[i] - bad[i];
    }
    eqops_slo_series s = {t, bad, NULL, tot, N};
    eqops_slo_budget whole, stepped, viagood;
    assert_int_equal(
        eqops_slo_period_budget(&whole, &s, 0, (N - 1) * (int64_t)MIN, 0, 0.999, 1, NULL), 0);
    assert_true(fabs(whole.total - 1440000) < 1e-6);
    assert_true(fabs(whole.error_ratio - 0.001) < 1e-12);
    assert_true(fabs(whole.burn_rate - 1) < 1e-9);
    assert_true(fabs(whole.remaining) < 1e-9);
    assert_int_equal(
        eqops_slo_period_budget(&stepped, &s, 0, (N - 1) * (int64_t)MIN, 5 * MIN, 0.999, 1, NULL),
        0);
    /* each 5m step sees 6 samples over its closed range: exact for linear counters */
    assert_true(fabs(stepped.total - whole.total) < 1e-6);
    eqops_slo_series sg = {t, NULL, good, tot, N};
    assert_int_equal(
        eqops_slo_period_budget(&viagood, &sg, 0, (N - 1) * (int64_t)MIN, 0, 0.999, 1, NULL), 0);
    assert_true(fabs(viagood.bad - whole.bad) < 1e-6);
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_slo_period_budget(&whole, &s, 10, 5, 0, 0.999, 1, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_slo_period_budget(&whole, &s, 0, 10, -1, 0.999, 1, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
}

static void timeslices(void **state)
{
    /* 10 one-minute slices; slices 2 and 7 have 10% errors, slice 5 has no traffic */
    enum { N = 101 };
    int64_t t[N];
    double bad[N], tot[N];
    double b = 0, n = 0;
    for (int i = 0; i < N; i++) {
        int slice = (i - 1) / 10; /* sample i counts the events of (t[i-1], t[i]] */
        t[i] = (int64_t)i * 6000;
        if (i > 0 && slice != 5) {
            n += 100;
            b += (slice == 2 || slice == 7) ? 10 : 0;
        }
        bad[i] = b;
        tot[i] = n;
    }
    eqops_slo_series s = {t, bad, NULL, tot, N};
    eqops_slo_timeslices ts;
    assert_int_equal(eqops_slo_timeslice_budget(&ts, &s, 0, 10 * MIN, MIN, 0.95, 0.9, 0, NULL), 0);
    assert_int_equal(ts.slices, 10);
    assert_int_equal(ts.bad, 2);
    assert_int_equal(ts.good, 8);
    assert_int_equal(ts.no_data, 1);
    assert_true(fabs(ts.sli - 0.8) < 1e-12);
    assert_true(fabs(ts.allowed_bad - 1.0) < 1e-12);
    assert_true(fabs(ts.consumed - 2.0) < 1e-12);
    assert_true(fabs(ts.remaining + 1.0) < 1e-12);
    /* ratio mode: the mean slice success */
    assert_int_equal(eqops_slo_timeslice_budget(&ts, &s, 0, 10 * MIN, MIN, 0, 0.9, 1, NULL), 0);
    assert_true(ts.sli > 0.97 && ts.sli < 0.99);
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_slo_timeslice_budget(&ts, &s, 0, 10 * MIN, 0, 0.95, 0.9, 0, &e),
                     EQOPS_EINVAL);
    assert_string_equal(e.field, "slice_ms");
    eqops_error_clear(&e);
}

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/eqops-series-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void series_files(void **state)
{
    eqops_slo_series_data *d = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    char *p = write_tmp("timestamp,good,total\n1700000000,10,10\n2023-11-14T22:14:20Z, 19 ,20\n\n");
    assert_int_equal(eqops_slo_series_load(&d, p, &e), 0);
    const eqops_slo_series *s = eqops_slo_series_view(d);
    assert_int_equal(s->n, 2);
    assert_null(s->bad);
    assert_true(s->good[1] == 19 && s->total[1] == 20);
    assert_int_equal(s->t_ms[0], 1700000000000LL);
    assert_int_equal(s->t_ms[1], 1700000060000LL);
    eqops_slo_series_data_free(d);
    unlink(p);
    p = write_tmp("{\"timestamp\": [1, 2.5], \"bad\": [0, 1], \"total\": [5, 9]}");
    assert_int_equal(eqops_slo_series_load(&d, p, &e), 0);
    assert_int_equal(eqops_slo_series_view(d)->t_ms[1], 2500);
    eqops_slo_series_data_free(d);
    unlink(p);
    static const char *bad[] = {
        "timestamp,good\n1,2\n",
        "timestamp,good,total\n1,2\n",
        "timestamp,good,total\nx,2,3\n",
        "timestamp,good,total\n1,-2,3\n",
        "timestamp,good,total\n2,1,1\n1,1,1\n",
        "timestamp,good,total\n1,nan,3\n",
        "{\"timestamp\": [1], \"good\": [1, 2], \"total\": [1]}",
        "{\"timestamp\": [1], \"good\": [1], \"bad\": [1], \"total\": [1]}",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = write_tmp(bad[i]);
        assert_int_equal(eqops_slo_series_load(&d, p, &e), EQOPS_EINVAL);
        assert_null(d);
        assert_non_null(strstr(e.message, p));
        unlink(p);
    }
    assert_int_equal(eqops_slo_series_load(&d, "/nonexistent/series.csv", &e), EQOPS_ENOTFOUND);
    eqops_error_clear(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prometheus_vectors),
        cmocka_unit_test(increase_rejects_bad_input),
        cmocka_unit_test(sliding_matches_direct),
        cmocka_unit_test(low_traffic_and_no_data),
        cmocka_unit_test(series_arguments),
        cmocka_unit_test(period_budget_sums_steps),
        cmocka_unit_test(timeslices),
        cmocka_unit_test(series_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
