/* Reports computed offline from counter samples: no data is reported as no data (the SLI,
 * budget and burn are null, the absent alert fires, "conditions" says nodata), burn alerts
 * and conditions agree, and hostile samples are refused. The live path runs against a real
 * Prometheus in tests/integration/test_slo_prometheus.py. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fail_alloc.h"
#include "slo/slo_internal.h"

#define MIN 60000LL
#define T0  1767312000000LL /* 2026-01-02T00:00:00Z */
#define N   (6 * 60 + 1)    /* six hours of samples, one a minute */

static int64_t t[N];
static double bad[N], total[N];

/* 100 requests a minute, `errors` of them failing. */
static eqops_slo_series samples(double errors)
{
    for (size_t i = 0; i < N; i++) {
        t[i] = T0 + (int64_t)i * MIN;
        total[i] = 100.0 * (double)i;
        bad[i] = errors * (double)i;
    }
    eqops_slo_series s = {t, bad, NULL, total, N};
    return s;
}

static eqops_slo_set *spec(const char *alerting)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"service\": \"svc\", \"slos\": [{\"name\": \"avail\", \"window\": \"1d\", "
             "\"target\": 99, \"sli\": {\"events\": {\"bad\": \"sum(rate(e[{{.window}}]))\", "
             "\"total\": \"sum(rate(t[{{.window}}]))\"}}, \"alerting\": %s}]}",
             alerting);
    eqops_slo_set *set = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_slo_set_parse(&set, text, strlen(text), EQOPS_SLO_FORMAT_JSON, &e) != 0)
        fail_msg("spec: %s", e.message);
    return set;
}

#define WINDOWS                                                                                    \
    "{\"page\": {\"windows\": [{\"long\": \"1h\", \"short\": \"5m\", \"factor\": 10}]}, "          \
    "\"ticket\": {\"windows\": [{\"long\": \"6h\", \"short\": \"30m\", \"factor\": 2}]}"

/* The report at `at_ms` as parsed JSON (the document), or fails the test. */
static json_t *report(const eqops_slo_set *set, const eqops_slo_series *s, int64_t at_ms)
{
    eqops_slo_report_options o = EQOPS_SLO_REPORT_OPTIONS_INIT;
    o.series = s;
    o.at_ms = at_ms;
    char *out = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_slo_report(&out, set, &o, &e) != 0)
        fail_msg("report: %s", e.message);
    json_t *doc = json_loads(out, 0, NULL);
    eqops_free(out);
    assert_non_null(doc);
    return doc;
}

static json_t *objective(json_t *doc)
{
    return json_array_get(json_object_get(doc, "objectives"), 0);
}

static bool cond(json_t *doc, const char *name)
{
    json_t *v = json_object_get(json_object_get(doc, "conditions"), name);
    assert_true(json_is_boolean(v));
    return json_is_true(v);
}

static bool absent_firing(json_t *o)
{
    json_t *a = json_object_get(o, "absent");
    assert_true(json_is_object(a));
    assert_string_equal(json_string_value(json_object_get(a, "for")), "15m");
    return json_is_true(json_object_get(a, "firing"));
}

/* A window with traffic: numbers, nothing firing at 0.5% errors under 10x1% and 2x1%. */
static void data_is_reported(void **state)
{
    eqops_slo_set *set = spec("{\"page\": {\"windows\": [{\"long\": \"1h\", \"short\": \"5m\", "
                              "\"factor\": 10}]}, \"ticket\": false}");
    eqops_slo_series s = samples(0.5);
    json_t *doc = report(set, &s, 0);
    json_t *o = objective(doc);
    assert_true(json_is_false(json_object_get(o, "no_data")));
    assert_true(fabs(json_number_value(json_object_get(o, "sli")) - 0.995) < 1e-9);
    assert_true(json_is_object(json_object_get(o, "budget")));
    assert_true(json_is_object(json_object_get(o, "exhaustion")));
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(o, "burn"), i, w)
    {
        assert_true(json_is_false(json_object_get(w, "no_data")));
        assert_true(fabs(json_number_value(json_object_get(w, "burn_rate")) - 0.5) < 1e-9);
    }
    assert_false(absent_firing(o));
    assert_false(cond(doc, "page") || cond(doc, "ticket") || cond(doc, "nodata"));
    json_decref(doc);
    eqops_slo_set_free(set);
}

/* A triggered token stops the report before its first objective, offline too; reset, the
 * same options report again. */
static void cancelled_report(void **state)
{
    eqops_slo_set *set = spec("{\"page\": false, \"ticket\": false}");
    eqops_slo_series s = samples(0.5);
    eqops_cancel *c = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops_cancel_new(&c, &e), 0);
    eqops_cancel_trigger(c);
    eqops_slo_report_options o = EQOPS_SLO_REPORT_OPTIONS_INIT;
    o.series = &s;
    o.cancel = c;
    char *out = NULL;
    assert_int_equal(eqops_slo_report(&out, set, &o, &e), EQOPS_ECANCELED);
    assert_null(out);
    assert_non_null(strstr(e.message, "cancelled before objective avail"));
    eqops_error_clear(&e);
    eqops_cancel_reset(c);
    assert_int_equal(eqops_slo_report(&out, set, &o, &e), 0);
    eqops_free(out);
    eqops_cancel_free(c);
    eqops_slo_set_free(set);
}

/* Nothing measured in the window (a misspelled metric looks like this): no SLI, no budget,
 * no burn, no alert but the absent one; not "100%, budget not burning" (issue 13.9). */
static void no_data_is_reported(void **state)
{
    eqops_slo_set *set = spec(WINDOWS "}");
    eqops_slo_series s = samples(50);
    json_t *doc = report(set, &s, T0 + 3 * 86400000LL);
    json_t *o = objective(doc);
    assert_true(json_is_true(json_object_get(o, "no_data")));
    assert_true(json_is_null(json_object_get(o, "sli")));
    assert_true(json_is_null(json_object_get(o, "budget")));
    assert_true(json_is_null(json_object_get(o, "exhaustion")));
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(o, "burn"), i, w)
    {
        assert_true(json_is_true(json_object_get(w, "no_data")));
        assert_true(json_is_null(json_object_get(w, "error_ratio")));
        assert_true(json_is_null(json_object_get(w, "burn_rate")));
    }
    assert_int_equal(json_array_size(json_object_get(o, "alerts")), 2);
    json_array_foreach(json_object_get(o, "alerts"), i, w)
    {
        assert_true(json_is_false(json_object_get(w, "firing")));
        assert_true(json_is_true(json_object_get(w, "no_data")));
    }
    assert_true(absent_firing(o));
    assert_true(cond(doc, "nodata"));
    assert_false(cond(doc, "page") || cond(doc, "ticket"));
    json_decref(doc);
    eqops_slo_set_free(set);
}

/* Samples stop: short windows run dry first, then the absent alert fires, while the SLO
 * window still has its data and budget. */
static void data_stops(void **state)
{
    eqops_slo_set *set = spec(WINDOWS "}");
    eqops_slo_series s = samples(50);
    int64_t last = t[N - 1];
    /* 10 minutes later: the 5m window is empty, 1h is not; the absent alert not yet */
    json_t *doc = report(set, &s, last + 10 * MIN);
    json_t *o = objective(doc);
    assert_true(json_is_false(json_object_get(o, "no_data")));
    json_t *burn = json_object_get(o, "burn");
    assert_string_equal(json_string_value(json_object_get(json_array_get(burn, 1), "window")),
                        "5m");
    assert_true(json_is_true(json_object_get(json_array_get(burn, 1), "no_data")));
    assert_true(json_is_false(json_object_get(json_array_get(burn, 0), "no_data")));
    json_t *page = json_array_get(json_object_get(o, "alerts"), 0);
    assert_true(json_is_false(json_object_get(page, "firing")));
    assert_true(json_is_true(json_object_get(page, "no_data")));
    /* the 6h/30m ticket window still has both: 50% errors fire it */
    json_t *ticket = json_array_get(json_object_get(o, "alerts"), 1);
    assert_true(json_is_true(json_object_get(ticket, "firing")));
    assert_false(absent_firing(o));
    assert_false(cond(doc, "nodata") || cond(doc, "page"));
    assert_true(cond(doc, "ticket"));
    json_decref(doc);
    /* 21 minutes later: no sample for the absent alert's 15m plus the 5m step */
    doc = report(set, &s, last + 21 * MIN);
    o = objective(doc);
    assert_true(json_is_false(json_object_get(o, "no_data")));
    assert_true(json_is_number(json_object_get(o, "sli")));
    assert_true(absent_firing(o));
    assert_true(cond(doc, "nodata"));
    json_decref(doc);
    eqops_slo_set_free(set);
}

/* A quiet service is not a silent one: flat counters are data (no traffic, nothing failed). */
static void quiet_is_not_missing(void **state)
{
    eqops_slo_set *set = spec(WINDOWS "}");
    eqops_slo_series s = samples(0);
    for (size_t i = 0; i < N; i++)
        total[i] = 5;
    json_t *doc = report(set, &s, 0);
    json_t *o = objective(doc);
    assert_true(json_is_false(json_object_get(o, "no_data")));
    assert_true(json_number_value(json_object_get(o, "sli")) == 1);
    assert_false(absent_firing(o));
    assert_false(cond(doc, "nodata"));
    json_decref(doc);
    eqops_slo_set_free(set);
}

static void page_condition_and_no_absent_alert(void **state)
{
    eqops_slo_set *set = spec(WINDOWS ", \"absent\": false}");
    eqops_slo_series s = samples(50);
    json_t *doc = report(set, &s, 0);
    json_t *o = objective(doc);
    assert_true(json_is_null(json_object_get(o, "absent")));
    assert_true(cond(doc, "page") && cond(doc, "ticket"));
    assert_false(cond(doc, "nodata"));
    json_decref(doc);
    /* without an absent alert, nothing measured still counts as no data */
    doc = report(set, &s, T0 + 3 * 86400000LL);
    assert_true(json_is_null(json_object_get(objective(doc), "absent")));
    assert_true(cond(doc, "nodata"));
    json_decref(doc);
    eqops_slo_set_free(set);
}

/* Samples from a caller are checked like every series input. */
static void hostile_samples(void **state)
{
    eqops_slo_set *set = spec(WINDOWS "}");
    eqops_slo_series s = samples(1);
    eqops_slo_report_options o = EQOPS_SLO_REPORT_OPTIONS_INIT;
    o.series = &s;
    char *out = (char *)1;
    eqops_error e = EQOPS_ERROR_INIT;
    t[7] = t[6];
    assert_int_equal(eqops_slo_report(&out, set, &o, &e), EQOPS_EINVAL);
    assert_null(out);
    assert_string_equal(e.field, "series.t_ms");
    s = samples(1);
    total[3] = NAN;
    assert_int_equal(eqops_slo_report(&out, set, &o, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "series.total");
    s = samples(1);
    s.n = 1;
    assert_int_equal(eqops_slo_report(&out, set, &o, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "opts.series");
    eqops_error_clear(&e);
    eqops_slo_set_free(set);
}

struct run {
    eqops_slo_set *set;
    eqops_slo_series s;
    int64_t at_ms;
    char *out;
};

static int op_report(void *p)
{
    struct run *r = p;
    eqops_slo_report_options o = EQOPS_SLO_REPORT_OPTIONS_INIT;
    o.series = &r->s;
    o.at_ms = r->at_ms;
    return eqops_slo_report(&r->out, r->set, &o, NULL);
}

static void free_out(void *p)
{
    struct run *r = p;
    /* a failed allocation must fail the report, not cut its JSON short */
    json_t *doc = r->out ? json_loads(r->out, 0, NULL) : NULL;
    if (r->out != NULL && doc == NULL)
        fail_msg("eqops_slo_report returned invalid JSON:\n%s", r->out);
    json_decref(doc);
    eqops_free(r->out);
    r->out = NULL;
}

static void allocation_failures(void **state)
{
    struct run r = {spec(WINDOWS "}"), samples(50), 0, NULL};
    fa_install();
    assert_true(fa_loop(op_report, free_out, &r, EQOPS_ENOMEM, false) > 50);
    r.at_ms = T0 + 3 * 86400000LL; /* the no-data paths */
    assert_true(fa_loop(op_report, free_out, &r, EQOPS_ENOMEM, false) > 30);
    fa_uninstall();
    eqops_slo_set_free(r.set);
}

static int setup(void **state)
{
    return eqops_init();
}

static int teardown(void **state)
{
    eqops_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(data_is_reported),
        cmocka_unit_test(cancelled_report),
        cmocka_unit_test(no_data_is_reported),
        cmocka_unit_test(data_stops),
        cmocka_unit_test(quiet_is_not_missing),
        cmocka_unit_test(page_condition_and_no_absent_alert),
        cmocka_unit_test(hostile_samples),
        cmocka_unit_test(allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
