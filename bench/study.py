"""A name study's speed: 8 names x 200 samples x 30 tokens on the bundled model, gumbel coupling.

    python -m bench.study            # the full size, default strategy and padded (minutes on two CPU cores)
    python -m bench.study --smoke    # 2 names x 4 samples x 5 tokens
"""
from __future__ import annotations

import argparse
import json
import os
import time

from .common import REPO, machine


def study_speed(smoke: bool = False, batching: str = "auto") -> dict:
    """Figure 12 under `lm.batching = batching` ("auto": rows on a CPU). The result's `_tokens`
    (every sampled token, in the study's order) is for comparing strategies; it is not saved."""
    import pandas as pd

    import gpt2explore as gx

    lm = gx.load()
    lm.batching = batching
    names = pd.read_csv(REPO / "data" / "names.csv")["name"].tolist()
    names, nsamples, length = (names[:2], 4, 5) if smoke else (names[:8], 200, 30)
    calls = []
    handle = lm.model.register_forward_hook(lambda *args: calls.append(1))
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    try:
        study = gx.study(lm, "Hi! My name is {name}.", names, nsamples=nsamples, length=length, seed=0,
                         progress=False)
    finally:
        handle.remove()
    generate_s = time.perf_counter() - start
    load_after = os.getloadavg()[0]
    start = time.perf_counter()
    agreement = study.agreement()
    words = study.words()
    tables_s = time.perf_counter() - start
    tokens = len(names) * nsamples * length
    return {"names": len(names), "nsamples": nsamples, "length": length, "tokens": tokens,
            "generate_s": round(generate_s, 1), "tables_s": round(tables_s, 2),
            "tokens_per_s": round(tokens / generate_s, 1), "machine": machine(),
            "first_token_agreement_mean": round(float(agreement[agreement.step == 0].same.mean()), 3),
            "words_rows": len(words),
            "forwards": len(calls),  # forward calls: one per distinct prefix of each name's samples (the prefix tree)
            "load_average": [round(load_before, 1), round(load_after, 1)],  # 1-minute, at the start and the end
            "batching": batching, "_tokens": study.frame.token_id.tolist() if "token_id" in study.frame
            else study.frame.token.tolist()}


def study_both(smoke: bool = False) -> dict:
    """Figure 12 with the default strategy, and 12b: the same study with `lm.batching = "padded"`
    (rows batched in one forward, each the same bits whatever its batch), with how many of its
    tokens differ from the default's (a near-tie can fall the other way under another kernel)."""
    rows = study_speed(smoke)
    padded = study_speed(smoke, batching="padded")
    a, b = rows.pop("_tokens"), padded.pop("_tokens")
    rows["padded"] = {k: padded[k] for k in ("generate_s", "tables_s", "tokens_per_s", "forwards", "load_average")}
    rows["padded"]["differing_tokens"] = sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))
    return rows


# A name study of gpt2 on one GPU: the plan's assumed unit costs (estimates, not measured here)
GPU_PLAN = {
    "names": 8, "nsamples": 200, "length": 30, "batch": 8,
    "forward_ms": 10.0,  # one batched forward of gpt2 (124M), KV cache, `padded` strategy: launch-bound
    "row_gpu_ms": 0.3,  # one row's float64 stages, softmax and argmax over 50,257 tokens on the GPU
    "noise_ms": 0.8,  # one row-step's Gumbel noise: Philox on the CPU (0.4-0.8 ms measured on the 2-core CPU)
}


def gpu_plan(plan: dict | None = None) -> dict:
    """The arithmetic of the plan: rows, tokens, batched forwards and the estimated seconds."""
    p = dict(GPU_PLAN, **(plan or {}))
    rows = p["names"] * p["nsamples"]
    tokens = rows * p["length"]
    forwards = -(-rows // p["batch"]) * p["length"]  # ceil(rows / batch) batches, one forward a step
    forward_s = forwards * p["forward_ms"] / 1000
    row_s = tokens * (p["row_gpu_ms"] + p["noise_ms"]) / 1000
    return {**p, "rows": rows, "tokens": tokens, "forwards": forwards, "forward_s": forward_s, "row_s": row_s,
            "total_s": forward_s + row_s}


def gpu_plan_lines(plan: dict | None = None) -> list[str]:
    """The plan as a paragraph of docs/benchmarks.md."""
    q = gpu_plan(plan)
    return [
        f"A name study of gpt2 (124M) on one GPU, {q['names']} names × {q['nsamples']} samples × {q['length']} "
        f"tokens, is {q['rows']:,} rows of {q['length']} steps ({q['tokens']:,} tokens). Rows are independent: row "
        f"(name, sample k) is drawn with its own noise, keyed by (seed, k), so a study splits across processes or "
        f"GPUs by names and by sample range (`gx.study(lm, template, some_names, nsamples=n, first_sample=k0, "
        f"seed=s)` in each), and the parts hold the same tokens as one run. On CUDA the `padded` batching "
        f"strategy (chosen there by default where its calibration holds) puts a batch's rows in one forward "
        f"without changing their bits.",
        "",
        f"**Estimate, not a measurement** (no GPU ran it; the unit costs are assumed): "
        f"{q['rows']:,} rows ÷ batch {q['batch']} × {q['length']} steps = {q['forwards']:,} batched forwards "
        f"× ~{q['forward_ms']:g} ms (launch-bound) ≈ {q['forward_s']:.0f} s; every row-step also costs "
        f"~{q['noise_ms']:g} ms of Gumbel noise on the CPU and ~{q['row_gpu_ms']:g} ms of its own float64 "
        f"stages and argmax on the GPU: {q['tokens']:,} × {q['noise_ms'] + q['row_gpu_ms']:g} ms ≈ "
        f"{q['row_s']:.0f} s. About {q['total_s'] / 60:.0f} minutes in one process; the per-row half is CPU and "
        f"Python work, so P processes sharing the GPU cut it about P-fold, and P GPUs cut the whole. `make "
        f"bench` on a GPU machine measures the forward term (GPU table); the CPU figure 12 above is the "
        f"measured study.",
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    print(json.dumps(study_both(parser.parse_args().smoke), indent=1))
