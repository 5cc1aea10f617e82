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

/*
 * What a stream may expand to. Everything read is held at once, so the caps are for the whole
 * stream, not each document: a node cap alone would let an alias of a big string stand for
 * gigabytes, a byte cap alone millions of tiny nodes. A node counts NODE_BYTES plus the length
 * of its text; an alias counts what it expands to. A stream without aliases never reaches the
 * byte cap (at most a million nodes of at most EQOPS__DOC_MAX_BYTES of text).
 */
#define MAX_NODES          1000000
#define MAX_EXPANDED_BYTES (4u * EQOPS__DOC_MAX_BYTES)
#define NODE_BYTES         8

/*
 * Anchors live in a jansson object (a hash table keyed by the anchor's name), so an alias is
 * found in constant time. An alias is a copy of its anchor's node, made node by node and
 * counted like the nodes it stands for (so the caps and the nesting limit hold through
 * aliases): the document is a tree that its readers may change without changing another
 * part of it. Copying is linear in what the aliases expand to, which the caps bound.
 */
struct loader {
    yaml_parser_t parser;
    const char *what;
    eqops_error *err;
    json_t *anchors;
    size_t nodes; /* nodes read so far in the stream, aliases counted as what they expand to */
    size_t bytes; /* and their size */
    int depth;
};

static int fail(struct loader *l, int code, const yaml_mark_t *m, const char *msg)
{
    if (m != NULL)
        return eqops__err(l->err, code, "%s: line %zu column %zu: %s", l->what, m->line + 1,
                          m->column + 1, msg);
    return eqops__err(l->err, code, "%s: %s", l->what, msg);
}

/* Count one node of `len` bytes of text against the caps. */
static int count(struct loader *l, const yaml_mark_t *m, size_t len, bool alias)
{
    if (++l->nodes > MAX_NODES)
        return fail(l, EQOPS_ETOOBIG, m,
                    alias ? "aliases expand to more than a million nodes"
                          : "more than a million nodes");
    if (len > MAX_EXPANDED_BYTES - l->bytes || NODE_BYTES + len > MAX_EXPANDED_BYTES - l->bytes) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%s expand to more than %u bytes",
                 alias ? "aliases" : "the documents", MAX_EXPANDED_BYTES);
        return fail(l, EQOPS_ETOOBIG, m, msg);
    }
    l->bytes += NODE_BYTES + len;
    return 0;
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

/* Remember `v` under `anchor` (a later anchor of the same name replaces it, as YAML says). */
static int remember(struct loader *l, const yaml_char_t *anchor, json_t *v)
{
    if (anchor != NULL && json_object_set_nocheck(l->anchors, (const char *)anchor, v) != 0)
        return fail(l, EQOPS_ENOMEM, NULL, "out of memory");
    return 0;
}

/* A copy of `v` (an anchor's node) for an alias at `m`, counted; `depth` is the nesting
 * level a collection at the alias's place has. */
static int copy(struct loader *l, const json_t *v, int depth, const yaml_mark_t *m, json_t **out)
{
    *out = NULL;
    bool coll = json_is_object(v) || json_is_array(v);
    if (coll && depth > EQOPS__DOC_MAX_DEPTH)
        return fail(l, EQOPS_EINVAL, m, "nested too deeply (through aliases)");
    int rc = count(l, m, json_is_string(v) ? json_string_length(v) : 0, true);
    if (rc != 0)
        return rc;
    if (!coll) {
        if ((*out = json_copy((json_t *)v)) == NULL)
            return fail(l, EQOPS_ENOMEM, NULL, "out of memory");
        return 0;
    }
    json_t *c = json_is_object(v) ? json_object() : json_array();
    if (c == NULL)
        return fail(l, EQOPS_ENOMEM, NULL, "out of memory");
    if (json_is_object(v)) {
        const char *k;
        json_t *child;
        json_object_foreach((json_t *)v, k, child)
        {
            json_t *cc = NULL;
            if ((rc = count(l, m, strlen(k), true)) != 0 ||
                (rc = copy(l, child, depth + 1, m, &cc)) != 0)
                break;
            if (json_object_set_new_nocheck(c, k, cc) != 0) {
                rc = fail(l, EQOPS_ENOMEM, NULL, "out of memory");
                break;
            }
        }
    } else {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            json_t *cc = NULL;
            if ((rc = copy(l, child, depth + 1, m, &cc)) != 0)
                break;
            if (json_array_append_new(c, cc) != 0) {
                rc = fail(l, EQOPS_ENOMEM, NULL, "out of memory");
                break;
            }
        }
    }
    if (rc != 0) {
        json_decref(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* A merge key: `<<` written plain (a quoted "<<" is an ordinary key), or tagged !!merge. */
static bool is_merge_key(const yaml_event_t *ev)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    return ev->type == YAML_SCALAR_EVENT && ev->data.scalar.length == 2 &&
           memcmp(ev->data.scalar.value, "<<", 2) == 0 &&
           ((ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && tag == NULL) ||
            (tag != NULL && strcmp(tag, "tag:yaml.org,2002:merge") == 0));
}

/* Merge `src` (a mapping, or a list of them: the earlier ones win) into the mapping `c`: the
 * keys `c` does not have yet. `src` is the loader's own (built or copied for this key), so
 * its values move over. */
static int merge(struct loader *l, json_t *c, json_t *src)
{
    size_t n = json_is_array(src) ? json_array_size(src) : 1;
    for (size_t i = 0; i < n; i++) {
        json_t *from = json_is_array(src) ? json_array_get(src, i) : src;
        const char *k;
        json_t *v;
        json_object_foreach(from, k, v)
        {
            if (json_object_get(c, k) == NULL && json_object_set_nocheck(c, k, v) != 0)
                return fail(l, EQOPS_ENOMEM, NULL, "out of memory");
        }
    }
    return 0;
}

static int node(struct loader *l, yaml_event_t *ev, json_t **out);
static int next_node(struct loader *l, json_t **out);

/* A mapping's key, as the string jansson keys it by, into `buf` (or borrowed from `key`). */
static const char *key_text(const json_t *key, char buf[64])
{
    if (json_is_string(key))
        return json_string_value(key);
    if (json_is_integer(key))
        snprintf(buf, 64, "%lld", (long long)json_integer_value(key));
    else if (json_is_real(key))
        eqops__fmt_double(json_real_value(key), buf);
    else
        return json_is_true(key) ? "true" : "false";
    return buf;
}

/* One key and its value of the mapping `c`; a merge key's value goes to `*merges`. */
static int map_entry(struct loader *l, json_t *c, yaml_event_t *ev, json_t **merges)
{
    yaml_mark_t km = ev->start_mark;
    json_t *key = NULL, *val = NULL;
    int rc;
    if (is_merge_key(ev)) {
        yaml_event_delete(ev);
        if ((rc = count(l, &km, 2, false)) != 0)
            return rc;
        if (*merges != NULL)
            return fail(l, EQOPS_EINVAL, &km,
                        "duplicate merge key '<<' (merge several mappings with one: "
                        "<<: [*a, *b])");
        if ((rc = next_node(l, &val)) != 0)
            return rc;
        bool ok = json_is_object(val);
        for (size_t i = 0; json_is_array(val) && i < json_array_size(val); i++)
            ok = json_is_object(json_array_get(val, i));
        if (json_is_array(val) && json_array_size(val) == 0)
            ok = false;
        if (!ok) {
            json_decref(val);
            return fail(l, EQOPS_EINVAL, &km,
                        "a merge key '<<' takes a mapping or a list of mappings");
        }
        *merges = val;
        return 0;
    }
    if ((rc = node(l, ev, &key)) != 0)
        return rc;
    if (!json_is_string(key) && !json_is_integer(key) && !json_is_true(key) &&
        !json_is_false(key) && !json_is_real(key)) {
        json_decref(key);
        return fail(l, EQOPS_EINVAL, &km, "mapping keys must be scalars");
    }
    char buf[64];
    const char *k = key_text(key, buf);
    if (json_is_string(key) && strlen(k) != json_string_length(key)) {
        json_decref(key);
        return fail(l, EQOPS_EINVAL, &km, "mapping keys must not contain NUL characters");
    }
    if (json_object_get(c, k) != NULL) {
        char msg[160];
        snprintf(msg, sizeof(msg), "duplicate key '%.80s'", k);
        json_decref(key);
        return fail(l, EQOPS_EINVAL, &km, msg);
    }
    if ((rc = next_node(l, &val)) != 0) {
        json_decref(key);
        return rc;
    }
    rc = json_object_set_new(c, k, val);
    json_decref(key);
    return rc == 0 ? 0 : fail(l, EQOPS_ENOMEM, NULL, "out of memory");
}

static int collection(struct loader *l, yaml_event_t *start, json_t **out)
{
    bool is_map = start->type == YAML_MAPPING_START_EVENT;
    json_t *c = is_map ? json_object() : json_array();
    json_t *merges = NULL; /* the value of a merge key, applied at the end: explicit keys win */
    int rc = 0;
    if (c == NULL)
        return fail(l, EQOPS_ENOMEM, NULL, "out of memory");
    if (++l->depth > EQOPS__DOC_MAX_DEPTH) {
        json_decref(c);
        l->depth--;
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
        if (is_map) {
            if ((rc = map_entry(l, c, &ev, &merges)) != 0)
                goto fail;
        } else {
            json_t *val = NULL;
            if ((rc = node(l, &ev, &val)) != 0)
                goto fail;
            if (json_array_append_new(c, val) != 0) {
                rc = fail(l, EQOPS_ENOMEM, NULL, "out of memory");
                goto fail;
            }
        }
    }
    if (merges != NULL && (rc = merge(l, c, merges)) != 0)
        goto fail;
    json_decref(merges);
    l->depth--;
    *out = c;
    return 0;
fail:
    json_decref(merges);
    l->depth--;
    json_decref(c);
    return rc;
}

/* Build the value starting with `ev` (consumed). */
static int node(struct loader *l, yaml_event_t *ev, json_t **out)
{
    int rc = 0;
    *out = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        if ((rc = count(l, &ev->start_mark, ev->data.scalar.length, false)) != 0)
            break;
        if ((*out = scalar(ev)) == NULL)
            rc = fail(l, EQOPS_ENOMEM, NULL, "out of memory");
        else
            rc = remember(l, ev->data.scalar.anchor, *out);
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        yaml_char_t *anchor = ev->type == YAML_MAPPING_START_EVENT ? ev->data.mapping_start.anchor
                                                                   : ev->data.sequence_start.anchor;
        if ((rc = count(l, &ev->start_mark, 0, false)) != 0)
            break;
        rc = collection(l, ev, out);
        if (rc == 0)
            rc = remember(l, anchor, *out);
        break;
    }
    case YAML_ALIAS_EVENT: {
        const json_t *a = json_object_get(l->anchors, (const char *)ev->data.alias.anchor);
        if (a == NULL)
            rc = fail(l, EQOPS_EINVAL, &ev->start_mark, "alias to an unknown anchor");
        else
            rc = copy(l, a, l->depth + 1, &ev->start_mark, out);
        break;
    }
    default:
        rc = fail(l, EQOPS_EINVAL, &ev->start_mark, "unexpected YAML event");
        break;
    }
    if (rc != 0 && *out != NULL) {
        json_decref(*out);
        *out = NULL;
    }
    yaml_event_delete(ev);
    return rc;
}

/* The next event's value. */
static int next_node(struct loader *l, json_t **out)
{
    yaml_event_t ev;
    *out = NULL;
    int rc = next(l, &ev);
    return rc != 0 ? rc : node(l, &ev, out);
}

/* One document after its DOCUMENT-START: its value (null when empty). */
static int document(struct loader *l, json_t **doc)
{
    yaml_event_t ev;
    *doc = NULL;
    int rc = next(l, &ev);
    if (rc != 0)
        return rc;
    if (ev.type == YAML_DOCUMENT_END_EVENT) { /* empty document */
        yaml_event_delete(&ev);
        *doc = json_null();
        return 0;
    }
    if ((rc = node(l, &ev, doc)) != 0)
        return rc;
    if ((rc = next(l, &ev)) != 0) {
        json_decref(*doc);
        *doc = NULL;
        return rc;
    }
    yaml_event_delete(&ev); /* DOCUMENT-END */
    return 0;
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
    int rc = docs && l.anchors ? 0 : fail(&l, EQOPS_ENOMEM, NULL, "out of memory");
    bool done = false;
    while (rc == 0 && !done) {
        yaml_event_t ev;
        if ((rc = next(&l, &ev)) != 0)
            break;
        yaml_event_type_t type = ev.type;
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT) {
            done = true;
        } else if (type == YAML_DOCUMENT_START_EVENT && !multi && json_array_size(docs) > 0) {
            /* said at once, not after reading every other document */
            rc = eqops__err(err, EQOPS_EINVAL, "%s: expected one YAML document, found several",
                            what);
        } else if (type == YAML_DOCUMENT_START_EVENT) {
            /* an anchor belongs to its document: a later one cannot refer to it. A new table,
             * not a cleared one: clearing costs as much as the biggest table ever was, for
             * every document (many anchors, then many empty documents) */
            if (json_object_size(l.anchors) > 0) {
                json_decref(l.anchors);
                if ((l.anchors = json_object()) == NULL) {
                    rc = fail(&l, EQOPS_ENOMEM, NULL, "out of memory");
                    break;
                }
            }
            json_t *doc = NULL;
            if ((rc = document(&l, &doc)) == 0 && json_array_append_new(docs, doc) != 0)
                rc = fail(&l, EQOPS_ENOMEM, NULL, "out of memory");
        }
    }
    json_decref(l.anchors);
    yaml_parser_delete(&l.parser);
    if (rc != 0) {
        json_decref(docs);
        return rc;
    }
    if (multi) {
        *out = docs;
        return 0;
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
    /* "<<" plain is a merge key */
    return strlen(s) != len || plain(s, len, &i, &d) != PLAIN_STRING || strcmp(s, "<<") == 0;
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
