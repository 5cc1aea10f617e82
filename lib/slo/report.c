/*
 * report.c - the current state of each SLO objective, read live from a Prometheus HTTP API
 * or computed offline from counter samples: SLI and budget over the window, burn per alert
 * window, which alerts fire, and when the budget runs out.
 */
#include "slo_internal.h"

#include "../core/tz.h"
#include "../net/http.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct report_ctx {
    const eqops_slo_report_options *o;
    eqops_http *http;
    int64_t at_ms;
    eqops_error *err;
} report_ctx;

/* ---- Prometheus ---------------------------------------------------------------------------- */

/* Run an instant query; *found is false when it returned no series. */
static int prom_query(double *out, bool *found, report_ctx *c, const char *query)
{
    *out = 0;
    *found = false;
    char *q = curl_easy_escape(NULL, query, 0);
    if (q == NULL)
        return eqops__err(c->err, EQOPS_ENOMEM, "report: out of memory");
    eqops_buf url = EQOPS_BUF_INIT, auth = EQOPS_BUF_INIT;
    const char *base = c->o->prometheus_url;
    size_t bl = strlen(base);
    eqops__buf_printf(&url, "%.*s/api/v1/query?query=%s&time=%lld.%03lld",
                      (int)(bl && base[bl - 1] == '/' ? bl - 1 : bl), base, q,
                      (long long)(c->at_ms / 1000), (long long)(c->at_ms % 1000));
    curl_free(q);
    const char *headers[3] = {"Accept: application/json", NULL, NULL};
    if (c->o->bearer_token != NULL) {
        eqops__buf_printf(&auth, "Authorization: Bearer %s", c->o->bearer_token);
        headers[1] = eqops__buf_cstr(&auth);
    }
    eqops_http_request req = {.method = "GET", .url = eqops__buf_cstr(&url), .headers = headers};
    eqops_http_response resp = EQOPS_HTTP_RESPONSE_INIT;
    int rc = eqops__buf_ok(&url) || eqops__buf_ok(&auth)
                 ? eqops__err(c->err, EQOPS_ENOMEM, "report: out of memory")
                 : eqops__http_do(c->http, &req, &resp, c->err);
    eqops__buf_wipe(&auth);
    eqops__buf_free(&url);
    if (rc != 0)
        return rc;
    json_t *doc = NULL;
    if (resp.status != 200) {
        rc = eqops__http_status_error(&resp, "Prometheus query", c->err);
        json_t *e = NULL;
        if (eqops__json_parse(&e, eqops__buf_cstr(&resp.body), resp.body.len, "", NULL) == 0) {
            const char *msg = json_string_value(json_object_get(e, "error"));
            if (msg != NULL)
                eqops__err_upstream(c->err, (int)resp.status,
                                    json_string_value(json_object_get(e, "errorType")), 0);
            if (msg != NULL && c->err != NULL)
                snprintf(c->err->message, sizeof(c->err->message),
                         "Prometheus query: HTTP %ld: %.180s", resp.status, msg);
            json_decref(e);
        }
        goto done;
    }
    if ((rc = eqops__json_parse(&doc, eqops__buf_cstr(&resp.body), resp.body.len,
                                "Prometheus answer", c->err)) != 0)
        goto done;
    json_t *data = json_object_get(doc, "data");
    json_t *result = json_object_get(data, "result");
    const char *type = json_string_value(json_object_get(data, "resultType"));
    if (type == NULL || (strcmp(type, "vector") == 0 && !json_is_array(result))) {
        rc = eqops__err(c->err, EQOPS_EPROTO, "Prometheus answer: no data.result");
        goto done;
    }
    if (strcmp(type, "vector") != 0) {
        rc = eqops__err(c->err, EQOPS_EINVAL,
                        "an SLI query must return an instant vector, not a %.20s", type);
        goto done;
    }
    if (json_array_size(result) > 1) {
        rc = eqops__err(c->err, EQOPS_EINVAL,
                        "an SLI query returned %zu series: aggregate it to one, e.g. with sum()",
                        json_array_size(result));
        goto done;
    }
    if (json_array_size(result) == 1) {
        const char *v = json_string_value(
            json_array_get(json_object_get(json_array_get(result, 0), "value"), 1));
        char *end;
        double d = v ? strtod(v, &end) : NAN;
        if (v == NULL || *end != '\0') {
            rc = eqops__err(c->err, EQOPS_EPROTO, "Prometheus answer: a sample is not a number");
            goto done;
        }
        if (isfinite(d)) {
            *out = d;
            *found = true;
        }
    }
done:
    json_decref(doc);
    eqops__http_response_clear(&resp);
    return rc;
}

/* Events counted in the window of `dur_ms` ending at the report time; *data is false when
 * the total events query returned nothing (no series, or not a number). */
static int live_counts(report_ctx *c, const slo_def *d, int64_t dur_ms, double *bad, double *total,
                       bool *data)
{
    char win[48];
    eqops__duration_format(dur_ms, win);
    eqops_buf qb = EQOPS_BUF_INIT, qt = EQOPS_BUF_INIT;
    eqops__slo_bad_expr(&qb, d, win);
    eqops__slo_expr(&qt, d, "total", win);
    bool fb;
    int rc = eqops__buf_ok(&qb) || eqops__buf_ok(&qt)
                 ? eqops__err(c->err, EQOPS_ENOMEM, "report: out of memory")
                 : prom_query(bad, &fb, c, eqops__buf_cstr(&qb));
    if (rc == 0)
        rc = prom_query(total, data, c, eqops__buf_cstr(&qt));
    eqops__buf_free(&qb);
    eqops__buf_free(&qt);
    if (rc != 0)
        return rc;
    double secs = (double)dur_ms / 1000;
    *bad = *bad > 0 ? *bad * secs : 0;
    *total = *total > 0 ? *total * secs : 0;
    if (*bad > *total)
        *bad = *total;
    return 0;
}

static int counts(report_ctx *c, const slo_def *d, int64_t dur_ms, double *bad, double *total,
                  bool *data)
{
    if (c->o->series != NULL) {
        *data = eqops__slo_window_counts(c->o->series, c->at_ms - dur_ms, c->at_ms, bad, total);
        if (*bad > *total)
            *bad = *total;
        return 0;
    }
    return live_counts(c, d, dur_ms, bad, total, data);
}

/* ---- one objective ----------------------------------------------------------------------- */

/* What the report found, for eqops slo report --fail-on and the report's "conditions". */
typedef struct report_state {
    bool page, ticket, nodata;
} report_state;

static json_t *ms_text(int64_t ms)
{
    char b[48];
    eqops__duration_format(ms, b);
    return json_string(b);
}

static json_t *time_text(int64_t ms)
{
    char b[32];
    eqops__time_format_rfc3339(ms, b);
    return json_string(b);
}

/* A number, or null when there is nothing to compute it from. */
static json_t *real_or_null(bool data, double v)
{
    return data ? json_real(v) : json_null();
}

static int period_start(report_ctx *c, const slo_def *d, int64_t *start)
{
    if (d->calendar == CAL_NONE) {
        *start = c->at_ms - d->period_ms;
        return 0;
    }
    static const char *const units[] = {"", "week", "month", "quarter"};
    int64_t end;
    return eqops_slo_calendar_period(start, &end, units[d->calendar], d->timezone, c->at_ms,
                                     c->err);
}

/* SLI and budget over the SLO window; *data is false when nothing was measured in it. */
static int budget_json(json_t *out, report_ctx *c, const slo_def *d, const slo_objective *o,
                       int64_t start, eqops_slo_budget *b, bool *data)
{
    double bad, total;
    int rc = counts(c, d, c->at_ms - start, &bad, &total, data);
    if (rc != 0)
        return rc;
    eqops__slo_fill_budget(b, o->target, bad, total, d->min_events);
    if (!*data) {
        if (!eqops__jset(out, "no_data", json_true()) || !eqops__jset(out, "sli", json_null()) ||
            !eqops__jset(out, "budget", json_null()))
            return eqops__err(c->err, EQOPS_ENOMEM, "report: out of memory");
        return 0;
    }
    if (!eqops__jset(out, "no_data", json_false()))
        return eqops__err(c->err, EQOPS_ENOMEM, "report: out of memory");
    if (d->budgeting != BUDGET_OCCURRENCES && c->o->series != NULL) {
        eqops_slo_timeslices ts;
        rc = eqops_slo_timeslice_budget(&ts, c->o->series, start, c->at_ms, d->slice_ms,
                                        d->budgeting == BUDGET_TIMESLICES ? o->slice_target : 0.5,
                                        o->target, d->budgeting == BUDGET_RATIO_TIMESLICES, c->err);
        if (rc != 0)
            return rc;
        b->consumed = ts.consumed;
        b->remaining = ts.remaining;
        if (!eqops__jset(out, "timeslices",
                         json_pack("{s:I, s:I, s:I, s:I, s:f}", "slices", (json_int_t)ts.slices,
                                   "good", (json_int_t)ts.good, "bad", (json_int_t)ts.bad,
                                   "no_data", (json_int_t)ts.no_data, "sli", ts.sli)))
            return eqops__err(c->err, EQOPS_ENOMEM, "report: out of memory");
    }
    json_t *j = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "bad", b->bad, "total", b->total,
                          "allowed_bad", b->allowed_bad, "consumed", b->consumed, "remaining",
                          b->remaining, "burn_rate", b->burn_rate);
    if (j == NULL || json_object_set_new(out, "budget", j) != 0 ||
        json_object_set_new(out, "sli", json_real(1 - b->error_ratio)) != 0)
        return eqops__err(c->err, EQOPS_ENOMEM, "report: out of memory");
    return 0;
}

/* Error ratio and burn per alert window, and which burn alerts fire. A window without data
 * has no ratio, and its alert cannot fire (the rule's expression is empty then too). */
static int windows_json(json_t *out, report_ctx *c, const slo_def *d, const slo_objective *o,
                        double *first_long_burn, report_state *st)
{
    json_t *burn = json_array(), *alerts = NULL;
    if (!eqops__jset(out, "burn", burn) || !eqops__jset(out, "alerts", alerts = json_array()))
        return eqops__err(c->err, EQOPS_ENOMEM, "report: out of memory");
    const slo_policy *ps[2] = {&d->page, &d->ticket};
    *first_long_burn = -1;
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; ps[k]->enabled && i < ps[k]->n; i++) {
            const eqops_slo_alert_window *w = &ps[k]->w[i];
            double ratio[2];
            bool data[2];
            int64_t lens[2] = {w->long_ms, w->short_ms};
            for (size_t j = 0; j < 2; j++) {
                double bad, total;
                int rc = counts(c, d, lens[j], &bad, &total, &data[j]);
                if (rc != 0)
                    return rc;
                ratio[j] = eqops__slo_ratio(bad, total, d->min_events);
                if (!eqops__jappend(burn, json_pack("{s:o, s:o, s:o, s:b}", "window",
                                                    ms_text(lens[j]), "error_ratio",
                                                    real_or_null(data[j], ratio[j]), "burn_rate",
                                                    real_or_null(data[j], ratio[j] / o->budget),
                                                    "no_data", !data[j])))
                    return eqops__err(c->err, EQOPS_ENOMEM, "report: out of memory");
            }
            if (*first_long_burn < 0 && data[0])
                *first_long_burn = ratio[0] / o->budget;
            double thr = eqops__slo_threshold(w->factor, o);
            bool firing = data[0] && data[1] && ratio[0] > thr && ratio[1] > thr;
            if (firing && k == 0)
                st->page = true;
            if (firing && k == 1)
                st->ticket = true;
            if (!eqops__jappend(
                    alerts, json_pack("{s:s, s:o, s:o, s:f, s:f, s:b, s:b}", "severity",
                                      k ? "ticket" : "page", "long", ms_text(w->long_ms), "short",
                                      ms_text(w->short_ms), "factor", w->factor, "threshold", thr,
                                      "firing", firing, "no_data", !(data[0] && data[1]))))
                return eqops__err(c->err, EQOPS_ENOMEM, "report: out of memory");
        }
    return 0;
}

/* The absent alert fires once the total series has been missing for its `for`: certainly when
 * the total events query finds nothing over `for` plus the rules' default step (the recorded
 * increase it watches spans a step). */
static int absent_json(json_t *out, report_ctx *c, const slo_def *d, report_state *st)
{
    if (d->absent_for_ms <= 0)
        return eqops__jset(out, "absent", json_null())
                   ? 0
                   : eqops__err(c->err, EQOPS_ENOMEM, "report: out of memory");
    double bad, total;
    bool data;
    int rc = counts(c, d, d->absent_for_ms + EQOPS__SLO_DEFAULT_STEP_MS, &bad, &total, &data);
    if (rc != 0)
        return rc;
    if (!data)
        st->nodata = true;
    if (!eqops__jset(out, "absent",
                     json_pack("{s:o, s:b}", "for", ms_text(d->absent_for_ms), "firing", !data)))
        return eqops__err(c->err, EQOPS_ENOMEM, "report: out of memory");
    return 0;
}

static int objective_report(json_t *list, report_ctx *c, const eqops_slo_set *set, const slo_def *d,
                            const slo_objective *o, report_state *st)
{
    int64_t start;
    int rc = period_start(c, d, &start);
    if (rc != 0)
        return rc;
    json_t *r =
        json_pack("{s:s, s:s, s:s, s:s, s:f, s:o, s:o, s:o}", "id", o->id, "service", set->service,
                  "slo", d->name, "objective", o->target_pct, "target", o->target, "window",
                  ms_text(d->period_ms), "from", time_text(start), "to", time_text(c->at_ms));
    if (r == NULL || json_array_append_new(list, r) != 0)
        return eqops__err(c->err, EQOPS_ENOMEM, "report: out of memory");
    eqops_slo_budget b;
    bool data;
    double burn_now = -1;
    if ((rc = budget_json(r, c, d, o, start, &b, &data)) != 0 ||
        (rc = windows_json(r, c, d, o, &burn_now, st)) != 0 || (rc = absent_json(r, c, d, st)) != 0)
        return rc;
    if (!data) {
        st->nodata = true;
        return eqops__jset(r, "exhaustion", json_null())
                   ? 0
                   : eqops__err(c->err, EQOPS_ENOMEM, "report: out of memory");
    }
    if (burn_now < 0)
        burn_now = b.burn_rate;
    int64_t left = 0;
    int exhausts = 0;
    double remaining = b.remaining > 1 ? 1 : b.remaining;
    if ((rc = eqops_slo_time_to_exhaustion(&left, &exhausts, remaining, burn_now, d->period_ms,
                                           c->err)) != 0)
        return rc;
    json_t *ex = json_pack("{s:f, s:b}", "burn_rate", burn_now, "exhausts", exhausts);
    if (ex != NULL && exhausts && !eqops__jset(ex, "in", ms_text(left))) {
        json_decref(ex);
        ex = NULL;
    }
    if (!eqops__jset(r, "exhaustion", ex))
        return eqops__err(c->err, EQOPS_ENOMEM, "report: out of memory");
    return 0;
}

static const size_t report_options_sizes[] = {sizeof(eqops_slo_report_options)};

EQOPS__OPTS_INIT_FN(eqops_slo_report_options_init, eqops_slo_report_options, report_options_sizes)

int eqops_slo_report(char **out, const eqops_slo_set *set, const eqops_slo_report_options *in,
                     eqops_error *err)
{
    if (out == NULL || set == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out == NULL ? "out" : "set", "must not be NULL");
    *out = NULL;
    eqops_slo_report_options oc;
    const eqops_slo_report_options *opts = &oc;
    if (EQOPS__OPTS_READ(&oc, in, report_options_sizes, "slo report options", err) != 0)
        return EQOPS_EINVAL;
    if ((opts->prometheus_url == NULL) == (opts->series == NULL))
        return eqops__err_field(err, EQOPS_EINVAL, "opts",
                                "give either a Prometheus URL or a series");
    report_ctx c = {opts, NULL, opts->at_ms, err};
    int rc = 0;
    if (opts->series != NULL) {
        const eqops_slo_series *s = opts->series;
        if (s->n < 2)
            return eqops__err_field(err, EQOPS_EINVAL, "opts.series", "needs two samples or more");
        if ((rc = eqops__slo_check_series(s, err)) != 0)
            return rc;
        if (c.at_ms == 0)
            c.at_ms = s->t_ms[s->n - 1];
    } else {
        eqops_http_options ho = EQOPS_HTTP_OPTIONS_INIT;
        ho.ca_file = opts->ca_file;
        ho.timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
        ho.cancel = opts->cancel; /* every query and retry wait */
        if ((rc = eqops__http_new(&c.http, &ho, err)) != 0)
            return rc;
        if (c.at_ms == 0)
            c.at_ms = eqops__now_ms();
    }
    json_t *list = json_array();
    if (list == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "report: out of memory");
    report_state st = {false, false, false};
    for (size_t u = 0; rc == 0 && u < set->nunits; u++) {
        const slo_def *d = &set->slos[set->units[u].slo];
        if (eqops_cancel_triggered(opts->cancel)) { /* between objectives, offline too */
            rc = eqops__err(err, EQOPS_ECANCELED, "report: cancelled before objective %s", d->name);
            break;
        }
        rc = objective_report(list, &c, set, d, &d->obj[set->units[u].obj], &st);
    }
    json_t *doc = NULL;
    if (rc == 0) {
        doc = json_pack("{s:s, s:o, s:s, s:{s:b, s:b, s:b}, s:o}", "service", set->service, "at",
                        time_text(c.at_ms), "source", opts->series ? "series" : "prometheus",
                        "conditions", "page", st.page, "ticket", st.ticket, "nodata", st.nodata,
                        "objectives", list);
        list = NULL;
        if (doc == NULL || (*out = eqops__slo_json_text(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                                                 JSON_REAL_PRECISION(12))) == NULL)
            rc = eqops__err(err, EQOPS_ENOMEM, "report: out of memory");
    }
    json_decref(list);
    json_decref(doc);
    eqops__http_free(c.http);
    return rc;
}
