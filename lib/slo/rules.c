/*
 * rules.c - Prometheus recording and alerting rules for SLOs.
 *
 * Per objective, the rules record three series: the bad and total event increases over each
 * `step` (5m), in a group that runs every step so the increases tile time without overlap,
 * and the error budget remaining over the SLO window, the sum of those increases divided
 * once (never an average of ratios). Burn-rate alerts compare window error ratios with
 * factor x (1 - target): windows up to 1h straight from the raw counters, longer windows
 * from the recorded increases. Denominators are floored at min_events (one event unless set)
 * and missing error series count as zero, so no recorded series is ever NaN or Inf; a
 * missing total series raises the absent alert instead. Numbers are exact decimals.
 */
#include "slo_internal.h"

#include <math.h>
#include <stdio.h>

#define DEFAULT_INTERVAL_MS 60000
#define RAW_WINDOW_MAX_MS   3600000 /* windows up to 1h come straight from the counters */

/* ---- PromQL building ------------------------------------------------------------------- */

static void put_selector(eqops_buf *out, const slo_def *d, const char *suffix, bool le)
{
    eqops__buf_printf(out, "%s%s{%s", d->metric, suffix, d->selector);
    if (le) {
        char t[32];
        eqops__fmt_double(d->threshold, t);
        if (d->selector[0])
            eqops__buf_putc(out, ',');
        /* Prometheus 3 writes le="1" as "1.0": match both spellings of whole numbers */
        if (d->threshold == floor(d->threshold) && strpbrk(t, ".e") == NULL)
            eqops__buf_printf(out, "le=~\"%s(\\\\.0)?\"", t);
        else
            eqops__buf_printf(out, "le=\"%s\"", t);
    }
    eqops__buf_putc(out, '}');
}

/* Events per second over `window` for "bad", "good" or "total". */
int eqops__slo_expr(eqops_buf *out, const slo_def *d, const char *part, const char *window)
{
    if (d->kind == SLI_EVENTS) {
        const char *t = strcmp(part, "bad") == 0    ? d->bad
                        : strcmp(part, "good") == 0 ? d->good
                                                    : d->total;
        if (t == NULL)
            return EQOPS_EINVAL;
        /* in parentheses: a query such as `sum(...) > 0` must not bind to what follows */
        eqops__buf_putc(out, '(');
        eqops__slo_put_query(out, t, window);
        eqops__buf_putc(out, ')');
    } else if (d->native) {
        char th[32];
        eqops__fmt_double(d->threshold, th);
        if (strcmp(part, "total") == 0) {
            eqops__buf_puts(out, "histogram_count(sum(rate(");
            put_selector(out, d, "", false);
            eqops__buf_printf(out, "[%s])))", window);
        } else if (strcmp(part, "good") == 0) {
            eqops__buf_printf(out, "histogram_fraction(0, %s, sum(rate(", th);
            put_selector(out, d, "", false);
            eqops__buf_printf(out, "[%s]))) * histogram_count(sum(rate(", window);
            put_selector(out, d, "", false);
            eqops__buf_printf(out, "[%s])))", window);
        } else {
            return EQOPS_EINVAL;
        }
    } else {
        if (strcmp(part, "bad") == 0)
            return EQOPS_EINVAL;
        eqops__buf_puts(out, "sum(rate(");
        put_selector(out, d, strcmp(part, "total") == 0 ? "_count" : "_bucket",
                     strcmp(part, "good") == 0);
        eqops__buf_printf(out, "[%s]))", window);
    }
    return eqops__buf_ok(out);
}

void eqops__slo_bad_expr(eqops_buf *out, const slo_def *d, const char *window)
{
    if (d->kind == SLI_EVENTS && d->bad != NULL) {
        eqops__buf_putc(out, '(');
        eqops__slo_expr(out, d, "bad", window);
        eqops__buf_puts(out, " or on() vector(0))");
    } else {
        eqops__buf_putc(out, '(');
        eqops__slo_expr(out, d, "total", window);
        eqops__buf_puts(out, " - (");
        eqops__slo_expr(out, d, "good", window);
        eqops__buf_puts(out, " or on() vector(0)))");
    }
}

static void put_num(eqops_buf *out, double v)
{
    char b[32];
    eqops__fmt_double(v, b);
    eqops__buf_puts(out, b);
}

static void put_matcher(eqops_buf *out, const slo_objective *o)
{
    eqops__buf_printf(out, "{slo_id=\"%s\"}", o->id);
}

/* A window shorter than the recorded steps, or not made of them, comes from the counters. */
static bool window_is_raw(const eqops__rules_ctx *c, int64_t w)
{
    return w <= RAW_WINDOW_MAX_MS || w % c->step_ms != 0;
}

/* Error ratio of a window, as PromQL. */
static void put_ratio(eqops_buf *out, const eqops__rules_ctx *c, const slo_def *d,
                      const slo_objective *o, int64_t w)
{
    char win[48];
    if (window_is_raw(c, w)) {
        eqops__duration_format(w, win);
        eqops__slo_bad_expr(out, d, win);
        eqops__buf_puts(out, " / clamp_min(");
        eqops__slo_expr(out, d, "total", win);
        eqops__buf_puts(out, ", ");
        put_num(out, d->min_events > 0 ? d->min_events : 1);
        eqops__buf_printf(out, " / %lld)", (long long)(w / 1000));
        return;
    }
    eqops__duration_format(w - 1, win); /* ranges are closed in Prometheus 2: drop one edge */
    eqops__buf_printf(out, "sum_over_time(eqops_slo:events_bad:increase%s", c->step);
    put_matcher(out, o);
    eqops__buf_printf(out, "[%s]) / clamp_min(sum_over_time(eqops_slo:events_total:increase%s", win,
                      c->step);
    put_matcher(out, o);
    eqops__buf_printf(out, "[%s]), ", win);
    put_num(out, d->min_events > 0 ? d->min_events : 1);
    eqops__buf_putc(out, ')');
}

double eqops__slo_threshold(double factor, const slo_objective *o)
{
    int places = eqops__decimal_places(factor) + eqops__decimal_places(o->budget);
    return eqops__decimal_round(factor * o->budget, places);
}

/* ---- rule objects ---------------------------------------------------------------------- */

json_t *eqops__slo_identity(const eqops__rules_ctx *c, const slo_def *d, const slo_objective *o)
{
    json_t *l = json_deep_copy(d->labels);
    bool ok = l != NULL && eqops__jset(l, "slo_id", json_string(o->id)) &&
              eqops__jset(l, "slo_service", json_string(c->set->service)) &&
              eqops__jset(l, "slo_name", json_string(d->name)) &&
              eqops__jset(l, "slo_objective", json_string(o->name[0] ? o->name : o->target_pct));
    if (ok && c->naming == EQOPS_SLO_NAMING_SLOTH)
        ok = eqops__jset(l, "sloth_id", json_string(o->id)) &&
             eqops__jset(l, "sloth_service", json_string(c->set->service)) &&
             eqops__jset(l, "sloth_slo", json_string(d->name));
    if (!ok) {
        json_decref(l);
        return NULL;
    }
    return l;
}

static int add_rule(json_t *rules, json_t *rule, eqops_error *err)
{
    if (rule == NULL || json_array_append_new(rules, rule) != 0)
        return eqops__err(err, EQOPS_ENOMEM, "rules: out of memory");
    return 0;
}

/* record: name, expr: buf (consumed), labels: identity (+ extra) */
static int record(json_t *rules, const char *name, eqops_buf *expr, json_t *labels,
                  eqops_error *err)
{
    json_t *r = NULL;
    if (eqops__buf_ok(expr) == 0 && labels != NULL)
        r = json_pack("{s:s, s:s, s:o}", "record", name, "expr", eqops__buf_cstr(expr), "labels",
                      labels);
    else
        json_decref(labels);
    eqops__buf_free(expr);
    return add_rule(rules, r, err);
}

static json_t *group(const char *name, const char *interval, json_t **rules)
{
    *rules = json_array();
    if (*rules == NULL)
        return NULL;
    return json_pack("{s:s, s:s, s:o}", "name", name, "interval", interval, "rules", *rules);
}

static int increase_group(json_t *groups, const eqops__rules_ctx *c, const slo_def *d,
                          const slo_objective *o)
{
    json_t *rules;
    char name[160], rec[96];
    snprintf(name, sizeof(name), "eqops-slo-%s-increase", o->id);
    json_t *g = group(name, c->step, &rules);
    if (g == NULL || json_array_append_new(groups, g) != 0)
        return eqops__err(c->err, EQOPS_ENOMEM, "rules: out of memory");
    long long secs = (long long)(c->step_ms / 1000);
    eqops_buf e = EQOPS_BUF_INIT;
    eqops__buf_puts(&e, "clamp_min(");
    eqops__slo_bad_expr(&e, d, c->step);
    eqops__buf_printf(&e, ", 0) * %lld", secs);
    snprintf(rec, sizeof(rec), "eqops_slo:events_bad:increase%s", c->step);
    int rc = record(rules, rec, &e, eqops__slo_identity(c, d, o), c->err);
    if (rc != 0)
        return rc;
    eqops__buf_putc(&e, '(');
    eqops__slo_expr(&e, d, "total", c->step);
    eqops__buf_printf(&e, ") * %lld", secs);
    snprintf(rec, sizeof(rec), "eqops_slo:events_total:increase%s", c->step);
    return record(rules, rec, &e, eqops__slo_identity(c, d, o), c->err);
}

static int slices_group(json_t *groups, const eqops__rules_ctx *c, const slo_def *d,
                        const slo_objective *o)
{
    json_t *rules;
    char name[160], slice[48];
    eqops__duration_format(d->slice_ms, slice);
    snprintf(name, sizeof(name), "eqops-slo-%s-slices", o->id);
    json_t *g = group(name, slice, &rules);
    if (g == NULL || json_array_append_new(groups, g) != 0)
        return eqops__err(c->err, EQOPS_ENOMEM, "rules: out of memory");
    eqops_buf e = EQOPS_BUF_INIT;
    eqops__buf_putc(&e, '(');
    put_ratio(&e, c, d, o, d->slice_ms);
    eqops__buf_putc(&e, ')');
    if (d->budgeting == BUDGET_TIMESLICES) {
        eqops__buf_puts(&e, " > bool ");
        put_num(&e, eqops__decimal_round(1 - o->slice_target, 12));
        return record(rules, "eqops_slo:timeslice_bad", &e, eqops__slo_identity(c, d, o), c->err);
    }
    return record(rules, "eqops_slo:timeslice_error:ratio", &e, eqops__slo_identity(c, d, o),
                  c->err);
}

static int remaining_rule(json_t *rules, const eqops__rules_ctx *c, const slo_def *d,
                          const slo_objective *o)
{
    char win[48];
    eqops__duration_format(d->period_ms - 1, win);
    eqops_buf e = EQOPS_BUF_INIT;
    eqops__buf_puts(&e, "1 - ");
    if (d->budgeting == BUDGET_OCCURRENCES) {
        eqops__buf_putc(&e, '(');
        put_ratio(&e, c, d, o, d->period_ms);
        eqops__buf_putc(&e, ')');
    } else if (d->budgeting == BUDGET_TIMESLICES) {
        eqops__buf_puts(&e, "(sum_over_time(eqops_slo:timeslice_bad");
        put_matcher(&e, o);
        eqops__buf_printf(&e, "[%s]) / %lld)", win, (long long)(d->period_ms / d->slice_ms));
    } else {
        eqops__buf_puts(&e, "avg_over_time(eqops_slo:timeslice_error:ratio");
        put_matcher(&e, o);
        eqops__buf_printf(&e, "[%s])", win);
    }
    eqops__buf_printf(&e, " / %s", o->budget_text);
    return record(rules, "eqops_slo:error_budget_remaining:ratio", &e, eqops__slo_identity(c, d, o),
                  c->err);
}

json_t *eqops__slo_alert_labels(const eqops__rules_ctx *c, const slo_def *d, const slo_objective *o,
                                const slo_policy *p, const eqops_slo_alert_window *w)
{
    json_t *l = eqops__slo_identity(c, d, o);
    if (l == NULL || json_object_update(l, d->alert_labels) != 0 ||
        json_object_update(l, p->labels) != 0) {
        json_decref(l);
        return NULL;
    }
    bool ok = true;
    if (w != NULL) {
        char lw[48], sw[48];
        eqops__duration_format(w->long_ms, lw);
        eqops__duration_format(w->short_ms, sw);
        ok = eqops__jset(l, "long_window", json_string(lw)) &&
             eqops__jset(l, "short_window", json_string(sw));
    }
    if (ok && c->naming == EQOPS_SLO_NAMING_SLOTH)
        ok = eqops__jset(l, "sloth_severity", json_string(p == &d->page ? "page" : "ticket"));
    if (!ok) {
        json_decref(l);
        return NULL;
    }
    return l;
}

/* An alerting rule. Prometheus expands alert labels and annotations as Go templates: the
 * spec's values are static text, so they go out as templates that render as written. */
static int alert(json_t *rules, const char *name, eqops_buf *expr, int64_t for_ms, json_t *labels,
                 const json_t *annotations, eqops_error *err)
{
    char f[48];
    eqops__duration_format(for_ms, f);
    json_t *r = NULL, *lab = labels ? eqops__slo_template_literals(labels) : NULL,
           *ann = eqops__slo_template_literals(annotations);
    json_decref(labels);
    if (eqops__buf_ok(expr) == 0 && lab != NULL && ann != NULL)
        r = json_pack("{s:s, s:s, s:s, s:o, s:o}", "alert", name, "expr", eqops__buf_cstr(expr),
                      "for", f, "labels", lab, "annotations", ann);
    else {
        json_decref(lab);
        json_decref(ann);
    }
    eqops__buf_free(expr);
    return add_rule(rules, r, err);
}

static int burn_alerts(json_t *rules, const eqops__rules_ctx *c, const slo_def *d,
                       const slo_objective *o, const slo_policy *p)
{
    for (size_t i = 0; p->enabled && i < p->n; i++) {
        const eqops_slo_alert_window *w = &p->w[i];
        double t = eqops__slo_threshold(w->factor, o);
        eqops_buf e = EQOPS_BUF_INIT;
        eqops__buf_puts(&e, "(");
        put_ratio(&e, c, d, o, w->short_ms);
        eqops__buf_puts(&e, ") > ");
        put_num(&e, t);
        eqops__buf_puts(&e, "\nand on()\n(");
        put_ratio(&e, c, d, o, w->long_ms);
        eqops__buf_puts(&e, ") > ");
        put_num(&e, t);
        int rc = alert(rules, d->alert_name, &e, w->for_ms, eqops__slo_alert_labels(c, d, o, p, w),
                       d->alert_annotations, c->err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int absent_alert(json_t *rules, const eqops__rules_ctx *c, const slo_def *d,
                        const slo_objective *o)
{
    if (d->absent_for_ms <= 0)
        return 0;
    eqops_buf e = EQOPS_BUF_INIT;
    eqops__buf_printf(&e, "absent(eqops_slo:events_total:increase%s", c->step);
    put_matcher(&e, o);
    eqops__buf_putc(&e, ')');
    char name[200];
    snprintf(name, sizeof(name), "%sSLIAbsent", d->alert_name);
    json_t *ann = json_pack("{s:s}", "summary",
                            "the SLI's total events series is missing: "
                            "the SLO cannot be measured");
    if (ann == NULL) {
        eqops__buf_free(&e);
        return eqops__err(c->err, EQOPS_ENOMEM, "rules: out of memory");
    }
    int rc = alert(rules, name, &e, d->absent_for_ms,
                   eqops__slo_alert_labels(c, d, o, &d->ticket, NULL), ann, c->err);
    json_decref(ann);
    return rc;
}

/* The windows an objective's alerts use, sorted and unique (for Sloth's ratio_rate<w>). */
static size_t alert_windows(const slo_def *d, int64_t *out)
{
    size_t n = 0;
    const slo_policy *ps[2] = {&d->page, &d->ticket};
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; ps[k]->enabled && i < ps[k]->n; i++) {
            int64_t ws[2] = {ps[k]->w[i].short_ms, ps[k]->w[i].long_ms};
            for (size_t j = 0; j < 2; j++) {
                size_t m = 0;
                while (m < n && out[m] != ws[j])
                    m++;
                if (m == n)
                    out[n++] = ws[j];
            }
        }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
            int64_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* Sloth's names, for dashboards built on them; values computed the exact way. */
static int sloth_group(json_t *groups, const eqops__rules_ctx *c, const slo_def *d,
                       const slo_objective *o)
{
    json_t *rules;
    char name[160], w[48], rec[96];
    snprintf(name, sizeof(name), "eqops-slo-%s-sloth", o->id);
    json_t *g = group(name, c->interval, &rules);
    if (g == NULL || json_array_append_new(groups, g) != 0)
        return eqops__err(c->err, EQOPS_ENOMEM, "rules: out of memory");
    int64_t ws[2 * 2 * SLO_MAX_WINDOWS + 1];
    size_t n = alert_windows(d, ws);
    ws[n++] = d->period_ms;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        eqops__duration_format(ws[i], w);
        if (i == n - 1) /* Sloth names the period in days */
            snprintf(w, sizeof(w), "%lldd", (long long)(d->period_ms / 86400000));
        eqops_buf e = EQOPS_BUF_INIT;
        put_ratio(&e, c, d, o, ws[i]);
        snprintf(rec, sizeof(rec), "slo:sli_error:ratio_rate%s", w);
        json_t *l = eqops__slo_identity(c, d, o);
        if (l != NULL && !eqops__jset(l, "sloth_window", json_string(w))) {
            json_decref(l);
            l = NULL;
        }
        rc = record(rules, rec, &e, l, c->err);
    }
    char days[32], sel[160], target[32];
    snprintf(days, sizeof(days), "%lldd", (long long)(d->period_ms / 86400000));
    snprintf(sel, sizeof(sel), "{sloth_id=\"%s\"}", o->id);
    eqops__duration_format(ws[0], w);
    eqops__fmt_double(o->target, target);
    static const char *const meta[] = {"slo:objective:ratio",
                                       "slo:error_budget:ratio",
                                       "slo:time_period:days",
                                       "slo:current_burn_rate:ratio",
                                       "slo:period_burn_rate:ratio",
                                       "slo:period_error_budget_remaining:ratio",
                                       "sloth_slo_info"};
    for (size_t i = 0; i < EQOPS__ARRAY_LEN(meta) && rc == 0; i++) {
        eqops_buf e = EQOPS_BUF_INIT;
        switch (i) {
        case 0:
            eqops__buf_printf(&e, "vector(%s)", target);
            break;
        case 1:
            eqops__buf_printf(&e, "vector(%s)", o->budget_text);
            break;
        case 2:
            eqops__buf_printf(&e, "vector(%lld)", (long long)(d->period_ms / 86400000));
            break;
        case 3:
        case 4:
            eqops__buf_printf(&e, "max without (sloth_window) (slo:sli_error:ratio_rate%s%s) / %s",
                              i == 3 ? w : days, sel, o->budget_text);
            break;
        case 5:
            eqops__buf_printf(&e, "1 - slo:period_burn_rate:ratio%s", sel);
            break;
        default:
            eqops__buf_puts(&e, "vector(1)");
            break;
        }
        json_t *l = eqops__slo_identity(c, d, o);
        if (l != NULL && i == 6 &&
            !(eqops__jset(l, "sloth_objective", json_string(o->target_pct)) &&
              eqops__jset(l, "sloth_mode", json_string("eqops")))) {
            json_decref(l);
            l = NULL;
        }
        rc = record(rules, meta[i], &e, l, c->err);
    }
    return rc;
}

static int objective_rules(json_t *groups, const eqops__rules_ctx *c, const slo_def *d,
                           const slo_objective *o)
{
    int rc = increase_group(groups, c, d, o);
    if (rc == 0 && d->budgeting != BUDGET_OCCURRENCES)
        rc = slices_group(groups, c, d, o);
    if (rc != 0)
        return rc;
    json_t *rules;
    char name[160];
    snprintf(name, sizeof(name), "eqops-slo-%s", o->id);
    json_t *g = group(name, c->interval, &rules);
    if (g == NULL || json_array_append_new(groups, g) != 0)
        return eqops__err(c->err, EQOPS_ENOMEM, "rules: out of memory");
    if ((rc = remaining_rule(rules, c, d, o)) != 0 ||
        (rc = burn_alerts(rules, c, d, o, &d->page)) != 0 ||
        (rc = burn_alerts(rules, c, d, o, &d->ticket)) != 0 ||
        (rc = absent_alert(rules, c, d, o)) != 0)
        return rc;
    if (c->naming == EQOPS_SLO_NAMING_SLOTH)
        rc = sloth_group(groups, c, d, o);
    return rc;
}

static const size_t rules_options_sizes[] = {sizeof(eqops_slo_rules_options)};

EQOPS__OPTS_INIT_FN(eqops_slo_rules_options_init, eqops_slo_rules_options, rules_options_sizes)

int eqops__slo_rules_opts(eqops_slo_rules_options *o, const eqops_slo_rules_options *in,
                          eqops_error *err)
{
    return EQOPS__OPTS_READ(o, in, rules_options_sizes, "slo rules options", err);
}

int eqops__slo_rules_ctx(eqops__rules_ctx *c, const eqops_slo_set *set,
                         const eqops_slo_rules_options *in, eqops_error *err)
{
    memset(c, 0, sizeof(*c));
    c->set = set;
    c->err = err;
    c->interval_ms = DEFAULT_INTERVAL_MS;
    c->step_ms = EQOPS__SLO_DEFAULT_STEP_MS;
    if (set == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "set", "must not be NULL");
    eqops_slo_rules_options oc;
    const eqops_slo_rules_options *opts = &oc;
    int rc = eqops__slo_rules_opts(&oc, in, err);
    if (rc != 0)
        return rc;
    if (opts->naming != EQOPS_SLO_NAMING_EQOPS && opts->naming != EQOPS_SLO_NAMING_SLOTH)
        return eqops__err_field(err, EQOPS_EINVAL, "opts.naming", "unknown naming %d",
                                (int)opts->naming);
    c->naming = opts->naming;
    c->rules_file = opts->rules_file ? opts->rules_file : "rules.yml";
    if (opts->interval_ms)
        c->interval_ms = opts->interval_ms;
    if (opts->step_ms)
        c->step_ms = opts->step_ms;
    if (c->interval_ms < 1000 || c->interval_ms % 1000 != 0 || c->interval_ms > 3600000)
        return eqops__err_field(err, EQOPS_EINVAL, "opts.interval_ms",
                                "whole seconds between 1s and 1h");
    if (c->step_ms < 60000 || c->step_ms % 60000 != 0 || c->step_ms > 3600000)
        return eqops__err_field(err, EQOPS_EINVAL, "opts.step_ms",
                                "whole minutes between 1m and 1h");
    eqops__duration_format(c->interval_ms, c->interval);
    eqops__duration_format(c->step_ms, c->step);
    for (size_t i = 0; i < set->n; i++)
        if (set->slos[i].period_ms % c->step_ms != 0)
            return eqops__err_field(err, EQOPS_EINVAL, "opts.step_ms",
                                    "must divide the window of SLO %s", set->slos[i].name);
    return 0;
}

int eqops_slo_rules(char **out, const eqops_slo_set *set, const eqops_slo_rules_options *opts,
                    eqops_error *err)
{
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out = NULL;
    eqops__rules_ctx c;
    int rc = eqops__slo_rules_ctx(&c, set, opts, err);
    if (rc != 0)
        return rc;
    json_t *groups = json_array();
    json_t *doc = groups ? json_pack("{s:o}", "groups", groups) : NULL;
    if (doc == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "rules: out of memory");
    for (size_t u = 0; u < set->nunits && rc == 0; u++) {
        const slo_def *d = &set->slos[set->units[u].slo];
        rc = objective_rules(groups, &c, d, &d->obj[set->units[u].obj]);
    }
    eqops_buf b = EQOPS_BUF_INIT;
    if (rc == 0) {
        eqops__buf_printf(&b, "# Generated by libeqops %s from the SLO spec of %s. Do not edit.\n",
                          eqops_version(), set->service);
        rc = eqops__yaml_dump(doc, &b, err);
    }
    json_decref(doc);
    if (rc == 0 && (*out = eqops__buf_detach(&b)) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "rules: out of memory");
    eqops__buf_free(&b);
    return rc;
}

size_t eqops_slo_recorded_series(const eqops_slo_set *set, const eqops_slo_rules_options *opts)
{
    size_t n = 0;
    eqops_slo_rules_options o;
    bool sloth = eqops__slo_rules_opts(&o, opts, NULL) == 0 && o.naming == EQOPS_SLO_NAMING_SLOTH;
    for (size_t u = 0; set != NULL && u < set->nunits; u++) {
        const slo_def *d = &set->slos[set->units[u].slo];
        n += 3 + (d->budgeting != BUDGET_OCCURRENCES);
        if (sloth) {
            int64_t ws[2 * 2 * SLO_MAX_WINDOWS];
            n += alert_windows(d, ws) + 1 + 7;
        }
    }
    return n;
}
