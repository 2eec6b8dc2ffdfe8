"""Timing helpers shared by the benchmarks: interleaved rounds and medians of per-round ratios."""
from __future__ import annotations

import time

import numpy as np


def _interleaved(fns, repeats, clock=time.perf_counter):
    """Time several functions round-robin (one call of each per round, after a warm-up), so that
    load changes on a shared machine hit all of them alike. Returns {name: list of seconds}.
    ``clock=time.process_time`` measures the CPU time of the process (all its threads) instead
    of wall time: on a loaded machine it is the steadier measure of the work done."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = clock()
            fn()
            times[k].append(clock() - t0)
    return times


def _ratio(times, num, den):
    """Median over rounds of the per-round ratio num / den."""
    return float(np.median(np.asarray(times[num]) / np.asarray(times[den])))


def _timing_rows(timing):
    """Markdown table lines of a benchmark's ``timing`` records (measure, seconds, ratio, target)."""
    md = ["| measure | seconds | ratio | target |", "|---|---:|---:|---|"]
    for r in timing:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        md.append(f"| {r['measure']} | {r['seconds']:.3f} | {ratio} | {r['target'] or ''} |")
    return md
