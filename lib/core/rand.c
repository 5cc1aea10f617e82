/*
 * rand.c - random numbers from OpenSSL's CSPRNG (backoff jitter, passwords, nonces).
 */
#include "core_internal.h"

#include <openssl/rand.h>

int eqops__random_bytes(void *out, size_t n)
{
    if (n > (size_t)INT32_MAX)
        return EQOPS_EINVAL;
    return RAND_bytes(out, (int)n) == 1 ? 0 : EQOPS_EINTERNAL;
}

double eqops__random_unit(void)
{
    uint64_t v = 0;
    if (eqops__random_bytes(&v, sizeof(v)) != 0)
        return 0.5;
    return (double)(v >> 11) * (1.0 / 9007199254740992.0); /* 53 random bits / 2^53 */
}
