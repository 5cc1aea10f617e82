/*
 * http.c - the HTTP client over libcurl: TLS, timeouts, retries, rate limit, streaming.
 */
#include "http.h"

#include <errno.h>
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_TIMEOUT_MS         60000L
#define DEFAULT_MAX_RETRIES        3
#define DEFAULT_BACKOFF_BASE_MS    100L
#define DEFAULT_BACKOFF_CAP_MS     5000L
#define DEFAULT_RETRY_AFTER_CAP_MS 30000L
#define DEFAULT_MAX_RESPONSE       ((size_t)128 * 1024 * 1024)
#define MAX_HEADERS                200
#define MAX_HEADER_BYTES           (256 * 1024)
#define CA_FILE_MAX                ((size_t)16 * 1024 * 1024)

struct eqops_http {
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
    /* owned copies; secrets are wiped on free */
    char *ca_pem;
    size_t ca_pem_len;
    char *cert_pem;
    size_t cert_pem_len;
    char *key_pem;
    size_t key_pem_len;
    char *tls_server_name;
    long timeout_ms;
    long low_speed_time_s;
    int max_retries;
    long backoff_base_ms;
    long backoff_cap_ms;
    long retry_after_cap_ms;
    size_t max_response_bytes;
    double qps;
    double burst;
    double tokens;
    int64_t tokens_at_ms;
    const eqops_cancel *cancel;
};

/* State of one attempt, seen by the libcurl callbacks. */
struct transfer {
    eqops_http *h;
    const eqops_http_request *req;
    eqops_http_response *resp;
    size_t limit;
    size_t received;
    size_t streamed;
    size_t header_bytes;
    bool too_big;
    bool bad_headers;
    bool header_oom;
    int callback_rc;
    const eqops_cancel *cancel;
    bool cancelled; /* the token stopped the transfer */
};

static char *dup_secret(const char *p, size_t len)
{
    char *c = eqops__malloc(len + 1);
    if (c != NULL) {
        memcpy(c, p, len);
        c[len] = '\0';
    }
    return c;
}

void eqops__http_free(eqops_http *h)
{
    if (h == NULL)
        return;
    if (h->curl != NULL)
        curl_easy_cleanup(h->curl);
    eqops__wipe_free(h->key_pem, h->key_pem_len);
    eqops__wipe_free(h->cert_pem, h->cert_pem_len);
    eqops__free(h->ca_pem);
    eqops__free(h->tls_server_name);
    eqops__free(h);
}

static int curl_code(CURLcode c)
{
    switch (c) {
    case CURLE_OK:
        return 0;
    case CURLE_OUT_OF_MEMORY:
        return EQOPS_ENOMEM;
    case CURLE_OPERATION_TIMEDOUT:
        return EQOPS_ETIMEOUT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
        return EQOPS_EINVAL;
    case CURLE_NOT_BUILT_IN:
        return EQOPS_ENOTSUP;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CLIENTCERT:
        return EQOPS_ETLS;
    case CURLE_FILESIZE_EXCEEDED:
        return EQOPS_ETOOBIG;
    case CURLE_ABORTED_BY_CALLBACK:
        return EQOPS_ECANCELED;
    default:
        return EQOPS_EUNAVAILABLE;
    }
}

/*
 * Failures after which the same request may be sent again. A send or receive error on a
 * connection kept from an earlier request usually means the server closed it meanwhile; on
 * a new connection it is more likely a refusal (TLS 1.3 reports a rejected client
 * certificate that way), which a retry would only repeat.
 */
static bool curl_transient(CURLcode c, bool reused)
{
    switch (c) {
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        return reused;
    case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
        return true;
    default:
        return false;
    }
}

static bool status_retryable(long status)
{
    return status == 429 || status == 502 || status == 503 || status == 504;
}

static bool method_idempotent(const char *m)
{
    static const char *const ok[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < EQOPS__ARRAY_LEN(ok); i++)
        if (strcmp(m, ok[i]) == 0)
            return true;
    return false;
}

static long pick(long v, long dflt)
{
    return v > 0 ? v : dflt;
}

#define SETOPT(h, opt, val)                                                                        \
    do {                                                                                           \
        CURLcode c_ = curl_easy_setopt((h)->curl, opt, val);                                       \
        if (c_ != CURLE_OK) {                                                                      \
            rc = eqops__err(err, curl_code(c_), "http: setting %s: %s", #opt,                      \
                            curl_easy_strerror(c_));                                               \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

static int set_blob(eqops_http *h, CURLoption opt, const char *what, char *data, size_t len,
                    eqops_error *err)
{
    struct curl_blob blob = {data, len, CURL_BLOB_NOCOPY};
    CURLcode c = curl_easy_setopt(h->curl, opt, &blob);
    if (c == CURLE_OK)
        return 0;
    return eqops__err(err, curl_code(c), "http: %s: %s", what, curl_easy_strerror(c));
}

static int validate_options(const eqops_http_options *o, eqops_error *err)
{
    if ((o->cert_pem == NULL) != (o->key_pem == NULL))
        return eqops__err_field(err, EQOPS_EINVAL, o->cert_pem ? "key_pem" : "cert_pem",
                                "a client certificate needs both a certificate and a key");
    if (o->connect_timeout_ms < 0 || o->timeout_ms < 0 || o->low_speed_time_s < 0)
        return eqops__err_field(err, EQOPS_EINVAL, "timeout", "must not be negative");
    if (o->max_retries < -1 || o->max_retries > 20)
        return eqops__err_field(err, EQOPS_EINVAL, "max_retries", "must be -1..20");
    if (o->backoff_base_ms < 0 || o->backoff_cap_ms < 0 || o->retry_after_cap_ms < 0)
        return eqops__err_field(err, EQOPS_EINVAL, "backoff", "must not be negative");
    if (!(o->qps == 0 || (o->qps >= 0.01 && o->qps <= 1e6)) || o->burst < 0)
        return eqops__err_field(err, EQOPS_EINVAL, "qps",
                                "must be 0 (unlimited) or between 0.01 and 1e6");
    return 0;
}

int eqops__http_new(eqops_http **out, const eqops_http_options *opts, eqops_error *err)
{
    static const eqops_http_options defaults = EQOPS_HTTP_OPTIONS_INIT;
    const eqops_http_options *o = opts ? opts : &defaults;
    int rc = 0;
    *out = NULL;
    if ((rc = validate_options(o, err)) != 0)
        return rc;
    eqops_http *h = eqops__calloc(1, sizeof(*h));
    if (h == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "http: out of memory");
    h->curl = curl_easy_init();
    if (h->curl == NULL) {
        rc = eqops__err(err, EQOPS_ENOMEM, "http: cannot create a libcurl handle");
        goto fail;
    }
    h->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    h->low_speed_time_s = o->low_speed_time_s;
    h->max_retries =
        o->max_retries < 0 ? 0 : (o->max_retries ? o->max_retries : DEFAULT_MAX_RETRIES);
    h->backoff_base_ms = pick(o->backoff_base_ms, DEFAULT_BACKOFF_BASE_MS);
    h->backoff_cap_ms = pick(o->backoff_cap_ms, DEFAULT_BACKOFF_CAP_MS);
    h->retry_after_cap_ms = pick(o->retry_after_cap_ms, DEFAULT_RETRY_AFTER_CAP_MS);
    h->max_response_bytes = o->max_response_bytes ? o->max_response_bytes : DEFAULT_MAX_RESPONSE;
    h->qps = o->qps;
    h->burst = o->burst > 0 ? o->burst : (o->qps > 1 ? o->qps : 1);
    h->tokens = h->burst;
    h->tokens_at_ms = eqops__mono_ms();
    h->cancel = o->cancel;

    SETOPT(h, CURLOPT_ERRORBUFFER, h->errbuf);
    SETOPT(h, CURLOPT_NOSIGNAL, 1L);
    SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, pick(o->connect_timeout_ms, DEFAULT_CONNECT_TIMEOUT_MS));
    SETOPT(h, CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(h, CURLOPT_TCP_KEEPIDLE, 30L);
    SETOPT(h, CURLOPT_TCP_KEEPINTVL, 15L);
    SETOPT(h, CURLOPT_ACCEPT_ENCODING, "");
    SETOPT(h, CURLOPT_HTTP_VERSION,
           o->disable_http2 ? (long)CURL_HTTP_VERSION_1_1 : (long)CURL_HTTP_VERSION_2TLS);
    SETOPT(h, CURLOPT_PIPEWAIT, 1L);
    /* No TLS session-ID cache: libcurl 7.88 (Debian 12) frees a cache entry twice when an
     * allocation fails while adding to it. Connections are kept alive and reused, so session
     * resumption would only save a handshake after a connection drops. */
    SETOPT(h, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    SETOPT(h, CURLOPT_PROXY, o->proxy ? o->proxy : "");
    SETOPT(h, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : "libeqops/" EQOPS_VERSION_STRING);

    if (o->insecure_skip_tls_verify) {
        eqops__log(EQOPS_LOG_WARN, "net",
                   "TLS verification is OFF for this client (insecure_skip_tls_verify): anyone "
                   "on the path can read and change its traffic");
        SETOPT(h, CURLOPT_SSL_VERIFYPEER, 0L);
        SETOPT(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
        SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    if (o->ca_pem != NULL) {
        size_t len = o->ca_pem_len ? o->ca_pem_len : strlen(o->ca_pem);
        if ((h->ca_pem = dup_secret(o->ca_pem, len)) == NULL) {
            rc = eqops__err(err, EQOPS_ENOMEM, "http: out of memory");
            goto fail;
        }
        h->ca_pem_len = len;
    } else if (o->ca_file != NULL) {
        /* read by the library's reader, not by libcurl: OpenSSL's fopen() would wait forever
         * on a FIFO named as the bundle (AWS_CA_BUNDLE, a report's ca_file) */
        rc = eqops__read_file(&h->ca_pem, &h->ca_pem_len, o->ca_file, CA_FILE_MAX, err);
        if (rc != 0) {
            eqops__err_prefix(err, "http: CA bundle ");
            goto fail;
        }
    }
    if (h->ca_pem != NULL) { /* trusted instead of the system's store */
        if ((rc =
                 set_blob(h, CURLOPT_CAINFO_BLOB, "CA certificate", h->ca_pem, h->ca_pem_len, err)))
            goto fail;
        SETOPT(h, CURLOPT_CAPATH, (char *)NULL);
    }
    if (o->cert_pem != NULL) {
        h->cert_pem_len = o->cert_pem_len ? o->cert_pem_len : strlen(o->cert_pem);
        h->key_pem_len = o->key_pem_len ? o->key_pem_len : strlen(o->key_pem);
        h->cert_pem = dup_secret(o->cert_pem, h->cert_pem_len);
        h->key_pem = dup_secret(o->key_pem, h->key_pem_len);
        if (h->cert_pem == NULL || h->key_pem == NULL) {
            rc = eqops__err(err, EQOPS_ENOMEM, "http: out of memory");
            goto fail;
        }
        SETOPT(h, CURLOPT_SSLCERTTYPE, "PEM");
        SETOPT(h, CURLOPT_SSLKEYTYPE, "PEM");
        if ((rc = set_blob(h, CURLOPT_SSLCERT_BLOB, "client certificate", h->cert_pem,
                           h->cert_pem_len, err)) ||
            (rc = set_blob(h, CURLOPT_SSLKEY_BLOB, "client key", h->key_pem, h->key_pem_len, err)))
            goto fail;
    }
    if (o->tls_server_name != NULL &&
        (h->tls_server_name = eqops__strdup(o->tls_server_name)) == NULL) {
        rc = eqops__err(err, EQOPS_ENOMEM, "http: out of memory");
        goto fail;
    }
    *out = h;
    return 0;
fail:
    eqops__http_free(h);
    return rc;
}

/* ---- response collection ---------------------------------------------------------------- */

static void headers_free(eqops_http_response *resp)
{
    for (size_t i = 0; i < resp->nheaders; i++) {
        eqops__free(resp->headers[i].name);
        eqops__free(resp->headers[i].value);
    }
    eqops__free(resp->headers);
    resp->headers = NULL;
    resp->nheaders = 0;
}

void eqops__http_response_clear(eqops_http_response *resp)
{
    if (resp == NULL)
        return;
    eqops__buf_free(&resp->body);
    headers_free(resp);
    *resp = (eqops_http_response)EQOPS_HTTP_RESPONSE_INIT;
}

const char *eqops__http_header(const eqops_http_response *resp, const char *name)
{
    for (size_t i = resp->nheaders; i > 0; i--)
        if (strcasecmp(resp->headers[i - 1].name, name) == 0)
            return resp->headers[i - 1].value;
    return NULL;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
    struct transfer *t = userp;
    size_t len = size * n;
    eqops_http_response *resp = t->resp;
    t->header_bytes += len;
    if (t->header_bytes > MAX_HEADER_BYTES) {
        t->bad_headers = true;
        return 0;
    }
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        headers_free(resp); /* a new response (after 100 Continue, or a retry) */
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (colon == NULL)
        return len; /* blank line ending the block */
    if (resp->nheaders >= MAX_HEADERS) {
        t->bad_headers = true;
        return 0;
    }
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1;
    const char *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    eqops_http_header *hs =
        eqops__realloc(resp->headers, (resp->nheaders + 1) * sizeof(*resp->headers));
    if (hs == NULL)
        goto oom;
    resp->headers = hs;
    char *name = eqops__strndup(data, nlen);
    char *value = eqops__strndup(v, (size_t)(end - v));
    if (name == NULL || value == NULL) {
        eqops__free(name);
        eqops__free(value);
        goto oom;
    }
    hs[resp->nheaders].name = name;
    hs[resp->nheaders].value = value;
    resp->nheaders++;
    return len;
oom:
    t->header_oom = true;
    return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    struct transfer *t = userp;
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(t->h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (t->req->on_data != NULL && status >= 200 && status < 300) {
        int rc = t->req->on_data(data, len, t->req->payload);
        if (rc != 0) {
            t->callback_rc = rc;
            return 0;
        }
        t->streamed += len;
        return len;
    }
    if (len > t->limit - t->received) {
        t->too_big = true;
        return 0;
    }
    t->received += len;
    if (eqops__buf_put(&t->resp->body, data, len) != 0)
        return 0;
    return len;
}

/* ---- request ----------------------------------------------------------------------------- */

static bool header_line_ok(const char *s)
{
    const char *colon = strchr(s, ':');
    if (colon == NULL || colon == s)
        return false;
    for (const char *p = s; p < colon; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *p)))
            return false;
    for (const char *p = colon; *p; p++)
        if (*p == '\r' || *p == '\n' || *p == '\0')
            return false;
    return true;
}

static bool method_ok(const char *m)
{
    static const char *const ok[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < EQOPS__ARRAY_LEN(ok); i++)
        if (strcmp(m, ok[i]) == 0)
            return true;
    return false;
}

const eqops_cancel *eqops__http_set_cancel(eqops_http *h, const eqops_cancel *cancel)
{
    const eqops_cancel *old = h->cancel;
    h->cancel = cancel;
    return old;
}

/* libcurl's progress callback: it runs while data moves and, about once a second, while the
 * connection is idle. Non-zero aborts the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct transfer *t = userp;
    if (eqops_cancel_triggered(t->cancel))
        t->cancelled = true;
    return t->cancelled;
}

/* Wait for the rate limit's next token: 0, or EQOPS_ECANCELED. */
static int rate_limit_wait(eqops_http *h, const eqops_cancel *cancel)
{
    if (h->qps <= 0)
        return 0;
    int64_t now = eqops__mono_ms();
    h->tokens += (double)(now - h->tokens_at_ms) * h->qps / 1000.0;
    if (h->tokens > h->burst)
        h->tokens = h->burst;
    h->tokens_at_ms = now;
    if (h->tokens < 1.0) {
        int64_t wait = (int64_t)ceil((1.0 - h->tokens) * 1000.0 / h->qps);
        if (eqops__sleep_cancel(cancel, wait) != 0)
            return EQOPS_ECANCELED; /* the token was not spent */
        h->tokens_at_ms += wait;
        h->tokens = 1.0;
    }
    h->tokens -= 1.0;
    return 0;
}

/* The URL to ask for, and CURLOPT_CONNECT_TO when a TLS server name is set. */
static int target_url(eqops_http *h, const char *url, char **out_url, struct curl_slist **connect,
                      eqops_error *err)
{
    *out_url = NULL;
    *connect = NULL;
    if (h->tls_server_name == NULL)
        return 0;
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    int rc = 0;
    if (u == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "http: out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        rc = eqops__err(err, EQOPS_EINVAL, "http: url: not a valid URL");
        goto done;
    }
    eqops_buf line = EQOPS_BUF_INIT;
    eqops__buf_printf(&line, "%s:%s:%s:%s", h->tls_server_name, port, host, port);
    if (eqops__buf_ok(&line) != 0 ||
        curl_url_set(u, CURLUPART_HOST, h->tls_server_name, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, out_url, 0) != CURLUE_OK ||
        (*connect = curl_slist_append(NULL, eqops__buf_cstr(&line))) == NULL) {
        rc = eqops__err(err, EQOPS_EINVAL, "tls_server_name: cannot be used with this URL");
        curl_free(*out_url);
        *out_url = NULL;
    }
    eqops__buf_free(&line);
done:
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static int prepare(eqops_http *h, const eqops_http_request *req, struct curl_slist **hdrs,
                   eqops_error *err)
{
    int rc = 0;
    *hdrs = NULL;
    const char *m = req->method ? req->method : "GET";
    bool has_body = req->body != NULL || req->body_len > 0;
    /* reset what the previous request may have set */
    SETOPT(h, CURLOPT_NOBODY, 0L);
    SETOPT(h, CURLOPT_HTTPGET, 1L);
    SETOPT(h, CURLOPT_CUSTOMREQUEST, (char *)NULL);
    if (strcmp(m, "HEAD") == 0) {
        SETOPT(h, CURLOPT_NOBODY, 1L);
    } else if (has_body || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
               strcmp(m, "PATCH") == 0) {
        SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SETOPT(h, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        if (strcmp(m, "POST") != 0)
            SETOPT(h, CURLOPT_CUSTOMREQUEST, m);
    } else if (strcmp(m, "GET") != 0) {
        SETOPT(h, CURLOPT_CUSTOMREQUEST, m);
    }
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    if (list == NULL)
        goto oom;
    for (const char *const *p = req->headers; p && *p; p++) {
        struct curl_slist *n = curl_slist_append(list, *p);
        if (n == NULL)
            goto oom;
        list = n;
    }
    *hdrs = list;
    SETOPT(h, CURLOPT_HTTPHEADER, list);
    long low = req->low_speed_time_s > 0 ? req->low_speed_time_s
                                         : (req->low_speed_time_s < 0 ? 0 : h->low_speed_time_s);
    SETOPT(h, CURLOPT_LOW_SPEED_LIMIT, low > 0 ? 1L : 0L);
    SETOPT(h, CURLOPT_LOW_SPEED_TIME, low);
    SETOPT(h, CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(h, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    SETOPT(h, CURLOPT_NOPROGRESS, 0L);
    return 0;
oom:
    curl_slist_free_all(list);
    *hdrs = NULL;
    return eqops__err(err, EQOPS_ENOMEM, "http: out of memory");
fail:
    return rc;
}

static int check_request(const eqops_http_request *req, eqops_error *err)
{
    if (req == NULL || req->url == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "url", "missing");
    if (req->body == NULL && req->body_len > 0)
        return eqops__err_field(err, EQOPS_EINVAL, "body", "NULL with a length of %zu",
                                req->body_len);
    if (req->method != NULL && !method_ok(req->method))
        return eqops__err_field(err, EQOPS_EINVAL, "method", "'%.16s' is not supported",
                                req->method);
    for (const char *const *p = req->headers; p && *p; p++)
        if (!header_line_ok(*p))
            return eqops__err_field(err, EQOPS_EINVAL, "headers",
                                    "each header must be 'Name: value' without CR or LF");
    if (strncmp(req->url, "https://", 8) != 0 && strncmp(req->url, "http://", 7) != 0)
        return eqops__err_field(err, EQOPS_EINVAL, "url", "must start with https:// or http://");
    return 0;
}

int eqops__http_status_error(const eqops_http_response *resp, const char *what, eqops_error *err)
{
    int code = eqops__http_status_code(resp->status);
    if (code == 0)
        code = EQOPS_EPROTO;
    eqops__err(err, code, "%s: HTTP %ld", what, resp->status);
    eqops__err_upstream(err, (int)resp->status, NULL, resp->retry_after);
    eqops__err_body(err, eqops__buf_cstr(&resp->body), resp->body.len);
    return code;
}

static int fail_transfer(eqops_http *h, const struct transfer *t, CURLcode c, const char *method,
                         const char *safe_url, long timeout_ms, eqops_error *err)
{
    if (t->cancelled)
        return eqops__err(err, EQOPS_ECANCELED, "%s %s: cancelled", method, safe_url);
    if (t->callback_rc != 0) {
        eqops__err(err, EQOPS_ECANCELED, "%s %s: stopped by the body callback", method, safe_url);
        return t->callback_rc;
    }
    if (t->too_big || c == CURLE_FILESIZE_EXCEEDED)
        return eqops__err(err, EQOPS_ETOOBIG, "%s %s: response body larger than %zu bytes", method,
                          safe_url, t->limit);
    if (t->header_oom || t->resp->body.oom || c == CURLE_OUT_OF_MEMORY)
        return eqops__err(err, EQOPS_ENOMEM, "%s %s: out of memory", method, safe_url);
    if (t->bad_headers)
        return eqops__err(err, EQOPS_EPROTO, "%s %s: response headers too large", method, safe_url);
    if (c == CURLE_OPERATION_TIMEDOUT)
        return eqops__err(err, EQOPS_ETIMEOUT, "%s %s: timed out (%s; limit %ld ms)", method,
                          safe_url, h->errbuf[0] ? h->errbuf : curl_easy_strerror(c), timeout_ms);
    /* a server that resets the connection during the handshake (one shutting down or not yet
     * serving) is unreachable, not a TLS failure: callers that reconnect must try again */
    long os_errno = 0;
    curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &os_errno);
    if (c == CURLE_SSL_CONNECT_ERROR &&
        (os_errno == ECONNRESET || os_errno == EPIPE || os_errno == ECONNABORTED))
        return eqops__err(err, EQOPS_EUNAVAILABLE,
                          "%s %s: connection reset during the TLS "
                          "handshake (%s)",
                          method, safe_url, h->errbuf[0] ? h->errbuf : curl_easy_strerror(c));
    if (c == CURLE_RECV_ERROR && strstr(h->errbuf, " alert ") != NULL) /* a client cert, say */
        return eqops__err(err, EQOPS_ETLS, "%s %s: the server refused the TLS session (%s)", method,
                          safe_url, h->errbuf);
    return eqops__err(err, curl_code(c), "%s %s: %s", method, safe_url,
                      h->errbuf[0] ? h->errbuf : curl_easy_strerror(c));
}

int eqops__http_do(eqops_http *h, const eqops_http_request *req, eqops_http_response *resp,
                   eqops_error *err)
{
    int rc;
    bool by_token = false; /* the token stopped the request */
    eqops__http_response_clear(resp);
    if ((rc = check_request(req, err)) != 0)
        return rc;
    const char *method = req->method ? req->method : "GET";
    bool retryable = req->retry == EQOPS_HTTP_RETRY_ALWAYS ||
                     (req->retry == EQOPS_HTTP_RETRY_AUTO && method_idempotent(method));
    eqops_buf safe_url = EQOPS_BUF_INIT;
    struct curl_slist *hdrs = NULL, *connect_to = NULL;
    char *url = NULL;
    if (eqops__redact_url(req->url, &safe_url) != 0) {
        rc = eqops__err(err, EQOPS_ENOMEM, "http: out of memory");
        goto done;
    }
    if ((rc = target_url(h, req->url, &url, &connect_to, err)) != 0 ||
        (rc = prepare(h, req, &hdrs, err)) != 0)
        goto done;
    CURLcode c = curl_easy_setopt(h->curl, CURLOPT_URL, url ? url : req->url);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h->curl, CURLOPT_CONNECT_TO, connect_to);
    if (c != CURLE_OK) {
        rc = eqops__err(err, curl_code(c), "%s %s: %s", method, eqops__buf_cstr(&safe_url),
                        curl_easy_strerror(c));
        goto done;
    }
    /* one deadline for the whole request, retries and their waits included */
    long timeout_ms =
        req->timeout_ms > 0 ? req->timeout_ms : (req->timeout_ms < 0 ? 0 : h->timeout_ms);
    int64_t deadline = timeout_ms > 0 ? eqops__mono_ms() + timeout_ms : 0;
    size_t limit = req->max_response_bytes ? req->max_response_bytes : h->max_response_bytes;
    curl_off_t max_file = limit > (size_t)INT64_MAX ? (curl_off_t)INT64_MAX : (curl_off_t)limit;
    c = curl_easy_setopt(h->curl, CURLOPT_MAXFILESIZE_LARGE, req->on_data ? 0 : max_file);
    if (c != CURLE_OK) {
        rc = eqops__err(err, curl_code(c), "%s %s: %s", method, eqops__buf_cstr(&safe_url),
                        curl_easy_strerror(c));
        goto done;
    }

    /* retries: the handle's policy, within the request's deadline, cut short by the token */
    const eqops_cancel *cancel = req->cancel ? req->cancel : h->cancel;
    eqops__backoff policy = {h->backoff_base_ms,
                             h->backoff_cap_ms,
                             h->retry_after_cap_ms,
                             retryable ? h->max_retries : 0,
                             deadline,
                             cancel};
    /* the failure of the attempt before (kept while waiting to retry): when the deadline comes
     * before the retry can start, it is the answer, not a bare "timed out" */
    eqops_error prev = EQOPS_ERROR_INIT;
    int prev_rc = 0;
    for (int attempt = 1;; attempt++) {
        struct transfer t = {h, req, resp, limit, 0, 0, 0, false, false, false, 0, cancel, false};
        if (eqops_cancel_triggered(cancel) || rate_limit_wait(h, cancel) != 0) {
            by_token = true;
            rc = eqops__err(err, EQOPS_ECANCELED, "%s %s: cancelled", method,
                            eqops__buf_cstr(&safe_url));
            break;
        }
        int64_t started = eqops__mono_ms();
        if (deadline && started >= deadline) {
            if (attempt > 1) { /* the last answer: a failure, or a retryable status (kept) */
                rc = prev_rc;
                if (rc != 0)
                    eqops__err_move(err, &prev);
            } else {
                rc = eqops__err(err, EQOPS_ETIMEOUT, "%s %s: timed out (limit %ld ms)", method,
                                eqops__buf_cstr(&safe_url), timeout_ms);
            }
            break;
        }
        eqops__buf_free(&resp->body);
        headers_free(resp);
        curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, &t);
        curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(h->curl, CURLOPT_XFERINFODATA, &t);
        h->errbuf[0] = '\0';
        curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, deadline ? (long)(deadline - started) : 0L);
        c = curl_easy_perform(h->curl);
        int64_t took = eqops__mono_ms() - started;
        resp->attempts = attempt;
        curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &resp->new_connections);
        int64_t wait = 0;
        if (c != CURLE_OK) {
            if (t.streamed == 0 && curl_transient(c, resp->new_connections == 0) &&
                t.callback_rc == 0 && !t.cancelled &&
                eqops__backoff_next(&policy, attempt, 0, &wait)) {
                eqops__log(EQOPS_LOG_WARN, "net", "%s %s: %s; retry %d of %d in %lld ms", method,
                           eqops__buf_cstr(&safe_url),
                           h->errbuf[0] ? h->errbuf : curl_easy_strerror(c), attempt,
                           h->max_retries, (long long)wait);
                eqops_error_clear(&prev);
                prev_rc =
                    fail_transfer(h, &t, c, method, eqops__buf_cstr(&safe_url), timeout_ms, &prev);
                if (eqops__backoff_wait(&policy, wait) == 0)
                    continue;
                t.cancelled = true;
            }
            by_token = t.cancelled;
            rc = fail_transfer(h, &t, c, method, eqops__buf_cstr(&safe_url), timeout_ms, err);
            eqops__log(EQOPS_LOG_DEBUG, "net", "%s %s: failed after %lld ms: %s", method,
                       eqops__buf_cstr(&safe_url), (long long)took,
                       err ? err->message : eqops_strerror(rc));
            break;
        }
        long http_version = 0;
        curl_off_t retry_after = 0;
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
        curl_easy_getinfo(h->curl, CURLINFO_HTTP_VERSION, &http_version);
        curl_easy_getinfo(h->curl, CURLINFO_RETRY_AFTER, &retry_after);
        resp->http_version = http_version == CURL_HTTP_VERSION_2_0 ? 20 : 11;
        resp->retry_after = retry_after > 0 ? (double)retry_after : 0.0;
        eqops__log(EQOPS_LOG_DEBUG, "net", "%s %s -> %ld in %lld ms (attempt %d, HTTP/%s, %s)",
                   method, eqops__buf_cstr(&safe_url), resp->status, (long long)took, attempt,
                   resp->http_version == 20 ? "2" : "1.1",
                   resp->new_connections ? "new connection" : "reused connection");
        if (t.streamed == 0 && status_retryable(resp->status) &&
            eqops__backoff_next(&policy, attempt, resp->retry_after, &wait)) {
            eqops__log(EQOPS_LOG_WARN, "net", "%s %s: HTTP %ld; retry %d of %d in %lld ms%s",
                       method, eqops__buf_cstr(&safe_url), resp->status, attempt, h->max_retries,
                       (long long)wait, resp->retry_after > 0 ? " (Retry-After)" : "");
            eqops_error_clear(&prev);
            prev_rc = 0;
            if (eqops__backoff_wait(&policy, wait) == 0)
                continue;
            by_token = true;
            rc = eqops__err(err, EQOPS_ECANCELED, "%s %s: cancelled", method,
                            eqops__buf_cstr(&safe_url));
            break;
        }
        rc = 0;
        break;
    }
    eqops_error_clear(&prev);
done:
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    curl_easy_setopt(h->curl, CURLOPT_CONNECT_TO, (struct curl_slist *)NULL);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, (char *)NULL);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(connect_to);
    curl_free(url);
    eqops__buf_free(&safe_url);
    /* a body callback's stop keeps what was read; everything else clears the answer */
    if (rc != 0 && (rc != EQOPS_ECANCELED || by_token))
        eqops__http_response_clear(resp);
    return rc;
}
