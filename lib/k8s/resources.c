/*
 * resources.c - kinds to REST paths through a discovery cache, and the verbs: get, list and
 * its pager, create, replace, merge patch, server-side apply, delete.
 */
#include "k8s_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PAGE 500

/* ---- names -------------------------------------------------------------------------------- */

/* api_version: "v1" or "<group>/<version>" of lowercase letters, digits, '.' and '-'. */
static int check_api_version(const char *v, eqops_error *err)
{
    size_t slashes = 0, n = v ? strlen(v) : 0;
    bool ok = n > 0 && n < 256 && v[0] != '/' && v[n - 1] != '/';
    for (size_t i = 0; ok && i < n; i++) {
        char c = v[i];
        slashes += c == '/';
        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '/';
    }
    ok = ok && strstr(v, "..") == NULL && v[0] != '.' && strstr(v, "/.") == NULL;
    if (!ok || slashes > 1)
        return eqops__err_field(err, EQOPS_EINVAL, "api_version",
                                "'%s' is not an apiVersion (\"v1\", \"apps/v1\")", v ? v : "");
    return 0;
}

/* Names and namespaces become path segments: no separators, no dot segments, no controls. */
static int check_segment(const char *s, const char *field, eqops_error *err)
{
    size_t n = s ? strlen(s) : 0;
    bool ok = n > 0 && n <= 253 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        ok = c > 0x20 && c < 0x7f && c != '/' && c != '%' && c != '?' && c != '#';
    }
    if (!ok)
        return eqops__err_field(err, EQOPS_EINVAL, field,
                                "'%.64s' is not a valid name (1 to 253 printable characters, "
                                "no '/', '%%', '?', '#')",
                                s ? s : "");
    return 0;
}

static int check_kind(const char *kind, eqops_error *err)
{
    size_t n = kind ? strlen(kind) : 0;
    bool ok = n > 0 && n < 128;
    for (size_t i = 0; ok && i < n; i++)
        ok = (kind[i] >= 'a' && kind[i] <= 'z') || (kind[i] >= 'A' && kind[i] <= 'Z') ||
             (kind[i] >= '0' && kind[i] <= '9');
    if (!ok)
        return eqops__err_field(err, EQOPS_EINVAL, "kind", "'%.64s' is not a kind",
                                kind ? kind : "");
    return 0;
}

void eqops__k8s_query(eqops_buf *path, const char *key, const char *value)
{
    eqops__buf_putc(path, memchr(path->data ? path->data : "", '?', path->len) ? '&' : '?');
    eqops__buf_puts(path, key);
    eqops__buf_putc(path, '=');
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '_' || *c == '.' || *c == '~') {
            eqops__buf_putc(path, (char)*c);
        } else {
            char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};
            eqops__buf_put(path, e, 3);
        }
    }
}

/* ---- discovery ---------------------------------------------------------------------------- */

static int discover(eqops_k8s *k, const char *api_version, eqops_error *err)
{
    eqops_buf path = EQOPS_BUF_INIT;
    eqops__buf_printf(&path, "%s/%s", strchr(api_version, '/') ? "/apis" : "/api", api_version);
    char what[300];
    snprintf(what, sizeof(what), "discovery of %s", api_version);
    k8s_req req = {"GET", eqops__buf_cstr(&path), NULL, NULL, 0, what, NULL, NULL, 0, 0};
    eqops_http_response resp = EQOPS_HTTP_RESPONSE_INIT;
    int rc = eqops__k8s_do(k, &req, &resp, err);
    eqops__buf_free(&path);
    if (rc == EQOPS_ENOTFOUND && err) {
        snprintf(err->message, sizeof(err->message),
                 "the server has no API %s (a missing CRD or a wrong apiVersion)", api_version);
        snprintf(err->reason, sizeof(err->reason), "NoSuchAPIVersion");
    }
    json_t *doc = NULL, *kinds = NULL;
    if (rc == 0 && (doc = json_loadb(resp.body.data, resp.body.len, 0, NULL)) == NULL)
        rc = eqops__err(err, EQOPS_EPROTO, "%s: the answer is not JSON", what);
    if (rc == 0 && (kinds = json_object()) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    size_t i;
    json_t *r;
    json_array_foreach(rc == 0 ? json_object_get(doc, "resources") : NULL, i, r)
    {
        const char *name = json_string_value(json_object_get(r, "name"));
        const char *kind = json_string_value(json_object_get(r, "kind"));
        if (name == NULL || kind == NULL || strchr(name, '/')) /* subresources */
            continue;
        json_t *e = json_pack("{s:s, s:b}", "resource", name, "namespaced",
                              json_is_true(json_object_get(r, "namespaced")));
        if (e == NULL || json_object_set_new(kinds, kind, e) != 0)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    if (rc == 0 && json_object_set_new(k->discovery, api_version, kinds) == 0)
        kinds = NULL;
    json_decref(kinds);
    json_decref(doc);
    eqops__http_response_clear(&resp);
    return rc;
}

/* The resource and scope of a kind; the group version is (re)read when the kind is not known
 * yet (a CRD installed since). */
int eqops__k8s_lookup(eqops_k8s *k, const char *api_version, const char *kind,
                      const char **resource, bool *namespaced, eqops_error *err)
{
    int rc = check_api_version(api_version, err);
    if (rc == 0)
        rc = check_kind(kind, err);
    if (rc != 0)
        return rc;
    for (int pass = 0; pass < 2; pass++) {
        const json_t *e = json_object_get(json_object_get(k->discovery, api_version), kind);
        if (e) {
            *resource = json_string_value(json_object_get(e, "resource"));
            *namespaced = json_is_true(json_object_get(e, "namespaced"));
            return 0;
        }
        if (pass == 0 && (rc = discover(k, api_version, err)) != 0)
            return rc;
    }
    int code = eqops__err_field(err, EQOPS_ENOTFOUND, "kind", "the server has no kind %s in %s",
                                kind, api_version);
    eqops__err_upstream(err, 0, "NoSuchKind", 0);
    return code;
}

int eqops__k8s_path(eqops_buf *path, eqops_k8s *k, const char *api_version, const char *kind,
                    const char *ns, bool all_namespaces, const char *name, eqops_error *err)
{
    const char *resource = NULL;
    bool namespaced = false;
    /* names first: a bad one never costs a request */
    int rc = name ? check_segment(name, "name", err) : 0;
    if (rc == 0 && ns && *ns)
        rc = check_segment(ns, "namespace", err);
    if (rc == 0)
        rc = eqops__k8s_lookup(k, api_version, kind, &resource, &namespaced, err);
    if (rc != 0)
        return rc;
    if (namespaced && !all_namespaces) {
        if (ns == NULL || *ns == '\0')
            ns = eqops_k8s_namespace(k);
        if ((rc = check_segment(ns, "namespace", err)) != 0)
            return rc;
    }
    if (name && (rc = check_segment(name, "name", err)) != 0)
        return rc;
    eqops__buf_printf(path, "%s/%s", strchr(api_version, '/') ? "/apis" : "/api", api_version);
    if (namespaced && !all_namespaces)
        eqops__buf_printf(path, "/namespaces/%s", ns);
    eqops__buf_printf(path, "/%s", resource);
    if (name)
        eqops__buf_printf(path, "/%s", name);
    return eqops__buf_ok(path) ? eqops__err(err, EQOPS_ENOMEM, "out of memory") : 0;
}

int eqops_k8s_resource(char **out, eqops_k8s *k, const char *api_version, const char *kind,
                       eqops_error *err)
{
    if (out == NULL || k == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "k" : "out", "must not be NULL");
    *out = NULL;
    const char *resource = NULL;
    bool namespaced = false;
    int rc = eqops__k8s_lookup(k, api_version, kind, &resource, &namespaced, err);
    if (rc != 0)
        return rc;
    const char *slash = strchr(api_version, '/');
    json_t *doc = json_pack("{s:s#, s:s, s:s, s:s, s:b}", "group", api_version,
                            (int)(slash ? slash - api_version : 0), "version",
                            slash ? slash + 1 : api_version, "kind", kind, "resource", resource,
                            "namespaced", namespaced);
    *out = doc ? eqops__json_dump(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return *out ? 0 : eqops__err(err, EQOPS_ENOMEM, "out of memory");
}

/* ---- one request, documents in and out -------------------------------------------------- */

/* The answer of a 2xx request as a document: an empty body is {}. */
static int read_answer(json_t **out, const eqops_buf *body, const char *what, eqops_error *err)
{
    json_error_t je;
    memset(&je, 0, sizeof(je)); /* jansson may fail an allocation without filling it */
    *out = body->len ? json_loadb(body->data, body->len, 0, &je) : json_object();
    if (*out != NULL)
        return 0;
    if (body->len == 0 || json_error_code(&je) == json_error_out_of_memory)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    return eqops__err(err, EQOPS_EPROTO, "%s: the answer is not JSON (%s)", what, je.text);
}

/* One request; `body` (may be NULL) is sent as JSON, the answer is read into `*out` unless
 * `out` is NULL. */
static int call(json_t **out, eqops_k8s *k, const char *method, const char *path,
                const char *content_type, const json_t *body, const char *what, eqops_error *err)
{
    char *text = NULL;
    if (body && (text = eqops__json_dump(body, JSON_COMPACT)) == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    k8s_req req = {method, path, content_type, text, text ? strlen(text) : 0,
                   what,   NULL, NULL,         0,    0};
    eqops_http_response resp = EQOPS_HTTP_RESPONSE_INIT;
    int rc = eqops__k8s_do(k, &req, &resp, err);
    if (rc == 0 && out)
        rc = read_answer(out, &resp.body, what, err);
    eqops__http_response_clear(&resp);
    if (text)
        eqops__secret_free(text); /* a Secret's data */
    return rc;
}

static void describe(char *what, size_t n, const char *verb, const char *kind, const char *ns,
                     const char *name)
{
    snprintf(what, n, "%s %s %s%s%s", verb, kind ? kind : "?", ns && *ns ? ns : "",
             ns && *ns ? "/" : "", name ? name : "");
}

int eqops__k8s_get_doc(json_t **out, eqops_k8s *k, const char *api_version, const char *kind,
                       const char *ns, const char *name, eqops_error *err)
{
    if (out == NULL || k == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "k" : "out", "must not be NULL");
    *out = NULL;
    if (name == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "name", "required");
    eqops_buf path = EQOPS_BUF_INIT;
    int rc = eqops__k8s_path(&path, k, api_version, kind, ns, false, name, err);
    char what[400];
    describe(what, sizeof(what), "get", kind, ns ? ns : eqops_k8s_namespace(k), name);
    if (rc == 0)
        rc = call(out, k, "GET", eqops__buf_cstr(&path), NULL, NULL, what, err);
    eqops__buf_free(&path);
    return rc;
}

/* ---- lists -------------------------------------------------------------------------------- */

struct eqops_k8s_pager {
    eqops_k8s *k;
    eqops_buf base; /* path and selectors */
    char *cont;     /* the continue token, NULL before the first page */
    bool done;
    char what[300];
};

void eqops_k8s_pager_free(eqops_k8s_pager *p)
{
    if (p == NULL)
        return;
    eqops__buf_free(&p->base);
    eqops__free(p->cont);
    eqops__free(p);
}

static const size_t list_options_sizes[] = {sizeof(eqops_k8s_list_options)};

EQOPS__OPTS_INIT_FN(eqops_k8s_list_options_init, eqops_k8s_list_options, list_options_sizes)

int eqops_k8s_pager_new(eqops_k8s_pager **out, eqops_k8s *k, const char *api_version,
                        const char *kind, const char *ns, const eqops_k8s_list_options *opts,
                        eqops_error *err)
{
    if (out == NULL || k == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "k" : "out", "must not be NULL");
    *out = NULL;
    eqops_k8s_list_options oc;
    const eqops_k8s_list_options *o = &oc;
    int orc = EQOPS__OPTS_READ(&oc, opts, list_options_sizes, "k8s list options", err);
    if (orc != 0)
        return orc;
    if (o->limit < 0)
        return eqops__err_field(err, EQOPS_EINVAL, "opts.limit", "must be >= 0");
    eqops_k8s_pager *p = eqops__calloc(1, sizeof(*p));
    if (p == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    p->k = k;
    int rc = eqops__k8s_path(&p->base, k, api_version, kind, ns, o->all_namespaces, NULL, err);
    char limit[32];
    snprintf(limit, sizeof(limit), "%ld", o->limit ? o->limit : DEFAULT_PAGE);
    if (rc == 0) {
        eqops__k8s_query(&p->base, "limit", limit);
        if (o->label_selector && *o->label_selector)
            eqops__k8s_query(&p->base, "labelSelector", o->label_selector);
        if (o->field_selector && *o->field_selector)
            eqops__k8s_query(&p->base, "fieldSelector", o->field_selector);
        describe(p->what, sizeof(p->what), "list", kind,
                 o->all_namespaces ? ""
                 : ns              ? ns
                                   : eqops_k8s_namespace(k),
                 NULL);
    }
    if (rc != 0) {
        eqops_k8s_pager_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* The next page as a parsed document (NULL at the end). */
static int next_page(json_t **page, eqops_k8s_pager *p, eqops_error *err)
{
    *page = NULL;
    if (p->done)
        return 0;
    eqops_buf path = EQOPS_BUF_INIT;
    eqops__buf_put(&path, p->base.data, p->base.len);
    if (p->cont)
        eqops__k8s_query(&path, "continue", p->cont);
    json_t *doc = NULL;
    int rc = eqops__buf_ok(&path)
                 ? eqops__err(err, EQOPS_ENOMEM, "out of memory")
                 : call(&doc, p->k, "GET", eqops__buf_cstr(&path), NULL, NULL, p->what, err);
    eqops__buf_free(&path);
    if (rc != 0)
        return rc;
    const char *cont =
        json_string_value(json_object_get(json_object_get(doc, "metadata"), "continue"));
    eqops__free(p->cont);
    p->cont = cont && *cont ? eqops__strdup(cont) : NULL;
    p->done = p->cont == NULL;
    *page = doc;
    return 0;
}

int eqops_k8s_pager_next(char **out, eqops_k8s_pager *p, eqops_error *err)
{
    if (out == NULL || p == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "p" : "out", "must not be NULL");
    *out = NULL;
    json_t *page = NULL;
    int rc = next_page(&page, p, err);
    if (rc == 0 && page && (*out = eqops__json_dump(page, JSON_COMPACT)) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    json_decref(page);
    return rc;
}

int eqops__k8s_list_doc(json_t **out, eqops_k8s *k, const char *api_version, const char *kind,
                        const char *ns, const eqops_k8s_list_options *opts, eqops_error *err)
{
    if (out == NULL || k == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "k" : "out", "must not be NULL");
    *out = NULL;
    json_t *all = NULL;
    int rc = 0;
    for (int round = 0; round < 2; round++) {
        json_decref(all);
        all = NULL;
        eqops_k8s_pager *p = NULL;
        if ((rc = eqops_k8s_pager_new(&p, k, api_version, kind, ns, opts, err)) != 0)
            break;
        json_t *page = NULL;
        while ((rc = next_page(&page, p, err)) == 0 && page) {
            if (all == NULL) {
                all = page;
                continue;
            }
            json_array_extend(json_object_get(all, "items"), json_object_get(page, "items"));
            /* the version of the list is the last page's */
            json_object_set(all, "metadata", json_object_get(page, "metadata"));
            json_decref(page);
        }
        eqops_k8s_pager_free(p);
        /* a continue token expired between pages: start again, once */
        if (rc == EQOPS_EGONE && round == 0) {
            eqops__log(EQOPS_LOG_INFO, "k8s", "list %s: continue token expired; listing again",
                       kind);
            eqops_error_clear(err);
            continue;
        }
        break;
    }
    if (rc != 0) {
        json_decref(all);
        return rc;
    }
    json_object_del(json_object_get(all, "metadata"), "continue");
    *out = all;
    return 0;
}

/* ---- writes ------------------------------------------------------------------------------- */

typedef struct obj_id {
    const char *api_version, *kind, *ns, *name;
} obj_id;

/* What the object names: its kind, and its place (a name unless `need_name` is false). */
static int identify(obj_id *id, const json_t *object, bool need_name, eqops_error *err)
{
    memset(id, 0, sizeof(*id));
    if (object == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "object", "required");
    if (!json_is_object(object))
        return eqops__err_field(err, EQOPS_EINVAL, "object", "not a JSON object");
    const json_t *meta = json_object_get(object, "metadata");
    id->api_version = json_string_value(json_object_get(object, "apiVersion"));
    id->kind = json_string_value(json_object_get(object, "kind"));
    id->ns = json_string_value(json_object_get(meta, "namespace"));
    id->name = json_string_value(json_object_get(meta, "name"));
    const char *missing = id->api_version == NULL ? "apiVersion"
                          : id->kind == NULL      ? "kind"
                          : need_name && (id->name == NULL || !*id->name) &&
                                  !json_string_value(json_object_get(meta, "generateName"))
                              ? "metadata.name"
                              : NULL;
    if (missing)
        return eqops__err_field(err, EQOPS_EINVAL, missing, "object: %s is required", missing);
    return 0;
}

static const size_t write_options_sizes[] = {sizeof(eqops_k8s_write_options)};

EQOPS__OPTS_INIT_FN(eqops_k8s_write_options_init, eqops_k8s_write_options, write_options_sizes)

int eqops__k8s_write_opts(eqops_k8s_write_options *o, const eqops_k8s_write_options *opts,
                          eqops_error *err)
{
    return EQOPS__OPTS_READ(o, opts, write_options_sizes, "k8s write options", err);
}

static int write_query(eqops_buf *path, eqops_k8s *k, const eqops_k8s_write_options *o,
                       bool manager, eqops_error *err)
{
    if (o->dry_run)
        eqops__k8s_query(path, "dryRun", "All");
    if (manager)
        eqops__k8s_query(path, "fieldManager",
                         o->field_manager ? o->field_manager : k->field_manager);
    return eqops__buf_ok(path) ? eqops__err(err, EQOPS_ENOMEM, "out of memory") : 0;
}

/* create, replace, apply: the object names its own place */
static int write_object_(json_t **out, eqops_k8s *k, const json_t *object,
                         const eqops_k8s_write_options *opts, const char *verb, eqops_error *err)
{
    if (out == NULL || k == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "k" : "out", "must not be NULL");
    *out = NULL;
    eqops_k8s_write_options oc;
    const eqops_k8s_write_options *o = &oc;
    int orc = eqops__k8s_write_opts(&oc, opts, err);
    if (orc != 0)
        return orc;
    bool create = !strcmp(verb, "create"), apply = !strcmp(verb, "apply");
    obj_id id;
    int rc = identify(&id, object, true, err);
    if (rc != 0)
        return rc;
    if (!create && (id.name == NULL || !*id.name))
        return eqops__err_field(err, EQOPS_EINVAL, "metadata.name", "object: required");
    eqops_buf path = EQOPS_BUF_INIT;
    rc = eqops__k8s_path(&path, k, id.api_version, id.kind, id.ns, false, create ? NULL : id.name,
                         err);
    if (rc == 0)
        rc = write_query(&path, k, o, true, err);
    if (rc == 0 && apply && o->force)
        eqops__k8s_query(&path, "force", "true");
    char what[400];
    describe(what, sizeof(what), verb, id.kind, id.ns ? id.ns : "", id.name ? id.name : "");
    if (rc == 0)
        rc = call(out, k,
                  create  ? "POST"
                  : apply ? "PATCH"
                          : "PUT",
                  eqops__buf_cstr(&path), apply ? "application/apply-patch+yaml" : NULL, object,
                  what, err);
    eqops__buf_free(&path);
    return rc;
}

/* A write's own token (opts->cancel), when it has one, is the client's for the whole call:
 * discovery and credentials too, not only the request. The client is used by one thread at a
 * time. */
static const eqops_cancel *write_token_begin(eqops_k8s *k, const eqops_k8s_write_options *opts,
                                             bool *swapped)
{
    *swapped = k != NULL && opts != NULL && opts->version >= 1 && opts->cancel != NULL;
    return *swapped ? eqops__k8s_set_cancel(k, opts->cancel) : NULL;
}

static void write_token_end(eqops_k8s *k, const eqops_cancel *old, bool swapped)
{
    if (swapped)
        eqops__k8s_set_cancel(k, old);
}

static int write_object(json_t **out, eqops_k8s *k, const json_t *object,
                        const eqops_k8s_write_options *opts, const char *verb, eqops_error *err)
{
    bool swapped;
    const eqops_cancel *old = write_token_begin(k, opts, &swapped);
    int rc = write_object_(out, k, object, opts, verb, err);
    write_token_end(k, old, swapped);
    return rc;
}

int eqops__k8s_create_doc(json_t **out, eqops_k8s *k, const json_t *object,
                          const eqops_k8s_write_options *opts, eqops_error *err)
{
    return write_object(out, k, object, opts, "create", err);
}

int eqops__k8s_replace_doc(json_t **out, eqops_k8s *k, const json_t *object,
                           const eqops_k8s_write_options *opts, eqops_error *err)
{
    return write_object(out, k, object, opts, "replace", err);
}

int eqops__k8s_apply_doc(json_t **out, eqops_k8s *k, const json_t *object,
                         const eqops_k8s_write_options *opts, eqops_error *err)
{
    return write_object(out, k, object, opts, "apply", err);
}

static int patch_doc(json_t **out, eqops_k8s *k, const char *api_version, const char *kind,
                     const char *ns, const char *name, const json_t *merge_patch,
                     const eqops_k8s_write_options *opts, eqops_error *err)
{
    if (out == NULL || k == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "k" : "out", "must not be NULL");
    *out = NULL;
    if (name == NULL || merge_patch == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, name ? "merge_patch" : "name", "required");
    if (!json_is_object(merge_patch))
        return eqops__err_field(err, EQOPS_EINVAL, "merge_patch", "must be a JSON object");
    eqops_k8s_write_options oc;
    const eqops_k8s_write_options *o = &oc;
    int orc = eqops__k8s_write_opts(&oc, opts, err);
    if (orc != 0)
        return orc;
    eqops_buf path = EQOPS_BUF_INIT;
    int rc = eqops__k8s_path(&path, k, api_version, kind, ns, false, name, err);
    if (rc == 0)
        rc = write_query(&path, k, o, true, err);
    char what[400];
    describe(what, sizeof(what), "patch", kind, ns ? ns : eqops_k8s_namespace(k), name);
    if (rc == 0)
        rc = call(out, k, "PATCH", eqops__buf_cstr(&path), "application/merge-patch+json",
                  merge_patch, what, err);
    eqops__buf_free(&path);
    return rc;
}

static int delete_doc(json_t **out, eqops_k8s *k, const char *api_version, const char *kind,
                      const char *ns, const char *name, const eqops_k8s_write_options *opts,
                      eqops_error *err)
{
    if (out)
        *out = NULL;
    if (k == NULL || name == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, k ? "name" : "k", "required");
    eqops_k8s_write_options oc;
    const eqops_k8s_write_options *o = &oc;
    int orc = eqops__k8s_write_opts(&oc, opts, err);
    if (orc != 0)
        return orc;
    const char *pp = o->propagation_policy;
    if (pp && strcmp(pp, "Foreground") != 0 && strcmp(pp, "Background") != 0 &&
        strcmp(pp, "Orphan") != 0)
        return eqops__err_field(err, EQOPS_EINVAL, "opts.propagation_policy",
                                "must be Foreground, Background or Orphan");
    eqops_buf path = EQOPS_BUF_INIT;
    int rc = eqops__k8s_path(&path, k, api_version, kind, ns, false, name, err);
    if (rc == 0)
        rc = write_query(&path, k, o, false, err);
    json_t *body = json_pack("{s:s, s:s}", "apiVersion", "v1", "kind", "DeleteOptions");
    bool ok = body != NULL;
    if (ok && pp)
        ok = eqops__jset(body, "propagationPolicy", json_string(pp));
    if (ok && (o->resource_version || o->uid)) {
        json_t *pre = json_object();
        if (pre && o->resource_version)
            ok = eqops__jset(pre, "resourceVersion", json_string(o->resource_version));
        if (ok && pre && o->uid)
            ok = eqops__jset(pre, "uid", json_string(o->uid));
        ok = eqops__jset(body, "preconditions", pre) && ok;
    }
    if (ok && o->dry_run)
        ok = eqops__jset(body, "dryRun", json_pack("[s]", "All"));
    if (rc == 0 && !ok)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    char what[400];
    describe(what, sizeof(what), "delete", kind, ns ? ns : eqops_k8s_namespace(k), name);
    if (rc == 0)
        rc = call(out, k, "DELETE", eqops__buf_cstr(&path), NULL, body, what, err);
    json_decref(body);
    eqops__buf_free(&path);
    return rc;
}

int eqops__k8s_patch_doc(json_t **out, eqops_k8s *k, const char *api_version, const char *kind,
                         const char *ns, const char *name, const json_t *merge_patch,
                         const eqops_k8s_write_options *opts, eqops_error *err)
{
    bool swapped;
    const eqops_cancel *old = write_token_begin(k, opts, &swapped);
    int rc = patch_doc(out, k, api_version, kind, ns, name, merge_patch, opts, err);
    write_token_end(k, old, swapped);
    return rc;
}

int eqops__k8s_delete_doc(json_t **out, eqops_k8s *k, const char *api_version, const char *kind,
                          const char *ns, const char *name, const eqops_k8s_write_options *opts,
                          eqops_error *err)
{
    bool swapped;
    const eqops_cancel *old = write_token_begin(k, opts, &swapped);
    int rc = delete_doc(out, k, api_version, kind, ns, name, opts, err);
    write_token_end(k, old, swapped);
    return rc;
}
