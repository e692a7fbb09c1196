"""Score any text token by token: `lm.score(text) -> Run` of forced Steps.

Each scored token becomes a Step with `forced=True`, `u=None`, the raw logits it was
predicted from, and `rank0` (counted from 0, descending raw logit, ties to the lower id),
`raw_prob` (softmax of the raw logits), `prob` (under the run's settings; 0 when the
settings cut it) and `surprisal` (-log raw_prob, nats). So every view of generated text —
bars, tables, exports, the logit lens — works on any text.

Computed with full-sequence forward passes, batched across texts (left padding, attention
mask, position ids), never one call per token. A text longer than the context is scored with
a sliding window of n_ctx tokens moved by stride = n_ctx // 2: every token is scored exactly
once, each with at least n_ctx // 2 tokens of context except the first ones.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..core import extensions, guards, sampling
from ..core.settings import Settings
from ..core.trace import Run, Sample, Step, check_keep_logits, rank_of, step_rank, step_raw_prob  # noqa: F401
from . import batching, memory
from .generation import check_count, left_pad, progress_bar, string_list
from .lens import maybe_capture_layers

PROGRESS_MIN_TOKENS = 1024
CHUNK = 128  # positions per LM-head call: the (CHUNK, vocabulary) temporaries of the rank and
# log-sum-exp passes stay small enough to be reused; 8 texts of 256 tokens score in 0.69 s with
# 128 against 0.89 s with 256 and 0.77 s with 64 (bundled model, 2 CPU cores)


@dataclass
class Window:
    """One forward pass over text `text_index`: `tokens` are the window's tokens, all but the
    last fed to the model (`inputs`, at most n_ctx); it scores positions `first`..the last."""

    text_index: int
    tokens: list[int]
    offset: int  # index of tokens[0] in the full sequence
    first: int  # index (in the full sequence) of the first token this window scores

    @property
    def inputs(self) -> list[int]:
        """The tokens the model sees: the last token is only ever predicted, never fed."""
        return self.tokens[:-1]


def check_texts(text) -> list[str]:
    texts = string_list(text, "text")
    for t in texts:
        if not t:
            raise ValueError("text is an empty string; give some text to score (whitespace counts)")
    return list(texts)


def token_texts(lm, text, prompt) -> list[tuple[str | None, list[int], list[int]]]:
    """(prompt, context ids, text ids) per text: strings are tokenized after the prompt (or
    <|endoftext|>); a Run or Sample is scored as drawn, its own token ids after its own prompt
    tokens, with no re-tokenization."""
    if isinstance(text, (Run, Sample)):
        if prompt is not None:
            raise ValueError("prompt= goes with texts; a run is scored after its own prompts")
        samples = list(text.samples) if isinstance(text, Run) else [text]
        out = [(s.prompt, list(s.prompt_tokens), list(s.tokens)) for s in samples if s.steps]
        if not out:
            raise ValueError("this run has no tokens to score; generate at least one")
        for s in samples:
            if len(s.prompt_tokens) >= lm.n_ctx:
                raise ValueError(f"a prompt of {len(s.prompt_tokens)} tokens leaves no room in the model's "
                                 f"context of {lm.n_ctx}")
        return out
    texts = check_texts(text)
    if prompt is not None and (not isinstance(prompt, str) or not prompt):
        raise ValueError(f"prompt must be None or a non-empty string, got {prompt!r:.80}")
    context = lm.start_tokens(prompt)  # [BOS] without a prompt; BOS first where the family wants it
    if not context:
        raise ValueError(f"prompt {prompt!r} encodes to no tokens; give some text")
    if len(context) >= lm.n_ctx:
        raise ValueError(f"prompt is {len(context)} tokens, the model's context is {lm.n_ctx}; shorten the prompt")
    out = []
    for t in texts:
        ids = lm.encode(t)
        if not ids:
            raise ValueError(f"text {t!r:.80} encodes to no tokens; give some text")
        out.append((prompt, list(context), ids))
    return out


def windows(n_context: int, n_tokens: int, n_ctx: int, text_index: int, seq: list[int]) -> list[Window]:
    """Sliding windows over `seq` (= context + text tokens): every text token scored once."""
    stride = max(n_ctx // 2, 1)
    out, start, scored_to = [], 0, n_context
    total = n_context + n_tokens
    while scored_to < total:
        end = min(start + n_ctx, total - 1)  # inputs seq[start:end] predict positions start+1..end
        first = max(scored_to, start + 1)  # a token needs one earlier position in the window
        out.append(Window(text_index, seq[start:end + 1], start, first))
        scored_to = end + 1
        start += stride
        if start + 1 > scored_to:  # keep the windows overlapping what is scored next
            start = scored_to - 1
    return out


def window_start(step) -> int:
    """Where the forward pass that produced a step's logits began, as an index into its context
    (0 but for a scored text longer than the model's window: there, the start of the sliding
    window the step was scored in, whose position ids count from 0)."""
    sample = step.sample
    run = getattr(sample, "run", None)
    if run is None or not run.meta.get("scored") or step.position <= int(run.meta.get("window", 0)):
        return 0
    n_context = len(sample.prompt_tokens)
    seq = sample.context_tokens
    for w in windows(n_context, len(seq) - n_context, int(run.meta["window"]), 0, seq):
        if w.first <= step.position <= w.offset + len(w.tokens) - 1:
            return w.offset
    return 0


def score(lm, text, prompt=None, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
          semantics: str = "hf", keep_logits="float32", batch_size: int = 8, progress=None,
          layers: bool = False, **samplers) -> Run:
    """Score `text` (a string or a list of strings, one Sample each; or a Run or Sample, scored
    as drawn: its own token ids after its own prompt tokens, never re-tokenized) token by token.

    prompt: None scores every token of the text, the first one after <|endoftext|>; with a
    prompt, its tokens are context and are not scored. The settings decide `prob` (and which
    tokens are impossible under them); `rank`, `raw_prob` and `surprisal` are the model's own.
    keep_logits: "float32" keeps each token's raw logits (4 bytes x vocabulary = 201 KB a
    token for GPT-2), "float16" half that, "none" only rank and the probabilities (a few
    hundred bytes of Python objects a token), for long texts. batch_size: windows per forward.
    layers: also keep each token's residual stream per layer (the logit lens), 4 x (n_layer + 1)
    x d_model bytes a token.
    """
    settings = Settings(temperature, top_k, top_p, semantics, **samplers)
    keep = check_keep_logits(keep_logits)
    batch_size = check_count("batch_size", batch_size)
    samples, plan = [], []
    for i, (p, context, ids) in enumerate(token_texts(lm, text, prompt)):
        samples.append(Sample(p, context, i, decode=lm.decode, prompt_index=i))
        samples[-1].text_tokens = ids
        plan += windows(len(context), len(ids), lm.n_ctx, i, context + ids)
    total = sum(len(s.text_tokens) for s in samples)
    memory.check_kept_logits(total, lm.vocab_size, keep, lm.device, f"scoring {total:,} tokens")
    bar = progress_bar(progress, total, "scoring", PROGRESS_MIN_TOKENS)
    # windows share a forward only where that cannot change their bits (gpt2explore.batching)
    per_call = batch_size if batching.strategy(lm)[0] == "padded" else 1
    try:
        with batching.forward_mode(lm):
            for start in range(0, len(plan), per_call):
                _score_batch(lm, plan[start:start + per_call], samples, settings, keep, bar, layers)
    finally:
        if bar is not None:
            bar.close()
    for s in samples:
        s.steps.sort(key=lambda st: st.position)
        for k, st in enumerate(s.steps):
            st.index = k
        del s.text_tokens
    return Run(samples, settings, seed=None, model_name=lm.name, length=max(len(s.steps) for s in samples),
               keep_logits=keep, meta={"device": str(lm.device), "source": lm.source, "scored": True,
                                       "window": lm.n_ctx, "stride": max(lm.n_ctx // 2, 1), "prompt": prompt,
                                       "layers": bool(layers)},
               lm=lm)


@torch.inference_mode()
def _score_batch(lm, batch: list[Window], samples: list[Sample], settings: Settings, keep: str, bar,
                 layers: bool = False) -> None:
    model, device = lm.model, lm.device
    ids, mask, pos = left_pad([w.inputs for w in batch], lm.pad_token_id, device)
    # position ids count from 0 in every window: the model sees only the window
    with maybe_capture_layers(model, layers, all_positions=True) as lay:
        body = model.base_model  # the decoder stack, without the LM head
        hidden = body(input_ids=ids, attention_mask=mask, position_ids=pos).last_hidden_state  # (B,T,d)
    resid = lay.resid[-1] if lay is not None else None  # (B, T, L+1, d)
    head = model.get_output_embeddings()
    width = ids.shape[1]
    for b, w in enumerate(batch):
        sample = samples[w.text_index]
        pad = width - len(w.inputs)
        # input positions (within the window) whose next token is scored
        wanted = list(range(w.first - w.offset - 1, len(w.inputs)))
        for c in range(0, len(wanted), CHUNK):
            rows = wanted[c:c + CHUNK]
            logits = head(hidden[b, [pad + r for r in rows]]).float()  # (n, V) raw
            targets = torch.tensor([w.tokens[r + 1] for r in rows], device=device)
            _record(sample, logits, targets, [w.offset + r + 1 for r in rows], settings, keep,
                    None if resid is None else resid[b, [pad + r for r in rows]])
            if bar is not None:
                bar.update(len(rows))


def _record(sample: Sample, logits: torch.Tensor, targets: torch.Tensor, positions: list[int],
            settings: Settings, keep: str, resid: torch.Tensor | None = None) -> None:
    """Steps for scored tokens: rank, raw probability, probability under the settings, all
    computed from the logits as kept (float16-rounded ones for keep_logits="float16"), so the
    reported numbers are the step's own."""
    if keep == "float16":
        logits = logits.to(torch.float16).float()
    value = logits.gather(-1, targets[:, None])  # (n, 1)
    rank = (logits > value).sum(-1, dtype=torch.int32)  # (n,) tokens strictly likelier
    ties = (logits == value).sum(-1, dtype=torch.int32)  # the token itself, plus any equal logits
    for k in (ties > 1).nonzero().flatten().tolist():  # rare: equal logits rank by the lower id
        t = int(targets[k])
        rank[k] += int((logits[k, :t] == value[k]).sum())
    # softmax of the raw logits at the token, computed as `step.distribution()` computes it
    try:
        raw_p = sampling.distribution_under(logits, sampling.Settings()).gather(-1, targets[:, None])[:, 0]
    except guards.StepError as err:
        raise err.at(f"scoring position {positions[err.row or 0]}") from None
    if sampling.Settings() == settings:
        prob = raw_p  # no stage is active: the distribution is the model's own
    else:
        context = None
        if settings.uses_context:
            full = list(sample.prompt_tokens) + sample.text_tokens
            context = [full[:p] for p in positions]
        try:
            probs = sampling.distribution_under(logits, settings, context)
        except guards.StepError as err:
            raise err.at(f"scoring position {positions[err.row or 0]}") from None
        prob = probs.gather(-1, targets[:, None])[:, 0]
    rank_h, raw_h, prob_h, tok_h = rank.tolist(), raw_p.tolist(), prob.tolist(), targets.tolist()
    kept = logits if keep == "float32" else (logits.to(torch.float16) if keep == "float16" else None)
    for k, p in enumerate(positions):
        row = None if kept is None else kept[k]  # a view: the chunk's rows are all kept anyway
        sample.steps.append(Step(token=tok_h[k], u=None, position=p, settings=settings, logits=row, index=0,
                                 prob=prob_h[k], forced=True, sample=sample, scored_rank0=rank_h[k], raw_prob=raw_h[k],
                                 residual=None if resid is None else resid[k]))


# GLTR's four bands: (the first rank0 beyond the band, the band's name by the ranks it holds,
# counted from 1 as people read them). Each band names its own range, not the top it ends.
RANK_BUCKETS = ((10, "rank 1-10"), (100, "rank 11-100"), (1000, "rank 101-1000"), (math.inf, "rank > 1000"))


def rank_bucket(rank: int) -> int:
    """GLTR's band of a rank counted from 0: 0 = ranks 1-10 as people read them, 1 = ranks 11-100,
    2 = ranks 101-1000, 3 = beyond 1000."""
    for i, (limit, _) in enumerate(RANK_BUCKETS):
        if rank < limit:
            return i
    return len(RANK_BUCKETS) - 1


def summary(run, **settings):
    """One row per sample: tokens, total log-probability (raw and under the settings; -inf
    when a token is impossible under them), perplexity, the worst (largest) rank, counted
    from 1, the share of tokens per rank bucket and how many tokens the settings make
    impossible. `settings` override the run's."""
    import pandas as pd

    rows = []
    for sample in run.samples:
        ranks, raws, probs = [], [], []
        for step in sample.steps:
            rank, raw = step_rank(step), step_raw_prob(step)
            prob = step.prob if not settings else float(step.distribution(**settings)[step.token])
            ranks.append(rank)
            raws.append(raw)
            probs.append(prob)
        n = len(ranks)
        lp_raw = sum(math.log(p) if p > 0 else -math.inf for p in raws)
        lp = sum(math.log(p) if p > 0 else -math.inf for p in probs)
        row = {"sample": sample.index, "prompt": sample.prompt, "tokens": n, "logprob_raw": lp_raw, "logprob": lp,
               "perplexity": math.exp(-lp_raw / n) if n else math.nan,
               "worst rank": max(ranks) + 1 if ranks else None,
               "impossible": sum(1 for p in probs if p == 0)}
        buckets = [rank_bucket(r) for r in ranks]
        for i, (_, label) in enumerate(RANK_BUCKETS):
            row[f"share {label}"] = buckets.count(i) / n if n else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


extensions.register("Run", "summary", summary)  # run.summary()
