/*
 * json.h - reading untrusted JSON and YAML documents into jansson values, and typed access
 * to their fields with errors that name the field ("slos[0].objectives[1].target") and the
 * rule broken. Internal.
 */
#ifndef EQOPS_CORE_JSON_H
#define EQOPS_CORE_JSON_H

#include "core_internal.h"

#include <jansson.h>

/* Limits applied to every document read. */
#define EQOPS__DOC_MAX_BYTES (16u * 1024 * 1024)
#define EQOPS__DOC_MAX_DEPTH 64

/*
 * Parse JSON text (duplicate keys refused). `what` names the document in messages ("SLO
 * spec"). Returns 0, EQOPS_EINVAL (with line and column), EQOPS_ETOOBIG or EQOPS_ENOMEM.
 */
int eqops__json_parse(json_t **out, const char *text, size_t len, const char *what,
                      eqops_error *err);

/*
 * Parse YAML text with libyaml into the same jansson values (YAML 1.2 core schema: null,
 * true/false, integers, floats, strings). A stream of several documents gives an array of
 * them when `multi` is true; otherwise a second document is an error as soon as it starts.
 * An alias is a copy of its anchor's node (the result is a tree: changing one part never
 * changes another); merge keys (`<<: *base`, `<<: [*a, *b]`) add the keys a mapping does not
 * set itself. Duplicate keys and non-scalar keys are refused. Limits, for the whole stream
 * (everything read is held at once): a million nodes and 4 x EQOPS__DOC_MAX_BYTES of text
 * (each node counting 8 bytes and its text), aliases counted as what they expand to, and
 * EQOPS__DOC_MAX_DEPTH levels of nesting, through aliases too. Returns 0, EQOPS_EINVAL,
 * EQOPS_ETOOBIG or EQOPS_ENOMEM.
 */
int eqops__yaml_parse(json_t **out, const char *text, size_t len, bool multi, const char *what,
                      eqops_error *err);

/*
 * Write a JSON value as YAML (block style, keys in insertion order, no line folding).
 * Strings that YAML would read as something else ("true", "1.0", "null") are quoted.
 * Returns 0 or EQOPS_ENOMEM.
 */
int eqops__yaml_dump(const json_t *value, eqops_buf *out, eqops_error *err);

/* ---- typed field access ------------------------------------------------------------------ */

/* A field path for messages: "slos[0].window". Built on the stack as we descend. */
typedef struct eqops_jpath {
    char text[192];
} eqops_jpath;

void eqops__jpath_init(eqops_jpath *p, const char *root);
/* child = parent + "." + key, or parent + "[i]" */
void eqops__jpath_key(eqops_jpath *child, const eqops_jpath *parent, const char *key);
void eqops__jpath_index(eqops_jpath *child, const eqops_jpath *parent, size_t i);

/* Refuse keys of `obj` that are not in the NULL-terminated `allowed` list, suggesting the
 * closest allowed key. EQOPS_EINVAL. */
int eqops__json_only_keys(const json_t *obj, const eqops_jpath *path, const char *const *allowed,
                          eqops_error *err);

/* Typed getters: `*out` untouched when the field is absent and not required. Wrong types
 * and missing required fields give EQOPS_EINVAL naming the field. */
int eqops__json_string(const json_t *obj, const char *key, const eqops_jpath *path, bool required,
                       const char **out, eqops_error *err);
int eqops__json_number(const json_t *obj, const char *key, const eqops_jpath *path, bool required,
                       double *out, eqops_error *err);
int eqops__json_bool(const json_t *obj, const char *key, const eqops_jpath *path, bool required,
                     bool *out, eqops_error *err);
/* Object or array child (borrowed). */
int eqops__json_object(const json_t *obj, const char *key, const eqops_jpath *path, bool required,
                       json_t **out, eqops_error *err);
int eqops__json_array(const json_t *obj, const char *key, const eqops_jpath *path, bool required,
                      json_t **out, eqops_error *err);
/* A duration field: a string in Prometheus notation ("30d", "1h30m"). */
int eqops__json_duration(const json_t *obj, const char *key, const eqops_jpath *path, bool required,
                         int64_t *out_ms, eqops_error *err);

/* json_object_set_new / json_array_append_new that also fail on a NULL value (from a failed
 * allocation) and release it on failure: true on success, for chains `ok = ok && ...`. */
bool eqops__jset(json_t *obj, const char *key, json_t *value);
bool eqops__jappend(json_t *arr, json_t *value);

/* Serialise compactly with sorted keys into a new string (eqops__free). NULL on ENOMEM. */
char *eqops__json_dump(const json_t *value, size_t flags);

/*
 * Format a double as the shortest decimal that reads back as the same double ("0.001",
 * "14.4", "1e-05"); never "nan"/"inf" (those are written as "0"). out >= 32 bytes.
 */
void eqops__fmt_double(double v, char out[32]);

#endif /* EQOPS_CORE_JSON_H */
