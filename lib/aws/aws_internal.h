/*
 * aws_internal.h - what the aws module's files share: credentials, the shared config files,
 * the client with its request loop (signing, standard retries, error classification) and the
 * credential chain.
 */
#ifndef EQOPS_AWS_INTERNAL_H
#define EQOPS_AWS_INTERNAL_H

#include "eqops/aws.h"

#include "../core/core_internal.h"
#include "../core/json.h"
#include "../net/http.h"

#include <string.h>

struct eqops_aws_credentials {
    char *akid;
    char *secret; /* wiped on free */
    char *token;  /* wiped on free */
    int64_t expiration_ms;
    char source[48];
};

int eqops__aws_credentials_make(eqops_aws_credentials **out, const char *akid, const char *secret,
                                const char *token, int64_t expiration_ms, const char *source);
/* A copy (NULL on ENOMEM or NULL input). */
eqops_aws_credentials *eqops__aws_credentials_copy(const eqops_aws_credentials *c);

/* RFC 3986 encoding of all but the unreserved characters (and '/' when keep_slash). */
void eqops__aws_uri_encode(eqops_buf *b, const char *s, size_t n, bool keep_slash);

/* ---- shared config files (config.c) -------------------------------------------------------- */

/* Profiles of the config and credentials files, merged (credentials file values win):
 * {"<profile>": {"key": "value", "s3.key": "nested value"}}. */
typedef struct aws_profiles {
    json_t *profiles;
} aws_profiles;

/* Parse one file's text. `config` selects the config file's "[profile name]" sections.
 * Returns 0 or EQOPS_EINVAL naming file:line. Merges into `into` (created when NULL). */
int eqops__aws_ini_parse(json_t **into, const char *text, size_t len, bool config, const char *path,
                         eqops_error *err);
/* Read both files (missing files are fine). */
int eqops__aws_profiles_load(json_t **out, const char *config_path, const char *creds_path,
                             eqops_error *err);
/* Free profiles, wiping the values of secret keys first. NULL-safe. */
void eqops__aws_profiles_free(json_t *profiles);
/* A profile's value (borrowed) or NULL. */
const char *eqops__aws_profile_get(const json_t *profiles, const char *profile, const char *key);

/* ---- the client (client.c) ----------------------------------------------------------------- */

typedef enum aws_service {
    AWS_STS,
    AWS_EKS,
    AWS_SECRETS,
    AWS_CLOUDWATCH,
    AWS_SERVICE_COUNT
} aws_service;

struct eqops_aws {
    char region[64];
    char profile[128];
    bool profile_explicit;
    json_t *profiles;   /* parsed config files */
    char *endpoint_all; /* option or AWS_ENDPOINT_URL */
    char *endpoints[AWS_SERVICE_COUNT];
    eqops_aws_credentials *fixed; /* given in the options */
    eqops_aws_credentials *cached;
    eqops_http *http;
    char *imds_endpoint;
    int max_attempts;           /* in all: the options' max_retries + 1 */
    const eqops_cancel *cancel; /* the options' token: every request and retry wait; borrowed */
    long connect_timeout_ms, timeout_ms;
    char *ca_file;
    int quota;          /* the retry quota: 500, 5 per retry (10 after a timeout) */
    unsigned creds_gen; /* bumped whenever `cached` changes */
    eqops_aws_signer *signers[AWS_SERVICE_COUNT]; /* with the cached signing key */
    unsigned signer_gen[AWS_SERVICE_COUNT];
};

typedef struct aws_call {
    aws_service service;
    const char *method;
    const char *path_query; /* "/", "/clusters/x" */
    const char *content_type;
    const char *target; /* X-Amz-Target, or NULL */
    const char *body;
    size_t body_len;
    bool unsigned_request;              /* AssumeRoleWithWebIdentity */
    bool query_mode;                    /* x-amzn-query-mode: true (CloudWatch JSON) */
    const char *what;                   /* "secretsmanager GetSecretValue", for messages */
    const eqops_aws_credentials *creds; /* sign with these instead of the chain's */
} aws_call;

/* The service's signing name and endpoint (new string) for this client. */
const char *eqops__aws_signing_name(aws_service s);
char *eqops__aws_endpoint(eqops_aws *aws, aws_service s);

/*
 * Send a request with standard retries; 2xx answers come back in `resp` (caller clears it),
 * anything else becomes an error classified by the error type in the answer (err->reason).
 */
int eqops__aws_call(eqops_aws *aws, const aws_call *call, eqops_http_response *resp,
                    eqops_error *err);

/* Classify a non-2xx answer: JSON (__type, message), x-amzn-ErrorType, XML (<Code>). */
int eqops__aws_error(const eqops_http_response *resp, const char *what, eqops_error *err);
/* The error code of an AWS error type name ("ResourceNotFoundException"). */
int eqops__aws_code_of(const char *type, long status);
/* Whether a retry may help (throttling, transient), and whether it was throttling. */
bool eqops__aws_retryable(const char *type, long status, bool *throttling);

/* The text of the first element named `name` (any depth) in an XML document. `*out` new.
 * Returns 0, EQOPS_ENOTFOUND (no such element), EQOPS_EPROTO (not XML). */
int eqops__aws_xml_text(char **out, const char *xml, size_t len, const char *name);

/* Tests: make the retry loop's randomness (core's backoff jitter) and sleeping predictable.
 * NULL restores. */
void eqops__aws_set_retry_hooks(double (*random)(void), void (*sleep_ms)(int64_t));

/* ---- credentials (creds.c) ------------------------------------------------------------------- */

/* The chain (see aws.h), cached in the client. `*out` is borrowed from the client. */
int eqops__aws_credentials(eqops_aws *aws, const eqops_aws_credentials **out, eqops_error *err);

/* Credentials from a JSON document with AccessKeyId, SecretAccessKey, Token/SessionToken and
 * Expiration (container, IMDS and credential_process answers). EQOPS_EPROTO naming `what`. */
int eqops__aws_credentials_from_json(eqops_aws_credentials **out, const char *text, size_t len,
                                     const char *source, const char *what, eqops_error *err);
/* The <Credentials> of an STS AssumeRole* answer (XML). */
int eqops__aws_sts_credentials(eqops_aws_credentials **out, const char *body, size_t len,
                               const char *source, const char *what, eqops_error *err);

/* A UUID v4 (idempotency tokens); out holds 37 bytes. */
int eqops__aws_uuid(char out[37]);

/* Parse ISO 8601 / RFC 3339 expirations ("2026-11-27T10:00:00Z"). */
int eqops__aws_parse_time(const char *s, int64_t *out_ms);

#endif /* EQOPS_AWS_INTERNAL_H */
