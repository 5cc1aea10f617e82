/*
 * aws_sign - SigV4 signatures per second with a cached signing key: the requests the platform
 * sends (Secrets Manager and CloudWatch JSON posts, an STS form post, an EKS token presign),
 * signed over and over at a fixed time of one day, as a long-running client does.
 *
 * usage: aws_sign [signatures=1000000]
 * Prints signatures per second and ns per signature. Not a test: nothing is asserted. The
 * same requests are signed by botocore in aws_sign.py, which checks the signatures printed
 * here and prints the ratio.
 */
#include <eqops.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* the requests; aws_sign.py has the same list and checks the signatures printed below */
#define BENCH_AKID    "ASIAEXAMPLEBENCH0001"
#define BENCH_SECRET  "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define BENCH_TOKEN   "IQoJb3JpZ2luX2VjEBench/session/token+value="
#define BENCH_REGION  "eu-west-1"
#define BENCH_TIME_MS 1795759200000LL /* 2026-11-27T06:00:00Z */

typedef struct bench_request {
    const char *service;
    int presign;
    const char *method;
    const char *url;
    const char *headers[4];
    const char *body;
} bench_request;

static const bench_request bench_requests[] = {
    {"secretsmanager",
     0,
     "POST",
     "https://secretsmanager.eu-west-1.amazonaws.com/",
     {"Content-Type: application/x-amz-json-1.1", "X-Amz-Target: secretsmanager.GetSecretValue",
      NULL},
     "{\"SecretId\": \"tenants/acme-power/db\"}"},
    {"monitoring",
     0,
     "POST",
     "https://monitoring.eu-west-1.amazonaws.com/",
     {"Content-Type: application/x-amz-json-1.0",
      "X-Amz-Target: GraniteServiceVersion20100801.PutMetricData", "x-amzn-query-mode: true", NULL},
     "{\"Namespace\": \"Platform/Tenants\", \"MetricData\": [{\"MetricName\": \"Onboarded\", "
     "\"Value\": 1, \"Unit\": \"Count\", \"Dimensions\": [{\"Name\": \"Region\", \"Value\": "
     "\"eu-west-1\"}, {\"Name\": \"Tier\", \"Value\": \"gold\"}]}]}"},
    {"sts",
     0,
     "POST",
     "https://sts.eu-west-1.amazonaws.com/",
     {"Content-Type: application/x-www-form-urlencoded; charset=utf-8", NULL},
     "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2F"
     "deployer&RoleSessionName=eqops"},
    {"sts",
     1,
     "GET",
     "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
     {"x-k8s-aws-id: prod-eu", NULL},
     ""},
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    if (n < 1)
        return 2;
    eqops_init();
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_aws_credentials *creds = NULL;
    if (eqops_aws_credentials_new(&creds, BENCH_AKID, BENCH_SECRET, BENCH_TOKEN, 0, &e) != 0)
        return 1;
    size_t nreq = sizeof(bench_requests) / sizeof(bench_requests[0]);
    eqops_aws_signer *signers[sizeof(bench_requests) / sizeof(bench_requests[0])];
    for (size_t i = 0; i < nreq; i++) {
        eqops_aws_sign_options o = EQOPS_AWS_SIGN_OPTIONS_INIT;
        o.region = BENCH_REGION;
        o.service = bench_requests[i].service;
        o.presign = bench_requests[i].presign;
        o.expires_s = 60;
        if (eqops_aws_signer_new(&signers[i], creds, &o, &e) != 0) {
            fprintf(stderr, "signer: %s\n", e.message);
            return 1;
        }
    }
    size_t body_len[sizeof(bench_requests) / sizeof(bench_requests[0])];
    for (size_t i = 0; i < nreq; i++)
        body_len[i] = strlen(bench_requests[i].body);
    /* warm up (the signing keys of the day), and show what was signed */
    for (size_t i = 0; i < nreq; i++) {
        if (eqops_aws_signer_sign(signers[i], bench_requests[i].method, bench_requests[i].url,
                                  bench_requests[i].headers, bench_requests[i].body,
                                  strlen(bench_requests[i].body), BENCH_TIME_MS, &e) != 0) {
            fprintf(stderr, "sign: %s\n", e.message);
            return 1;
        }
        printf("signature %zu %s\n", i, eqops_aws_signer_signature(signers[i]));
    }
    double t0 = now();
    size_t out = 0;
    for (long k = 0; k < n; k++) {
        const bench_request *r = &bench_requests[k % (long)nreq];
        eqops_aws_signer *s = signers[k % (long)nreq];
        if (eqops_aws_signer_sign(s, r->method, r->url, r->headers, r->body,
                                  body_len[k % (long)nreq], BENCH_TIME_MS, &e) != 0)
            return 1;
        out += eqops_aws_signer_signature(s)[0]; /* the result is used */
    }
    double dt = now() - t0;
    printf("libeqops (C): %ld signatures in %.3f s: %.0f signatures/s, %.0f ns each (%zu)\n", n, dt,
           (double)n / dt, dt * 1e9 / (double)n, out % 2);
    for (size_t i = 0; i < nreq; i++)
        eqops_aws_signer_free(signers[i]);
    eqops_aws_credentials_free(creds);
    eqops_cleanup();
    return 0;
}
