"""Figures 1, 2 and 4: capture overhead against transformers' generate, decoding speed against
the memory-bandwidth floor, and the gain from batching prompts."""
from __future__ import annotations

import statistics

import torch

from .common import interleaved, summary, timed

PROMPTS8 = ["Hi! My name is Isamu", "Hi! My name is John", "The quick brown fox",
            "Once upon a time, in a land far away,", "In the beginning", "I think that",
            "The meaning of life is", "Yesterday I went to the"]


def hf_generate(lm, prompts, new_tokens, temperature=1.0, top_k=0):
    tok = lm.tokenizer
    tok.padding_side = "left"
    tok.pad_token = tok.eos_token
    enc = tok(prompts, return_tensors="pt", padding=True).to(lm.device)

    def run():
        with torch.inference_mode():
            lm.model.generate(**enc, do_sample=True, temperature=temperature, top_k=top_k,
                              max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                              pad_token_id=tok.eos_token_id)
    return run


def ours(lm, prompts, new_tokens, temperature=1.0, top_k=0, batch_size=None, keep_logits="float32", layers=False,
         batching="auto", attention=False):
    def run():
        lm.batching = batching
        try:
            lm.generate(prompts, length=new_tokens, temperature=temperature, top_k=top_k, seed=0,
                        batch_size=batch_size or len(prompts), progress=False, keep_logits=keep_logits,
                        layers=layers, attention=attention)
        finally:
            lm.batching = "auto"
    return run


def layers_overhead(lm, new_tokens: int, reps: int) -> dict:
    """Figure 9: tokens/s with layers=True (the logit lens' residuals) over without."""
    out = {}
    for batch in (1, 8):
        prompts = PROMPTS8[:batch]
        a, b = interleaved(ours(lm, prompts, new_tokens, top_k=40, layers=True),
                           ours(lm, prompts, new_tokens, top_k=40), reps)
        out[f"batch{batch}"] = {"layers_s": summary(a), "plain_s": summary(b),
                                "ratio": summary([tb / ta for ta, tb in zip(a, b)])}
    return out


def attention_overhead(lm, new_tokens: int, reps: int) -> dict:
    """Figure 11: tokens/s with attention=True (every step's attention) over without."""
    out = {}
    for batch in (1, 8):
        prompts = PROMPTS8[:batch]
        a, b = interleaved(ours(lm, prompts, new_tokens, top_k=40, attention=True),
                           ours(lm, prompts, new_tokens, top_k=40), reps)
        out[f"batch{batch}"] = {"attention_s": summary(a), "plain_s": summary(b),
                                "ratio": summary([tb / ta for ta, tb in zip(a, b)])}
    return out


def capture_overhead(lm, new_tokens: int, reps: int) -> dict:
    """Figure 1: tokens/s of lm.generate (full logits captured) over model.generate."""
    out = {}
    for batch in (1, 8):
        prompts = PROMPTS8[:batch]
        a, b = interleaved(ours(lm, prompts, new_tokens, top_k=40), hf_generate(lm, prompts, new_tokens, top_k=40), reps)
        ratios = [tb / ta for ta, tb in zip(a, b)]  # > 1: we are faster
        out[f"batch{batch}"] = {"ours_s": summary(a), "hf_s": summary(b), "ratio": summary(ratios),
                                "ours_tok_s": batch * new_tokens / statistics.median(a),
                                "hf_tok_s": batch * new_tokens / statistics.median(b)}
    return out


def capture_flat(lm, new_tokens: int, reps: int) -> dict:
    """Figures 1b and 1d, from the same interleaved runs: batch 1 with top_k=0, where the random
    model's distribution is flat and most draws lie beyond the 64 likeliest tokens (the
    threshold search's case), against `model.generate` (1b) and against a bare loop of
    transformers' forward (1d: `model.generate` ÷ that loop is the highest ratio 1b can reach
    without a faster forward than transformers' own)."""
    prompts = PROMPTS8[:1]
    a, b, c = interleaved(ours(lm, prompts, new_tokens, top_k=0), hf_generate(lm, prompts, new_tokens, top_k=0),
                          bare_forward(lm, prompts, new_tokens), reps)
    return {"ours_s": summary(a), "hf_s": summary(b), "bare_s": summary(c),
            "ratio": summary([tb / ta for ta, tb in zip(a, b)]),
            "ceiling": summary([tb / tc for tb, tc in zip(b, c)]),
            "ours_over_bare": summary([ta / tc for ta, tc in zip(a, c)])}


def bare_forward(lm, prompts, new_tokens):
    """The least any sampler can add: transformers' own forward with a cache, fed its argmax,
    nothing captured, no sampling. Its time bounds how much faster than `model.generate` any
    loop around the same forward can be."""
    from gpt2explore.model.generation import forward, left_pad

    def run():
        with torch.inference_mode():
            rows = [lm.encode(p) for p in prompts]
            ids, mask, pos = left_pad(rows, lm.eos_token_id, lm.device)
            logits, cache = forward(lm.model, ids, mask, pos, None)
            for _ in range(new_tokens - 1):
                ids = logits[:, -1].argmax(-1, keepdim=True)
                mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], 1)
                pos = pos[:, -1:] + 1
                logits, cache = forward(lm.model, ids, mask, pos, cache)
    return run


def sort_share(profile: list[tuple[str, float]]) -> float:
    """The share of self CPU time spent in aten::sort (from profile_step's full table)."""
    return sum(share for name, share in profile if name in ("aten::sort", "aten::sort.stable"))


def bandwidth_gbs(mb: int = 512, reps: int = 5) -> float:
    """Memory bandwidth: bytes read + written by a large tensor copy, per second."""
    src = torch.empty(mb * 2**20 // 4, dtype=torch.float32).uniform_()
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = min(timed(lambda: dst.copy_(src)) for _ in range(reps))
    return 2 * src.numel() * 4 / best / 1e9


def decode_floor(lm, new_tokens: int, reps: int, prompt_tokens: int = 8) -> dict:
    """Figure 2: ms per token at batch 1 against bytes read per token / bandwidth."""
    bw = bandwidth_gbs(512 if lm.n_params > 50e6 else 64)
    weights = sum(p.numel() * p.element_size() for p in lm.model.parameters())
    cfg = lm.model.config
    mean_ctx = prompt_tokens + new_tokens / 2
    kv = 2 * cfg.n_layer * cfg.n_embd * 4 * mean_ctx  # keys and values read per token (fp32)
    floor_ms = (weights + kv) / (bw * 1e9) * 1000
    times = [timed(ours(lm, ["Hi! My name is Isamu"], new_tokens)) for _ in range(reps)]
    hf = [timed(hf_generate(lm, ["Hi! My name is Isamu"], new_tokens)) for _ in range(reps)]
    ms = statistics.median(times) / new_tokens * 1000
    ms_hf = statistics.median(hf) / new_tokens * 1000
    return {"bandwidth_gbs": bw, "weights_bytes": weights, "kv_bytes_per_token": kv, "floor_ms": floor_ms,
            "ours_ms_per_token": ms, "hf_ms_per_token": ms_hf, "fraction_of_limit": floor_ms / ms,
            "hf_fraction_of_limit": floor_ms / ms_hf, "ours_s": summary(times)}


def profile_step(lm, new_tokens: int) -> list[tuple[str, float]]:
    """Where a decoding run spends its time: the top operators by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        ours(lm, ["Hi! My name is Isamu"], new_tokens)()
    rows = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in prof.key_averages())
    return [(e.key, e.self_cpu_time_total / total) for e in rows]


def batching(lm, new_tokens: int, reps: int) -> dict:
    """Figures 4 and 4b: 8 prompts with batch_size=8 against batch_size=1, under the strategy the
    device gets ("auto") and under each strategy by name; and batch 1 under each strategy. Every
    strategy gives each sample the same bits whatever the batch (gpt2explore.batching)."""
    from gpt2explore import batching as strategies

    out = {"strategy": strategies.strategy(lm)[0], "quantum": strategies.calibrate(str(lm.device), str(lm.dtype))}
    for name in ("auto", "rows", "padded"):
        together = ours(lm, PROMPTS8, new_tokens, batch_size=8, batching=name)
        one_by_one = ours(lm, PROMPTS8, new_tokens, batch_size=1, batching=name)
        a, b = interleaved(together, one_by_one, reps)
        out[name] = {"batched_s": summary(a), "one_by_one_s": summary(b),
                     "speedup": summary([tb / ta for ta, tb in zip(a, b)])}
    rows1 = ours(lm, PROMPTS8[:1], new_tokens, batching="rows")
    padded1 = ours(lm, PROMPTS8[:1], new_tokens, batching="padded")
    a, b = interleaved(rows1, padded1, reps)
    out["batch1_ms_per_token"] = {"rows": summary([1000 * t / new_tokens for t in a]),
                                  "padded": summary([1000 * t / new_tokens for t in b])}
    # what padded batching of 8 gains over the rows strategy's one by one (medians)
    out["padded8_over_rows"] = out["rows"]["one_by_one_s"]["median"] / out["padded"]["batched_s"]["median"]
    out["speedup"] = out["auto"]["speedup"]
    return out
