/*
 * slo.i - the SLO module for the bindings (included by eqops.i).
 *
 * Arrays cross without copies: Python passes any buffer (array, memoryview, numpy) of the
 * right item type, Go passes slices. The series functions get flat forms here (the
 * eqops_bind_* functions) that build the C series struct on the stack, because Go may not
 * store pointers to its memory in C memory.
 */

%{
#include <eqops/slo.h>
#include <stdio.h>
#include <stdlib.h>

static int eqops_bind_series(eqops_slo_series *s, const int64_t *t_ms, size_t n_t,
                             const double *counted, size_t n_c, const double *total,
                             size_t n_total, int counted_is_bad, eqops_error *err)
{
    if (n_c != n_t || n_total != n_t) {
        if (err != NULL) {
            eqops_error_clear(err);
            err->code = EQOPS_EINVAL;
            snprintf(err->message, sizeof(err->message),
                     "series: %zu timestamps, %zu counts and %zu totals: lengths must match", n_t,
                     n_c, n_total);
            snprintf(err->field, sizeof(err->field), "series");
        }
        return EQOPS_EINVAL;
    }
    s->t_ms = t_ms;
    s->bad = counted_is_bad ? counted : NULL;
    s->good = counted_is_bad ? NULL : counted;
    s->total = total;
    s->n = n_t;
    return 0;
}
%}

/* ---- multi-argument array typemaps ------------------------------------------------------- */
#ifdef SWIGPYTHON
%{
/* A C-contiguous buffer of `itemsize`-byte items of `kind` ('d' float64, 'q' int64, 'i'
 * int32): 0, or -1 with a TypeError naming what was expected. */
static int eqops_py_buffer(PyObject *obj, Py_buffer *view, char kind, Py_ssize_t itemsize,
                           int writable, const char *what)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) != 0) {
        PyErr_Format(PyExc_TypeError,
                     "%s: expected a %s%s buffer (array, memoryview or numpy array)", what,
                     writable ? "writable " : "",
                     kind == 'd' ? "float64" : kind == 'q' ? "int64" : "int32");
        return -1;
    }
    const char *f = view->format ? view->format : "B";
    if (*f == '@' || *f == '=' || *f == '<')
        f++;
    int ok = view->itemsize == itemsize && f[1] == '\0' &&
             (f[0] == kind || (kind == 'q' && f[0] == 'l' && sizeof(long) == 8) ||
              (kind == 'i' && f[0] == 'l' && sizeof(long) == 4));
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s: expected items of %s, got format '%s'", what,
                     kind == 'd' ? "float64" : kind == 'q' ? "int64" : "int32", view->format);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}
%}

%define EQOPS_PY_ARRAY(CTYPE, KIND, SIZE, WRITABLE, PATTERN)
%typemap(in) (CTYPE *PATTERN, size_t PATTERN##_LEN) (Py_buffer view, int have = 0) {
    if (eqops_py_buffer($input, &view, KIND, SIZE, WRITABLE, "$1_name") != 0)
        SWIG_fail;
    have = 1;
    $1 = ($1_ltype)view.buf;
    $2 = (size_t)(view.len / SIZE);
}
%typemap(freearg) (CTYPE *PATTERN, size_t PATTERN##_LEN) {
    if (have$argnum)
        PyBuffer_Release(&view$argnum);
}
%enddef

EQOPS_PY_ARRAY(const double, 'd', 8, 0, IN)
EQOPS_PY_ARRAY(const int64_t, 'q', 8, 0, IN)
EQOPS_PY_ARRAY(const int, 'i', 4, 0, IN)
EQOPS_PY_ARRAY(double, 'd', 8, 1, OUT)
EQOPS_PY_ARRAY(int64_t, 'q', 8, 1, OUT)

/* out-structs: a new proxy object the caller owns */
%define EQOPS_PY_OUT_STRUCT(TYPE)
%typemap(in, numinputs=0) TYPE *out (TYPE temp) {
    memset(&temp, 0, sizeof(temp));
    $1 = &temp;
}
%typemap(argout) TYPE *out {
    TYPE *copy = (TYPE *)malloc(sizeof(TYPE));
    if (copy == NULL) {
        PyErr_NoMemory();
        SWIG_fail;
    }
    *copy = *$1;
    $result = SWIG_Python_AppendOutput($result,
                                       SWIG_NewPointerObj(copy, $1_descriptor, SWIG_POINTER_OWN));
}
%enddef

EQOPS_PY_OUT_STRUCT(eqops_slo_budget)
EQOPS_PY_OUT_STRUCT(eqops_slo_timeslices)
EQOPS_PY_OUT_STRUCT(eqops_slo_alert_analysis)
EQOPS_PY_OUT_STRUCT(eqops_slo_alert_window)

%typemap(in, numinputs=0) double *out_value (double temp = 0), int *flag (int temp = 0),
    int64_t *start_ms (int64_t temp = 0), int64_t *end_ms (int64_t temp = 0), size_t *n (size_t temp = 0) {
    $1 = &temp;
}
%typemap(argout) double *out_value {
    $result = SWIG_Python_AppendOutput($result, PyFloat_FromDouble(*$1));
}
%typemap(argout) int *flag {
    $result = SWIG_Python_AppendOutput($result, PyBool_FromLong(*$1));
}
%typemap(argout) int64_t *start_ms, int64_t *end_ms {
    $result = SWIG_Python_AppendOutput($result, PyLong_FromLongLong((long long)*$1));
}
%typemap(argout) size_t *n {
    $result = SWIG_Python_AppendOutput($result, PyLong_FromSize_t(*$1));
}
#endif /* SWIGPYTHON */

#ifdef SWIGGO
%define EQOPS_GO_ARRAY(CTYPE, GOTYPE, PATTERN)
%typemap(gotype) (CTYPE *PATTERN, size_t PATTERN##_LEN) "[]GOTYPE"
%typemap(in) (CTYPE *PATTERN, size_t PATTERN##_LEN) {
    $1 = ($1_ltype)$input.array;
    $2 = (size_t)$input.len;
}
%enddef

EQOPS_GO_ARRAY(const double, float64, IN)
EQOPS_GO_ARRAY(const int64_t, int64, IN)
EQOPS_GO_ARRAY(const int, int32, IN)
EQOPS_GO_ARRAY(double, float64, OUT)
EQOPS_GO_ARRAY(int64_t, int64, OUT)

%apply double *OUTPUT { double *out_value };
%apply int *OUTPUT { int *flag };
%apply long long *OUTPUT { int64_t *start_ms, int64_t *end_ms };
%apply unsigned long *OUTPUT { size_t *n };
#endif /* SWIGGO */

/* the other arrays of the flat forms, by name */
%apply (const double *IN, size_t IN_LEN) {
    (const double *counted, size_t counted_len), (const double *total, size_t total_len),
    (const double *values, size_t values_len), (const double *weights, size_t weights_len)
};
%apply (const int *IN, size_t IN_LEN) { (const int *has_data, size_t has_data_len) };
%apply (double *OUT, size_t OUT_LEN) {
    (double *counted, size_t counted_len), (double *total, size_t total_len)
};

/* The C functions taking a series struct, struct arrays or `**out` are reached through the
 * flat forms below; the rest are wrapped as they are. */
%ignore eqops_slo_series;
%ignore eqops_slo_increase;
%ignore eqops_slo_error_ratio_series;
%ignore eqops_slo_burn_rate_series;
%ignore eqops_slo_period_budget;
%ignore eqops_slo_timeslice_budget;
%ignore eqops_slo_composite;
%ignore eqops_slo_default_windows;
%ignore eqops_slo_set_parse;
%ignore eqops_slo_set_load;
%ignore eqops_slo_series_load;
%ignore eqops_slo_series_view;
%ignore eqops_slo_report;
%ignore eqops_slo_report_options;
%ignore eqops_slo_rules;
%ignore eqops_slo_rules_test;
%ignore eqops_slo_rules_options;
%ignore eqops_slo_recorded_series;
%ignore eqops_slo_budget_from_counts;
%ignore eqops_slo_time_to_exhaustion;
%ignore eqops_slo_burn_factor;
%ignore eqops_slo_window_fires;
%ignore eqops_slo_calendar_period;
%ignore eqops_slo_alert_analyze;

%immutable;
%include "eqops/slo.h"
%mutable;

%inline %{
/* ---- flat forms for the bindings -------------------------------------------------------- */

int eqops_bind_slo_budget(eqops_slo_budget *out, double target, double bad, double total,
                          double min_events, eqops_error *err)
{
    return eqops_slo_budget_from_counts(out, target, bad, total, min_events, err);
}

int eqops_bind_slo_exhaustion(int64_t *out_ms, int *flag, double remaining, double burn_rate,
                              int64_t period_ms, eqops_error *err)
{
    return eqops_slo_time_to_exhaustion(out_ms, flag, remaining, burn_rate, period_ms, err);
}

int eqops_bind_slo_burn_factor(double *out_value, double budget_fraction, int64_t period_ms,
                               int64_t long_ms, eqops_error *err)
{
    return eqops_slo_burn_factor(out_value, budget_fraction, period_ms, long_ms, err);
}

int eqops_bind_slo_alert_analyze(eqops_slo_alert_analysis *out, double target, int64_t period_ms,
                                 int64_t long_ms, int64_t short_ms, double factor, int64_t for_ms,
                                 double error_ratio, eqops_error *err)
{
    eqops_slo_alert_window w = {long_ms, short_ms, factor, for_ms};
    return eqops_slo_alert_analyze(out, target, period_ms, &w, error_ratio, err);
}

int eqops_bind_slo_window_fires(int *flag, double target, int64_t long_ms, int64_t short_ms,
                                double factor, double long_ratio, double short_ratio,
                                eqops_error *err)
{
    eqops_slo_alert_window w = {long_ms, short_ms, factor, 0};
    return eqops_slo_window_fires(flag, target, &w, long_ratio, short_ratio, err);
}

int eqops_bind_slo_default_window_count(size_t *n, int64_t period_ms, int severity,
                                        eqops_error *err)
{
    return eqops_slo_default_windows(NULL, 0, n, period_ms, severity, err);
}

int eqops_bind_slo_default_window(eqops_slo_alert_window *out, int64_t period_ms, int severity,
                                  size_t index, eqops_error *err)
{
    eqops_slo_alert_window w[16];
    size_t n = 0;
    int rc = eqops_slo_default_windows(w, 16, &n, period_ms, severity, err);
    if (rc != 0)
        return rc;
    if (index >= n) {
        if (err != NULL) {
            eqops_error_clear(err);
            err->code = EQOPS_EINVAL;
            snprintf(err->message, sizeof(err->message), "index: %zu of %zu windows", index, n);
        }
        return EQOPS_EINVAL;
    }
    *out = w[index];
    return 0;
}

int eqops_bind_slo_composite(double *out_value, const double *IN, size_t IN_LEN,
                             const double *weights, size_t weights_len, const int *has_data,
                             size_t has_data_len, int policy, eqops_error *err)
{
    if (weights_len != IN_LEN || (has_data_len != 0 && has_data_len != IN_LEN)) {
        if (err != NULL) {
            eqops_error_clear(err);
            err->code = EQOPS_EINVAL;
            snprintf(err->message, sizeof(err->message),
                     "weights: %zu SLIs need as many weights (and has_data flags)", IN_LEN);
        }
        return EQOPS_EINVAL;
    }
    return eqops_slo_composite(out_value, IN, weights, has_data_len ? has_data : NULL, IN_LEN,
                               (eqops_slo_nodata)policy, err);
}

int eqops_bind_slo_increase(double *out_value, int *flag, const int64_t *IN, size_t IN_LEN,
                            const double *values, size_t values_len, int64_t start_ms,
                            int64_t end_ms, eqops_error *err)
{
    if (values_len != IN_LEN) {
        if (err != NULL) {
            eqops_error_clear(err);
            err->code = EQOPS_EINVAL;
            snprintf(err->message, sizeof(err->message), "values: length %zu, timestamps %zu",
                     values_len, IN_LEN);
        }
        return EQOPS_EINVAL;
    }
    return eqops_slo_increase(out_value, flag, IN, values, IN_LEN, start_ms, end_ms, err);
}

/* target 0: error ratios; otherwise burn rates */
int eqops_bind_slo_window_series(double *OUT, size_t OUT_LEN, const int64_t *IN, size_t IN_LEN,
                                 const double *counted, size_t counted_len, const double *total,
                                 size_t total_len, int counted_is_bad, int64_t window_ms,
                                 double target, double min_events, eqops_error *err)
{
    eqops_slo_series s;
    int rc = eqops_bind_series(&s, IN, IN_LEN, counted, counted_len, total, total_len,
                               counted_is_bad, err);
    if (rc != 0)
        return rc;
    if (target == 0)
        return eqops_slo_error_ratio_series(OUT, OUT_LEN, &s, window_ms, min_events, err);
    return eqops_slo_burn_rate_series(OUT, OUT_LEN, &s, window_ms, target, min_events, err);
}

int eqops_bind_slo_period_budget(eqops_slo_budget *out, const int64_t *IN, size_t IN_LEN,
                                 const double *counted, size_t counted_len, const double *total,
                                 size_t total_len, int counted_is_bad, int64_t start_ms,
                                 int64_t end_ms, int64_t step_ms, double target,
                                 double min_events, eqops_error *err)
{
    eqops_slo_series s;
    int rc = eqops_bind_series(&s, IN, IN_LEN, counted, counted_len, total, total_len,
                               counted_is_bad, err);
    return rc ? rc
              : eqops_slo_period_budget(out, &s, start_ms, end_ms, step_ms, target, min_events,
                                        err);
}

int eqops_bind_slo_timeslice_budget(eqops_slo_timeslices *out, const int64_t *IN, size_t IN_LEN,
                                    const double *counted, size_t counted_len,
                                    const double *total, size_t total_len, int counted_is_bad,
                                    int64_t start_ms, int64_t end_ms, int64_t slice_ms,
                                    double slice_target, double target, int ratio_mode,
                                    eqops_error *err)
{
    eqops_slo_series s;
    int rc = eqops_bind_series(&s, IN, IN_LEN, counted, counted_len, total, total_len,
                               counted_is_bad, err);
    return rc ? rc
              : eqops_slo_timeslice_budget(out, &s, start_ms, end_ms, slice_ms, slice_target,
                                           target, ratio_mode, err);
}

int eqops_bind_slo_calendar_period(int64_t *start_ms, int64_t *end_ms, const char *unit,
                                   const char *timezone, int64_t at_ms, eqops_error *err)
{
    return eqops_slo_calendar_period(start_ms, end_ms, unit, timezone, at_ms, err);
}

/* Sets and series files come back as pointers; NULL with `perr` filled on failure. */
eqops_slo_set *eqops_bind_slo_set_parse(const char *text, int format, eqops_error *perr)
{
    eqops_slo_set *set = NULL;
    eqops_slo_set_parse(&set, text, text ? strlen(text) : 0, (eqops_slo_format)format, perr);
    return set;
}

eqops_slo_set *eqops_bind_slo_set_load(const char *path, eqops_error *perr)
{
    eqops_slo_set *set = NULL;
    eqops_slo_set_load(&set, path, perr);
    return set;
}

eqops_slo_series_data *eqops_bind_slo_series_load(const char *path, eqops_error *perr)
{
    eqops_slo_series_data *d = NULL;
    eqops_slo_series_load(&d, path, perr);
    return d;
}

size_t eqops_bind_slo_series_len(const eqops_slo_series_data *d)
{
    const eqops_slo_series *s = eqops_slo_series_view(d);
    return s ? s->n : 0;
}

int eqops_bind_slo_series_is_bad(const eqops_slo_series_data *d)
{
    const eqops_slo_series *s = eqops_slo_series_view(d);
    return s && s->bad != NULL;
}

/* Copy the samples into caller arrays of eqops_bind_slo_series_len() items. */
int eqops_bind_slo_series_copy(const eqops_slo_series_data *d, int64_t *OUT, size_t OUT_LEN,
                               double *counted, size_t counted_len, double *total,
                               size_t total_len, eqops_error *err)
{
    const eqops_slo_series *s = eqops_slo_series_view(d);
    if (s == NULL || OUT_LEN != s->n || counted_len != s->n || total_len != s->n) {
        if (err != NULL) {
            eqops_error_clear(err);
            err->code = EQOPS_EINVAL;
            snprintf(err->message, sizeof(err->message), "arrays must hold %zu samples",
                     s ? s->n : 0);
        }
        return EQOPS_EINVAL;
    }
    memcpy(OUT, s->t_ms, s->n * sizeof(int64_t));
    memcpy(counted, s->bad ? s->bad : s->good, s->n * sizeof(double));
    memcpy(total, s->total, s->n * sizeof(double));
    return 0;
}

/* test 0: the rules; 1: the promtool test file */
int eqops_bind_slo_rules(char **out, const eqops_slo_set *set, int naming, int64_t interval_ms,
                         int64_t step_ms, const char *rules_file, int test, eqops_error *err)
{
    eqops_slo_rules_options o;
    eqops_slo_rules_options_init(&o, EQOPS_SLO_RULES_OPTIONS_VERSION);
    o.naming = (eqops_slo_naming)naming;
    o.interval_ms = interval_ms;
    o.step_ms = step_ms;
    o.rules_file = rules_file && *rules_file ? rules_file : NULL;
    return test ? eqops_slo_rules_test(out, set, &o, err) : eqops_slo_rules(out, set, &o, err);
}

size_t eqops_bind_slo_recorded_series(const eqops_slo_set *set, int naming)
{
    eqops_slo_rules_options o;
    eqops_slo_rules_options_init(&o, EQOPS_SLO_RULES_OPTIONS_VERSION);
    o.naming = (eqops_slo_naming)naming;
    return eqops_slo_recorded_series(set, &o);
}

int eqops_bind_slo_report(char **out, const eqops_slo_set *set, const char *prometheus_url,
                          const eqops_slo_series_data *series, int64_t at_ms, const char *ca_file,
                          const char *bearer_token, long timeout_ms, eqops_cancel *cancel,
                          eqops_error *err)
{
    eqops_slo_report_options o;
    eqops_slo_report_options_init(&o, EQOPS_SLO_REPORT_OPTIONS_VERSION);
    o.cancel = cancel;
    /* Go passes "" for an absent string */
    o.prometheus_url = prometheus_url && *prometheus_url ? prometheus_url : NULL;
    o.series = series ? eqops_slo_series_view(series) : NULL;
    o.at_ms = at_ms;
    o.ca_file = ca_file && *ca_file ? ca_file : NULL;
    o.bearer_token = bearer_token && *bearer_token ? bearer_token : NULL;
    o.timeout_ms = timeout_ms;
    return eqops_slo_report(out, set, &o, err);
}

/* The report computed offline from samples held by the caller (no file). */
int eqops_bind_slo_report_series(char **out, const eqops_slo_set *set, const int64_t *IN,
                                 size_t IN_LEN, const double *counted, size_t counted_len,
                                 const double *total, size_t total_len, int counted_is_bad,
                                 int64_t at_ms, eqops_error *err)
{
    eqops_slo_series s;
    int rc = eqops_bind_series(&s, IN, IN_LEN, counted, counted_len, total, total_len,
                               counted_is_bad, err);
    if (rc != 0)
        return rc;
    eqops_slo_report_options o;
    eqops_slo_report_options_init(&o, EQOPS_SLO_REPORT_OPTIONS_VERSION);
    o.series = &s;
    o.at_ms = at_ms;
    return eqops_slo_report(out, set, &o, err);
}
%}
