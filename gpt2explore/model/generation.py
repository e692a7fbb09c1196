"""Batched generation: left padding, KV cache, per-sample uniforms, logits captured by hooks."""
from __future__ import annotations

import functools
import inspect
import numbers
from dataclasses import dataclass

import torch

from ..core import arguments, guards, sampling
from ..core import coupling as couplings
from ..core.settings import Settings
from ..core.trace import Run, Sample, Step, check_keep_logits
from . import batching, memory, prefixes
from .attention import maybe_capture_attention
from .capture import capture
from .lens import maybe_capture_layers

PROGRESS_MIN_TOKENS = 512  # below this many tokens a call is quick: no progress bar
DEFAULT_LENGTH_MAX = 1024  # length=None never asks for more (GPT-2's n_ctx; today's models have 8k-128k)


@dataclass
class Job:
    """One sample to generate: which prompt, which sample index, and its noise per step (a
    uniform for the cdf coupling, a `coupling.Gumbel` or `coupling.Posterior` otherwise)."""

    prompt: str | None
    prompt_index: int
    tokens: list[int]
    index: int
    noise: list | None = None


def check_count(name: str, value, minimum: int = 1) -> int:
    """An integer of any integral type (int, NumPy) >= minimum, as a plain int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def require_lm(lm, name: str = "lm"):
    """A loaded model (an LM from gx.load), or one TypeError line saying how to get one."""
    if not (hasattr(lm, "model") and hasattr(lm, "start_tokens") and hasattr(lm, "n_ctx")):
        raise TypeError(f"{name} must be a loaded model, e.g. lm = gx.load(), got {type(lm).__name__}")
    return lm


def check_flags(**flags) -> dict:
    """Boolean arguments (progress may be None): True or False, never a string read as true."""
    return {k: arguments.flag(k, v, none=k == "progress") for k, v in flags.items()}


def string_list(value, name: str, alternative: str = "") -> list[str]:
    """A string or a non-empty list of strings -> the list; anything else is a ValueError
    naming `name` (and `alternative`, e.g. " or None", among what is accepted)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(f"{name} must be a string, a list of strings{alternative}, got {value!r:.80}")
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"{name} must be a string (or a list of strings), got {type(item).__name__}: "
                             f"{item!r:.80}")
    return list(items)


def normalize_prompts(prompt) -> list[str | None]:
    """None (unconditional), a string, or a list of strings -> list of prompts."""
    if prompt is None:
        return [None]
    prompts = string_list(prompt, "prompt", " or None")
    for p in prompts:
        if not p:
            raise ValueError("prompt is an empty string; give some text, or prompt=None for "
                             "unconditional samples")
    return list(prompts)


def positions_needed(n_prompt: int, length: int) -> int:
    """Positions the model must see: the prompt plus every generated token but the last,
    which is sampled and never fed back."""
    return n_prompt + length - 1


def choose_length(length, n_prompt_max: int, n_ctx: int, conditional: bool) -> int:
    """The original scripts' default (n_ctx // 2 conditional, n_ctx unconditional), capped to
    fit the context and to DEFAULT_LENGTH_MAX; an explicit length that cannot fit is a ValueError."""
    if n_prompt_max > n_ctx:
        raise ValueError(f"prompt is {n_prompt_max} tokens, longer than the model's context of "
                         f"{n_ctx} tokens; shorten the prompt")
    room = n_ctx - n_prompt_max + 1
    if length is None:
        return min(n_ctx // 2 if conditional else n_ctx, room, DEFAULT_LENGTH_MAX)
    length = check_count("length", length)
    if positions_needed(n_prompt_max, length) > n_ctx:
        raise ValueError(f"prompt of {n_prompt_max} tokens + length {length} does not fit the model's "
                         f"context of {n_ctx} tokens; use length <= {room} or a shorter prompt")
    return length


def forward(model, input_ids, attention_mask, position_ids, cache):
    """One forward call returning the new cache; works with the cache keyword of
    transformers 5 (`cache`) and 4 (`past_key_values`). Only the last position's logits
    are computed (logits_to_keep=1); the capture hook records them."""
    kwargs = dict(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                  use_cache=True)
    if _cache_keyword(model) == "cache":
        kwargs["cache"] = cache
    else:
        kwargs["past_key_values"] = cache
    if _accepts(model, "logits_to_keep"):
        kwargs["logits_to_keep"] = 1
    out = model(**kwargs)
    return out.logits, getattr(out, "cache", None) or getattr(out, "past_key_values", None)


@functools.lru_cache(maxsize=None)
def _forward_parameters(cls) -> frozenset:
    return frozenset(inspect.signature(cls.forward).parameters)


def _accepts(model, name: str) -> bool:
    return name in _forward_parameters(type(model))


def _cache_keyword(model) -> str:
    return "cache" if _accepts(model, "cache") else "past_key_values"


def left_pad(rows: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token rows -> (input_ids, attention_mask, position_ids), padded on the left."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, r in enumerate(rows):
        ids[b, width - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[b, width - len(r):] = 1
    # positions count real tokens only, as transformers' generate does
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), pos.to(device)


def generate(lm, prompt=None, nsamples: int = 1, batch_size: int = 1, length: int | None = None,
             temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, seed: int | None = None,
             semantics: str = "hf", stop_at_eos: bool = False, progress: bool | None = None,
             keep_logits="float32", first_sample: int = 0, layers: bool = False, attention: bool = False,
             coupling: str = "cdf", **samplers) -> Run:
    """Sample text from `lm`, recording every step's raw logits, uniform and token.

    prompt: a string, a list of strings (each gets `nsamples` samples) or None for
    unconditional samples (which start from the BOS token, GPT-2's <|endoftext|>, not part of
    the output). Families that prepend BOS (Llama) put it before each prompt (`lm.prepend_bos`).
    length: tokens per sample; None = n_ctx // 2 (conditional) or n_ctx (unconditional),
    capped to fit the context. `nsamples` need not be a multiple of `batch_size`.
    seed: None draws a fresh one (recorded in `run.seed`). stop_at_eos: stop a sample at
    <|endoftext|> (the original scripts always produce `length` tokens).
    progress: a progress bar (None = only for long calls). keep_logits: "float32" (default,
    4 bytes x vocabulary per step), "float16" (half: the logits are rounded to float16 BEFORE
    the draw, so every token is drawn from exactly the values kept; near-ties can then pick
    another token than a float32 run with the same seed), or "none" (only tokens and
    probabilities).
    first_sample: the index of the first sample (samples first_sample .. first_sample+nsamples-1
    draw the same uniforms as in a call that started at 0).
    layers: also record the residual stream after the embeddings and after every block at
    each step (the logit lens: `step.layer_logits(layer)`); 4 x (n_layer + 1) x d_model bytes a
    step (39,936 for GPT-2 small in float32).
    attention: also record, at each step, the attention of the position that produced the
    logits over every position before it (`step.attention()`: (n_layer, n_head, n_context)).
    samplers: the newer settings by name (repetition_penalty, no_repeat_ngram_size, min_p,
    typical_p, epsilon_cutoff, eta_cutoff; see gpt2explore.stages), applied in transformers'
    order; the first two read each sample's own tokens so far (prompt and generated).
    coupling: how each step's noise picks its token (gpt2explore.core.coupling): "cdf" (one
    uniform per step, the inverse CDF; the default, as every earlier seed drew) or "gumbel"
    (one Gumbel per vocabulary token, the argmax of log p + g: the same noise under another
    prompt, settings or model changes the token only where the distribution demands it;
    `run.counterfactual(...)`).
    """
    lm = require_lm(lm)
    check_flags(stop_at_eos=stop_at_eos, progress=progress, layers=layers, attention=attention)
    settings = Settings(temperature, top_k, top_p, semantics, **samplers)
    prompts = normalize_prompts(prompt)
    nsamples = check_count("nsamples", nsamples)
    batch_size = check_count("batch_size", batch_size)
    keep = check_keep_logits(keep_logits)
    first_sample = check_count("first_sample", first_sample, minimum=0)
    seed = sampling.check_seed(seed)
    coupling = couplings.check_coupling(coupling)

    encoded = [lm.start_tokens(p) for p in prompts]  # [BOS] unconditional; BOS first where the family wants it
    for p, toks in zip(prompts, encoded):
        if not toks:
            raise ValueError(f"prompt {p!r} encodes to no tokens; give some text")
    length = choose_length(length, max(map(len, encoded)), lm.n_ctx, conditional=prompts != [None])
    indices = range(first_sample, first_sample + nsamples)
    noise = {i: prior_noise(coupling, seed, i, length) for i in indices}  # per sample index
    jobs = [Job(p, pi, toks, i, noise[i]) for pi, (p, toks) in enumerate(zip(prompts, encoded)) for i in indices]
    meta = {"nsamples": nsamples, "batch_size": batch_size, "first_sample": first_sample, "coupling": coupling}
    return generate_jobs(lm, jobs, settings, seed, length, batch_size=batch_size, stop_at_eos=stop_at_eos,
                         progress=progress, keep=keep, layers=layers, attention=attention, meta=meta)


def prior_noise(coupling: str, seed: int, index: int, length: int) -> list:
    """Sample `index`'s noise for `length` steps: uniforms (cdf) or Gumbel keys (gumbel)."""
    if coupling == "gumbel":
        return [couplings.Gumbel(seed, index, t) for t in range(length)]
    return sampling.uniforms(seed, index, length).tolist()


def generate_jobs(lm, jobs: list[Job], settings: Settings, seed: int, length: int, batch_size: int = 1,
                  stop_at_eos: bool = False, progress=None, keep: str = "float32", layers: bool = False,
                  attention: bool = False, meta: dict | None = None) -> Run:
    """Generate each job's sample with its own noise (`generate`, and the counterfactuals of a run)."""
    samples = [Sample(j.prompt, j.tokens, j.index, decode=lm.decode, prompt_index=j.prompt_index)
               for j in jobs]
    draws = {k: j.noise for k, j in enumerate(jobs)}
    memory.check_kept_logits(len(jobs) * length, lm.vocab_size, keep, lm.device,
                             f"generating {len(jobs)} sample(s) of {length} tokens")
    bar = progress_bar(progress, len(jobs) * length, "generating", PROGRESS_MIN_TOKENS)
    # rows share a forward only where that cannot change their bits (see gpt2explore.batching)
    strategy, _ = batching.strategy(lm)
    per_call = batch_size if strategy == "padded" else 1
    try:
        with batching.forward_mode(lm):
            if prefixes.applies(strategy, jobs, layers, attention):  # each distinct prefix forwarded once
                prefixes.generate_tree(lm, jobs, samples, length, settings, stop_at_eos, keep, bar, forward, left_pad)
            else:
                for start in range(0, len(jobs), per_call):
                    batch = list(range(start, min(start + per_call, len(jobs))))
                    _generate_batch(lm, [jobs[k] for k in batch], [samples[k] for k in batch],
                                    [draws[k] for k in batch], length, settings, stop_at_eos, keep, bar, layers,
                                    attention)
    finally:
        if bar is not None:
            bar.close()
    return Run(samples, settings, seed, model_name=lm.name, length=length, keep_logits=keep,
               meta={"device": str(lm.device), "batch_size": batch_size, **(meta or {}),
                     "stop_at_eos": stop_at_eos, "source": lm.source,
                     "layers": bool(layers), "attention": bool(attention), "batching": strategy},
               lm=lm)


def progress_bar(progress, total: int, desc: str, minimum: int):
    """A tqdm bar of `total` tokens: always with progress=True, never with False, and with None
    only for calls of at least `minimum` tokens."""
    if progress is False or (progress is None and total < minimum):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="tok", desc=desc, leave=False)


@torch.inference_mode()
def _generate_batch(lm, jobs: list[Job], samples: list[Sample], draws: list[list], length: int,
                    settings: Settings, stop_at_eos: bool, keep: str, bar, layers: bool = False,
                    attention: bool = False) -> None:
    model, device, eos = lm.model, lm.device, lm.eos_token_id
    ids, mask, pos = left_pad([j.tokens for j in jobs], lm.pad_token_id, device)
    uniform = all(isinstance(n, float) for row in draws for n in row)
    if uniform:  # the cdf coupling: one uniform per row and step
        u = torch.tensor(draws, dtype=torch.float64)  # (B, length)
        u = u.to(device, torch.float32 if device.type == "mps" else torch.float64)
    done = torch.zeros(len(jobs), dtype=torch.bool, device=device)
    tokens, logits_rows, resid_rows, attn_rows = [], [], [], []
    contexts = [list(j.tokens) for j in jobs] if settings.uses_context else None  # each row's own tokens
    cache = None
    with capture(model) as cap, maybe_capture_layers(model, layers) as lay, \
            maybe_capture_attention(model, attention) as att:
        for t in range(length):
            _, cache = forward(model, ids, mask, pos, cache)
            if att is not None:
                attn_rows.append(att.weights(cache, mask))  # B x (L, H, n_context)
            logits = cap.logits[-1]  # (B, V) raw, newest position
            if keep == "float16":
                # draw from exactly the values kept, so the bars show what the token came from
                logits = logits.to(torch.float16)
            try:
                probs = sampling.distribution_under(logits, settings, contexts)  # (B, V), the model's logits
            except guards.StepError as err:  # nothing is drawn, nothing is kept
                job = jobs[err.row or 0]
                raise err.at(f"step {t} of sample {job.index}"
                             f"{'' if job.prompt is None else f' (prompt {job.prompt[:40]!r})'}") from None
            if uniform:
                token = sampling.pick(probs, u[:, t])  # (B,)
            else:
                for row, p in zip(draws, probs):  # an observed token: its noise is the posterior given it
                    if isinstance(row[t], couplings.Observed):
                        row[t] = row[t].given(p)
                token = couplings.draw_rows(probs, [row[t] for row in draws])  # (B,)
            token = torch.where(done, torch.full_like(token, eos), token)
            if contexts is not None:
                for row, tok in zip(contexts, token.tolist()):
                    row.append(tok)
            chosen_p = probs.gather(-1, token[:, None])[:, 0]
            tokens.append((token, chosen_p))
            logits_rows.append(None if keep == "none" else
                               (logits.float() if keep == "float32" else logits.to(torch.float16)))
            cap.logits.clear()  # the rows we keep are held in logits_rows
            if lay is not None:
                resid_rows.append(lay.resid.pop())  # (B, L+1, d)
            if bar is not None:
                bar.update(len(jobs))
            if stop_at_eos:
                done = done | (token == eos)
                if bool(done.all()):
                    break
            if t + 1 < length:
                # feed the new token: one more real position per row
                ids = token[:, None]
                pos = pos[:, -1:] + 1
                mask = torch.cat([mask, torch.ones_like(ids)], dim=-1)
    # one host copy of the tokens and probabilities for the whole batch
    tok_host = torch.stack([t for t, _ in tokens], dim=1).tolist()  # (B, steps)
    p_host = torch.stack([p for _, p in tokens], dim=1).tolist()
    u_host = u.tolist() if uniform else None
    for b, (job, sample) in enumerate(zip(jobs, samples)):
        n_prompt = len(job.tokens)
        for t, tok in enumerate(tok_host[b]):
            sample.steps.append(Step(
                token=tok, u=u_host[b][t] if uniform else None, noise=None if uniform else draws[b][t],
                position=n_prompt + t, settings=settings,
                logits=None if logits_rows[t] is None else logits_rows[t][b], index=t,
                prob=p_host[b][t], sample=sample, residual=resid_rows[t][b] if resid_rows else None,
                attention_weights=attn_rows[t][b] if attn_rows else None))
            if stop_at_eos and tok == eos:
                break
