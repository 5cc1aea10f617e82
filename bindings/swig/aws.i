/*
 * aws.i - the AWS module for the bindings (included by eqops.i).
 *
 * Functions whose result is a new credentials object come back as owned pointers
 * (eqops_bind_aws_*). Options structs get flat forms, "" standing for "not given". Header and
 * name lists cross as one newline-separated string (a header line cannot hold a newline). The
 * metrics of a PutMetricData call are gathered in a batch (eqops_bind_aws_metrics_*), which
 * both languages fill one metric at a time.
 */

%{
#include <eqops/aws.h>
#include <stdlib.h>

typedef struct eqops_bind_aws_metrics {
    eqops_aws_metric *v;
    const char ***dims; /* per metric: a NULL-terminated list from eqops_bind_lines */
    char **strings;     /* per metric: copies of name and unit, one allocation */
    size_t n, cap;
} eqops_bind_aws_metrics;
%}

%ignore eqops_aws_sign_options;
%ignore eqops_aws_options;
%ignore eqops_aws_metric;
%ignore eqops_aws_credentials_new;
%ignore eqops_aws_signer_new;
%ignore eqops_aws_signer_sign;
%ignore eqops_aws_new;
%ignore eqops_aws_credentials_resolve;
%ignore eqops_aws_sts_assume_role;
%ignore eqops_aws_sts_assume_role_with_web_identity;
%ignore eqops_aws_metrics_put;

%apply int64_t *out_ms { int64_t *expires_ms };

/* a request body: any bytes-like object in Python, []byte in Go */
#ifdef SWIGPYTHON
%typemap(in) (const char *body, size_t body_len) (Py_buffer view, int have = 0) {
    if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) != 0) {
        PyErr_SetString(PyExc_TypeError, "body: expected bytes, bytearray or memoryview");
        SWIG_fail;
    }
    have = 1;
    $1 = (const char *)view.buf;
    $2 = (size_t)view.len;
}
%typemap(freearg) (const char *body, size_t body_len) {
    if (have$argnum)
        PyBuffer_Release(&view$argnum);
}
#endif
#ifdef SWIGGO
%typemap(gotype) (const char *body, size_t body_len) "[]byte"
%typemap(in) (const char *body, size_t body_len) {
    $1 = ($1_ltype)$input.array;
    $2 = (size_t)$input.len;
}
#endif

%include "eqops/aws.h"

%inline %{
eqops_aws_credentials *eqops_bind_aws_credentials_new(const char *access_key_id,
                                                      const char *secret_access_key,
                                                      const char *session_token,
                                                      int64_t expiration_ms, eqops_error *perr)
{
    eqops_aws_credentials *c = NULL;
    eqops_aws_credentials_new(&c, access_key_id, secret_access_key,
                              eqops_bind_opt(session_token), expiration_ms, perr);
    return c;
}

/* unsigned_headers: newline-separated names */
eqops_aws_signer *eqops_bind_aws_signer_new(const eqops_aws_credentials *creds,
                                            const char *region, const char *service,
                                            int presign, int64_t expires_s, int s3,
                                            int no_normalize, int sign_body,
                                            int unsigned_payload, int omit_session_token,
                                            const char *unsigned_headers, eqops_error *perr)
{
    int oom;
    const char **names = eqops_bind_lines(unsigned_headers, &oom);
    if (oom) {
        eqops_bind_oom(perr);
        return NULL;
    }
    eqops_aws_sign_options o;
    eqops_aws_sign_options_init(&o, EQOPS_AWS_SIGN_OPTIONS_VERSION);
    o.region = region;
    o.service = service;
    o.presign = presign;
    o.expires_s = expires_s;
    o.s3 = s3;
    o.no_normalize = no_normalize;
    o.sign_body = sign_body;
    o.unsigned_payload = unsigned_payload;
    o.omit_session_token = omit_session_token;
    o.unsigned_headers = names;
    eqops_aws_signer *s = NULL;
    eqops_aws_signer_new(&s, creds, &o, perr);
    free(names);
    return s;
}

/* headers: newline-separated "Name: value" lines */
int eqops_bind_aws_signer_sign(eqops_aws_signer *s, const char *method, const char *url,
                               const char *headers, const char *body, size_t body_len,
                               int64_t time_ms, eqops_error *err)
{
    int oom;
    const char **lines = eqops_bind_lines(headers, &oom);
    if (oom)
        return eqops_bind_oom(err);
    int rc = eqops_aws_signer_sign(s, method, url, lines, body, body_len, time_ms, err);
    free(lines);
    return rc;
}

eqops_aws *eqops_bind_aws_new(const char *region, const char *profile,
                              const eqops_aws_credentials *credentials,
                              const char *endpoint_url, int max_retries,
                              long connect_timeout_ms, long timeout_ms, const char *ca_file,
                              const char *config_file, const char *credentials_file,
                              const char *imds_endpoint, eqops_cancel *cancel, eqops_error *perr)
{
    eqops_aws_options o;
    eqops_aws_options_init(&o, EQOPS_AWS_OPTIONS_VERSION);
    o.cancel = cancel;
    o.region = eqops_bind_opt(region);
    o.profile = eqops_bind_opt(profile);
    o.credentials = credentials;
    o.endpoint_url = eqops_bind_opt(endpoint_url);
    o.max_retries = max_retries;
    o.connect_timeout_ms = connect_timeout_ms;
    o.timeout_ms = timeout_ms;
    o.ca_file = eqops_bind_opt(ca_file);
    o.config_file = eqops_bind_opt(config_file);
    o.credentials_file = eqops_bind_opt(credentials_file);
    o.imds_endpoint = eqops_bind_opt(imds_endpoint);
    eqops_aws *aws = NULL;
    eqops_aws_new(&aws, &o, perr);
    return aws;
}

eqops_aws_credentials *eqops_bind_aws_credentials_resolve(eqops_aws *aws, eqops_error *perr)
{
    eqops_aws_credentials *c = NULL;
    eqops_aws_credentials_resolve(&c, aws, perr);
    return c;
}

eqops_aws_credentials *eqops_bind_aws_sts_assume_role(eqops_aws *aws, const char *role_arn,
                                                      const char *session_name, int duration_s,
                                                      eqops_error *perr)
{
    eqops_aws_credentials *c = NULL;
    eqops_aws_sts_assume_role(&c, aws, role_arn, session_name, duration_s, perr);
    return c;
}

eqops_aws_credentials *eqops_bind_aws_sts_assume_role_with_web_identity(
    eqops_aws *aws, const char *role_arn, const char *session_name,
    const char *web_identity_token, int duration_s, eqops_error *perr)
{
    eqops_aws_credentials *c = NULL;
    eqops_aws_sts_assume_role_with_web_identity(&c, aws, role_arn, session_name,
                                                web_identity_token, duration_s, perr);
    return c;
}

eqops_bind_aws_metrics *eqops_bind_aws_metrics_new(void)
{
    return (eqops_bind_aws_metrics *)calloc(1, sizeof(eqops_bind_aws_metrics));
}

void eqops_bind_aws_metrics_free(eqops_bind_aws_metrics *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++) {
        free((void *)b->dims[i]);
        free(b->strings[i]);
    }
    free(b->v);
    free(b->dims);
    free(b->strings);
    free(b);
}

size_t eqops_bind_aws_metrics_count(const eqops_bind_aws_metrics *b)
{
    return b ? b->n : 0;
}

/* dimensions: newline-separated "Name=Value"; unit "" = None; timestamp_ms 0 = now.
 * Checked by eqops_aws_metrics_put, which names the metric and the field. */
int eqops_bind_aws_metrics_add(eqops_bind_aws_metrics *b, const char *name, double value,
                               const char *unit, const char *dimensions, int64_t timestamp_ms,
                               int storage_resolution, eqops_error *err)
{
    if (b == NULL || name == NULL || unit == NULL)
        return eqops_bind_oom(err);
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        eqops_aws_metric *v = (eqops_aws_metric *)realloc(b->v, cap * sizeof(*v));
        if (v != NULL)
            b->v = v;
        const char ***d = (const char ***)realloc(b->dims, cap * sizeof(*d));
        if (d != NULL)
            b->dims = d;
        char **s = (char **)realloc(b->strings, cap * sizeof(*s));
        if (s != NULL)
            b->strings = s;
        if (v == NULL || d == NULL || s == NULL)
            return eqops_bind_oom(err);
        b->cap = cap;
    }
    int oom;
    const char **dims = eqops_bind_lines(dimensions, &oom);
    size_t nlen = strlen(name), ulen = strlen(unit);
    char *strings = oom ? NULL : (char *)malloc(nlen + ulen + 2);
    if (strings == NULL) {
        free((void *)dims);
        return eqops_bind_oom(err);
    }
    memcpy(strings, name, nlen + 1);
    memcpy(strings + nlen + 1, unit, ulen + 1);
    eqops_aws_metric *m = &b->v[b->n];
    eqops_aws_metric_init(m, EQOPS_AWS_METRIC_VERSION);
    m->name = strings;
    m->value = value;
    m->unit = ulen ? strings + nlen + 1 : NULL;
    m->dimensions = dims;
    m->timestamp_ms = timestamp_ms;
    m->storage_resolution = storage_resolution;
    b->dims[b->n] = dims;
    b->strings[b->n] = strings;
    b->n++;
    return 0;
}

int eqops_bind_aws_metrics_put(eqops_aws *aws, const char *ns, const eqops_bind_aws_metrics *b,
                               eqops_error *err)
{
    size_t n = b ? b->n : 0;
    const eqops_aws_metric **p = NULL;
    if (n) {
        p = (const eqops_aws_metric **)malloc(n * sizeof(*p));
        if (p == NULL)
            return eqops_bind_oom(err);
        for (size_t i = 0; i < n; i++)
            p[i] = &b->v[i];
    }
    int rc = eqops_aws_metrics_put(aws, ns, p, n, err);
    free((void *)p);
    return rc;
}
%}
