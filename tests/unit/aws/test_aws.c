/*
 * test_aws.c - the aws module without AWS: config files, error classification, the signer's
 * rules, the standard retry mode and its quota, and every credential source, against a
 * loopback server (tests/support/aws_fake.py) standing in for the instance metadata service,
 * the container agent and a throttling endpoint. moto is used by the integration tests.
 */
#include "aws/aws_internal.h"
#include "testserver.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static ts_server fake;
static char base[128], tmp[256];

static void clean_env(void)
{
    static const char *const vars[] = {"AWS_ACCESS_KEY_ID",
                                       "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",
                                       "AWS_SECURITY_TOKEN",
                                       "AWS_PROFILE",
                                       "AWS_REGION",
                                       "AWS_DEFAULT_REGION",
                                       "AWS_CONFIG_FILE",
                                       "AWS_SHARED_CREDENTIALS_FILE",
                                       "AWS_ENDPOINT_URL",
                                       "AWS_ENDPOINT_URL_STS",
                                       "AWS_ENDPOINT_URL_EKS",
                                       "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                                       "AWS_ENDPOINT_URL_CLOUDWATCH",
                                       "AWS_WEB_IDENTITY_TOKEN_FILE",
                                       "AWS_ROLE_ARN",
                                       "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                       "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                       "AWS_EC2_METADATA_DISABLED",
                                       "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                       "AWS_MAX_ATTEMPTS",
                                       "AWS_CREDENTIAL_EXPIRATION",
                                       "AWS_CA_BUNDLE",
                                       "AWS_EC2_METADATA_V1_DISABLED",
                                       NULL};
    for (size_t i = 0; vars[i]; i++)
        unsetenv(vars[i]);
    /* no real files, and never the real metadata service */
    char path[300];
    snprintf(path, sizeof(path), "%s/none", tmp);
    setenv("AWS_CONFIG_FILE", path, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("AWS_REGION", "eu-west-1", 1);
}

static int setup(void **state)
{
    (void)state;
    if (ts_start_support(&fake, "aws_fake.py") != 0)
        return -1;
    snprintf(base, sizeof(base), "http://127.0.0.1:%ld", ts_int(&fake, "port"));
    snprintf(tmp, sizeof(tmp), "%s", fake.dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_stop(&fake);
    return 0;
}

static void write_file(const char *name, const char *text, int mode)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

static eqops_aws *client(const eqops_aws_options *o)
{
    eqops_aws *aws = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_aws_new(&aws, o, &e) != 0)
        fail_msg("aws_new: %s", e.message);
    return aws;
}

static long fake_get(const char *path, const char *arg)
{
    return ts_get_number(base, path, arg);
}

/* how many requests the fake server counted under `key` */
static long fake_count(const char *key)
{
    return fake_get("/count?key=", key);
}

/* switch the fake server's behaviour ("v1only=1", "hang=0", ...) */
static void fake_mode(const char *query)
{
    fake_get("/mode?", query);
}

/* ---- config files ------------------------------------------------------------------------- */

static void test_config_files(void **state)
{
    (void)state;
    static const char config[] = "# comment\n"
                                 "[default]\nregion = eu-west-1\n"
                                 "[profile dev]\n"
                                 "region=us-east-2 \n"
                                 "role_arn = arn:aws:iam::1:role/dev\n"
                                 "source_profile = default\n"
                                 "s3 =\n"
                                 "  max_concurrent_requests = 20\n"
                                 "  addressing_style = path\n"
                                 "output = json\n"
                                 "[sso-session corp]\nsso_region = x\n"
                                 "; another comment\n"
                                 "[profile   spaced  ]\nregion = ap-south-1\n";
    static const char creds[] = "[default]\naws_access_key_id = AKIDDEFAULT\n"
                                "aws_secret_access_key = secret/with=equals\n"
                                "[dev]\naws_access_key_id = AKIDDEV\n";
    json_t *p = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(eqops__aws_ini_parse(&p, config, strlen(config), true, "config", &e), 0);
    assert_int_equal(eqops__aws_ini_parse(&p, creds, strlen(creds), false, "credentials", &e), 0);
    assert_string_equal(eqops__aws_profile_get(p, "default", "region"), "eu-west-1");
    assert_string_equal(eqops__aws_profile_get(p, "dev", "region"), "us-east-2");
    assert_string_equal(eqops__aws_profile_get(p, "dev", "s3.addressing_style"), "path");
    assert_string_equal(eqops__aws_profile_get(p, "dev", "output"), "json");
    assert_null(eqops__aws_profile_get(p, "dev", "s3"));
    assert_string_equal(eqops__aws_profile_get(p, "spaced", "region"), "ap-south-1");
    assert_null(json_object_get(p, "sso-session corp"));
    assert_string_equal(eqops__aws_profile_get(p, "default", "aws_secret_access_key"),
                        "secret/with=equals");
    assert_string_equal(eqops__aws_profile_get(p, "dev", "aws_access_key_id"), "AKIDDEV");
    eqops__aws_profiles_free(p);
    /* errors name the file and line */
    const char *bad[] = {"[default\nregion=x\n", "[default]\njust words\n", "[]\n",
                         "[default]\n= value\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = NULL;
        assert_int_equal(eqops__aws_ini_parse(&p, bad[i], strlen(bad[i]), true, "cfg", &e),
                         EQOPS_EINVAL);
        assert_non_null(strstr(e.field, "cfg:"));
        eqops__aws_profiles_free(p);
    }
    p = NULL;
    assert_int_equal(eqops__aws_ini_parse(&p, "[a]\nk=\xff\n", 8, false, "c", &e), EQOPS_EINVAL);
    eqops__aws_profiles_free(p);
}

/* ---- error classification ----------------------------------------------------------------- */

static int classify(long status, const char *body, const char *hdr_name, const char *hdr_value,
                    eqops_error *e)
{
    eqops_http_response r = EQOPS_HTTP_RESPONSE_INIT;
    r.status = status;
    eqops__buf_puts(&r.body, body);
    eqops_http_header h = {(char *)hdr_name, (char *)hdr_value};
    if (hdr_name) {
        r.headers = &h;
        r.nheaders = 1;
    }
    int rc = eqops__aws_error(&r, "op", e);
    eqops__buf_free(&r.body);
    return rc;
}

static void test_errors(void **state)
{
    (void)state;
    eqops_error e = EQOPS_ERROR_INIT;
    assert_int_equal(classify(404,
                              "{\"__type\":\"ResourceNotFoundException\",\"message\":\"gone\"}",
                              NULL, NULL, &e),
                     EQOPS_ENOTFOUND);
    assert_string_equal(e.reason, "ResourceNotFoundException");
    assert_non_null(strstr(e.message, "gone"));
    assert_int_equal(e.http_status, 404);
    assert_int_equal(classify(400,
                              "{\"__type\":\"com.amazon.coral.service#ExpiredTokenException:"
                              "http://internal.amazon.com/\",\"Message\":\"expired\"}",
                              NULL, NULL, &e),
                     EQOPS_EAUTH);
    assert_string_equal(e.reason, "ExpiredTokenException");
    assert_int_equal(classify(400, "{}", "x-amzn-ErrorType", "ResourceExistsException:x", &e),
                     EQOPS_EEXISTS);
    assert_int_equal(classify(403,
                              "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no"
                              "</Message></Error></ErrorResponse>",
                              NULL, NULL, &e),
                     EQOPS_EFORBIDDEN);
    assert_int_equal(classify(400, "{\"__type\":\"InvalidParameterValueException\"}",
                              "x-amzn-query-error", "InvalidParameterValue;Sender", &e),
                     EQOPS_EINVAL);
    assert_string_equal(e.reason, "InvalidParameterValue");
    assert_int_equal(classify(400, "{\"__type\":\"ThrottlingException\"}", NULL, NULL, &e),
                     EQOPS_ERATELIMIT);
    assert_int_equal(classify(503, "not json", NULL, NULL, &e), EQOPS_EUNAVAILABLE);
    assert_int_equal(classify(500, "<<<", NULL, NULL, &e), EQOPS_EUNAVAILABLE);
    bool throttle;
    assert_true(eqops__aws_retryable("ThrottlingException", 400, &throttle) && throttle);
    assert_true(eqops__aws_retryable("", 503, &throttle) && !throttle);
    assert_false(eqops__aws_retryable("ValidationException", 400, &throttle));
    eqops_error_clear(&e);
    /* XML with an entity bomb or a DTD: no expansion, no network */
    char *out = NULL;
    const char *bomb = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\">"
                       "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><R><Code>&b;</Code></R>";
    int rc = eqops__aws_xml_text(&out, bomb, strlen(bomb), "Code");
    assert_true(rc == 0 || rc == EQOPS_EPROTO);
    if (out)
        assert_true(strlen(out) < 200);
    eqops__free(out);
    assert_int_equal(eqops__aws_xml_text(&out, "<a><b>x</b></a>", 15, "c"), EQOPS_ENOTFOUND);
    assert_int_equal(eqops__aws_xml_text(&out, "not xml", 7, "c"), EQOPS_EPROTO);
}

/* ---- the signer's own rules ------------------------------------------------------------------ */

static eqops_aws_signer *signer(eqops_aws_sign_options *o, const char *token)
{
    eqops_aws_credentials *c = NULL;
    assert_int_equal(eqops_aws_credentials_new(&c, "AKIDEXAMPLE",
                                               "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token, 0,
                                               NULL),
                     0);
    eqops_aws_signer *s = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_aws_signer_new(&s, c, o, &e) != 0)
        fail_msg("signer: %s", e.message);
    eqops_aws_credentials_free(c);
    return s;
}

static void test_signer_rules(void **state)
{
    (void)state;
    int64_t t = 1440938160000; /* 2015-08-30T12:36:00Z */
    eqops_error e = EQOPS_ERROR_INIT;
    /* S3: the path as sent (no normalisation, no second encoding), x-amz-content-sha256 */
    eqops_aws_sign_options o = EQOPS_AWS_SIGN_OPTIONS_INIT;
    o.region = "us-east-1";
    o.service = "s3";
    o.s3 = 1;
    eqops_aws_signer *s = signer(&o, NULL);
    assert_int_equal(eqops_aws_signer_sign(s, "GET",
                                           "https://examplebucket.s3.amazonaws.com/my%20photo//"
                                           "./a.jpg",
                                           NULL, NULL, 0, t, &e),
                     0);
    const char *cr = eqops_aws_signer_canonical_request(s);
    assert_non_null(strstr(cr, "\n/my%20photo//./a.jpg\n"));
    assert_non_null(strstr(cr, "x-amz-content-sha256:e3b0c442"));
    assert_string_equal(eqops_aws_signer_header_name(s, 1), "x-amz-content-sha256");
    eqops_aws_signer_free(s);
    /* non-S3: normalised, encoded once more */
    o.s3 = 0;
    o.service = "service";
    s = signer(&o, NULL);
    assert_int_equal(
        eqops_aws_signer_sign(s, "GET", "https://h.example/a%20b//./c/../d", NULL, NULL, 0, t, &e),
        0);
    assert_non_null(strstr(eqops_aws_signer_canonical_request(s), "\n/a%2520b/d\n"));
    /* the AWS documentation's S3 presign example signature */
    eqops_aws_signer_free(s);
    o.s3 = 1;
    o.service = "s3";
    o.presign = 1;
    o.expires_s = 86400;
    eqops_aws_credentials *c = NULL;
    assert_int_equal(eqops_aws_credentials_new(&c, "AKIAIOSFODNN7EXAMPLE",
                                               "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL, 0,
                                               NULL),
                     0);
    assert_int_equal(eqops_aws_signer_new(&s, c, &o, &e), 0);
    assert_int_equal(eqops_aws_signer_sign(s, "GET",
                                           "https://examplebucket.s3.amazonaws.com/test.txt", NULL,
                                           NULL, 0, 1369353600000, &e),
                     0);
    assert_string_equal(eqops_aws_signer_signature(s),
                        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    eqops_aws_signer_free(s);
    eqops_aws_credentials_free(c);
    /* expiry limits, bad names, bad URLs and headers */
    o.expires_s = 604801;
    assert_int_equal(eqops_aws_signer_new(&s, c, &o, &e), EQOPS_EINVAL);
    o.expires_s = 60;
    o.region = "Bad Region";
    assert_int_equal(eqops_aws_signer_new(&s, NULL, &o, &e), EQOPS_EINVAL);
    o.region = "us-east-1";
    o.presign = 0;
    o.s3 = 0;
    o.service = "service";
    s = signer(&o, "TOKEN");
    const char *bad_urls[] = {"no-scheme", "https://", "https://user@host/", "https://h/#frag",
                              "https://h/\x01"};
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++)
        assert_int_equal(eqops_aws_signer_sign(s, "GET", bad_urls[i], NULL, NULL, 0, t, &e),
                         EQOPS_EINVAL);
    const char *bad_headers[] = {"NoColon", NULL};
    assert_int_equal(eqops_aws_signer_sign(s, "GET", "https://h/", bad_headers, NULL, 0, t, &e),
                     EQOPS_EINVAL);
    const char *spaced[] = {"Bad Name: x", NULL};
    assert_int_equal(eqops_aws_signer_sign(s, "GET", "https://h/", spaced, NULL, 0, t, &e),
                     EQOPS_EINVAL);
    /* never signed: user-agent, and headers the caller sets itself are replaced */
    const char *h[] = {"User-Agent: curl", "X-Amz-Date: 19990101T000000Z", "Authorization: old",
                       NULL};
    assert_int_equal(eqops_aws_signer_sign(s, "GET", "https://h:443/x", h, NULL, 0, t, &e), 0);
    cr = eqops_aws_signer_canonical_request(s);
    assert_null(strstr(cr, "user-agent"));
    assert_null(strstr(cr, "1999"));
    assert_non_null(strstr(cr, "host:h\n")); /* default port dropped */
    assert_non_null(strstr(cr, "x-amz-security-token:TOKEN"));
    /* the key is cached per day and re-derived the next day */
    char sig1[65];
    snprintf(sig1, sizeof(sig1), "%s", eqops_aws_signer_signature(s));
    assert_int_equal(
        eqops_aws_signer_sign(s, "GET", "https://h/x", NULL, NULL, 0, t + 86400000, &e), 0);
    assert_string_not_equal(sig1, eqops_aws_signer_signature(s));
    assert_int_equal(eqops_aws_signer_sign(s, "GET", "https://h:443/x", h, NULL, 0, t, &e), 0);
    assert_string_equal(sig1, eqops_aws_signer_signature(s));
    eqops_aws_signer_free(s);
    eqops_error_clear(&e);
}

/* ---- retries ----------------------------------------------------------------------------------
 */

static int64_t slept[64];
static int nslept;
static double fixed_random(void)
{
    return 0.5;
}
static void record_sleep(int64_t ms)
{
    if (nslept < 64)
        slept[nslept++] = ms;
}

static eqops_aws *fake_client_cancel(const char *path, int retries, eqops_cancel *cancel)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", base, path);
    eqops_aws_credentials *c = NULL;
    assert_int_equal(eqops_aws_credentials_new(&c, "AKID", "SECRET", NULL, 0, NULL), 0);
    eqops_aws_options o = EQOPS_AWS_OPTIONS_INIT;
    o.endpoint_url = url;
    o.credentials = c;
    o.max_retries = retries;
    o.cancel = cancel;
    eqops_aws *aws = client(&o);
    eqops_aws_credentials_free(c);
    return aws;
}

static eqops_aws *fake_client(const char *path, int retries)
{
    return fake_client_cancel(path, retries, NULL);
}

static void test_retries(void **state)
{
    (void)state;
    clean_env();
    eqops__aws_set_retry_hooks(fixed_random, record_sleep);
    eqops_error e = EQOPS_ERROR_INIT;
    /* throttled twice, then fine: 3 attempts, backoff 0.5 x 1 s, 0.5 x 2 s */
    nslept = 0;
    eqops_aws *aws = fake_client("/throttle2/k1", 0);
    char *out = NULL;
    assert_int_equal(eqops_aws_secret_describe(&out, aws, "x", &e), 0);
    eqops_free(out);
    assert_int_equal(fake_count("k1"), 3);
    assert_int_equal(nslept, 2);
    assert_int_equal(slept[0], 500);
    assert_int_equal(slept[1], 1000);
    eqops_aws_free(aws);
    /* throttled more than the attempts: ERATELIMIT after 3 */
    aws = fake_client("/throttle9/k2", 0);
    assert_int_equal(eqops_aws_secret_describe(&out, aws, "x", &e), EQOPS_ERATELIMIT);
    assert_string_equal(e.reason, "ThrottlingException");
    assert_int_equal(fake_count("k2"), 3);
    eqops_aws_free(aws);
    /* AWS_MAX_ATTEMPTS */
    setenv("AWS_MAX_ATTEMPTS", "5", 1);
    aws = fake_client("/throttle9/k3", 0);
    assert_int_equal(eqops_aws_secret_describe(&out, aws, "x", &e), EQOPS_ERATELIMIT);
    assert_int_equal(fake_count("k3"), 5);
    eqops_aws_free(aws);
    unsetenv("AWS_MAX_ATTEMPTS");
    /* not retried: a client error */
    aws = fake_client("/fail400/k4", 0);
    assert_int_equal(eqops_aws_secret_describe(&out, aws, "x", &e), EQOPS_EINVAL);
    assert_string_equal(e.reason, "InternalFailure"); /* namespace and suffix cut */
    assert_int_equal(fake_count("k4"), 1);
    eqops_aws_free(aws);
    /* the quota: 500 units, 5 per retry; a failing service stops being retried */
    aws = fake_client("/fail503/k5", 0);
    for (int i = 0; i < 60; i++)
        eqops_aws_secret_describe(&out, aws, "x", &e);
    /* 50 requests x 3 attempts spend 500, the last 10 get 1 attempt each */
    assert_int_equal(fake_count("k5"), 50 * 3 + 10);
    eqops_aws_free(aws);
    /* connection refused: retried, then EUNAVAILABLE */
    eqops_aws_credentials *c = NULL;
    assert_int_equal(eqops_aws_credentials_new(&c, "AKID", "SECRET", NULL, 0, NULL), 0);
    eqops_aws_options o = EQOPS_AWS_OPTIONS_INIT;
    o.endpoint_url = "http://127.0.0.1:1";
    o.credentials = c;
    aws = client(&o);
    nslept = 0;
    assert_int_equal(eqops_aws_secret_describe(&out, aws, "x", &e), EQOPS_EUNAVAILABLE);
    assert_int_equal(nslept, 2);
    eqops_aws_free(aws);
    eqops_aws_credentials_free(c);
    eqops__aws_set_retry_hooks(NULL, NULL);
    eqops_error_clear(&e);
}

static void *trigger_soon(void *arg)
{
    usleep(200 * 1000);
    eqops_cancel_trigger(arg);
    return NULL;
}

/* The client's token ends a retry wait (500 ms here) at once and sends nothing more; a
 * triggered token sends nothing at all. */
static void test_retry_cancelled(void **state)
{
    (void)state;
    clean_env();
    eqops__aws_set_retry_hooks(fixed_random, NULL); /* real, cancellable waits */
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_cancel *c = NULL;
    assert_int_equal(eqops_cancel_new(&c, &e), 0);
    eqops_aws *aws = fake_client_cancel("/throttle9/k6", 0, c); /* the options' token */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, trigger_soon, c), 0);
    char *out = NULL;
    int64_t t0 = eqops__mono_ms();
    assert_int_equal(eqops_aws_secret_describe(&out, aws, "x", &e), EQOPS_ECANCELED);
    int64_t took = eqops__mono_ms() - t0;
    pthread_join(t, NULL);
    assert_true(took < 450); /* the wait alone was 500 ms */
    assert_non_null(strstr(e.message, "cancelled"));
    assert_int_equal(fake_count("k6"), 1);
    eqops_error_clear(&e);
    assert_int_equal(eqops_aws_secret_describe(&out, aws, "x", &e), EQOPS_ECANCELED);
    assert_int_equal(fake_count("k6"), 1);
    assert_null(out);
    eqops_error_clear(&e);
    eqops_aws_free(aws);
    eqops_cancel_free(c);
    eqops__aws_set_retry_hooks(NULL, NULL);
}

/* ---- credential sources --------------------------------------------------------------------- */

static eqops_aws_credentials *resolve(eqops_aws *aws, int want)
{
    eqops_aws_credentials *c = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    int rc = eqops_aws_credentials_resolve(&c, aws, &e);
    if (rc != want)
        fail_msg("resolve: %d %s", rc, e.message);
    eqops_error_clear(&e);
    return c;
}

/* The client's token reaches the credential chain: a container agent that fails (500, tried
 * three times a second apart) is not asked at all once the token is triggered. */
static void test_chain_cancelled(void **state)
{
    (void)state;
    clean_env();
    char path[512];
    snprintf(path, sizeof(path), "%s/fail500/ck1", base);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", path, 1);
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_cancel *c = NULL;
    assert_int_equal(eqops_cancel_new(&c, &e), 0);
    eqops_cancel_trigger(c);
    eqops_aws_options o = EQOPS_AWS_OPTIONS_INIT;
    o.region = "eu-west-1";
    o.cancel = c;
    eqops_aws *aws = client(&o);
    eqops_aws_credentials_free(resolve(aws, EQOPS_ECANCELED));
    assert_int_equal(fake_count("ck1"), 0);
    eqops_aws_free(aws);
    eqops_cancel_free(c);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

static void test_chain(void **state)
{
    (void)state;
    clean_env();
    char path[300];
    /* nothing anywhere */
    eqops_aws *aws = client(NULL);
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_aws_credentials *c = NULL;
    assert_int_equal(eqops_aws_credentials_resolve(&c, aws, &e), EQOPS_ENOTFOUND);
    assert_non_null(strstr(e.message, "tried environment, profile default, web identity"));
    eqops_aws_free(aws);
    /* environment */
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SECRETENV", 1);
    setenv("AWS_SESSION_TOKEN", "TOKENENV", 1);
    aws = client(NULL);
    c = resolve(aws, 0);
    assert_string_equal(eqops_aws_credentials_source(c), "environment");
    assert_string_equal(eqops_aws_credentials_session_token(c), "TOKENENV");
    eqops_aws_credentials_free(c);
    eqops_aws_free(aws);
    /* files: a named profile wins over the environment (botocore) */
    write_file("config", "[default]\nregion = us-west-2\n[profile dev]\nregion = eu-central-1\n",
               0600);
    write_file("credentials",
               "[dev]\naws_access_key_id = AKIDDEV\n"
               "aws_secret_access_key = SECRETDEV\n",
               0600);
    snprintf(path, sizeof(path), "%s/config", tmp);
    setenv("AWS_CONFIG_FILE", path, 1);
    snprintf(path, sizeof(path), "%s/credentials", tmp);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    unsetenv("AWS_REGION");
    setenv("AWS_PROFILE", "dev", 1);
    aws = client(NULL);
    assert_string_equal(eqops_aws_region(aws), "eu-central-1");
    c = resolve(aws, 0);
    assert_string_equal(eqops_aws_credentials_source(c), "profile dev");
    assert_string_equal(eqops_aws_credentials_access_key_id(c), "AKIDDEV");
    eqops_aws_credentials_free(c);
    eqops_aws_free(aws);
    setenv("AWS_PROFILE", "nope", 1);
    aws = client(NULL);
    resolve(aws, EQOPS_ENOTFOUND);
    eqops_aws_free(aws);
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    setenv("AWS_REGION", "eu-west-1", 1);
    /* credential_process: run without a shell, quoted arguments, Version 1 JSON */
    write_file("proc.sh",
               "#!/bin/sh\n[ \"$1\" = \"arg with space\" ] || exit 3\n"
               "printf '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": "
               "\"S\", \"SessionToken\": \"T\", \"Expiration\": \"2099-01-01T00:00:00Z\"}'\n",
               0700);
    write_file("bad.sh", "#!/bin/sh\necho '{\"Version\": 2}'\n", 0700);
    char cfg[2048];
    snprintf(cfg, sizeof(cfg),
             "[profile proc]\ncredential_process = %s/proc.sh \"arg with space\"\n"
             "[profile badproc]\ncredential_process = %s/bad.sh\n"
             "[profile failproc]\ncredential_process = %s/proc.sh wrong\n"
             "[profile missing]\ncredential_process = /nonexistent/tool\n"
             "[profile badwif]\nrole_arn = arn:aws:iam::123456789012:role/x\n"
             "web_identity_token_file = /nonexistent/token\n"
             "[profile typo]\nrole_arn = arn:aws:iam::123456789012:role/x\n"
             "source_profile = no-such-profile\n"
             "[profile regiononly]\nregion = eu-west-1\n",
             tmp, tmp, tmp);
    write_file("config", cfg, 0600);
    eqops_aws_options o = EQOPS_AWS_OPTIONS_INIT;
    o.profile = "proc";
    aws = client(&o);
    c = resolve(aws, 0);
    assert_string_equal(eqops_aws_credentials_source(c), "process");
    assert_string_equal(eqops_aws_credentials_access_key_id(c), "AKIDPROC");
    assert_true(eqops_aws_credentials_expiration(c) > 4000000000000LL);
    eqops_aws_credentials_free(c);
    eqops_aws_free(aws);
    const char *failing[][2] = {
        {"badproc", "Version"}, {"failproc", "exit 3"}, {"missing", "cannot run"}};
    for (size_t i = 0; i < 3; i++) {
        o.profile = failing[i][0];
        aws = client(&o);
        assert_int_not_equal(eqops_aws_credentials_resolve(&c, aws, &e), 0);
        if (!strstr(e.message, failing[i][1]))
            fail_msg("%s: %s", failing[i][0], e.message);
        eqops_aws_free(aws);
    }
    /* container credentials (EKS Pod Identity shape): loopback URI, token file read per call */
    write_file("pod-token", "Bearer pod-token\n", 0600);
    snprintf(path, sizeof(path), "%s/container/creds", base);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", path, 1);
    snprintf(path, sizeof(path), "%s/pod-token", tmp);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path, 1);
    aws = client(NULL);
    c = resolve(aws, 0);
    assert_string_equal(eqops_aws_credentials_source(c), "container");
    assert_string_equal(eqops_aws_credentials_access_key_id(c), "PODAKID");
    eqops_aws_credentials_free(c);
    eqops_aws_free(aws);
    /* a profile that sets up credentials but is broken fails; it never falls through to the
     * container's (or the node's) role. A profile without credentials does fall through. */
    const char *broken[] = {"badwif", "typo"};
    for (size_t i = 0; i < 2; i++) {
        eqops_aws_options po = EQOPS_AWS_OPTIONS_INIT;
        po.profile = broken[i];
        aws = client(&po);
        eqops_error pe = EQOPS_ERROR_INIT;
        c = NULL;
        if (eqops_aws_credentials_resolve(&c, aws, &pe) == 0)
            fail_msg("profile %s resolved to %s", broken[i], eqops_aws_credentials_source(c));
        eqops_error_clear(&pe);
        eqops_aws_free(aws);
    }
    eqops_aws_options ro = EQOPS_AWS_OPTIONS_INIT;
    ro.profile = "regiononly";
    aws = client(&ro);
    c = resolve(aws, 0);
    assert_string_equal(eqops_aws_credentials_source(c), "container");
    eqops_aws_credentials_free(c);
    eqops_aws_free(aws);
    write_file("pod-token", "Bearer rotated-wrong\n", 0600);
    aws = client(NULL);
    resolve(aws, EQOPS_EAUTH);
    eqops_aws_free(aws);
    /* not loopback or the agent, however it is dressed up: the token is not sent */
    snprintf(path, sizeof(path), "http://127.0.0.1:1@127.0.0.2:%ld/container/creds",
             ts_int(&fake, "port"));
    const char *hostile[] = {"http://10.1.2.3/creds",
                             "https://evil.example/creds",
                             path,
                             "http://127.0.0.1.evil.example/creds",
                             "ftp://127.0.0.1/creds",
                             "http://user@169.254.170.2/creds"};
    long container_calls = fake_count("container");
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", hostile[i], 1);
        aws = client(NULL);
        resolve(aws, EQOPS_EINVAL);
        eqops_aws_free(aws);
    }
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "@127.0.0.2/creds", 1);
    aws = client(NULL);
    resolve(aws, EQOPS_EINVAL);
    eqops_aws_free(aws);
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    assert_int_equal(fake_count("container"), container_calls);
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    /* IMDSv2 */
    setenv("AWS_EC2_METADATA_DISABLED", "false", 1);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", base, 1);
    aws = client(NULL);
    c = resolve(aws, 0);
    assert_string_equal(eqops_aws_credentials_source(c), "imds");
    assert_string_equal(eqops_aws_credentials_access_key_id(c), "IMDSAKID");
    eqops_aws_credentials_free(c);
    /* cached: no new metadata requests */
    long before = fake_count("imds-token");
    c = resolve(aws, 0);
    eqops_aws_credentials_free(c);
    assert_int_equal(fake_count("imds-token"), before);
    eqops_aws_free(aws);
    /* IMDSv1 when the token PUT is refused, unless v1 is disabled */
    fake_mode("v1only=1");
    aws = client(NULL);
    c = resolve(aws, 0);
    eqops_aws_credentials_free(c);
    eqops_aws_free(aws);
    setenv("AWS_EC2_METADATA_V1_DISABLED", "true", 1);
    aws = client(NULL);
    resolve(aws, EQOPS_ENOTFOUND);
    eqops_aws_free(aws);
    unsetenv("AWS_EC2_METADATA_V1_DISABLED");
    /* a metadata service that never answers costs about a second, not forever */
    fake_mode("v1only=0&hang=1");
    aws = client(NULL);
    int64_t t0 = eqops__mono_ms();
    resolve(aws, EQOPS_ENOTFOUND);
    assert_true(eqops__mono_ms() - t0 < 3000);
    eqops_aws_free(aws);
    fake_mode("hang=0");
    clean_env();
    eqops_error_clear(&e);
}

/* ---- the EKS token -----------------------------------------------------------------------------
 */

static void test_eks_token(void **state)
{
    (void)state;
    clean_env();
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SECRET", 1);
    eqops_aws *aws = client(NULL);
    char *token = NULL;
    int64_t exp = 0;
    eqops_error e = EQOPS_ERROR_INIT;
    int64_t now = eqops__now_ms();
    assert_int_equal(eqops_aws_eks_token(&token, &exp, aws, "prod-eu", &e), 0);
    assert_true(!strncmp(token, "k8s-aws-v1.", 11));
    assert_null(strchr(token, '='));
    assert_null(strchr(token, '+'));
    assert_null(strchr(token, '/'));
    assert_true(strlen(token) < 4096);
    assert_true(exp >= now + 14 * 60000 - 1000 && exp <= now + 14 * 60000 + 5000);
    /* decode the base64url and look at the URL */
    char *b64 = eqops__strdup(token + 11);
    size_t n = strlen(b64);
    char padded[4096];
    snprintf(padded, sizeof(padded), "%s%s", b64, n % 4 == 2 ? "==" : n % 4 == 3 ? "=" : "");
    for (char *p = padded; *p; p++)
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    unsigned char url[4096];
    int m = EVP_DecodeBlock(url, (unsigned char *)padded, (int)strlen(padded));
    assert_true(m > 0);
    url[m] = '\0';
    const char *u = (const char *)url;
    assert_true(!strncmp(u,
                         "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&"
                         "Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256",
                         110));
    assert_non_null(strstr(u, "&X-Amz-Expires=60&"));
    assert_non_null(strstr(u, "&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&"));
    assert_non_null(strstr(u, "%2Feu-west-1%2Fsts%2Faws4_request"));
    eqops__free(b64);
    eqops_free(token);
    char *cred = NULL;
    assert_int_equal(eqops_aws_eks_exec_credential(&cred, aws, "prod-eu", NULL, &e), 0);
    assert_non_null(strstr(cred, "\"apiVersion\":\"client.authentication.k8s.io/v1beta1\""));
    assert_non_null(strstr(cred, "\"kind\":\"ExecCredential\""));
    eqops_free(cred);
    assert_int_equal(eqops_aws_eks_exec_credential(&cred, aws, "prod-eu", "v2", &e), EQOPS_EINVAL);
    assert_int_equal(eqops_aws_eks_token(&token, &exp, aws, "bad name!", &e), EQOPS_EINVAL);
    eqops_aws_free(aws);
    clean_env();
}

/* ---- input checks before anything is sent ------------------------------------------------------
 */

static void test_input_checks(void **state)
{
    (void)state;
    eqops_aws *aws = fake_client("/throttle0/never", 0);
    eqops_error e = EQOPS_ERROR_INIT;
    const char *dims[] = {"tenant=acme", "bad", NULL};
    eqops_aws_metric m[2] = {{EQOPS_AWS_METRIC_VERSION, "ok", 1, "Count", NULL, 0, 0},
                             {EQOPS_AWS_METRIC_VERSION, "x", 1, "Count", dims, 0, 0}};
    const eqops_aws_metric *mp[2] = {&m[0], &m[1]};
    assert_int_equal(eqops_aws_metrics_put(aws, "ns", mp, 2, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "metrics[1].dimensions[1]");
    m[1].dimensions = NULL;
    m[1].unit = "Parsecs";
    assert_int_equal(eqops_aws_metrics_put(aws, "ns", mp, 2, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "metrics[1].unit");
    m[1].unit = NULL;
    m[1].value = 1.0 / 0.0;
    assert_int_equal(eqops_aws_metrics_put(aws, "ns", mp, 2, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_aws_metrics_put(aws, "AWS/EC2", mp, 1, &e), EQOPS_EINVAL);
    assert_int_equal(fake_count("never"), 0);
    char *out = NULL;
    assert_int_equal(eqops_aws_secret_get(&out, aws, "", NULL, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_aws_metrics_get(&out, aws, "{}", 0, 1000, &e), EQOPS_EINVAL);
    assert_int_equal(eqops_aws_metrics_get(&out, aws, "[{}]", 1000, 0, &e), EQOPS_EINVAL);
    eqops_aws_credentials *c = NULL;
    assert_int_equal(eqops_aws_sts_assume_role(&c, aws, "not-an-arn", NULL, 0, &e), EQOPS_EINVAL);
    assert_int_equal(
        eqops_aws_sts_assume_role(&c, aws, "arn:aws:iam::1:role/x", "bad session!", 0, &e),
        EQOPS_EINVAL);
    assert_int_equal(eqops_aws_sts_assume_role(&c, aws, "arn:aws:iam::1:role/x", NULL, 60, &e),
                     EQOPS_EINVAL);
    eqops_aws_free(aws);
    eqops_aws_options o = EQOPS_AWS_OPTIONS_INIT;
    o.region = "not a region";
    assert_int_equal(eqops_aws_new(&aws, &o, &e), EQOPS_EINVAL);
    o.region = NULL;
    o.endpoint_url = "ftp://x";
    assert_int_equal(eqops_aws_new(&aws, &o, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
}

int main(void)
{
    eqops_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_files),    cmocka_unit_test(test_errors),
        cmocka_unit_test(test_signer_rules),    cmocka_unit_test(test_retries),
        cmocka_unit_test(test_retry_cancelled), cmocka_unit_test(test_chain_cancelled),
        cmocka_unit_test(test_chain),           cmocka_unit_test(test_eks_token),
        cmocka_unit_test(test_input_checks),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    eqops_cleanup();
    return rc;
}
