/*
 * client.c - the AWS client: region and endpoint resolution, the request loop (sign, send,
 * standard retry mode with its quota) and error classification from JSON and XML answers.
 */
#include "aws_internal.h"
#include "aws_seam.h"

#include <ctype.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define MOD          "aws"
#define QUOTA_MAX    500
#define RETRY_COST   5
#define TIMEOUT_COST 10
/* the standard retry mode's delay: full jitter over 1 s doubling to 20 s (core's policy) */
#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS  20000

/* ---- test hooks --------------------------------------------------------------------------- */

static void (*hook_sleep)(int64_t);

void eqops__aws_set_retry_hooks(double (*random)(void), void (*sleep_ms)(int64_t))
{
    eqops__backoff_set_random(random); /* the jitter is core's */
    hook_sleep = sleep_ms;
}

const eqops_cancel *eqops__aws_set_cancel(eqops_aws *aws, const eqops_cancel *cancel)
{
    const eqops_cancel *old = aws->cancel;
    aws->cancel = cancel;
    if (aws->http)
        eqops__http_set_cancel(aws->http, cancel);
    return old;
}

/* ---- services -------------------------------------------------------------------------------- */

static const struct {
    const char *signing, *host, *env;
} services[AWS_SERVICE_COUNT] = {
    [AWS_STS] = {"sts", "sts", "AWS_ENDPOINT_URL_STS"},
    [AWS_EKS] = {"eks", "eks", "AWS_ENDPOINT_URL_EKS"},
    [AWS_SECRETS] = {"secretsmanager", "secretsmanager", "AWS_ENDPOINT_URL_SECRETS_MANAGER"},
    [AWS_CLOUDWATCH] = {"monitoring", "monitoring", "AWS_ENDPOINT_URL_CLOUDWATCH"},
};

const char *eqops__aws_signing_name(aws_service s)
{
    return services[s].signing;
}

char *eqops__aws_endpoint(eqops_aws *aws, aws_service s)
{
    if (aws->endpoints[s])
        return eqops__strdup(aws->endpoints[s]);
    if (aws->endpoint_all)
        return eqops__strdup(aws->endpoint_all);
    eqops_buf b = EQOPS_BUF_INIT;
    bool china = !strncmp(aws->region, "cn-", 3);
    eqops__buf_printf(&b, "https://%s.%s.amazonaws.com%s", services[s].host, aws->region,
                      china ? ".cn" : "");
    return eqops__buf_detach(&b);
}

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v && (!strcasecmp(v, "true") || !strcmp(v, "1"));
}

static int check_endpoint(const char *url, const char *field, eqops_error *err)
{
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return eqops__err_field(err, EQOPS_EINVAL, field, "must be an http(s):// URL");
    if (strlen(url) > 1024)
        return eqops__err_field(err, EQOPS_EINVAL, field, "is longer than 1024 bytes");
    return 0;
}

/* "http://Host:port/" -> "http://host:port": without the trailing slash, so paths can be
 * appended, and the host lowercased, so the Host header sent is the one signed */
static char *endpoint_copy(const char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    char *copy = eqops__strndup(url, n);
    const char *sep = copy ? strstr(copy, "://") : NULL;
    for (char *p = sep ? (char *)sep + 3 : NULL; p && *p && *p != '/'; p++)
        *p = (char)tolower((unsigned char)*p);
    return copy;
}

/* ---- client -------------------------------------------------------------------------------- */

void eqops_aws_free(eqops_aws *aws)
{
    if (aws == NULL)
        return;
    eqops__aws_profiles_free(aws->profiles);
    eqops__free(aws->endpoint_all);
    for (int i = 0; i < AWS_SERVICE_COUNT; i++) {
        eqops__free(aws->endpoints[i]);
        eqops_aws_signer_free(aws->signers[i]);
    }
    eqops_aws_credentials_free(aws->fixed);
    eqops_aws_credentials_free(aws->cached);
    eqops__http_free(aws->http);
    eqops__free(aws->imds_endpoint);
    eqops__free(aws->ca_file);
    eqops__free(aws);
}

const char *eqops_aws_region(const eqops_aws *aws)
{
    return aws ? aws->region : NULL;
}

static char *home_path(const char *env, const char *rel)
{
    const char *v = getenv(env);
    if (v && *v)
        return eqops__strdup(v);
    const char *home = getenv("HOME");
    if (home == NULL || *home == '\0')
        return NULL;
    eqops_buf b = EQOPS_BUF_INIT;
    eqops__buf_printf(&b, "%s/%s", home, rel);
    return eqops__buf_detach(&b);
}

static const size_t aws_options_sizes[] = {sizeof(eqops_aws_options)};

EQOPS__OPTS_INIT_FN(eqops_aws_options_init, eqops_aws_options, aws_options_sizes)

int eqops_aws_new(eqops_aws **out, const eqops_aws_options *in, eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out = NULL;
    eqops_aws_options oc;
    if (EQOPS__OPTS_READ(&oc, in, aws_options_sizes, "aws options", err) != 0)
        return EQOPS_EINVAL;
    const eqops_aws_options *opts = &oc;
    if (opts->max_retries < -1 || opts->max_retries > 20)
        return eqops__err_field(err, EQOPS_EINVAL, "opts.max_retries", "-1 to 20");
    if (opts->connect_timeout_ms < 0 || opts->timeout_ms < 0)
        return eqops__err_field(
            err, EQOPS_EINVAL, opts->timeout_ms < 0 ? "opts.timeout_ms" : "opts.connect_timeout_ms",
            "must be >= 0");
    eqops_aws *aws = eqops__calloc(1, sizeof(*aws));
    if (aws == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "aws: out of memory");
    int rc = 0;
    /* profile and files */
    const char *profile = opts->profile;
    aws->profile_explicit = profile != NULL || getenv("AWS_PROFILE") != NULL;
    if (profile == NULL)
        profile = getenv("AWS_PROFILE");
    if (profile == NULL || *profile == '\0')
        profile = "default";
    if (strlen(profile) >= sizeof(aws->profile))
        rc = eqops__err_field(err, EQOPS_EINVAL, "opts.profile", "is too long");
    snprintf(aws->profile, sizeof(aws->profile), "%s", profile);
    char *config = opts->config_file ? eqops__strdup(opts->config_file)
                                     : home_path("AWS_CONFIG_FILE", ".aws/config");
    char *creds = opts->credentials_file
                      ? eqops__strdup(opts->credentials_file)
                      : home_path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    if (rc == 0)
        rc = eqops__aws_profiles_load(&aws->profiles, config, creds, err);
    eqops__free(config);
    eqops__free(creds);
    /* region */
    const char *region = opts->region;
    if (region == NULL)
        region = getenv("AWS_REGION");
    if (region == NULL || *region == '\0')
        region = getenv("AWS_DEFAULT_REGION");
    if ((region == NULL || *region == '\0') && rc == 0)
        region = eqops__aws_profile_get(aws->profiles, aws->profile, "region");
    if (region && *region) {
        bool ok = strlen(region) < sizeof(aws->region);
        for (const char *c = region; ok && *c; c++)
            ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-';
        if (!ok && rc == 0)
            rc = eqops__err_field(err, EQOPS_EINVAL, "region",
                                  "'%s' is not a region name (like eu-west-1)", region);
        else
            snprintf(aws->region, sizeof(aws->region), "%s", region);
    }
    /* endpoints */
    bool ignore_env = env_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    const char *all = opts->endpoint_url;
    if (all == NULL && !ignore_env)
        all = getenv("AWS_ENDPOINT_URL");
    if ((all == NULL || *all == '\0') && !ignore_env && rc == 0)
        all = eqops__aws_profile_get(aws->profiles, aws->profile, "endpoint_url");
    if (all && *all && rc == 0 &&
        (rc = check_endpoint(all, opts->endpoint_url ? "opts.endpoint_url" : "AWS_ENDPOINT_URL",
                             err)) == 0)
        aws->endpoint_all = endpoint_copy(all);
    for (int s = 0; s < AWS_SERVICE_COUNT && rc == 0 && !ignore_env && !opts->endpoint_url; s++) {
        const char *v = getenv(services[s].env);
        if (v && *v && (rc = check_endpoint(v, services[s].env, err)) == 0)
            aws->endpoints[s] = endpoint_copy(v);
    }
    const char *imds =
        opts->imds_endpoint ? opts->imds_endpoint : getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (imds && *imds && rc == 0)
        rc = check_endpoint(imds, "imds_endpoint", err);
    aws->imds_endpoint = endpoint_copy(imds && *imds ? imds : "http://169.254.169.254");
    /* attempts, timeouts */
    const char *attempts = getenv("AWS_MAX_ATTEMPTS");
    /* attempts in all: the retries after the first one, plus it (-1: no retries) */
    aws->max_attempts = opts->max_retries < 0   ? 1
                        : opts->max_retries > 0 ? opts->max_retries + 1
                        : attempts && atoi(attempts) > 0 && atoi(attempts) <= 21 ? atoi(attempts)
                                                                                 : 3;
    aws->cancel = opts->cancel;
    aws->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : 3000;
    aws->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 30000;
    aws->quota = QUOTA_MAX;
    const char *ca = opts->ca_file ? opts->ca_file : getenv("AWS_CA_BUNDLE");
    if (ca && *ca)
        aws->ca_file = eqops__strdup(ca);
    if (opts->credentials && rc == 0 &&
        (aws->fixed = eqops__aws_credentials_copy(opts->credentials)) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "aws: out of memory");
    if (rc == 0) {
        eqops_http_options ho = EQOPS_HTTP_OPTIONS_INIT;
        ho.connect_timeout_ms = aws->connect_timeout_ms;
        ho.timeout_ms = aws->timeout_ms;
        ho.max_retries = -1; /* the standard retry mode is ours */
        ho.ca_file = aws->ca_file;
        ho.cancel = aws->cancel;
        rc = eqops__http_new(&aws->http, &ho, err);
    }
    if (rc == 0 && (aws->imds_endpoint == NULL || (ca && *ca && aws->ca_file == NULL)))
        rc = eqops__err(err, EQOPS_ENOMEM, "aws: out of memory");
    if (rc != 0) {
        eqops_aws_free(aws);
        return rc;
    }
    *out = aws;
    return 0;
}

/* ---- errors -------------------------------------------------------------------------------- */

static const char *const throttling[] = {"Throttling",
                                         "ThrottlingException",
                                         "ThrottledException",
                                         "RequestThrottledException",
                                         "TooManyRequestsException",
                                         "ProvisionedThroughputExceededException",
                                         "TransactionInProgressException",
                                         "RequestLimitExceeded",
                                         "BandwidthLimitExceeded",
                                         "LimitExceededException",
                                         "RequestThrottled",
                                         "SlowDown",
                                         "PriorRequestNotComplete",
                                         "EC2ThrottledException",
                                         NULL};
/* botocore's transient codes (500/502/503/504 are retried by status), and the web identity
 * provider's IDPCommunicationError (aws-c-auth retries it) */
static const char *const transient[] = {"RequestTimeout", "RequestTimeoutException",
                                        "PriorRequestNotComplete", "IDPCommunicationError", NULL};

static bool listed(const char *const *list, const char *s)
{
    for (size_t i = 0; s && list[i]; i++)
        if (!strcmp(list[i], s))
            return true;
    return false;
}

bool eqops__aws_retryable(const char *type, long status, bool *throttle)
{
    *throttle = listed(throttling, type) || status == 429;
    return *throttle || listed(transient, type) || status == 500 || status == 502 ||
           status == 503 || status == 504;
}

int eqops__aws_code_of(const char *type, long status)
{
    static const struct {
        const char *type;
        int code;
    } map[] = {
        {"ResourceNotFoundException", EQOPS_ENOTFOUND},
        {"NoSuchEntity", EQOPS_ENOTFOUND},
        {"NotFoundException", EQOPS_ENOTFOUND},
        {"ResourceExistsException", EQOPS_EEXISTS},
        {"EntityAlreadyExists", EQOPS_EEXISTS},
        {"ResourceInUseException", EQOPS_ECONFLICT},
        {"InvalidClientTokenId", EQOPS_EAUTH},
        {"UnrecognizedClientException", EQOPS_EAUTH},
        {"ExpiredToken", EQOPS_EAUTH},
        {"ExpiredTokenException", EQOPS_EAUTH},
        {"InvalidSignatureException", EQOPS_EAUTH},
        {"SignatureDoesNotMatch", EQOPS_EAUTH},
        {"IncompleteSignature", EQOPS_EAUTH},
        {"MissingAuthenticationToken", EQOPS_EAUTH},
        {"InvalidIdentityToken", EQOPS_EAUTH},
        {"AccessDenied", EQOPS_EFORBIDDEN},
        {"AccessDeniedException", EQOPS_EFORBIDDEN},
        {"UnauthorizedOperation", EQOPS_EFORBIDDEN},
        {"DecryptionFailure", EQOPS_EFORBIDDEN},
        {"ValidationError", EQOPS_EINVAL},
        {"ValidationException", EQOPS_EINVAL},
        {"InvalidParameterException", EQOPS_EINVAL},
        {"InvalidParameterValue", EQOPS_EINVAL},
        {"InvalidParameterValueException", EQOPS_EINVAL},
        {"InvalidParameterCombination", EQOPS_EINVAL},
        {"InvalidParameterCombinationException", EQOPS_EINVAL},
        {"MissingParameter", EQOPS_EINVAL},
        {"MissingRequiredParameterException", EQOPS_EINVAL},
        {"InvalidRequestException", EQOPS_EINVAL},
        {"MalformedPolicyDocumentException", EQOPS_EINVAL},
        {"PreconditionNotMetException", EQOPS_ECONFLICT},
    };
    for (size_t i = 0; type && i < EQOPS__ARRAY_LEN(map); i++)
        if (!strcmp(map[i].type, type))
            return map[i].code;
    bool throttle;
    if (type && eqops__aws_retryable(type, status, &throttle) && throttle)
        return EQOPS_ERATELIMIT;
    return status >= 400 ? eqops__http_status_code(status) : EQOPS_EPROTO;
}

/* Overwrite the text of every node (parsed without a dictionary, so the text is the node's
 * own) before the tree is freed. */
static void wipe_text(xmlNodePtr n, int depth)
{
    for (; n != NULL && depth < 256; n = n->next) {
        if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content &&
            (n->doc == NULL || n->doc->dict == NULL || !xmlDictOwns(n->doc->dict, n->content)))
            eqops__wipe(n->content, (size_t)xmlStrlen(n->content));
        if (n->type == XML_ELEMENT_NODE)
            wipe_text(n->children, depth + 1);
    }
}

int eqops__aws_xml_text(char **out, const char *xml, size_t len, const char *name)
{
    *out = NULL;
    if (len > INT32_MAX)
        return EQOPS_ETOOBIG;
    /* no network, no entities, no DTD loading: an answer is data */
    xmlDocPtr doc =
        xmlReadMemory(xml, (int)len, NULL, NULL,
                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NODICT);
    if (doc == NULL)
        return EQOPS_EPROTO;
    int rc = EQOPS_ENOTFOUND;
    xmlNodePtr stack[64];
    int depth = 0;
    stack[depth++] = xmlDocGetRootElement(doc);
    while (depth > 0 && rc == EQOPS_ENOTFOUND) {
        xmlNodePtr n = stack[--depth];
        for (; n != NULL; n = n->next) {
            if (n->type != XML_ELEMENT_NODE)
                continue;
            if (!strcmp((const char *)n->name, name)) {
                xmlChar *t = xmlNodeGetContent(n);
                *out = eqops__strdup(t ? (const char *)t : "");
                if (t) {
                    memset(t, 0, strlen((const char *)t)); /* may be a secret key */
                    xmlFree(t);
                }
                rc = *out ? 0 : EQOPS_ENOMEM;
                break;
            }
            if (n->children && depth < 64)
                stack[depth++] = n->children;
        }
    }
    wipe_text(xmlDocGetRootElement(doc), 0); /* STS answers hold secret keys */
    xmlFreeDoc(doc);
    return rc;
}

int eqops__aws_error(const eqops_http_response *resp, const char *what, eqops_error *err)
{
    char type[128] = "", message[200] = "";
    const char *body = eqops__buf_cstr(&resp->body);
    size_t len = resp->body.len;
    const char *hdr = eqops__http_header(resp, "x-amzn-ErrorType");
    json_t *doc = len && body[0] == '{' ? json_loadb(body, len, 0, NULL) : NULL;
    if (doc) {
        const char *t = json_string_value(json_object_get(doc, "__type"));
        if (t == NULL)
            t = json_string_value(json_object_get(doc, "code"));
        const char *m = json_string_value(json_object_get(doc, "message"));
        if (m == NULL)
            m = json_string_value(json_object_get(doc, "Message"));
        if (t)
            snprintf(type, sizeof(type), "%s", t);
        if (m)
            snprintf(message, sizeof(message), "%s", m);
        json_decref(doc);
    } else if (len && memchr(body, '<', len < 64 ? len : 64)) {
        char *t = NULL, *m = NULL;
        if (eqops__aws_xml_text(&t, body, len, "Code") == 0)
            snprintf(type, sizeof(type), "%s", t);
        if (eqops__aws_xml_text(&m, body, len, "Message") == 0)
            snprintf(message, sizeof(message), "%s", m);
        eqops__free(t);
        eqops__free(m);
    }
    if (!type[0] && hdr)
        snprintf(type, sizeof(type), "%s", hdr);
    /* "aws.protocoltests#Code:http://..." -> "Code" */
    char *colon = strchr(type, ':');
    if (colon)
        *colon = '\0';
    char *hash = strrchr(type, '#');
    if (hash)
        memmove(type, hash + 1, strlen(hash + 1) + 1);
    /* query-compatible services name the query code */
    const char *qe = eqops__http_header(resp, "x-amzn-query-error");
    if (qe && *qe) {
        const char *semi = strchr(qe, ';');
        snprintf(type, sizeof(type), "%.*s", (int)(semi ? semi - qe : (long)strlen(qe)), qe);
    }
    int code = eqops__aws_code_of(type[0] ? type : NULL, resp->status);
    eqops__err(err, code, "%s: %s%s%s (HTTP %ld)", what, type[0] ? type : "error",
               message[0] ? ": " : "", message, resp->status);
    eqops__err_upstream(err, (int)resp->status, type, resp->retry_after);
    eqops__err_body(err, body, len);
    return code;
}

/* ---- the request loop ------------------------------------------------------------------------ */

static eqops_aws_signer *new_signer(eqops_aws *aws, aws_service s,
                                    const eqops_aws_credentials *creds, eqops_error *err)
{
    eqops_aws_sign_options o = EQOPS_AWS_SIGN_OPTIONS_INIT;
    o.region = aws->region;
    o.service = services[s].signing;
    eqops_aws_signer *signer = NULL;
    eqops_aws_signer_new(&signer, creds, &o, err);
    return signer;
}

/* The client's signer of a service for its current credentials (the signing key cached). */
static eqops_aws_signer *signer_for(eqops_aws *aws, aws_service s,
                                    const eqops_aws_credentials *creds, eqops_error *err)
{
    if (aws->signers[s] && aws->signer_gen[s] == aws->creds_gen)
        return aws->signers[s];
    eqops_aws_signer_free(aws->signers[s]);
    aws->signers[s] = new_signer(aws, s, creds, err);
    aws->signer_gen[s] = aws->creds_gen;
    return aws->signers[s];
}

int eqops__aws_call(eqops_aws *aws, const aws_call *call, eqops_http_response *resp,
                    eqops_error *err)
{
    if (aws->region[0] == '\0')
        return eqops__err_field(err, EQOPS_EINVAL, "region",
                                "no region: set AWS_REGION, the profile's region or the option");
    char *base = eqops__aws_endpoint(aws, call->service);
    eqops_buf url = EQOPS_BUF_INIT;
    eqops__buf_printf(&url, "%s%s", base ? base : "", call->path_query);
    eqops__free(base);
    if (eqops__buf_ok(&url) != 0)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    int rc = 0;
    int taken = 0; /* quota spent on this request's retries */
    eqops__backoff policy = {BACKOFF_BASE_MS, BACKOFF_CAP_MS, 0, aws->max_attempts - 1, 0,
                             aws->cancel};
    for (int attempt = 1;; attempt++) {
        const eqops_aws_credentials *creds = NULL;
        eqops_aws_signer *signer = NULL, *temp = NULL;
        const char *headers[12];
        char *owned[8];
        size_t nh = 0, no = 0;
        char ct[128], target[160];
        if (call->content_type) {
            snprintf(ct, sizeof(ct), "Content-Type: %s", call->content_type);
            headers[nh++] = ct;
        }
        if (call->target) {
            snprintf(target, sizeof(target), "X-Amz-Target: %s", call->target);
            headers[nh++] = target;
        }
        if (call->query_mode)
            headers[nh++] = "x-amzn-query-mode: true";
        headers[nh] = NULL;
        if (!call->unsigned_request) {
            if (call->creds) /* someone else's credentials (a role's source): not cached */
                signer = temp = new_signer(aws, call->service, call->creds, err);
            else if ((rc = eqops__aws_credentials(aws, &creds, err)) == 0)
                signer = signer_for(aws, call->service, creds, err);
            if (signer == NULL) {
                rc = rc ? rc : EQOPS_ENOMEM;
                break;
            }
            if ((rc = eqops_aws_signer_sign(signer, call->method, eqops__buf_cstr(&url), headers,
                                            call->body, call->body_len, 0, err)) != 0) {
                eqops_aws_signer_free(temp);
                break;
            }
            for (size_t i = 0; i < eqops_aws_signer_header_count(signer) && no < 8; i++) {
                eqops_buf h = EQOPS_BUF_INIT;
                eqops__buf_printf(&h, "%s: %s", eqops_aws_signer_header_name(signer, i),
                                  eqops_aws_signer_header_value(signer, i));
                owned[no] = eqops__buf_detach(&h);
                if (owned[no] == NULL) {
                    rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
                    break;
                }
                headers[nh++] = owned[no++];
            }
            headers[nh] = NULL;
            eqops_aws_signer_free(temp);
            if (rc != 0) {
                for (size_t i = 0; i < no; i++)
                    eqops__secret_free(owned[i]);
                break;
            }
        }
        eqops_http_request req = {0};
        req.method = call->method;
        req.url = eqops__buf_cstr(&url);
        req.headers = headers;
        req.body = call->body;
        req.body_len = call->body_len;
        req.retry = EQOPS_HTTP_RETRY_NEVER;
        eqops__http_response_clear(resp);
        eqops_error e = EQOPS_ERROR_INIT;
        rc = eqops__http_do(aws->http, &req, resp, &e);
        for (size_t i = 0; i < no; i++)
            eqops__secret_free(owned[i]); /* Authorization, security token */
        bool throttle = false, retry = false;
        int cost = RETRY_COST;
        if (rc == EQOPS_ETIMEOUT || rc == EQOPS_EUNAVAILABLE) {
            retry = true;
            cost = rc == EQOPS_ETIMEOUT ? TIMEOUT_COST : RETRY_COST;
            eqops__err_move(err, &e);
        } else if (rc != 0) {
            eqops__err_move(err, &e);
            break;
        } else if (resp->status >= 200 && resp->status < 300) {
            eqops_error_clear(&e);
            /* success refunds: 1 without retries, else what the retries took */
            aws->quota += taken ? taken : 1;
            if (aws->quota > QUOTA_MAX)
                aws->quota = QUOTA_MAX;
            rc = 0;
            break;
        } else {
            eqops_error_clear(&e);
            rc = eqops__aws_error(resp, call->what, err);
            retry = eqops__aws_retryable(err ? err->reason : "", resp->status, &throttle);
            if (err == NULL) { /* classify without a caller's error struct */
                eqops_error tmp = EQOPS_ERROR_INIT;
                eqops__aws_error(resp, call->what, &tmp);
                retry = eqops__aws_retryable(tmp.reason, resp->status, &throttle);
                eqops_error_clear(&tmp);
            }
        }
        int64_t wait = 0;
        if (!retry || !eqops__backoff_next(&policy, attempt, 0, &wait))
            break;
        if (aws->quota < cost) {
            eqops__log(EQOPS_LOG_WARN, MOD, "%s: retry quota spent; not retrying", call->what);
            break;
        }
        aws->quota -= cost;
        taken += cost;
        eqops__log(EQOPS_LOG_WARN, MOD, "%s: %s; retrying in %lld ms (attempt %d of %d)",
                   call->what, err ? err->message : "failed", (long long)wait, attempt + 1,
                   aws->max_attempts);
        if (hook_sleep)
            hook_sleep(wait);
        else if (eqops__backoff_wait(&policy, wait) != 0) {
            rc = eqops__err(err, EQOPS_ECANCELED, "%s: cancelled", call->what);
            break;
        }
        rc = 0;
    }
    eqops__buf_free(&url);
    return rc;
}

/* ---- presign --------------------------------------------------------------------------------- */

int eqops_aws_presign(char **out, eqops_aws *aws, const char *method, const char *url,
                      const char *service, int64_t expires_s, eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL || aws == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "aws" : "out", "must not be NULL");
    *out = NULL;
    if (aws->region[0] == '\0')
        return eqops__err_field(err, EQOPS_EINVAL, "region", "no region");
    const eqops_aws_credentials *creds = NULL;
    int rc = eqops__aws_credentials(aws, &creds, err);
    if (rc != 0)
        return rc;
    eqops_aws_sign_options o = EQOPS_AWS_SIGN_OPTIONS_INIT;
    o.region = aws->region;
    o.service = service;
    o.presign = 1;
    o.expires_s = expires_s;
    o.s3 = service && !strcmp(service, "s3");
    eqops_aws_signer *s = NULL;
    rc = eqops_aws_signer_new(&s, creds, &o, err);
    if (rc == 0)
        rc = eqops_aws_signer_sign(s, method && *method ? method : "GET", url, NULL, NULL, 0, 0,
                                   err);
    if (rc == 0 && (*out = eqops__strdup(eqops_aws_signer_url(s))) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    eqops_aws_signer_free(s);
    return rc;
}
