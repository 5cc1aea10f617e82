/*
 * sts_eks.c - STS GetCallerIdentity, EKS DescribeCluster and the EKS authentication token
 * (the presigned GetCallerIdentity that aws-iam-authenticator verifies).
 */
#include "aws_internal.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#define EKS_TOKEN_PREFIX   "k8s-aws-v1."
#define EKS_TOKEN_VALID_MS (14 * 60 * 1000) /* STS honours 15 minutes; clients say 14 */

int eqops_aws_sts_caller_identity(char **out, eqops_aws *aws, eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL || aws == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "aws" : "out", "must not be NULL");
    *out = NULL;
    static const char body[] = "Action=GetCallerIdentity&Version=2011-06-15";
    aws_call call = {AWS_STS,
                     "POST",
                     "/",
                     "application/x-www-form-urlencoded; charset=utf-8",
                     NULL,
                     body,
                     sizeof(body) - 1,
                     false,
                     false,
                     "sts GetCallerIdentity",
                     NULL};
    eqops_http_response resp = EQOPS_HTTP_RESPONSE_INIT;
    int rc = eqops__aws_call(aws, &call, &resp, err);
    char *account = NULL, *arn = NULL, *user = NULL;
    if (rc == 0) {
        const char *b = eqops__buf_cstr(&resp.body);
        if (eqops__aws_xml_text(&account, b, resp.body.len, "Account") != 0 ||
            eqops__aws_xml_text(&arn, b, resp.body.len, "Arn") != 0 ||
            eqops__aws_xml_text(&user, b, resp.body.len, "UserId") != 0)
            rc = eqops__err(err, EQOPS_EPROTO, "sts GetCallerIdentity: unexpected answer");
    }
    if (rc == 0) {
        json_t *doc = json_object();
        eqops__jset(doc, "account", json_string(account));
        eqops__jset(doc, "arn", json_string(arn));
        eqops__jset(doc, "user_id", json_string(user));
        if ((*out = eqops__json_dump(doc, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL ||
            json_object_size(doc) != 3)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        json_decref(doc);
        if (rc != 0) {
            eqops__free(*out);
            *out = NULL;
        }
    }
    eqops__free(account);
    eqops__free(arn);
    eqops__free(user);
    eqops__http_response_clear(&resp);
    return rc;
}

/* EKS cluster names: 1 to 100 of letters, digits, '-' and '_', starting alphanumeric. */
static int cluster_name_check(const char *name, eqops_error *err)
{
    size_t n = name ? strlen(name) : 0;
    bool ok = n >= 1 && n <= 100;
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             (i > 0 && (c == '-' || c == '_'));
    }
    return ok ? 0
              : eqops__err_field(err, EQOPS_EINVAL, "cluster",
                                 "must be 1 to 100 of letters, digits, '-' and '_'");
}

int eqops_aws_eks_describe_cluster(char **out, eqops_aws *aws, const char *name, eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL || aws == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "aws" : "out", "must not be NULL");
    *out = NULL;
    int rc = cluster_name_check(name, err);
    if (rc != 0)
        return rc;
    char path[160];
    snprintf(path, sizeof(path), "/clusters/%s", name);
    aws_call call = {AWS_EKS, "GET", path, NULL, NULL, NULL, 0, false, false, "eks DescribeCluster",
                     NULL};
    eqops_http_response resp = EQOPS_HTTP_RESPONSE_INIT;
    rc = eqops__aws_call(aws, &call, &resp, err);
    if (rc == 0) {
        json_t *doc = NULL;
        rc = eqops__json_parse(&doc, eqops__buf_cstr(&resp.body), resp.body.len,
                               "eks DescribeCluster answer", err);
        json_t *cluster = rc == 0 ? json_object_get(doc, "cluster") : NULL;
        if (rc == 0 && !json_is_object(cluster))
            rc = eqops__err(err, EQOPS_EPROTO, "eks DescribeCluster: no cluster in the answer");
        if (rc == 0 && (*out = eqops__json_dump(cluster, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        json_decref(doc);
    }
    eqops__http_response_clear(&resp);
    return rc;
}

int eqops_aws_eks_token(char **out, int64_t *expires_ms, eqops_aws *aws, const char *cluster,
                        eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL || aws == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, out ? "aws" : "out", "must not be NULL");
    *out = NULL;
    int rc = cluster_name_check(cluster, err);
    if (rc != 0)
        return rc;
    if (aws->region[0] == '\0')
        return eqops__err_field(err, EQOPS_EINVAL, "region", "no region for the STS endpoint");
    const eqops_aws_credentials *creds = NULL;
    if ((rc = eqops__aws_credentials(aws, &creds, err)) != 0)
        return rc;
    /* GET sts/?Action=GetCallerIdentity presigned for 60 s with x-k8s-aws-id signed */
    char *base = eqops__aws_endpoint(aws, AWS_STS);
    eqops_buf url = EQOPS_BUF_INIT, header = EQOPS_BUF_INIT;
    eqops__buf_printf(&url, "%s/?Action=GetCallerIdentity&Version=2011-06-15", base ? base : "");
    eqops__buf_printf(&header, "x-k8s-aws-id: %s", cluster);
    eqops__free(base);
    eqops_aws_sign_options o = EQOPS_AWS_SIGN_OPTIONS_INIT;
    o.region = aws->region;
    o.service = "sts";
    o.presign = 1;
    o.expires_s = 60;
    eqops_aws_signer *s = NULL;
    const char *headers[] = {header.data, NULL};
    int64_t now = eqops__now_ms();
    if (eqops__buf_ok(&url) != 0 || eqops__buf_ok(&header) != 0)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    if (rc == 0)
        rc = eqops_aws_signer_new(&s, creds, &o, err);
    if (rc == 0)
        rc = eqops_aws_signer_sign(s, "GET", url.data, headers, NULL, 0, now, err);
    if (rc == 0) {
        /* base64url without padding, via OpenSSL's base64 */
        const char *signed_url = eqops_aws_signer_url(s);
        size_t n = strlen(signed_url);
        size_t cap = strlen(EKS_TOKEN_PREFIX) + 4 * ((n + 2) / 3) + 1;
        char *token = eqops__malloc(cap);
        if (token == NULL) {
            rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
        } else {
            size_t p = strlen(EKS_TOKEN_PREFIX);
            memcpy(token, EKS_TOKEN_PREFIX, p);
            int m = EVP_EncodeBlock((unsigned char *)token + p, (const unsigned char *)signed_url,
                                    (int)n);
            size_t end = p + (size_t)m;
            while (end > p && token[end - 1] == '=')
                end--;
            token[end] = '\0';
            for (size_t i = p; i < end; i++)
                token[i] = token[i] == '+' ? '-' : token[i] == '/' ? '_' : token[i];
            *out = token;
            if (expires_ms)
                *expires_ms = now + EKS_TOKEN_VALID_MS;
        }
    }
    eqops_aws_signer_free(s);
    eqops__buf_free(&url);
    eqops__buf_free(&header);
    return rc;
}

int eqops_aws_eks_exec_credential(char **out, eqops_aws *aws, const char *cluster,
                                  const char *api_version, eqops_error *err)
{
    eqops_error_clear(err);
    if (out == NULL)
        return eqops__err_field(err, EQOPS_EINVAL, "out", "must not be NULL");
    *out = NULL;
    const char *v1 = "client.authentication.k8s.io/v1",
               *v1beta1 = "client.authentication.k8s.io/v1beta1";
    if (api_version == NULL || *api_version == '\0')
        api_version = v1beta1;
    if (strcmp(api_version, v1) != 0 && strcmp(api_version, v1beta1) != 0)
        return eqops__err_field(err, EQOPS_EINVAL, "api_version", "must be %s or %s", v1beta1, v1);
    char *token = NULL;
    int64_t expires = 0;
    int rc = eqops_aws_eks_token(&token, &expires, aws, cluster, err);
    if (rc != 0)
        return rc;
    char stamp[32];
    eqops__time_format_rfc3339(expires, stamp);
    json_t *doc = json_object(), *status = json_object();
    eqops__jset(doc, "kind", json_string("ExecCredential"));
    eqops__jset(doc, "apiVersion", json_string(api_version));
    eqops__jset(doc, "spec", json_object());
    eqops__jset(status, "expirationTimestamp", json_string(stamp));
    eqops__jset(status, "token", json_string(token));
    json_incref(status); /* kept alive to wipe its copy of the token below */
    bool ok = json_object_size(status) == 2 && eqops__jset(doc, "status", status);
    if (!ok || (*out = eqops__json_dump(doc, JSON_COMPACT)) == NULL)
        rc = eqops__err(err, EQOPS_ENOMEM, "out of memory");
    const char *copy = json_string_value(json_object_get(status, "token"));
    if (copy) /* jansson's copy of the bearer token */
        eqops__wipe((char *)copy, strlen(copy));
    json_decref(status);
    json_decref(doc);
    eqops__secret_free(token);
    return rc;
}
