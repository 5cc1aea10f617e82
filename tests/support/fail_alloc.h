/*
 * fail_alloc.h - allocation-failure harness: count live allocations and fail the k-th one.
 */
#ifndef EQOPS_TEST_FAIL_ALLOC_H
#define EQOPS_TEST_FAIL_ALLOC_H

#include <stdbool.h>

/* Install the counting allocator (wraps malloc, so it can be installed at any time). */
void fa_install(void);
void fa_uninstall(void);
/* Fail the k-th allocation from now on (1-based); 0 disables failures. */
void fa_fail_at(long k);
/* Whether a failure was injected since the last fa_fail_at(). */
bool fa_triggered(void);
/* Allocations currently alive (made through the hook and not yet freed). */
long fa_live(void);

/*
 * Run op() with the k-th allocation failing for k = 1, 2, ... until a run needs no failure.
 * Each failing run must return `fail_code` (or 0 when `may_succeed`, for operations that
 * tolerate a failed optional allocation); after cleanup() no allocation may be left alive.
 * Returns the number of failure points exercised; fails the current cmocka test otherwise.
 */
long fa_loop(int (*op)(void *ctx), void (*cleanup)(void *ctx), void *ctx, int fail_code,
             bool may_succeed);

/* The same with a list of accepted outcomes for failing runs (0 = success is accepted).
 * outcomes[i] counts the failing runs that returned ok_codes[i]. */
long fa_loop_codes(int (*op)(void *ctx), void (*cleanup)(void *ctx), void *ctx, const int *ok_codes,
                   long *outcomes, int n);

#endif
