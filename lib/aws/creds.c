/*
 * creds.c - the default credential chain (botocore's order), each source, and the cache with
 * its refresh windows: temporary credentials are refreshed from 15 minutes before expiry (a
 * failure then keeps the old ones) and must be from 10 minutes before.
 */
#include "aws_internal.h"

#include <curl/curl.h>
#include <strings.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MOD                "aws"
#define ADVISORY_MS        (15 * 60 * 1000)
#define MANDATORY_MS       (10 * 60 * 1000)
#define PROCESS_TIMEOUT_MS 60000
#define PROCESS_OUTPUT_MAX (64 * 1024)

/* ---- small helpers -----------------------------------------------------------------------------
 */

int eqops__aws_parse_time(const char *s, int64_t *out_ms)
{
    return s ? eqops__time_parse_rfc3339(s, out_ms, NULL) : EQOPS_EINVAL;
}

int eqops__aws_uuid(char out[37])
{
    unsigned char b[16];
    if (eqops__random_bytes(b, sizeof(b)) != 0)
        return EQOPS_EINTERNAL;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int eqops__aws_credentials_from_json(eqops_aws_credentials **out, const char *text, size_t len,
                                     const char *source, const char *what, eqops_error *err)
{
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (doc == NULL || !json_is_object(doc)) {
        json_decref(doc);
        return eqops__err(err, EQOPS_EPROTO, "%s: the answer is not a JSON object", what);
    }
    const char *akid = json_string_value(json_object_get(doc, "AccessKeyId"));
    const char *secret = json_string_value(json_object_get(doc, "SecretAccessKey"));
    const char *token = json_string_value(json_object_get(doc, "Token"));
    if (token == NULL)
        token = json_string_value(json_object_get(doc, "SessionToken"));
    const char *exp = json_string_value(json_object_get(doc, "Expiration"));
    int64_t exp_ms = 0;
    int rc = 0;
    if (akid == NULL || secret == NULL || !*akid || !*secret)
        rc = eqops__err(err, EQOPS_EPROTO, "%s: no AccessKeyId and SecretAccessKey in the answer",
                        what);
    else if (exp && eqops__aws_parse_time(exp, &exp_ms) != 0)
        rc = eqops__err(err, EQOPS_EPROTO, "%s: Expiration is not a time", what);
    else if (eqops__aws_credentials_make(out, akid, secret, token, exp_ms, source) != 0)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (secret)
        eqops__wipe((char *)secret, strlen(secret));
    if (token)
        eqops__wipe((char *)token, strlen(token));
    json_decref(doc);
    return rc;
}

/* ---- STS calls for roles -------------------------------------------------------------------- */

static void form_put(eqops_buf *b, const char *key, const char *value)
{
    eqops__buf_printf(b, "&%s=", key);
    eqops__aws_uri_encode(b, value, strlen(value), false);
}

int eqops__aws_sts_credentials(eqops_aws_credentials **out, const char *body, size_t len,
                               const char *source, const char *what, eqops_error *err)
{
    char *akid = NULL, *secret = NULL, *token = NULL, *exp = NULL;
    int rc = 0;
    if (eqops__aws_xml_text(&akid, body, len, "AccessKeyId") != 0 ||
        eqops__aws_xml_text(&secret, body, len, "SecretAccessKey") != 0 ||
        eqops__aws_xml_text(&token, body, len, "SessionToken") != 0)
        rc = eqops__err(err, EQOPS_EPROTO, "%s: no credentials in the answer", what);
    int64_t exp_ms = 0;
    if (rc == 0 && eqops__aws_xml_text(&exp, body, len, "Expiration") == 0 &&
        eqops__aws_parse_time(exp, &exp_ms) != 0)
        rc = eqops__err(err, EQOPS_EPROTO, "%s: Expiration is not a time", what);
    if (rc == 0 && eqops__aws_credentials_make(out, akid, secret, token, exp_ms, source) != 0)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    eqops__free(akid);
    eqops__secret_free(secret);
    eqops__secret_free(token);
    eqops__free(exp);
    return rc;
}

static int check_duration(int duration_s, eqops_error *err)
{
    if (duration_s != 0 && (duration_s < 900 || duration_s > 43200))
        return eqops__err_field(err, EQOPS_EINVAL, "duration_s", "must be 900 to 43200 seconds");
    return 0;
}

static int check_role(const char *role_arn, const char *session, eqops_error *err)
{
    if (role_arn == NULL || strncmp(role_arn, "arn:", 4) != 0 || strlen(role_arn) > 2048)
        return eqops__err_field(err, EQOPS_EINVAL, "role_arn", "must be a role ARN (arn:...)");
    if (session) {
        size_t n = strlen(session);
        bool ok = n >= 2 && n <= 64;
        for (size_t i = 0; ok && i < n; i++) {
            char c = session[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 strchr("_=,.@-", c);
        }
        if (!ok)
            return eqops__err_field(err, EQOPS_EINVAL, "session_name",
                                    "must be 2 to 64 of letters, digits and _=,.@-");
    }
    return 0;
}

static void default_session(char out[64])
{
    snprintf(out, 64, "eqops-%lld", (long long)eqops__now_ms());
}

/* AssumeRole signed with `source` (NULL: the chain's credentials). */
/* Release an answer that held credentials, wiping them, and its client. */
static void secret_response_free(eqops_http_response *resp, eqops_http *h)
{
    if (resp->body.data)
        eqops__wipe(resp->body.data, resp->body.len);
    eqops__http_response_clear(resp);
    eqops__http_free(h);
}

/* POST a form to STS — signed with `source` (NULL: the client's credentials), or not at
 * all — and read the <Credentials> of the answer. The form (it may hold a web identity
 * token) and the answer are wiped. */
static int sts_credentials_call(eqops_aws_credentials **out, eqops_aws *aws, eqops_buf *form,
                                bool sign, const eqops_aws_credentials *source,
                                const char *source_name, const char *what, eqops_error *err)
{
    if (eqops__buf_ok(form) != 0) {
        eqops__buf_wipe(form);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    aws_call call = {
        AWS_STS, "POST",     "/",       "application/x-www-form-urlencoded; charset=utf-8",
        NULL,    form->data, form->len, !sign,
        false,   what,       source};
    eqops_http_response resp = EQOPS_HTTP_RESPONSE_INIT;
    int rc = eqops__aws_call(aws, &call, &resp, err);
    if (rc == 0)
        rc = eqops__aws_sts_credentials(out, eqops__buf_cstr(&resp.body), resp.body.len,
                                        source_name, what, err);
    secret_response_free(&resp, NULL);
    eqops__buf_wipe(form);
    return rc;
}

static int assume_role(eqops_aws_credentials **out, eqops_aws *aws,
                       const eqops_aws_credentials *source, const char *role_arn,
                       const char *session, int duration_s, const char *external_id,
                       eqops_error *err)
{
    *out = NULL;
    int rc = check_role(role_arn, session, err);
    if (rc == 0)
        rc = check_duration(duration_s, err);
    if (rc != 0)
        return rc;
    char def[64];
    if (session == NULL)
        default_session(def);
    eqops_buf body = EQOPS_BUF_INIT;
    eqops__buf_puts(&body, "Action=AssumeRole&Version=2011-06-15");
    form_put(&body, "RoleArn", role_arn);
    form_put(&body, "RoleSessionName", session ? session : def);
    eqops__buf_printf(&body, "&DurationSeconds=%d", duration_s ? duration_s : 3600);
    if (external_id)
        form_put(&body, "ExternalId", external_id);
    return sts_credentials_call(out, aws, &body, true, source, "assume-role", "sts AssumeRole",
                                err);
}

static int assume_web_identity(eqops_aws_credentials **out, eqops_aws *aws, const char *role_arn,
                               const char *session, const char *token, int duration_s,
                               eqops_error *err)
{
    *out = NULL;
    int rc = check_role(role_arn, session, err);
    if (rc == 0)
        rc = check_duration(duration_s, err);
    if (rc == 0 && (token == NULL || *token == '\0' || strlen(token) > 20000))
        rc = eqops__err_field(err, EQOPS_EINVAL, "web_identity_token",
                              "must be 1 to 20000 characters");
    if (rc != 0)
        return rc;
    char def[64];
    if (session == NULL)
        default_session(def);
    eqops_buf body = EQOPS_BUF_INIT;
    eqops__buf_puts(&body, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15");
    form_put(&body, "RoleArn", role_arn);
    form_put(&body, "RoleSessionName", session ? session : def);
    form_put(&body, "WebIdentityToken", token);
    if (duration_s)
        eqops__buf_printf(&body, "&DurationSeconds=%d", duration_s);
    /* the token is the proof: the request is not signed */
    return sts_credentials_call(out, aws, &body, false, NULL, "web-identity",
                                "sts AssumeRoleWithWebIdentity", err);
}

int eqops_aws_sts_assume_role(eqops_aws_credentials **out, eqops_aws *aws, const char *role_arn,
                              const char *session_name, int duration_s, eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL || aws == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "aws" : "out", "must not be NULL");
    return assume_role(out, aws, NULL, role_arn, session_name, duration_s, NULL, err);
}

int eqops_aws_sts_assume_role_with_web_identity(eqops_aws_credentials **out, eqops_aws *aws,
                                                const char *role_arn, const char *session_name,
                                                const char *web_identity_token, int duration_s,
                                                eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL || aws == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "aws" : "out", "must not be NULL");
    return assume_web_identity(out, aws, role_arn, session_name, web_identity_token, duration_s,
                               err);
}

/* ---- sources ----------------------------------------------------------------------------------
 */

static int web_identity_file(eqops_aws_credentials **out, eqops_aws *aws, const char *role_arn,
                             const char *file, const char *session, eqops_error *err)
{
    char *token = NULL;
    size_t len = 0;
    int rc = eqops__read_file(&token, &len, file, 20000, err);
    if (rc != 0) {
        eqops__err_prefix(err, "web identity token file: ");
        return rc;
    }
    while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r' || token[len - 1] == ' '))
        token[--len] = '\0';
    rc = assume_web_identity(out, aws, role_arn, session, token, 0, err);
    eqops__wipe_free(token, len);
    return rc;
}

/* Split a credential_process command line like a shell would (quotes, backslashes), without
 * running a shell. */
static int split_command(const char *cmd, char ***argv_out, eqops_error *err)
{
    size_t cap = 8, n = 0, len = strlen(cmd);
    char **argv = eqops__calloc(cap, sizeof(char *));
    char *word = eqops__malloc(len + 1);
    if (argv == NULL || word == NULL) {
        eqops__free(argv);
        eqops__free(word);
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    const char *p = cmd;
    int rc = 0;
    while (rc == 0) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        size_t w = 0;
        char quote = 0;
        for (; *p && (quote || (*p != ' ' && *p != '\t')); p++) {
            if (quote) {
                if (*p == quote)
                    quote = 0;
                else if (*p == '\\' && quote == '"' && p[1])
                    word[w++] = *++p;
                else
                    word[w++] = *p;
            } else if (*p == '"' || *p == '\'') {
                quote = *p;
            } else if (*p == '\\' && p[1]) {
                word[w++] = *++p;
            } else {
                word[w++] = *p;
            }
        }
        if (quote) {
            rc = eqops__err_field(err, EQOPS_EINVAL, "credential_process", "an unclosed quote");
            break;
        }
        if (n + 2 > cap) {
            char **na = eqops__realloc(argv, cap * 2 * sizeof(char *));
            if (na == NULL) {
                rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
                break;
            }
            argv = na;
            cap *= 2;
        }
        if ((argv[n++] = eqops__strndup(word, w)) == NULL)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        argv[n] = NULL;
    }
    eqops__free(word);
    if (rc == 0 && n == 0)
        rc = eqops__err_field(err, EQOPS_EINVAL, "credential_process", "is empty");
    if (rc != 0) {
        for (size_t i = 0; i < n; i++)
            eqops__free(argv[i]);
        eqops__free(argv);
        return rc;
    }
    *argv_out = argv;
    return 0;
}

/* credential_process: run it (no shell), read its JSON (Version 1) with a deadline. */
static int process_credentials(eqops_aws_credentials **out, const char *cmd, eqops_error *err)
{
    char **argv = NULL;
    int rc = split_command(cmd, &argv, err);
    if (rc != 0)
        return rc;
    eqops_buf outbuf = EQOPS_BUF_INIT;
    rc = eqops__run(&outbuf, (const char *const *)argv, NULL, PROCESS_TIMEOUT_MS,
                    PROCESS_OUTPUT_MAX, "credential_process", err);
    if (rc == 0) {
        json_t *doc = json_loadb(outbuf.data ? outbuf.data : "", outbuf.len, 0, NULL);
        json_int_t version = json_integer_value(json_object_get(doc, "Version"));
        json_decref(doc);
        if (version != 1)
            rc = eqops__err(err, EQOPS_EPROTO,
                            "credential_process: the output must be JSON with \"Version\": 1");
        else
            rc = eqops__aws_credentials_from_json(out, outbuf.data, outbuf.len, "process",
                                                  "credential_process", err);
    }
    eqops__buf_wipe(&outbuf);
    for (size_t i = 0; argv[i]; i++)
        eqops__free(argv[i]);
    eqops__free(argv);
    return rc;
}

/* An HTTP handle for the metadata endpoints: short timeouts, no retries of its own, the
 * client's token. */
static int meta_http(eqops_http **out, const eqops_aws *aws, long timeout_ms, eqops_error *err)
{
    eqops_http_options o = EQOPS_HTTP_OPTIONS_INIT;
    o.cancel = aws->cancel;
    o.connect_timeout_ms = timeout_ms;
    o.timeout_ms = timeout_ms;
    o.max_retries = -1;
    o.disable_http2 = true;
    return eqops__http_new(out, &o, err);
}

/* Container credentials: ECS task roles and EKS Pod Identity. */
static bool container_url_allowed(const char *text)
{
    static const char *const hosts[] = {
        "127.0.0.1",      "localhost",      "[::1]", "169.254.170.2",
        "169.254.170.23", "[fd00:ec2::23]", NULL};
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, text, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_NO_USER &&
              curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_NO_PASSWORD &&
              (!strcmp(scheme, "http") || !strcmp(scheme, "https"));
    bool listed = false;
    for (size_t i = 0; ok && hosts[i] && !listed; i++)
        listed = !strcasecmp(host, hosts[i]);
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(password);
    curl_url_cleanup(u);
    return ok && listed;
}

static int container_credentials(eqops_aws_credentials **out, const eqops_aws *aws,
                                 eqops_error *err)
{
    const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    eqops_buf url = EQOPS_BUF_INIT;
    if (rel) {
        if (rel[0] != '/')
            return eqops__err_field(err, EQOPS_EINVAL, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                    "must be a path starting with '/'");
        eqops__buf_printf(&url, "http://169.254.170.2%s", rel);
    } else {
        eqops__buf_puts(&url, full);
    }
    /* only loopback and the link-local agents may receive the authorization token: the URL
     * is parsed by libcurl, as it will be when fetched, and the host compared exactly */
    if (!container_url_allowed(eqops__buf_cstr(&url))) {
        eqops__buf_free(&url);
        return eqops__err_field(err, EQOPS_EINVAL,
                                rel ? "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
                                    : "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                "must be http(s) to loopback or the container agent "
                                "(169.254.170.2, 169.254.170.23, fd00:ec2::23), without user "
                                "information");
    }
    /* the token file is read for each fetch: the agent rotates it */
    char *token = NULL;
    size_t token_len = 0;
    const char *token_file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    int rc = 0;
    if (token_file) {
        if ((rc = eqops__read_file(&token, &token_len, token_file, 16384, err)) != 0) {
            eqops__buf_free(&url);
            eqops__err_prefix(err, "container authorization token file: ");
            return rc;
        }
        while (token_len && (token[token_len - 1] == '\n' || token[token_len - 1] == '\r'))
            token[--token_len] = '\0';
    } else if (env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
        token = eqops__strdup(env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
        token_len = token ? strlen(token) : 0;
    }
    eqops_buf auth = EQOPS_BUF_INIT;
    if (token) {
        if (strpbrk(token, "\r\n")) {
            eqops__wipe_free(token, token_len);
            eqops__buf_free(&url);
            return eqops__err(err, EQOPS_EINVAL,
                              "container authorization token: contains a line break");
        }
        eqops__buf_printf(&auth, "Authorization: %s", token);
        eqops__wipe_free(token, token_len);
    }
    const char *headers[] = {auth.len ? auth.data : NULL, NULL};
    eqops_http *h = NULL;
    if (eqops__buf_ok(&url) != 0 || eqops__buf_ok(&auth) != 0)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (rc == 0)
        rc = meta_http(&h, aws, 2000, err);
    eqops_http_response resp = EQOPS_HTTP_RESPONSE_INIT;
    for (int attempt = 0; rc == 0 && attempt < 3; attempt++) {
        eqops_http_request req = {0};
        req.method = "GET";
        req.url = url.data;
        req.headers = headers[0] ? headers : NULL;
        req.retry = EQOPS_HTTP_RETRY_NEVER;
        rc = eqops__http_do(h, &req, &resp, err);
        if (rc == 0 && resp.status == 200)
            break;
        if (rc == 0) {
            rc = eqops__http_status_error(&resp, "container credentials", err);
            if (resp.status < 500)
                break;
        }
        if (attempt < 2 && rc != EQOPS_ECANCELED) {
            eqops_error_clear(err);
            rc = eqops__sleep_cancel(aws->cancel, 1000) != 0
                     ? eqops__err(err, EQOPS_ECANCELED, "container credentials: cancelled")
                     : 0;
        }
    }
    if (rc == 0)
        rc = eqops__aws_credentials_from_json(out, resp.body.data, resp.body.len, "container",
                                              "container credentials", err);
    secret_response_free(&resp, h);
    eqops__buf_wipe(&auth);
    eqops__buf_free(&url);
    return rc;
}

/* IMDSv2: a session token (PUT), the role name, the role's credentials; IMDSv1 only when the
 * token PUT is refused with 403/404/405 and v1 is not disabled. 1 s timeouts. */
static int imds_credentials(eqops_aws_credentials **out, eqops_aws *aws, eqops_error *err)
{
    eqops_http *h = NULL;
    int rc = meta_http(&h, aws, 1000, err);
    if (rc != 0)
        return rc;
    eqops_buf url = EQOPS_BUF_INIT, tok = EQOPS_BUF_INIT;
    eqops_http_response resp = EQOPS_HTTP_RESPONSE_INIT;
    eqops__buf_printf(&url, "%s/latest/api/token", aws->imds_endpoint);
    const char *put_headers[] = {"x-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
    eqops_http_request req = {0};
    req.method = "PUT";
    req.url = url.data;
    req.headers = put_headers;
    req.retry = EQOPS_HTTP_RETRY_NEVER;
    rc = eqops__buf_ok(&url) ? eqops__err(err, EQOPS_ENOMEM, "out of memory")
                             : eqops__http_do(h, &req, &resp, err);
    if (rc == 0 && resp.status == 200) {
        eqops__buf_printf(&tok, "x-aws-ec2-metadata-token: %.*s", (int)resp.body.len,
                          resp.body.data ? resp.body.data : "");
    } else if (rc == 0 && (resp.status == 403 || resp.status == 404 || resp.status == 405) &&
               !(env("AWS_EC2_METADATA_V1_DISABLED") &&
                 !strcasecmp(env("AWS_EC2_METADATA_V1_DISABLED"), "true"))) {
        eqops__log(EQOPS_LOG_WARN, MOD, "IMDSv2 refused (HTTP %ld); using IMDSv1", resp.status);
    } else if (rc == 0) {
        rc = eqops__http_status_error(&resp, "instance metadata token", err);
    }
    const char *headers[] = {tok.len ? tok.data : NULL, NULL};
    char role[256] = "";
    if (rc == 0) {
        eqops__buf_truncate(&url, 0);
        eqops__buf_printf(&url, "%s/latest/meta-data/iam/security-credentials/",
                          aws->imds_endpoint);
        req.method = "GET";
        req.url = url.data;
        req.headers = headers[0] ? headers : NULL;
        rc = eqops__http_do(h, &req, &resp, err);
        if (rc == 0 && resp.status != 200)
            rc = eqops__http_status_error(&resp, "instance metadata role", err);
        if (rc == 0) {
            size_t n = resp.body.len;
            const char *b = resp.body.data ? resp.body.data : "";
            const char *nl = memchr(b, '\n', n);
            if (nl)
                n = (size_t)(nl - b);
            if (n == 0 || n >= sizeof(role) || memchr(b, '/', n))
                rc = eqops__err(err, EQOPS_EPROTO, "instance metadata: no role attached");
            else
                snprintf(role, sizeof(role), "%.*s", (int)n, b);
        }
    }
    if (rc == 0) {
        eqops__buf_truncate(&url, 0);
        eqops__buf_printf(&url, "%s/latest/meta-data/iam/security-credentials/",
                          aws->imds_endpoint);
        eqops__aws_uri_encode(&url, role, strlen(role), false);
        req.url = url.data;
        rc = eqops__http_do(h, &req, &resp, err);
        if (rc == 0 && resp.status != 200)
            rc = eqops__http_status_error(&resp, "instance metadata credentials", err);
        if (rc == 0)
            rc = eqops__aws_credentials_from_json(out, resp.body.data, resp.body.len, "imds",
                                                  "instance metadata", err);
    }
    secret_response_free(&resp, h);
    eqops__buf_free(&url);
    eqops__buf_wipe(&tok);
    return rc;
}

/* ---- profiles ---------------------------------------------------------------------------------
 */

static int profile_credentials(eqops_aws_credentials **out, eqops_aws *aws, const char *profile,
                               int depth, eqops_error *err);

static int static_keys(eqops_aws_credentials **out, eqops_aws *aws, const char *profile)
{
    const char *akid = eqops__aws_profile_get(aws->profiles, profile, "aws_access_key_id");
    const char *secret = eqops__aws_profile_get(aws->profiles, profile, "aws_secret_access_key");
    if (!akid || !secret)
        return EQOPS_ENOTFOUND;
    char source[48];
    snprintf(source, sizeof(source), "profile %.39s", profile);
    return eqops__aws_credentials_make(
        out, akid, secret, eqops__aws_profile_get(aws->profiles, profile, "aws_session_token"), 0,
        source);
}

/* A role of a profile: its source's credentials, then AssumeRole. */
static int profile_role(eqops_aws_credentials **out, eqops_aws *aws, const char *profile, int depth,
                        eqops_error *err)
{
    const char *role = eqops__aws_profile_get(aws->profiles, profile, "role_arn");
    const char *source_profile = eqops__aws_profile_get(aws->profiles, profile, "source_profile");
    const char *credential_source =
        eqops__aws_profile_get(aws->profiles, profile, "credential_source");
    const char *session = eqops__aws_profile_get(aws->profiles, profile, "role_session_name");
    const char *duration = eqops__aws_profile_get(aws->profiles, profile, "duration_seconds");
    const char *external = eqops__aws_profile_get(aws->profiles, profile, "external_id");
    if (eqops__aws_profile_get(aws->profiles, profile, "mfa_serial"))
        return eqops__err(err, EQOPS_ENOTSUP,
                          "profile %s: mfa_serial needs an interactive MFA code; use another "
                          "profile",
                          profile);
    eqops_aws_credentials *source = NULL;
    int rc = 0;
    if (source_profile && credential_source)
        return eqops__err(err, EQOPS_EINVAL,
                          "profile %s: source_profile and credential_source are exclusive",
                          profile);
    if (source_profile) {
        if (!strcmp(source_profile, profile))
            rc = static_keys(&source, aws, profile) == 0
                     ? 0
                     : eqops__err(err, EQOPS_EINVAL,
                                  "profile %s: source_profile is itself but it has no keys",
                                  profile);
        else
            rc = profile_credentials(&source, aws, source_profile, depth + 1, err);
    } else if (!strcmp(credential_source, "Environment")) {
        const char *a = env("AWS_ACCESS_KEY_ID"), *s = env("AWS_SECRET_ACCESS_KEY");
        rc = a && s ? eqops__aws_credentials_make(&source, a, s, env("AWS_SESSION_TOKEN"), 0,
                                                  "environment")
                    : eqops__err(err, EQOPS_ENOTFOUND,
                                 "profile %s: credential_source Environment, but "
                                 "AWS_ACCESS_KEY_ID is not set",
                                 profile);
    } else if (!strcmp(credential_source, "EcsContainer")) {
        rc = container_credentials(&source, aws, err);
    } else if (!strcmp(credential_source, "Ec2InstanceMetadata")) {
        rc = imds_credentials(&source, aws, err);
    } else {
        rc = eqops__err(err, EQOPS_EINVAL,
                        "profile %s: credential_source must be Environment, EcsContainer or "
                        "Ec2InstanceMetadata",
                        profile);
    }
    if (rc == 0)
        rc = assume_role(out, aws, source, role, session, duration ? atoi(duration) : 0, external,
                         err);
    eqops_aws_credentials_free(source);
    return rc;
}

/* A profile's own credentials, in botocore's order within a profile. */
static int profile_credentials(eqops_aws_credentials **out, eqops_aws *aws, const char *profile,
                               int depth, eqops_error *err)
{
    *out = NULL;
    if (depth > 5)
        return eqops__err(err, EQOPS_EINVAL, "profile %s: source_profile chain too long (a loop?)",
                          profile);
    if (json_object_get(aws->profiles, profile) == NULL)
        return eqops__err(err, EQOPS_ENOTFOUND, "profile %s is not in the config files", profile);
    const char *role = eqops__aws_profile_get(aws->profiles, profile, "role_arn");
    const char *wif = eqops__aws_profile_get(aws->profiles, profile, "web_identity_token_file");
    if (role && (eqops__aws_profile_get(aws->profiles, profile, "source_profile") ||
                 eqops__aws_profile_get(aws->profiles, profile, "credential_source")))
        return profile_role(out, aws, profile, depth, err);
    if (role && wif)
        return web_identity_file(
            out, aws, role, wif,
            eqops__aws_profile_get(aws->profiles, profile, "role_session_name"), err);
    int rc = static_keys(out, aws, profile);
    if (rc != EQOPS_ENOTFOUND)
        return rc == 0 ? 0 : eqops__err(err, rc, "out of memory");
    const char *process = eqops__aws_profile_get(aws->profiles, profile, "credential_process");
    if (process)
        return process_credentials(out, process, err);
    return eqops__err(err, EQOPS_ENOTFOUND, "profile %s has no credentials", profile);
}

/* ---- the chain
 * ----------------------------------------------------------------------------------- */

static int chain(eqops_aws_credentials **out, eqops_aws *aws, eqops_error *err)
{
    *out = NULL;
    char tried[256] = "";
    /* 1. environment (not when a profile was named) */
    const char *akid = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
    if (!aws->profile_explicit && akid && secret) {
        const char *exp = env("AWS_CREDENTIAL_EXPIRATION");
        int64_t exp_ms = 0;
        if (exp && eqops__aws_parse_time(exp, &exp_ms) != 0)
            return eqops__err_field(err, EQOPS_EINVAL, "AWS_CREDENTIAL_EXPIRATION",
                                    "is not an RFC 3339 time");
        const char *token = env("AWS_SESSION_TOKEN");
        if (token == NULL)
            token = env("AWS_SECURITY_TOKEN");
        return eqops__aws_credentials_make(out, akid, secret, token, exp_ms, "environment") == 0
                   ? 0
                   : eqops__err(err, EQOPS_ENOMEM, "out of memory");
    }
    snprintf(tried, sizeof(tried), "%s", aws->profile_explicit ? "" : "environment");
    /* 2. the profile's role (source_profile, credential_source, web_identity_token_file).
     * Once a profile sets up credentials, any failure is final: falling through to the
     * node's role would silently act as someone else. */
    bool have_profile = json_object_get(aws->profiles, aws->profile) != NULL;
    if (!have_profile && aws->profile_explicit)
        return eqops__err(err, EQOPS_ENOTFOUND, "profile %s is not in the config files",
                          aws->profile);
    if (have_profile && eqops__aws_profile_get(aws->profiles, aws->profile, "role_arn"))
        return profile_credentials(out, aws, aws->profile, 0, err);
    /* 3. web identity from the environment (EKS IRSA) */
    const char *wif = env("AWS_WEB_IDENTITY_TOKEN_FILE"), *role = env("AWS_ROLE_ARN");
    if (wif && role)
        return web_identity_file(out, aws, role, wif, env("AWS_ROLE_SESSION_NAME"), err);
    /* 4. the profile's keys, then its credential_process */
    static const char *const settings[] = {"aws_access_key_id", "aws_secret_access_key",
                                           "aws_session_token", "credential_process", NULL};
    for (size_t i = 0; have_profile && settings[i]; i++)
        if (eqops__aws_profile_get(aws->profiles, aws->profile, settings[i]))
            return profile_credentials(out, aws, aws->profile, 0, err);
    snprintf(tried + strlen(tried), sizeof(tried) - strlen(tried), "%sprofile %.60s",
             tried[0] ? ", " : "", aws->profile);
    snprintf(tried + strlen(tried), sizeof(tried) - strlen(tried), ", web identity");
    /* 5. container (ECS, EKS Pod Identity) */
    if (env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || env("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
        return container_credentials(out, aws, err);
    snprintf(tried + strlen(tried), sizeof(tried) - strlen(tried), ", container");
    /* 6. instance metadata */
    const char *off = env("AWS_EC2_METADATA_DISABLED");
    if (!(off && !strcasecmp(off, "true"))) {
        eqops_error e = EQOPS_ERROR_INIT;
        int rc = imds_credentials(out, aws, &e);
        if (rc == 0) {
            eqops_error_clear(&e);
            return 0;
        }
        eqops__log(EQOPS_LOG_DEBUG, MOD, "instance metadata: %s", e.message);
        eqops_error_clear(&e);
        snprintf(tried + strlen(tried), sizeof(tried) - strlen(tried), ", instance metadata");
    }
    return eqops__err(err, EQOPS_ENOTFOUND, "no AWS credentials found (tried %s)", tried);
}

int eqops__aws_credentials(eqops_aws *aws, const eqops_aws_credentials **out, eqops_error *err)
{
    *out = NULL;
    if (aws->fixed) {
        *out = aws->fixed;
        return 0;
    }
    int64_t now = eqops__now_ms();
    eqops_aws_credentials *c = aws->cached;
    bool advisory = c && c->expiration_ms && now >= c->expiration_ms - ADVISORY_MS;
    bool mandatory = c && c->expiration_ms && now >= c->expiration_ms - MANDATORY_MS;
    if (c && !advisory) {
        *out = c;
        return 0;
    }
    eqops_aws_credentials *fresh = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = chain(&fresh, aws, &e);
    if (rc != 0 && c && !mandatory) {
        /* the old ones are still good for a while: keep them, try again next time */
        eqops__log(EQOPS_LOG_WARN, MOD,
                   "refreshing credentials failed (%s); keeping the "
                   "current ones until 10 minutes before they expire",
                   e.message);
        eqops_error_clear(&e);
        *out = c;
        return 0;
    }
    if (rc != 0) {
        eqops__err_move(err, &e);
        return rc;
    }
    eqops_error_clear(&e);
    eqops__log(EQOPS_LOG_INFO, MOD, "credentials from %s (%s)", fresh->source, fresh->akid);
    eqops_aws_credentials_free(aws->cached);
    aws->cached = fresh;
    aws->creds_gen++;
    *out = fresh;
    return 0;
}

int eqops_aws_credentials_resolve(eqops_aws_credentials **out, eqops_aws *aws, eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL || aws == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "aws" : "out", "must not be NULL");
    *out = NULL;
    const eqops_aws_credentials *c = NULL;
    int rc = eqops__aws_credentials(aws, &c, err);
    if (rc == 0 && (*out = eqops__aws_credentials_copy(c)) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    return rc;
}
