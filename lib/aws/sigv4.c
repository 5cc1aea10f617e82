/*
 * sigv4.c - AWS Signature Version 4: canonical request, string to sign, signature, in header
 * or query (presigned URL) mode, with a signing key cached per day in the signer.
 *
 * The crypto is OpenSSL's: SHA-256 through a reused EVP_MD_CTX and HMAC through EVP_MAC
 * contexts keyed once per day and re-initialised per request, so a signature costs the two
 * SHA-256 of the request and one HMAC.
 */
#include "aws_internal.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- OpenSSL algorithms, fetched once ----------------------------------------------------- */

static EVP_MAC *hmac_alg;
static EVP_MD *sha256_alg;
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;

static void algs_fetch(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    sha256_alg = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int algs_ready(void)
{
    pthread_once(&algs_once, algs_fetch);
    return hmac_alg && sha256_alg ? 0 : EQOPS_EINTERNAL;
}

static EVP_MAC_CTX *hmac_new(const unsigned char *key, size_t key_len)
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac_alg);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (ctx == NULL || EVP_MAC_init(ctx, key, key_len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* One HMAC-SHA256 with a fresh key (key derivation). */
static int hmac_once(const unsigned char *key, size_t key_len, const char *data, size_t len,
                     unsigned char out[32])
{
    EVP_MAC_CTX *ctx = hmac_new(key, key_len);
    size_t n = 0;
    int ok = ctx && EVP_MAC_update(ctx, (const unsigned char *)data, len) == 1 &&
             EVP_MAC_final(ctx, out, &n, 32) == 1 && n == 32;
    EVP_MAC_CTX_free(ctx);
    return ok ? 0 : EQOPS_EINTERNAL;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- credentials ------------------------------------------------------------------------- */

int eqops__aws_credentials_make(eqops_aws_credentials **out, const char *akid, const char *secret,
                                const char *token, int64_t expiration_ms, const char *source)
{
    *out = NULL;
    eqops_aws_credentials *c = eqops__calloc(1, sizeof(*c));
    if (c == NULL)
        return EQOPS_ENOMEM;
    c->akid = eqops__strdup(akid);
    c->secret = eqops__strdup(secret);
    c->token = token && *token ? eqops__strdup(token) : NULL;
    c->expiration_ms = expiration_ms;
    snprintf(c->source, sizeof(c->source), "%s", source ? source : "static");
    if (!c->akid || !c->secret || (token && *token && !c->token)) {
        eqops_aws_credentials_free(c);
        return EQOPS_ENOMEM;
    }
    *out = c;
    return 0;
}

int eqops_aws_credentials_new(eqops_aws_credentials **out, const char *access_key_id,
                              const char *secret_access_key, const char *session_token,
                              int64_t expiration_ms, eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out = NULL;
    if (access_key_id == NULL || *access_key_id == '\0' || strlen(access_key_id) > 128)
        return eqops__err_field(err, EQOPS_EINVAL, "access_key_id", "must be 1 to 128 characters");
    if (secret_access_key == NULL || *secret_access_key == '\0' || strlen(secret_access_key) > 256)
        return eqops__err_field(err, EQOPS_EINVAL, "secret_access_key",
                                "must be 1 to 256 characters");
    if (expiration_ms < 0)
        return eqops__err_field(err, EQOPS_EINVAL, "expiration_ms", "must be >= 0");
    if (eqops__aws_credentials_make(out, access_key_id, secret_access_key, session_token,
                                    expiration_ms, "static") != 0)
        return eqops__err(err, EQOPS_ENOMEM, "credentials: out of memory");
    return 0;
}

eqops_aws_credentials *eqops__aws_credentials_copy(const eqops_aws_credentials *c)
{
    eqops_aws_credentials *copy = NULL;
    if (c)
        eqops__aws_credentials_make(&copy, c->akid, c->secret, c->token, c->expiration_ms,
                                    c->source);
    return copy;
}

const char *eqops_aws_credentials_access_key_id(const eqops_aws_credentials *c)
{
    return c ? c->akid : NULL;
}

const char *eqops_aws_credentials_secret_access_key(const eqops_aws_credentials *c)
{
    return c ? c->secret : NULL;
}

const char *eqops_aws_credentials_session_token(const eqops_aws_credentials *c)
{
    return c ? c->token : NULL;
}

int64_t eqops_aws_credentials_expiration(const eqops_aws_credentials *c)
{
    return c ? c->expiration_ms : 0;
}

const char *eqops_aws_credentials_source(const eqops_aws_credentials *c)
{
    return c ? c->source : NULL;
}

void eqops_aws_credentials_free(eqops_aws_credentials *c)
{
    if (c == NULL)
        return;
    eqops__free(c->akid);
    eqops__secret_free(c->secret);
    eqops__secret_free(c->token);
    eqops__free(c);
}

/* ---- the signer ------------------------------------------------------------------------------ */

typedef struct sv_header {
    char name[256];    /* lowercased; longer names are refused */
    const char *value; /* into the caller's string */
    size_t value_len;
    size_t order; /* input position: duplicates keep their order */
} sv_header;

typedef struct sv_param {
    size_t key, key_len, value, value_len; /* offsets into the params buffer (encoded) */
} sv_param;

#define SV_OUT_MAX 4

struct eqops_aws_signer {
    eqops_aws_credentials *creds;
    char *region, *service;
    bool presign, s3, normalize, sign_body, unsigned_payload, omit_token;
    int64_t expires_s;
    char expires[24];        /* expires_s as text */
    char **unsigned_headers; /* lowercased, NULL-terminated */
    /* the signing key of key_date, in a keyed HMAC context */
    char key_date[9];
    EVP_MAC_CTX *key_ctx;
    EVP_MD_CTX *md;
    /* scratch reused between signatures */
    sv_header *headers;
    size_t nheaders, cap_headers;
    sv_param *params;
    size_t nparams, cap_params;
    eqops_buf pbuf;  /* encoded query keys and values */
    eqops_buf canon; /* canonical request */
    eqops_buf sts;   /* string to sign */
    eqops_buf url;   /* the URL to send */
    eqops_buf path;  /* normalised path */
    eqops_buf signed_names;
    eqops_buf out_values[SV_OUT_MAX];
    const char *out_names[SV_OUT_MAX];
    size_t nout;
    char signature[65];
    char amz_date[17];
    int64_t stamp_day; /* the day (since the epoch) whose YYYYMMDD is in stamp_date */
    char stamp_date[9];
    char host[256]; /* the Host header taken from the URL, lowercased */
};

static bool in_list(char *const *list, const char *name)
{
    for (size_t i = 0; list && list[i]; i++)
        if (!strcmp(list[i], name))
            return true;
    return false;
}

void eqops_aws_signer_free(eqops_aws_signer *s)
{
    if (s == NULL)
        return;
    eqops_aws_credentials_free(s->creds);
    eqops__free(s->region);
    eqops__free(s->service);
    for (size_t i = 0; s->unsigned_headers && s->unsigned_headers[i]; i++)
        eqops__free(s->unsigned_headers[i]);
    eqops__free(s->unsigned_headers);
    EVP_MAC_CTX_free(s->key_ctx);
    EVP_MD_CTX_free(s->md);
    eqops__free(s->headers);
    eqops__free(s->params);
    eqops__buf_free(&s->pbuf);
    eqops__buf_free(&s->canon);
    eqops__buf_free(&s->sts);
    eqops__buf_wipe(&s->url); /* a presigned URL may carry the session token */
    eqops__buf_free(&s->path);
    eqops__buf_free(&s->signed_names);
    for (size_t i = 0; i < SV_OUT_MAX; i++)
        eqops__buf_wipe(&s->out_values[i]);
    eqops__free(s);
}

static bool name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

static const size_t sign_options_sizes[] = {sizeof(eqops_aws_sign_options)};

EQOPS__OPTS_INIT_FN(eqops_aws_sign_options_init, eqops_aws_sign_options, sign_options_sizes)

int eqops_aws_signer_new(eqops_aws_signer **out, const eqops_aws_credentials *creds,
                         const eqops_aws_sign_options *in, eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out = NULL;
    if (creds == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "creds", "must not be NULL");
    eqops_aws_sign_options oc;
    int rc = EQOPS__OPTS_READ(&oc, in, sign_options_sizes, "aws sign options", err);
    if (rc != 0)
        return rc;
    const eqops_aws_sign_options *opts = &oc;
    if (opts->region == NULL || !name_ok(opts->region, 64))
        return eqops__err_field(err, EQOPS_EINVAL, "opts.region",
                                "must be a region name (lowercase letters, digits, '-')");
    if (opts->service == NULL || !name_ok(opts->service, 64))
        return eqops__err_field(err, EQOPS_EINVAL, "opts.service",
                                "must be a signing name (lowercase letters, digits, '-')");
    int64_t expires = opts->expires_s ? opts->expires_s : 3600;
    if (opts->presign && (expires < 1 || expires > 604800))
        return eqops__err_field(err, EQOPS_EINVAL, "opts.expires_s",
                                "must be 1 to 604800 seconds (7 days)");
    if (algs_ready() != 0)
        return eqops__err(err, EQOPS_EINTERNAL, "OpenSSL has no HMAC or SHA-256");
    eqops_aws_signer *s = eqops__calloc(1, sizeof(*s));
    if (s == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "signer: out of memory");
    s->creds = eqops__aws_credentials_copy(creds);
    s->region = eqops__strdup(opts->region);
    s->service = eqops__strdup(opts->service);
    s->md = EVP_MD_CTX_new();
    s->presign = opts->presign != 0;
    s->s3 = opts->s3 != 0;
    s->normalize = !opts->no_normalize && !opts->s3;
    s->sign_body = opts->sign_body || opts->s3;
    s->unsigned_payload = opts->unsigned_payload || (opts->s3 && opts->presign);
    s->omit_token = opts->omit_session_token != 0;
    s->expires_s = expires;
    s->stamp_day = -1;
    snprintf(s->expires, sizeof(s->expires), "%lld", (long long)expires);
    size_t n = 0;
    while (opts->unsigned_headers && opts->unsigned_headers[n])
        n++;
    s->unsigned_headers = eqops__calloc(n + 1, sizeof(char *));
    bool ok = s->creds && s->region && s->service && s->md && s->unsigned_headers;
    for (size_t i = 0; ok && i < n; i++) {
        s->unsigned_headers[i] = eqops__strdup(opts->unsigned_headers[i]);
        ok = s->unsigned_headers[i] != NULL;
        for (char *p = ok ? s->unsigned_headers[i] : NULL; p && *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    }
    if (!ok) {
        eqops_aws_signer_free(s);
        return eqops__err(err, EQOPS_ENOMEM, "signer: out of memory");
    }
    *out = s;
    return 0;
}

/* ---- encoding ----------------------------------------------------------------------------- */

/* A-Z a-z 0-9 - _ . ~ as bit sets: characters 0-63 and 64-127 */
#define UNRESERVED_LO 0x03ff600000000000ULL /* - . 0-9 */
#define UNRESERVED_HI 0x47fffffe87fffffeULL /* A-Z _ a-z ~ */

static bool unreserved(unsigned char c)
{
    return c < 64 ? (UNRESERVED_LO >> c) & 1 : c < 128 ? (UNRESERVED_HI >> (c - 64)) & 1 : false;
}

void eqops__aws_uri_encode(eqops_buf *b, const char *s, size_t n, bool keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    if (eqops__buf_reserve(b, n * 3) != 0)
        return;
    char *o = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = digits[c >> 4];
            *o++ = digits[c & 15];
        }
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decode %XX (a '%' not followed by two hex digits stays as it is), then encode strictly. */
static void requery(eqops_buf *b, const char *s, size_t n)
{
    if (eqops__buf_reserve(b, n * 3) != 0)
        return;
    char tmp[256];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        while (i < n && k < sizeof(tmp)) {
            int hi, lo;
            if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
                (lo = hexval(s[i + 2])) >= 0) {
                tmp[k++] = (char)(hi * 16 + lo);
                i += 3;
            } else {
                tmp[k++] = s[i++];
            }
        }
        eqops__aws_uri_encode(b, tmp, k, false);
    }
}

/* ---- the parts of a request ----------------------------------------------------------------- */

typedef struct sv_url {
    const char *scheme, *authority, *path, *query;
    size_t scheme_len, authority_len, path_len, query_len;
    bool has_query;
} sv_url;

static int parse_url(const char *url, sv_url *u, eqops_error *err)
{
    memset(u, 0, sizeof(*u));
    const char *p = strstr(url, "://");
    if (p == NULL || p == url)
        return eqops__err_field(err, EQOPS_EINVAL, "url", "must be scheme://host/path");
    u->scheme = url;
    u->scheme_len = (size_t)(p - url);
    u->authority = p + 3;
    const char *a = u->authority;
    while (*a && *a != '/' && *a != '?' && *a != '#')
        a++;
    u->authority_len = (size_t)(a - u->authority);
    if (u->authority_len == 0)
        return eqops__err_field(err, EQOPS_EINVAL, "url", "has no host");
    if (memchr(u->authority, '@', u->authority_len))
        return eqops__err_field(err, EQOPS_EINVAL, "url",
                                "must not carry user information (user@host)");
    u->path = a;
    while (*a && *a != '?' && *a != '#')
        a++;
    u->path_len = (size_t)(a - u->path);
    if (*a == '?') {
        u->has_query = true;
        u->query = ++a;
        while (*a && *a != '#')
            a++;
        u->query_len = (size_t)(a - u->query);
    }
    if (*a == '#')
        return eqops__err_field(err, EQOPS_EINVAL, "url", "must not have a fragment (#...)");
    for (const char *c = url; c < a; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return eqops__err_field(err, EQOPS_EINVAL, "url", "contains a control character");
    return 0;
}

/* The Host header value: the authority without a default port. */
static void host_of(const sv_url *u, const char **host, size_t *len)
{
    *host = u->authority;
    *len = u->authority_len;
    bool https = u->scheme_len == 5 && !strncmp(u->scheme, "https", 5);
    bool http = u->scheme_len == 4 && !strncmp(u->scheme, "http", 4);
    if ((https && *len > 4 && !memcmp(*host + *len - 4, ":443", 4)) ||
        (http && *len > 3 && !memcmp(*host + *len - 3, ":80", 3)))
        *len -= https ? 4 : 3;
}

/* Remove dot segments and empty segments (botocore's and aws-c-auth's normalisation). */
static void normalize_path(eqops_buf *out, const char *p, size_t n)
{
    size_t start = out->len;
    bool trailing = n > 0 && p[n - 1] == '/';
    size_t i = 0;
    while (i < n) {
        while (i < n && p[i] == '/')
            i++;
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t seg = j - i;
        if (seg == 0 || (seg == 1 && p[i] == '.')) {
            /* nothing */
        } else if (seg == 2 && p[i] == '.' && p[i + 1] == '.') {
            /* drop the last segment written */
            while (out->len > start && out->data[out->len - 1] != '/')
                out->len--;
            if (out->len > start)
                out->len--;
            if (out->data)
                out->data[out->len] = '\0';
        } else {
            eqops__buf_putc(out, '/');
            eqops__buf_put(out, p + i, seg);
        }
        i = j;
    }
    if (out->len == start || (trailing && out->data[out->len - 1] != '/'))
        eqops__buf_putc(out, '/');
}

static int cmp_headers(const void *a, const void *b)
{
    const sv_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->order < y->order ? -1 : x->order > y->order);
}

/* hop-by-hop and tracing headers, which proxies and tracers add or change (botocore's list),
 * sorted by length for never_signed_name() */
static const char *const never_signed[] = {"te",
                                           "expect",
                                           "upgrade",
                                           "baggage",
                                           "trailer",
                                           "keep-alive",
                                           "connection",
                                           "user-agent",
                                           "tracestate",
                                           "traceparent",
                                           "authorization",
                                           "x-amzn-trace-id",
                                           "transfer-encoding",
                                           "proxy-authenticate",
                                           "proxy-authorization",
                                           NULL};

/* Whether a (lowercase) header name is on the list: only names of a listed length are
 * compared, so the common headers (content-type, host, x-amz-*) cost a length check. */
static bool never_signed_name(const char *name, size_t len)
{
    static const bool listed_length[20] = {
        [2] = true,  [6] = true,  [7] = true,  [10] = true, [11] = true,
        [13] = true, [15] = true, [17] = true, [18] = true, [19] = true};
    if (len >= 20 || !listed_length[len])
        return false;
    for (size_t i = 0; never_signed[i]; i++)
        if (strlen(never_signed[i]) == len && !memcmp(never_signed[i], name, len))
            return true;
    return false;
}

static int headers_room(eqops_aws_signer *s, eqops_error *err)
{
    if (s->nheaders < s->cap_headers)
        return 0;
    size_t cap = s->cap_headers ? s->cap_headers * 2 : 16;
    sv_header *h = eqops__realloc(s->headers, cap * sizeof(*h));
    if (h == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "sign: out of memory");
    s->headers = h;
    s->cap_headers = cap;
    return 0;
}

static int add_header(eqops_aws_signer *s, const char *name, size_t name_len, const char *value,
                      size_t value_len, eqops_error *err)
{
    int rc = headers_room(s, err);
    if (rc != 0)
        return rc;
    sv_header *h = &s->headers[s->nheaders];
    if (name_len == 0 || name_len >= sizeof(h->name))
        return eqops__err_field(err, EQOPS_EINVAL, "headers",
                                "a header name must be 1 to 255 characters");
    for (size_t i = 0; i < name_len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c >= 0x7f || c == ':')
            return eqops__err_field(err, EQOPS_EINVAL, "headers",
                                    "header name with a space or control character");
        h->name[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    h->name[name_len] = '\0';
    h->value = value;
    h->value_len = value_len;
    h->order = s->nheaders;
    if (never_signed_name(h->name, name_len) ||
        (s->unsigned_headers[0] && in_list(s->unsigned_headers, h->name)))
        return 0;
    /* the signer sets these itself */
    if (name_len >= 10 && !memcmp(h->name, "x-amz-", 6) &&
        (!strcmp(h->name, "x-amz-date") || !strcmp(h->name, "x-amz-security-token") ||
         (s->sign_body && !strcmp(h->name, "x-amz-content-sha256"))))
        return 0;
    s->nheaders++;
    return 0;
}

static bool ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trim and fold whitespace runs (including line breaks of folded values) into one space. */
static void put_value(eqops_buf *b, const char *v, size_t n)
{
    if (eqops__buf_reserve(b, n) != 0)
        return;
    char *o = b->data + b->len;
    /* the common case, a value without runs, edges or line breaks to fold: one copy */
    bool plain = n == 0 || (!ws(v[0]) && !ws(v[n - 1]));
    for (size_t i = 0; plain && i < n; i++)
        plain = (unsigned char)v[i] > ' ' || (v[i] == ' ' && v[i + 1] != ' ');
    if (plain) {
        memcpy(o, v, n);
        b->len += n;
        b->data[b->len] = '\0';
        return;
    }
    size_t i = 0;
    while (i < n && ws(v[i]))
        i++;
    bool space = false;
    for (; i < n; i++) {
        char c = v[i];
        if (ws(c)) {
            space = true;
            continue;
        }
        if (space)
            *o++ = ' ';
        space = false;
        *o++ = c;
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

static int add_param(eqops_aws_signer *s, const char *k, size_t klen, const char *v, size_t vlen,
                     bool raw)
{
    if (s->nparams == s->cap_params) {
        size_t cap = s->cap_params ? s->cap_params * 2 : 16;
        sv_param *p = eqops__realloc(s->params, cap * sizeof(*p));
        if (p == NULL)
            return EQOPS_ENOMEM;
        s->params = p;
        s->cap_params = cap;
    }
    sv_param *p = &s->params[s->nparams++];
    p->key = s->pbuf.len;
    if (raw)
        eqops__aws_uri_encode(&s->pbuf, k, klen, false);
    else
        requery(&s->pbuf, k, klen);
    p->key_len = s->pbuf.len - p->key;
    p->value = s->pbuf.len;
    if (raw)
        eqops__aws_uri_encode(&s->pbuf, v, vlen, false);
    else
        requery(&s->pbuf, v, vlen);
    p->value_len = s->pbuf.len - p->value;
    return eqops__buf_ok(&s->pbuf);
}

static int cmp_params_with(const sv_param *x, const sv_param *y, const char *base)
{
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(base + x->key, base + y->key, n);
    if (c == 0 && x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    if (c)
        return c;
    n = x->value_len < y->value_len ? x->value_len : y->value_len;
    c = memcmp(base + x->value, base + y->value, n);
    if (c == 0 && x->value_len != y->value_len)
        return x->value_len < y->value_len ? -1 : 1;
    return c;
}

/* insertion sort: few parameters, and no context argument needed */
static void sort_params(sv_param *p, size_t n, const char *base)
{
    for (size_t i = 1; i < n; i++) {
        sv_param v = p[i];
        size_t j = i;
        while (j > 0 && cmp_params_with(&p[j - 1], &v, base) > 0) {
            p[j] = p[j - 1];
            j--;
        }
        p[j] = v;
    }
}

/* `n` decimal digits of v (zero-padded) at d; returns n. */
static int digits(char *d, int v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        d[i] = (char)('0' + v % 10);
    return n;
}

/* Join strings into out (NUL-terminated); the length, or 0 when they do not fit. */
static size_t join(char *out, size_t cap, const char *const *parts, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(parts[i]);
        if (len + k >= cap)
            return 0;
        memcpy(out + len, parts[i], k);
        len += k;
    }
    out[len] = '\0';
    return len;
}

static void puts_all(eqops_buf *b, const char *const *parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        eqops__buf_puts(b, parts[i]);
}

static void sha256_hex(EVP_MD_CTX *md, const void *data, size_t len, char out[65])
{
    unsigned char digest[32];
    unsigned int n = 0;
    if (EVP_DigestInit_ex2(md, sha256_alg, NULL) != 1 || EVP_DigestUpdate(md, data, len) != 1 ||
        EVP_DigestFinal_ex(md, digest, &n) != 1 || n != 32) {
        out[0] = '\0';
        return;
    }
    hex(digest, 32, out);
}

/* Derive the signing key for `date` (YYYYMMDD) into a keyed HMAC context. */
static int signing_key(eqops_aws_signer *s, const char *date, eqops_error *err)
{
    if (s->key_ctx && !strcmp(s->key_date, date))
        return 0;
    unsigned char k1[32], k2[32];
    size_t slen = strlen(s->creds->secret);
    unsigned char *seed = eqops__malloc(slen + 4);
    if (seed == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "sign: out of memory");
    memcpy(seed, "AWS4", 4);
    memcpy(seed + 4, s->creds->secret, slen);
    int rc = hmac_once(seed, slen + 4, date, 8, k1);
    eqops__wipe_free(seed, slen + 4);
    if (rc == 0)
        rc = hmac_once(k1, 32, s->region, strlen(s->region), k2);
    if (rc == 0)
        rc = hmac_once(k2, 32, s->service, strlen(s->service), k1);
    if (rc == 0)
        rc = hmac_once(k1, 32, "aws4_request", 12, k2);
    EVP_MAC_CTX *ctx = rc == 0 ? hmac_new(k2, 32) : NULL;
    eqops__wipe(k1, sizeof(k1));
    eqops__wipe(k2, sizeof(k2));
    if (ctx == NULL)
        return eqops__err(err, EQOPS_EINTERNAL, "sign: HMAC failed");
    EVP_MAC_CTX_free(s->key_ctx);
    s->key_ctx = ctx;
    memcpy(s->key_date, date, 9);
    return 0;
}

static void out_header(eqops_aws_signer *s, const char *name, const char *value, size_t len)
{
    eqops_buf *b = &s->out_values[s->nout];
    eqops__buf_truncate(b, 0);
    eqops__buf_put(b, value, len);
    s->out_names[s->nout++] = name;
}

int eqops_aws_signer_sign(eqops_aws_signer *s, const char *method, const char *url,
                          const char *const *headers, const void *body, size_t body_len,
                          int64_t time_ms, eqops_error *err)
{
    eqops_error_clear(err);
    if (s == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "signer", "must not be NULL");
    if (method == NULL || *method == '\0' || strlen(method) > 16)
        return eqops__err_field(err, EQOPS_EINVAL, "method", "must be an HTTP method");
    if (url == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "url", "must not be NULL");
    if (body == NULL && body_len > 0)
        return eqops__err_field(err, EQOPS_EINVAL, "body", "NULL with a length");
    sv_url u;
    int rc = parse_url(url, &u, err);
    if (rc != 0)
        return rc;
    s->nheaders = s->nparams = s->nout = 0;
    eqops__buf_truncate(&s->pbuf, 0);
    eqops__buf_truncate(&s->canon, 0);
    eqops__buf_truncate(&s->sts, 0);
    eqops__buf_truncate(&s->path, 0);
    eqops__buf_truncate(&s->signed_names, 0);
    eqops__wipe(s->url.data, s->url.len); /* a presigned URL holds the session token */
    eqops__buf_truncate(&s->url, 0);
    s->signature[0] = '\0';

    /* time */
    int64_t now = time_ms ? time_ms : eqops__now_ms();
    int64_t secs = now / 1000, day = secs / 86400, tod = secs % 86400;
    if (now < 0)
        return eqops__err_field(err, EQOPS_EINVAL, "time_ms", "out of range");
    if (day != s->stamp_day) { /* the calendar date, once a day */
        time_t t = (time_t)secs;
        struct tm tm;
        if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999)
            return eqops__err_field(err, EQOPS_EINVAL, "time_ms", "out of range");
        digits(s->stamp_date, tm.tm_year + 1900, 4);
        digits(s->stamp_date + 4, tm.tm_mon + 1, 2);
        digits(s->stamp_date + 6, tm.tm_mday, 2);
        s->stamp_date[8] = '\0';
        s->stamp_day = day;
    }
    /* YYYYMMDDTHHMMSSZ (no printf or gmtime: this runs for every signature) */
    memcpy(s->amz_date, s->stamp_date, 8);
    s->amz_date[8] = 'T';
    digits(s->amz_date + 9, (int)(tod / 3600), 2);
    digits(s->amz_date + 11, (int)(tod / 60 % 60), 2);
    digits(s->amz_date + 13, (int)(tod % 60), 2);
    memcpy(s->amz_date + 15, "Z", 2);
    char date[9];
    memcpy(date, s->amz_date, 8);
    date[8] = '\0';

    /* headers */
    bool have_host = false;
    for (size_t i = 0; headers && headers[i]; i++) {
        const char *h = headers[i], *colon = strchr(h, ':');
        if (colon == NULL)
            return eqops__err_field(err, EQOPS_EINVAL, "headers", "\"Name: value\" expected");
        const char *v = colon + 1;
        if ((rc = add_header(s, h, (size_t)(colon - h), v, strlen(v), err)) != 0)
            return rc;
        have_host = have_host || ((size_t)(colon - h) == 4 && !strncasecmp(h, "host", 4));
    }
    const char *host;
    size_t host_len;
    host_of(&u, &host, &host_len);
    if (host_len >= sizeof(s->host))
        return eqops__err_field(err, EQOPS_EINVAL, "url", "host longer than 255 characters");
    /* host names are case-blind; the SDKs (and their HTTP clients) send them lowercased */
    for (size_t i = 0; i < host_len; i++)
        s->host[i] = (char)tolower((unsigned char)host[i]);
    s->host[host_len] = '\0';
    if (!have_host && (rc = add_header(s, "host", 4, s->host, host_len, err)) != 0)
        return rc;
    /* payload */
    char payload[65];
    if (s->unsigned_payload)
        memcpy(payload, "UNSIGNED-PAYLOAD", 17);
    else if (body_len == 0)
        memcpy(payload, EMPTY_SHA256, 65);
    else
        sha256_hex(s->md, body, body_len, payload);
    bool token = s->creds->token != NULL;
    if (!s->presign) { /* the signer's own headers, signed */
        sv_header extra[3];
        size_t nextra = 0;
        if (token && !s->omit_token)
            extra[nextra++] = (sv_header){"x-amz-security-token", s->creds->token,
                                          strlen(s->creds->token), SIZE_MAX - 3};
        if (s->sign_body)
            extra[nextra++] =
                (sv_header){"x-amz-content-sha256", payload, strlen(payload), SIZE_MAX - 2};
        extra[nextra++] = (sv_header){"x-amz-date", s->amz_date, 16, SIZE_MAX - 1};
        for (size_t i = 0; i < nextra; i++) {
            if ((rc = headers_room(s, err)) != 0)
                return rc;
            s->headers[s->nheaders++] = extra[i];
        }
    }
    qsort(s->headers, s->nheaders, sizeof(sv_header), cmp_headers);
    for (size_t i = 0; i < s->nheaders; i++) {
        if (i > 0 && !strcmp(s->headers[i].name, s->headers[i - 1].name))
            continue;
        if (s->signed_names.len)
            eqops__buf_putc(&s->signed_names, ';');
        eqops__buf_puts(&s->signed_names, s->headers[i].name);
    }

    /* query */
    const char *q = u.query, *qend = u.query ? u.query + u.query_len : NULL;
    while (u.has_query && q && q < qend) {
        const char *amp = memchr(q, '&', (size_t)(qend - q));
        const char *e = amp ? amp : qend;
        if (e > q) {
            const char *eq = memchr(q, '=', (size_t)(e - q));
            const char *k = q, *v = eq ? eq + 1 : e;
            size_t klen = (size_t)((eq ? eq : e) - q), vlen = (size_t)(e - v);
            if (add_param(s, k, klen, v, vlen, false) != 0)
                return eqops__err(err, EQOPS_ENOMEM, "sign: out of memory");
        }
        q = amp ? amp + 1 : qend;
    }
    /* the scope: date/region/service/aws4_request; the credential: access key id/scope */
    char credential[512];
    const char *scope_parts[] = {s->creds->akid, "/", date,       "/",
                                 s->region,      "/", s->service, "/aws4_request"};
    size_t cn = join(credential, sizeof(credential), scope_parts, 8);
    if (cn == 0)
        return eqops__err_field(err, EQOPS_EINVAL, "credentials", "access key id too long");
    const char *scope = credential + strlen(s->creds->akid) + 1;
    const char *expires = s->expires;
    if (s->presign) {
        const char *sh = eqops__buf_cstr(&s->signed_names);
        if (add_param(s, "X-Amz-Algorithm", 15, "AWS4-HMAC-SHA256", 16, true) ||
            add_param(s, "X-Amz-Credential", 16, credential, strlen(credential), true) ||
            add_param(s, "X-Amz-Date", 10, s->amz_date, 16, true) ||
            add_param(s, "X-Amz-Expires", 13, expires, strlen(expires), true) ||
            add_param(s, "X-Amz-SignedHeaders", 19, sh, strlen(sh), true) ||
            (token && !s->omit_token &&
             add_param(s, "X-Amz-Security-Token", 20, s->creds->token, strlen(s->creds->token),
                       true)))
            return eqops__err(err, EQOPS_ENOMEM, "sign: out of memory");
    }
    sort_params(s->params, s->nparams, s->pbuf.data);

    /* canonical request */
    eqops_buf *c = &s->canon;
    eqops__buf_puts(c, method);
    eqops__buf_putc(c, '\n');
    if (s->s3) {
        eqops__buf_put(c, u.path_len ? u.path : "/", u.path_len ? u.path_len : 1);
    } else {
        if (s->normalize)
            normalize_path(&s->path, u.path, u.path_len);
        else
            eqops__buf_put(&s->path, u.path_len ? u.path : "/", u.path_len ? u.path_len : 1);
        eqops__aws_uri_encode(c, eqops__buf_cstr(&s->path), s->path.len, true);
    }
    eqops__buf_putc(c, '\n');
    for (size_t i = 0; i < s->nparams; i++) {
        if (i)
            eqops__buf_putc(c, '&');
        eqops__buf_put(c, s->pbuf.data + s->params[i].key, s->params[i].key_len);
        eqops__buf_putc(c, '=');
        eqops__buf_put(c, s->pbuf.data + s->params[i].value, s->params[i].value_len);
    }
    eqops__buf_putc(c, '\n');
    for (size_t i = 0; i < s->nheaders; i++) {
        bool first = i == 0 || strcmp(s->headers[i].name, s->headers[i - 1].name);
        if (first) {
            if (i)
                eqops__buf_putc(c, '\n');
            eqops__buf_puts(c, s->headers[i].name);
            eqops__buf_putc(c, ':');
        } else {
            eqops__buf_putc(c, ',');
        }
        put_value(c, s->headers[i].value, s->headers[i].value_len);
    }
    eqops__buf_puts(c, "\n\n");
    eqops__buf_put(c, s->signed_names.data, s->signed_names.len);
    eqops__buf_putc(c, '\n');
    eqops__buf_puts(c, payload);
    if (eqops__buf_ok(c) != 0 || eqops__buf_ok(&s->pbuf) != 0 || eqops__buf_ok(&s->path) != 0 ||
        eqops__buf_ok(&s->signed_names) != 0)
        return eqops__err(err, EQOPS_ENOMEM, "sign: out of memory");

    /* string to sign and signature */
    char creq_hash[65];
    sha256_hex(s->md, c->data, c->len, creq_hash);
    const char *sts_parts[] = {"AWS4-HMAC-SHA256\n", s->amz_date, "\n", scope, "\n", creq_hash};
    puts_all(&s->sts, sts_parts, 6);
    if (eqops__buf_ok(&s->sts) != 0)
        return eqops__err(err, EQOPS_ENOMEM, "sign: out of memory");
    if ((rc = signing_key(s, date, err)) != 0)
        return rc;
    unsigned char mac[32];
    size_t mac_len = 0;
    if (EVP_MAC_init(s->key_ctx, NULL, 0, NULL) != 1 ||
        EVP_MAC_update(s->key_ctx, (const unsigned char *)s->sts.data, s->sts.len) != 1 ||
        EVP_MAC_final(s->key_ctx, mac, &mac_len, sizeof(mac)) != 1 || mac_len != 32)
        return eqops__err(err, EQOPS_EINTERNAL, "sign: HMAC failed");
    hex(mac, 32, s->signature);

    /* what to send */
    eqops_buf *o = &s->url;
    eqops__buf_puts(o, url);
    if (s->presign) {
        /* the auth parameters in the order of the AWS signing test suite (botocore puts
         * X-Amz-Expires before X-Amz-SignedHeaders; the order does not change the signature) */
        const char *sh = eqops__buf_cstr(&s->signed_names);
        if (!u.has_query)
            eqops__buf_putc(o, '?');
        else if (u.query_len > 0)
            eqops__buf_putc(o, '&');
        eqops__buf_puts(o, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
        eqops__aws_uri_encode(o, credential, strlen(credential), false);
        const char *date_parts[] = {"&X-Amz-Date=", s->amz_date, "&X-Amz-SignedHeaders="};
        puts_all(o, date_parts, 3);
        eqops__aws_uri_encode(o, sh, strlen(sh), false);
        eqops__buf_puts(o, "&X-Amz-Expires=");
        eqops__buf_puts(o, expires);
        if (token) {
            eqops__buf_puts(o, "&X-Amz-Security-Token=");
            eqops__aws_uri_encode(o, s->creds->token, strlen(s->creds->token), false);
        }
        eqops__buf_puts(o, "&X-Amz-Signature=");
        eqops__buf_put(o, s->signature, 64);
    } else {
        if (token)
            out_header(s, "X-Amz-Security-Token", s->creds->token, strlen(s->creds->token));
        out_header(s, "X-Amz-Date", s->amz_date, 16);
        if (s->sign_body)
            out_header(s, "x-amz-content-sha256", payload, strlen(payload));
        eqops_buf *a = &s->out_values[s->nout];
        eqops__buf_truncate(a, 0);
        const char *auth_parts[] = {
            "AWS4-HMAC-SHA256 Credential=",    credential,     ", SignedHeaders=",
            eqops__buf_cstr(&s->signed_names), ", Signature=", s->signature};
        puts_all(a, auth_parts, 6);
        s->out_names[s->nout++] = "Authorization";
    }
    for (size_t i = 0; i < s->nout; i++)
        if (eqops__buf_ok(&s->out_values[i]) != 0)
            return eqops__err(err, EQOPS_ENOMEM, "sign: out of memory");
    if (eqops__buf_ok(o) != 0)
        return eqops__err(err, EQOPS_ENOMEM, "sign: out of memory");
    return 0;
}

size_t eqops_aws_signer_header_count(const eqops_aws_signer *s)
{
    return s ? s->nout : 0;
}

const char *eqops_aws_signer_header_name(const eqops_aws_signer *s, size_t i)
{
    return s && i < s->nout ? s->out_names[i] : NULL;
}

const char *eqops_aws_signer_header_value(const eqops_aws_signer *s, size_t i)
{
    return s && i < s->nout ? eqops__buf_cstr(&s->out_values[i]) : NULL;
}

const char *eqops_aws_signer_url(const eqops_aws_signer *s)
{
    return s ? eqops__buf_cstr(&s->url) : NULL;
}

const char *eqops_aws_signer_canonical_request(const eqops_aws_signer *s)
{
    return s ? eqops__buf_cstr(&s->canon) : NULL;
}

const char *eqops_aws_signer_string_to_sign(const eqops_aws_signer *s)
{
    return s ? eqops__buf_cstr(&s->sts) : NULL;
}

const char *eqops_aws_signer_signature(const eqops_aws_signer *s)
{
    return s ? s->signature : NULL;
}
