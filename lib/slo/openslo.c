/*
 * openslo.c - OpenSLO v1 documents (SLO and SLI kinds) translated into the eqops spec.
 *
 * What maps: SLO metadata.name, spec.service, spec.description, inline or referenced SLIs
 * with a ratioMetric over Prometheus counters (good or bad, and total), rolling or calendar
 * time windows (1w / 1M / 1Q with a time zone), the three budgeting methods, objectives with
 * target or targetPercent and time-slice targets. What does not (thresholdMetric SLIs, raw
 * ratios, non-Prometheus sources, OpenSLO alert policies, which are single-window) is refused
 * with a message, or for alert policies replaced by the default multi-window alerts.
 */
#include "slo_internal.h"

#include <ctype.h>
#include <strings.h>
#include <stdio.h>

static const json_t *field(const json_t *o, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(o, a);
    if (v && b)
        v = json_object_get(v, b);
    if (v && c)
        v = json_object_get(v, c);
    return v;
}

static const char *str(const json_t *o, const char *a, const char *b, const char *c)
{
    return json_string_value(field(o, a, b, c));
}

static int fail(eqops_error *err, size_t doc, const char *where, const char *msg)
{
    char f[128];
    snprintf(f, sizeof(f), "documents[%zu].%.80s", doc, where);
    return eqops__err_field(err, EQOPS_EINVAL, f, "%s", msg);
}

/* "good"/"bad"/"total" of a ratioMetric as a rate query over {{.window}}. */
static int rate_query(char **out, const json_t *part, size_t doc, const char *name,
                      eqops_error *err)
{
    char where[80];
    snprintf(where, sizeof(where), "spec.ratioMetric.%s.metricSource", name);
    const json_t *src = field(part, "metricSource", NULL, NULL);
    const char *type = str(src, "type", NULL, NULL);
    const char *q = str(src, "spec", "query", NULL);
    if (type == NULL || strcasecmp(type, "prometheus") != 0)
        return fail(err, doc, where, "only Prometheus metric sources are supported");
    if (q == NULL || q[0] == '\0')
        return fail(err, doc, where, "spec.query is required");
    /* without its comments, which would swallow the range eqops appends */
    char qf[160], *clean = NULL;
    snprintf(qf, sizeof(qf), "documents[%zu].%s.spec.query", doc, where);
    int rc = eqops__slo_query_clean(&clean, q, qf, false, err);
    if (rc != 0)
        return rc;
    /* outside strings: a placeholder in either spelling, or a function or a range */
    size_t holes = 0;
    bool calls = false;
    eqops__slo_query_shape(clean, &holes, &calls);
    eqops_buf b = EQOPS_BUF_INIT;
    if (holes > 0)
        eqops__buf_puts(&b, clean);
    else if (!calls)
        eqops__buf_printf(&b, "sum(rate(%s[{{.window}}]))", clean);
    else
        rc = fail(err, doc, where,
                  "write the query as a counter selector (http_requests_total{code=\"500\"}) "
                  "or with a {{.window}} range");
    eqops__free(clean);
    if (rc != 0) {
        eqops__buf_free(&b);
        return rc;
    }
    if ((*out = eqops__buf_detach(&b)) == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    return 0;
}

static int sli_events(json_t *sli, const json_t *ind_spec, size_t doc, eqops_error *err)
{
    const json_t *ratio = field(ind_spec, "ratioMetric", NULL, NULL);
    if (ratio == NULL) {
        if (field(ind_spec, "thresholdMetric", NULL, NULL) != NULL)
            return fail(err, doc, "spec.thresholdMetric",
                        "threshold SLIs are not supported: use a ratioMetric, or the eqops "
                        "latency SLI for histograms");
        return fail(err, doc, "spec", "the SLI needs a ratioMetric");
    }
    if (!json_is_true(json_object_get(ratio, "counter")))
        return fail(err, doc, "spec.ratioMetric.counter",
                    "only counters (counter: true) are supported");
    if (json_object_get(ratio, "raw") != NULL)
        return fail(err, doc, "spec.ratioMetric.raw", "raw ratios are not supported");
    const char *kinds[] = {"good", "bad", "total"};
    json_t *events = json_object();
    if (events == NULL || json_object_set_new(sli, "events", events) != 0)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    for (size_t i = 0; i < 3; i++) {
        const json_t *part = json_object_get(ratio, kinds[i]);
        if (part == NULL)
            continue;
        char *q = NULL;
        int rc = rate_query(&q, part, doc, kinds[i], err);
        if (rc != 0)
            return rc;
        rc = json_object_set_new(events, kinds[i], json_string(q));
        eqops__free(q);
        if (rc != 0)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    return 0;
}

static int window(json_t *slo, const json_t *spec, size_t doc, eqops_error *err)
{
    const json_t *tw = json_object_get(spec, "timeWindow");
    if (tw == NULL)
        return 0;
    if (!json_is_array(tw) || json_array_size(tw) != 1)
        return fail(err, doc, "spec.timeWindow", "exactly one time window");
    const json_t *w = json_array_get(tw, 0);
    const char *dur = str(w, "duration", NULL, NULL);
    if (dur == NULL)
        return fail(err, doc, "spec.timeWindow[0].duration", "required");
    json_t *out;
    if (json_is_true(json_object_get(w, "isRolling"))) {
        out = json_string(dur);
    } else {
        const char *unit = strcmp(dur, "1w") == 0 || strcmp(dur, "7d") == 0 ? "week"
                           : strcmp(dur, "1M") == 0                         ? "month"
                           : strcmp(dur, "1Q") == 0                         ? "quarter"
                                                                            : NULL;
        if (unit == NULL)
            return fail(err, doc, "spec.timeWindow[0].duration",
                        "calendar windows are 1w, 1M or 1Q");
        const char *tz = str(w, "calendar", "timeZone", NULL);
        out = json_pack("{s:s, s:s}", "calendar", unit, "timezone", tz ? tz : "UTC");
    }
    if (out == NULL || json_object_set_new(slo, "window", out) != 0)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    return 0;
}

/* A name usable as an eqops SLO/objective name. */
static json_t *slug(const char *s)
{
    char buf[64];
    size_t n = 0;
    for (; *s && n < sizeof(buf) - 1; s++)
        buf[n++] = isalnum((unsigned char)*s) || *s == '-' || *s == '_' || *s == '.'
                       ? (char)tolower((unsigned char)*s)
                       : '-';
    buf[n] = '\0';
    return json_string(buf);
}

static int objectives(json_t *slo, const json_t *spec, size_t doc, bool timeslices,
                      eqops_error *err)
{
    const json_t *objs = json_object_get(spec, "objectives");
    if (!json_is_array(objs) || json_array_size(objs) == 0)
        return fail(err, doc, "spec.objectives", "at least one objective");
    json_t *out = json_array();
    if (out == NULL || json_object_set_new(slo, "objectives", out) != 0)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o)
    {
        char where[64];
        snprintf(where, sizeof(where), "spec.objectives[%zu]", i);
        json_t *e = json_object();
        if (e == NULL || json_array_append_new(out, e) != 0)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
        const json_t *t = json_object_get(o, "target");
        const json_t *tp = json_object_get(o, "targetPercent");
        double pct;
        if (json_is_number(tp)) {
            pct = json_number_value(tp);
        } else if (json_is_number(t)) {
            double f = json_number_value(t);
            pct = eqops__decimal_round(f * 100, eqops__decimal_places(f));
        } else {
            return fail(err, doc, where, "needs target (0.999) or targetPercent (99.9)");
        }
        const char *name = str(o, "displayName", NULL, NULL);
        if (json_object_set_new(e, "target", json_real(pct)) != 0 ||
            (json_array_size(objs) > 1 &&
             json_object_set_new(e, "name", name ? slug(name) : json_sprintf("o%zu", i)) != 0))
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
        const json_t *st = json_object_get(o, "timeSliceTarget");
        if (timeslices) {
            if (!json_is_number(st))
                return fail(err, doc, where, "timeslices budgeting needs timeSliceTarget");
            double f = json_number_value(st);
            if (json_object_set_new(
                    e, "slice_target",
                    json_real(eqops__decimal_round(f * 100, eqops__decimal_places(f)))) != 0)
                return eqops__err(err, EQOPS_ENOMEM, "out of memory");
        }
        const char *sw = str(o, "timeSliceWindow", NULL, NULL);
        if (sw != NULL && json_object_set_new(slo, "slice", json_string(sw)) != 0)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    return 0;
}

static const json_t *find_sli(const json_t *docs, const char *name)
{
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d)
    {
        const char *kind = str(d, "kind", NULL, NULL);
        const char *n = str(d, "metadata", "name", NULL);
        if (kind && n && strcmp(kind, "SLI") == 0 && strcmp(n, name) == 0)
            return d;
    }
    return NULL;
}

static int one_slo(json_t *slos, const json_t *docs, const json_t *d, size_t doc,
                   const char **service, eqops_error *err)
{
    const json_t *spec = json_object_get(d, "spec");
    const char *name = str(d, "metadata", "name", NULL);
    const char *svc = str(spec, "service", NULL, NULL);
    if (name == NULL)
        return fail(err, doc, "metadata.name", "required");
    if (svc == NULL)
        return fail(err, doc, "spec.service", "required");
    if (*service != NULL && strcmp(*service, svc) != 0)
        return fail(err, doc, "spec.service", "all SLOs of one file must share a service");
    *service = svc;
    const json_t *ind = json_object_get(spec, "indicator");
    const char *ref = str(spec, "indicatorRef", NULL, NULL);
    if (ind == NULL && ref != NULL) {
        ind = find_sli(docs, ref);
        if (ind == NULL)
            return fail(err, doc, "spec.indicatorRef", "no SLI document with that name");
    }
    if (ind == NULL)
        return fail(err, doc, "spec.indicator", "an indicator or indicatorRef is required");
    json_t *slo = json_object(), *sli = json_object();
    if (slo == NULL || sli == NULL || json_array_append_new(slos, slo) != 0 ||
        json_object_set_new(slo, "name", slug(name)) != 0 ||
        json_object_set_new(slo, "sli", sli) != 0) {
        json_decref(sli);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    const char *desc = str(spec, "description", NULL, NULL);
    if (desc != NULL && json_object_set_new(slo, "description", json_string(desc)) != 0)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    int rc = sli_events(sli, json_object_get(ind, "spec"), doc, err);
    if (rc != 0)
        return rc;
    const char *method = str(spec, "budgetingMethod", NULL, NULL);
    bool timeslices = method && strcmp(method, "Timeslices") == 0;
    if (method != NULL) {
        const char *m = strcmp(method, "Occurrences") == 0       ? "occurrences"
                        : timeslices                             ? "timeslices"
                        : strcmp(method, "RatioTimeslices") == 0 ? "ratio-timeslices"
                                                                 : NULL;
        if (m == NULL)
            return fail(err, doc, "spec.budgetingMethod",
                        "use Occurrences, Timeslices or RatioTimeslices");
        if (json_object_set_new(slo, "budgeting", json_string(m)) != 0)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    if ((rc = window(slo, spec, doc, err)) != 0 ||
        (rc = objectives(slo, spec, doc, timeslices, err)) != 0)
        return rc;
    return 0;
}

int eqops__slo_openslo_to_spec(json_t **out, const json_t *docs, eqops_error *err)
{
    *out = NULL;
    json_t *spec = json_object(), *slos = json_array();
    const char *service = NULL;
    int rc = 0;
    if (spec == NULL || slos == NULL || json_object_set_new(spec, "slos", slos) != 0) {
        json_decref(spec);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d)
    {
        const char *api = str(d, "apiVersion", NULL, NULL);
        const char *kind = str(d, "kind", NULL, NULL);
        if (api == NULL || strcmp(api, "openslo/v1") != 0) {
            rc = fail(err, i, "apiVersion", "only openslo/v1 documents are read");
            break;
        }
        if (kind != NULL && strcmp(kind, "SLO") == 0 &&
            (rc = one_slo(slos, docs, d, i, &service, err)) != 0)
            break;
    }
    if (rc == 0 && service == NULL)
        rc = eqops__err(err, EQOPS_EINVAL, "OpenSLO: no document of kind SLO");
    if (rc == 0 && json_object_set_new(spec, "service", json_string(service)) != 0)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (rc != 0) {
        json_decref(spec);
        return rc;
    }
    *out = spec;
    return 0;
}
