/*
 * json.c - untrusted JSON documents, typed field access with named errors, number format.
 */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_depth(const json_t *v, int depth)
{
    if (depth > EQOPS__DOC_MAX_DEPTH)
        return -1;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c)
        {
            if (check_depth(c, depth + 1) != 0)
                return -1;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            if (check_depth(c, depth + 1) != 0)
                return -1;
        }
    }
    return 0;
}

int eqops__json_parse(json_t **out, const char *text, size_t len, const char *what,
                      eqops_error *err)
{
    *out = NULL;
    if (text == NULL)
        return eqops__err(err, EQOPS_EINVAL, "%s: no text", what);
    if (len > EQOPS__DOC_MAX_BYTES)
        return eqops__err(err, EQOPS_ETOOBIG, "%s: larger than %u bytes", what,
                          EQOPS__DOC_MAX_BYTES);
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (v == NULL) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return eqops__err(err, EQOPS_ENOMEM, "%s: out of memory", what);
        return eqops__err(err, EQOPS_EINVAL, "%s: invalid JSON at line %d column %d: %s", what,
                          je.line, je.column, je.text);
    }
    if (check_depth(v, 0) != 0) {
        json_decref(v);
        return eqops__err(err, EQOPS_EINVAL, "%s: nested deeper than %d levels", what,
                          EQOPS__DOC_MAX_DEPTH);
    }
    *out = v;
    return 0;
}

/* ---- paths ------------------------------------------------------------------------------- */

void eqops__jpath_init(eqops_jpath *p, const char *root)
{
    snprintf(p->text, sizeof(p->text), "%s", root ? root : "");
}

void eqops__jpath_key(eqops_jpath *child, const eqops_jpath *parent, const char *key)
{
    if (parent->text[0])
        snprintf(child->text, sizeof(child->text), "%.120s.%.60s", parent->text, key);
    else
        snprintf(child->text, sizeof(child->text), "%.60s", key);
}

void eqops__jpath_index(eqops_jpath *child, const eqops_jpath *parent, size_t i)
{
    snprintf(child->text, sizeof(child->text), "%.160s[%zu]", parent->text, i);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

/* Levenshtein distance, capped: for "did you mean" suggestions. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (a[i - 1] != b[j - 1]);
            size_t del = row[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = cur;
        }
    }
    return row[lb];
}

int eqops__json_only_keys(const json_t *obj, const eqops_jpath *path, const char *const *allowed,
                          eqops_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        size_t i;
        for (i = 0; allowed[i]; i++)
            if (strcmp(allowed[i], key) == 0)
                break;
        if (allowed[i])
            continue;
        const char *best = NULL;
        size_t best_d = 3;
        for (i = 0; allowed[i]; i++) {
            size_t d = edit_distance(key, allowed[i]);
            if (d < best_d) {
                best_d = d;
                best = allowed[i];
            }
        }
        eqops_jpath p;
        eqops__jpath_key(&p, path, key);
        if (best)
            return eqops__err_field(err, EQOPS_EINVAL, p.text, "unknown field (did you mean %s?)",
                                    best);
        return eqops__err_field(err, EQOPS_EINVAL, p.text, "unknown field");
    }
    return 0;
}

static int wrong_type(const eqops_jpath *p, const json_t *v, const char *want, eqops_error *err)
{
    return eqops__err_field(err, EQOPS_EINVAL, p->text, "must be %s, not %s", want, type_name(v));
}

#define TYPE(t) (1u << (t))

/* The value of `key` (NULL when absent or null and not required) if its type is one of
 * `types`; else the error naming the field and `want`. */
static int get(const json_t *obj, const char *key, const eqops_jpath *path, bool required,
               unsigned types, const char *want, json_t **v, eqops_jpath *p, eqops_error *err)
{
    eqops__jpath_key(p, path, key);
    *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (*v == NULL || json_is_null(*v)) {
        *v = NULL;
        return required ? eqops__err_field(err, EQOPS_EINVAL, p->text, "required") : 0;
    }
    if ((types & TYPE(json_typeof(*v))) == 0)
        return wrong_type(p, *v, want, err);
    return 0;
}

int eqops__json_string(const json_t *obj, const char *key, const eqops_jpath *path, bool required,
                       const char **out, eqops_error *err)
{
    json_t *v;
    eqops_jpath p;
    int rc = get(obj, key, path, required, TYPE(JSON_STRING), "a string", &v, &p, err);
    if (rc != 0 || v == NULL)
        return rc;
    if (strlen(json_string_value(v)) != json_string_length(v))
        return eqops__err_field(err, EQOPS_EINVAL, p.text, "must not contain NUL characters");
    *out = json_string_value(v);
    return 0;
}

int eqops__json_number(const json_t *obj, const char *key, const eqops_jpath *path, bool required,
                       double *out, eqops_error *err)
{
    json_t *v;
    eqops_jpath p;
    int rc = get(obj, key, path, required, TYPE(JSON_INTEGER) | TYPE(JSON_REAL), "a number", &v, &p,
                 err);
    if (rc != 0 || v == NULL)
        return rc;
    double d = json_number_value(v);
    if (!isfinite(d))
        return eqops__err_field(err, EQOPS_EINVAL, p.text, "must be a finite number");
    *out = d;
    return 0;
}

int eqops__json_bool(const json_t *obj, const char *key, const eqops_jpath *path, bool required,
                     bool *out, eqops_error *err)
{
    json_t *v;
    eqops_jpath p;
    int rc = get(obj, key, path, required, TYPE(JSON_TRUE) | TYPE(JSON_FALSE), "true or false", &v,
                 &p, err);
    if (rc != 0 || v == NULL)
        return rc;
    *out = json_is_true(v);
    return 0;
}

int eqops__json_object(const json_t *obj, const char *key, const eqops_jpath *path, bool required,
                       json_t **out, eqops_error *err)
{
    json_t *v;
    eqops_jpath p;
    int rc = get(obj, key, path, required, TYPE(JSON_OBJECT), "an object", &v, &p, err);
    if (rc == 0 && v != NULL)
        *out = v;
    return rc;
}

int eqops__json_array(const json_t *obj, const char *key, const eqops_jpath *path, bool required,
                      json_t **out, eqops_error *err)
{
    json_t *v;
    eqops_jpath p;
    int rc = get(obj, key, path, required, TYPE(JSON_ARRAY), "a list", &v, &p, err);
    if (rc == 0 && v != NULL)
        *out = v;
    return rc;
}

int eqops__json_duration(const json_t *obj, const char *key, const eqops_jpath *path, bool required,
                         int64_t *out_ms, eqops_error *err)
{
    const char *s = NULL;
    int rc = eqops__json_string(obj, key, path, required, &s, err);
    if (rc != 0 || s == NULL)
        return rc;
    eqops_jpath p;
    eqops__jpath_key(&p, path, key);
    int64_t ms;
    if (eqops__duration_parse(s, &ms, NULL) != 0)
        return eqops__err_field(err, EQOPS_EINVAL, p.text,
                                "'%.40s' is not a duration like 30d, 1h30m or 5m", s);
    *out_ms = ms;
    return 0;
}

bool eqops__jset(json_t *obj, const char *key, json_t *value)
{
    if (obj == NULL || value == NULL) {
        json_decref(value);
        return false;
    }
    return json_object_set_new(obj, key, value) == 0;
}

bool eqops__jappend(json_t *arr, json_t *value)
{
    if (arr == NULL || value == NULL) {
        json_decref(value);
        return false;
    }
    return json_array_append_new(arr, value) == 0;
}

char *eqops__json_dump(const json_t *value, size_t flags)
{
    /* jansson allocates through the allocator hook (eqops_init installs it), so the result
     * is released with eqops__free like everything else */
    return json_dumps(value, flags | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
}

void eqops__fmt_double(double v, char out[32])
{
    if (!isfinite(v)) {
        snprintf(out, 32, "0");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}
