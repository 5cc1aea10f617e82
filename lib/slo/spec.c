/*
 * spec.c - the SLO spec: parsing JSON (or YAML, or OpenSLO) into the model, with every field
 * validated and every error naming the field and the rule; defaults; normalised JSON.
 */
#include "slo_internal.h"

#include "../core/tz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_SLOS 256

/* ---- exact decimals ------------------------------------------------------------------------ */

int eqops__decimal_places(double v)
{
    char buf[32];
    eqops__fmt_double(v, buf);
    const char *e = strpbrk(buf, "eE");
    const char *dot = strchr(buf, '.');
    int places = 0;
    if (dot != NULL)
        places = (int)((e ? e : buf + strlen(buf)) - dot - 1);
    if (e != NULL)
        places -= atoi(e + 1);
    return places < 0 ? 0 : places;
}

double eqops__decimal_round(double v, int places)
{
    if (places > 15)
        return v;
    double scale = pow(10, places);
    return round(v * scale) / scale;
}

/* ---- validation helpers ---------------------------------------------------------------- */

static bool valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

bool eqops__slo_valid_label_name(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return strlen(s) <= 128;
}

static bool valid_metric_name(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' || *s == ':'))
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == ':'))
            return false;
    return strlen(s) <= 200;
}

/* Labels this module sets itself; a spec may not override them. */
static const char *const reserved_labels[] = {
    "slo_id",       "slo_service", "slo_name",      "slo_objective", "severity",     "long_window",
    "short_window", "sloth_id",    "sloth_service", "sloth_slo",     "sloth_window", NULL};

int eqops__slo_parse_labels(json_t **out, const json_t *parent, const char *key,
                            const eqops_jpath *path, bool allow_severity, eqops_error *err)
{
    json_t *obj = NULL;
    int rc = eqops__json_object(parent, key, path, false, &obj, err);
    if (rc != 0)
        return rc;
    *out = json_object();
    if (*out == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (obj == NULL)
        return 0;
    eqops_jpath p;
    eqops__jpath_key(&p, path, key);
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        eqops_jpath kp;
        eqops__jpath_key(&kp, &p, k);
        if (!eqops__slo_valid_label_name(k) || strncmp(k, "__", 2) == 0)
            return eqops__err_field(err, EQOPS_EINVAL, kp.text,
                                    "not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not "
                                    "starting with __)");
        for (size_t i = 0; reserved_labels[i]; i++)
            if (strcmp(k, reserved_labels[i]) == 0 &&
                !(allow_severity && strcmp(k, "severity") == 0))
                return eqops__err_field(err, EQOPS_EINVAL, kp.text,
                                        "is set by eqops itself and cannot be overridden");
        if (!json_is_string(v))
            return eqops__err_field(err, EQOPS_EINVAL, kp.text, "label values must be strings");
        if (json_object_set(*out, k, v) != 0)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    return 0;
}

static int dup_field(char **dst, const char *src, eqops_error *err)
{
    *dst = eqops__strdup(src ? src : "");
    return *dst ? 0 : eqops__err(err, EQOPS_ENOMEM, "out of memory");
}

/* ---- parts of one SLO ------------------------------------------------------------------ */

static int parse_window(slo_def *d, const json_t *slo, const eqops_jpath *path, eqops_error *err)
{
    eqops_jpath p;
    eqops__jpath_key(&p, path, "window");
    json_t *w = json_object_get(slo, "window");
    if (w == NULL || json_is_null(w)) {
        d->period_ms = 30LL * 86400000; /* the default: rolling 30 days */
        return 0;
    }
    if (json_is_string(w)) {
        if (eqops__duration_parse(json_string_value(w), &d->period_ms, NULL) != 0)
            return eqops__err_field(err, EQOPS_EINVAL, p.text,
                                    "unknown window '%.40s': use a duration such as 30d, 28d or "
                                    "7d, or {\"calendar\": \"month\"}",
                                    json_string_value(w));
    } else if (json_is_object(w)) {
        static const char *const keys[] = {"rolling", "calendar", "timezone", NULL};
        int rc = eqops__json_only_keys(w, &p, keys, err);
        const char *unit = NULL, *tz = NULL;
        if (rc == 0)
            rc = eqops__json_string(w, "calendar", &p, false, &unit, err);
        if (rc == 0)
            rc = eqops__json_string(w, "timezone", &p, false, &tz, err);
        if (rc != 0)
            return rc;
        if (unit == NULL) {
            if ((rc = eqops__json_duration(w, "rolling", &p, true, &d->period_ms, err)) != 0)
                return rc;
            if (tz != NULL)
                return eqops__err_field(err, EQOPS_EINVAL, p.text,
                                        "a timezone only applies to calendar windows");
        } else {
            eqops_jpath up;
            eqops__jpath_key(&up, &p, "calendar");
            if (json_object_get(w, "rolling"))
                return eqops__err_field(err, EQOPS_EINVAL, p.text,
                                        "give either rolling or calendar, not both");
            if (strcmp(unit, "week") == 0) {
                d->calendar = CAL_WEEK;
                d->period_ms = 7LL * 86400000;
            } else if (strcmp(unit, "month") == 0) {
                d->calendar = CAL_MONTH;
                d->period_ms = 30LL * 86400000;
            } else if (strcmp(unit, "quarter") == 0) {
                d->calendar = CAL_QUARTER;
                d->period_ms = 91LL * 86400000;
            } else {
                return eqops__err_field(err, EQOPS_EINVAL, up.text,
                                        "unknown calendar window '%.20s': use week, month or "
                                        "quarter",
                                        unit);
            }
            eqops_tz *zone = NULL;
            eqops_jpath tp;
            eqops__jpath_key(&tp, &p, "timezone");
            if ((rc = eqops__tz_load(&zone, tz ? tz : "UTC", err)) != 0) {
                if (rc == EQOPS_ENOMEM)
                    return rc;
                return eqops__err_field(err, EQOPS_EINVAL, tp.text,
                                        "unknown time zone '%.60s' (an IANA name such as "
                                        "Europe/Berlin)",
                                        tz);
            }
            eqops__tz_free(zone);
            if ((rc = dup_field(&d->timezone, tz ? tz : "UTC", err)) != 0)
                return rc;
        }
    } else {
        return eqops__err_field(err, EQOPS_EINVAL, p.text,
                                "must be a duration (\"30d\") or an object");
    }
    if (d->period_ms < 3600000LL || d->period_ms > 400LL * 86400000)
        return eqops__err_field(err, EQOPS_EINVAL, p.text, "must be between 1h and 400d");
    return 0;
}

static int parse_budgeting(slo_def *d, const json_t *slo, const eqops_jpath *path, eqops_error *err)
{
    const char *m = "occurrences";
    eqops_jpath p;
    eqops__jpath_key(&p, path, "budgeting");
    int rc = eqops__json_string(slo, "budgeting", path, false, &m, err);
    if (rc != 0)
        return rc;
    if (strcmp(m, "occurrences") == 0)
        d->budgeting = BUDGET_OCCURRENCES;
    else if (strcmp(m, "timeslices") == 0)
        d->budgeting = BUDGET_TIMESLICES;
    else if (strcmp(m, "ratio-timeslices") == 0)
        d->budgeting = BUDGET_RATIO_TIMESLICES;
    else
        return eqops__err_field(err, EQOPS_EINVAL, p.text,
                                "unknown method '%.30s': use occurrences, timeslices or "
                                "ratio-timeslices",
                                m);
    d->slice_ms = 0;
    if (d->budgeting != BUDGET_OCCURRENCES) {
        d->slice_ms = 60000;
        if ((rc = eqops__json_duration(slo, "slice", path, false, &d->slice_ms, err)) != 0)
            return rc;
        eqops_jpath sp;
        eqops__jpath_key(&sp, path, "slice");
        if (d->slice_ms < 60000 || d->slice_ms > d->period_ms / 10 ||
            d->period_ms % d->slice_ms != 0)
            return eqops__err_field(err, EQOPS_EINVAL, sp.text,
                                    "must be at least 1m, at most a tenth of the window, and "
                                    "divide the window evenly");
    } else if (json_object_get(slo, "slice")) {
        eqops_jpath sp;
        eqops__jpath_key(&sp, path, "slice");
        return eqops__err_field(err, EQOPS_EINVAL, sp.text, "only applies to timeslices budgeting");
    }
    return 0;
}

static int parse_sli(slo_def *d, const json_t *slo, const eqops_jpath *path, eqops_error *err)
{
    json_t *sli = NULL, *ev = NULL, *lat = NULL, *test = NULL;
    eqops_jpath p, ep, lp;
    int rc = eqops__json_object(slo, "sli", path, true, &sli, err);
    if (rc != 0)
        return rc;
    eqops__jpath_key(&p, path, "sli");
    static const char *const keys[] = {"events", "latency", "min_events", "test", NULL};
    if ((rc = eqops__json_only_keys(sli, &p, keys, err)) != 0 ||
        (rc = eqops__json_object(sli, "events", &p, false, &ev, err)) != 0 ||
        (rc = eqops__json_object(sli, "latency", &p, false, &lat, err)) != 0 ||
        (rc = eqops__json_object(sli, "test", &p, false, &test, err)) != 0)
        return rc;
    if ((ev == NULL) == (lat == NULL))
        return eqops__err_field(err, EQOPS_EINVAL, p.text, "give exactly one of events, latency");
    d->min_events = 1;
    if ((rc = eqops__json_number(sli, "min_events", &p, false, &d->min_events, err)) != 0)
        return rc;
    if (d->min_events < 0 || d->min_events > 1e9) {
        eqops_jpath mp;
        eqops__jpath_key(&mp, &p, "min_events");
        return eqops__err_field(err, EQOPS_EINVAL, mp.text, "must be between 0 and 1e9");
    }
    if (ev != NULL) {
        static const char *const ekeys[] = {"bad", "good", "total", NULL};
        const char *bad = NULL, *good = NULL, *total = NULL;
        eqops__jpath_key(&ep, &p, "events");
        d->kind = SLI_EVENTS;
        if ((rc = eqops__json_only_keys(ev, &ep, ekeys, err)) != 0 ||
            (rc = eqops__json_string(ev, "bad", &ep, false, &bad, err)) != 0 ||
            (rc = eqops__json_string(ev, "good", &ep, false, &good, err)) != 0 ||
            (rc = eqops__json_string(ev, "total", &ep, true, &total, err)) != 0)
            return rc;
        if ((bad == NULL) == (good == NULL))
            return eqops__err_field(err, EQOPS_EINVAL, ep.text,
                                    "give exactly one of bad and good, with total");
        eqops_jpath qp, tp;
        eqops__jpath_key(&qp, &ep, bad ? "bad" : "good");
        eqops__jpath_key(&tp, &ep, "total");
        if ((rc = eqops__slo_query_clean(bad ? &d->bad : &d->good, bad ? bad : good, qp.text, true,
                                         err)) != 0 ||
            (rc = eqops__slo_query_clean(&d->total, total, tp.text, true, err)) != 0)
            return rc;
    } else {
        static const char *const lkeys[] = {"metric",  "selector", "threshold",
                                            "buckets", "native",   NULL};
        const char *metric = NULL, *sel = "";
        json_t *buckets = NULL;
        eqops__jpath_key(&lp, &p, "latency");
        d->kind = SLI_LATENCY;
        if ((rc = eqops__json_only_keys(lat, &lp, lkeys, err)) != 0 ||
            (rc = eqops__json_string(lat, "metric", &lp, true, &metric, err)) != 0 ||
            (rc = eqops__json_string(lat, "selector", &lp, false, &sel, err)) != 0 ||
            (rc = eqops__json_number(lat, "threshold", &lp, true, &d->threshold, err)) != 0 ||
            (rc = eqops__json_bool(lat, "native", &lp, false, &d->native, err)) != 0 ||
            (rc = eqops__json_array(lat, "buckets", &lp, !d->native, &buckets, err)) != 0)
            return rc;
        eqops_jpath fp;
        eqops__jpath_key(&fp, &lp, "metric");
        if (!valid_metric_name(metric))
            return eqops__err_field(err, EQOPS_EINVAL, fp.text, "not a Prometheus metric name");
        size_t ml = strlen(metric);
        if ((ml > 7 && strcmp(metric + ml - 7, "_bucket") == 0) ||
            (ml > 6 && strcmp(metric + ml - 6, "_count") == 0))
            return eqops__err_field(err, EQOPS_EINVAL, fp.text,
                                    "name the histogram without _bucket or _count");
        eqops__jpath_key(&fp, &lp, "selector");
        if ((rc = eqops__slo_query_clean(&d->selector, sel, fp.text, false, err)) != 0)
            return rc;
        if (strpbrk(d->selector, "{}") != NULL)
            return eqops__err_field(err, EQOPS_EINVAL, fp.text,
                                    "label matchers without braces, such as job=\"api\"");
        eqops__jpath_key(&fp, &lp, "threshold");
        if (!(d->threshold > 0))
            return eqops__err_field(err, EQOPS_EINVAL, fp.text,
                                    "must be a positive number of "
                                    "seconds");
        if (buckets != NULL) {
            eqops_jpath bp;
            eqops__jpath_key(&bp, &lp, "buckets");
            size_t i;
            json_t *b;
            double prev = 0;
            bool found = false;
            if (json_array_size(buckets) == 0 || json_array_size(buckets) > SLO_MAX_BUCKETS)
                return eqops__err_field(err, EQOPS_EINVAL, bp.text,
                                        "list the histogram's upper bounds (1 to %d of them)",
                                        SLO_MAX_BUCKETS);
            json_array_foreach(buckets, i, b)
            {
                double v = json_number_value(b);
                if (!json_is_number(b) || !(v > prev) || !isfinite(v))
                    return eqops__err_field(err, EQOPS_EINVAL, bp.text,
                                            "bucket bounds must be increasing positive numbers");
                if (fabs(v - d->threshold) <= 1e-12 * v)
                    found = true;
                prev = v;
                d->buckets[d->nbuckets++] = v;
            }
            if (!found)
                return eqops__err_field(
                    err, EQOPS_EINVAL, fp.text,
                    "%g is not a bucket boundary of %s (buckets are cumulative: a threshold "
                    "between boundaries matches no le label)",
                    d->threshold, metric);
        }
        if ((rc = dup_field(&d->metric, metric, err)) != 0)
            return rc;
    }
    if (test != NULL) {
        static const char *const tkeys[] = {"bad", "good", NULL};
        const char *tb = NULL, *tg = NULL;
        eqops_jpath tp;
        eqops__jpath_key(&tp, &p, "test");
        if ((rc = eqops__json_only_keys(test, &tp, tkeys, err)) != 0 ||
            (rc = eqops__json_string(test, "bad", &tp, true, &tb, err)) != 0 ||
            (rc = eqops__json_string(test, "good", &tp, true, &tg, err)) != 0 ||
            (rc = dup_field(&d->test_bad, tb, err)) != 0 ||
            (rc = dup_field(&d->test_good, tg, err)) != 0)
            return rc;
    }
    return 0;
}

static int set_id(slo_objective *o, const char *service, const char *slo, eqops_error *err)
{
    eqops_buf b = EQOPS_BUF_INIT;
    eqops__buf_printf(&b, "%s-%s%s%s", service, slo, o->name[0] ? "-" : "", o->name);
    if ((o->id = eqops__buf_detach(&b)) == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    return 0;
}

static int parse_objective(slo_objective *o, const json_t *obj, const eqops_jpath *p,
                           const slo_def *d, eqops_error *err)
{
    static const char *const keys[] = {"name", "target", "slice_target", NULL};
    const char *name = "";
    double pct = 0, slice_pct = 0;
    int rc;
    if ((rc = eqops__json_only_keys(obj, p, keys, err)) != 0 ||
        (rc = eqops__json_string(obj, "name", p, false, &name, err)) != 0 ||
        (rc = eqops__json_number(obj, "target", p, true, &pct, err)) != 0 ||
        (rc = eqops__json_number(obj, "slice_target", p, d->budgeting == BUDGET_TIMESLICES,
                                 &slice_pct, err)) != 0)
        return rc;
    eqops_jpath tp;
    eqops__jpath_key(&tp, p, "target");
    if (pct >= 100)
        return eqops__err_field(err, EQOPS_EINVAL, tp.text,
                                "%g%% leaves no error budget: the target must be below 100", pct);
    if (pct <= 0)
        return eqops__err_field(err, EQOPS_EINVAL, tp.text,
                                "must be a percentage above 0 (99.9 for three nines)");
    if (pct < 1)
        return eqops__err_field(err, EQOPS_EINVAL, tp.text,
                                "%g looks like a fraction; write the target in percent (%g)", pct,
                                pct * 100);
    if (name[0] && !valid_name(name, 40)) {
        eqops_jpath np;
        eqops__jpath_key(&np, p, "name");
        return eqops__err_field(err, EQOPS_EINVAL, np.text, "use letters, digits, - _ .");
    }
    int places = eqops__decimal_places(pct);
    if (places > 10)
        return eqops__err_field(err, EQOPS_EINVAL, tp.text, "at most 10 decimal places");
    double budget_pct = eqops__decimal_round(100 - pct, places);
    o->target = eqops__decimal_round(pct / 100, places + 2);
    eqops__fmt_double(pct, o->target_pct);
    o->budget = eqops__decimal_round(budget_pct / 100, places + 2);
    eqops__fmt_double(o->budget, o->budget_text);
    if (d->budgeting == BUDGET_TIMESLICES) {
        eqops_jpath sp;
        eqops__jpath_key(&sp, p, "slice_target");
        if (!(slice_pct > 0 && slice_pct < 100))
            return eqops__err_field(err, EQOPS_EINVAL, sp.text, "must be a percentage in (0, 100)");
        o->slice_target = slice_pct / 100;
    }
    return dup_field(&o->name, name, err);
}

static int parse_objectives(slo_def *d, const json_t *slo, const eqops_jpath *path,
                            const char *service, eqops_error *err)
{
    json_t *arr = NULL;
    int rc = eqops__json_array(slo, "objectives", path, false, &arr, err);
    if (rc != 0)
        return rc;
    eqops_jpath p;
    eqops__jpath_key(&p, path, "objectives");
    if (arr == NULL) {
        /* the shortcut: "target": 99.9 on the SLO itself */
        json_t *one = json_object();
        if (one == NULL)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
        json_t *t = json_object_get(slo, "target");
        json_t *st = json_object_get(slo, "slice_target");
        if ((t != NULL && json_object_set(one, "target", t) != 0) ||
            (st != NULL && json_object_set(one, "slice_target", st) != 0)) {
            json_decref(one);
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
        }
        d->nobj = 1;
        rc = parse_objective(&d->obj[0], one, path, d, err);
        json_decref(one);
        return rc == 0 ? set_id(&d->obj[0], service, d->name, err) : rc;
    }
    if (json_object_get(slo, "target"))
        return eqops__err_field(err, EQOPS_EINVAL, p.text,
                                "give either target or objectives, not both");
    if (json_array_size(arr) == 0 || json_array_size(arr) > SLO_MAX_OBJECTIVES)
        return eqops__err_field(err, EQOPS_EINVAL, p.text, "1 to %d objectives",
                                SLO_MAX_OBJECTIVES);
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        eqops_jpath op;
        eqops__jpath_index(&op, &p, i);
        if (!json_is_object(o))
            return eqops__err_field(err, EQOPS_EINVAL, op.text, "must be an object");
        d->nobj = i + 1;
        if ((rc = parse_objective(&d->obj[i], o, &op, d, err)) != 0)
            return rc;
        if (json_array_size(arr) > 1 && d->obj[i].name[0] == '\0') {
            eqops_jpath np;
            eqops__jpath_key(&np, &op, "name");
            return eqops__err_field(err, EQOPS_EINVAL, np.text,
                                    "required when an SLO has several objectives");
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(d->obj[j].name, d->obj[i].name) == 0)
                return eqops__err_field(err, EQOPS_EINVAL, op.text, "duplicate objective name");
        if ((rc = set_id(&d->obj[i], service, d->name, err)) != 0)
            return rc;
    }
    return 0;
}

static int parse_slo(slo_def *d, const json_t *slo, const eqops_jpath *path, const char *service,
                     const json_t *service_labels, eqops_error *err)
{
    static const char *const keys[] = {"name",      "description",  "labels",   "window",
                                       "budgeting", "slice",        "sli",      "objectives",
                                       "target",    "slice_target", "alerting", NULL};
    const char *name = NULL, *desc = "";
    int rc;
    if (!json_is_object(slo))
        return eqops__err_field(err, EQOPS_EINVAL, path->text, "must be an object");
    if ((rc = eqops__json_only_keys(slo, path, keys, err)) != 0 ||
        (rc = eqops__json_string(slo, "name", path, true, &name, err)) != 0 ||
        (rc = eqops__json_string(slo, "description", path, false, &desc, err)) != 0)
        return rc;
    if (!valid_name(name, 63)) {
        eqops_jpath np;
        eqops__jpath_key(&np, path, "name");
        return eqops__err_field(err, EQOPS_EINVAL, np.text,
                                "1 to 63 letters, digits, '-', '_' or '.'");
    }
    if ((rc = dup_field(&d->name, name, err)) != 0 ||
        (rc = dup_field(&d->description, desc, err)) != 0 ||
        (rc = eqops__slo_parse_labels(&d->labels, slo, "labels", path, false, err)) != 0)
        return rc;
    /* service labels apply unless the SLO sets its own value */
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)service_labels, k, v)
    {
        if (json_object_get(d->labels, k) == NULL && json_object_set(d->labels, k, v) != 0)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    if ((rc = parse_window(d, slo, path, err)) != 0 ||
        (rc = parse_budgeting(d, slo, path, err)) != 0 ||
        (rc = parse_sli(d, slo, path, err)) != 0 ||
        (rc = parse_objectives(d, slo, path, service, err)) != 0 ||
        (rc = eqops__slo_parse_alerting(d, slo, service, path, err)) != 0)
        return rc;
    return 0;
}

static void free_def(slo_def *d)
{
    eqops__free(d->name);
    eqops__free(d->description);
    json_decref(d->labels);
    eqops__free(d->timezone);
    eqops__free(d->bad);
    eqops__free(d->good);
    eqops__free(d->total);
    eqops__free(d->metric);
    eqops__free(d->selector);
    eqops__free(d->test_bad);
    eqops__free(d->test_good);
    for (size_t i = 0; i < d->nobj; i++) {
        eqops__free(d->obj[i].name);
        eqops__free(d->obj[i].id);
    }
    eqops__free(d->alert_name);
    json_decref(d->alert_labels);
    json_decref(d->alert_annotations);
    json_decref(d->page.labels);
    json_decref(d->ticket.labels);
}

void eqops_slo_set_free(eqops_slo_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->n; i++)
        free_def(&set->slos[i]);
    eqops__free(set->slos);
    eqops__free(set->units);
    eqops__free(set->service);
    json_decref(set->labels);
    eqops__free(set);
}

int eqops__slo_set_from_json(eqops_slo_set **out, const json_t *doc, eqops_error *err)
{
    static const char *const keys[] = {"version", "service", "labels", "slos", NULL};
    eqops_jpath root;
    eqops__jpath_init(&root, "");
    const char *service = NULL, *version = "eqops/slo/v1";
    json_t *slos = NULL;
    int rc;
    *out = NULL;
    if (!json_is_object(doc))
        return eqops__err_field(err, EQOPS_EINVAL, "(spec)", "must be an object");
    if ((rc = eqops__json_only_keys(doc, &root, keys, err)) != 0 ||
        (rc = eqops__json_string(doc, "version", &root, false, &version, err)) != 0 ||
        (rc = eqops__json_string(doc, "service", &root, true, &service, err)) != 0 ||
        (rc = eqops__json_array(doc, "slos", &root, true, &slos, err)) != 0)
        return rc;
    if (strcmp(version, "eqops/slo/v1") != 0)
        return eqops__err_field(err, EQOPS_EINVAL, "version",
                                "unknown version '%.30s' (this "
                                "library reads eqops/slo/v1)",
                                version);
    if (!valid_name(service, 63))
        return eqops__err_field(err, EQOPS_EINVAL, "service",
                                "1 to 63 letters, digits, '-', '_' or '.'");
    size_t n = json_array_size(slos);
    if (n == 0 || n > MAX_SLOS)
        return eqops__err_field(err, EQOPS_EINVAL, "slos", "1 to %d SLOs", MAX_SLOS);
    eqops_slo_set *set = eqops__calloc(1, sizeof(*set));
    if (set == NULL || (set->slos = eqops__calloc(n, sizeof(slo_def))) == NULL ||
        (set->service = eqops__strdup(service)) == NULL) {
        eqops_slo_set_free(set);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    if ((rc = eqops__slo_parse_labels(&set->labels, doc, "labels", &root, false, err)) != 0)
        goto fail;
    eqops_jpath sp;
    eqops__jpath_key(&sp, &root, "slos");
    size_t units = 0;
    for (size_t i = 0; i < n; i++) {
        eqops_jpath ip;
        eqops__jpath_index(&ip, &sp, i);
        set->n = i + 1;
        if ((rc = parse_slo(&set->slos[i], json_array_get(slos, i), &ip, service, set->labels,
                            err)) != 0)
            goto fail;
        for (size_t j = 0; j < i; j++)
            if (strcmp(set->slos[j].name, set->slos[i].name) == 0) {
                rc = eqops__err_field(err, EQOPS_EINVAL, ip.text, "duplicate SLO name '%s'",
                                      set->slos[i].name);
                goto fail;
            }
        units += set->slos[i].nobj;
    }
    if ((set->units = eqops__calloc(units, sizeof(*set->units))) == NULL) {
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < set->slos[i].nobj; j++) {
            set->units[set->nunits].slo = i;
            set->units[set->nunits].obj = j;
            set->nunits++;
        }
    *out = set;
    return 0;
fail:
    eqops_slo_set_free(set);
    return rc;
}

static bool looks_like_openslo(const json_t *docs)
{
    const json_t *first = json_array_get(docs, 0);
    const char *api = json_string_value(json_object_get(first, "apiVersion"));
    return api != NULL && strncmp(api, "openslo/", 8) == 0;
}

int eqops_slo_set_parse(eqops_slo_set **out, const char *text, size_t len, eqops_slo_format format,
                        eqops_error *err)
{
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out = NULL;
    if (text == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "text", "must not be NULL");
    if (format == EQOPS_SLO_FORMAT_AUTO) {
        size_t i = 0;
        while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r'))
            i++;
        format = i < len && text[i] == '{' ? EQOPS_SLO_FORMAT_JSON : EQOPS_SLO_FORMAT_YAML;
    }
    json_t *doc = NULL;
    int rc;
    if (format == EQOPS_SLO_FORMAT_JSON) {
        rc = eqops__json_parse(&doc, text, len, "SLO spec", err);
    } else if (format == EQOPS_SLO_FORMAT_YAML) {
        json_t *docs = NULL;
        rc = eqops__yaml_parse(&docs, text, len, true, "SLO spec", err);
        if (rc == 0 && json_array_size(docs) > 0 && looks_like_openslo(docs)) {
            rc = eqops__slo_openslo_to_spec(&doc, docs, err);
        } else if (rc == 0 && json_array_size(docs) == 1) {
            doc = json_incref(json_array_get(docs, 0));
        } else if (rc == 0) {
            rc = eqops__err(err, EQOPS_EINVAL, "SLO spec: expected one YAML document, found %zu",
                            json_array_size(docs));
        }
        json_decref(docs);
    } else {
        return eqops__err_field(err, EQOPS_EINVAL, "format", "unknown format %d", (int)format);
    }
    if (rc == 0)
        rc = eqops__slo_set_from_json(out, doc, err);
    json_decref(doc);
    return rc;
}

int eqops_slo_set_load(eqops_slo_set **out, const char *path, eqops_error *err)
{
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = eqops__read_file(&text, &len, path, EQOPS__DOC_MAX_BYTES, err);
    if (rc != 0)
        return rc;
    size_t pl = strlen(path);
    eqops_slo_format f = EQOPS_SLO_FORMAT_AUTO;
    if (pl > 5 && strcmp(path + pl - 5, ".json") == 0)
        f = EQOPS_SLO_FORMAT_JSON;
    else if ((pl > 5 && strcmp(path + pl - 5, ".yaml") == 0) ||
             (pl > 4 && strcmp(path + pl - 4, ".yml") == 0))
        f = EQOPS_SLO_FORMAT_YAML;
    rc = eqops_slo_set_parse(out, text, len, f, err);
    eqops__free(text);
    if (rc != 0)
        eqops__err_prefix(err, "%s: ", path);
    return rc;
}

size_t eqops_slo_set_count(const eqops_slo_set *set)
{
    return set ? set->nunits : 0;
}

const char *eqops_slo_set_id(const eqops_slo_set *set, size_t i)
{
    if (set == NULL || i >= set->nunits)
        return NULL;
    return set->slos[set->units[i].slo].obj[set->units[i].obj].id;
}

double eqops_slo_set_target(const eqops_slo_set *set, size_t i)
{
    if (set == NULL || i >= set->nunits)
        return 0;
    return set->slos[set->units[i].slo].obj[set->units[i].obj].target;
}

int64_t eqops_slo_set_period_ms(const eqops_slo_set *set, size_t i)
{
    if (set == NULL || i >= set->nunits)
        return 0;
    return set->slos[set->units[i].slo].period_ms;
}
