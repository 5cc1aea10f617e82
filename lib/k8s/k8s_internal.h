/*
 * k8s_internal.h - what the k8s module's files share: the resolved configuration of one
 * context, the client with its credentials, requests and Status errors, discovery.
 */
#ifndef EQOPS_K8S_INTERNAL_H
#define EQOPS_K8S_INTERNAL_H

#include "eqops/k8s.h"
#include "k8s_seam.h"

#include "../core/core_internal.h"
#include "../core/json.h"
#include "../net/http.h"

/* An exec credential plugin of a kubeconfig user. */
typedef struct k8s_exec {
    char **argv;          /* command and args, NULL-terminated */
    char **env;           /* the plugin's own env entries "NAME=value", NULL-terminated */
    char api_version[64]; /* client.authentication.k8s.io/v1 or /v1beta1 */
    bool provide_cluster_info;
} k8s_exec;

/* One context, resolved: everything the client needs, secrets in memory only. */
typedef struct k8s_config {
    char context[256];
    char *server; /* without a trailing '/' */
    char *ns;     /* the context's namespace, or NULL */
    eqops_buf ca; /* PEM, empty: the system's store */
    char *tls_server_name;
    bool insecure;
    char *proxy;
    char *token;      /* a static bearer token (secret) */
    char *token_file; /* read again every minute and after a 401 */
    eqops_buf cert;   /* client certificate PEM */
    eqops_buf key;    /* client key PEM (secret) */
    k8s_exec *exec;
} k8s_config;

/* Resolve a context of the kubeconfig `file` (one path, as kubectl's --kubeconfig; NULL or
 * "": the merged KUBECONFIG list, else ~/.kube/config); `context` NULL: the current one. */
int eqops__k8s_config_load(k8s_config *cfg, const char *file, const char *context,
                           eqops_error *err);
/* The in-cluster configuration (KUBERNETES_SERVICE_HOST, the service account files). */
int eqops__k8s_config_in_cluster(k8s_config *cfg, eqops_error *err);
/* The merged kubeconfig as {"current", "contexts": [...]} (eqops_k8s_contexts). */
int eqops__k8s_config_contexts(json_t **out, const char *file, eqops_error *err);
void eqops__k8s_config_clear(k8s_config *cfg);

/* Parse one kubeconfig file's text into the merge (first value wins). For the fuzzer. */
int eqops__k8s_config_merge(json_t *merged, const char *text, size_t len, const char *path,
                            eqops_error *err);

struct eqops_k8s {
    k8s_config cfg;
    eqops_http *http;
    eqops_http_options hopts;
    char *field_manager;
    char *user_agent;
    char **impersonation; /* "Impersonate-User: x", "Impersonate-Group: y", ... */
    long exec_timeout_ms;
    /* bearer credentials */
    char *bearer;         /* the current token (secret) */
    int64_t bearer_until; /* renew after this (ms since the epoch); 0 = never */
    bool cert_from_exec;  /* the exec plugin gave a client certificate: rebuild http */
    /* EKS */
    eqops_aws *aws;
    char *eks_cluster;
    /* discovery: {"<apiVersion>": {"<Kind>": {"resource", "namespaced"}}} */
    json_t *discovery;
};

/* Read a caller's write options (NULL: defaults) into the full struct `o` (eqops__opts_read). */
int eqops__k8s_write_opts(eqops_k8s_write_options *o, const eqops_k8s_write_options *opts,
                          eqops_error *err);

/* Make sure a bearer token (or exec client certificate) is current; `force` renews it (after
 * a 401). */
int eqops__k8s_auth(eqops_k8s *k, bool force, eqops_error *err);
/* (Re)build the HTTP handle from the configuration and any exec certificate. */
int eqops__k8s_http(eqops_k8s *k, eqops_error *err);
/* A new HTTP handle like the client's, for another thread; qps < 0: the client's rate. */
int eqops__k8s_http_new(eqops_k8s *k, double qps, int burst, eqops_http **out, eqops_error *err);

/* The request headers: authorization (`*auth` new: free it with eqops__secret_free), Accept,
 * Content-Type when there is a body (built in `ct`), impersonation. NULL-terminated. */
#define K8S_HEADERS_MAX 24
#define K8S_GROUPS_MAX  16 /* Impersonate-Group headers */
int eqops__k8s_headers(eqops_k8s *k, const char **headers, char **auth, char ct[128],
                       const char *content_type, bool has_body, eqops_error *err);

typedef struct k8s_req {
    const char *method;
    const char *path; /* with its query */
    const char *content_type;
    const char *body;
    size_t body_len;
    const char *what; /* "get ConfigMap ns/name", for messages */
    eqops_http_data_fn on_data;
    void *payload;
    long timeout_ms;       /* 0: the client's */
    long low_speed_time_s; /* idle timeout of a stream */
} k8s_req;

/* Send with authentication (renewed once after a 401). 2xx: 0 and `resp`; otherwise the
 * Status error. `resp` must be initialised; the caller clears it. */
int eqops__k8s_do(eqops_k8s *k, const k8s_req *req, eqops_http_response *resp, eqops_error *err);

/* Fill `err` from a Status answer (or any non-2xx body). Returns the code. With `secret`
 * (the request was about Secrets) the server's message and body are left out: they may quote
 * the values; the reason and the field paths stay. */
int eqops__k8s_status_error(const char *body, size_t len, long http_status, double retry_after,
                            const char *what, bool secret, eqops_error *err);
/* Does the REST path (with or without its query) name the secrets resource? */
bool eqops__k8s_secret_path(const char *path);

/* The REST path of a kind: "/api/v1/namespaces/<ns>/<resource>[/<name>]". `ns` NULL: the
 * client's default (ignored for cluster-scoped kinds), "" with all_namespaces. */
int eqops__k8s_path(eqops_buf *path, eqops_k8s *k, const char *api_version, const char *kind,
                    const char *ns, bool all_namespaces, const char *name, eqops_error *err);

/* One line of a watch stream: `*type` (borrowed from `*event`, new) for ADDED, MODIFIED,
 * DELETED, BOOKMARK; an ERROR event is its Status as an error (EQOPS_EGONE for 410);
 * EQOPS_EPROTO for anything else. */
int eqops__k8s_event_parse(const char *line, size_t len, const char **type, json_t **event,
                           eqops_error *err);

/* Append "&key=value" (value URL-encoded) to a query; the first one gets '?'. */
void eqops__k8s_query(eqops_buf *path, const char *key, const char *value);

#endif /* EQOPS_K8S_INTERNAL_H */
