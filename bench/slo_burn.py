#!/usr/bin/env python3
"""Sliding-window burn-rate series over N counter samples: libeqops (through the Python
binding, arrays passed without copying) against numpy running the same algorithm
(Prometheus increase() with reset correction and start-of-window extrapolation), in one run.

usage: bench/slo_burn.py [N=10000000] [window=1h]
Prints both times, the ratio, and checks that both give the same numbers. Not a test.
"""
import sys
import time

import numpy as np

from eqops import slo


def make(n, seed=1):
    rng = np.random.default_rng(seed)
    t = 1_700_000_000_000 + np.cumsum(15_000 + rng.integers(-512, 512, n)).astype(np.int64)
    steps = 50 + rng.integers(0, 100, n).astype(np.float64)
    errs = (rng.integers(0, 1000, n) == 0).astype(np.float64)
    # a counter reset every million samples
    seg = np.arange(n) // 1_000_000
    total = np.empty(n)
    bad = np.empty(n)
    for s in np.unique(seg):
        m = seg == s
        total[m] = np.cumsum(steps[m])
        bad[m] = np.cumsum(errs[m])
    return t, bad, total


def numpy_burn(t, bad, total, window_ms, target, min_events=1.0):
    """The library's algorithm in vectorised numpy: per sample i, the window [t_i - w, t_i]."""
    n = len(t)
    a = np.searchsorted(t, t - window_ms, side="left")  # first sample in the window
    idx = np.arange(n)

    def corrected(v):
        # cumulative reset corrections: the value before each drop
        drop = np.zeros(n)
        drop[1:] = np.where(v[1:] < v[:-1], v[:-1], 0.0)
        c = np.cumsum(drop)
        return v + c  # v[i] - v[a] + resets(a..i] = corrected[i] - corrected[a]

    cb, ct = corrected(bad), corrected(total)
    r_b = cb - cb[a]
    r_t = ct - ct[a]
    sampled = (t - t[a]).astype(np.float64)
    to_start = (t[a] - (t - window_ms)).astype(np.float64)
    k = (idx - a).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        def ext(v0, r):
            cap = (r > 0) & (v0 >= 0) & (sampled * v0 < to_start * r)
            ts = np.where(cap, sampled * v0 / np.where(r > 0, r, 1), to_start)
            return np.where(ts * k < 1.1 * sampled, ts, sampled / (2 * np.maximum(k, 1)))

        e_b, e_t = ext(bad[a], r_b), ext(total[a], r_t)
        inc_b = r_b * (sampled + e_b) / np.where(sampled > 0, sampled, 1)
        inc_t = r_t * (sampled + e_t) / np.where(sampled > 0, sampled, 1)
        ratio = np.clip(inc_b / np.maximum(inc_t, min_events), 0, 1)
    ratio[k == 0] = 0
    return ratio / (1 - target)


def best(f, reps=3):
    out, b = None, 1e9
    for _ in range(reps):
        t0 = time.perf_counter()
        out = f()
        b = min(b, time.perf_counter() - t0)
    return out, b


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    window = sys.argv[2] if len(sys.argv) > 2 else "1h"
    t, bad, total = make(n)
    w = slo.ms(window)
    out = np.empty(n)
    lib, t_lib = best(lambda: slo.burn_rates(t, total, 0.999, bad=bad, window=window, out=out))
    ref, t_np = best(lambda: numpy_burn(t, bad, total, w, 0.999))
    diff = np.max(np.abs(lib - ref) / np.maximum(1.0, np.abs(ref)))
    print("samples %d, window %s" % (n, window))
    print("libeqops (Python binding, no copies): %.3f s  %.2f ns/sample" % (t_lib, t_lib / n * 1e9))
    print("numpy, same algorithm:                %.3f s  %.2f ns/sample" % (t_np, t_np / n * 1e9))
    print("ratio numpy/libeqops: %.1fx   (max relative difference %.1e)" % (t_np / t_lib, diff))


if __name__ == "__main__":
    main()
