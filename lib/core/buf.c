/*
 * buf.c - growable NUL-terminated buffers with a sticky out-of-memory flag.
 */
#include "core_internal.h"

#include <stdio.h>
#include <string.h>

int eqops__buf_reserve(eqops_buf *b, size_t extra)
{
    if (b->oom)
        return EQOPS_ENOMEM;
    if (extra > SIZE_MAX - b->len - 1)
        goto fail;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = eqops__realloc(b->data, cap);
    if (p == NULL)
        goto fail;
    b->data = p;
    b->cap = cap;
    return 0;
fail:
    b->oom = true;
    return EQOPS_ENOMEM;
}

int eqops__buf_put_grow(eqops_buf *b, const void *data, size_t len)
{
    if (eqops__buf_reserve(b, len) != 0)
        return EQOPS_ENOMEM;
    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int eqops__buf_vprintf(eqops_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->oom = true;
        return EQOPS_ENOMEM;
    }
    if (eqops__buf_reserve(b, (size_t)n) != 0)
        return EQOPS_ENOMEM;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int eqops__buf_printf(eqops_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = eqops__buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int eqops__buf_ok(const eqops_buf *b)
{
    return b->oom ? EQOPS_ENOMEM : 0;
}

const char *eqops__buf_cstr(const eqops_buf *b)
{
    return b->data ? b->data : "";
}

char *eqops__buf_detach(eqops_buf *b)
{
    if (b->oom) {
        eqops__buf_free(b);
        return NULL;
    }
    char *p = b->data;
    if (p == NULL)
        p = eqops__strdup("");
    *b = (eqops_buf)EQOPS_BUF_INIT;
    return p;
}

void eqops__buf_truncate(eqops_buf *b, size_t len)
{
    if (b->data != NULL && len < b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

void eqops__buf_free(eqops_buf *b)
{
    eqops__free(b->data);
    *b = (eqops_buf)EQOPS_BUF_INIT;
}

void eqops__buf_wipe(eqops_buf *b)
{
    eqops__wipe(b->data, b->cap);
    eqops__buf_free(b);
}
