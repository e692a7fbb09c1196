"""What a run bundle stores for each sample, and the Run it builds back (see gpt2explore.bundle).

Per sample, in logits.safetensors:
    s{k}.logits   (T, V) float32   full raw logits                      (logits="full")
    s{k}.values   (T, W) float32   the W largest raw logits             (logits="top")
    s{k}.ids      (T, W) int32     their token ids
    s{k}.lse      (T,)   float64   logsumexp of the raw logits over the whole vocabulary
    s{k}.own      (T, W) float64   the stored tokens' probabilities under the step's own settings
    s{k}.tok      (T,)   float32   each step's own token's raw logit (also when it ranks below W)
    s{k}.resid    (T, L+1, d)      the residual stream per layer (runs made with layers=True)
"""
from __future__ import annotations

from pathlib import Path

import torch

from .manifest import LOGITS, BundleError

OWN_KEPT_MAX = 1024  # own settings keeping at most this many tokens (or 4 x top) are stored whole
from ..core import coupling
from ..core.trace import Run, Sample, Step, Truncation


# ---- writing -----------------------------------------------------------------------------
def sample_tensors(sample: Sample, k: int, mode: str, top: int | None, vocab: int) -> tuple[dict, dict]:
    """(the sample's manifest record, its tensors) for a bundle of `mode` ("full" or "top")."""
    steps = sample.steps
    record = {
        "prompt_index": sample.prompt_index, "index": sample.index,
        "prompt": sample.prompt, "prompt_tokens": list(sample.prompt_tokens),
        "tokens": sample.tokens, "uniforms": [s.u for s in steps],
        "probs": [s.prob for s in steps], "forced": [s.forced for s in steps],
        "settings": [s.settings.as_dict() for s in steps],
        "rank": [_rank(s) for s in steps], "raw_prob": [_raw_prob(s) for s in steps],
    }
    if any(s.noise is not None for s in steps):  # the gumbel coupling: each step's noise by its key
        record["noise"] = [None if s.noise is None else _noise_record(s) for s in steps]
    if not all(s.replays for s in steps):
        record["replays"] = [s.replays for s in steps]
    if mode == "top" and "noise" in record:
        raise ValueError("a run drawn with Gumbel noise saves with logits='full': its draw reads every "
                         "token's probability, which a top-N bundle does not keep")
    if mode == "full":
        tensors = {f"s{k}.logits": _stacked(steps, vocab)}
    elif steps and steps[0].truncation is not None:
        tensors = _stored_top(steps, k)
    else:
        tensors = _top_tensors(steps, k, _stacked(steps, vocab), top)
    if steps and all(s.residual is not None for s in steps):
        tensors[f"s{k}.resid"] = torch.stack([s.residual for s in steps]).float().cpu().contiguous()
    return record, tensors


def _noise_record(step) -> dict:
    """A step's noise key; posterior noise must be conditioned on the step's own distribution
    (a hindsight sample), which the bundle holds, and on nothing else."""
    noise = step.noise
    if noise.kind == "posterior" and (noise.token != step.token or not torch.equal(
            noise.probs.cpu(), step.distribution().double().cpu())):
        raise ValueError("this step's Gumbel noise is conditioned on another run's text (a counterfactual of a "
                         "hindsight run): save the hindsight run instead, and make its counterfactual again "
                         "after loading it")
    return noise.record()


def _stacked(steps, vocab: int) -> torch.Tensor:
    if not steps:
        return torch.empty((0, vocab))
    return torch.stack([s.require_logits() for s in steps]).float().cpu().contiguous()  # (T, V)


def _rank(step) -> int:
    return step.rank0


def _raw_prob(step) -> float:
    if step.raw_prob is not None:
        return step.raw_prob
    return float(step.require_logits().double().log_softmax(-1)[step.token].exp())


def _top_tensors(steps, k: int, stacked: torch.Tensor, top: int) -> dict:
    """The top-N record of a sample with full logits: its width W covers `top` and every token
    ranked at or before each drawn token under the step's own settings, so replay is exact; and,
    where the own settings keep at most max(4 x top, 1024) tokens, every token they keep, so the
    step's own distribution is exact too."""
    vocab = stacked.shape[-1]
    width = min(top, vocab)
    own = []
    for t, step in enumerate(steps):
        probs = step.distribution().cpu()  # float64: exactly what the token was drawn from
        own.append(probs)
        kept = probs > 0
        if int(kept.sum()) <= max(4 * top, OWN_KEPT_MAX):
            width = max(width, int((stacked[t] >= stacked[t][kept].min()).sum()))
        if not step.forced and step.token >= 0:
            # every token the pick may rank before the drawn one has p >= p(drawn) ...
            before = probs >= probs[step.token]
            # ... so keeping all logits >= the smallest such logit keeps them all
            floor = stacked[t][before].min()
            width = max(width, int((stacked[t] >= floor).sum()))
    if steps:
        values, ids = torch.topk(stacked, width, dim=-1)
        own_probs = torch.stack(own).gather(-1, ids)
    else:
        values, ids, own_probs = torch.empty((0, width)), torch.empty((0, width), dtype=torch.long), \
            torch.empty((0, width), dtype=torch.float64)
    tok = torch.tensor([float(stacked[t, s.token]) for t, s in enumerate(steps)], dtype=torch.float32)
    return {f"s{k}.values": values.contiguous(), f"s{k}.ids": ids.to(torch.int32).contiguous(),
            f"s{k}.lse": torch.logsumexp(stacked.double(), dim=-1).contiguous(),
            f"s{k}.own": own_probs.double().contiguous(), f"s{k}.tok": tok}


def _stored_top(steps, k: int) -> dict:
    """A run loaded from a top-N bundle saves exactly what it holds: the stored logits, ids,
    normaliser, own probabilities and token logits, never the estimated tail."""
    cuts = [s.truncation for s in steps]
    width = max(c.width for c in cuts)
    if any(c.width != width for c in cuts):
        raise ValueError("the steps of this sample hold top-N records of different widths; save each run "
                         "as it was loaded")
    ids = torch.stack([c.ids.cpu() for c in cuts])  # (T, W)
    values = torch.stack([s.require_logits().float().cpu()[c.ids.cpu()] for s, c in zip(steps, cuts)])
    out = {f"s{k}.values": values.contiguous(), f"s{k}.ids": ids.to(torch.int32).contiguous(),
           f"s{k}.lse": torch.tensor([c.lse for c in cuts], dtype=torch.float64),
           f"s{k}.tok": torch.tensor([float(s.require_logits()[s.token]) for s in steps], dtype=torch.float32)}
    if all(c.own_probs is not None for c in cuts):
        out[f"s{k}.own"] = torch.stack([c.own_probs.double().cpu() for c in cuts]).contiguous()
    return out


# ---- reading -----------------------------------------------------------------------------
def build_run(manifest: dict, checked: dict, tensors: dict, tokenizer, folder: Path) -> Run:
    """The Run a checked manifest and its tensors describe (draws not yet replayed)."""
    def decode(tokens):
        return tokenizer.decode(list(tokens), clean_up_tokenization_spaces=False)

    vocab = checked["vocab"]
    legacy = checked["draw"]["dtype"] == "float32"
    if checked["mode"] == "top" and not legacy and checked["draw"]["exact"]:
        for k in range(len(checked["samples"])):
            if f"s{k}.own" not in tensors:
                raise BundleError(f"run bundle {folder}: {LOGITS}: s{k}.own is missing")
    keep = checked["keep_logits"]
    rounded_after = bool(manifest.get("draw", {}).get("rounded_after_draw", False))
    samples = []
    for k, rec in enumerate(checked["samples"]):
        cuts = None
        if checked["mode"] == "full":
            rows = tensors[f"s{k}.logits"].float()
        else:
            rows, cuts = rows_from_top(tensors, k, vocab, rec["tokens"], folder)
        if checked["first_release"] and rows.numel() and torch.equal(rows, rows.half().float()):
            keep, rounded_after = "float16", True  # the first release kept float16 runs without saying so
        resid = tensors.get(f"s{k}.resid")
        sample = Sample(rec["prompt"], rec["prompt_tokens"], rec["index"], decode=decode,
                        prompt_index=rec["prompt_index"])
        n_prompt = len(rec["prompt_tokens"])
        for t, tok in enumerate(rec["tokens"]):
            noise = rec["noise"][t]
            sample.steps.append(Step(
                noise=None if noise is None else coupling.Gumbel(noise["seed"], noise["sample"], noise["step"]),
                token=tok, u=rec["uniforms"][t], position=n_prompt + t, settings=rec["settings"][t],
                logits=rows[t], index=t, prob=rec["probs"][t], forced=rec["forced"][t], sample=sample,
                truncation=None if cuts is None else cuts[t],
                scored_rank0=None if rec["rank"] is None else rec["rank"][t],
                raw_prob=None if rec["raw_prob"] is None else rec["raw_prob"][t],
                residual=None if resid is None else resid[t].float(),
                draw_replays=rec["replays"][t], legacy=legacy))
        for step, noise in zip(sample.steps, rec["noise"]):  # hindsight: conditioned on the step's own text
            if noise is not None and noise["kind"] == "posterior":
                step.noise = coupling.Posterior(noise["seed"], noise["sample"], noise["step"], step.token,
                                                step.distribution().double().cpu())
        samples.append(sample)
    meta = dict(manifest.get("meta", {}), weights_sha256=manifest.get("weights_sha256"), bundle=str(folder),
                logits_mode=checked["mode"], saved_versions=manifest.get("versions", {}), _tokenizer=tokenizer,
                bundle_format=checked["format"], rounded_after_draw=rounded_after)
    return Run(samples, checked["settings"], checked["seed"], model_name=manifest["model"],
               length=checked["length"], keep_logits=keep, meta=meta)


def rows_from_top(tensors: dict, k: int, vocab: int, tokens: list[int], folder: Path):
    """Full-vocabulary rows from a top-N record: the stored logits and each step's own token
    logit, and for the other dropped tokens one flat value, below every known one, that gives
    the tail its true total probability at T=1."""
    values, ids = tensors[f"s{k}.values"].float(), tensors[f"s{k}.ids"].long()  # (T, W)
    lse = tensors[f"s{k}.lse"].double()  # (T,)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
        raise BundleError(f"run bundle {folder}: {LOGITS}: s{k}.ids has token ids outside 0..{vocab - 1}")
    tok = tensors.get(f"s{k}.tok")
    width = values.shape[-1]
    known_mass = (values.double() - lse[:, None]).exp().sum(-1)  # (T,)
    outside = torch.zeros(len(tokens), dtype=torch.bool)
    if tok is not None and len(tokens):
        token_ids = torch.tensor(tokens, dtype=torch.long)
        outside = ~(ids.cpu() == token_ids[:, None]).any(-1)  # the step's token is not among the W
        known_mass = known_mass + torch.where(outside.to(lse.device), (tok.double() - lse).exp(),
                                              torch.zeros_like(lse))
    n_unknown = (vocab - width - outside.long()).double().to(lse.device)
    tail = (1 - known_mass).clamp(min=0)
    fill = torch.full_like(lse, float("-inf"))
    has_tail = (tail > 0) & (n_unknown > 0)
    fill = torch.where(has_tail, tail.log() + lse - n_unknown.clamp(min=1).log(), fill)
    floor = values.min(dim=-1).values.double() if width else fill
    if tok is not None:
        floor = torch.where(outside.to(floor.device), torch.minimum(floor, tok.double()), floor)
    below = torch.nextafter(floor.float(), torch.tensor(float("-inf"))).double()
    fill = torch.minimum(fill, below).float()  # the tail never outranks a known token
    rows = fill[:, None].expand(-1, vocab).clone().scatter(-1, ids, values)
    if tok is not None and len(tokens):
        rows = rows.scatter(-1, token_ids[:, None].to(rows.device), tok[:, None].float())
    own = tensors.get(f"s{k}.own")
    cuts = [Truncation(ids[t], None if own is None else own[t].double(), float(lse[t]))
            for t in range(ids.shape[0])]
    return rows, cuts
