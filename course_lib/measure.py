"""Measuring what efficiency buys: parameters, bytes, latency and peak memory.

Timings are medians over repeats after a warm-up; compare two things only within one run, as
ratios, because shared machines are noisy.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time

import torch
import torch.nn as nn


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (each shared tensor counted once)."""
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def model_size_bytes(obj) -> int:
    """Bytes of a module's parameters and buffers, or of a state dict / tensor / list of them."""
    if isinstance(obj, nn.Module):
        tensors = {id(t): t for t in list(obj.parameters()) + list(obj.buffers())}.values()
    elif isinstance(obj, dict):
        tensors = [t for t in obj.values() if isinstance(t, torch.Tensor)]
    elif isinstance(obj, torch.Tensor):
        tensors = [obj]
    else:
        tensors = list(obj)
    return sum(t.numel() * t.element_size() for t in tensors)


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024


def _sync(device=None):
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def latency(fn, repeats: int = 10, warmup: int = 2) -> float:
    """Median wall-clock seconds of one call of fn()."""
    for _ in range(warmup):
        fn()
    _sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(fns: dict, rounds: int = 7, repeats: int = 3, warmup: int = 1,
                progress: str | None = None) -> dict:
    """{name: [median seconds of one call, per round]}: the functions take turns, round after
    round, so that a slow spell of a shared machine hits all of them alike. Compare them through
    per-round ratios (see `ratio_spread`), never through single timings."""
    from tqdm.auto import tqdm
    times = {name: [] for name in fns}
    for _ in tqdm(range(rounds), desc=progress or "timing", disable=progress is None):
        for name, fn in fns.items():
            times[name].append(latency(fn, repeats=repeats, warmup=warmup))
    return times


def ratio_spread(numerator: list, denominator: list) -> tuple[float, float, float]:
    """(median, lowest, highest) of the per-round ratios numerator[i] / denominator[i]."""
    ratios = sorted(a / b for a, b in zip(numerator, denominator))
    return statistics.median(ratios), ratios[0], ratios[-1]


@contextlib.contextmanager
def _quiet_native_stderr():
    """Send file descriptor 2 (what C++ code writes to) to /dev/null for the duration."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def peak_memory(fn) -> int:
    """Peak bytes allocated by torch while fn() runs, above what was allocated before.

    CUDA: the allocator's own statistics. CPU: the profiler's allocation events, summed in order.
    """
    from .runtime import get_device
    if get_device().type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    from torch.profiler import ProfilerActivity, profile
    prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    with _quiet_native_stderr():        # the profiler's C++ side logs "profiler_start" to fd 2,
        prof.start()                    # which a notebook would show under the cell
    try:
        fn()
    finally:
        with _quiet_native_stderr():
            prof.stop()
    events = sorted((e for e in prof.events() if e.cpu_memory_usage != 0),
                    key=lambda e: e.time_range.start)
    current = peak = 0
    for e in events:
        current += e.cpu_memory_usage
        peak = max(peak, current)
    return peak
