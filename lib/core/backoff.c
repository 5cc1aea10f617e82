/*
 * backoff.c - the one retry policy every module uses: exponential backoff with full jitter
 * (a uniform wait in [0, min(cap, base * 2^(retry-1))], as the AWS architecture blog's
 * "Exponential Backoff And Jitter" recommends), a server's Retry-After honoured up to a cap,
 * a bounded number of retries, an overall deadline, and a cancellation token that cuts any
 * wait short.
 */
#include "core_internal.h"

#include <math.h>

static double (*hook_random)(void);

void eqops__backoff_set_random(double (*fn)(void))
{
    hook_random = fn;
}

int64_t eqops__backoff_delay(const eqops__backoff *b, int retry, double retry_after_s)
{
    if (retry_after_s > 0) {
        double ms = retry_after_s * 1000.0;
        int64_t cap = b->retry_after_cap_ms > 0 ? b->retry_after_cap_ms : b->cap_ms;
        return ms > (double)cap ? cap : (int64_t)ms;
    }
    double ceiling =
        (double)(b->base_ms > 0 ? b->base_ms : 1) * pow(2.0, retry > 1 ? retry - 1 : 0);
    if (ceiling > (double)b->cap_ms)
        ceiling = (double)b->cap_ms;
    double r = hook_random ? hook_random() : eqops__random_unit();
    return (int64_t)(r * ceiling);
}

bool eqops__backoff_next(const eqops__backoff *b, int retry, double retry_after_s, int64_t *wait_ms)
{
    *wait_ms = 0;
    if (retry < 1 || (b->max_retries >= 0 && retry > b->max_retries))
        return false;
    if (eqops_cancel_triggered(b->cancel))
        return true; /* a wait of 0 that eqops__backoff_wait ends as cancelled: a "no retry"
                        here would read as the last attempt's answer, or as a success */
    int64_t wait = eqops__backoff_delay(b, retry, retry_after_s);
    if (b->deadline_ms > 0 && eqops__mono_ms() + wait >= b->deadline_ms)
        return false; /* the wait alone would spend what is left */
    *wait_ms = wait;
    return true;
}

int eqops__backoff_wait(const eqops__backoff *b, int64_t wait_ms)
{
    return eqops__sleep_cancel(b->cancel, wait_ms);
}
