"""Timing helpers shared by the benchmarks: interleaved rounds and medians of per-round ratios."""
from __future__ import annotations

import time

import numpy as np


def _interleaved(fns, repeats):
    """Time several functions round-robin (one call of each per round, after a warm-up), so that
    load changes on a shared machine hit all of them alike. Returns {name: list of seconds}."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return times


def _ratio(times, num, den):
    """Median over rounds of the per-round ratio num / den."""
    return float(np.median(np.asarray(times[num]) / np.asarray(times[den])))
