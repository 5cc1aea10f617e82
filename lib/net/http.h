/*
 * http.h - the one HTTP client of libeqops (internal), over libcurl.
 *
 * Shared by the Kubernetes, AWS and Prometheus clients. One eqops_http handle keeps its
 * connections open between requests (HTTP/1.1 keep-alive or one HTTP/2 connection); use a
 * handle from one thread at a time.
 *
 * Behaviour:
 *   - TLS is verified by default. A CA may come from a file or from memory; a client
 *     certificate and key only from memory (never written to disk, wiped when freed).
 *   - Requests with an idempotent method (GET, HEAD, PUT, DELETE, OPTIONS), or marked
 *     EQOPS_HTTP_RETRY_ALWAYS by a caller who knows better, are retried after connection
 *     failures and on 429/502/503/504, at most `max_retries` times, waiting for the server's
 *     Retry-After (seconds or HTTP date, capped) or else an exponential backoff with full
 *     jitter (core's eqops__backoff). Timeouts are not retried: a deadline is a budget.
 *   - A cancellation token (the handle's or the request's) stops a transfer, a wait or a
 *     retry loop: EQOPS_ECANCELED.
 *   - Bodies are collected up to `max_response_bytes` (EQOPS_ETOOBIG beyond) or handed to a
 *     streaming callback.
 *   - A non-2xx status is not an error of eqops__http_do(): the caller reads resp->status and
 *     the body (see eqops__http_status_error()).
 */
#ifndef EQOPS_NET_HTTP_H
#define EQOPS_NET_HTTP_H

#include "../core/core_internal.h"

typedef struct eqops_http eqops_http;

typedef struct eqops_http_options {
    unsigned version; /* 1 */
    /* TLS */
    const char *ca_file; /* PEM bundle; trusted instead of the system store */
    const char *ca_pem;  /* PEM in memory; wins over ca_file */
    size_t ca_pem_len;
    const char *cert_pem; /* client certificate (chain), PEM, in memory */
    size_t cert_pem_len;
    const char *key_pem; /* client private key, PEM, in memory */
    size_t key_pem_len;
    const char *tls_server_name; /* verify the server certificate for this name */
    /* Turns off certificate and host name verification. Logged as a warning whenever a
     * handle is made with it. Only for throw-away test clusters. */
    bool insecure_skip_tls_verify;
    /* Timeouts */
    long connect_timeout_ms; /* default 10 s */
    long timeout_ms;         /* whole request; default 60 s; 0 = no limit (streams) */
    long low_speed_time_s;   /* abort when under 1 byte/s for this long; 0 = off */
    /* Retries */
    int max_retries;         /* retries after the first attempt; default 3; -1 = none */
    long backoff_base_ms;    /* default 100 */
    long backoff_cap_ms;     /* default 5 s */
    long retry_after_cap_ms; /* longest Retry-After honoured; default 30 s */
    /* Limits */
    size_t max_response_bytes; /* default 128 MiB */
    double qps;                /* client-side token bucket; 0 = unlimited */
    int burst;                 /* bucket size; default max(1, qps) */
    /* Misc */
    const char *user_agent; /* default "libeqops/<version>" */
    const char *proxy;      /* http(s)://host:port; NULL = none (environment is ignored) */
    bool disable_http2;     /* default: HTTP/2 when the server offers it over TLS */
    /* Cancellation: once triggered, a transfer under way stops (libcurl's progress callback,
     * which also runs while the connection is idle), a retry wait or a rate-limit wait ends,
     * and no attempt starts; the request returns EQOPS_ECANCELED. Borrowed; NULL: none. */
    const eqops_cancel *cancel;
} eqops_http_options;

#define EQOPS_HTTP_OPTIONS_INIT                                                                    \
    {                                                                                              \
        .version = 1                                                                               \
    }

typedef enum eqops_http_retry {
    EQOPS_HTTP_RETRY_AUTO = 0, /* retry idempotent methods only */
    EQOPS_HTTP_RETRY_NEVER = 1,
    EQOPS_HTTP_RETRY_ALWAYS = 2 /* the caller knows this request is safe to repeat */
} eqops_http_retry;

/* Streaming body callback for 2xx answers; non-zero aborts and is returned by http_do. */
typedef int (*eqops_http_data_fn)(const char *data, size_t len, void *payload);

typedef struct eqops_http_request {
    const char *method; /* GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" strings, or NULL */
    const void *body;
    size_t body_len;
    eqops_http_retry retry;
    eqops_http_data_fn on_data; /* if set, a 2xx body goes here instead of resp->body */
    void *payload;
    long timeout_ms;            /* 0 = the handle's default; -1 = no limit */
    long low_speed_time_s;      /* 0 = the handle's default; -1 = off */
    size_t max_response_bytes;  /* 0 = the handle's default */
    const eqops_cancel *cancel; /* this request's token, instead of the handle's; NULL: its */
} eqops_http_request;

typedef struct eqops_http_header {
    char *name;
    char *value;
} eqops_http_header;

typedef struct eqops_http_response {
    long status;
    eqops_buf body; /* empty when streamed */
    eqops_http_header *headers;
    size_t nheaders;
    double retry_after;   /* seconds, from the last answer's Retry-After; 0 if none */
    int http_version;     /* 11 or 20 */
    int attempts;         /* 1 + retries made */
    long new_connections; /* connections opened by the last attempt (0 = reused) */
} eqops_http_response;

#define EQOPS_HTTP_RESPONSE_INIT                                                                   \
    {                                                                                              \
        0, EQOPS_BUF_INIT, NULL, 0, 0.0, 0, 0, 0                                                   \
    }

/* New handle. Returns 0, EQOPS_EINVAL (bad option: the message names it) or EQOPS_ENOMEM. */
int eqops__http_new(eqops_http **out, const eqops_http_options *opts, eqops_error *err);
void eqops__http_free(eqops_http *h);
/* Swap the handle's token (borrowed; NULL: none); returns the previous one. */
const eqops_cancel *eqops__http_set_cancel(eqops_http *h, const eqops_cancel *cancel);

/*
 * Perform a request. `resp` must be initialised with EQOPS_HTTP_RESPONSE_INIT (it is cleared
 * first). Returns 0 when an HTTP answer was received (any status), or EQOPS_EINVAL,
 * EQOPS_ENOMEM, EQOPS_ETIMEOUT, EQOPS_EUNAVAILABLE (could not connect, connection lost),
 * EQOPS_ETLS, EQOPS_ETOOBIG, EQOPS_ECANCELED (the token: "<METHOD> <redacted url>:
 * cancelled"; `resp` is cleared), or the streaming callback's non-zero value (err->code is
 * then EQOPS_ECANCELED).
 */
int eqops__http_do(eqops_http *h, const eqops_http_request *req, eqops_http_response *resp,
                   eqops_error *err);

/* Header value (borrowed) by case-insensitive name, or NULL. */
const char *eqops__http_header(const eqops_http_response *resp, const char *name);
void eqops__http_response_clear(eqops_http_response *resp);

/*
 * Fill `err` from a non-2xx answer: code from the status, message "<what>: HTTP <status>",
 * upstream status, Retry-After and a copy of the body. Returns the code.
 */
int eqops__http_status_error(const eqops_http_response *resp, const char *what, eqops_error *err);

#endif /* EQOPS_NET_HTTP_H */
