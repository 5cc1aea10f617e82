/*
 * error.c - filling the caller-owned eqops_error, and code names.
 */
#include "core_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define BODY_KEEP_MAX (64 * 1024)

struct code_info {
    int code;
    const char *name;
    const char *text;
};

static const struct code_info codes[] = {
    {EQOPS_OK, "EQOPS_OK", "success"},
    {EQOPS_EINVAL, "EQOPS_EINVAL", "invalid argument"},
    {EQOPS_ENOMEM, "EQOPS_ENOMEM", "out of memory"},
    {EQOPS_ENOTFOUND, "EQOPS_ENOTFOUND", "not found"},
    {EQOPS_EEXISTS, "EQOPS_EEXISTS", "already exists"},
    {EQOPS_ECONFLICT, "EQOPS_ECONFLICT", "conflict"},
    {EQOPS_EAUTH, "EQOPS_EAUTH", "not authenticated"},
    {EQOPS_EFORBIDDEN, "EQOPS_EFORBIDDEN", "forbidden"},
    {EQOPS_ETIMEOUT, "EQOPS_ETIMEOUT", "timed out"},
    {EQOPS_EUNAVAILABLE, "EQOPS_EUNAVAILABLE", "service unavailable"},
    {EQOPS_EIO, "EQOPS_EIO", "input/output error"},
    {EQOPS_ETLS, "EQOPS_ETLS", "TLS error"},
    {EQOPS_ETOOBIG, "EQOPS_ETOOBIG", "too big"},
    {EQOPS_EPROTO, "EQOPS_EPROTO", "protocol error"},
    {EQOPS_ECANCELED, "EQOPS_ECANCELED", "canceled"},
    {EQOPS_EBUSY, "EQOPS_EBUSY", "busy"},
    {EQOPS_EGONE, "EQOPS_EGONE", "gone"},
    {EQOPS_ERATELIMIT, "EQOPS_ERATELIMIT", "rate limited"},
    {EQOPS_ENOTSUP, "EQOPS_ENOTSUP", "not supported"},
    {EQOPS_EINTERNAL, "EQOPS_EINTERNAL", "internal error"},
};

static const struct code_info *find_code(int code)
{
    for (size_t i = 0; i < EQOPS__ARRAY_LEN(codes); i++)
        if (codes[i].code == code)
            return &codes[i];
    return NULL;
}

const char *eqops_strerror(int code)
{
    const struct code_info *c = find_code(code);
    return c ? c->text : "unknown error";
}

const char *eqops_code_name(int code)
{
    const struct code_info *c = find_code(code);
    return c ? c->name : "EQOPS_EUNKNOWN";
}

/*
 * The caller's struct may come from an older header (same SONAME, fewer fields): only the
 * fields of its version are touched. Version 1 is the whole struct of this release.
 */
static size_t error_size(unsigned version)
{
    (void)version; /* 0 (zero-initialised) and 1 both mean the version 1 layout */
    return sizeof(eqops_error);
}

void eqops_error_init(eqops_error *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof(*err));
    err->version = EQOPS_ERROR_VERSION;
}

void eqops_error_clear(eqops_error *err)
{
    if (err == NULL)
        return;
    unsigned version = err->version;
    eqops__free(err->body);
    memset(err, 0, error_size(version));
    err->version = version ? version : EQOPS_ERROR_VERSION;
}

/* dst = a + b, truncated to fit (messages are cut on purpose, never overflowed). */
static void join(char *dst, size_t size, const char *a, const char *b)
{
    size_t la = strnlen(a, size - 1);
    size_t lb = strnlen(b, size - 1 - la);
    memmove(dst + la, b, lb);
    memmove(dst, a, la);
    dst[la + lb] = '\0';
}

/* Cut a UTF-8 sequence that truncation left incomplete at the end of `s`. */
static void trim_partial_utf8(char *s)
{
    size_t len = strlen(s);
    if (len == 0)
        return;
    size_t i = len - 1, cont = 0;
    while (i > 0 && cont < 3 && ((unsigned char)s[i] & 0xC0) == 0x80) {
        i--;
        cont++;
    }
    unsigned char lead = (unsigned char)s[i];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (lead >= 0x80 && len - i < need)
        s[i] = '\0';
}

/* Keep messages on one line (control characters become spaces) and valid at the end. */
static void one_line(char *s)
{
    trim_partial_utf8(s);
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

int eqops__err_v(eqops_error *err, int code, const char *fmt, va_list ap)
{
    if (err == NULL)
        return code;
    eqops_error_clear(err);
    err->code = code;
    if (fmt != NULL) {
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        one_line(err->message);
    } else {
        snprintf(err->message, sizeof(err->message), "%s", eqops_strerror(code));
    }
    return code;
}

int eqops__err(eqops_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    eqops__err_v(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int eqops__err_field(eqops_error *err, int code, const char *field, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    char detail[sizeof(err->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    char head[sizeof(err->field) + 2];
    snprintf(head, sizeof(head), "%.*s: ", (int)sizeof(err->field) - 1, field ? field : "(input)");
    eqops__err(err, code, NULL);
    join(err->message, sizeof(err->message), head, detail);
    one_line(err->message);
    if (field != NULL) {
        snprintf(err->field, sizeof(err->field), "%s", field);
        one_line(err->field);
    }
    return code;
}

void eqops__err_prefix(eqops_error *err, const char *fmt, ...)
{
    if (err == NULL || err->code == 0)
        return;
    char prefix[128];
    char old[sizeof(err->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof(old));
    join(err->message, sizeof(err->message), prefix, old);
    one_line(err->message);
}

void eqops__err_upstream(eqops_error *err, int http_status, const char *reason, double retry_after)
{
    if (err == NULL)
        return;
    err->http_status = http_status;
    if (reason != NULL) {
        snprintf(err->reason, sizeof(err->reason), "%s", reason);
        one_line(err->reason);
    }
    err->retry_after = retry_after;
}

int eqops__err_move(eqops_error *err, eqops_error *from)
{
    int code = from->code;
    if (err != NULL) {
        eqops_error_clear(err);
        *err = *from;
        eqops_error_init(from);
    } else {
        eqops_error_clear(from);
    }
    return code;
}

void eqops__err_body(eqops_error *err, const char *body, size_t len)
{
    if (err == NULL || body == NULL)
        return;
    if (len > BODY_KEEP_MAX)
        len = BODY_KEEP_MAX;
    char *copy = eqops__malloc(len + 1);
    if (copy == NULL)
        return;
    memcpy(copy, body, len);
    copy[len] = '\0';
    eqops__free(err->body);
    err->body = copy;
    err->body_len = len;
}

int eqops__errno_code(int errnum)
{
    switch (errnum) {
    case 0:
        return EQOPS_OK;
    case ENOMEM:
        return EQOPS_ENOMEM;
    case ENOENT:
    case ENOTDIR:
        return EQOPS_ENOTFOUND;
    case EEXIST:
        return EQOPS_EEXISTS;
    case EACCES:
    case EPERM:
        return EQOPS_EFORBIDDEN;
    case EINVAL:
        return EQOPS_EINVAL;
    case ETIMEDOUT:
        return EQOPS_ETIMEOUT;
    case EFBIG:
    case E2BIG:
        return EQOPS_ETOOBIG;
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
        return EQOPS_EUNAVAILABLE;
    default:
        return EQOPS_EIO;
    }
}

int eqops__http_status_code(long status)
{
    if (status < 400)
        return EQOPS_OK;
    switch (status) {
    case 400:
    case 422:
        return EQOPS_EINVAL;
    case 401:
        return EQOPS_EAUTH;
    case 403:
        return EQOPS_EFORBIDDEN;
    case 404:
        return EQOPS_ENOTFOUND;
    case 408:
        return EQOPS_ETIMEOUT;
    case 409:
        return EQOPS_ECONFLICT;
    case 410:
        return EQOPS_EGONE;
    case 412:
        return EQOPS_ECONFLICT;
    case 413:
        return EQOPS_ETOOBIG;
    case 429:
        return EQOPS_ERATELIMIT;
    case 504:
        return EQOPS_ETIMEOUT;
    default:
        return status >= 500 ? EQOPS_EUNAVAILABLE : EQOPS_EINVAL;
    }
}
