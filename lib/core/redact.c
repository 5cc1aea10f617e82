/*
 * redact.c - keep secrets out of log lines and error messages.
 */
#include "core_internal.h"

#include <curl/curl.h>
#include <strings.h>
#include <string.h>

static bool contains_ci(const char *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= hay_len; i++)
        if (strncasecmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

static bool equals_ci(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

static bool name_is_secret(const char *name, size_t len)
{
    static const char *const parts[] = {"signature", "credential", "token",  "password",
                                        "passwd",    "secret",     "apikey", "api_key",
                                        "api-key",   "access_key", "cookie", "session"};
    static const char *const words[] = {"sig", "key", "auth", "authorization", "pwd"};
    for (size_t i = 0; i < EQOPS__ARRAY_LEN(parts); i++)
        if (contains_ci(name, len, parts[i]))
            return true;
    for (size_t i = 0; i < EQOPS__ARRAY_LEN(words); i++)
        if (equals_ci(name, len, words[i]))
            return true;
    return false;
}

bool eqops__header_is_secret(const char *name, size_t name_len)
{
    return name_is_secret(name, name_len);
}

/* Judge a query parameter name as the server will read it: percent-decoded. */
static bool query_name_is_secret(const char *name, size_t len, eqops_buf *out)
{
    if (name_is_secret(name, len))
        return true;
    int dlen = 0;
    char *decoded = curl_easy_unescape(NULL, name, (int)(len < 4096 ? len : 4096), &dlen);
    if (decoded == NULL) {
        out->oom = true;
        return true;
    }
    bool secret = name_is_secret(decoded, (size_t)dlen);
    curl_free(decoded);
    return secret;
}

static void redact_query(const char *q, eqops_buf *out)
{
    while (*q) {
        size_t seg = strcspn(q, "&");
        size_t key = strcspn(q, "=&");
        eqops__buf_put(out, q, key);
        if (key < seg) {
            eqops__buf_putc(out, '=');
            if (query_name_is_secret(q, key, out))
                eqops__buf_puts(out, "REDACTED");
            else
                eqops__buf_put(out, q + key + 1, seg - key - 1);
        }
        q += seg;
        if (*q == '&') {
            eqops__buf_putc(out, '&');
            q++;
        }
    }
}

/* Get an optional URL part: 0 (present or absent) or -1 when libcurl ran out of memory. */
static int part(CURLU *u, CURLUPart what, char **out)
{
    CURLUcode c = curl_url_get(u, what, out, 0);
    return c == CURLUE_OUT_OF_MEMORY ? -1 : 0;
}

int eqops__redact_url(const char *url, eqops_buf *out)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL;
    CURLUcode c = CURLUE_OK;
    if (u == NULL) {
        out->oom = true;
        return EQOPS_ENOMEM;
    }
    if (url == NULL || (c = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME)) ||
        (c = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0)) ||
        (c = curl_url_get(u, CURLUPART_HOST, &host, 0))) {
        if (c == CURLUE_OUT_OF_MEMORY)
            out->oom = true;
        else
            eqops__buf_puts(out, "(unparseable URL)");
        goto done;
    }
    if (part(u, CURLUPART_USER, &user) || part(u, CURLUPART_PORT, &port) ||
        part(u, CURLUPART_PATH, &path) || part(u, CURLUPART_QUERY, &query)) {
        out->oom = true;
        goto done;
    }
    eqops__buf_printf(out, "%s://%s%s%s%s%s", scheme, user != NULL ? "REDACTED@" : "", host,
                      port ? ":" : "", port ? port : "", path ? path : "/");
    if (query != NULL && *query) {
        eqops__buf_putc(out, '?');
        redact_query(query, out);
    }
done:
    curl_free(user);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return eqops__buf_ok(out);
}
