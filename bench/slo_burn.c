/*
 * slo_burn - sliding-window burn-rate series over N counter samples: the library's speed
 * against a plain memory copy of the same arrays (in and out), in one run.
 *
 * usage: slo_burn [N=10000000] [window=1h]
 * Prints ns per sample, the library's bytes/s (inputs read + output written) and the ratio to
 * memcpy bandwidth over the same bytes. Not a test: nothing is asserted.
 */
#include <eqops.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
    const char *window = argc > 2 ? argv[2] : "1h";
    eqops_init();
    int64_t window_ms;
    if (eqops_duration_parse(&window_ms, window, NULL) != 0 || n < 2)
        return 2;
    int64_t *t = malloc(n * sizeof(*t));
    double *bad = malloc(n * sizeof(double)), *total = malloc(n * sizeof(double));
    double *out = malloc(n * sizeof(double));
    unsigned char *copy = malloc(n * 32);
    if (!t || !bad || !total || !out || !copy)
        return 1;
    /* 15 s scrapes with jitter, ~100 requests each, 0.1% errors, a reset every 1M samples */
    uint64_t seed = 1;
    double b = 0, tot = 0;
    int64_t ts = 1700000000000LL;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        ts += 15000 + (int64_t)(seed >> 54) - 512;
        if (i % 1000000 == 999999)
            b = tot = 0;
        tot += 50 + (double)((seed >> 20) % 100);
        b += (seed >> 40) % 1000 == 0 ? 1 : 0;
        t[i] = ts;
        bad[i] = b;
        total[i] = tot;
    }
    eqops_slo_series s = {t, bad, NULL, total, n};
    double best_lib = 1e9, best_copy = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        double a = now();
        if (eqops_slo_burn_rate_series(out, n, &s, window_ms, 0.999, 1, NULL) != 0)
            return 1;
        double lib = now() - a;
        a = now();
        memcpy(copy, t, n * 8);
        memcpy(copy + n * 8, bad, n * 8);
        memcpy(copy + n * 16, total, n * 8);
        memcpy(out, copy + n * 8, n * 8); /* the output array, written */
        double cp = now() - a;
        best_lib = lib < best_lib ? lib : best_lib;
        best_copy = cp < best_copy ? cp : best_copy;
    }
    double bytes = 32.0 * (double)n;
    printf("samples %zu, window %s\n", n, window);
    printf("libeqops burn-rate series: %.3f s, %.2f ns/sample, %.2f GB/s\n", best_lib,
           best_lib / (double)n * 1e9, bytes / best_lib / 1e9);
    printf("memcpy of the same arrays: %.3f s, %.2f GB/s\n", best_copy, bytes / best_copy / 1e9);
    printf("ratio library/memcpy bandwidth: %.2f\n", best_copy / best_lib);
    free(t);
    free(bad);
    free(total);
    free(out);
    free(copy);
    eqops_cleanup();
    return 0;
}
