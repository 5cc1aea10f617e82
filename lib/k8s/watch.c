/*
 * watch.c - list and watch a kind: events in order, resumed from the last resourceVersion
 * after drops and restarts, and a re-list with a diff of what was seen when the version is
 * gone (410), so no change is lost.
 */
#include "k8s_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD            "k8s"
#define LINE_MAX_BYTES (16u << 20) /* one event: an object is at most ~1.5 MB in etcd */
/* reconnecting: full jitter over 0.5 s doubling to 8 s, so a restarted API server is found
 * again soon */
#define WATCH_BACKOFF_BASE_MS 500
#define WATCH_BACKOFF_MAX_MS  8000

typedef struct watch_state {
    eqops_k8s *k;
    const eqops_k8s_watch_options *o;
    eqops_k8s_event_fn fn;
    void *payload;
    json_t *known;   /* "ns/name" -> the last object seen */
    char rv[128];    /* resume from here */
    eqops_buf line;  /* a partial event */
    bool gone;       /* the server said 410 in an ERROR event */
    bool stopped;    /* the callback asked to stop */
    bool progressed; /* an event arrived on this connection */
    eqops_error stream_err;
    int stream_rc;
} watch_state;

static void key_of(const json_t *obj, char *key, size_t n)
{
    const json_t *meta = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    snprintf(key, n, "%s/%s", ns ? ns : "", name ? name : "");
}

static const char *rv_of(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

/* Deliver one event to the callback; remember the object. Non-zero: stop. */
static int deliver(watch_state *w, const char *type, json_t *obj)
{
    char key[600];
    key_of(obj, key, sizeof(key));
    if (!strcmp(type, "DELETED"))
        json_object_del(w->known, key);
    else
        json_object_set(w->known, key, obj);
    char *text = eqops__json_dump(obj, JSON_COMPACT);
    if (text == NULL) {
        w->stream_rc = eqops__err(&w->stream_err, EQOPS_ENOMEM, "out of memory");
        w->stopped = true; /* never resume past an event that was not delivered */
        return 1;
    }
    int stop = w->fn(type, text, w->payload);
    eqops__free(text);
    if (stop)
        w->stopped = true;
    return stop;
}

int eqops__k8s_event_parse(const char *line, size_t len, const char **type, json_t **event,
                           eqops_error *err)
{
    *type = NULL;
    *event = json_loadb(line, len, 0, NULL);
    const char *t = json_string_value(json_object_get(*event, "type"));
    const json_t *obj = json_object_get(*event, "object");
    if (t == NULL || !json_is_object(obj)) {
        json_decref(*event);
        *event = NULL;
        return eqops__err(err, EQOPS_EPROTO, "watch: not an event: %.*s",
                          (int)(len < 80 ? len : 80), line);
    }
    if (!strcmp(t, "ERROR")) {
        json_int_t code = json_integer_value(json_object_get(obj, "code"));
        char *body = eqops__json_dump(obj, JSON_COMPACT);
        int rc = eqops__k8s_status_error(body, body ? strlen(body) : 0, (long)code, 0, "watch",
                                         false, err);
        eqops__free(body);
        json_decref(*event);
        *event = NULL;
        return code == 410 ? EQOPS_EGONE : rc < 0 ? rc : EQOPS_EPROTO;
    }
    *type = t;
    return 0;
}

static int handle_line(watch_state *w, const char *line, size_t len)
{
    const char *type = NULL;
    json_t *ev = NULL;
    int rc = eqops__k8s_event_parse(line, len, &type, &ev, &w->stream_err);
    if (rc != 0) {
        w->stream_rc = rc;
        w->gone = rc == EQOPS_EGONE;
        return 1;
    }
    json_t *obj = json_object_get(ev, "object");
    int stop = 0;
    const char *rv = rv_of(obj);
    if (rv && strlen(rv) < sizeof(w->rv))
        snprintf(w->rv, sizeof(w->rv), "%s", rv);
    w->progressed = true;
    if (!strcmp(type, "BOOKMARK")) {
        if (w->o->bookmarks) {
            char *text = eqops__json_dump(obj, JSON_COMPACT);
            stop = text ? w->fn(type, text, w->payload) : 0;
            w->stopped = stop != 0;
            eqops__free(text);
        }
    } else {
        stop = deliver(w, type, obj);
    }
    json_decref(ev);
    return stop;
}

static int on_data(const char *data, size_t len, void *payload)
{
    watch_state *w = payload;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (data[i] != '\n')
            continue;
        int stop;
        if (w->line.len) {
            eqops__buf_put(&w->line, data + start, i - start);
            stop = handle_line(w, w->line.data, w->line.len);
            eqops__buf_truncate(&w->line, 0);
        } else {
            stop = i > start ? handle_line(w, data + start, i - start) : 0;
        }
        start = i + 1;
        if (stop)
            return EQOPS_ECANCELED;
    }
    if (start < len) {
        if (w->line.len + (len - start) > LINE_MAX_BYTES) {
            w->stream_rc = eqops__err(&w->stream_err, EQOPS_ETOOBIG,
                                      "watch: an event larger than %u bytes", LINE_MAX_BYTES);
            return EQOPS_ECANCELED;
        }
        eqops__buf_put(&w->line, data + start, len - start);
    }
    return 0;
}

/* List, and report the difference with what was seen (all ADDED the first time). */
static int relist(watch_state *w, const char *api_version, const char *kind, const char *ns,
                  eqops_error *err)
{
    eqops_k8s_list_options lo = EQOPS_K8S_LIST_OPTIONS_INIT;
    lo.label_selector = w->o->label_selector;
    lo.field_selector = w->o->field_selector;
    lo.all_namespaces = w->o->all_namespaces;
    json_t *list = NULL;
    int rc = eqops__k8s_list_doc(&list, w->k, api_version, kind, ns, &lo, err);
    if (rc != 0)
        return rc;
    const char *rv = rv_of(list);
    if (list == NULL || rv == NULL || strlen(rv) >= sizeof(w->rv)) {
        json_decref(list);
        return eqops__err(err, EQOPS_EPROTO, "watch %s: the list has no resourceVersion", kind);
    }
    snprintf(w->rv, sizeof(w->rv), "%s", rv);
    json_t *seen = json_object();
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        /* list items carry no apiVersion and kind; events do */
        eqops__jset(item, "apiVersion", json_string(api_version));
        eqops__jset(item, "kind", json_string(kind));
        char key[600];
        key_of(item, key, sizeof(key));
        json_object_set_new(seen, key, json_true());
        json_t *before = json_object_get(w->known, key);
        const char *old = before ? rv_of(before) : NULL, *now = rv_of(item);
        if (before && old && now && !strcmp(old, now))
            continue;
        /* deleted and made again while we were away: another object under the same name */
        const char *old_uid =
            json_string_value(json_object_get(json_object_get(before, "metadata"), "uid"));
        const char *new_uid =
            json_string_value(json_object_get(json_object_get(item, "metadata"), "uid"));
        if (before && old_uid && new_uid && strcmp(old_uid, new_uid) != 0) {
            json_incref(before);
            int stop = deliver(w, "DELETED", before);
            json_decref(before);
            if (stop)
                break;
            before = NULL;
        }
        if (deliver(w, before ? "MODIFIED" : "ADDED", item))
            break;
    }
    /* gone while we were not watching */
    const char *key;
    json_t *obj;
    void *tmp;
    json_object_foreach_safe(w->known, tmp, key, obj)
    {
        if (w->stopped)
            break;
        if (json_object_get(seen, key))
            continue;
        json_incref(obj);
        deliver(w, "DELETED", obj);
        json_decref(obj);
    }
    json_decref(seen);
    json_decref(list);
    if (w->stopped)
        return w->stream_rc ? eqops__err_move(err, &w->stream_err)
                            : eqops__err(err, EQOPS_ECANCELED, "watch: stopped by the callback");
    return 0;
}

/* Errors a reconnect may cure. */
static bool transient(int rc)
{
    return rc == EQOPS_ETIMEOUT || rc == EQOPS_EUNAVAILABLE || rc == EQOPS_ERATELIMIT ||
           rc == EQOPS_EPROTO || rc == EQOPS_EIO;
}

/* The watch loop; `cancel` (the client's token for this call) stops it. */
static int watch(eqops_k8s *k, const char *api_version, const char *kind, const char *ns,
                 const eqops_k8s_watch_options *o, eqops_k8s_event_fn fn, void *payload,
                 const eqops_cancel *cancel, eqops_error *err)
{
    watch_state w;
    memset(&w, 0, sizeof(w));
    w.k = k;
    w.o = o;
    w.fn = fn;
    w.payload = payload;
    w.known = json_object();
    eqops_error_init(&w.stream_err);
    eqops_buf base = EQOPS_BUF_INIT;
    int rc = w.known
                 ? eqops__k8s_path(&base, k, api_version, kind, ns, o->all_namespaces, NULL, err)
                 : eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (rc == 0 && o->label_selector && *o->label_selector)
        eqops__k8s_query(&base, "labelSelector", o->label_selector);
    if (rc == 0 && o->field_selector && *o->field_selector)
        eqops__k8s_query(&base, "fieldSelector", o->field_selector);
    if (rc == 0) {
        if (o->resource_version)
            snprintf(w.rv, sizeof(w.rv), "%s", o->resource_version);
        else
            rc = relist(&w, api_version, kind, ns, err);
    }
    int64_t start = eqops__mono_ms();
    long idle_s = (o->idle_timeout_ms ? o->idle_timeout_ms : 90000) / 1000;
    /* reconnects: no limit on their number, within the duration, cut short by the token */
    eqops__backoff policy = {WATCH_BACKOFF_BASE_MS,
                             WATCH_BACKOFF_MAX_MS,
                             0,
                             -1,
                             o->duration_ms ? start + o->duration_ms : 0,
                             cancel};
    int failures = 0; /* reconnects in a row without an event */
    char what[300];
    snprintf(what, sizeof(what), "watch %s", kind);
    while (rc == 0) {
        int64_t left = o->duration_ms ? o->duration_ms - (eqops__mono_ms() - start) : 0;
        if (o->duration_ms && left <= 0)
            break;
        /* the server ends a watch after timeoutSeconds; jitter spreads reconnects */
        long server_s = 300 + (long)(eqops__mono_ms() % 300);
        if (o->duration_ms && left / 1000 + 1 < server_s)
            server_s = (long)(left / 1000) + 1;
        char secs[32];
        snprintf(secs, sizeof(secs), "%ld", server_s);
        eqops_buf path = EQOPS_BUF_INIT;
        eqops__buf_put(&path, base.data, base.len);
        eqops__k8s_query(&path, "watch", "1");
        eqops__k8s_query(&path, "allowWatchBookmarks", "true");
        eqops__k8s_query(&path, "resourceVersion", w.rv);
        eqops__k8s_query(&path, "timeoutSeconds", secs);
        k8s_req req = {"GET", eqops__buf_cstr(&path), NULL, NULL, 0, what, on_data, &w,
                       -1,    idle_s < 1 ? 1 : idle_s};
        eqops_http_response resp = EQOPS_HTTP_RESPONSE_INIT;
        w.progressed = w.gone = false;
        w.stream_rc = 0;
        eqops_error_clear(&w.stream_err);
        eqops_error e = EQOPS_ERROR_INIT;
        int64_t attempt_start = eqops__mono_ms();
        int r = eqops__k8s_do(k, &req, &resp, &e);
        /* the idle timeout ended a quiet but healthy watch: not a failure */
        bool quiet = r == EQOPS_ETIMEOUT && eqops__mono_ms() - attempt_start >= idle_s * 1000;
        eqops__http_response_clear(&resp);
        eqops__buf_free(&path);
        eqops__buf_truncate(&w.line, 0);
        if (w.stopped) {
            rc = w.stream_rc ? eqops__err_move(err, &w.stream_err)
                             : eqops__err(err, EQOPS_ECANCELED, "watch: stopped by the callback");
            eqops_error_clear(&e);
            break;
        }
        if (eqops_cancel_triggered(cancel)) { /* every delivered event is behind `w.rv` */
            eqops_error_clear(&e);
            rc = eqops__err(err, EQOPS_ECANCELED, "%s: cancelled (at resourceVersion %s)", what,
                            w.rv);
            break;
        }
        if (w.stream_rc && !w.gone) {
            r = w.stream_rc;
            eqops_error_clear(&e);
            eqops__err_move(&e, &w.stream_err);
        }
        if (w.gone || r == EQOPS_EGONE) {
            eqops__log(EQOPS_LOG_INFO, MOD, "watch %s: resourceVersion %s is gone; listing again",
                       kind, w.rv);
            eqops_error_clear(&e);
            rc = relist(&w, api_version, kind, ns, err);
            failures = 0;
            continue;
        }
        if (r == 0 || quiet || (transient(r) && w.progressed)) {
            failures = 0; /* the server ended the watch, or a working one dropped: at once */
            eqops_error_clear(&e);
            continue;
        }
        if (!transient(r)) {
            rc = eqops__err_move(err, &e);
            break;
        }
        int64_t wait = 0;
        if (!eqops__backoff_next(&policy, ++failures, 0, &wait)) {
            eqops_error_clear(&e);
            break; /* the duration ends before the next attempt could start */
        }
        eqops__log(EQOPS_LOG_WARN, MOD, "%s; reconnecting in %lld ms", e.message, (long long)wait);
        eqops_error_clear(&e);
        if (eqops__backoff_wait(&policy, wait) != 0) {
            rc = eqops__err(err, EQOPS_ECANCELED, "%s: cancelled (at resourceVersion %s)", what,
                            w.rv);
            break;
        }
    }
    eqops__buf_free(&base);
    eqops__buf_free(&w.line);
    eqops_error_clear(&w.stream_err);
    json_decref(w.known);
    return rc;
}

static const size_t watch_options_sizes[] = {sizeof(eqops_k8s_watch_options)};

EQOPS__OPTS_INIT_FN(eqops_k8s_watch_options_init, eqops_k8s_watch_options, watch_options_sizes)

int eqops_k8s_watch(eqops_k8s *k, const char *api_version, const char *kind, const char *ns,
                    const eqops_k8s_watch_options *opts, eqops_k8s_event_fn fn, void *payload,
                    eqops_error *err)
{
    if (k == NULL || fn == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, k ? "fn" : "k", "must not be NULL");
    eqops_k8s_watch_options o;
    int rc = EQOPS__OPTS_READ(&o, opts, watch_options_sizes, "k8s watch options", err);
    if (rc != 0)
        return rc;
    if (o.idle_timeout_ms < 0 || o.duration_ms < 0)
        return eqops__err_field(err, EQOPS_EINVAL,
                                o.duration_ms < 0 ? "opts.duration_ms" : "opts.idle_timeout_ms",
                                "must be >= 0");
    if (o.resource_version && (!*o.resource_version || strlen(o.resource_version) >= 128))
        return eqops__err_field(err, EQOPS_EINVAL, "opts.resource_version", "1 to 127 characters");
    /* the watch's own token, else the client's */
    const eqops_cancel *cancel = o.cancel ? o.cancel : k->hopts.cancel;
    const eqops_cancel *old = eqops__k8s_set_cancel(k, cancel);
    rc = watch(k, api_version, kind, ns, &o, fn, payload, cancel, err);
    eqops__k8s_set_cancel(k, old);
    return rc;
}
