/*
 * secrets_metrics.c - Secrets Manager (JSON 1.1) and CloudWatch metrics (JSON 1.0 with the
 * query-compatible header), with PutMetricData batched within the service limits.
 */
#include "aws_internal.h"
#include "aws_seam.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define METRICS_PER_REQUEST 1000
#define REQUEST_MAX_BYTES   (1000 * 1000)
#define DIMENSIONS_MAX      30

/* ---- a JSON-protocol call -------------------------------------------------------------------- */

/* POST `doc` (stolen) to `target` and parse the answer into `*answer` (new). The request body
 * may hold a secret: it is wiped. */
static int json_call(eqops_aws *aws, aws_service service, const char *target, json_t *doc,
                     json_t **answer, eqops_error *err)
{
    if (answer)
        *answer = NULL;
    char *body = doc ? eqops__json_dump(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (body == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    char what[96];
    snprintf(what, sizeof(what), "%s %s", eqops__aws_signing_name(service),
             strchr(target, '.') + 1);
    aws_call call = {service,
                     "POST",
                     "/",
                     service == AWS_CLOUDWATCH ? "application/x-amz-json-1.0"
                                               : "application/x-amz-json-1.1",
                     target,
                     body,
                     strlen(body),
                     false,
                     service == AWS_CLOUDWATCH,
                     what,
                     NULL};
    eqops_http_response resp = EQOPS_HTTP_RESPONSE_INIT;
    int rc = eqops__aws_call(aws, &call, &resp, err);
    eqops__secret_free(body);
    if (rc == 0 && answer) {
        rc = eqops__json_parse(answer, resp.body.len ? resp.body.data : "{}",
                               resp.body.len ? resp.body.len : 2, what, err);
        if (rc == 0 && !json_is_object(*answer)) {
            json_decref(*answer);
            *answer = NULL;
            rc = eqops__err(err, EQOPS_EPROTO, "%s: the answer is not an object", what);
        }
    }
    if (resp.body.data)
        eqops__wipe(resp.body.data, resp.body.len); /* GetSecretValue answers hold the value */
    eqops__http_response_clear(&resp);
    return rc;
}

static int start(eqops_aws *aws, void *out, eqops_error *err)
{
    eqops_error_clear(err);
    if (aws == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "aws", "must not be NULL");
    (void)out;
    return 0;
}

static int id_check(const char *id, const char *field, eqops_error *err)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 2048)
        return eqops__err_field(err, EQOPS_EINVAL, field, "must be 1 to 2048 characters");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x20)
            return eqops__err_field(err, EQOPS_EINVAL, field, "contains a control character");
    return 0;
}

static int value_check(const char *value, eqops_error *err)
{
    if (value == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "value", "is required");
    if (strlen(value) > 65536)
        return eqops__err_field(err, EQOPS_EINVAL, "value", "is larger than 65536 bytes");
    return 0;
}

/* {"arn", "name", "version_id"} from an answer with ARN, Name, VersionId */
static int secret_summary(char **out, json_t *answer, eqops_error *err)
{
    json_t *doc = json_object();
    const char *v;
    eqops__jset(doc, "arn",
                (v = json_string_value(json_object_get(answer, "ARN"))) ? json_string(v)
                                                                        : json_null());
    eqops__jset(doc, "name",
                (v = json_string_value(json_object_get(answer, "Name"))) ? json_string(v)
                                                                         : json_null());
    eqops__jset(doc, "version_id",
                (v = json_string_value(json_object_get(answer, "VersionId"))) ? json_string(v)
                                                                              : json_null());
    int rc = 0;
    if (json_object_size(doc) != 3 ||
        (*out = eqops__json_dump(doc, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    json_decref(doc);
    return rc;
}

/* ---- Secrets Manager ---------------------------------------------------------------------------
 */

/* CreateSecret and PutSecretValue: the value with a request token (UUID), which makes a
 * retried call idempotent; `*out` the summary of what was stored. */
static int store_value(char **out, eqops_aws *aws, const char *target, const char *id_key,
                       const char *id, const char *value, const char *description, eqops_error *err)
{
    char token[37];
    if (eqops__aws_uuid(token) != 0)
        return eqops__err(err, EQOPS_EINTERNAL, "random: OpenSSL failed");
    json_t *doc = json_object();
    if (doc == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    eqops__jset(doc, id_key, json_string(id));
    eqops__jset(doc, "SecretString", json_string(value));
    eqops__jset(doc, "ClientRequestToken", json_string(token));
    bool described = description && *description; /* "" = none, as NULL */
    if (described)
        eqops__jset(doc, "Description", json_string(description));
    if (json_object_size(doc) != (described ? 4u : 3u)) {
        json_decref(doc);
        return eqops__err_field(err, EQOPS_EINVAL, "value", "must be UTF-8 text");
    }
    json_t *answer = NULL;
    int rc = json_call(aws, AWS_SECRETS, target, doc, &answer, err);
    if (rc == 0)
        rc = out ? secret_summary(out, answer, err) : 0;
    json_decref(answer);
    return rc;
}

int eqops_aws_secret_create(char **out, eqops_aws *aws, const char *name, const char *value,
                            const char *description, eqops_error *err)
{
    int rc = start(aws, out, err);
    if (rc == 0 && out)
        *out = NULL;
    if (rc == 0 && (rc = id_check(name, "name", err)) == 0)
        rc = value_check(value, err);
    if (rc == 0 && description && strlen(description) > 2048)
        rc = eqops__err_field(err, EQOPS_EINVAL, "description", "is longer than 2048 bytes");
    if (rc != 0)
        return rc;
    return store_value(out, aws, "secretsmanager.CreateSecret", "Name", name, value, description,
                       err);
}

int eqops_aws_secret_get(char **out, eqops_aws *aws, const char *secret_id,
                         const char *version_stage, eqops_error *err)
{
    int rc = start(aws, out, err);
    if (rc == 0 && out == NULL)
        rc = eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    if (rc != 0)
        return rc;
    *out = NULL;
    if ((rc = id_check(secret_id, "secret_id", err)) != 0)
        return rc;
    json_t *doc = json_object();
    eqops__jset(doc, "SecretId", json_string(secret_id));
    if (version_stage && *version_stage)
        eqops__jset(doc, "VersionStage", json_string(version_stage));
    json_t *answer = NULL;
    rc = json_call(aws, AWS_SECRETS, "secretsmanager.GetSecretValue", doc, &answer, err);
    if (rc == 0) {
        const char *v = json_string_value(json_object_get(answer, "SecretString"));
        if (v == NULL)
            rc = eqops__err(err, EQOPS_ENOTSUP,
                            "secret %s has a binary value (SecretBinary); only strings are read",
                            secret_id);
        else if ((*out = eqops__strdup(v)) == NULL)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        if (v)
            eqops__wipe((char *)v, strlen(v));
    }
    json_decref(answer);
    return rc;
}

int eqops_aws_secret_put(char **out, eqops_aws *aws, const char *secret_id, const char *value,
                         eqops_error *err)
{
    int rc = start(aws, out, err);
    if (rc == 0 && out)
        *out = NULL;
    if (rc == 0 && (rc = id_check(secret_id, "secret_id", err)) == 0)
        rc = value_check(value, err);
    if (rc != 0)
        return rc;
    return store_value(out, aws, "secretsmanager.PutSecretValue", "SecretId", secret_id, value,
                       NULL, err);
}

int eqops__aws_secret_describe_doc(json_t **out, eqops_aws *aws, const char *secret_id,
                                   eqops_error *err)
{
    int rc = start(aws, out, err);
    if (rc == 0 && out == NULL)
        rc = eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    if (rc != 0)
        return rc;
    *out = NULL;
    if ((rc = id_check(secret_id, "secret_id", err)) != 0)
        return rc;
    json_t *doc = json_object();
    eqops__jset(doc, "SecretId", json_string(secret_id));
    return json_call(aws, AWS_SECRETS, "secretsmanager.DescribeSecret", doc, out, err);
}

int eqops_aws_secret_describe(char **out, eqops_aws *aws, const char *secret_id, eqops_error *err)
{
    json_t *answer = NULL;
    int rc = eqops__aws_secret_describe_doc(&answer, aws, secret_id, err);
    if (rc == 0 && (*out = eqops__json_dump(answer, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    json_decref(answer);
    return rc;
}

int eqops_aws_secret_delete(eqops_aws *aws, const char *secret_id, int force, eqops_error *err)
{
    int rc = start(aws, NULL, err);
    if (rc == 0)
        rc = id_check(secret_id, "secret_id", err);
    if (rc != 0)
        return rc;
    json_t *doc = json_object();
    eqops__jset(doc, "SecretId", json_string(secret_id));
    if (force)
        eqops__jset(doc, "ForceDeleteWithoutRecovery", json_true());
    else
        eqops__jset(doc, "RecoveryWindowInDays", json_integer(7));
    return json_call(aws, AWS_SECRETS, "secretsmanager.DeleteSecret", doc, NULL, err);
}

/* ---- CloudWatch
 * ---------------------------------------------------------------------------------- */

static const char *const units[] = {"Seconds",
                                    "Microseconds",
                                    "Milliseconds",
                                    "Bytes",
                                    "Kilobytes",
                                    "Megabytes",
                                    "Gigabytes",
                                    "Terabytes",
                                    "Bits",
                                    "Kilobits",
                                    "Megabits",
                                    "Gigabits",
                                    "Terabits",
                                    "Percent",
                                    "Count",
                                    "Bytes/Second",
                                    "Kilobytes/Second",
                                    "Megabytes/Second",
                                    "Gigabytes/Second",
                                    "Terabytes/Second",
                                    "Bits/Second",
                                    "Kilobits/Second",
                                    "Megabits/Second",
                                    "Gigabits/Second",
                                    "Terabits/Second",
                                    "Count/Second",
                                    "None",
                                    NULL};

static bool text_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return false;
    return true;
}

static int metric_check(const eqops_aws_metric *m, size_t i, eqops_error *err)
{
    char field[48];
    snprintf(field, sizeof(field), "metrics[%zu].name", i);
    if (!text_ok(m->name, 255))
        return eqops__err_field(err, EQOPS_EINVAL, field, "must be 1 to 255 characters");
    snprintf(field, sizeof(field), "metrics[%zu].value", i);
    if (!isfinite(m->value) || fabs(m->value) > 1e108 || (m->value != 0 && fabs(m->value) < 1e-130))
        return eqops__err_field(err, EQOPS_EINVAL, field,
                                "must be finite, 0 or between 1e-130 and 1e108 in size");
    bool unit_ok = m->unit == NULL;
    for (size_t u = 0; !unit_ok && units[u]; u++)
        unit_ok = !strcmp(units[u], m->unit);
    snprintf(field, sizeof(field), "metrics[%zu].unit", i);
    if (!unit_ok)
        return eqops__err_field(err, EQOPS_EINVAL, field,
                                "'%s' is not a CloudWatch unit (Count, Seconds, Percent, ...)",
                                m->unit);
    snprintf(field, sizeof(field), "metrics[%zu].storage_resolution", i);
    if (m->storage_resolution != 0 && m->storage_resolution != 1 && m->storage_resolution != 60)
        return eqops__err_field(err, EQOPS_EINVAL, field, "must be 1 or 60");
    snprintf(field, sizeof(field), "metrics[%zu].timestamp_ms", i);
    int64_t now = eqops__now_ms();
    if (m->timestamp_ms < 0 || (m->timestamp_ms && (m->timestamp_ms < now - 14LL * 86400000 ||
                                                    m->timestamp_ms > now + 2LL * 3600000)))
        return eqops__err_field(err, EQOPS_EINVAL, field,
                                "must be within the last 14 days and at most 2 h ahead");
    size_t nd = 0;
    for (; m->dimensions && m->dimensions[nd]; nd++) {
        snprintf(field, sizeof(field), "metrics[%zu].dimensions[%zu]", i, nd);
        const char *d = m->dimensions[nd], *eq = strchr(d, '=');
        if (nd >= DIMENSIONS_MAX)
            return eqops__err_field(err, EQOPS_EINVAL, field, "at most %d dimensions",
                                    DIMENSIONS_MAX);
        if (eq == NULL || eq == d || eq - d > 255 || strlen(eq + 1) == 0 || strlen(eq + 1) > 1024 ||
            !text_ok(d, 1300))
            return eqops__err_field(err, EQOPS_EINVAL, field,
                                    "must be Name=Value (1-255 and 1-1024 characters)");
    }
    return 0;
}

static json_t *metric_json(const eqops_aws_metric *m)
{
    json_t *o = json_object(), *dims = json_array();
    eqops__jset(o, "MetricName", json_string(m->name));
    eqops__jset(o, "Value", json_real(m->value));
    eqops__jset(o, "Unit", json_string(m->unit ? m->unit : "None"));
    /* JSON 1.0 timestamps are seconds since the epoch */
    eqops__jset(o, "Timestamp",
                json_real((double)(m->timestamp_ms ? m->timestamp_ms : eqops__now_ms()) / 1000.0));
    if (m->storage_resolution)
        eqops__jset(o, "StorageResolution", json_integer(m->storage_resolution));
    for (size_t d = 0; m->dimensions && m->dimensions[d]; d++) {
        const char *eq = strchr(m->dimensions[d], '=');
        json_t *dim = json_object();
        eqops__jset(dim, "Name", json_stringn(m->dimensions[d], (size_t)(eq - m->dimensions[d])));
        eqops__jset(dim, "Value", json_string(eq + 1));
        eqops__jappend(dims, dim);
    }
    if (json_array_size(dims))
        eqops__jset(o, "Dimensions", dims);
    else
        json_decref(dims);
    return o;
}

static const size_t metric_sizes[] = {sizeof(eqops_aws_metric)};

EQOPS__OPTS_INIT_FN(eqops_aws_metric_init, eqops_aws_metric, metric_sizes)

/* Every metric read by its version into `copy` (n full structs) and checked. */
static int metrics_read(eqops_aws_metric *copy, const eqops_aws_metric *const *metrics, size_t n,
                        eqops_error *err)
{
    char field[48];
    for (size_t i = 0; i < n; i++) {
        if (metrics[i] == NULL) {
            snprintf(field, sizeof(field), "metrics[%zu]", i);
            return eqops__err_field(err, EQOPS_EINVAL, field, "must not be NULL");
        }
        snprintf(field, sizeof(field), "metrics[%zu].version", i);
        int rc = eqops__opts_read(&copy[i], sizeof(copy[i]), metrics[i], metric_sizes,
                                  EQOPS__ARRAY_LEN(metric_sizes), "aws metric", field, err);
        if (rc == 0)
            rc = metric_check(&copy[i], i, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int eqops_aws_metrics_put(eqops_aws *aws, const char *ns, const eqops_aws_metric *const *in,
                          size_t n, eqops_error *err)
{
    int rc = start(aws, NULL, err);
    if (rc != 0)
        return rc;
    if (!text_ok(ns, 255) || !strncmp(ns, "AWS/", 4))
        return eqops__err_field(err, EQOPS_EINVAL, "namespace",
                                "must be 1 to 255 characters, not starting with AWS/");
    if (in == NULL && n > 0)
        return eqops__err_field(err, EQOPS_EINVAL, "metrics", "NULL with a count");
    eqops_aws_metric *metrics = n ? eqops__calloc(n, sizeof(*metrics)) : NULL;
    if (n && metrics == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    rc = metrics_read(metrics, in, n, err);
    /* batches: up to 1000 metrics and under 1 MB of JSON each */
    size_t i = 0, requests = 0;
    while (rc == 0 && i < n) {
        json_t *data = json_array();
        if (data == NULL) {
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
            break;
        }
        size_t bytes = 64 + strlen(ns);
        for (; i < n && json_array_size(data) < METRICS_PER_REQUEST; i++) {
            json_t *m = metric_json(&metrics[i]);
            char *text = m ? eqops__json_dump(m, JSON_COMPACT) : NULL;
            size_t len = text ? strlen(text) + 1 : 0;
            eqops__free(text);
            if (m == NULL || len == 0) {
                json_decref(m);
                rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
                break;
            }
            if (bytes + len > REQUEST_MAX_BYTES && json_array_size(data) > 0) {
                json_decref(m);
                break;
            }
            bytes += len;
            eqops__jappend(data, m);
        }
        if (rc != 0) {
            json_decref(data);
            break;
        }
        json_t *doc = json_object();
        eqops__jset(doc, "Namespace", json_string(ns));
        eqops__jset(doc, "MetricData", data);
        rc = json_call(aws, AWS_CLOUDWATCH, "GraniteServiceVersion20100801.PutMetricData", doc,
                       NULL, err);
        requests++;
    }
    if (rc == 0)
        eqops__log(EQOPS_LOG_DEBUG, "aws", "PutMetricData: %zu metrics in %zu request(s)", n,
                   requests);
    eqops__free(metrics);
    return rc;
}

int eqops_aws_metrics_get(char **out, eqops_aws *aws, const char *queries, int64_t start_ms,
                          int64_t end_ms, eqops_error *err)
{
    int rc = start(aws, out, err);
    if (rc == 0 && out == NULL)
        rc = eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    if (rc != 0)
        return rc;
    *out = NULL;
    if (start_ms < 0 || end_ms <= start_ms)
        return eqops__err_field(err, EQOPS_EINVAL, "end_ms", "must be after start_ms");
    json_t *q = NULL;
    if ((rc = eqops__json_parse(&q, queries ? queries : "", queries ? strlen(queries) : 0,
                                "queries", err)) != 0)
        return rc;
    if (!json_is_array(q) || json_array_size(q) == 0 || json_array_size(q) > 500) {
        json_decref(q);
        return eqops__err_field(err, EQOPS_EINVAL, "queries",
                                "must be a MetricDataQueries array of 1 to 500 queries");
    }
    json_t *results = json_array();
    char *next = NULL;
    for (int page = 0; rc == 0 && page < 100; page++) {
        json_t *doc = json_object(), *answer = NULL;
        eqops__jset(doc, "MetricDataQueries", json_incref(q));
        eqops__jset(doc, "StartTime", json_real((double)start_ms / 1000.0));
        eqops__jset(doc, "EndTime", json_real((double)end_ms / 1000.0));
        if (next)
            eqops__jset(doc, "NextToken", json_string(next));
        rc = json_call(aws, AWS_CLOUDWATCH, "GraniteServiceVersion20100801.GetMetricData", doc,
                       &answer, err);
        if (rc == 0) {
            json_t *r = json_object_get(answer, "MetricDataResults");
            size_t k;
            json_t *item;
            json_array_foreach(r, k, item) eqops__jappend(results, json_incref(item));
            const char *t = json_string_value(json_object_get(answer, "NextToken"));
            eqops__free(next);
            next = t && *t ? eqops__strdup(t) : NULL;
        }
        json_decref(answer);
        if (next == NULL)
            break;
    }
    if (rc == 0 && next != NULL) /* never a silent partial answer */
        rc = eqops__err_field(err, EQOPS_ETOOBIG, "queries",
                              "GetMetricData: more than 100 pages; ask for a shorter time "
                              "range or fewer queries");
    eqops__free(next);
    json_decref(q);
    if (rc == 0 && (*out = eqops__json_dump(results, JSON_INDENT(2))) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    json_decref(results);
    return rc;
}
