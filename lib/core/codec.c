/*
 * codec.c - base64 decoding with OpenSSL's streaming decoder (which accepts line breaks).
 */
#include "core_internal.h"

#include <openssl/evp.h>

int eqops__base64_decode(eqops_buf *out, const char *in, size_t len, const char *what,
                         eqops_error *err)
{
    if (len > INT32_MAX / 2)
        return eqops__err(err, EQOPS_ETOOBIG, "%s: too large", what);
    size_t start = out->len;
    if (eqops__buf_reserve(out, len / 4 * 3 + 3) != 0)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    if (ctx == NULL)
        return eqops__err(err, EQOPS_ENOMEM, "out of memory");
    EVP_DecodeInit(ctx);
    int n = 0, m = 0;
    unsigned char *o = (unsigned char *)out->data + start;
    int ok = EVP_DecodeUpdate(ctx, o, &n, (const unsigned char *)in, (int)len) >= 0 &&
             EVP_DecodeFinal(ctx, o + n, &m) == 1;
    EVP_ENCODE_CTX_free(ctx);
    if (!ok) {
        eqops__buf_truncate(out, start);
        return eqops__err(err, EQOPS_EINVAL, "%s: not base64", what);
    }
    out->len = start + (size_t)n + (size_t)m;
    out->data[out->len] = '\0';
    return 0;
}

int eqops__base64_encode(eqops_buf *out, const void *in, size_t len)
{
    if (len > INT32_MAX / 2 || eqops__buf_reserve(out, (len + 2) / 3 * 4 + 1) != 0)
        return EQOPS_ENOMEM;
    int n = EVP_EncodeBlock((unsigned char *)out->data + out->len, in, (int)len);
    out->len += (size_t)n;
    out->data[out->len] = '\0';
    return 0;
}
