"""Shared helpers for the benchmarks: a 124M-shaped GPT-2, interleaved timing, machine facts."""
from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent


def gpt2_124m(tmp: Path, smoke: bool = False, device: str = "cpu", dtype=None):
    """A randomly initialised GPT-2 with the exact 124M shape (speed does not depend on weights),
    saved with GPT-2's tokenizer and loaded through gx.load like any local model."""
    from transformers import GPT2Config, GPT2LMHeadModel

    import gpt2explore as gx
    from gpt2explore.training.tokenizer_files import write_tokenizer

    folder = tmp / ("gpt2-smoke" if smoke else "gpt2-124m")
    if not (folder / "config.json").exists():
        torch.manual_seed(0)
        config = GPT2Config(n_layer=2, n_embd=64, n_head=2, n_positions=128) if smoke else GPT2Config()
        GPT2LMHeadModel(config).save_pretrained(folder)
        write_tokenizer(folder, model_max_length=config.n_positions)
    return gx.load(str(folder), device=device, dtype=dtype)


def timed(fn) -> float:
    """Seconds for fn(), as timeit measures: earlier runs' garbage is collected first and the
    cyclic collector is off while fn runs, so a run never pays for freeing another's results
    (a Run's steps and samples point at each other, so only the collector frees them)."""
    gc.collect()
    sync()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - t0
    finally:
        if was_enabled:
            gc.enable()


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def interleaved(*fns_reps, warmup: int = 1) -> tuple[list[float], ...]:
    """interleaved(a, b, ..., reps): time the functions in turn (A B A B ...) so that machine
    noise hits all alike; one list of seconds per function."""
    *fns, reps = fns_reps
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = tuple([] for _ in fns)
    for _ in range(reps):
        for fn, out in zip(fns, times):
            out.append(timed(fn))
    return times


def summary(values: list[float]) -> dict:
    values = list(values)
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def machine() -> dict:
    import transformers

    import gpt2explore

    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "transformers": transformers.__version__,
            "gpt2explore": gpt2explore.__version__}
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        if names:
            info["cpu"] = names[0]
    except OSError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
