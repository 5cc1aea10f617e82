/*
 * series_file.c - counter samples from CSV or JSON files, for offline reports.
 */
#include "slo_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define SERIES_MAX_BYTES   ((size_t)1 << 30)
#define SERIES_MAX_SAMPLES ((size_t)100000000)

struct eqops_slo_series_data {
    eqops_slo_series view;
    int64_t *t;
    double *count; /* bad or good */
    double *total;
    size_t cap;
};

void eqops_slo_series_data_free(eqops_slo_series_data *d)
{
    if (d == NULL)
        return;
    eqops__free(d->t);
    eqops__free(d->count);
    eqops__free(d->total);
    eqops__free(d);
}

const eqops_slo_series *eqops_slo_series_view(const eqops_slo_series_data *d)
{
    return d ? &d->view : NULL;
}

static int grow(eqops_slo_series_data *d, size_t need)
{
    if (need <= d->cap)
        return 0;
    size_t cap = d->cap ? d->cap * 2 : 1024;
    while (cap < need)
        cap *= 2;
    int64_t *t = eqops__realloc(d->t, cap * sizeof(*t));
    if (t == NULL)
        return EQOPS_ENOMEM;
    d->t = t;
    double *c = eqops__realloc(d->count, cap * sizeof(*c));
    if (c == NULL)
        return EQOPS_ENOMEM;
    d->count = c;
    double *tot = eqops__realloc(d->total, cap * sizeof(*tot));
    if (tot == NULL)
        return EQOPS_ENOMEM;
    d->total = tot;
    d->cap = cap;
    return 0;
}

/* Unix seconds (fractions allowed) or RFC 3339 into milliseconds. */
static int parse_time(const char *s, size_t len, int64_t *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strchr(buf, 'T') != NULL || strchr(buf, 't') != NULL)
        return eqops__time_parse_rfc3339(buf, out, NULL) == 0 ? 0 : -1;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0 || v > 1e13)
        return -1;
    *out = llround(v * 1000);
    return 0;
}

static int parse_count(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0)
        return -1;
    *out = v;
    return 0;
}

static int finish(eqops_slo_series_data *d, size_t n, bool bad, eqops_error *err)
{
    for (size_t i = 1; i < n; i++)
        if (d->t[i] <= d->t[i - 1])
            return eqops__err(err, EQOPS_EINVAL,
                              "series: timestamps must increase strictly (sample %zu)", i + 1);
    d->view.t_ms = d->t;
    d->view.total = d->total;
    d->view.bad = bad ? d->count : NULL;
    d->view.good = bad ? NULL : d->count;
    d->view.n = n;
    return 0;
}

static int load_csv(eqops_slo_series_data *d, const char *text, size_t len, eqops_error *err)
{
    const char *p = text, *end = text + len;
    size_t line = 0, n = 0;
    bool bad = false;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        line++;
        if (le > p && le[-1] == '\r')
            le--;
        const char *f[4];
        size_t fl[4], nf = 0;
        for (const char *q = p; nf < 4;) {
            const char *c = memchr(q, ',', (size_t)(le - q));
            const char *fe = c ? c : le;
            while (q < fe && (*q == ' ' || *q == '\t'))
                q++;
            const char *te = fe;
            while (te > q && (te[-1] == ' ' || te[-1] == '\t'))
                te--;
            f[nf] = q;
            fl[nf++] = (size_t)(te - q);
            if (c == NULL)
                break;
            q = c + 1;
        }
        if (line == 1) {
            if (nf != 3 || fl[0] != 9 || strncmp(f[0], "timestamp", 9) != 0 || fl[2] != 5 ||
                strncmp(f[2], "total", 5) != 0 ||
                !((fl[1] == 4 && strncmp(f[1], "good", 4) == 0) ||
                  (fl[1] == 3 && strncmp(f[1], "bad", 3) == 0)))
                return eqops__err(err, EQOPS_EINVAL,
                                  "series: line 1: the header must be timestamp,good,total or "
                                  "timestamp,bad,total");
            bad = fl[1] == 3;
        } else if (!(nf == 1 && fl[0] == 0)) { /* skip blank lines */
            if (nf != 3)
                return eqops__err(err, EQOPS_EINVAL, "series: line %zu: expected 3 fields", line);
            if (n >= SERIES_MAX_SAMPLES)
                return eqops__err(err, EQOPS_ETOOBIG, "series: more than %zu samples",
                                  SERIES_MAX_SAMPLES);
            if (grow(d, n + 1) != 0)
                return eqops__err(err, EQOPS_ENOMEM, "series: out of memory");
            if (parse_time(f[0], fl[0], &d->t[n]) != 0)
                return eqops__err(err, EQOPS_EINVAL,
                                  "series: line %zu: timestamp must be Unix seconds or RFC 3339",
                                  line);
            if (parse_count(f[1], fl[1], &d->count[n]) != 0 ||
                parse_count(f[2], fl[2], &d->total[n]) != 0)
                return eqops__err(err, EQOPS_EINVAL,
                                  "series: line %zu: counts must be finite numbers >= 0", line);
            n++;
        }
        p = eol ? eol + 1 : end;
    }
    if (line == 0)
        return eqops__err(err, EQOPS_EINVAL, "series: empty file");
    return finish(d, n, bad, err);
}

static int load_json(eqops_slo_series_data *d, const char *text, size_t len, eqops_error *err)
{
    json_t *doc = NULL;
    json_error_t je;
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL)
        return eqops__err(err, EQOPS_EINVAL, "series: invalid JSON at line %d: %s", je.line,
                          je.text);
    static const char *const keys[] = {"timestamp", "good", "bad", "total", NULL};
    eqops_jpath root;
    eqops__jpath_init(&root, "series");
    json_t *ts = NULL, *good = NULL, *bad = NULL, *total = NULL;
    int rc;
    if (!json_is_object(doc)) {
        rc = eqops__err(err, EQOPS_EINVAL, "series: must be a JSON object");
        goto done;
    }
    if ((rc = eqops__json_only_keys(doc, &root, keys, err)) != 0 ||
        (rc = eqops__json_array(doc, "timestamp", &root, true, &ts, err)) != 0 ||
        (rc = eqops__json_array(doc, "good", &root, false, &good, err)) != 0 ||
        (rc = eqops__json_array(doc, "bad", &root, false, &bad, err)) != 0 ||
        (rc = eqops__json_array(doc, "total", &root, true, &total, err)) != 0)
        goto done;
    json_t *cnt = bad ? bad : good;
    size_t n = json_array_size(ts);
    if ((bad == NULL) == (good == NULL)) {
        rc = eqops__err_field(err, EQOPS_EINVAL, "series", "give exactly one of good and bad");
        goto done;
    }
    if (json_array_size(cnt) != n || json_array_size(total) != n) {
        rc = eqops__err_field(err, EQOPS_EINVAL, "series",
                              "timestamp, %s and total must have the same length",
                              bad ? "bad" : "good");
        goto done;
    }
    if (grow(d, n ? n : 1) != 0) {
        rc = eqops__err(err, EQOPS_ENOMEM, "series: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(ts, i), *b = json_array_get(cnt, i),
               *c = json_array_get(total, i);
        double sec = json_number_value(a);
        if (!json_is_number(a) || !(sec >= 0 && sec < 1e13) || !json_is_number(b) ||
            !json_is_number(c) || !(json_number_value(b) >= 0) || !(json_number_value(c) >= 0)) {
            rc = eqops__err_field(err, EQOPS_EINVAL, "series",
                                  "sample %zu: numbers >= 0 expected (timestamps in seconds)", i);
            goto done;
        }
        d->t[i] = llround(sec * 1000);
        d->count[i] = json_number_value(b);
        d->total[i] = json_number_value(c);
    }
    rc = finish(d, n, bad != NULL, err);
done:
    json_decref(doc);
    return rc;
}

int eqops__slo_series_parse(eqops_slo_series_data **out, const char *text, size_t len,
                            eqops_error *err)
{
    *out = NULL;
    eqops_slo_series_data *d = eqops__calloc(1, sizeof(*d));
    if (d == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "series: out of memory");
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t'))
        i++;
    int rc = i < len && text[i] == '{' ? load_json(d, text, len, err) : load_csv(d, text, len, err);
    if (rc != 0) {
        eqops_slo_series_data_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int eqops_slo_series_load(eqops_slo_series_data **out, const char *path, eqops_error *err)
{
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = eqops__read_file(&text, &len, path, SERIES_MAX_BYTES, err);
    if (rc != 0)
        return rc;
    rc = eqops__slo_series_parse(out, text, len, err);
    eqops__free(text);
    if (rc != 0)
        eqops__err_prefix(err, "%s: ", path);
    return rc;
}
