/*
 * Fuzz what the aws module reads from the network: credential documents (JSON from the
 * container agent, the instance metadata service, credential_process), STS answers (XML),
 * error answers of every protocol, and timestamps. Nothing may crash or leak; a failure is an
 * error code with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int rc, eqops_aws_credentials *c, eqops_error *e)
{
    if (rc == 0) {
        if (c == NULL || !*eqops_aws_credentials_access_key_id(c) ||
            !*eqops_aws_credentials_secret_access_key(c))
            abort();
    } else if (c != NULL || e->message[0] == '\0') {
        abort();
    }
    eqops_aws_credentials_free(c);
    eqops_error_clear(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    eqops_error e = EQOPS_ERROR_INIT;
    eqops_aws_credentials *c = NULL;

    int rc = eqops__aws_credentials_from_json(&c, text, size, "fuzz", "fuzz", &e);
    check(rc, c, &e);
    c = NULL;
    rc = eqops__aws_sts_credentials(&c, text, size, "fuzz", "fuzz", &e);
    check(rc, c, &e);

    /* an error answer: the status from the first byte, the body as given, as each protocol */
    static const char *const types[] = {NULL, "application/x-amz-json-1.1", "text/xml"};
    for (size_t t = 0; t < 3; t++) {
        char n0[] = "x-amzn-ErrorType", v0[] = "ThrottlingException:http://internal/",
             n1[] = "Content-Type";
        eqops_http_header headers[2] = {{n0, v0}, {n1, (char *)types[t]}};
        eqops_http_response resp = EQOPS_HTTP_RESPONSE_INIT;
        resp.status = size ? 400 + data[0] % 200 : 500;
        resp.headers = headers;
        resp.nheaders = t ? 2 : 1;
        if (eqops__buf_put(&resp.body, text, size) != 0)
            return 0;
        rc = eqops__aws_error(&resp, "fuzz", &e);
        if (rc >= 0 || e.message[0] == '\0')
            abort();
        eqops_error_clear(&e);
        eqops__buf_free(&resp.body);
    }

    char *out = NULL;
    if (eqops__aws_xml_text(&out, text, size, "Code") == 0 && out == NULL)
        abort();
    eqops__free(out);

    char stamp[64];
    size_t n = size < sizeof(stamp) - 1 ? size : sizeof(stamp) - 1;
    memcpy(stamp, text, n);
    stamp[n] = '\0';
    int64_t ms = 0;
    (void)eqops__aws_parse_time(stamp, &ms);
    return 0;
}
