/*
 * test_aws_moto.c - the aws module against moto (scripts/testenv): STS, EKS, Secrets Manager
 * and CloudWatch calls, credentials from profiles that assume roles through STS, web
 * identity, and the service errors as the library reports them.
 *
 * Needs EQOPS_TEST_AWS_ENDPOINT (and the aws CLI, which creates the EKS cluster); without it
 * the tests skip (and fail with CI=true). Signature checking (moto-auth) is exercised by
 * tests/integration/test_aws.py, which switches it on and off around its own tests.
 */
#include <eqops.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testserver.h"

static const char *endpoint;
static char dir[64], run_id[24];

static int setup(void **state)
{
    (void)state;
    endpoint = getenv("EQOPS_TEST_AWS_ENDPOINT");
    if (endpoint == NULL) {
        const char *ci = getenv("CI");
        fprintf(stderr, "test environment not running: scripts/testenv up moto; eval "
                        "\"$(scripts/testenv env)\"\n");
        return ci && !strcmp(ci, "true") ? -1 : 0;
    }
    snprintf(dir, sizeof(dir), "/tmp/eqops-aws-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(run_id, sizeof(run_id), "%lx%lx", (long)getpid(), (long)time(NULL) & 0xffff);
    /* only what the tests set: no profile or key of the caller */
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("AWS_ROLE_ARN");
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_rmtree(dir);
    return 0;
}

#define NEED_ENV()                                                                                 \
    do {                                                                                           \
        if (endpoint == NULL)                                                                      \
            skip();                                                                                \
    } while (0)

static eqops_aws *client_with(const eqops_aws_credentials *creds, const char *profile)
{
    char none[128];
    snprintf(none, sizeof(none), "%s/none", dir);
    eqops_aws_options o = EQOPS_AWS_OPTIONS_INIT;
    o.region = "eu-west-1";
    o.endpoint_url = endpoint;
    o.credentials = creds;
    o.profile = profile;
    if (profile) {
        static char config[128], credentials[128];
        snprintf(config, sizeof(config), "%s/config", dir);
        snprintf(credentials, sizeof(credentials), "%s/credentials", dir);
        o.config_file = config;
        o.credentials_file = credentials;
    } else {
        o.config_file = none;
        o.credentials_file = none;
    }
    eqops_aws *aws = NULL;
    eqops_error e = EQOPS_ERROR_INIT;
    if (eqops_aws_new(&aws, &o, &e) != 0)
        fail_msg("aws_new: %s", e.message);
    return aws;
}

static eqops_aws *client(void)
{
    return client_with(NULL, NULL); /* the environment's keys (testenv: testing/testing) */
}

static json_t *doc_of(char *text)
{
    assert_non_null(text);
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    if (doc == NULL)
        fail_msg("not JSON (%s): %s", je.text, text);
    eqops_free(text);
    return doc;
}

static const char *str(json_t *doc, const char *key)
{
    const char *v = json_string_value(json_object_get(doc, key));
    if (v == NULL)
        fail_msg("no string \"%s\"", key);
    return v;
}

static void write_file(const char *name, const char *text)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- STS ------------------------------------------------------------------------------------ */

static void test_sts(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_aws *aws = client();
    eqops_error e = EQOPS_ERROR_INIT;
    char *out = NULL;
    assert_int_equal(eqops_aws_sts_caller_identity(&out, aws, &e), 0);
    json_t *who = doc_of(out);
    assert_string_equal(str(who, "account"), "123456789012");
    assert_non_null(strstr(str(who, "arn"), "arn:aws:"));
    json_decref(who);

    const char *role = "arn:aws:iam::123456789012:role/platform-deployer";
    eqops_aws_credentials *c = NULL;
    assert_int_equal(eqops_aws_sts_assume_role(&c, aws, role, "eqops-test", 900, &e), 0);
    assert_string_equal(eqops_aws_credentials_source(c), "assume-role");
    assert_non_null(eqops_aws_credentials_session_token(c));
    int64_t exp = eqops_aws_credentials_expiration(c);
    int64_t now = (int64_t)time(NULL) * 1000;
    assert_true(exp > now && exp <= now + 901 * 1000);
    /* the role's credentials work, and moto says who they are */
    eqops_aws *as_role = client_with(c, NULL);
    assert_int_equal(eqops_aws_sts_caller_identity(&out, as_role, &e), 0);
    who = doc_of(out);
    assert_non_null(strstr(str(who, "arn"), "assumed-role/platform-deployer/eqops-test"));
    json_decref(who);
    eqops_aws_free(as_role);
    eqops_aws_credentials_free(c);

    assert_int_equal(eqops_aws_sts_assume_role_with_web_identity(
                         &c, aws, role, "irsa", "eyJhbGciOiJSUzI1NiJ9.e30.sig", 0, &e),
                     0);
    assert_string_equal(eqops_aws_credentials_source(c), "web-identity");
    eqops_aws_credentials_free(c);

    /* bad arguments never reach the wire */
    assert_int_equal(eqops_aws_sts_assume_role(&c, aws, "not-an-arn", "s", 0, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "role_arn");
    eqops_error_clear(&e);
    assert_int_equal(eqops_aws_sts_assume_role(&c, aws, role, "s", 60, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
    eqops_aws_free(aws);
}

/* ---- credentials from profiles and the environment --------------------------------------- */

static void test_profile_chain(void **state)
{
    (void)state;
    NEED_ENV();
    write_file("credentials", "[base]\n"
                              "aws_access_key_id = AKIDBASE0000000000\n"
                              "aws_secret_access_key = base-secret\n");
    char token_path[128], config[512];
    snprintf(token_path, sizeof(token_path), "%s/token", dir);
    write_file("token", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.sig\n");
    snprintf(config, sizeof(config),
             "[profile deployer]\n"
             "role_arn = arn:aws:iam::123456789012:role/deployer\n"
             "source_profile = base\n"
             "role_session_name = eqops-chain\n"
             "[profile irsa]\n"
             "role_arn = arn:aws:iam::123456789012:role/irsa\n"
             "web_identity_token_file = %s\n"
             "[profile helper]\n"
             "credential_process = sh -c 'printf \"%%s\" \"{\\\"Version\\\": 1, "
             "\\\"AccessKeyId\\\": \\\"AKIDPROC\\\", \\\"SecretAccessKey\\\": \\\"p\\\"}\"'\n",
             token_path);
    write_file("config", config);
    eqops_error e = EQOPS_ERROR_INIT;
    char *out = NULL;
    eqops_aws_credentials *c = NULL;

    eqops_aws *aws = client_with(NULL, "deployer");
    assert_int_equal(eqops_aws_credentials_resolve(&c, aws, &e), 0);
    assert_string_equal(eqops_aws_credentials_source(c), "assume-role");
    eqops_aws_credentials_free(c);
    assert_int_equal(eqops_aws_sts_caller_identity(&out, aws, &e), 0);
    json_t *who = doc_of(out);
    assert_non_null(strstr(str(who, "arn"), "assumed-role/deployer/eqops-chain"));
    json_decref(who);
    eqops_aws_free(aws);

    aws = client_with(NULL, "irsa");
    assert_int_equal(eqops_aws_credentials_resolve(&c, aws, &e), 0);
    assert_string_equal(eqops_aws_credentials_source(c), "web-identity");
    eqops_aws_credentials_free(c);
    assert_int_equal(eqops_aws_sts_caller_identity(&out, aws, &e), 0);
    who = doc_of(out);
    assert_non_null(strstr(str(who, "arn"), "assumed-role/irsa/"));
    json_decref(who);
    eqops_aws_free(aws);

    aws = client_with(NULL, "helper");
    assert_int_equal(eqops_aws_credentials_resolve(&c, aws, &e), 0);
    assert_string_equal(eqops_aws_credentials_source(c), "process");
    assert_string_equal(eqops_aws_credentials_access_key_id(c), "AKIDPROC");
    eqops_aws_credentials_free(c);
    eqops_aws_free(aws);

    /* the EKS IRSA path: the token file and role from the environment */
    char *saved_key = strdup(getenv("AWS_ACCESS_KEY_ID") ? getenv("AWS_ACCESS_KEY_ID") : "");
    char *saved_secret =
        strdup(getenv("AWS_SECRET_ACCESS_KEY") ? getenv("AWS_SECRET_ACCESS_KEY") : "");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token_path, 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/tenant-operator", 1);
    aws = client();
    assert_int_equal(eqops_aws_sts_caller_identity(&out, aws, &e), 0);
    who = doc_of(out);
    assert_non_null(strstr(str(who, "arn"), "assumed-role/tenant-operator/"));
    json_decref(who);
    eqops_aws_free(aws);
    /* IRSA comes before a profile's static keys, as in the SDKs */
    aws = client_with(NULL, "base");
    assert_int_equal(eqops_aws_credentials_resolve(&c, aws, &e), 0);
    assert_string_equal(eqops_aws_credentials_source(c), "web-identity");
    eqops_aws_credentials_free(c);
    eqops_aws_free(aws);
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("AWS_ROLE_ARN");
    setenv("AWS_ACCESS_KEY_ID", saved_key, 1);
    setenv("AWS_SECRET_ACCESS_KEY", saved_secret, 1);
    free(saved_key);
    free(saved_secret);
}

/* ---- EKS ------------------------------------------------------------------------------------ */

static void test_eks(void **state)
{
    (void)state;
    NEED_ENV();
    char name[64], cmd[512];
    snprintf(name, sizeof(name), "eqops-c-%s", run_id);
    snprintf(cmd, sizeof(cmd),
             "aws eks create-cluster --region eu-west-1 --name %s --role-arn "
             "arn:aws:iam::123456789012:role/eks --resources-vpc-config subnetIds=subnet-1 "
             ">/dev/null",
             name);
    assert_int_equal(system(cmd), 0);
    eqops_aws *aws = client();
    eqops_error e = EQOPS_ERROR_INIT;
    char *out = NULL;
    assert_int_equal(eqops_aws_eks_describe_cluster(&out, aws, name, &e), 0);
    json_t *c = doc_of(out);
    assert_string_equal(str(c, "name"), name);
    assert_non_null(strstr(str(c, "endpoint"), "https://"));
    assert_true(strlen(str(json_object_get(c, "certificateAuthority"), "data")) > 0);
    json_decref(c);

    assert_int_equal(eqops_aws_eks_describe_cluster(&out, aws, "no-such-cluster", &e),
                     EQOPS_ENOTFOUND);
    assert_string_equal(e.reason, "ResourceNotFoundException");
    assert_int_equal(e.http_status, 404);
    eqops_error_clear(&e);

    int64_t expires = 0;
    assert_int_equal(eqops_aws_eks_token(&out, &expires, aws, name, &e), 0);
    assert_int_equal(strncmp(out, "k8s-aws-v1.", 11), 0);
    eqops_free(out);
    assert_int_equal(eqops_aws_eks_exec_credential(&out, aws, name, NULL, &e), 0);
    c = doc_of(out);
    assert_string_equal(str(c, "apiVersion"), "client.authentication.k8s.io/v1beta1");
    json_decref(c);
    eqops_aws_free(aws);
}

/* ---- Secrets Manager ---------------------------------------------------------------------- */

static void test_secrets(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_aws *aws = client();
    eqops_error e = EQOPS_ERROR_INIT;
    char name[96], *out = NULL;
    snprintf(name, sizeof(name), "tenants/acme-%s/db", run_id);
    const char *v1 = "{\"user\":\"acme\",\"password\":\"p\\\"q'r\\\\s\u00e9\"}";
    assert_int_equal(eqops_aws_secret_create(&out, aws, name, v1, "acme database", &e), 0);
    json_t *d = doc_of(out);
    assert_string_equal(str(d, "name"), name);
    assert_non_null(strstr(str(d, "arn"), ":secret:"));
    json_decref(d);
    assert_int_equal(eqops_aws_secret_create(&out, aws, name, v1, NULL, &e), EQOPS_EEXISTS);
    assert_string_equal(e.reason, "ResourceExistsException");
    eqops_error_clear(&e);

    assert_int_equal(eqops_aws_secret_get(&out, aws, name, NULL, &e), 0);
    assert_string_equal(out, v1);
    eqops_free_secret(out);

    assert_int_equal(eqops_aws_secret_put(&out, aws, name, "second", &e), 0);
    d = doc_of(out);
    assert_true(strlen(str(d, "version_id")) > 0);
    json_decref(d);
    assert_int_equal(eqops_aws_secret_get(&out, aws, name, NULL, &e), 0);
    assert_string_equal(out, "second");
    eqops_free_secret(out);
    assert_int_equal(eqops_aws_secret_get(&out, aws, name, "AWSPREVIOUS", &e), 0);
    assert_string_equal(out, v1);
    eqops_free_secret(out);

    assert_int_equal(eqops_aws_secret_describe(&out, aws, name, &e), 0);
    d = doc_of(out);
    assert_string_equal(str(d, "Description"), "acme database");
    assert_null(json_object_get(d, "SecretString"));
    json_decref(d);

    /* a recovery window first, then gone for good */
    assert_int_equal(eqops_aws_secret_delete(aws, name, 0, &e), 0);
    assert_int_equal(eqops_aws_secret_get(&out, aws, name, NULL, &e), EQOPS_EINVAL);
    assert_string_equal(e.reason, "InvalidRequestException"); /* marked for deletion */
    eqops_error_clear(&e);
    if (eqops_aws_secret_delete(aws, name, 1, &e) != 0)
        fail_msg("force delete: %s (%s)", e.message, e.reason);
    assert_int_equal(eqops_aws_secret_get(&out, aws, name, NULL, &e), EQOPS_ENOTFOUND);
    assert_string_equal(e.reason, "ResourceNotFoundException");
    assert_null(strstr(e.message, "second"));
    eqops_error_clear(&e);
    /* a missing secret: not found, unless forced (the service then says yes, as AWS does) */
    assert_int_equal(eqops_aws_secret_delete(aws, "tenants/none", 0, &e), EQOPS_ENOTFOUND);
    eqops_error_clear(&e);
    assert_int_equal(eqops_aws_secret_delete(aws, "tenants/none", 1, &e), 0);
    assert_int_equal(eqops_aws_secret_create(&out, aws, "", "x", NULL, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "name");
    eqops_error_clear(&e);
    eqops_aws_free(aws);
}

/* ---- CloudWatch ------------------------------------------------------------------------------ */

static int posts;

static void count_posts(eqops_log_level level, const char *module, const char *message,
                        void *payload)
{
    (void)level;
    (void)payload;
    if (!strcmp(module, "net") && !strncmp(message, "POST ", 5) && strstr(message, "-> 200"))
        posts++;
}

static void test_metrics(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_aws *aws = client();
    eqops_error e = EQOPS_ERROR_INIT;
    char ns[64], dim[64], metric[64];
    snprintf(ns, sizeof(ns), "Eqops/Test%s", run_id);
    snprintf(dim, sizeof(dim), "Tenant=acme");
    /* (moto's GetMetricData matches by name and dimensions only: a name of this run's own) */
    snprintf(metric, sizeof(metric), "Onboarded%s", run_id);
    const char *dims[] = {dim, "Region=eu-west-1", NULL};
    int64_t now = (int64_t)time(NULL) * 1000;
    now -= now % 60000; /* one minute: one datapoint */
    size_t n = 2500;
    eqops_aws_metric *m = calloc(n, sizeof(*m));
    const eqops_aws_metric **mp = calloc(n, sizeof(*mp));
    assert_non_null(m);
    assert_non_null(mp);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(eqops_aws_metric_init(&m[i], EQOPS_AWS_METRIC_VERSION), 0);
        mp[i] = &m[i];
        m[i].name = metric;
        m[i].value = 1.0;
        m[i].unit = "Count";
        m[i].dimensions = dims;
        m[i].timestamp_ms = now - 60000;
    }
    posts = 0;
    eqops_set_log(count_posts, EQOPS_LOG_DEBUG, NULL);
    int rc = eqops_aws_metrics_put(aws, ns, mp, n, &e);
    eqops_set_log(NULL, EQOPS_LOG_NONE, NULL);
    if (rc != 0)
        fail_msg("put: %s", e.message);
    assert_int_equal(posts, 3); /* 1000 + 1000 + 500 */

    /* validated before anything is sent */
    m[7].value = 0.0 / 0.0;
    assert_int_equal(eqops_aws_metrics_put(aws, ns, mp, n, &e), EQOPS_EINVAL);
    assert_string_equal(e.field, "metrics[7].value");
    eqops_error_clear(&e);
    free(mp);
    free(m);

    char queries[512], *out = NULL;
    snprintf(queries, sizeof(queries),
             "[{\"Id\": \"onboarded\", \"MetricStat\": {\"Metric\": {\"Namespace\": \"%s\", "
             "\"MetricName\": \"%s\", \"Dimensions\": [{\"Name\": \"Tenant\", \"Value\": "
             "\"acme\"}, {\"Name\": \"Region\", \"Value\": \"eu-west-1\"}]}, \"Period\": 60, "
             "\"Stat\": \"Sum\"}}]",
             ns, metric);
    assert_int_equal(eqops_aws_metrics_get(&out, aws, queries, now - 3600000, now + 60000, &e), 0);
    json_t *res = doc_of(out);
    assert_true(json_is_array(res));
    json_t *first = json_array_get(res, 0);
    assert_string_equal(str(first, "Id"), "onboarded");
    json_t *values = json_object_get(first, "Values");
    double sum = 0;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) sum += json_number_value(v);
    if (sum != 2500.0)
        fail_msg("sum %g: %s", sum, json_dumps(res, 0));
    json_decref(res);

    assert_int_equal(eqops_aws_metrics_get(&out, aws, "{not json", 0, now, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
    eqops_aws_free(aws);
}

/* ---- presign -------------------------------------------------------------------------------- */

static void test_presign(void **state)
{
    (void)state;
    NEED_ENV();
    eqops_aws *aws = client();
    eqops_error e = EQOPS_ERROR_INIT;
    char url[512], *out = NULL;
    snprintf(url, sizeof(url), "%s/?Action=GetCallerIdentity&Version=2011-06-15", endpoint);
    assert_int_equal(eqops_aws_presign(&out, aws, "GET", url, "sts", 300, &e), 0);
    assert_non_null(strstr(out, "X-Amz-Expires=300"));
    assert_non_null(strstr(out, "X-Amz-Signature="));
    eqops_free(out);
    assert_int_equal(eqops_aws_presign(&out, aws, "GET", url, "sts", 604801, &e), EQOPS_EINVAL);
    eqops_error_clear(&e);
    eqops_aws_free(aws);
}

int main(void)
{
    eqops_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sts),     cmocka_unit_test(test_profile_chain),
        cmocka_unit_test(test_eks),     cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_metrics), cmocka_unit_test(test_presign),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    eqops_cleanup();
    return rc;
}
