/*
 * spec_json.c - the normalised spec: what eqops understood, every default filled in, as
 * JSON that parses back to the same SLOs.
 */
#include "slo_internal.h"

static json_t *duration(int64_t ms)
{
    char b[48];
    eqops__duration_format(ms, b);
    return json_string(b);
}

static json_t *policy_json(const slo_policy *p)
{
    if (!p->enabled)
        return json_false();
    json_t *ws = json_array();
    for (size_t i = 0; ws && i < p->n; i++) {
        json_t *w = json_pack("{s:o, s:o, s:f, s:o}", "long", duration(p->w[i].long_ms), "short",
                              duration(p->w[i].short_ms), "factor", p->w[i].factor, "for",
                              duration(p->w[i].for_ms));
        if (w == NULL || json_array_append_new(ws, w) != 0) {
            json_decref(ws);
            return NULL;
        }
    }
    return ws ? json_pack("{s:O, s:o}", "labels", p->labels, "windows", ws) : NULL;
}

static json_t *window_json(const slo_def *d)
{
    static const char *const units[] = {"", "week", "month", "quarter"};
    if (d->calendar == CAL_NONE)
        return duration(d->period_ms);
    return json_pack("{s:s, s:s}", "calendar", units[d->calendar], "timezone", d->timezone);
}

static json_t *sli_json(const slo_def *d)
{
    json_t *sli;
    bool ok;
    if (d->kind == SLI_EVENTS) {
        sli = json_pack("{s:{s:s}}", "events", "total", d->total);
        ok = sli != NULL && eqops__jset(json_object_get(sli, "events"), d->bad ? "bad" : "good",
                                        json_string(d->bad ? d->bad : d->good));
    } else {
        json_t *buckets = d->nbuckets ? json_array() : json_null();
        ok = buckets != NULL;
        for (size_t i = 0; ok && i < d->nbuckets; i++)
            ok = eqops__jappend(buckets, json_real(d->buckets[i]));
        sli = ok ? json_pack("{s:{s:s, s:s, s:f, s:b, s:O}}", "latency", "metric", d->metric,
                             "selector", d->selector, "threshold", d->threshold, "native",
                             d->native, "buckets", buckets)
                 : NULL;
        json_decref(buckets);
        ok = sli != NULL;
    }
    ok = ok && eqops__jset(sli, "min_events", json_real(d->min_events));
    if (ok && d->test_bad != NULL)
        ok = eqops__jset(sli, "test",
                         json_pack("{s:s, s:s}", "bad", d->test_bad, "good", d->test_good));
    if (!ok) {
        json_decref(sli);
        return NULL;
    }
    return sli;
}

static json_t *slo_json(const slo_def *d)
{
    static const char *const methods[] = {"occurrences", "timeslices", "ratio-timeslices"};
    json_t *objs = json_array();
    for (size_t i = 0; objs && i < d->nobj; i++) {
        json_t *o = json_pack("{s:s, s:f}", "name", d->obj[i].name, "target",
                              strtod(d->obj[i].target_pct, NULL));
        bool ok = o != NULL;
        if (ok && d->budgeting == BUDGET_TIMESLICES)
            ok = eqops__jset(o, "slice_target",
                             json_real(eqops__decimal_round(d->obj[i].slice_target * 100, 10)));
        if (!ok || !eqops__jappend(objs, o)) {
            if (!ok)
                json_decref(o);
            json_decref(objs);
            return NULL;
        }
    }
    json_t *alerting = json_false();
    if (d->alerting)
        alerting = json_pack("{s:s, s:O, s:O, s:o, s:o, s:o}", "name", d->alert_name, "labels",
                             d->alert_labels, "annotations", d->alert_annotations, "page",
                             policy_json(&d->page), "ticket", policy_json(&d->ticket), "absent",
                             d->absent_for_ms ? duration(d->absent_for_ms) : json_false());
    json_t *s = json_pack("{s:s, s:s, s:O, s:o, s:s, s:o, s:o, s:o}", "name", d->name,
                          "description", d->description, "labels", d->labels, "window",
                          window_json(d), "budgeting", methods[d->budgeting], "sli", sli_json(d),
                          "objectives", objs, "alerting", alerting);
    if (s != NULL && d->budgeting != BUDGET_OCCURRENCES &&
        !eqops__jset(s, "slice", duration(d->slice_ms))) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static int dump_to_buf(const char *text, size_t size, void *payload)
{
    eqops_buf *b = payload;
    eqops__buf_put(b, text, size);
    return eqops__buf_ok(b) ? -1 : 0;
}

char *eqops__slo_json_text(const json_t *doc, size_t flags)
{
    eqops_buf b = EQOPS_BUF_INIT;
    if (json_dump_callback(doc, dump_to_buf, &b, flags) != 0 || eqops__buf_ok(&b) != 0) {
        eqops__buf_free(&b);
        return NULL;
    }
    return eqops__buf_detach(&b);
}

int eqops_slo_set_to_json(char **out, const eqops_slo_set *set, eqops_error *err)
{
    if (out == NULL || set == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "set" : "out", "must not be NULL");
    *out = NULL;
    json_t *slos = json_array();
    for (size_t i = 0; slos && i < set->n; i++) {
        json_t *s = slo_json(&set->slos[i]);
        if (s == NULL || json_array_append_new(slos, s) != 0) {
            json_decref(slos);
            slos = NULL;
        }
    }
    json_t *doc = slos ? json_pack("{s:s, s:s, s:O, s:o}", "version", "eqops/slo/v1", "service",
                                   set->service, "labels", set->labels, "slos", slos)
                       : NULL;
    if (doc != NULL)
        *out = eqops__slo_json_text(doc,
                                    JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(doc);
    return *out ? 0 : eqops__err(err, EQOPS_ENOMEM, "SLO spec: out of memory");
}
