/*
 * eqops/k8s.h - a small Kubernetes client over unstructured JSON: kubeconfig (merged path
 * lists, contexts), in-cluster and EKS configuration, token / client certificate / exec plugin
 * authentication, discovery, get / list / create / replace / merge patch / server-side apply /
 * delete with dry runs and preconditions, and watches that survive restarts.
 *
 * Objects are JSON text with apiVersion and kind; any resource the server serves (CRDs
 * included) is reached by kind through a discovery cache. Results are JSON text the caller
 * frees with eqops_free().
 *
 * Configuration. eqops_k8s_new() reads the kubeconfig files the way kubectl does: the
 * `kubeconfig` option (one path, as kubectl's --kubeconfig; a FIFO such as <(sops -d ...) is
 * read with a bounded wait, EQOPS_FIFO_WAIT seconds, default 60) or else KUBECONFIG (a
 * ':'-separated list; the first file to set a value or a named cluster, user or context
 * wins), else ~/.kube/config; the `context` option or
 * the current-context. Without any kubeconfig it uses the in-cluster configuration
 * (KUBERNETES_SERVICE_HOST, the service account's token, ca.crt and namespace). Clusters: server,
 * certificate-authority(-data), tls-server-name, insecure-skip-tls-verify, proxy-url. Users:
 * token, tokenFile, client-certificate(-data) and client-key(-data) - kept in memory, never
 * written anywhere - and exec plugins. Relative paths are relative to the file that names them.
 *
 * Exec plugins (client.authentication.k8s.io/v1 and v1beta1) run without a shell, with their
 * env entries given to the child only and KUBERNETES_EXEC_INFO set; their credential is cached
 * until expirationTimestamp minus 30 s, and the plugin is run again once when the server
 * answers 401. Output is bounded (1 MiB) and so is the run time (the `exec_timeout_ms`
 * option, default 60 s). Token files (tokenFile, the in-cluster token) are read again every
 * minute and after a 401, so rotated tokens are followed.
 *
 * Requests: GET, PUT and DELETE are retried after 429 and 5xx answers and connection failures
 * (bounded, Retry-After honoured); a client-side token bucket limits the rate (`qps`, `burst`);
 * connections are reused, HTTP/2 when the server offers it. Errors carry the API Status:
 * err->reason (NotFound, AlreadyExists, Conflict, Invalid, Forbidden, Unauthorized, Expired,
 * TooManyRequests, ...), err->message with the server's message, err->field (the first cause's
 * field, for Invalid and apply conflicts), err->retry_after and the raw body in err->body.
 * Codes: EQOPS_ENOTFOUND, EQOPS_EEXISTS, EQOPS_ECONFLICT (a conflict or a failed precondition),
 * EQOPS_EINVAL, EQOPS_EFORBIDDEN, EQOPS_EAUTH, EQOPS_EGONE, EQOPS_ERATELIMIT,
 * EQOPS_EUNAVAILABLE, EQOPS_ETIMEOUT.
 */
#ifndef EQOPS_K8S_H
#define EQOPS_K8S_H

#include "aws.h"
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A client for one cluster (one context). Use it from one thread at a time. */
typedef struct eqops_k8s eqops_k8s;

typedef struct eqops_k8s_options {
    unsigned version;        /* EQOPS_K8S_OPTIONS_VERSION */
    const char *kubeconfig;  /* one path; default KUBECONFIG's list, else ~/.kube/config */
    const char *context;     /* default: the current-context */
    int in_cluster;          /* 1: the in-cluster configuration, ignoring kubeconfigs */
    const char *ns;          /* default namespace; default: the context's, else "default" */
    double qps;              /* requests per second; default 50 (0 = the default, -1 = no limit) */
    int burst;               /* default 100 */
    long timeout_ms;         /* per request; default 30000 */
    long connect_timeout_ms; /* default 10000 */
    int max_retries;         /* default 5; -1 = none */
    long exec_timeout_ms;    /* exec plugins; default 60000 */
    const char *field_manager;             /* server-side apply; default "libeqops" */
    const char *impersonate_user;          /* Impersonate-User */
    const char *const *impersonate_groups; /* Impersonate-Group, NULL-terminated */
    const char *user_agent;                /* default "libeqops/<version>" */
    /* Cancellation (NULL: none), client-wide: every request and retry wait of this client:
     * checked between steps, in transfers and queries, and in retry waits; once triggered the call
     * returns EQOPS_ECANCELED. */
    eqops_cancel *cancel;
} eqops_k8s_options;

#define EQOPS_K8S_OPTIONS_VERSION 1
#define EQOPS_K8S_OPTIONS_INIT                                                                     \
    {                                                                                              \
        EQOPS_K8S_OPTIONS_VERSION, NULL, NULL, 0, NULL, 0.0, 0, 0, 0, 0, 0, NULL, NULL, NULL,      \
            NULL, NULL                                                                             \
    }
/* Zero `opts` and set its version (EQOPS_K8S_OPTIONS_VERSION or an older one the
 * caller was written for): 0, or EQOPS_EINVAL (opts NULL, version 0 or newer than this
 * library). */
EQOPS_API int eqops_k8s_options_init(eqops_k8s_options *opts, unsigned version);

/* A client from the kubeconfig files (or in-cluster). No request is made yet. Returns 0,
 * EQOPS_ENOTFOUND (no configuration, unknown context), EQOPS_EINVAL (a malformed file: the
 * message names the file and the field), EQOPS_ENOTSUP (auth-provider users, basic auth). */
EQOPS_API int eqops_k8s_new(eqops_k8s **out, const eqops_k8s_options *opts, eqops_error *err);

/* A client for an EKS cluster: its endpoint and CA from DescribeCluster, and tokens made by
 * `aws` (a borrowed client that must outlive this one) and renewed before they expire. */
EQOPS_API int eqops_k8s_new_eks(eqops_k8s **out, eqops_aws *aws, const char *cluster,
                                const eqops_k8s_options *opts, eqops_error *err);

EQOPS_API void eqops_k8s_free(eqops_k8s *k);

/* The server URL, the context name ("" in-cluster or EKS) and the default namespace. */
EQOPS_API const char *eqops_k8s_server(const eqops_k8s *k);
EQOPS_API const char *eqops_k8s_context(const eqops_k8s *k);
EQOPS_API const char *eqops_k8s_namespace(const eqops_k8s *k);

/* The contexts of the merged kubeconfig (`kubeconfig` NULL: the default files):
 * {"current": NAME, "contexts": [{"name", "cluster", "user", "namespace", "server"}]}. */
EQOPS_API int eqops_k8s_contexts(char **out, const char *kubeconfig, eqops_error *err);

/* ---- reading ------------------------------------------------------------------------------ */

/*
 * `api_version` is "v1" or "group/version" ("apps/v1"), `kind` the kind ("ConfigMap"). `ns`
 * is ignored for cluster-scoped kinds; NULL means the client's default namespace.
 */

/* One object. EQOPS_ENOTFOUND when there is none (or the kind is unknown: err->reason says
 * which). */
EQOPS_API int eqops_k8s_get(char **out, eqops_k8s *k, const char *api_version, const char *kind,
                            const char *ns, const char *name, eqops_error *err);

typedef struct eqops_k8s_list_options {
    unsigned version;           /* EQOPS_K8S_LIST_OPTIONS_VERSION */
    const char *label_selector; /* "tenant=acme,tier in (gold,silver)" */
    const char *field_selector; /* "metadata.name=x" */
    long limit;                 /* page size; default 500 */
    int all_namespaces;         /* list across namespaces (namespaced kinds) */
} eqops_k8s_list_options;

#define EQOPS_K8S_LIST_OPTIONS_VERSION 1
#define EQOPS_K8S_LIST_OPTIONS_INIT                                                                \
    {                                                                                              \
        EQOPS_K8S_LIST_OPTIONS_VERSION, NULL, NULL, 0, 0                                           \
    }
/* Zero `opts` and set its version (EQOPS_K8S_LIST_OPTIONS_VERSION or an older one the
 * caller was written for): 0, or EQOPS_EINVAL (opts NULL, version 0 or newer than this
 * library). */
EQOPS_API int eqops_k8s_list_options_init(eqops_k8s_list_options *opts, unsigned version);

/*
 * Every object, all pages joined: {"apiVersion", "kind": "<Kind>List", "metadata":
 * {"resourceVersion"}, "items": [...]}. When a continue token expires (410) between pages the
 * list starts again from the beginning, once.
 */
EQOPS_API int eqops_k8s_list(char **out, eqops_k8s *k, const char *api_version, const char *kind,
                             const char *ns, const eqops_k8s_list_options *opts, eqops_error *err);

/* A list one page at a time: next() gives a page (a list document) and sets *out NULL at the
 * end. An expired continue token is EQOPS_EGONE (start a new pager). */
typedef struct eqops_k8s_pager eqops_k8s_pager;

EQOPS_API int eqops_k8s_pager_new(eqops_k8s_pager **out, eqops_k8s *k, const char *api_version,
                                  const char *kind, const char *ns,
                                  const eqops_k8s_list_options *opts, eqops_error *err);
EQOPS_API int eqops_k8s_pager_next(char **out, eqops_k8s_pager *p, eqops_error *err);
EQOPS_API void eqops_k8s_pager_free(eqops_k8s_pager *p);

/* ---- writing ------------------------------------------------------------------------------ */

typedef struct eqops_k8s_write_options {
    unsigned version;               /* EQOPS_K8S_WRITE_OPTIONS_VERSION */
    int dry_run;                    /* dryRun=All: validated and admitted, nothing stored */
    int force;                      /* apply: take over the fields other managers own */
    const char *field_manager;      /* default: the client's */
    const char *propagation_policy; /* delete: "Foreground", "Background", "Orphan" */
    const char *resource_version;   /* delete: precondition */
    const char *uid;                /* delete: precondition */
    int concurrency; /* apply_manifest: objects sent at once; default 8, 1 = one by one */
    /* Cancellation (NULL: none) of this call, apply_manifest and apply_path included (instead of
     * the client's): checked between steps, in transfers and queries, and in retry waits; once
     * triggered the call returns EQOPS_ECANCELED. */
    eqops_cancel *cancel;
} eqops_k8s_write_options;

#define EQOPS_K8S_WRITE_OPTIONS_VERSION 1
#define EQOPS_K8S_WRITE_OPTIONS_INIT                                                               \
    {                                                                                              \
        EQOPS_K8S_WRITE_OPTIONS_VERSION, 0, 0, NULL, NULL, NULL, NULL, 0, NULL                     \
    }
/* Zero `opts` and set its version (EQOPS_K8S_WRITE_OPTIONS_VERSION or an older one the
 * caller was written for): 0, or EQOPS_EINVAL (opts NULL, version 0 or newer than this
 * library). */
EQOPS_API int eqops_k8s_write_options_init(eqops_k8s_write_options *opts, unsigned version);

/* Create `object` (JSON). EQOPS_EEXISTS when it exists. `*out` is the created object. */
EQOPS_API int eqops_k8s_create(char **out, eqops_k8s *k, const char *object,
                               const eqops_k8s_write_options *opts, eqops_error *err);

/* Replace (PUT) `object`; its metadata.resourceVersion, when set, is a precondition
 * (EQOPS_ECONFLICT when the object changed since). */
EQOPS_API int eqops_k8s_replace(char **out, eqops_k8s *k, const char *object,
                                const eqops_k8s_write_options *opts, eqops_error *err);

/* JSON merge patch (RFC 7386) of the named object. */
EQOPS_API int eqops_k8s_patch(char **out, eqops_k8s *k, const char *api_version, const char *kind,
                              const char *ns, const char *name, const char *merge_patch,
                              const eqops_k8s_write_options *opts, eqops_error *err);

/*
 * Server-side apply of `object` (JSON, the fields this manager owns) with the field manager.
 * Creates or updates. A conflict with another manager is EQOPS_ECONFLICT: err->message names
 * the managers and fields, err->field the first field; apply again with `force` to take them.
 */
EQOPS_API int eqops_k8s_apply(char **out, eqops_k8s *k, const char *object,
                              const eqops_k8s_write_options *opts, eqops_error *err);

/*
 * Server-side apply of every object of a manifest: JSON or YAML, one document or several
 * ("---"), and List kinds are unpacked. Cluster-scoped objects (namespaces, CRDs, cluster
 * roles) go first, then the namespaced ones; within each group `concurrency` objects are sent
 * at once over their own connections. The first failure stops what has not started (its index
 * and kind/name in the message). `*out` (new) is the JSON array of the applied objects, in the
 * manifest's order. A manifest without any object is EQOPS_EINVAL ("no objects passed to
 * apply", as kubectl says), never a silent success.
 */
EQOPS_API int eqops_k8s_apply_manifest(char **out, eqops_k8s *k, const char *manifest,
                                       const eqops_k8s_write_options *opts, eqops_error *err);

/*
 * Server-side apply of the manifests at `path`, as `kubectl apply -f PATH [-R]` reads them: a
 * file (JSON or YAML, whatever its name), or a directory whose files named *.json, *.yaml and
 * *.yml are taken in name order (`recursive`: those of its subdirectories too, each at the
 * place of its name; links to directories are not followed). Every file is read and parsed
 * before anything is sent, so a bad file anywhere applies nothing; the objects then go as one
 * manifest (see eqops_k8s_apply_manifest), messages naming the file ("dir/app.yaml: object 2:
 * apply ConfigMap ns/x: ..."). Only regular files are read: a FIFO or a device is refused at
 * once, never waited on. At most 10000 files and 64 MiB in all. `*out` (new) is the JSON array
 * of the applied objects, in file order. Returns 0; EQOPS_EINVAL when there is nothing to apply
 * (an empty file, a directory without manifest files: err->field "path") or a file is not a
 * manifest; EQOPS_ENOTFOUND (no such path); EQOPS_EIO (not a regular file); then the errors of
 * eqops_k8s_apply_manifest.
 */
EQOPS_API int eqops_k8s_apply_path(char **out, eqops_k8s *k, const char *path, int recursive,
                                   const eqops_k8s_write_options *opts, eqops_error *err);

/* Delete. `*out` (may be NULL) is the server's answer: the object (being finalised) or a
 * Status. EQOPS_ENOTFOUND when there is none. */
EQOPS_API int eqops_k8s_delete(char **out, eqops_k8s *k, const char *api_version, const char *kind,
                               const char *ns, const char *name,
                               const eqops_k8s_write_options *opts, eqops_error *err);

/* ---- watching ----------------------------------------------------------------------------- */

/*
 * One event: type "ADDED", "MODIFIED", "DELETED" (and "BOOKMARK" when asked for), the object
 * as JSON. Return non-zero to stop the watch (eqops_k8s_watch then returns EQOPS_ECANCELED).
 */
typedef int (*eqops_k8s_event_fn)(const char *type, const char *object, void *payload);

typedef struct eqops_k8s_watch_options {
    unsigned version; /* EQOPS_K8S_WATCH_OPTIONS_VERSION */
    const char *label_selector;
    const char *field_selector;
    int all_namespaces;
    const char *resource_version; /* start after this version; NULL: list first, and report
                                     every existing object as ADDED */
    int bookmarks;                /* also report BOOKMARK events */
    long idle_timeout_ms;         /* no byte for this long: reconnect; default 90000 */
    long duration_ms;             /* stop (returning 0) after this long; 0 = until stopped */
    /* Cancellation (NULL: none) of this watch (instead of the client's): checked between steps, in
     * transfers and queries, and in retry waits; once triggered the call returns EQOPS_ECANCELED.
     */
    eqops_cancel *cancel;
} eqops_k8s_watch_options;

#define EQOPS_K8S_WATCH_OPTIONS_VERSION 1
#define EQOPS_K8S_WATCH_OPTIONS_INIT                                                               \
    {                                                                                              \
        EQOPS_K8S_WATCH_OPTIONS_VERSION, NULL, NULL, 0, NULL, 0, 0, 0, NULL                        \
    }
/* Zero `opts` and set its version (EQOPS_K8S_WATCH_OPTIONS_VERSION or an older one the
 * caller was written for): 0, or EQOPS_EINVAL (opts NULL, version 0 or newer than this
 * library). */
EQOPS_API int eqops_k8s_watch_options_init(eqops_k8s_watch_options *opts, unsigned version);

/*
 * Watch a kind, calling `fn` for each change, in order, until it returns non-zero or the
 * duration ends. The watch resumes from the last resourceVersion it saw (bookmarks keep it
 * fresh) after the connection drops, the server ends the watch or the API server restarts,
 * with a backoff between attempts. When the version is too old (410 Gone) it lists again and
 * reports the difference with what it had seen (ADDED, MODIFIED, DELETED), so no change is
 * lost. Gives up only on errors a retry cannot fix (403, 404, a bad selector).
 */
EQOPS_API int eqops_k8s_watch(eqops_k8s *k, const char *api_version, const char *kind,
                              const char *ns, const eqops_k8s_watch_options *opts,
                              eqops_k8s_event_fn fn, void *payload, eqops_error *err);

/* ---- anything else -------------------------------------------------------------------------- */

/*
 * A raw request: `path` ("/api/v1/namespaces", "/version", with a query), `body` JSON or NULL,
 * `content_type` NULL for JSON. A non-2xx answer is an error as above; `*out` the body.
 */
EQOPS_API int eqops_k8s_request(char **out, eqops_k8s *k, const char *method, const char *path,
                                const char *content_type, const char *body, eqops_error *err);

/* The resource of a kind from discovery (cached): {"group", "version", "kind", "resource",
 * "namespaced"}. EQOPS_ENOTFOUND when the server has no such kind. */
EQOPS_API int eqops_k8s_resource(char **out, eqops_k8s *k, const char *api_version,
                                 const char *kind, eqops_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EQOPS_K8S_H */
