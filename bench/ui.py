"""Figures 3, 5 and 6: slider re-render compute, memory per step, start-up time."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from .common import REPO, summary, timed

SETTINGS = [dict(temperature=0.7), dict(top_k=40), dict(top_p=0.9), dict(temperature=1.3, top_k=50, top_p=0.95),
            dict(temperature=0.5, top_p=0.5, semantics="openai"), dict(temperature=2.0)]


def slider(step, reps: int) -> dict:
    """Figure 3: one step's distribution at full vocabulary for a new (T, k, p), and the whole
    bars update (distribution + top-n + labels) the widgets do."""
    from gpt2explore import plots

    dist, bars = [], []
    for i in range(reps):
        kw = SETTINGS[i % len(SETTINGS)]
        dist.append(timed(lambda: step.distribution(**kw)) * 1000)
        bars.append(timed(lambda: plots.bars_data(step, step.settings_for(**kw), n=20)) * 1000)
    out = {"distribution_ms": summary(dist), "bars_data_ms": summary(bars)}
    browser = REPO / "tests" / "artifacts" / "browser_latency.json"
    if browser.exists():
        out["browser_round_trip_ms"] = json.loads(browser.read_text())
    return out


def memory(lm, samples: int, length: int, modes=("float32", "float16", "none")) -> dict:
    """Figure 5: bytes per captured step in each mode; peak RSS of a run, measured in a child."""
    run = lm.generate("Hi", length=2, seed=0, progress=False)
    v = run[0].steps[0].logits.numel()
    per_step = {"float32": 4 * v, "float16": 2 * v, "none": 0,
                "bundle top-256": 256 * (4 + 4) + 4}
    # peak RSS during generation only: the kernel's high-water mark is reset after loading
    code = (
        "import sys, gpt2explore as gx\n"
        "def status(key):\n"
        "    return int(next(l for l in open('/proc/self/status') if l.startswith(key)).split()[1]) * 1024\n"
        "lm = gx.load(sys.argv[1], device='cpu')\n"
        "before = status('VmRSS:')\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        f"run = lm.generate(['Hi! My name is'] * {samples}, length={length}, batch_size={samples}, seed=0, "
        "progress=False, keep_logits=sys.argv[2])\n"
        "print(before, status('VmHWM:'))\n")
    peaks = {}
    for mode in modes:
        out = subprocess.run([sys.executable, "-c", code, lm.source, mode], capture_output=True, text=True,
                             check=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
        before, after = map(int, out.stdout.split())
        peaks[mode] = {"rss_before_bytes": before, "peak_rss_bytes": after}
    return {"vocab": v, "bytes_per_step": per_step,
            "bytes_per_sample": {k: b * length for k, b in per_step.items()},
            "samples": samples, "length": length, "peak_rss": peaks}


def startup(model: str, reps: int) -> dict:
    """Figure 6: cold `import gpt2explore` + load + first bars figure, against `import torch,
    transformers`, each in a fresh process, interleaved."""
    ours = ("import gpt2explore as gx; lm = gx.load(%r, device='cpu'); "
            "gx.next_token_bars(lm.generate('Hi! My name is', length=1, seed=0)[0].steps[0])" % model)
    base = "import torch, transformers"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    a, b = [], []
    for _ in range(reps):
        for code, sink in ((ours, a), (base, b)):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
            sink.append(time.perf_counter() - t0)
    return {"ours_s": summary(a), "import_s": summary(b),
            "ratio": summary([x / y for x, y in zip(a, b)])}


def export_pngs(step, count: int) -> dict:
    """Issue target: 10 PNGs in at most 5 s after the first (one browser kept alive)."""
    import tempfile
    from pathlib import Path

    import gpt2explore as gx
    from gpt2explore.files.export import find_browser

    if find_browser() is None:
        return {"skipped": "no Chrome/Chromium on this machine"}
    fig = gx.next_token_bars(step)
    with tempfile.TemporaryDirectory() as tmp:
        first = timed(lambda: gx.save(fig, Path(tmp) / "first.png"))
        rest = timed(lambda: [gx.save(fig, Path(tmp) / f"f{i}.png") for i in range(count)])
    return {"first_s": first, "count": count, "rest_s": rest}
