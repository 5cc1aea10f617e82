/*
 * series.c - counter series math as Prometheus 2.x computes it: increase() with counter
 * resets and extrapolation, sliding windows in O(n), period and time-slice budgets.
 */
#include "slo_internal.h"

#include <math.h>
#include <string.h>

int eqops__slo_check_series(const eqops_slo_series *s, eqops_error *err)
{
    if (s == NULL || (s->n > 0 && (s->t_ms == NULL || s->total == NULL)))
        return eqops__err_field(err, EQOPS_EINVAL, "series", "timestamps and total are required");
    if (s->n > 0 && (s->bad == NULL) == (s->good == NULL))
        return eqops__err_field(err, EQOPS_EINVAL, "series", "give exactly one of bad and good");
    for (size_t i = 0; i < s->n; i++) {
        if (i > 0 && s->t_ms[i] <= s->t_ms[i - 1])
            return eqops__err_field(err, EQOPS_EINVAL, "series.t_ms",
                                    "timestamps must increase strictly (index %zu)", i);
        double b = s->bad ? s->bad[i] : s->good[i];
        if (!isfinite(b) || !isfinite(s->total[i]))
            return eqops__err_field(err, EQOPS_EINVAL,
                                    !isfinite(s->total[i]) ? "series.total"
                                    : s->bad               ? "series.bad"
                                                           : "series.good",
                                    "value %zu is not a finite number", i);
    }
    return 0;
}

/* First index with t >= x (n when none). */
static size_t lower_bound(const int64_t *t, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * Prometheus' extrapolatedRate() for a counter whose samples a..b (inclusive, b > a) fall in
 * [start, end]; `resets` is the sum of the values before each drop within a..b.
 */
static double extrapolate(const int64_t *t, const double *v, size_t a, size_t b, double resets,
                          int64_t start, int64_t end)
{
    double result = v[b] - v[a] + resets;
    double to_start = (double)(t[a] - start) / 1000;
    double to_end = (double)(end - t[b]) / 1000;
    double sampled = (double)(t[b] - t[a]) / 1000;
    double avg = sampled / (double)(b - a);
    if (result > 0 && v[a] >= 0) {
        /* counters cannot go below zero: do not extrapolate past the zero point */
        double to_zero = sampled * (v[a] / result);
        if (to_zero < to_start)
            to_start = to_zero;
    }
    double threshold = avg * 1.1;
    double interval = sampled;
    interval += to_start < threshold ? to_start : avg / 2;
    interval += to_end < threshold ? to_end : avg / 2;
    return result * (interval / sampled);
}

static double resets_between(const double *v, size_t a, size_t b)
{
    double r = 0;
    for (size_t k = a + 1; k <= b; k++)
        if (v[k] < v[k - 1])
            r += v[k - 1];
    return r;
}

/* increase() over [start, end]; false when fewer than two samples fall in it. */
bool eqops__slo_increase(double *out, const int64_t *t, const double *v, size_t n, int64_t start,
                         int64_t end)
{
    size_t a = lower_bound(t, n, start);
    size_t b1 = lower_bound(t, n, end + 1); /* one past the last sample <= end */
    if (b1 < a + 2) {
        *out = 0;
        return false;
    }
    size_t b = b1 - 1;
    *out = extrapolate(t, v, a, b, resets_between(v, a, b), start, end);
    return true;
}

int eqops_slo_increase(double *out, int *defined, const int64_t *t_ms, const double *v, size_t n,
                       int64_t start_ms, int64_t end_ms, eqops_error *err)
{
    if (out == NULL || defined == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out = 0;
    *defined = 0;
    if (n > 0 && (t_ms == NULL || v == NULL))
        return eqops__err_field(err, EQOPS_EINVAL, "t_ms", "arrays must not be NULL");
    if (end_ms < start_ms)
        return eqops__err_field(err, EQOPS_EINVAL, "end_ms", "must not be before start_ms");
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && t_ms[i] <= t_ms[i - 1])
            return eqops__err_field(err, EQOPS_EINVAL, "t_ms",
                                    "timestamps must increase strictly (index %zu)", i);
        if (!isfinite(v[i]))
            return eqops__err_field(err, EQOPS_EINVAL, "v", "value %zu is not finite", i);
    }
    *defined = eqops__slo_increase(out, t_ms, v, n, start_ms, end_ms);
    return 0;
}

/* Sum of reset corrections inside a sliding window, kept exact: it drops back to exactly 0
 * whenever no reset is left in the window, so rounding cannot accumulate. */
struct reset_window {
    double sum;
    size_t count;
};

static void reset_drop(struct reset_window *r, const double *v, size_t k)
{
    if (k > 0 && v[k] < v[k - 1]) {
        r->count--;
        r->sum = r->count ? r->sum - v[k - 1] : 0;
    }
}

/*
 * The sliding-window error ratio of every sample, in one pass that also validates the input
 * (timestamps strictly increasing, values finite). Prometheus' extrapolation without
 * divisions in the common case: the window ends at its last sample, so only the start is
 * extrapolated; `to_start < 1.1 * avg` is compared multiplied out; the zero-point cap is
 * only computed when it applies; and when both counters extrapolate alike the factor
 * cancels out of the ratio. On an error `out` holds the values computed so far.
 */
int eqops__slo_ratio_series(double *out, const eqops_slo_series *s, int64_t window_ms,
                            double min_events, double scale, eqops_error *err)
{
    const int64_t *t = s->t_ms;
    const double *cnt = s->bad ? s->bad : s->good;
    const double *tot = s->total;
    const bool counts_bad = s->bad != NULL;
    const double floor_events = min_events > 0 ? min_events : 1;
    struct reset_window rc = {0, 0}, rt = {0, 0};
    size_t a = 0;
    for (size_t i = 0; i < s->n; i++) {
        const int64_t ti = t[i];
        const double ci = cnt[i], vi = tot[i];
        if (!isfinite((ci - ci) + (vi - vi))) /* NaN unless both are finite */
            return eqops__err_field(err, EQOPS_EINVAL,
                                    isfinite(vi) ? "series.counted" : "series.total",
                                    "value %zu is not a finite number", i);
        if (i > 0) {
            if (ti <= t[i - 1])
                return eqops__err_field(err, EQOPS_EINVAL, "series.t_ms",
                                        "timestamps must increase strictly (index %zu)", i);
            if (ci < cnt[i - 1]) {
                rc.sum += cnt[i - 1];
                rc.count++;
            }
            if (vi < tot[i - 1]) {
                rt.sum += tot[i - 1];
                rt.count++;
            }
        }
        const int64_t start = ti - window_ms;
        while (t[a] < start) {
            /* the reset between a and a+1 leaves the window with sample a (resets are rare:
             * look only while the window holds one) */
            if (rc.count | rt.count) {
                reset_drop(&rc, cnt, a + 1);
                reset_drop(&rt, tot, a + 1);
            }
            a++;
        }
        if (i == a) {
            out[i] = 0; /* one sample: no evidence */
            continue;
        }
        const double sampled = (double)(ti - t[a]);
        const double to_start = (double)(t[a] - start);
        const double k = (double)(i - a);
        const double r_t = vi - tot[a] + rt.sum;
        const double r_c = ci - cnt[a] + rc.sum;
        const double ext = to_start * k < 1.1 * sampled ? to_start : sampled / (2 * k);
        /* counters cannot go below zero: is either capped at its zero point? */
        const bool cap_t = r_t > 0 && tot[a] >= 0 && sampled * tot[a] < to_start * r_t;
        const bool cap_c = r_c > 0 && cnt[a] >= 0 && sampled * cnt[a] < to_start * r_c;
        double ratio;
        if (!cap_t && !cap_c && r_t > 0 && r_t * (sampled + ext) >= floor_events * sampled) {
            ratio = counts_bad ? r_c / r_t : 1 - r_c / r_t;
            ratio = ratio < 0 ? 0 : (ratio > 1 ? 1 : ratio);
        } else {
            double inc_t = extrapolate(t, tot, a, i, rt.sum, start, ti);
            double inc_c = extrapolate(t, cnt, a, i, rc.sum, start, ti);
            ratio = eqops__slo_ratio(counts_bad ? inc_c : inc_t - inc_c, inc_t, min_events);
        }
        out[i] = ratio * scale;
    }
    return 0;
}

static int check_window_args(double *out, size_t out_len, const eqops_slo_series *s,
                             int64_t window_ms, double min_events, eqops_error *err)
{
    /* the values themselves are checked in the pass that computes the ratios */
    if (s == NULL || (s->n > 0 && (s->t_ms == NULL || s->total == NULL)))
        return eqops__err_field(err, EQOPS_EINVAL, "series", "timestamps and total are required");
    if (s->n > 0 && (s->bad == NULL) == (s->good == NULL))
        return eqops__err_field(err, EQOPS_EINVAL, "series", "give exactly one of bad and good");
    if (out == NULL && s->n > 0)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    if (out_len < s->n)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "room for %zu values, %zu needed",
                                out_len, s->n);
    if (window_ms <= 0)
        return eqops__err_field(err, EQOPS_EINVAL, "window_ms", "must be positive");
    if (!(min_events >= 0 && isfinite(min_events)))
        return eqops__err_field(err, EQOPS_EINVAL, "min_events", "must be >= 0");
    return 0;
}

int eqops_slo_error_ratio_series(double *out, size_t out_len, const eqops_slo_series *s,
                                 int64_t window_ms, double min_events, eqops_error *err)
{
    int rc = check_window_args(out, out_len, s, window_ms, min_events, err);
    if (rc != 0)
        return rc;
    return eqops__slo_ratio_series(out, s, window_ms, min_events, 1.0, err);
}

int eqops_slo_burn_rate_series(double *out, size_t out_len, const eqops_slo_series *s,
                               int64_t window_ms, double target, double min_events,
                               eqops_error *err)
{
    int rc = check_window_args(out, out_len, s, window_ms, min_events, err);
    if (rc == 0)
        rc = eqops__slo_check_target(target, "target", err);
    if (rc != 0)
        return rc;
    return eqops__slo_ratio_series(out, s, window_ms, min_events, 1.0 / (1 - target), err);
}

bool eqops__slo_window_counts(const eqops_slo_series *s, int64_t start, int64_t end, double *bad,
                              double *total)
{
    double inc_t, inc_c;
    const double *cnt = s->bad ? s->bad : s->good;
    bool defined = eqops__slo_increase(&inc_t, s->t_ms, s->total, s->n, start, end);
    eqops__slo_increase(&inc_c, s->t_ms, cnt, s->n, start, end);
    double b = s->bad ? inc_c : inc_t - inc_c;
    *bad = b < 0 ? 0 : b;
    *total = inc_t < 0 ? 0 : inc_t;
    return defined;
}

int eqops_slo_period_budget(eqops_slo_budget *out, const eqops_slo_series *s, int64_t start_ms,
                            int64_t end_ms, int64_t step_ms, double target, double min_events,
                            eqops_error *err)
{
    int rc;
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    if ((rc = eqops__slo_check_series(s, err)) != 0 ||
        (rc = eqops__slo_check_target(target, "target", err)))
        return rc;
    if (end_ms <= start_ms)
        return eqops__err_field(err, EQOPS_EINVAL, "end_ms", "must be after start_ms");
    if (step_ms < 0)
        return eqops__err_field(err, EQOPS_EINVAL, "step_ms", "must not be negative");
    if (!(min_events >= 0 && isfinite(min_events)))
        return eqops__err_field(err, EQOPS_EINVAL, "min_events", "must be >= 0");
    double bad = 0, total = 0;
    if (step_ms == 0 || step_ms >= end_ms - start_ms) {
        eqops__slo_window_counts(s, start_ms, end_ms, &bad, &total);
    } else {
        if ((end_ms - start_ms) / step_ms > 100000000)
            return eqops__err_field(err, EQOPS_EINVAL, "step_ms", "too many steps in the period");
        /* steps [end - (k+1) step, end - k step]; empty ones are skipped, so the work follows
         * the samples, not the length of the period */
        int64_t steps = (end_ms - start_ms) / step_ms;
        for (int64_t k = 0; k < steps;) {
            int64_t e = end_ms - k * step_ms, b0 = e - step_ms;
            size_t lo = lower_bound(s->t_ms, s->n, b0), hi = lower_bound(s->t_ms, s->n, e + 1);
            if (hi >= lo + 2) {
                double b, t;
                eqops__slo_window_counts(s, b0, e, &b, &t);
                bad += b;
                total += t;
                k++;
                continue;
            }
            if (lo == 0) /* no sample before this step: nothing more to count */
                break;
            /* jump to the step holding the last sample before this one */
            int64_t next = (end_ms - s->t_ms[lo - 1]) / step_ms - 1;
            k = next > k ? next : k + 1;
        }
    }
    if (bad > total)
        bad = total;
    eqops__slo_fill_budget(out, target, bad, total, min_events);
    return 0;
}

int eqops_slo_timeslice_budget(eqops_slo_timeslices *out, const eqops_slo_series *s,
                               int64_t start_ms, int64_t end_ms, int64_t slice_ms,
                               double slice_target, double target, int ratio_mode, eqops_error *err)
{
    int rc;
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    if ((rc = eqops__slo_check_series(s, err)) != 0 ||
        (rc = eqops__slo_check_target(target, "target", err)))
        return rc;
    if (!ratio_mode && (rc = eqops__slo_check_target(slice_target, "slice_target", err)) != 0)
        return rc;
    if (slice_ms <= 0 || end_ms <= start_ms)
        return eqops__err_field(err, EQOPS_EINVAL, slice_ms <= 0 ? "slice_ms" : "end_ms",
                                slice_ms <= 0 ? "must be positive" : "must be after start_ms");
    if ((end_ms - start_ms) / slice_ms > 10000000)
        return eqops__err_field(err, EQOPS_EINVAL, "slice_ms",
                                "more than ten million slices in the period");
    memset(out, 0, sizeof(*out));
    double success_sum = 0;
    for (int64_t a = start_ms; a < end_ms; a += slice_ms) {
        int64_t b = a + slice_ms < end_ms ? a + slice_ms : end_ms;
        double bad, total;
        eqops__slo_window_counts(s, a, b, &bad, &total);
        out->slices++;
        if (total <= 0) {
            out->no_data++;
            out->good++;
            success_sum += 1;
            continue;
        }
        double success = 1 - eqops__slo_ratio(bad, total, 0);
        success_sum += success;
        if (success >= slice_target)
            out->good++;
        else
            out->bad++;
    }
    double budget = 1 - target;
    out->allowed_bad = budget * (double)out->slices;
    if (ratio_mode) {
        out->sli = success_sum / (double)out->slices;
        out->consumed = (1 - out->sli) / budget;
    } else {
        out->sli = (double)out->good / (double)out->slices;
        out->consumed = (double)out->bad / out->allowed_bad;
    }
    out->remaining = 1 - out->consumed;
    return 0;
}
