/*
 * rules_promtool.c - a `promtool test rules` file proving the generated alerts: for each SLO the
 * page and ticket alerts fire at an error ratio just above their thresholds and stay silent
 * just below, a quiet service keeps its whole budget, and a missing metric raises the absent
 * alert.
 *
 * Input series are derived from the SLI: the metric selectors inside the queries are parsed
 * and given label values that satisfy them (regular expressions are satisfied by a small
 * generator and checked with POSIX regex), with one series of bad and one of good events.
 * When that is not possible the spec must name the series (sli.test.bad / sli.test.good).
 */
#include "slo_internal.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>

#define RATE_PER_MIN 1000.0 /* events per minute fed to every test */

typedef struct matcher {
    char name[64];
    char op[3]; /* "=", "!=", "=~", "!~" */
    char value[256];
} matcher;

typedef struct selector {
    char metric[128];
    matcher m[16];
    size_t n;
} selector;

/* ---- selectors ----------------------------------------------------------------------------- */

static bool ident_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* Parse `metric{matchers}` at p (no leading space); returns the end or NULL. */
static const char *parse_selector(const char *p, selector *s)
{
    memset(s, 0, sizeof(*s));
    size_t n = 0;
    while (ident_char(p[n], n == 0) && n < sizeof(s->metric) - 1)
        n++;
    if (n == 0)
        return NULL;
    memcpy(s->metric, p, n);
    p += n;
    if (*p != '{')
        return p;
    p++;
    while (*p && *p != '}') {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '}')
            break;
        if (s->n == EQOPS__ARRAY_LEN(s->m))
            return NULL;
        matcher *m = &s->m[s->n];
        size_t k = 0;
        while (ident_char(*p, k == 0) && k < sizeof(m->name) - 1)
            m->name[k++] = *p++;
        while (*p == ' ')
            p++;
        if (k == 0)
            return NULL;
        if (p[0] == '=' && p[1] == '~')
            memcpy(m->op, "=~", 3), p += 2;
        else if (p[0] == '!' && p[1] == '~')
            memcpy(m->op, "!~", 3), p += 2;
        else if (p[0] == '!' && p[1] == '=')
            memcpy(m->op, "!=", 3), p += 2;
        else if (p[0] == '=')
            memcpy(m->op, "=", 2), p += 1;
        else
            return NULL;
        while (*p == ' ')
            p++;
        /* "...", '...' (escapes decoded as PromQL decodes them) or `...` (raw) */
        if ((p = eqops__slo_string_decode(p, m->value, sizeof(m->value))) == NULL)
            return NULL;
        s->n++;
    }
    return *p == '}' ? p + 1 : NULL;
}

/* The first selector with a {{.window}} range in a query template (outside its strings). */
static bool find_selector(const char *q, selector *s)
{
    for (const char *p = q; *p; p++) {
        if (*p == '"' || *p == '\'' || *p == '`') { /* a string literal outside a selector */
            char c = *p;
            while (p[1] && p[1] != c)
                p += c != '`' && p[1] == '\\' && p[2] ? 2 : 1;
            if (*++p == '\0')
                break;
            continue;
        }
        if (!ident_char(*p, true) || (p > q && ident_char(p[-1], false)))
            continue;
        const char *end = parse_selector(p, s);
        if (end != NULL && end[0] == '[' && strncmp(end + 1, "{{", 2) == 0)
            return true;
    }
    return false;
}

static bool re_full_match(const char *re, const char *text)
{
    char anchored[300];
    snprintf(anchored, sizeof(anchored), "^(%s)$", re);
    regex_t r;
    if (regcomp(&r, anchored, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    bool ok = regexec(&r, text, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

/* A string matching a simple regular expression: the first alternative, one character per
 * class, '.' as '0', optional parts left out. Checked afterwards by the caller. */
static void re_example(const char *re, char *out, size_t cap)
{
    size_t n = 0;
    int depth = 0;
    for (const char *p = re; *p && n + 1 < cap; p++) {
        char c = *p;
        if (c == '|' && depth == 0)
            break;
        if (c == '|') { /* skip the rest of this group's alternatives */
            int d = 0;
            while (p[1] && !(p[1] == ')' && d == 0)) {
                p++;
                if (*p == '(')
                    d++;
                else if (*p == ')')
                    d--;
            }
            continue;
        }
        if (c == '(') {
            depth++;
            continue;
        }
        if (c == ')') {
            depth--;
            continue;
        }
        if (c == '^' || c == '$' || c == '+')
            continue;
        if (c == '?' || c == '*') { /* drop the previous character: zero occurrences */
            if (n > 0)
                n--;
            continue;
        }
        if (c == '{') { /* {n}: keep one occurrence */
            while (p[1] && *p != '}')
                p++;
            continue;
        }
        if (c == '.') {
            out[n++] = '0';
            continue;
        }
        if (c == '[') {
            char pick = '0';
            if (p[1] == '^') {
                pick = 'z';
            } else if (p[1] && p[1] != ']') {
                pick = p[1];
            }
            while (*p && *p != ']')
                p++;
            out[n++] = pick;
            continue;
        }
        if (c == '\\' && p[1]) {
            p++;
            c = *p == 'd' ? '0' : *p;
        }
        out[n++] = c;
    }
    out[n] = '\0';
}

static bool satisfies(const matcher *m, const char *value)
{
    if (strcmp(m->op, "=") == 0)
        return strcmp(value, m->value) == 0;
    if (strcmp(m->op, "!=") == 0)
        return strcmp(value, m->value) != 0;
    bool match = re_full_match(m->value, value);
    return strcmp(m->op, "=~") == 0 ? match : !match;
}

typedef struct labelset {
    char name[16][64];
    char value[16][256];
    size_t n;
} labelset;

static const char *get_label(const labelset *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->name[i], name) == 0)
            return l->value[i];
    return "";
}

static bool set_label(labelset *l, const char *name, const char *value)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->name[i], name) == 0) {
            snprintf(l->value[i], sizeof(l->value[i]), "%s", value);
            return true;
        }
    if (l->n == 16)
        return false;
    snprintf(l->name[l->n], sizeof(l->name[0]), "%s", name);
    snprintf(l->value[l->n], sizeof(l->value[0]), "%s", value);
    l->n++;
    return true;
}

static bool all_satisfied(const selector *s, const labelset *l)
{
    for (size_t i = 0; i < s->n; i++)
        if (!satisfies(&s->m[i], get_label(l, s->m[i].name)))
            return false;
    return true;
}

/* Add labels so that `l` satisfies `s`. */
static bool satisfy(const selector *s, labelset *l)
{
    for (size_t i = 0; i < s->n; i++) {
        const matcher *m = &s->m[i];
        if (satisfies(m, get_label(l, m->name)))
            continue;
        char v[256];
        if (strcmp(m->op, "=") == 0)
            snprintf(v, sizeof(v), "%s", m->value);
        else if (strcmp(m->op, "=~") == 0)
            re_example(m->value, v, sizeof(v));
        else
            snprintf(v, sizeof(v), "eqops-test");
        if (!set_label(l, m->name, v) || !satisfies(m, v))
            return false;
    }
    return all_satisfied(s, l);
}

/* Change one label so that `l` no longer satisfies `not` but still satisfies `keep`. */
static bool violate(const selector * not, const selector *keep, labelset *l)
{
    static const char *const candidates[] = {"200", "0", "ok", "success", "eqops-test", "x"};
    for (size_t i = 0; i < not ->n; i++) {
        const matcher *m = &not ->m[i];
        labelset trial = *l;
        char v[256];
        if (strcmp(m->op, "!=") == 0) {
            snprintf(v, sizeof(v), "%s", m->value);
        } else if (strcmp(m->op, "!~") == 0) {
            re_example(m->value, v, sizeof(v));
        } else {
            bool found = false;
            for (size_t k = 0; k < EQOPS__ARRAY_LEN(candidates) && !found; k++) {
                set_label(&trial, m->name, candidates[k]);
                found = !satisfies(m, candidates[k]) && all_satisfied(keep, &trial);
            }
            if (found) {
                *l = trial;
                return true;
            }
            continue;
        }
        set_label(&trial, m->name, v);
        if (!satisfies(m, v) && all_satisfied(keep, &trial)) {
            *l = trial;
            return true;
        }
    }
    return false;
}

static void put_series(eqops_buf *b, const char *metric, const labelset *l)
{
    eqops__buf_printf(b, "%s{", metric);
    for (size_t i = 0; i < l->n; i++) {
        if (!l->value[i][0])
            continue;
        eqops__buf_printf(b, "%s%s=", i ? "," : "", l->name[i]);
        eqops__slo_put_string(b, l->value[i]);
    }
    eqops__buf_putc(b, '}');
}

/* The two input series (bad events, the rest) of an SLO, as promtool series strings. Each
 * is paired with whether it counts bad events or good ones. */
typedef struct inputs {
    char *bad;   /* series of bad events */
    char *other; /* good events (same metric) or all events (a separate total metric) */
    bool other_is_total;
} inputs;

static void inputs_free(inputs *in)
{
    eqops__free(in->bad);
    eqops__free(in->other);
}

static int derive_inputs(inputs *in, const slo_def *d, eqops_error *err)
{
    memset(in, 0, sizeof(*in));
    eqops_buf b = EQOPS_BUF_INIT, o = EQOPS_BUF_INIT;
    if (d->test_bad != NULL) {
        eqops__buf_puts(&b, d->test_bad);
        eqops__buf_puts(&o, d->test_good);
    } else if (d->kind == SLI_LATENCY) {
        if (d->native)
            return eqops__err(err, EQOPS_EINVAL,
                              "SLO %s: promtool 2 tests cannot feed native histograms", d->name);
        selector s;
        eqops_buf sel = EQOPS_BUF_INIT;
        eqops__buf_printf(&sel, "x{%s}", d->selector);
        if (eqops__buf_ok(&sel) != 0)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
        labelset l = {0};
        if (parse_selector(eqops__buf_cstr(&sel), &s) == NULL || !satisfy(&s, &l)) {
            eqops__buf_free(&sel);
            return eqops__err(err, EQOPS_EINVAL,
                              "SLO %s: cannot derive test series from the selector; set "
                              "sli.test.bad and sli.test.good",
                              d->name);
        }
        eqops__buf_free(&sel);
        char th[32], name[160];
        eqops__fmt_double(d->threshold, th);
        /* bad = count - bucket{le}: feed the bucket (good) and the count (total) */
        snprintf(name, sizeof(name), "%s_bucket", d->metric);
        labelset lb = l;
        set_label(&lb, "le", th);
        put_series(&b, name, &lb);
        snprintf(name, sizeof(name), "%s_count", d->metric);
        put_series(&o, name, &l);
        in->other_is_total = true;
        /* here `bad` holds the good bucket: swap meaning below */
        char *good = eqops__buf_detach(&b), *total = eqops__buf_detach(&o);
        if (good == NULL || total == NULL) {
            eqops__free(good);
            eqops__free(total);
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
        }
        in->bad = good;
        in->other = total;
        return 1; /* 1: `bad` is really the good series */
    } else {
        selector sc, st;
        const char *counted = d->bad ? d->bad : d->good;
        if (!find_selector(counted, &sc) || !find_selector(d->total, &st))
            return eqops__err(err, EQOPS_EINVAL,
                              "SLO %s: no metric selector with a [{{.window}}] range in the "
                              "queries; set sli.test.bad and sli.test.good",
                              d->name);
        labelset lc = {0}, lo = {0};
        bool ok = satisfy(&sc, &lc);
        if (strcmp(sc.metric, st.metric) == 0) {
            ok = ok && satisfy(&st, &lc);
            lo = lc;
            ok = ok && violate(&sc, &st, &lo);
        } else {
            ok = ok && satisfy(&st, &lo);
            in->other_is_total = true;
        }
        if (!ok)
            return eqops__err(err, EQOPS_EINVAL,
                              "SLO %s: cannot derive test series from the queries' label "
                              "matchers; set sli.test.bad and sli.test.good",
                              d->name);
        put_series(&b, sc.metric, &lc);
        put_series(&o, st.metric, &lo);
        if (d->good != NULL && !in->other_is_total) {
            /* counted = good events: the violating series carries the bad ones */
            char *good = eqops__buf_detach(&b), *bad = eqops__buf_detach(&o);
            in->bad = bad;
            in->other = good;
            return in->bad && in->other ? 0 : eqops__err(err, EQOPS_ENOMEM, "out of memory");
        }
        if (d->good != NULL) {
            char *good = eqops__buf_detach(&b), *total = eqops__buf_detach(&o);
            in->bad = good;
            in->other = total;
            return in->bad && in->other ? 1 : eqops__err(err, EQOPS_ENOMEM, "out of memory");
        }
    }
    in->bad = eqops__buf_detach(&b);
    in->other = eqops__buf_detach(&o);
    return in->bad && in->other ? 0 : eqops__err(err, EQOPS_ENOMEM, "out of memory");
}

/* ---- the test file --------------------------------------------------------------------- */

static json_t *values(double per_min, size_t n)
{
    char v[48], buf[96];
    snprintf(v, sizeof(v), "%.9f", per_min); /* promtool wants plain decimals */
    char *end = v + strlen(v);
    while (end > v && end[-1] == '0')
        *--end = '\0';
    if (end > v && end[-1] == '.')
        *--end = '\0';
    snprintf(buf, sizeof(buf), "0+%sx%zu", v, n);
    return json_string(buf);
}

/* Input series for an error ratio e (negative: flat counters, no traffic). */
static json_t *input_series(const inputs *in, int good_first, double e, size_t n)
{
    double bad = e < 0 ? 0 : RATE_PER_MIN * e, good = e < 0 ? 0 : RATE_PER_MIN - bad;
    /* good_first: in->bad holds good events; other_is_total: in->other holds all events */
    double first = good_first ? good : bad;
    double second = in->other_is_total ? (e < 0 ? 0 : RATE_PER_MIN) : (good_first ? bad : good);
    if (e < 0)
        return json_pack("[{s:s, s:s}, {s:s, s:s}]", "series", in->bad, "values", "5x300", "series",
                         in->other, "values", "7x300");
    return json_pack("[{s:s, s:o}, {s:s, s:o}]", "series", in->bad, "values", values(first, n),
                     "series", in->other, "values", values(second, n));
}

static bool same_sli(const slo_def *a, const slo_def *b)
{
    return a->kind == b->kind && !strcmp(a->total ? a->total : "", b->total ? b->total : "") &&
           !strcmp(a->bad ? a->bad : "", b->bad ? b->bad : "") &&
           !strcmp(a->good ? a->good : "", b->good ? b->good : "") &&
           !strcmp(a->metric ? a->metric : "", b->metric ? b->metric : "") &&
           !strcmp(a->selector ? a->selector : "", b->selector ? b->selector : "") &&
           a->threshold == b->threshold;
}

/* Expected burn alerts at error ratio e, steady state, for alerts named like d's. */
static int expected_burn(json_t *exp, const eqops__rules_ctx *c, const slo_def *d, double e)
{
    for (size_t u = 0; u < c->set->nunits; u++) {
        const slo_def *x = &c->set->slos[c->set->units[u].slo];
        const slo_objective *o = &x->obj[c->set->units[u].obj];
        if (strcmp(x->alert_name, d->alert_name) != 0 || !same_sli(x, d))
            continue;
        const slo_policy *ps[2] = {&x->page, &x->ticket};
        for (size_t k = 0; k < 2; k++)
            for (size_t i = 0; ps[k]->enabled && i < ps[k]->n; i++) {
                if (!(e > eqops__slo_threshold(ps[k]->w[i].factor, o)))
                    continue;
                json_t *l = eqops__slo_alert_labels(c, x, o, ps[k], &ps[k]->w[i]);
                json_t *a = l ? json_pack("{s:o, s:O}", "exp_labels", l, "exp_annotations",
                                          x->alert_annotations)
                              : NULL;
                if (a == NULL || json_array_append_new(exp, a) != 0)
                    return EQOPS_ENOMEM;
            }
    }
    return 0;
}

static json_t *alert_test(const char *eval, const char *name, json_t *exp)
{
    return json_pack("{s:s, s:s, s:o}", "eval_time", eval, "alertname", name, "exp_alerts", exp);
}

static int slo_tests(json_t *tests, const eqops__rules_ctx *c, const slo_def *d)
{
    eqops_error *err = c->err;
    inputs in;
    int good_first = derive_inputs(&in, d, err);
    if (good_first < 0) {
        inputs_free(&in);
        return good_first;
    }
    int rc = 0;
    /* the distinct thresholds the alerts of this SLO use */
    double thr[SLO_MAX_OBJECTIVES * 2 * SLO_MAX_WINDOWS];
    size_t nthr = 0;
    int64_t max_for = 0;
    for (size_t j = 0; j < d->nobj; j++) {
        const slo_policy *ps[2] = {&d->page, &d->ticket};
        for (size_t k = 0; k < 2; k++)
            for (size_t i = 0; ps[k]->enabled && i < ps[k]->n; i++) {
                double t = eqops__slo_threshold(ps[k]->w[i].factor, &d->obj[j]);
                size_t m = 0;
                while (m < nthr && thr[m] != t)
                    m++;
                if (m == nthr)
                    thr[nthr++] = t;
                max_for = ps[k]->w[i].for_ms > max_for ? ps[k]->w[i].for_ms : max_for;
            }
    }
    char absent_name[200], eval[48];
    snprintf(absent_name, sizeof(absent_name), "%sSLIAbsent", d->alert_name);
    int64_t t_ms = max_for + 30 * 60000 + c->step_ms;
    if (t_ms < 90 * 60000)
        t_ms = 90 * 60000;
    eqops__duration_format(t_ms, eval);
    size_t n = (size_t)(t_ms / 60000) + 30;
    bool alerts = d->page.enabled || d->ticket.enabled;
    /* each threshold, approached from both sides: just above it that window fires (with
     * every window whose threshold is lower), just below it it stays silent */
    for (size_t j = 0; alerts && j < nthr && rc == 0; j++) {
        for (int side = 0; side < 2 && rc == 0; side++) {
            double e =
                side ? thr[j] * 0.98 : (thr[j] * 1.02 < 1 ? thr[j] * 1.02 : (thr[j] + 1) / 2);
            e = eqops__decimal_round(e, 9);
            json_t *exp = json_array();
            if (exp == NULL || expected_burn(exp, c, d, e) != 0) {
                json_decref(exp);
                rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
                break;
            }
            json_t *t = json_pack("{s:s, s:o, s:[o, o]}", "interval", "1m", "input_series",
                                  input_series(&in, good_first, e, n), "alert_rule_test",
                                  alert_test(eval, d->alert_name, exp),
                                  alert_test(eval, absent_name, json_array()));
            if (t == NULL || json_array_append_new(tests, t) != 0)
                rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        }
    }
    if (rc != 0)
        goto done;
    /* a quiet service: no alert, the whole budget left */
    json_t *samples = json_array();
    for (size_t j = 0; samples && j < d->nobj; j++) {
        json_t *l = eqops__slo_identity(c, d, &d->obj[j]);
        if (l == NULL) {
            json_decref(samples);
            samples = NULL;
            break;
        }
        eqops_buf lb = EQOPS_BUF_INIT;
        eqops__buf_puts(&lb, "eqops_slo:error_budget_remaining:ratio{");
        const char *k;
        json_t *v;
        size_t i = 0;
        json_object_foreach(l, k, v)
        {
            eqops__buf_printf(&lb, "%s%s=", i++ ? ", " : "", k);
            eqops__slo_put_string(&lb, json_string_value(v));
        }
        eqops__buf_putc(&lb, '}');
        json_decref(l);
        json_t *s = eqops__buf_ok(&lb)
                        ? NULL
                        : json_pack("{s:s, s:i}", "labels", eqops__buf_cstr(&lb), "value", 1);
        eqops__buf_free(&lb);
        if (s == NULL || json_array_append_new(samples, s) != 0) {
            json_decref(samples);
            samples = NULL;
        }
    }
    char sel[200];
    snprintf(sel, sizeof(sel), "eqops_slo:error_budget_remaining:ratio{slo_name=\"%s\"}", d->name);
    json_t *quiet =
        samples ? json_pack("{s:s, s:o, s:[{s:s, s:s, s:o}]}", "interval", "1m", "input_series",
                            input_series(&in, good_first, -1, n), "promql_expr_test", "expr", sel,
                            "eval_time", eval, "exp_samples", samples)
                : NULL;
    if (quiet != NULL && alerts &&
        !eqops__jset(quiet, "alert_rule_test",
                     json_pack("[o]", alert_test(eval, d->alert_name, json_array())))) {
        json_decref(quiet);
        quiet = NULL;
    }
    if (!eqops__jappend(tests, quiet)) {
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        goto done;
    }
    /* nothing measured at all: the absent alert of every objective named like this one */
    if (d->absent_for_ms > 0) {
        json_t *exp = json_array();
        for (size_t u = 0; exp && u < c->set->nunits; u++) {
            const slo_def *x = &c->set->slos[c->set->units[u].slo];
            if (strcmp(x->alert_name, d->alert_name) != 0 || x->absent_for_ms <= 0)
                continue;
            json_t *l =
                eqops__slo_alert_labels(c, x, &x->obj[c->set->units[u].obj], &x->ticket, NULL);
            if (!eqops__jappend(exp, l ? json_pack("{s:o, s:{s:s}}", "exp_labels", l,
                                                   "exp_annotations", "summary",
                                                   "the SLI's total events series is missing: "
                                                   "the SLO cannot be measured")
                                       : NULL)) {
                json_decref(exp);
                exp = NULL;
            }
        }
        char at[48];
        eqops__duration_format(d->absent_for_ms + c->step_ms + 2 * 60000, at);
        json_t *t = exp ? json_pack("{s:s, s:[{s:s, s:s}], s:[o]}", "interval", "1m",
                                    "input_series", "series", "eqops_test_unrelated", "values",
                                    "1x100", "alert_rule_test", alert_test(at, absent_name, exp))
                        : NULL;
        if (t == NULL || json_array_append_new(tests, t) != 0)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
done:
    inputs_free(&in);
    return rc;
}

int eqops_slo_rules_test(char **out, const eqops_slo_set *set, const eqops_slo_rules_options *opts,
                         eqops_error *err)
{
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out = NULL;
    eqops__rules_ctx c;
    int rc = eqops__slo_rules_ctx(&c, set, opts, err);
    if (rc != 0)
        return rc;
    const char *rules_file = c.rules_file;
    json_t *tests = json_array();
    json_t *doc = tests ? json_pack("{s:[s], s:s, s:o}", "rule_files", rules_file,
                                    "evaluation_interval", c.interval, "tests", tests)
                        : NULL;
    if (doc == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    for (size_t i = 0; i < set->n && rc == 0; i++)
        rc = slo_tests(tests, &c, &set->slos[i]);
    eqops_buf b = EQOPS_BUF_INIT;
    if (rc == 0) {
        eqops__buf_printf(&b,
                          "# promtool test rules for the SLOs of %s; generated by libeqops %s\n",
                          set->service, eqops_version());
        rc = eqops__yaml_dump(doc, &b, err);
    }
    json_decref(doc);
    if (rc == 0 && (*out = eqops__buf_detach(&b)) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    eqops__buf_free(&b);
    return rc;
}
