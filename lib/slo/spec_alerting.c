/*
 * spec_alerting.c - the alerting part of an SLO spec: alert name, labels and annotations, the
 * page and ticket policies with their windows (the defaults, or factors and budget fractions
 * given), and the absent alert; every window must be able to fire.
 */
#include "slo_internal.h"

static int parse_policy(slo_def *d, slo_policy *pol, const json_t *alerting, const char *key,
                        int severity, const eqops_jpath *path, eqops_error *err)
{
    eqops_jpath p;
    eqops__jpath_key(&p, path, key);
    json_t *v = alerting ? json_object_get(alerting, key) : NULL;
    pol->enabled = !json_is_false(v);
    int rc = 0;
    if (v != NULL && !json_is_false(v) && !json_is_object(v))
        return eqops__err_field(err, EQOPS_EINVAL, p.text, "must be an object or false");
    if (!pol->enabled) {
        pol->labels = json_object();
        return pol->labels ? 0 : eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    static const char *const keys[] = {"labels", "windows", NULL};
    json_t *windows = NULL;
    if (v != NULL && ((rc = eqops__json_only_keys(v, &p, keys, err)) != 0 ||
                      (rc = eqops__json_array(v, "windows", &p, false, &windows, err)) != 0))
        return rc;
    if ((rc = eqops__slo_parse_labels(&pol->labels, v, "labels", &p, true, err)) != 0)
        return rc;
    if (json_object_get(pol->labels, "severity") == NULL &&
        !eqops__jset(pol->labels, "severity", json_string(severity ? "ticket" : "page")))
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (windows == NULL) {
        rc = eqops_slo_default_windows(pol->w, SLO_MAX_WINDOWS, &pol->n, d->period_ms, severity,
                                       err);
        /* a window too short for every default alert window gets none of this severity */
        if (rc == 0 && pol->n == 0)
            pol->enabled = false;
        return rc;
    }
    eqops_jpath wp;
    eqops__jpath_key(&wp, &p, "windows");
    if (json_array_size(windows) == 0 || json_array_size(windows) > SLO_MAX_WINDOWS)
        return eqops__err_field(err, EQOPS_EINVAL, wp.text, "1 to %d windows", SLO_MAX_WINDOWS);
    size_t i;
    json_t *w;
    json_array_foreach(windows, i, w)
    {
        static const char *const wkeys[] = {"long", "short", "factor", "budget", "for", NULL};
        eqops_jpath ip;
        eqops__jpath_index(&ip, &wp, i);
        eqops_slo_alert_window *aw = &pol->w[i];
        double budget_pct = 0;
        if (!json_is_object(w))
            return eqops__err_field(err, EQOPS_EINVAL, ip.text, "must be an object");
        aw->short_ms = 0;
        aw->for_ms = 0;
        aw->factor = 0;
        if ((rc = eqops__json_only_keys(w, &ip, wkeys, err)) != 0 ||
            (rc = eqops__json_duration(w, "long", &ip, true, &aw->long_ms, err)) != 0 ||
            (rc = eqops__json_duration(w, "short", &ip, false, &aw->short_ms, err)) != 0 ||
            (rc = eqops__json_duration(w, "for", &ip, false, &aw->for_ms, err)) != 0 ||
            (rc = eqops__json_number(w, "factor", &ip, false, &aw->factor, err)) != 0 ||
            (rc = eqops__json_number(w, "budget", &ip, false, &budget_pct, err)) != 0)
            return rc;
        eqops_jpath fp;
        eqops__jpath_key(&fp, &ip, "factor");
        if ((aw->factor > 0) == (budget_pct > 0))
            return eqops__err_field(err, EQOPS_EINVAL, ip.text,
                                    "give a positive factor (14.4) or budget percent (2), not "
                                    "both");
        if (aw->long_ms < 60000 || aw->long_ms >= d->period_ms) {
            eqops_jpath lp;
            eqops__jpath_key(&lp, &ip, "long");
            return eqops__err_field(err, EQOPS_EINVAL, lp.text,
                                    "must be at least 1m and shorter than the SLO window");
        }
        if (aw->short_ms == 0)
            aw->short_ms = aw->long_ms / 12;
        if (aw->short_ms < 60000 || aw->short_ms >= aw->long_ms) {
            eqops_jpath sp;
            eqops__jpath_key(&sp, &ip, "short");
            return eqops__err_field(err, EQOPS_EINVAL, sp.text,
                                    "must be at least 1m and shorter than long");
        }
        if (budget_pct > 0) {
            if (budget_pct > 100)
                return eqops__err_field(err, EQOPS_EINVAL, fp.text, "budget must be <= 100%%");
            aw->factor = budget_pct / 100 * (double)d->period_ms / (double)aw->long_ms;
        }
        pol->n = i + 1;
    }
    return 0;
}

/* Every window must be able to fire for every objective of the SLO. */
static int check_policy_can_fire(const slo_def *d, const slo_policy *pol, const char *key,
                                 const eqops_jpath *path, eqops_error *err)
{
    for (size_t o = 0; o < d->nobj; o++)
        for (size_t i = 0; pol->enabled && i < pol->n; i++) {
            double need = pol->w[i].factor * d->obj[o].budget;
            if (need >= 1) {
                eqops_jpath p, wp, ip;
                eqops__jpath_key(&p, path, key);
                eqops__jpath_key(&wp, &p, "windows");
                eqops__jpath_index(&ip, &wp, i);
                return eqops__err_field(err, EQOPS_EINVAL, ip.text,
                                        "with a %s%% objective a burn factor of %g needs an error "
                                        "ratio of %g: the alert can never fire (factor x (1 - "
                                        "target) must stay below 1)",
                                        d->obj[o].target_pct, pol->w[i].factor, need);
            }
        }
    return 0;
}

static char *camel(const char *a, const char *b, const char *suffix)
{
    eqops_buf buf = EQOPS_BUF_INIT;
    if (a[0] >= '0' && a[0] <= '9') /* alert names cannot start with a digit */
        eqops__buf_puts(&buf, "SLO");
    const char *parts[] = {a, b, suffix};
    for (size_t k = 0; k < 3; k++) {
        bool up = true;
        for (const char *p = parts[k]; *p; p++) {
            if (*p == '-' || *p == '_' || *p == '.' || *p == ' ') {
                up = true;
                continue;
            }
            char c = *p;
            if (up && c >= 'a' && c <= 'z')
                c = (char)(c - 'a' + 'A');
            eqops__buf_putc(&buf, c);
            up = false;
        }
    }
    return eqops__buf_detach(&buf);
}

int eqops__slo_parse_alerting(slo_def *d, const json_t *slo, const char *service,
                              const eqops_jpath *path, eqops_error *err)
{
    json_t *a = json_object_get(slo, "alerting");
    eqops_jpath p;
    eqops__jpath_key(&p, path, "alerting");
    int rc = 0;
    d->alerting = !json_is_false(a);
    if (a != NULL && !json_is_false(a) && !json_is_object(a))
        return eqops__err_field(err, EQOPS_EINVAL, p.text, "must be an object or false");
    if (!json_is_object(a))
        a = NULL;
    static const char *const keys[] = {"name",   "labels", "annotations", "page",
                                       "ticket", "absent", NULL};
    const char *name = NULL;
    if (a != NULL && ((rc = eqops__json_only_keys(a, &p, keys, err)) != 0 ||
                      (rc = eqops__json_string(a, "name", &p, false, &name, err)) != 0))
        return rc;
    if (name != NULL && !eqops__slo_valid_label_name(name)) {
        eqops_jpath np;
        eqops__jpath_key(&np, &p, "name");
        return eqops__err_field(err, EQOPS_EINVAL, np.text,
                                "an alert name must be a Prometheus metric-like name");
    }
    d->alert_name = name ? eqops__strdup(name) : camel(service, d->name, "-error-budget-burn");
    if (d->alert_name == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (name == NULL && !eqops__slo_valid_label_name(d->alert_name)) {
        /* a service like ".1s" gives a name Prometheus refuses: say so, do not emit it */
        eqops_jpath np;
        eqops__jpath_key(&np, &p, "name");
        return eqops__err_field(err, EQOPS_EINVAL, np.text,
                                "the alert name made from the service and SLO names (%s) is not "
                                "a Prometheus metric-like name: set it",
                                d->alert_name);
    }
    if ((rc = eqops__slo_parse_labels(&d->alert_labels, a, "labels", &p, false, err)) != 0 ||
        (rc = eqops__slo_parse_labels(&d->alert_annotations, a, "annotations", &p, true, err)) != 0)
        return rc;
    if (d->alerting && json_object_get(d->alert_annotations, "summary") == NULL) {
        eqops_buf s = EQOPS_BUF_INIT;
        eqops__buf_printf(&s, "%s %s is burning its error budget too fast", service, d->name);
        char *text = eqops__buf_detach(&s);
        if (text == NULL || !eqops__jset(d->alert_annotations, "summary", json_string(text))) {
            eqops__free(text);
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
        }
        eqops__free(text);
    }
    if ((rc = parse_policy(d, &d->page, d->alerting ? a : NULL, "page", 0, &p, err)) != 0 ||
        (rc = parse_policy(d, &d->ticket, d->alerting ? a : NULL, "ticket", 1, &p, err)) != 0)
        return rc;
    if (!d->alerting)
        d->page.enabled = d->ticket.enabled = false;
    if ((rc = check_policy_can_fire(d, &d->page, "page", &p, err)) != 0 ||
        (rc = check_policy_can_fire(d, &d->ticket, "ticket", &p, err)) != 0)
        return rc;
    json_t *absent = a ? json_object_get(a, "absent") : NULL;
    d->absent_for_ms = d->alerting ? 15 * 60000 : 0;
    if (json_is_false(absent)) {
        d->absent_for_ms = 0;
    } else if (absent != NULL &&
               (rc = eqops__json_duration(a, "absent", &p, false, &d->absent_for_ms, err)) != 0) {
        return rc;
    }
    return 0;
}
