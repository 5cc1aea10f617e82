/*
 * eqops/aws.h - a small, exact AWS client: SigV4 signing (headers and presigned URLs), the
 * default credential chain, STS, EKS (DescribeCluster and the authentication token), Secrets
 * Manager and CloudWatch metrics.
 *
 * Signing follows the AWS SigV4 rules (and passes the AWS signing test suite): paths
 * normalised and encoded once more than on the wire, S3's exceptions (no normalisation, no
 * second encoding, x-amz-content-sha256 always), query parameters decoded and re-encoded,
 * headers trimmed, folded and sorted, the signing key cached per day, region and service.
 *
 * Credentials come, like the SDKs', from the first source that has them: explicit keys; the
 * environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); the profile
 * (AWS_PROFILE or "default") in the shared files: role_arn with source_profile or
 * credential_source (STS AssumeRole), web_identity_token_file, credential_process, static
 * keys; web identity from the environment (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN: EKS
 * IRSA); container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI, EKS Pod
 * Identity and ECS); the EC2 instance metadata service (IMDSv2, 1 s timeouts, off with
 * AWS_EC2_METADATA_DISABLED=true). An explicit profile skips the environment keys, as in
 * botocore. Temporary credentials are cached and refreshed 15 minutes before they expire (a
 * failed refresh keeps the old ones until 10 minutes before). Secrets are wiped when freed
 * and never logged.
 *
 * Requests use the SDKs' standard retry mode: 3 attempts, full-jitter backoff capped at 20 s,
 * a retry quota of 500 (5 per retry, 10 after a timeout), retries on throttling codes,
 * 500/502/503/504 and connection failures; errors are classified by the error type in the
 * answer (err->reason, e.g. "ResourceNotFoundException"). Endpoints: AWS_ENDPOINT_URL, per
 * service AWS_ENDPOINT_URL_<SERVICE> (STS, EKS, SECRETS_MANAGER, CLOUDWATCH), or options.
 */
#ifndef EQOPS_AWS_H
#define EQOPS_AWS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- credentials ------------------------------------------------------------------------- */

typedef struct eqops_aws_credentials eqops_aws_credentials;

/* Static credentials (token NULL for long-term keys; expiration_ms 0 = none). */
EQOPS_API int eqops_aws_credentials_new(eqops_aws_credentials **out, const char *access_key_id,
                                        const char *secret_access_key, const char *session_token,
                                        int64_t expiration_ms, eqops_error *err);
EQOPS_API const char *eqops_aws_credentials_access_key_id(const eqops_aws_credentials *c);
/* Secrets: hand them on (to a secret store, another SDK), never print them. */
EQOPS_API const char *eqops_aws_credentials_secret_access_key(const eqops_aws_credentials *c);
EQOPS_API const char *eqops_aws_credentials_session_token(const eqops_aws_credentials *c);
/* Milliseconds since the epoch, 0 when they do not expire. */
EQOPS_API int64_t eqops_aws_credentials_expiration(const eqops_aws_credentials *c);
/* Where they came from: "static", "environment", "profile <name>", "assume-role", "process",
 * "web-identity", "container", "imds". */
EQOPS_API const char *eqops_aws_credentials_source(const eqops_aws_credentials *c);
/* Release; the secrets are wiped. NULL-safe. */
EQOPS_API void eqops_aws_credentials_free(eqops_aws_credentials *c);

/* ---- signing ----------------------------------------------------------------------------- */

typedef struct eqops_aws_sign_options {
    unsigned version;       /* EQOPS_AWS_SIGN_OPTIONS_VERSION */
    const char *region;     /* required */
    const char *service;    /* required: the signing name ("sts", "secretsmanager", "s3") */
    int presign;            /* sign the query string (a presigned URL) instead of headers */
    int64_t expires_s;      /* presign: 1 to 604800; default 3600 */
    int s3;                 /* S3's rules (no path normalisation or second encoding,
                               x-amz-content-sha256 always, UNSIGNED-PAYLOAD when presigning) */
    int no_normalize;       /* sign the path as given (no dot-segment removal) */
    int sign_body;          /* add x-amz-content-sha256 (always with s3) */
    int unsigned_payload;   /* UNSIGNED-PAYLOAD instead of the body's hash */
    int omit_session_token; /* send the session token unsigned (a few services want that) */
    const char *const *unsigned_headers; /* more header names left unsigned, NULL-terminated */
} eqops_aws_sign_options;

#define EQOPS_AWS_SIGN_OPTIONS_VERSION 1
#define EQOPS_AWS_SIGN_OPTIONS_INIT                                                                \
    {                                                                                              \
        EQOPS_AWS_SIGN_OPTIONS_VERSION, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, NULL                      \
    }
/* Zero `opts` and set its version (EQOPS_AWS_SIGN_OPTIONS_VERSION or an older one the
 * caller was written for): 0, or EQOPS_EINVAL (opts NULL, version 0 or newer than this
 * library). */
EQOPS_API int eqops_aws_sign_options_init(eqops_aws_sign_options *opts, unsigned version);

/*
 * A signer: the credentials and options, and the signing key cached for the day. Sign many
 * requests with one (from one thread at a time). The results of the last signature are read
 * with the accessors below and stay valid until the next one.
 */
typedef struct eqops_aws_signer eqops_aws_signer;

EQOPS_API int eqops_aws_signer_new(eqops_aws_signer **out, const eqops_aws_credentials *creds,
                                   const eqops_aws_sign_options *opts, eqops_error *err);
EQOPS_API void eqops_aws_signer_free(eqops_aws_signer *s);

/*
 * Sign a request: method, URL (scheme://host[:port]/path?query, path and query as sent),
 * headers as NULL-terminated "Name: value" strings (Host is taken from the URL when absent),
 * the body. `time_ms` 0 means now. Returns 0, EQOPS_EINVAL (URL, header, option: named).
 */
EQOPS_API int eqops_aws_signer_sign(eqops_aws_signer *s, const char *method, const char *url,
                                    const char *const *headers, const void *body, size_t body_len,
                                    int64_t time_ms, eqops_error *err);

/* Headers to add to the request, in order ("X-Amz-Date", "Authorization", ...). */
EQOPS_API size_t eqops_aws_signer_header_count(const eqops_aws_signer *s);
EQOPS_API const char *eqops_aws_signer_header_name(const eqops_aws_signer *s, size_t i);
EQOPS_API const char *eqops_aws_signer_header_value(const eqops_aws_signer *s, size_t i);
/* The URL to send: the presigned URL, or the URL as given in header mode. */
EQOPS_API const char *eqops_aws_signer_url(const eqops_aws_signer *s);
/* The intermediate texts and the signature (hex), for debugging and tests. With a session
 * token, the canonical request, the headers and a presigned URL contain it. */
EQOPS_API const char *eqops_aws_signer_canonical_request(const eqops_aws_signer *s);
EQOPS_API const char *eqops_aws_signer_string_to_sign(const eqops_aws_signer *s);
EQOPS_API const char *eqops_aws_signer_signature(const eqops_aws_signer *s);

/* ---- the client ---------------------------------------------------------------------------- */

/* A client for one region: resolved credentials (cached), connections, retry quota. Use it
 * from one thread at a time. */
typedef struct eqops_aws eqops_aws;

typedef struct eqops_aws_options {
    unsigned version;    /* EQOPS_AWS_OPTIONS_VERSION */
    const char *region;  /* default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region */
    const char *profile; /* default: AWS_PROFILE, else "default" */
    const eqops_aws_credentials *credentials; /* use these (copied) instead of the chain */
    const char *endpoint_url; /* every service (e.g. a local moto); default AWS_ENDPOINT_URL */
    int max_retries; /* retries after the first attempt: default AWS_MAX_ATTEMPTS - 1, else 2;
                       -1 = none; at most 20 */
    long connect_timeout_ms;      /* default 3000 */
    long timeout_ms;              /* per attempt; default 30000 */
    const char *ca_file;          /* CA bundle for TLS; default AWS_CA_BUNDLE, else the system's */
    const char *config_file;      /* default AWS_CONFIG_FILE, else ~/.aws/config */
    const char *credentials_file; /* default AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials */
    const char *imds_endpoint;    /* default AWS_EC2_METADATA_SERVICE_ENDPOINT, else
                                     http://169.254.169.254 */
    /* Cancellation (NULL: none), client-wide: every request and retry wait of this client:
     * checked between steps, in transfers and queries, and in retry waits; once triggered the call
     * returns EQOPS_ECANCELED. */
    eqops_cancel *cancel;
} eqops_aws_options;

#define EQOPS_AWS_OPTIONS_VERSION 1
#define EQOPS_AWS_OPTIONS_INIT                                                                     \
    {                                                                                              \
        EQOPS_AWS_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, NULL   \
    }
/* Zero `opts` and set its version (EQOPS_AWS_OPTIONS_VERSION or an older one the
 * caller was written for): 0, or EQOPS_EINVAL (opts NULL, version 0 or newer than this
 * library). */
EQOPS_API int eqops_aws_options_init(eqops_aws_options *opts, unsigned version);

/* A new client. Resolving credentials is deferred to the first request. Returns 0,
 * EQOPS_EINVAL (option, config file), EQOPS_ENOMEM. */
EQOPS_API int eqops_aws_new(eqops_aws **out, const eqops_aws_options *opts, eqops_error *err);
EQOPS_API void eqops_aws_free(eqops_aws *aws);
/* The region in use ("" when none could be found: services then fail with EQOPS_EINVAL). */
EQOPS_API const char *eqops_aws_region(const eqops_aws *aws);

/* The credentials the chain gives now (cached; refreshed when due). `*out` is a copy. Returns
 * 0, EQOPS_ENOTFOUND (no source has credentials: the message lists what was tried),
 * EQOPS_EAUTH, EQOPS_EUNAVAILABLE, EQOPS_EINVAL (a malformed file or answer). */
EQOPS_API int eqops_aws_credentials_resolve(eqops_aws_credentials **out, eqops_aws *aws,
                                            eqops_error *err);

/* A presigned URL for `method` `url` of `service`, valid `expires_s` (default 3600). */
EQOPS_API int eqops_aws_presign(char **out, eqops_aws *aws, const char *method, const char *url,
                                const char *service, int64_t expires_s, eqops_error *err);

/* ---- STS ------------------------------------------------------------------------------------- */

/* {"account", "arn", "user_id"} of the caller. */
EQOPS_API int eqops_aws_sts_caller_identity(char **out, eqops_aws *aws, eqops_error *err);

/* Temporary credentials for a role (duration 900 to 43200 s; 0 = 3600). */
EQOPS_API int eqops_aws_sts_assume_role(eqops_aws_credentials **out, eqops_aws *aws,
                                        const char *role_arn, const char *session_name,
                                        int duration_s, eqops_error *err);

/* The same for an OIDC token (the request is not signed). */
EQOPS_API int eqops_aws_sts_assume_role_with_web_identity(eqops_aws_credentials **out,
                                                          eqops_aws *aws, const char *role_arn,
                                                          const char *session_name,
                                                          const char *web_identity_token,
                                                          int duration_s, eqops_error *err);

/* ---- EKS ---------------------------------------------------------------------------------------
 */

/* The cluster as EKS describes it: {"name", "arn", "endpoint", "status", "version",
 * "certificateAuthority": {"data"}, ...}. EQOPS_ENOTFOUND when there is none. */
EQOPS_API int eqops_aws_eks_describe_cluster(char **out, eqops_aws *aws, const char *name,
                                             eqops_error *err);

/*
 * The token the cluster's API server accepts for these credentials: "k8s-aws-v1." and the
 * unpadded base64url of a presigned STS GetCallerIdentity URL that signs the header
 * x-k8s-aws-id: <cluster>. Valid 15 minutes; `*expires_ms` is 14 minutes from now (as the AWS
 * CLI says). No request is made. The token is a bearer credential: release it with
 * eqops_free_secret().
 */
EQOPS_API int eqops_aws_eks_token(char **secret_out, int64_t *expires_ms, eqops_aws *aws,
                                  const char *cluster, eqops_error *err);

/* The token as the ExecCredential JSON a kubeconfig exec plugin prints (`aws eks get-token`);
 * api_version "client.authentication.k8s.io/v1beta1" (default) or ".../v1". */
EQOPS_API int eqops_aws_eks_exec_credential(char **secret_out, eqops_aws *aws, const char *cluster,
                                            const char *api_version, eqops_error *err);

/* ---- Secrets Manager --------------------------------------------------------------------------
 */

/* Create a secret with a string value: {"arn", "name", "version_id"}. EQOPS_EEXISTS when it
 * exists. */
EQOPS_API int eqops_aws_secret_create(char **out, eqops_aws *aws, const char *name,
                                      const char *value, const char *description, eqops_error *err);

/* The secret's string value (current version, or `version_stage`). `*secret_out` is a
 * secret: release it with eqops_free_secret(). EQOPS_ENOTFOUND when there is none. */
EQOPS_API int eqops_aws_secret_get(char **secret_out, eqops_aws *aws, const char *secret_id,
                                   const char *version_stage, eqops_error *err);

/* Store a new value: {"arn", "name", "version_id"}. */
EQOPS_API int eqops_aws_secret_put(char **out, eqops_aws *aws, const char *secret_id,
                                   const char *value, eqops_error *err);

/* Metadata (no value): the DescribeSecret answer. */
EQOPS_API int eqops_aws_secret_describe(char **out, eqops_aws *aws, const char *secret_id,
                                        eqops_error *err);

/* Delete: with a 7-day recovery window, or at once when `force`. Without `force`, a secret
 * that does not exist is EQOPS_ENOTFOUND; with it, the service answers yes (as AWS does), so
 * a forced delete can be repeated. */
EQOPS_API int eqops_aws_secret_delete(eqops_aws *aws, const char *secret_id, int force,
                                      eqops_error *err);

/* ---- CloudWatch metrics ------------------------------------------------------------------------
 */

typedef struct eqops_aws_metric {
    unsigned version;              /* EQOPS_AWS_METRIC_VERSION */
    const char *name;              /* 1 to 255 characters */
    double value;                  /* finite */
    const char *unit;              /* "Count", "Seconds", "Percent", ...; NULL = "None" */
    const char *const *dimensions; /* NULL-terminated "Name=Value", at most 30 */
    int64_t timestamp_ms;          /* 0 = now */
    int storage_resolution;        /* 1 (high resolution) or 0/60 (standard) */
} eqops_aws_metric;

#define EQOPS_AWS_METRIC_VERSION 1
#define EQOPS_AWS_METRIC_INIT                                                                      \
    {                                                                                              \
        EQOPS_AWS_METRIC_VERSION, NULL, 0.0, NULL, NULL, 0, 0                                      \
    }
/* Zero `metric` and set its version (EQOPS_AWS_METRIC_VERSION or an older one the
 * caller was written for): 0, or EQOPS_EINVAL (metric NULL, version 0 or newer than this
 * library). */
EQOPS_API int eqops_aws_metric_init(eqops_aws_metric *metric, unsigned version);

/*
 * PutMetricData in as few requests as the service limits allow (1000 metrics and 1 MB per
 * request). `metrics` is an array of `n` pointers, each metric carrying its own version.
 * Everything is validated before anything is sent. Returns 0, EQOPS_EINVAL (naming
 * metrics[i].field), or the error of the first failed request (those before it were sent).
 */
EQOPS_API int eqops_aws_metrics_put(eqops_aws *aws, const char *ns,
                                    const eqops_aws_metric *const *metrics, size_t n,
                                    eqops_error *err);

/*
 * GetMetricData: `queries` is the MetricDataQueries JSON array of the API; `*out` is the
 * MetricDataResults array, with every page of the answer joined.
 */
EQOPS_API int eqops_aws_metrics_get(char **out, eqops_aws *aws, const char *queries,
                                    int64_t start_ms, int64_t end_ms, eqops_error *err);

#ifdef __cplusplus
}
#endif

#endif /* EQOPS_AWS_H */
