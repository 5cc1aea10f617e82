/*
 * text.c - the public JSON-text verbs of eqops/k8s.h: each parses the caller's text once,
 * calls the document verb of k8s_seam.h and writes its answer once.
 */
#include "k8s_internal.h"

#include <string.h>

/* `*out` = the answer as compact JSON text (new); the answer is released either way. */
static int answer(char **out, json_t *doc, int rc, eqops_error *err)
{
    if (rc == 0 && out && (*out = eqops__json_dump(doc, JSON_COMPACT)) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    json_decref(doc);
    return rc;
}

/* The caller's text as a JSON object; `field` names it in messages. */
static int parse_object(json_t **doc, const char *text, const char *field, const char *rule,
                        eqops_error *err)
{
    *doc = NULL;
    if (text == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, field, "required");
    json_error_t je;
    memset(&je, 0, sizeof(je)); /* jansson may fail an allocation without filling it */
    *doc = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (*doc == NULL && json_error_code(&je) == json_error_out_of_memory)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (*doc == NULL || !json_is_object(*doc)) {
        json_decref(*doc);
        *doc = NULL;
        return je.text[0] ? eqops__err_field(err, EQOPS_EINVAL, field, "%s (%s)", rule, je.text)
                          : eqops__err_field(err, EQOPS_EINVAL, field, "%s", rule);
    }
    return 0;
}

int eqops_k8s_get(char **out, eqops_k8s *k, const char *api_version, const char *kind,
                  const char *ns, const char *name, eqops_error *err)
{
    if (out == NULL || k == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "k" : "out", "must not be NULL");
    *out = NULL;
    json_t *doc = NULL;
    int rc = eqops__k8s_get_doc(&doc, k, api_version, kind, ns, name, err);
    return answer(out, doc, rc, err);
}

int eqops_k8s_list(char **out, eqops_k8s *k, const char *api_version, const char *kind,
                   const char *ns, const eqops_k8s_list_options *opts, eqops_error *err)
{
    if (out == NULL || k == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "k" : "out", "must not be NULL");
    *out = NULL;
    json_t *doc = NULL;
    int rc = eqops__k8s_list_doc(&doc, k, api_version, kind, ns, opts, err);
    return answer(out, doc, rc, err);
}

typedef int (*write_fn)(json_t **out, eqops_k8s *k, const json_t *object,
                        const eqops_k8s_write_options *opts, eqops_error *err);

static int write_text(char **out, eqops_k8s *k, const char *object,
                      const eqops_k8s_write_options *opts, write_fn fn, eqops_error *err)
{
    if (out == NULL || k == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "k" : "out", "must not be NULL");
    *out = NULL;
    json_t *obj = NULL, *doc = NULL;
    int rc = parse_object(&obj, object, "object", "not a JSON object", err);
    if (rc == 0)
        rc = fn(&doc, k, obj, opts, err);
    json_decref(obj);
    return answer(out, doc, rc, err);
}

int eqops_k8s_create(char **out, eqops_k8s *k, const char *object,
                     const eqops_k8s_write_options *opts, eqops_error *err)
{
    return write_text(out, k, object, opts, eqops__k8s_create_doc, err);
}

int eqops_k8s_replace(char **out, eqops_k8s *k, const char *object,
                      const eqops_k8s_write_options *opts, eqops_error *err)
{
    return write_text(out, k, object, opts, eqops__k8s_replace_doc, err);
}

int eqops_k8s_apply(char **out, eqops_k8s *k, const char *object,
                    const eqops_k8s_write_options *opts, eqops_error *err)
{
    return write_text(out, k, object, opts, eqops__k8s_apply_doc, err);
}

int eqops_k8s_patch(char **out, eqops_k8s *k, const char *api_version, const char *kind,
                    const char *ns, const char *name, const char *merge_patch,
                    const eqops_k8s_write_options *opts, eqops_error *err)
{
    if (out == NULL || k == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "k" : "out", "must not be NULL");
    *out = NULL;
    if (name == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "name", "required");
    json_t *patch = NULL, *doc = NULL;
    int rc = parse_object(&patch, merge_patch, "merge_patch", "must be a JSON object", err);
    if (rc == 0)
        rc = eqops__k8s_patch_doc(&doc, k, api_version, kind, ns, name, patch, opts, err);
    json_decref(patch);
    return answer(out, doc, rc, err);
}

int eqops_k8s_delete(char **out, eqops_k8s *k, const char *api_version, const char *kind,
                     const char *ns, const char *name, const eqops_k8s_write_options *opts,
                     eqops_error *err)
{
    if (out)
        *out = NULL;
    json_t *doc = NULL;
    int rc = eqops__k8s_delete_doc(out ? &doc : NULL, k, api_version, kind, ns, name, opts, err);
    return answer(out, doc, rc, err);
}
