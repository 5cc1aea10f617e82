/*
 * math.c - error budgets, burn rates, exhaustion, alert windows and composite SLIs.
 */
#include "slo_internal.h"

#include <math.h>

int eqops__slo_check_target(double target, const char *field, eqops_error *err)
{
    if (!(target > 0 && target < 1)) {
        if (target >= 1 && target < 100)
            return eqops__err_field(err, EQOPS_EINVAL, field,
                                    "must be a fraction below 1 (0.999), not %g: did you mean %g?",
                                    target, target / 100);
        return eqops__err_field(err, EQOPS_EINVAL, field,
                                "must be between 0 and 1 exclusive, got %g", target);
    }
    return 0;
}

double eqops__slo_ratio(double bad, double total, double min_events)
{
    double floor_events = min_events > 0 ? min_events : 1;
    double denom = total > floor_events ? total : floor_events;
    if (total <= 0 && bad <= 0)
        return 0;
    double r = bad / denom;
    return r < 0 ? 0 : (r > 1 ? 1 : r);
}

int eqops_slo_budget_from_counts(eqops_slo_budget *out, double target, double bad, double total,
                                 double min_events, eqops_error *err)
{
    int rc;
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    if ((rc = eqops__slo_check_target(target, "target", err)) != 0)
        return rc;
    if (!(bad >= 0 && isfinite(bad)))
        return eqops__err_field(err, EQOPS_EINVAL, "bad", "must be a finite count >= 0");
    if (!(total >= 0 && isfinite(total)))
        return eqops__err_field(err, EQOPS_EINVAL, "total", "must be a finite count >= 0");
    if (bad > total)
        return eqops__err_field(err, EQOPS_EINVAL, "bad",
                                "%g bad events is more than the %g in total", bad, total);
    if (!(min_events >= 0 && isfinite(min_events)))
        return eqops__err_field(err, EQOPS_EINVAL, "min_events", "must be >= 0");
    eqops__slo_fill_budget(out, target, bad, total, min_events);
    return 0;
}

void eqops__slo_fill_budget(eqops_slo_budget *out, double target, double bad, double total,
                            double min_events)
{
    double budget = 1 - target;
    out->target = target;
    out->bad = bad;
    out->total = total;
    out->allowed_bad = budget * total;
    out->error_ratio = eqops__slo_ratio(bad, total, min_events);
    out->burn_rate = out->error_ratio / budget;
    /* consumed follows the same floor as the ratio, so no traffic means nothing spent */
    out->consumed = out->burn_rate;
    out->remaining = 1 - out->consumed;
}

int eqops_slo_time_to_exhaustion(int64_t *out_ms, int *exhausts, double remaining, double burn_rate,
                                 int64_t period_ms, eqops_error *err)
{
    if (out_ms == NULL || exhausts == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out_ms = 0;
    *exhausts = 0;
    if (!isfinite(remaining) || remaining > 1)
        return eqops__err_field(err, EQOPS_EINVAL, "remaining", "must be a fraction <= 1");
    if (!isfinite(burn_rate))
        return eqops__err_field(err, EQOPS_EINVAL, "burn_rate", "must be finite");
    if (period_ms <= 0)
        return eqops__err_field(err, EQOPS_EINVAL, "period_ms", "must be positive");
    if (remaining <= 0) {
        *exhausts = 1;
        return 0;
    }
    if (burn_rate <= 0)
        return 0;
    double ms = remaining * (double)period_ms / burn_rate;
    *out_ms = ms > 9.2e18 ? INT64_MAX : (int64_t)llround(ms);
    *exhausts = 1;
    return 0;
}

int eqops_slo_burn_factor(double *out, double budget_fraction, int64_t period_ms, int64_t long_ms,
                          eqops_error *err)
{
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    if (!(budget_fraction > 0 && budget_fraction <= 1))
        return eqops__err_field(err, EQOPS_EINVAL, "budget_fraction", "must be in (0, 1]");
    if (period_ms <= 0 || long_ms <= 0)
        return eqops__err_field(err, EQOPS_EINVAL, period_ms <= 0 ? "period_ms" : "long_ms",
                                "must be positive");
    *out = budget_fraction * (double)period_ms / (double)long_ms;
    return 0;
}

static int check_window(const eqops_slo_alert_window *w, eqops_error *err)
{
    if (w == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "window", "must not be NULL");
    if (w->long_ms <= 0 || w->short_ms <= 0)
        return eqops__err_field(err, EQOPS_EINVAL, w->long_ms <= 0 ? "long" : "short",
                                "must be a positive duration");
    if (w->short_ms > w->long_ms)
        return eqops__err_field(err, EQOPS_EINVAL, "short", "must not be longer than long");
    if (!(w->factor > 0 && isfinite(w->factor)))
        return eqops__err_field(err, EQOPS_EINVAL, "factor", "must be a positive number");
    if (w->for_ms < 0)
        return eqops__err_field(err, EQOPS_EINVAL, "for", "must not be negative");
    return 0;
}

static int64_t ms_of(double ms)
{
    return ms > 9.2e18 ? INT64_MAX : (int64_t)llround(ms);
}

int eqops_slo_alert_analyze(eqops_slo_alert_analysis *out, double target, int64_t period_ms,
                            const eqops_slo_alert_window *w, double error_ratio, eqops_error *err)
{
    int rc;
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    if ((rc = eqops__slo_check_target(target, "target", err)) != 0 ||
        (rc = check_window(w, err)) != 0)
        return rc;
    if (period_ms <= 0)
        return eqops__err_field(err, EQOPS_EINVAL, "period_ms", "must be positive");
    if (!(error_ratio >= 0 && error_ratio <= 1))
        return eqops__err_field(err, EQOPS_EINVAL, "error_ratio", "must be in [0, 1]");
    memset(out, 0, sizeof(*out));
    double threshold = w->factor * (1 - target);
    out->threshold = threshold;
    out->budget_consumed = w->factor * (double)w->long_ms / (double)period_ms;
    out->exhaustion_ms = ms_of((double)period_ms / w->factor);
    out->can_fire = threshold < 1;
    if (error_ratio > threshold && error_ratio > 0) {
        /* a window of length W holds ratio e*t/W after t of errors: it crosses at
         * threshold*W/e (the Workbook's (1-SLO)/e * W * factor); both windows must */
        double t_long = threshold * (double)w->long_ms / error_ratio;
        double t_short = threshold * (double)w->short_ms / error_ratio;
        out->fires = 1;
        out->detection_ms = ms_of((t_long > t_short ? t_long : t_short)) + w->for_ms;
        /* after the errors stop a full window holds e*(W-t)/W: below the threshold after
         * W*(1 - threshold/e); the first window to drop ends the alert */
        double r_long = (double)w->long_ms * (1 - threshold / error_ratio);
        double r_short = (double)w->short_ms * (1 - threshold / error_ratio);
        out->reset_ms = ms_of(r_long < r_short ? r_long : r_short);
    }
    return 0;
}

int eqops_slo_window_fires(int *out_fires, double target, const eqops_slo_alert_window *w,
                           double long_ratio, double short_ratio, eqops_error *err)
{
    int rc;
    if (out_fires == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out_fires", "must not be NULL");
    *out_fires = 0;
    if ((rc = eqops__slo_check_target(target, "target", err)) != 0 ||
        (rc = check_window(w, err)) != 0)
        return rc;
    if (!isfinite(long_ratio) || !isfinite(short_ratio))
        return eqops__err_field(err, EQOPS_EINVAL, "ratio", "must be finite");
    double threshold = w->factor * (1 - target);
    *out_fires = long_ratio > threshold && short_ratio > threshold;
    return 0;
}

/* Budget fractions and long windows of the default tables (hours), page rows first. */
struct table_row {
    double budget;
    int64_t long_h, short_min, for_min;
    int severity;
};

#define H(x) ((int64_t)(x)*3600000)
#define M(x) ((int64_t)(x)*60000)

static const struct table_row workbook[] = {
    {0.02, 1, 5, 2, 0},
    {0.05, 6, 30, 15, 0},
    {0.10, 24, 120, 60, 1},
    {0.10, 72, 360, 180, 1},
};
static const struct table_row week[] = {
    {0.08, 1, 5, 2, 0},
    {0.125, 6, 30, 15, 0},
    {0.20, 24, 120, 60, 1},
    {0.42, 72, 360, 180, 1},
};

int eqops_slo_default_windows(eqops_slo_alert_window *out, size_t cap, size_t *n, int64_t period_ms,
                              int severity, eqops_error *err)
{
    if (n == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "n", "must not be NULL");
    *n = 0;
    if (period_ms <= 0)
        return eqops__err_field(err, EQOPS_EINVAL, "period_ms", "must be positive");
    if (severity != 0 && severity != 1)
        return eqops__err_field(err, EQOPS_EINVAL, "severity", "must be 0 (page) or 1 (ticket)");
    /* 7 days has its own table; everything else scales the Workbook's budget fractions, which
     * gives 14.4/6/3/1 at 30 days and 13.44/5.6/2.8/0.933 at 28 days */
    const struct table_row *rows = period_ms == H(7 * 24) ? week : workbook;
    for (size_t i = 0; i < 4; i++) {
        if (rows[i].severity != severity)
            continue;
        int64_t long_ms = H(rows[i].long_h);
        if (long_ms >= period_ms) /* a window as long as the period cannot alert early */
            continue;
        if (*n < cap && out != NULL) {
            out[*n].long_ms = long_ms;
            out[*n].short_ms = M(rows[i].short_min);
            out[*n].factor = rows[i].budget * (double)period_ms / (double)long_ms;
            out[*n].for_ms = M(rows[i].for_min);
        }
        (*n)++;
    }
    if (*n > cap && out != NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "cap", "room for %zu windows, %zu needed", cap,
                                *n);
    return 0;
}

int eqops_slo_composite(double *out, const double *slis, const double *weights, const int *has_data,
                        size_t n, eqops_slo_nodata policy, eqops_error *err)
{
    if (out == NULL || (n > 0 && (slis == NULL || weights == NULL)))
        return eqops__err_field(err, EQOPS_EINVAL, "out", "arrays must not be NULL");
    if (policy != EQOPS_SLO_NODATA_IGNORE && policy != EQOPS_SLO_NODATA_GOOD &&
        policy != EQOPS_SLO_NODATA_BAD)
        return eqops__err_field(err, EQOPS_EINVAL, "policy", "unknown no-data policy %d",
                                (int)policy);
    double sum = 0, wsum = 0, all_w = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(weights[i] >= 0 && isfinite(weights[i])))
            return eqops__err_field(err, EQOPS_EINVAL, "weights", "weight %zu must be >= 0", i);
        all_w += weights[i];
        bool data = has_data == NULL || has_data[i];
        double v;
        if (data) {
            if (!(slis[i] >= 0 && slis[i] <= 1))
                return eqops__err_field(err, EQOPS_EINVAL, "slis", "SLI %zu must be in [0, 1]", i);
            v = slis[i];
        } else if (policy == EQOPS_SLO_NODATA_IGNORE) {
            continue;
        } else {
            v = policy == EQOPS_SLO_NODATA_GOOD ? 1 : 0;
        }
        sum += weights[i] * v;
        wsum += weights[i];
    }
    if (n == 0 || all_w <= 0)
        return eqops__err_field(err, EQOPS_EINVAL, "weights", "need at least one weight > 0");
    *out = wsum > 0 ? sum / wsum : 1;
    return 0;
}
