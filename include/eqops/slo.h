/*
 * eqops/slo.h - SLOs: error budgets, burn rates, multi-window multi-burn-rate alerts, series
 * math on counters exactly as Prometheus computes it, and Prometheus rule generation.
 *
 * Conventions of this module:
 *   - Targets are fractions in C (0.999); specs and the eqops tool write percentages (99.9).
 *   - Durations and timestamps are integer milliseconds (timestamps since the Unix epoch),
 *     like Prometheus' own storage, so window arithmetic is exact.
 *   - No output is ever NaN or infinite. Where a quantity is undefined (no traffic, no burn)
 *     the function says so through a flag or a documented value.
 *
 * No-data and low-traffic rule (series and rules alike): the error ratio of a window is
 * bad / max(total, min_events), with min_events 1 unless set, and 0 when the window holds
 * fewer than two samples. So a window without traffic has an error ratio of 0 (nothing was
 * bad) and a trickle of requests cannot page on a single failure when min_events is raised.
 * Ratios are clamped to [0, 1] (counter glitches can make bad exceed total).
 */
#ifndef EQOPS_SLO_H
#define EQOPS_SLO_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- error budgets --------------------------------------------------------------------- */

/* The budget of one window or period. All fields are finite. */
typedef struct eqops_slo_budget {
    double target;      /* the objective as a fraction, 0.999 */
    double bad;         /* bad events counted */
    double total;       /* all events counted */
    double allowed_bad; /* (1 - target) * total: the error budget in events */
    double error_ratio; /* bad / max(total, min_events), see the no-data rule */
    double burn_rate;   /* error_ratio / (1 - target) */
    double consumed;    /* fraction of the budget used: bad / allowed_bad (may exceed 1) */
    double remaining;   /* 1 - consumed (negative when overspent; 1 without traffic) */
} eqops_slo_budget;

/*
 * Budget from event counts. `min_events` as in the no-data rule (0 means 1).
 * Returns 0 or EQOPS_EINVAL (target outside (0, 1), negative or non-finite counts, bad >
 * total).
 */
EQOPS_API int eqops_slo_budget_from_counts(eqops_slo_budget *out, double target, double bad,
                                           double total, double min_events, eqops_error *err);

/*
 * Time until the remaining budget is gone when burning at `burn_rate`, for a budget
 * `remaining` (fraction, 1 = full) of a period of `period_ms`: remaining * period / burn.
 * `*exhausts` is 0 (and `*out_ms` 0) when it never runs out (burn_rate <= 0) or 1; with a
 * budget already spent it is 1 and `*out_ms` 0. Returns 0 or EQOPS_EINVAL.
 */
EQOPS_API int eqops_slo_time_to_exhaustion(int64_t *out_ms, int *exhausts, double remaining,
                                           double burn_rate, int64_t period_ms, eqops_error *err);

/*
 * Burn factor of an alert window that fires when `budget_fraction` of the period's budget is
 * spent within `long_ms`: budget_fraction * period / long (the SRE Workbook's 2% of 30 days
 * in 1 hour = 14.4). Returns 0 or EQOPS_EINVAL.
 */
EQOPS_API int eqops_slo_burn_factor(double *out, double budget_fraction, int64_t period_ms,
                                    int64_t long_ms, eqops_error *err);

/* One window pair of a multi-window, multi-burn-rate alert. */
typedef struct eqops_slo_alert_window {
    int64_t long_ms;  /* the long window (1h) */
    int64_t short_ms; /* the short window (5m; long/12 by convention) */
    double factor;    /* burn rate that fires (14.4) */
    int64_t for_ms;   /* how long the condition must hold before the alert fires */
} eqops_slo_alert_window;

/* What an alert window means for an SLO, per the SRE Workbook's formulas. */
typedef struct eqops_slo_alert_analysis {
    double threshold;       /* error ratio that fires: factor * (1 - target) */
    double budget_consumed; /* budget fraction spent when it fires: factor * long / period */
    int64_t exhaustion_ms;  /* a full budget lasts this long at the factor: period / factor */
    int fires;              /* 1 when `error_ratio` exceeds the threshold, else 0 */
    int64_t detection_ms;   /* at `error_ratio` from a clean start: until both windows
                               cross the threshold, plus `for` (0 when it never fires) */
    int64_t reset_ms;       /* after `error_ratio` stops, with both windows full of it:
                               until the first window drops below the threshold */
    int can_fire;           /* 0 when even a full outage stays below: threshold >= 1 */
} eqops_slo_alert_analysis;

/*
 * Analyse an alert window for an SLO of `target` over `period_ms`, with an error ratio
 * `error_ratio` in [0, 1] as the scenario (1 = full outage). Returns 0 or EQOPS_EINVAL.
 */
EQOPS_API int eqops_slo_alert_analyze(eqops_slo_alert_analysis *out, double target,
                                      int64_t period_ms, const eqops_slo_alert_window *window,
                                      double error_ratio, eqops_error *err);

/*
 * Multi-window evaluation: 1 in `*out_fires` when the long and the short window error ratios
 * both exceed factor * (1 - target). Returns 0 or EQOPS_EINVAL.
 */
EQOPS_API int eqops_slo_window_fires(int *out_fires, double target,
                                     const eqops_slo_alert_window *window, double long_ratio,
                                     double short_ratio, eqops_error *err);

/*
 * The default alert windows for a period, as (budget fraction, long, short, for) rows: the
 * SRE Workbook table for 30 days (2% in 1h, 5% in 6h: page; 10% in 1d, 10% in 3d: ticket),
 * the matching 28-day table, and a 7-day table (8% in 1h, 12.5% in 6h, 20% in 1d, 42% in 3d);
 * other periods scale the 30-day budget fractions. `severity` 0 = page, 1 = ticket.
 * Writes up to `cap` windows into `out` and their count into `*n`. Returns 0 or EQOPS_EINVAL.
 */
EQOPS_API int eqops_slo_default_windows(eqops_slo_alert_window *out, size_t cap, size_t *n,
                                        int64_t period_ms, int severity, eqops_error *err);

/*
 * Composite SLI: the weighted mean of component SLIs. No-data policy per component, given in
 * `has_data` (1 = data, 0 = none): EQOPS_SLO_NODATA_IGNORE drops it and renormalises the
 * weights, _GOOD counts it as 1, _BAD as 0. `*out` is 1 when no component has data under
 * _IGNORE. Returns 0 or EQOPS_EINVAL (negative weight, all weights zero, SLI outside [0,1]).
 */
typedef enum eqops_slo_nodata {
    EQOPS_SLO_NODATA_IGNORE = 0,
    EQOPS_SLO_NODATA_GOOD = 1,
    EQOPS_SLO_NODATA_BAD = 2
} eqops_slo_nodata;

EQOPS_API int eqops_slo_composite(double *out, const double *slis, const double *weights,
                                  const int *has_data, size_t n, eqops_slo_nodata policy,
                                  eqops_error *err);

/* ---- series math --------------------------------------------------------------------------
 *
 * A series is counter samples: timestamps (ms, strictly increasing) and the cumulative
 * counts of bad (or good) events and of all events at those instants. Counters may reset.
 */
typedef struct eqops_slo_series {
    const int64_t *t_ms; /* n timestamps, strictly increasing */
    const double *bad;   /* bad-events counter, or NULL when `good` is given */
    const double *good;  /* good-events counter, or NULL when `bad` is given */
    const double *total; /* all-events counter */
    size_t n;
} eqops_slo_series;

/*
 * The increase of one counter over the range [start_ms, end_ms] exactly as Prometheus 2.x
 * evaluates increase(): samples inside the closed range, counter resets added back,
 * extrapolation to the range edges (at most half an interval past the samples, never below
 * the counter's zero point). `*defined` is 0 and `*out` 0 when the range holds fewer than
 * two samples (Prometheus returns nothing). Returns 0 or EQOPS_EINVAL.
 */
EQOPS_API int eqops_slo_increase(double *out, int *defined, const int64_t *t_ms, const double *v,
                                 size_t n, int64_t start_ms, int64_t end_ms, eqops_error *err);

/*
 * Sliding windows, O(n): for each sample i, the window (t[i] - window_ms, t[i]] closed as
 * Prometheus evaluates a range ending at t[i] ([t[i] - window, t[i]]). Error ratios follow
 * the no-data rule; burn rates are ratio / (1 - target). `out` has room for s->n values.
 * Returns 0 or EQOPS_EINVAL.
 */
EQOPS_API int eqops_slo_error_ratio_series(double *out, size_t out_len, const eqops_slo_series *s,
                                           int64_t window_ms, double min_events, eqops_error *err);
EQOPS_API int eqops_slo_burn_rate_series(double *out, size_t out_len, const eqops_slo_series *s,
                                         int64_t window_ms, double target, double min_events,
                                         eqops_error *err);

/*
 * The budget of [start_ms, end_ms]. With step_ms 0 the increases are taken over the whole
 * range at once; with a step they are summed over consecutive steps ending at end_ms, as the
 * generated recording rules do. Returns 0 or EQOPS_EINVAL.
 */
EQOPS_API int eqops_slo_period_budget(eqops_slo_budget *out, const eqops_slo_series *s,
                                      int64_t start_ms, int64_t end_ms, int64_t step_ms,
                                      double target, double min_events, eqops_error *err);

/* Time-slice budgeting: the period cut into slices, each good or bad. */
typedef struct eqops_slo_timeslices {
    size_t slices;      /* slices in the period */
    size_t good;        /* slices whose error ratio met the slice target */
    size_t bad;         /* slices that missed it */
    size_t no_data;     /* slices without traffic (counted good: nothing failed) */
    double sli;         /* timeslices: good / slices; ratio-timeslices: mean slice success */
    double allowed_bad; /* (1 - target) * slices */
    double consumed;    /* bad / allowed_bad (ratio mode: (1 - sli) / (1 - target)) */
    double remaining;   /* 1 - consumed */
} eqops_slo_timeslices;

/*
 * Slice [start_ms, end_ms) into slice_ms pieces. A slice is good when its success ratio is at
 * least `slice_target`; with `ratio_mode` 1 (OpenSLO RatioTimeslices) the SLI is the mean of
 * the slices' success ratios instead. Returns 0 or EQOPS_EINVAL.
 */
EQOPS_API int eqops_slo_timeslice_budget(eqops_slo_timeslices *out, const eqops_slo_series *s,
                                         int64_t start_ms, int64_t end_ms, int64_t slice_ms,
                                         double slice_target, double target, int ratio_mode,
                                         eqops_error *err);

/* ---- calendar ---------------------------------------------------------------------------- */

/*
 * The calendar period ("week" from Monday, "month", "quarter") in an IANA time zone
 * ("Europe/Berlin"; NULL = UTC) that contains `at_ms`, as [*start_ms, *end_ms).
 * Returns 0, EQOPS_EINVAL or EQOPS_ENOTFOUND (unknown zone).
 */
EQOPS_API int eqops_slo_calendar_period(int64_t *start_ms, int64_t *end_ms, const char *unit,
                                        const char *timezone, int64_t at_ms, eqops_error *err);

/* ---- specs ---------------------------------------------------------------------------------
 *
 * A spec document describes a service and its SLOs (see docs in README, "SLO specs"). It is
 * read from JSON or from OpenSLO v1 YAML, validated, and then used to generate Prometheus
 * rules and reports.
 */
typedef struct eqops_slo_set eqops_slo_set;

typedef enum eqops_slo_format {
    EQOPS_SLO_FORMAT_AUTO = 0, /* JSON when the text starts with '{', else YAML */
    EQOPS_SLO_FORMAT_JSON = 1, /* the eqops spec in JSON */
    EQOPS_SLO_FORMAT_YAML = 2, /* the eqops spec in YAML, or OpenSLO v1 documents */
} eqops_slo_format;

/* Parse and validate a spec. `*out` is new (eqops_slo_set_free). Returns 0, EQOPS_EINVAL (the
 * message names the field and the rule), EQOPS_ETOOBIG or EQOPS_ENOMEM. */
EQOPS_API int eqops_slo_set_parse(eqops_slo_set **out, const char *text, size_t len,
                                  eqops_slo_format format, eqops_error *err);

/* Read and parse a spec file (format from the extension: .json, .yaml/.yml). */
EQOPS_API int eqops_slo_set_load(eqops_slo_set **out, const char *path, eqops_error *err);

EQOPS_API void eqops_slo_set_free(eqops_slo_set *set);

/* Number of SLO objectives in the set (an SLO with two objectives counts twice). */
EQOPS_API size_t eqops_slo_set_count(const eqops_slo_set *set);

/* The normalised spec with every default filled in, as JSON. `*out` is new: eqops_free(). */
EQOPS_API int eqops_slo_set_to_json(char **out, const eqops_slo_set *set, eqops_error *err);

/* Facts about objective `i` (0-based): borrowed strings; NULL / 0 when i is out of range. */
EQOPS_API const char *eqops_slo_set_id(const eqops_slo_set *set, size_t i);
EQOPS_API double eqops_slo_set_target(const eqops_slo_set *set, size_t i);
EQOPS_API int64_t eqops_slo_set_period_ms(const eqops_slo_set *set, size_t i);

/* ---- Prometheus rules -------------------------------------------------------------------- */

typedef enum eqops_slo_naming {
    EQOPS_SLO_NAMING_EQOPS = 0, /* eqops_slo:* series, fewest recorded series */
    EQOPS_SLO_NAMING_SLOTH = 1  /* also Sloth's slo:* names and sloth_* labels */
} eqops_slo_naming;

typedef struct eqops_slo_rules_options {
    unsigned version;        /* EQOPS_SLO_RULES_OPTIONS_VERSION */
    eqops_slo_naming naming; /* default EQOPS */
    int64_t interval_ms;     /* evaluation interval of the alert groups; default 1m */
    int64_t step_ms;         /* interval of the increase recordings; default 5m */
    const char *rules_file;  /* name of the rules file, for the test file's rule_files */
} eqops_slo_rules_options;

#define EQOPS_SLO_RULES_OPTIONS_VERSION 1
#define EQOPS_SLO_RULES_OPTIONS_INIT                                                               \
    {                                                                                              \
        EQOPS_SLO_RULES_OPTIONS_VERSION, EQOPS_SLO_NAMING_EQOPS, 0, 0, NULL                        \
    }
/* Zero `opts` and set its version (EQOPS_SLO_RULES_OPTIONS_VERSION or an older one the
 * caller was written for): 0, or EQOPS_EINVAL (opts NULL, version 0 or newer than this
 * library). */
EQOPS_API int eqops_slo_rules_options_init(eqops_slo_rules_options *opts, unsigned version);

/* Prometheus rule file (YAML) for every SLO of the set. `*out` is new: eqops_free(). The
 * spec's alert labels and annotations are static text: Prometheus expands them as Go
 * templates, so each "{{" in them is written as {{ "{{" }} and renders as written. Returns 0,
 * EQOPS_EINVAL (options) or EQOPS_ENOMEM. */
EQOPS_API int eqops_slo_rules(char **out, const eqops_slo_set *set,
                              const eqops_slo_rules_options *opts, eqops_error *err);

/*
 * A `promtool test rules` file for those rules: for each objective the page and ticket
 * alerts fire just above their burn thresholds, stay silent just below, a quiet service
 * keeps its full budget, and a missing metric raises the absent alert. Returns 0,
 * EQOPS_EINVAL (input series cannot be derived from a query: set sli.test), EQOPS_ENOMEM.
 */
EQOPS_API int eqops_slo_rules_test(char **out, const eqops_slo_set *set,
                                   const eqops_slo_rules_options *opts, eqops_error *err);

/* Number of series the rules record for the whole set (Sloth records 15 per SLO). */
EQOPS_API size_t eqops_slo_recorded_series(const eqops_slo_set *set,
                                           const eqops_slo_rules_options *opts);

/* ---- reports ---------------------------------------------------------------------------- */

/* Counter samples read from a file, owning their arrays. */
typedef struct eqops_slo_series_data eqops_slo_series_data;

/*
 * Read a series file: CSV with a header "timestamp,good,total" or "timestamp,bad,total"
 * (timestamps as Unix seconds, fractions allowed, or RFC 3339), or JSON
 * {"timestamp": [...], "good"|"bad": [...], "total": [...]} with Unix seconds. `*out` is new
 * (eqops_slo_series_data_free). Returns 0, EQOPS_EINVAL (the message names the line or
 * field), EQOPS_ENOTFOUND, EQOPS_ETOOBIG or EQOPS_ENOMEM.
 */
EQOPS_API int eqops_slo_series_load(eqops_slo_series_data **out, const char *path,
                                    eqops_error *err);
/* The samples (borrowed from `data`). */
EQOPS_API const eqops_slo_series *eqops_slo_series_view(const eqops_slo_series_data *data);
EQOPS_API void eqops_slo_series_data_free(eqops_slo_series_data *data);

typedef struct eqops_slo_report_options {
    unsigned version;               /* EQOPS_SLO_REPORT_OPTIONS_VERSION */
    const char *prometheus_url;     /* read live from this Prometheus HTTP API, or */
    const eqops_slo_series *series; /* compute offline from these samples (every objective) */
    int64_t at_ms;                  /* evaluation time; 0 = now (live) or the last sample */
    const char *ca_file;            /* TLS to Prometheus: trusted CA bundle */
    const char *bearer_token;       /* sent as Authorization: Bearer; never logged */
    long timeout_ms;                /* per query; 0 = 30 s */
    /* Cancellation (NULL: none) of the Prometheus queries of this report: checked between steps,
     * in transfers and queries, and in retry waits; once triggered the call returns
     * EQOPS_ECANCELED. */
    eqops_cancel *cancel;
} eqops_slo_report_options;

#define EQOPS_SLO_REPORT_OPTIONS_VERSION 1
#define EQOPS_SLO_REPORT_OPTIONS_INIT                                                              \
    {                                                                                              \
        EQOPS_SLO_REPORT_OPTIONS_VERSION, NULL, NULL, 0, NULL, NULL, 0, NULL                       \
    }
/* Zero `opts` and set its version (EQOPS_SLO_REPORT_OPTIONS_VERSION or an older one the
 * caller was written for): 0, or EQOPS_EINVAL (opts NULL, version 0 or newer than this
 * library). */
EQOPS_API int eqops_slo_report_options_init(eqops_slo_report_options *opts, unsigned version);

/*
 * Current state of every objective of the set, as JSON: SLI and budget over the SLO window
 * (calendar windows from their start), error ratio and burn rate per alert window, which
 * alerts fire, and when the budget runs out at the current burn. `*out` is new: eqops_free().
 *
 * No data is not a perfect SLI. A window whose total events query finds no samples has
 * "no_data": true and null error_ratio and burn_rate, and its alerts do not fire; an
 * objective with nothing in its SLO window has "no_data": true and null "sli", "budget" and
 * "exhaustion". "absent" is {"for", "firing"} for the absent alert (null without one); it
 * fires when the total series has no samples over its `for` plus the rules' 5m step. The
 * top-level "conditions" {"page", "ticket", "nodata"} say whether a page or ticket burn alert
 * fires and whether an objective has no data in its window or a firing absent alert.
 *
 * Returns 0, EQOPS_EINVAL (options, or samples that are not strictly increasing and finite),
 * or the errors of the Prometheus query (EQOPS_EUNAVAILABLE, EQOPS_ETIMEOUT, EQOPS_ETLS,
 * EQOPS_EPROTO, ...).
 */
EQOPS_API int eqops_slo_report(char **out, const eqops_slo_set *set,
                               const eqops_slo_report_options *opts, eqops_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EQOPS_SLO_H */
