/*
 * manifest.c - server-side apply of a whole manifest (text, a file or a directory of files):
 * every object read before anything is sent, then cluster-scoped objects first, then the
 * namespaced ones, each group sent by a few workers over their own connections.
 */
#include "k8s_internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_CONCURRENCY 8
#define MAX_CONCURRENCY     64
#define MAX_FILES           10000
#define MAX_TOTAL_BYTES     (4u * EQOPS__DOC_MAX_BYTES) /* all the files of a directory */

/* kubectl's manifest file extensions (in a directory; a file named by the caller is read
 * whatever its name) */
static const char *const manifest_exts[] = {".json", ".yaml", ".yml", NULL};

/* Where objects came from, for messages: the objects before `end` (and after the previous
 * source's) are from `name`. */
typedef struct source {
    const char *name;
    size_t end;
} source;

typedef struct item {
    json_t *obj;     /* borrowed from the object list */
    const char *src; /* its source's name, and its index there */
    size_t src_index;
    eqops_buf path; /* with its query */
    char *body;     /* the object as JSON */
    char what[300]; /* "apply Kind ns/name" */
    char *result;   /* the server's answer */
    eqops_error err;
    int rc;
    bool cluster; /* cluster-scoped: the first group */
} item;

/* One group of objects sent by the worker pool; each worker thread takes an HTTP handle of
 * its own from `idle` (made on first use: each connection has its share of the rate) and puts
 * it back after its object, so connections are reused across objects. */
typedef struct send_group {
    eqops_k8s *k;
    item *items;
    const size_t *order; /* the indexes of this group */
    double qps;          /* each worker's share of the client's rate */
    int burst;
    const char *const *headers;
    pthread_mutex_t mu;
    eqops_http *idle[MAX_CONCURRENCY];
    size_t nidle;
} send_group;

/* EQOPS_EINVAL naming `field`, with a message that starts with the file (not the field). */
static int invalid(eqops_error *err, const char *field, const char *fmt, ...) EQOPS__PRINTF(3, 4);
static int invalid(eqops_error *err, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    eqops__err_v(err, EQOPS_EINVAL, fmt, ap);
    va_end(ap);
    if (err != NULL)
        snprintf(err->field, sizeof(err->field), "%s", field);
    return EQOPS_EINVAL;
}

/* The objects of a manifest, in order: documents, and the items of List kinds. */
static int collect(json_t *into, json_t *doc, int depth, const char *name, size_t first,
                   eqops_error *err)
{
    if (json_is_null(doc))
        return 0; /* an empty document ("---" at the end) */
    if (json_is_array(doc) && depth == 0) {
        size_t i;
        json_t *d;
        json_array_foreach(doc, i, d)
        {
            int rc = collect(into, d, 1, name, first, err);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    if (!json_is_object(doc))
        return invalid(err, "manifest", "%s: object %zu is not a mapping", name,
                       json_array_size(into) - first);
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    const json_t *items = json_object_get(doc, "items");
    size_t n = kind ? strlen(kind) : 0;
    if (n >= 4 && !strcmp(kind + n - 4, "List") && json_is_array(items) && depth < 2) {
        size_t i;
        json_t *d;
        json_array_foreach(items, i, d)
        {
            int rc = collect(into, d, 2, name, first, err);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    return eqops__jappend(into, json_incref(doc)) ? 0
                                                  : eqops__err(err, EQOPS_ENOMEM, "out of memory");
}

/* Append the objects of one manifest text (JSON or YAML, one document or several) to
 * `objects`; `name` names it in messages. */
static int parse_text(json_t *objects, const char *text, size_t len, const char *name,
                      eqops_error *err)
{
    /* one JSON document goes to jansson (several times faster); anything else, or JSON
     * documents separated by "---", to the YAML parser */
    size_t lead = strspn(text, " \t\r\n");
    json_t *docs = NULL, *doc = NULL;
    json_error_t je;
    memset(&je, 0, sizeof(je)); /* jansson may fail an allocation without filling it */
    int rc = 0;
    if ((text[lead] == '{' || text[lead] == '[') &&
        (doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) != NULL)
        docs = json_is_array(doc) ? doc : json_pack("[o]", doc);
    else if (text[lead] == '{' || text[lead] == '[') {
        if (json_error_code(&je) == json_error_out_of_memory)
            return eqops__err(err, EQOPS_ENOMEM, "out of memory");
        rc = eqops__yaml_parse(&docs, text, len, true, name, err);
    } else
        rc = eqops__yaml_parse(&docs, text, len, true, name, err);
    /* one YAML document that is a list means what the same list in JSON means: objects */
    if (rc == 0 && docs != NULL && json_array_size(docs) == 1 &&
        json_is_array(json_array_get(docs, 0))) {
        json_t *only = json_incref(json_array_get(docs, 0));
        json_decref(docs);
        docs = only;
    }
    if (rc == 0 && docs == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (rc == 0)
        rc = collect(objects, docs, 0, name, json_array_size(objects), err);
    json_decref(docs);
    return rc;
}

/* Name an object for messages and check it can be applied at all: every object is checked
 * before the first is sent. */
static int check_item(item *it, eqops_error *err)
{
    const json_t *meta = json_object_get(it->obj, "metadata");
    const char *api = json_string_value(json_object_get(it->obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(it->obj, "kind"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    snprintf(it->what, sizeof(it->what), "%.160s: object %zu: apply %.40s %.40s%s%.40s", it->src,
             it->src_index, kind ? kind : "?", ns ? ns : "", ns ? "/" : "", name ? name : "?");
    if (api == NULL || kind == NULL || name == NULL || *name == '\0')
        return invalid(err,
                       api == NULL    ? "apiVersion"
                       : kind == NULL ? "kind"
                                      : "metadata.name",
                       "%s: apiVersion, kind and metadata.name are required", it->what);
    return 0;
}

/* The apply path of a checked object (discovery on this thread, before the workers start). */
static int prepare(eqops_k8s *k, item *it, const eqops_k8s_write_options *o, eqops_error *err)
{
    const json_t *meta = json_object_get(it->obj, "metadata");
    const char *api = json_string_value(json_object_get(it->obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(it->obj, "kind"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    int rc = eqops__k8s_path(&it->path, k, api, kind, ns, false, name, err);
    if (rc != 0) {
        eqops__err_prefix(err, "%s: ", it->what);
        return rc;
    }
    if (o->dry_run)
        eqops__k8s_query(&it->path, "dryRun", "All");
    eqops__k8s_query(&it->path, "fieldManager",
                     o->field_manager ? o->field_manager : k->field_manager);
    if (o->force)
        eqops__k8s_query(&it->path, "force", "true");
    it->body = eqops__json_dump(it->obj, JSON_COMPACT);
    if (it->body == NULL || eqops__buf_ok(&it->path) != 0)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    return 0;
}

static void send_one(eqops__pool *p, size_t j, void *arg)
{
    send_group *g = arg;
    item *it = &g->items[g->order[j]];
    pthread_mutex_lock(&g->mu);
    eqops_http *h = g->nidle ? g->idle[--g->nidle] : NULL;
    pthread_mutex_unlock(&g->mu);
    if (h == NULL && (it->rc = eqops__k8s_http_new(g->k, g->qps, g->burst, &h, &it->err)) != 0) {
        eqops__err_prefix(&it->err, "%s: ", it->what);
        eqops__pool_stop(p);
        return;
    }
    eqops_buf url = EQOPS_BUF_INIT;
    eqops__buf_puts(&url, g->k->cfg.server);
    eqops__buf_put(&url, it->path.data, it->path.len);
    eqops_http_request req = {0};
    req.method = "PATCH";
    req.url = eqops__buf_cstr(&url);
    req.headers = g->headers;
    req.body = it->body;
    req.body_len = strlen(it->body);
    /* apply is idempotent: safe to repeat after a lost connection or a 429/5xx */
    req.retry = EQOPS_HTTP_RETRY_ALWAYS;
    eqops_http_response resp = EQOPS_HTTP_RESPONSE_INIT;
    it->rc = eqops__buf_ok(&url) ? eqops__err(&it->err, EQOPS_ENOMEM, "out of memory")
                                 : eqops__http_do(h, &req, &resp, &it->err);
    if (it->rc != 0)
        eqops__err_prefix(&it->err, "%s: ", it->what);
    else if (resp.status >= 200 && resp.status < 300)
        it->result = eqops__buf_detach(&resp.body);
    else
        it->rc =
            eqops__k8s_status_error(resp.body.data, resp.body.len, resp.status, resp.retry_after,
                                    it->what, eqops__k8s_secret_path(it->path.data), &it->err);
    if (it->rc == 0 && it->result == NULL)
        it->rc = eqops__err(&it->err, EQOPS_ENOMEM, "out of memory");
    eqops__http_response_clear(&resp);
    eqops__buf_free(&url);
    if (it->rc != 0)
        eqops__pool_stop(p);
    pthread_mutex_lock(&g->mu);
    g->idle[g->nidle++] = h; /* at most one handle per worker: never more than the array */
    pthread_mutex_unlock(&g->mu);
}

/* Send one group with at most `workers` threads. 0, or EQOPS_ECANCELED when the client's
 * token stopped it before every object started. */
static int run_group(eqops_k8s *k, item *items, const size_t *order, size_t n, int workers,
                     const char *const *headers)
{
    if (n == 0)
        return 0;
    send_group g;
    memset(&g, 0, sizeof(g));
    g.k = k;
    g.items = items;
    g.order = order;
    g.headers = headers;
    /* the client's rate is shared by the workers: each gets at least one request a second */
    double qps = k->hopts.qps;
    size_t w = (size_t)workers < n ? (size_t)workers : n;
    if (qps > 0 && (double)w > qps)
        w = qps >= 1 ? (size_t)qps : 1;
    g.qps = qps > 0 ? qps / (double)w : -1;
    g.burst = k->hopts.burst / (int)w > 1 ? k->hopts.burst / (int)w : 1;
    pthread_mutex_init(&g.mu, NULL);
    eqops__pool_job job = {n, (int)w, send_one, &g, NULL, NULL, k->hopts.cancel};
    int rc = eqops__pool_run(&job, NULL);
    for (size_t i = 0; i < g.nidle; i++)
        eqops__http_free(g.idle[i]);
    pthread_mutex_destroy(&g.mu);
    return rc;
}

/* Read the caller's options (NULL: defaults) into `o` and check them. */
static int read_opts(eqops_k8s_write_options *o, const eqops_k8s_write_options *opts,
                     eqops_error *err)
{
    int rc = eqops__k8s_write_opts(o, opts, err);
    if (rc == 0 && (o->concurrency < 0 || o->concurrency > MAX_CONCURRENCY))
        rc = eqops__err_field(err, EQOPS_EINVAL, "opts.concurrency", "0 to %d", MAX_CONCURRENCY);
    return rc;
}

/* Apply `objects` (from `nsrc` sources, at least one object); `*out` the applied objects. The
 * client's token stops it. */
static int apply_group(json_t **out, eqops_k8s *k, json_t *objects, const source *src, size_t nsrc,
                       const eqops_k8s_write_options *o, eqops_error *err)
{
    int workers = o->concurrency ? o->concurrency : DEFAULT_CONCURRENCY;
    int rc = 0;
    size_t n = json_array_size(objects);
    item *items = eqops__calloc(n + 1, sizeof(item));
    size_t *order = eqops__calloc(n + 1, sizeof(size_t));
    if (items == NULL || order == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    for (size_t i = 0, s = 0; rc == 0 && i < n; i++) {
        while (s + 1 < nsrc && src[s].end <= i)
            s++;
        items[i].obj = json_array_get(objects, i);
        items[i].src = src[s].name;
        items[i].src_index = i - (s ? src[s - 1].end : 0);
        eqops_error_init(&items[i].err);
        rc = check_item(&items[i], err);
    }
    /* credentials are made current once; the workers share the headers */
    const char *headers[K8S_HEADERS_MAX];
    char *auth = NULL, ct[128];
    if (rc == 0 && (rc = eqops__k8s_auth(k, false, err)) == 0)
        rc = eqops__k8s_headers(k, headers, &auth, ct, "application/apply-patch+yaml", true, err);
    /* cluster-scoped kinds first (namespaces, CRDs): the others may need them. Kinds that
     * discovery does not know yet (resources of a CRD of this manifest) wait for the second
     * group. */
    int crds = 0; /* CRDs in the first group */
    for (int group = 0; group < 2 && rc == 0; group++) {
        size_t m = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            item *it = &items[i];
            if (it->body)
                continue; /* sent in the first group */
            const json_t *meta = json_object_get(it->obj, "metadata");
            bool has_ns = json_string_value(json_object_get(meta, "namespace")) != NULL;
            if (group == 0) {
                const char *api = json_string_value(json_object_get(it->obj, "apiVersion"));
                const char *kind = json_string_value(json_object_get(it->obj, "kind"));
                const char *resource;
                bool namespaced = true;
                if (!has_ns && api && kind &&
                    eqops__k8s_lookup(k, api, kind, &resource, &namespaced, NULL) != 0)
                    namespaced = true; /* not known yet: perhaps a CRD of this manifest */
                if (has_ns || namespaced)
                    continue;
            }
            rc = prepare(k, it, o, err);
            /* a kind of a CRD applied just before is served once the CRD is established:
             * asked again for up to a minute, 0.1 s doubling to 1 s with full jitter */
            eqops__backoff crd_wait = {100, 1000, 0, -1, eqops__mono_ms() + 60000, k->hopts.cancel};
            int64_t wait = 0;
            for (int retry = 1; rc == EQOPS_ENOTFOUND && group == 1 && crds > 0 &&
                                eqops__backoff_next(&crd_wait, retry, 0, &wait);
                 retry++) {
                eqops_error_clear(err);
                eqops__buf_truncate(&it->path, 0);
                rc = eqops__backoff_wait(&crd_wait, wait) != 0
                         ? eqops__err(err, EQOPS_ECANCELED, "%s: cancelled", it->what)
                         : prepare(k, it, o, err);
            }
            if (rc == 0)
                order[m++] = i;
            const char *kind = json_string_value(json_object_get(it->obj, "kind"));
            if (rc == 0 && group == 0 && kind && !strcmp(kind, "CustomResourceDefinition"))
                crds++;
        }
        if (rc != 0)
            break;
        int stopped = run_group(k, items, order, m, workers, headers);
        /* credentials that expired on the way (exec, EKS, rotated token files): renew them
         * once and send again what was refused or not sent */
        bool refused = false, other = false;
        for (size_t j = 0; j < m; j++) {
            int r = items[order[j]].rc;
            refused = refused || r == EQOPS_EAUTH;
            other = other || (r != 0 && r != EQOPS_EAUTH);
        }
        if (refused && !other && (k->cfg.exec || k->cfg.token_file || k->aws)) {
            size_t r = 0;
            for (size_t j = 0; j < m; j++) {
                item *it = &items[order[j]];
                if (it->rc == EQOPS_EAUTH || (it->rc == 0 && it->result == NULL)) {
                    eqops_error_clear(&it->err);
                    it->rc = 0;
                    order[r++] = order[j];
                }
            }
            eqops__secret_free(auth);
            auth = NULL;
            if ((rc = eqops__k8s_auth(k, true, err)) != 0 ||
                (rc = eqops__k8s_headers(k, headers, &auth, ct, "application/apply-patch+yaml",
                                         true, err)) != 0)
                break;
            stopped = run_group(k, items, order, r, workers, headers);
            m = r;
        }
        for (size_t j = 0; j < m && rc == 0; j++) /* the first failure, in manifest order */
            if (items[order[j]].rc != 0)
                rc = eqops__err_move(err, &items[order[j]].err);
        if (rc == 0 && stopped != 0) /* the token, before some objects were sent */
            rc = eqops__err(err, EQOPS_ECANCELED, "%s: cancelled before it was sent",
                            items[order[m - 1]].what);
        for (size_t j = 0; rc != 0 && j < m; j++) /* stopped: some never ran */
            if (items[order[j]].result == NULL && items[order[j]].rc == 0)
                items[order[j]].rc = EQOPS_ECANCELED;
    }
    eqops__secret_free(auth);
    json_t *applied = rc == 0 ? json_array() : NULL;
    if (rc == 0 && applied == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *r = items[i].result ? json_loads(items[i].result, 0, NULL) : NULL;
        if (r == NULL || !eqops__jappend(applied, r))
            rc = eqops__err(err, EQOPS_EPROTO, "%s: unreadable answer", items[i].what);
    }
    if (rc == 0)
        *out = applied;
    else
        json_decref(applied);
    for (size_t i = 0; items && i < n; i++) {
        eqops__buf_free(&items[i].path);
        eqops__free(items[i].body);
        eqops__free(items[i].result);
        eqops_error_clear(&items[i].err);
    }
    eqops__free(items);
    eqops__free(order);
    return rc;
}

/* apply_group with the options' token, when they have one, instead of the client's */
static int apply_objects(json_t **out, eqops_k8s *k, json_t *objects, const source *src,
                         size_t nsrc, const eqops_k8s_write_options *o, eqops_error *err)
{
    const eqops_cancel *old = o->cancel ? eqops__k8s_set_cancel(k, o->cancel) : NULL;
    int rc = apply_group(out, k, objects, src, nsrc, o, err);
    if (o->cancel)
        eqops__k8s_set_cancel(k, old);
    return rc;
}

/* The objects of one manifest (text, or an array of documents) applied. */
static int apply_manifest(json_t **out, eqops_k8s *k, const char *text, const json_t *docs,
                          const eqops_k8s_write_options *opts, eqops_error *err)
{
    eqops_k8s_write_options oc;
    const eqops_k8s_write_options *o = &oc;
    int rc = read_opts(&oc, opts, err);
    if (rc != 0)
        return rc;
    json_t *objects = json_array();
    if (objects == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (text)
        rc = parse_text(objects, text, strlen(text), "manifest", err);
    else if (!json_is_array(docs))
        rc = invalid(err, "manifest", "manifest: must be an array of objects");
    else
        rc = collect(objects, (json_t *)docs, 0, "manifest", 0, err);
    source src = {"manifest", json_array_size(objects)};
    /* nothing to apply is a mistake, never a success (kubectl: "no objects passed to apply") */
    if (rc == 0 && src.end == 0)
        rc = invalid(err, "manifest", "manifest: no objects passed to apply");
    if (rc == 0)
        rc = apply_objects(out, k, objects, &src, 1, o, err);
    json_decref(objects);
    return rc;
}

int eqops__k8s_apply_manifest_doc(json_t **out, eqops_k8s *k, const json_t *objects,
                                  const eqops_k8s_write_options *opts, eqops_error *err)
{
    if (out == NULL || k == NULL || objects == NULL)
        return eqops__err_field(err, EQOPS_EINVAL,
                                out && k ? "manifest"
                                : out    ? "k"
                                         : "out",
                                "required");
    *out = NULL;
    return apply_manifest(out, k, NULL, objects, opts, err);
}

/* `*out` = the applied objects as JSON text (new). */
static int applied_text(char **out, json_t *applied, int rc, eqops_error *err)
{
    if (rc == 0 && (*out = eqops__json_dump(applied, JSON_COMPACT)) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    json_decref(applied);
    return rc;
}

int eqops_k8s_apply_manifest(char **out, eqops_k8s *k, const char *manifest,
                             const eqops_k8s_write_options *opts, eqops_error *err)
{
    if (out == NULL || k == NULL || manifest == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "manifest" : "out", "required");
    *out = NULL;
    json_t *applied = NULL;
    int rc = apply_manifest(&applied, k, manifest, NULL, opts, err);
    return applied_text(out, applied, rc, err);
}

/* Read and parse every file first: a bad one anywhere applies nothing. */
static int read_all(json_t *objects, source *src, const eqops_paths *files, eqops_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < files->n; i++) {
        char *text = NULL;
        size_t len = 0;
        int rc = eqops__read_file(&text, &len, files->v[i], EQOPS__DOC_MAX_BYTES, err);
        if (rc == 0 && (total += len) > MAX_TOTAL_BYTES)
            rc = eqops__err(err, EQOPS_ETOOBIG, "%s: the manifests add up to more than %u bytes",
                            files->v[i], MAX_TOTAL_BYTES);
        if (rc == 0)
            rc = parse_text(objects, text, len, files->v[i], err);
        if (text != NULL)
            eqops__wipe_free(text, len); /* Secret manifests */
        if (rc != 0)
            return rc;
        src[i].name = files->v[i];
        src[i].end = json_array_size(objects);
    }
    return 0;
}

int eqops_k8s_apply_path(char **out, eqops_k8s *k, const char *path, int recursive,
                         const eqops_k8s_write_options *opts, eqops_error *err)
{
    if (out == NULL || k == NULL || path == NULL || *path == '\0')
        return eqops__err_field(err, EQOPS_EINVAL,
                                out && k ? "path"
                                : out    ? "k"
                                         : "out",
                                "required");
    *out = NULL;
    eqops_k8s_write_options oc;
    const eqops_k8s_write_options *o = &oc;
    int rc = read_opts(&oc, opts, err);
    if (rc != 0)
        return rc;
    /* a directory: its manifest files; anything else is read as one (and refused unless it is
     * a regular file: a FIFO or a device is never waited on) */
    eqops_paths files = {0};
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = eqops__dir_files(&files, path, manifest_exts, recursive != 0, MAX_FILES, err);
        if (rc == 0 && files.n == 0)
            rc = invalid(err, "path",
                         "%s: no manifest files (file extensions read: .json .yaml .yml%s)", path,
                         recursive ? "" : "; -R for subdirectories");
    } else {
        char *copy = eqops__strdup(path);
        files.v = eqops__calloc(1, sizeof(char *));
        if (copy == NULL || files.v == NULL) {
            eqops__free(copy);
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        } else {
            files.v[0] = copy;
            files.n = files.cap = 1;
        }
    }
    json_t *objects = rc == 0 ? json_array() : NULL;
    source *src = rc == 0 ? eqops__calloc(files.n, sizeof(source)) : NULL;
    if (rc == 0 && (objects == NULL || src == NULL))
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (rc == 0)
        rc = read_all(objects, src, &files, err);
    if (rc == 0 && json_array_size(objects) == 0)
        rc = invalid(err, "path", "%s: no objects passed to apply", path);
    json_t *applied = NULL;
    if (rc == 0)
        rc = apply_objects(&applied, k, objects, src, files.n, o, err);
    eqops__free(src);
    json_decref(objects);
    eqops__paths_free(&files);
    return applied_text(out, applied, rc, err);
}
