"""Memory said before it is spent: the kept logits of a run or a score, estimated before the
first forward pass, against the free memory of the device that keeps them.

Every kept step holds one row of logits over the vocabulary on the model's device: 4 bytes a
token in float32, 2 in float16, none with keep_logits="none". A call whose kept logits would
take more than KEPT_SHARE of the free memory is refused in one line that names the remedies;
above WARN_SHARE it goes ahead with a one-line warning.
"""
from __future__ import annotations

import warnings

import torch

KEPT_SHARE = 0.5  # refuse: the kept logits would take more than half of the free memory
WARN_SHARE = 0.25  # warn: more than a quarter
BYTES = {"float32": 4, "float16": 2, "none": 0}


def kept_bytes(n_steps: int, vocab: int, keep: str) -> int:
    """Bytes of logits kept for n_steps steps over a vocabulary of `vocab` tokens."""
    return int(n_steps) * int(vocab) * BYTES[keep]


def available_bytes(device) -> int | None:
    """Free memory where the logits are kept: the GPU's free memory for cuda, the system's
    available memory for the CPU (Linux /proc/meminfo, else psutil if installed); None when
    unknown (mps, or no way to ask)."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB"


def check_kept_logits(n_steps: int, vocab: int, keep: str, device, what: str) -> int:
    """Refuse (ValueError) or warn, in one line, before a call keeps more logits than a sensible
    share of the free memory; returns the estimate in bytes. `what`: "scoring 60,000 tokens"."""
    need = kept_bytes(n_steps, vocab, keep)
    free = available_bytes(device) if need else None
    if not need or free is None or need <= WARN_SHARE * free:
        return need
    half = kept_bytes(n_steps, vocab, "float16")
    remedy = (f'pass keep_logits="float16" ({_gb(half)}) or "none" (tokens and probabilities only)'
              if keep == "float32" else 'pass keep_logits="none" (tokens and probabilities only)')
    line = (f"{what} keeps {keep} logits of {n_steps:,} steps: {_gb(need)}, against {_gb(free)} free on "
            f"{torch.device(device).type}; {remedy}, or split the call and save each part as a top-N bundle "
            f"(run.save(folder, logits='top'))")
    if need > KEPT_SHARE * free:
        raise ValueError(line)
    warnings.warn(line, ResourceWarning, stacklevel=3)
    return need
