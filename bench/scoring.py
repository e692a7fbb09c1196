"""Scoring speed: a 512-token text against the plain forward passes it needs, and 8 texts
batched against one by one (bundled model, CPU)."""
from __future__ import annotations

import statistics

import torch

from .common import interleaved, summary


def _text(lm, n_tokens: int, seed: int) -> str:
    """A text of exactly n_tokens tokens (a sample of the model itself, re-encoded)."""
    ids = []
    while len(ids) < n_tokens + 20:  # samples of at most the context, joined
        run = lm.generate(None, length=min(lm.n_ctx, n_tokens + 20), seed=seed + len(ids), progress=False,
                          keep_logits="none")
        ids += lm.encode(run.texts[0])
    ids = ids[:n_tokens]
    text = lm.decode(ids)
    while len(lm.encode(text)) > n_tokens:
        text = text[:-1]
    return text


def windows_of(lm, text: str, text_index: int = 0) -> list:
    """The windows `lm.score(text)` runs (every token scored, after <|endoftext|>)."""
    from gpt2explore import scoring

    ids = [lm.eos_token_id] + lm.encode(text)
    return scoring.windows(1, len(ids) - 1, lm.n_ctx, text_index, ids)


def plain_forwards(lm, text: str):
    """The bare forward passes over the windows a score of `text` runs (logits for every
    position), with none of scoring's bookkeeping."""
    plan = windows_of(lm, text)

    def run():
        with torch.inference_mode():
            for w in plan:
                lm.model(torch.tensor([w.inputs], device=lm.device)).logits.float().log_softmax(-1)
    return run, len(plan)


def score_vs_forward(lm, reps: int, n_tokens: int = 512) -> dict:
    text = _text(lm, n_tokens, seed=1)
    plain, n_windows = plain_forwards(lm, text)
    ours = lambda: lm.score(text, batch_size=1, progress=False)  # noqa: E731
    a, b = interleaved(ours, plain, reps)
    return {"tokens": len(lm.encode(text)), "windows": n_windows, "score_s": summary(a), "forward_s": summary(b),
            "ratio": summary([ta / tb for ta, tb in zip(a, b)])}


def batched_vs_one_by_one(lm, reps: int, n_texts: int = 8, n_tokens: int = 256) -> dict:
    texts = [_text(lm, n_tokens, seed=10 + i) for i in range(n_texts)]
    batched = lambda: lm.score(texts, batch_size=8, progress=False)  # noqa: E731
    single = lambda: [lm.score(t, batch_size=1, progress=False) for t in texts]  # noqa: E731
    a, b = interleaved(batched, single, reps)
    return {"texts": n_texts, "tokens_each": n_tokens, "batched_s": summary(a), "one_by_one_s": summary(b),
            "speedup": summary([tb / ta for ta, tb in zip(a, b)])}


def forwards_only(lm, texts: list[str], batch_size: int):
    """The transformer passes a score of `texts` runs (no LM head, no per-token work)."""
    from gpt2explore.model.generation import left_pad

    plan = [w for i, t in enumerate(texts) for w in windows_of(lm, t, i)]

    def run():
        with torch.inference_mode():
            for start in range(0, len(plan), batch_size):
                ids, mask, pos = left_pad([w.inputs for w in plan[start:start + batch_size]], lm.eos_token_id,
                                          lm.device)
                lm.model.transformer(input_ids=ids, attention_mask=mask, position_ids=pos)
    return run


def batching_ceiling(lm, reps: int, n_texts: int = 8, n_tokens: int = 256) -> dict:
    """Figure 8c: the most batching can save. Only the transformer passes can be shared
    between texts; the LM head over every scored position and the per-token rank and
    probabilities are the same work batched or not. So the best batched time is the one by
    one time less the forwards one by one plus the forwards batched."""
    texts = [_text(lm, n_tokens, seed=10 + i) for i in range(n_texts)]
    single = lambda: [lm.score(t, batch_size=1, progress=False) for t in texts]  # noqa: E731
    total, fa, fb = interleaved(single, forwards_only(lm, texts, 1), forwards_only(lm, texts, 8), reps)
    t, f1, f8 = (statistics.median(x) for x in (total, fa, fb))
    return {"one_by_one_s": summary(total), "forwards_one_by_one_s": summary(fa), "forwards_batched_s": summary(fb),
            "forward_share": f1 / t, "ceiling": t / (t - f1 + f8)}
