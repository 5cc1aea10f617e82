/*
 * slo_internal.h - the SLO module's model of a spec, shared by parsing, rules and reports.
 */
#ifndef EQOPS_SLO_INTERNAL_H
#define EQOPS_SLO_INTERNAL_H

#include "eqops/slo.h"

#include "../core/core_internal.h"
#include "../core/json.h"

#include <string.h>

/* ---- math helpers (math.c, series.c) ---------------------------------------------------- */

int eqops__slo_check_target(double target, const char *field, eqops_error *err);
/* bad / max(total, min_events) clamped to [0, 1]; 0 without traffic */
double eqops__slo_ratio(double bad, double total, double min_events);
void eqops__slo_fill_budget(eqops_slo_budget *out, double target, double bad, double total,
                            double min_events);
bool eqops__slo_increase(double *out, const int64_t *t, const double *v, size_t n, int64_t start,
                         int64_t end);
/* ratio (or burn, with scale 1/(1-target)) of each sample's window; validates the samples */
int eqops__slo_ratio_series(double *out, const eqops_slo_series *s, int64_t window_ms,
                            double min_events, double scale, eqops_error *err);

/* The samples are usable: arrays given, timestamps increasing strictly, values finite. */
int eqops__slo_check_series(const eqops_slo_series *s, eqops_error *err);
/* bad and total event increases over [start, end] (0 when undefined; bad clamped at 0);
 * false when the total is undefined: fewer than two samples in the range */
bool eqops__slo_window_counts(const eqops_slo_series *s, int64_t start, int64_t end, double *bad,
                              double *total);

/* ---- the spec model (spec.c) ------------------------------------------------------------ */

typedef enum slo_sli_kind { SLI_EVENTS, SLI_LATENCY } slo_sli_kind;
typedef enum slo_budgeting {
    BUDGET_OCCURRENCES,
    BUDGET_TIMESLICES,
    BUDGET_RATIO_TIMESLICES
} slo_budgeting;
typedef enum slo_calendar { CAL_NONE, CAL_WEEK, CAL_MONTH, CAL_QUARTER } slo_calendar;

#define SLO_MAX_WINDOWS    8
#define SLO_MAX_BUCKETS    64
#define SLO_MAX_OBJECTIVES 8

typedef struct slo_policy {
    bool enabled;
    eqops_slo_alert_window w[SLO_MAX_WINDOWS];
    size_t n;
    json_t *labels; /* extra alert labels (owned) */
} slo_policy;

typedef struct slo_objective {
    char *name;           /* objective name, "" for the only one */
    char *id;             /* <service>-<slo>[-<objective>] */
    double target;        /* fraction */
    char target_pct[32];  /* "99.9" as written (shortest form) */
    char budget_text[32]; /* exact decimal of 1 - target: "0.001" */
    double budget;        /* that number (not 1 - target, which carries float noise) */
    double slice_target;  /* timeslices: fraction */
} slo_objective;

typedef struct slo_def {
    char *name;
    char *description;
    json_t *labels; /* owned; SLO labels merged over the service labels */
    /* window */
    int64_t period_ms; /* rolling length; for calendar windows the nominal length */
    slo_calendar calendar;
    char *timezone; /* calendar windows */
    /* budgeting */
    slo_budgeting budgeting;
    int64_t slice_ms;
    /* SLI */
    slo_sli_kind kind;
    char *bad, *good, *total;        /* PromQL templates with {{.window}} (events) */
    char *metric;                    /* latency: histogram name without _bucket */
    char *selector;                  /* latency: label matchers inside {} (may be "") */
    double threshold;                /* latency: seconds, a bucket boundary */
    double buckets[SLO_MAX_BUCKETS]; /* latency: the histogram's upper bounds */
    size_t nbuckets;
    bool native;                /* latency: native histogram */
    char *test_bad, *test_good; /* optional input series for the promtool tests */
    double min_events;
    /* objectives */
    slo_objective obj[SLO_MAX_OBJECTIVES];
    size_t nobj;
    /* alerting */
    bool alerting;
    char *alert_name;
    json_t *alert_labels;      /* owned */
    json_t *alert_annotations; /* owned */
    slo_policy page, ticket;
    int64_t absent_for_ms; /* 0 = no absent alert */
} slo_def;

struct eqops_slo_set {
    char *service;
    json_t *labels; /* service labels (owned) */
    slo_def *slos;
    size_t n;
    /* flattened (slo, objective) index */
    struct {
        size_t slo, obj;
    } * units;
    size_t nunits;
};

/* A Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, at most 128 characters) (spec.c). */
bool eqops__slo_valid_label_name(const char *s);
/* parent[key], a labels object: valid names that eqops does not set itself (but severity when
 * `allow_severity`), string values; *out is a new reference, {} when absent (spec.c). */
int eqops__slo_parse_labels(json_t **out, const json_t *parent, const char *key,
                            const eqops_jpath *path, bool allow_severity, eqops_error *err);
/* The "alerting" of SLO `slo` into d, its objectives already parsed (spec_alerting.c). */
int eqops__slo_parse_alerting(slo_def *d, const json_t *slo, const char *service,
                              const eqops_jpath *path, eqops_error *err);
/* Build the model from a JSON value of the eqops spec format (spec.c). */
int eqops__slo_set_from_json(eqops_slo_set **out, const json_t *doc, eqops_error *err);
/* Translate OpenSLO v1 documents (an array) into the eqops spec format (openslo.c). */
int eqops__slo_openslo_to_spec(json_t **out, const json_t *docs, eqops_error *err);

/* ---- rules (rules.c), shared with the test-file generator (rules_promtool.c) ---------------- */

/* The default interval of the recorded increases (the rules' `step`). */
#define EQOPS__SLO_DEFAULT_STEP_MS 300000

typedef struct eqops__rules_ctx {
    const eqops_slo_set *set;
    eqops_slo_naming naming;
    const char *rules_file; /* the options' (borrowed), default "rules.yml" */
    int64_t interval_ms, step_ms;
    char interval[48], step[48];
    eqops_error *err;
} eqops__rules_ctx;

/* The caller's rules options (NULL: defaults) read into `o` by their version. */
int eqops__slo_rules_opts(eqops_slo_rules_options *o, const eqops_slo_rules_options *in,
                          eqops_error *err);
/* Options checked and defaults filled. */
int eqops__slo_rules_ctx(eqops__rules_ctx *c, const eqops_slo_set *set,
                         const eqops_slo_rules_options *opts, eqops_error *err);
/* The PromQL of an SLI part ("bad", "good", "total") in events per second over `window`. */
int eqops__slo_expr(eqops_buf *out, const slo_def *d, const char *part, const char *window);
/* Bad events per second over `window`; a missing error series counts as none. */
void eqops__slo_bad_expr(eqops_buf *out, const slo_def *d, const char *window);
/* factor x (1 - target) as an exact decimal when the inputs are short decimals */
double eqops__slo_threshold(double factor, const slo_objective *o);
/* The labels every series and alert of an objective carries (new reference). */
json_t *eqops__slo_identity(const eqops__rules_ctx *c, const slo_def *d, const slo_objective *o);
/* The labels of an alert of policy `p` for window `w` (NULL for the absent alert). */
json_t *eqops__slo_alert_labels(const eqops__rules_ctx *c, const slo_def *d, const slo_objective *o,
                                const slo_policy *p, const eqops_slo_alert_window *w);

/* ---- text spliced into rules (promql.c) --------------------------------------------------- */

/*
 * Read a query as Prometheus' lexer does and return it (new, in *out) without its comments:
 * `#` outside a string literal runs to the end of the line and would swallow what eqops puts
 * after the query on that line. Refuses unbalanced brackets, unclosed strings, control
 * characters, escapes Prometheus does not know (promtool: "unknown escape sequence"), a '{{'
 * that is not {{.window}} and, with `needs_window`, a query without one outside strings; the
 * message names `field`. Returns 0, EQOPS_EINVAL or EQOPS_ENOMEM.
 */
int eqops__slo_query_clean(char **out, const char *q, const char *field, bool needs_window,
                           eqops_error *err);
/* Of a cleaned query, outside its strings: the {{.window}} placeholders (either spelling) and
 * whether a '(' or a '[' (a function, a range) appears. */
void eqops__slo_query_shape(const char *query, size_t *holes, bool *calls);
/* The PromQL string literal at p (its opening quote) decoded, escapes and all, into `out` (at
 * most cap - 1 bytes and a NUL); the end of the literal, or NULL when it is not one, does not
 * fit or holds a NUL. */
const char *eqops__slo_string_decode(const char *p, char *out, size_t cap);
/* A cleaned query with {{.window}} replaced by `window`. */
void eqops__slo_put_query(eqops_buf *out, const char *query, const char *window);
/* `value` as a PromQL "..." string literal (quotes, backslashes and line breaks escaped). */
void eqops__slo_put_string(eqops_buf *out, const char *value);
/* A copy of a labels or annotations object whose values Go's text/template (Prometheus'
 * alert templating) renders as written; NULL when out of memory. */
json_t *eqops__slo_template_literals(const json_t *obj);

/* JSON text of `doc` (new, eqops__free), NULL when out of memory (spec_json.c). Unlike
 * json_dumps, which can drop a failed append and return truncated JSON, a failed append here
 * fails the whole text. */
char *eqops__slo_json_text(const json_t *doc, size_t flags);

/* Counter samples from CSV or JSON text (series_file.c). */
int eqops__slo_series_parse(eqops_slo_series_data **out, const char *text, size_t len,
                            eqops_error *err);

/* Exact decimal helpers (spec.c): shortest form and product rounded to the inputs' places. */
int eqops__decimal_places(double v);
double eqops__decimal_round(double v, int places);

#endif /* EQOPS_SLO_INTERNAL_H */
