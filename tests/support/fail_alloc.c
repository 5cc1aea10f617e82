/*
 * fail_alloc.c - see fail_alloc.h.
 */
#include "fail_alloc.h"

#include <eqops/common.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <execinfo.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static long counter;
static long fail_at;
static bool triggered;
static _Atomic long live; /* libcurl's resolver thread allocates too */

/*
 * The addresses handed out since fa_install(), so that freeing a block made before (by
 * eqops_init, say) is not mistaken for a leak fix. Open addressing; a mutex because
 * libcurl's resolver thread allocates through the hook as well.
 */
#define SLOTS (1 << 16)
static uintptr_t slots[SLOTS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
#define TOMBSTONE ((uintptr_t)1)

static size_t slot_of(uintptr_t p)
{
    return (size_t)((p >> 4) * 2654435761u) & (SLOTS - 1);
}

static void track(void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    pthread_mutex_lock(&slots_lock);
    for (size_t i = slot_of(p), n = 0; n < SLOTS; i = (i + 1) & (SLOTS - 1), n++) {
        if (slots[i] == 0 || slots[i] == TOMBSTONE) {
            slots[i] = p;
            live++;
            break;
        }
    }
    pthread_mutex_unlock(&slots_lock);
}

/* Forget ptr; false when it was not handed out since fa_install(). */
static bool untrack(void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    bool found = false;
    pthread_mutex_lock(&slots_lock);
    for (size_t i = slot_of(p), n = 0; n < SLOTS && slots[i] != 0; i = (i + 1) & (SLOTS - 1), n++) {
        if (slots[i] == p) {
            slots[i] = TOMBSTONE;
            live--;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&slots_lock);
    return found;
}

/* FA_TRACE=1 prints where each injected failure happens (debugging a failing loop). */
static void inject(void)
{
    triggered = true;
    if (getenv("FA_TRACE") != NULL) {
        void *frames[16];
        int n = backtrace(frames, 16);
        fprintf(stderr, "fa: failing allocation %ld at:\n", fail_at);
        backtrace_symbols_fd(frames, n, 2);
    }
}

static void *fa_malloc(size_t n, void *payload)
{
    (void)payload;
    if (fail_at > 0 && ++counter == fail_at) {
        inject();
        return NULL;
    }
    void *p = malloc(n);
    if (p != NULL)
        track(p);
    return p;
}

static void *fa_realloc(void *ptr, size_t n, void *payload)
{
    (void)payload;
    if (fail_at > 0 && ++counter == fail_at) {
        inject();
        return NULL;
    }
    bool ours = ptr != NULL && untrack(ptr);
    void *p = realloc(ptr, n);
    if (p == NULL) {
        if (ours)
            track(ptr);
    } else if (ours || ptr == NULL) {
        track(p);
    }
    return p;
}

static void fa_free(void *ptr, void *payload)
{
    (void)payload;
    if (ptr != NULL)
        untrack(ptr);
    free(ptr);
}

void fa_install(void)
{
    eqops_allocator a = {EQOPS_ALLOCATOR_VERSION, fa_malloc, fa_realloc, fa_free, NULL};
    pthread_mutex_lock(&slots_lock);
    memset(slots, 0, sizeof(slots));
    live = 0;
    pthread_mutex_unlock(&slots_lock);
    assert_int_equal(eqops_set_allocator(&a), 0);
}

void fa_uninstall(void)
{
    fa_fail_at(0);
    eqops_set_allocator(NULL);
}

void fa_fail_at(long k)
{
    fail_at = k;
    counter = 0;
    triggered = false;
}

bool fa_triggered(void)
{
    return triggered;
}

long fa_live(void)
{
    return live;
}

long fa_loop_codes(int (*op)(void *ctx), void (*cleanup)(void *ctx), void *ctx, const int *ok_codes,
                   long *outcomes, int n)
{
    for (long k = 1; k < 100000; k++) {
        long before = live;
        fa_fail_at(k);
        int rc = op(ctx);
        bool hit = fa_triggered();
        fa_fail_at(0);
        if (cleanup)
            cleanup(ctx);
        /* a detached resolver thread of libcurl may still be finishing: let it settle */
        for (int w = 0; w < 300 && live != before; w++)
            usleep(10000);
        if (live != before) {
            fprintf(stderr, "fa_loop: failing allocation %ld leaked %ld block(s) (rc %d)\n", k,
                    live - before, rc);
            fail();
        }
        if (!hit) {
            if (rc != 0) {
                fprintf(stderr, "fa_loop: run without failure returned %d\n", rc);
                fail();
            }
            return k - 1;
        }
        int i = 0;
        while (i < n && ok_codes[i] != rc)
            i++;
        if (i == n) {
            fprintf(stderr,
                    "fa_loop: failing allocation %ld returned %d (%s), not an accepted "
                    "outcome\n",
                    k, rc, eqops_code_name(rc));
            fail();
        }
        if (outcomes != NULL)
            outcomes[i]++;
    }
    fail_msg("fa_loop: no end after 100000 allocations");
    return -1;
}

long fa_loop(int (*op)(void *ctx), void (*cleanup)(void *ctx), void *ctx, int fail_code,
             bool may_succeed)
{
    const int codes[] = {fail_code, 0};
    return fa_loop_codes(op, cleanup, ctx, codes, NULL, may_succeed ? 2 : 1);
}
