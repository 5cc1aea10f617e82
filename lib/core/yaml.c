/*
 * yaml.c - YAML documents (kubeconfigs, OpenSLO, tenant specs) read with libyaml into jansson
 * values, so one validation path serves JSON and YAML.
 */
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Aliases may point at big subtrees: cap the number of nodes a document expands to. */
#define MAX_NODES 1000000

/*
 * Anchors live in jansson objects (hash tables keyed by the anchor's name), so an alias is
 * found in constant time: `anchors` maps a name to its node, `sizes` to the number of nodes it
 * expands to when that is more than one (counted while the node was built). The whole load is
 * linear in the size of the document: no scan of the anchors, no walk of a subtree to count it.
 */
struct loader {
    yaml_parser_t parser;
    const char *what;
    eqops_error *err;
    json_t *anchors, *sizes;
    size_t nodes; /* nodes read so far, aliases counted as what they expand to */
    int depth;
};

static int fail(struct loader *l, int code, const yaml_mark_t *m, const char *msg)
{
    if (m != NULL)
        return eqops__err(l->err, code, "%s: line %zu column %zu: %s", l->what, m->line + 1,
                          m->column + 1, msg);
    return eqops__err(l->err, code, "%s: %s", l->what, msg);
}

static int next(struct loader *l, yaml_event_t *ev)
{
    if (yaml_parser_parse(&l->parser, ev))
        return 0;
    if (l->parser.error == YAML_MEMORY_ERROR)
        return fail(l, EQOPS_ENOMEM, NULL, "out of memory");
    return eqops__err(l->err, EQOPS_EINVAL, "%s: invalid YAML at line %zu column %zu: %s", l->what,
                      l->parser.problem_mark.line + 1, l->parser.problem_mark.column + 1,
                      l->parser.problem ? l->parser.problem : "syntax error");
}

static bool is_int(const char *s, long long *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (*p < '0' || *p > '9')
        return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end)
        return false;
    *out = v;
    return true;
}

static bool is_float(const char *s, double *out)
{
    /* YAML 1.2 core: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    bool digits = false;
    while (*p >= '0' && *p <= '9') {
        p++;
        digits = true;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            digits = true;
        }
    }
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return false;
    double v = strtod(s, NULL);
    if (!isfinite(v))
        return false;
    *out = v;
    return true;
}

typedef enum plain_kind {
    PLAIN_STRING,
    PLAIN_NULL,
    PLAIN_TRUE,
    PLAIN_FALSE,
    PLAIN_INT,
    PLAIN_FLOAT
} plain_kind;

/* What a plain scalar means by the YAML 1.2 core schema. */
static plain_kind plain(const char *s, size_t len, long long *i, double *d)
{
    if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        return PLAIN_NULL;
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return PLAIN_TRUE;
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return PLAIN_FALSE;
    if (strlen(s) == len && is_int(s, i))
        return PLAIN_INT;
    if (strlen(s) == len && is_float(s, d))
        return PLAIN_FLOAT;
    return PLAIN_STRING;
}

/* A scalar event's value; quoted scalars are always strings. */
static json_t *scalar(const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || (tag && strcmp(tag, YAML_STR_TAG) == 0))
        return json_stringn(s, len);
    long long i = 0;
    double d = 0;
    switch (plain(s, len, &i, &d)) {
    case PLAIN_NULL:
        return json_null();
    case PLAIN_TRUE:
        return json_true();
    case PLAIN_FALSE:
        return json_false();
    case PLAIN_INT:
        return json_integer(i);
    case PLAIN_FLOAT:
        return json_real(d);
    case PLAIN_STRING:
        break;
    }
    return json_stringn(s, len);
}

/* Remember `v` under `anchor` (a later anchor of the same name replaces it, as YAML says);
 * `nodes` is what it expands to. */
static int remember(struct loader *l, const yaml_char_t *anchor, json_t *v, size_t nodes)
{
    if (anchor == NULL)
        return 0;
    const char *name = (const char *)anchor;
    if (json_object_set_nocheck(l->anchors, name, v) != 0)
        return fail(l, EQOPS_ENOMEM, NULL, "out of memory");
    if (nodes == 1) {
        json_object_del(l->sizes, name); /* an earlier anchor of this name may have been big */
        return 0;
    }
    if (json_object_set_new_nocheck(l->sizes, name, json_integer((json_int_t)nodes)) != 0)
        return fail(l, EQOPS_ENOMEM, NULL, "out of memory");
    return 0;
}

static int node(struct loader *l, yaml_event_t *ev, json_t **out);

static int collection(struct loader *l, yaml_event_t *start, json_t **out)
{
    bool is_map = start->type == YAML_MAPPING_START_EVENT;
    json_t *c = is_map ? json_object() : json_array();
    int rc = 0;
    if (c == NULL)
        return fail(l, EQOPS_ENOMEM, NULL, "out of memory");
    if (++l->depth > EQOPS__DOC_MAX_DEPTH) {
        json_decref(c);
        return fail(l, EQOPS_EINVAL, &start->start_mark, "nested too deeply");
    }
    for (;;) {
        yaml_event_t ev;
        if ((rc = next(l, &ev)) != 0)
            goto fail;
        if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        json_t *key = NULL, *val = NULL;
        if (is_map) {
            yaml_mark_t km = ev.start_mark;
            rc = node(l, &ev, &key);
            if (rc != 0)
                goto fail;
            if (!json_is_string(key) && !json_is_integer(key) && !json_is_true(key) &&
                !json_is_false(key) && !json_is_real(key)) {
                json_decref(key);
                rc = fail(l, EQOPS_EINVAL, &km, "mapping keys must be scalars");
                goto fail;
            }
            char buf[64];
            const char *k = buf;
            if (json_is_string(key))
                k = json_string_value(key);
            else if (json_is_integer(key))
                snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(key));
            else if (json_is_real(key))
                eqops__fmt_double(json_real_value(key), buf);
            else
                k = json_is_true(key) ? "true" : "false";
            if (json_object_get(c, k) != NULL) {
                char msg[160];
                snprintf(msg, sizeof(msg), "duplicate key '%.80s'", k);
                json_decref(key);
                rc = fail(l, EQOPS_EINVAL, &km, msg);
                goto fail;
            }
            if ((rc = next(l, &ev)) != 0 || (rc = node(l, &ev, &val)) != 0) {
                json_decref(key);
                goto fail;
            }
            int r = json_object_set_new(c, k, val);
            json_decref(key);
            if (r != 0) {
                rc = fail(l, EQOPS_ENOMEM, NULL, "out of memory");
                goto fail;
            }
        } else {
            if ((rc = node(l, &ev, &val)) != 0)
                goto fail;
            if (json_array_append_new(c, val) != 0) {
                rc = fail(l, EQOPS_ENOMEM, NULL, "out of memory");
                goto fail;
            }
        }
    }
    l->depth--;
    *out = c;
    return 0;
fail:
    l->depth--;
    json_decref(c);
    return rc;
}

/* Build the value starting with `ev` (consumed). */
static int node(struct loader *l, yaml_event_t *ev, json_t **out)
{
    int rc = 0;
    size_t before = l->nodes; /* what this node expands to is l->nodes - before, once built */
    *out = NULL;
    if (++l->nodes > MAX_NODES) {
        rc = fail(l, EQOPS_ETOOBIG, &ev->start_mark, "more than a million nodes");
        goto done;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        if ((*out = scalar(ev)) == NULL)
            rc = fail(l, EQOPS_ENOMEM, NULL, "out of memory");
        else
            rc = remember(l, ev->data.scalar.anchor, *out, l->nodes - before);
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        yaml_char_t *anchor = ev->type == YAML_MAPPING_START_EVENT ? ev->data.mapping_start.anchor
                                                                   : ev->data.sequence_start.anchor;
        rc = collection(l, ev, out);
        if (rc == 0)
            rc = remember(l, anchor, *out, l->nodes - before);
        break;
    }
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        json_t *a = json_object_get(l->anchors, name);
        if (a == NULL) {
            rc = fail(l, EQOPS_EINVAL, &ev->start_mark, "alias to an unknown anchor");
            break;
        }
        /* the alias stands for the nodes it expands to (one of them counted above) */
        const json_t *size = json_object_get(l->sizes, name);
        size_t n = size ? (size_t)json_integer_value(size) : 1;
        if (n - 1 > MAX_NODES - l->nodes) {
            rc = fail(l, EQOPS_ETOOBIG, &ev->start_mark,
                      "aliases expand to more than a million nodes");
            break;
        }
        l->nodes += n - 1;
        *out = json_incref(a);
        break;
    }
    default:
        rc = fail(l, EQOPS_EINVAL, &ev->start_mark, "unexpected YAML event");
        break;
    }
done:
    if (rc != 0 && *out != NULL) {
        json_decref(*out);
        *out = NULL;
    }
    yaml_event_delete(ev);
    return rc;
}

int eqops__yaml_parse(json_t **out, const char *text, size_t len, bool multi, const char *what,
                      eqops_error *err)
{
    *out = NULL;
    if (text == NULL)
        return eqops__err(err, EQOPS_EINVAL, "%s: no text", what);
    if (len > EQOPS__DOC_MAX_BYTES)
        return eqops__err(err, EQOPS_ETOOBIG, "%s: larger than %u bytes", what,
                          EQOPS__DOC_MAX_BYTES);
    struct loader l = {.what = what, .err = err};
    if (!yaml_parser_initialize(&l.parser))
        return eqops__err(err, EQOPS_ENOMEM, "%s: out of memory", what);
    yaml_parser_set_input_string(&l.parser, (const unsigned char *)text, len);
    json_t *docs = json_array();
    l.anchors = json_object();
    l.sizes = json_object();
    int rc = docs && l.anchors && l.sizes ? 0 : fail(&l, EQOPS_ENOMEM, NULL, "out of memory");
    bool done = false;
    while (rc == 0 && !done) {
        yaml_event_t ev;
        if ((rc = next(&l, &ev)) != 0)
            break;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            yaml_event_delete(&ev);
            break;
        case YAML_DOCUMENT_START_EVENT: {
            yaml_event_delete(&ev);
            /* an anchor belongs to its document: a later one cannot refer to it */
            json_object_clear(l.anchors);
            json_object_clear(l.sizes);
            json_t *doc = NULL;
            if ((rc = next(&l, &ev)) != 0)
                break;
            if (ev.type == YAML_DOCUMENT_END_EVENT) { /* empty document */
                yaml_event_delete(&ev);
                doc = json_null();
            } else {
                if ((rc = node(&l, &ev, &doc)) != 0)
                    break;
                if ((rc = next(&l, &ev)) != 0) {
                    json_decref(doc);
                    break;
                }
                yaml_event_delete(&ev); /* DOCUMENT-END */
            }
            if (json_array_append_new(docs, doc) != 0)
                rc = fail(&l, EQOPS_ENOMEM, NULL, "out of memory");
            break;
        }
        default:
            yaml_event_delete(&ev);
            break;
        }
    }
    json_decref(l.anchors);
    json_decref(l.sizes);
    yaml_parser_delete(&l.parser);
    if (rc != 0) {
        json_decref(docs);
        return rc;
    }
    if (multi) {
        *out = docs;
        return 0;
    }
    if (json_array_size(docs) > 1) {
        json_decref(docs);
        return eqops__err(err, EQOPS_EINVAL, "%s: expected one YAML document, found several", what);
    }
    *out = json_array_size(docs) ? json_incref(json_array_get(docs, 0)) : json_null();
    json_decref(docs);
    return *out ? 0 : eqops__err(err, EQOPS_ENOMEM, "%s: out of memory", what);
}

/* ---- writing ----------------------------------------------------------------------------- */

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
    return eqops__buf_put(data, buffer, size) == 0;
}

/* Would this text read back as something other than a string? Then it must be quoted. */
static bool needs_quotes(const char *s, size_t len)
{
    long long i;
    double d;
    return strlen(s) != len || plain(s, len, &i, &d) != PLAIN_STRING;
}

static int emit(yaml_emitter_t *em, const json_t *v)
{
    yaml_event_t ev;
    char num[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return -1;
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c)
        {
            json_t *key = json_string(k);
            int rc = key ? emit(em, key) : -1;
            json_decref(key);
            if (rc != 0 || emit(em, c) != 0)
                return -1;
        }
        return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev) ? 0 : -1;
    }
    case JSON_ARRAY: {
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return -1;
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            if (emit(em, c) != 0)
                return -1;
        }
        return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev) ? 0 : -1;
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
        if (memchr(s, '\n', len) != NULL) /* PromQL over several lines reads best as a block */
            style = YAML_LITERAL_SCALAR_STYLE;
        else if (needs_quotes(s, len))
            style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        return yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, 1, 1,
                                            style) &&
                       yaml_emitter_emit(em, &ev)
                   ? 0
                   : -1;
    }
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        eqops__fmt_double(json_real_value(v), num);
        if (strpbrk(num, ".eE") == NULL) /* 15.0 must read back as a float, not the int 15 */
            strcat(num, ".0");
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        snprintf(num, sizeof(num), "%s", json_is_true(v) ? "true" : "false");
        break;
    case JSON_NULL:
        snprintf(num, sizeof(num), "null");
        break;
    }
    return yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)num, (int)strlen(num), 1, 0,
                                        YAML_PLAIN_SCALAR_STYLE) &&
                   yaml_emitter_emit(em, &ev)
               ? 0
               : -1;
}

int eqops__yaml_dump(const json_t *value, eqops_buf *out, eqops_error *err)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&em))
        return eqops__err(err, EQOPS_ENOMEM, "YAML: out of memory");
    yaml_emitter_set_output(&em, write_handler, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    yaml_emitter_set_indent(&em, 2);
    int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
             yaml_emitter_emit(&em, &ev) &&
             yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
             yaml_emitter_emit(&em, &ev) && emit(&em, value) == 0 &&
             yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
             yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev);
    yaml_emitter_delete(&em);
    if (!ok || eqops__buf_ok(out) != 0)
        return eqops__err(err, EQOPS_ENOMEM, "YAML: out of memory");
    return 0;
}
