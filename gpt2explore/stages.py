"""The sampling pipeline as a list of stages: processors (they read the tokens so far), then
warpers, in transformers' order. Each stage is a pure function `(logits, contexts) -> logits`
(removed tokens get -inf; inputs are never modified), so the distribution a token is drawn
from and the stage-by-stage view read the same list.

    repetition_penalty     1.0 = off   divide positive / multiply negative logits of seen tokens
    no_repeat_ngram_size   0 = off     ban the token that would repeat an n-gram of the context
    temperature            1.0 = off   divide by T (0 = greedy)
    top_k                  0 = off     keep the k likeliest
    top_p                  1.0 = off   keep the nucleus holding p
    min_p                  0 = off     drop tokens below min_p x the top probability
    typical_p              1.0 = off   keep the tokens closest to the expected surprisal, mass p
    epsilon_cutoff         0 = off     drop tokens below a fixed probability
    eta_cutoff             0 = off     drop tokens below min(eta, sqrt(eta) exp(-entropy))

`contexts`: for logits (V,), the token ids so far (prompt and generated); for (B, V), one
list per row. Only the first two stages read them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

HF_ORDER = ("repetition_penalty", "no_repeat_ngram_size", "temperature", "top_k", "top_p", "min_p", "typical_p",
            "epsilon_cutoff", "eta_cutoff")
PROCESSORS = ("repetition_penalty", "no_repeat_ngram_size")  # they read the context
OFF = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "temperature": 1.0, "top_k": 0, "top_p": 1.0,
       "min_p": 0.0, "typical_p": 1.0, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0}
LABELS = {"repetition_penalty": "repetition penalty", "no_repeat_ngram_size": "no-repeat n-gram",
          "temperature": "temperature", "top_k": "top-k", "top_p": "top-p", "min_p": "min-p",
          "typical_p": "typical", "epsilon_cutoff": "epsilon", "eta_cutoff": "eta"}


@dataclass(frozen=True)
class Stage:
    """One active stage: its setting's name, value, and the pure function that applies it."""

    name: str
    value: float
    apply: Callable  # (logits, contexts) -> logits

    @property
    def label(self) -> str:
        return f"{LABELS[self.name]} {self.value:g}"


def rows(contexts, logits: torch.Tensor) -> list[list[int]]:
    """Contexts as one list of ids per row of `logits`."""
    if logits.dim() == 1:
        return [list(contexts)]
    return [list(c) for c in contexts]


def seen_mask(contexts, logits: torch.Tensor) -> torch.Tensor:
    """True where a row's context holds the token (same shape as logits)."""
    lists = rows(contexts, logits)
    mask = torch.zeros((len(lists), logits.shape[-1]), dtype=torch.bool)
    for r, ids in enumerate(lists):
        if ids:
            mask[r, torch.tensor(ids, dtype=torch.long)] = True
    return mask.reshape(logits.shape).to(logits.device)


def repetition_penalty(logits, contexts, penalty: float):
    """transformers' RepetitionPenaltyLogitsProcessor: every token already in the context has
    its logit divided by `penalty` when positive, multiplied when negative."""
    penalized = torch.where(logits < 0, logits * penalty, logits / penalty)
    return torch.where(seen_mask(contexts, logits), penalized, logits)


def banned_ngram_mask(contexts, logits: torch.Tensor, n: int) -> torch.Tensor:
    """True for each token that would complete an n-gram already in the row's context."""
    lists = rows(contexts, logits)
    mask = torch.zeros((len(lists), logits.shape[-1]), dtype=torch.bool)
    for r, ids in enumerate(lists):
        if len(ids) < n:
            continue
        prefix = tuple(ids[len(ids) - n + 1:]) if n > 1 else ()
        for i in range(len(ids) - n + 1):
            if tuple(ids[i:i + n - 1]) == prefix:
                mask[r, ids[i + n - 1]] = True
    return mask.reshape(logits.shape).to(logits.device)


def no_repeat_ngram(logits, contexts, n: int):
    """transformers' NoRepeatNGramLogitsProcessor: ban every token that would make an n-gram
    the context already holds."""
    return logits.masked_fill(banned_ngram_mask(contexts, logits, n), -math.inf)


def min_p(logits, contexts, p: float):
    """transformers' MinPLogitsWarper: drop tokens whose probability is below p x the top one
    (the top token always stays)."""
    probs = torch.softmax(logits, dim=-1)
    remove = probs < p * probs.amax(dim=-1, keepdim=True)
    remove = remove.scatter(-1, torch.topk(probs, 1, dim=-1).indices, False)
    return logits.masked_fill(remove, -math.inf)


def typical(logits, contexts, mass: float):
    """transformers' TypicalLogitsWarper: keep the tokens whose surprisal is closest to the
    entropy, until they hold `mass` of the probability (at least one)."""
    normalized = torch.nn.functional.log_softmax(logits, dim=-1)
    p = torch.exp(normalized)
    ent = -(normalized * p).nansum(-1, keepdim=True)
    shifted = torch.abs((-normalized) - ent)
    sorted_scores, sorted_idx = torch.sort(shifted, descending=False)
    cumulative = logits.gather(-1, sorted_idx).softmax(dim=-1).cumsum(dim=-1)
    last = (cumulative < mass).sum(dim=-1, keepdim=True).clamp(max=sorted_scores.shape[-1] - 1)
    remove_sorted = sorted_scores > sorted_scores.gather(-1, last)
    remove_sorted[..., :1] = False  # keep at least one token
    remove = remove_sorted.scatter(-1, sorted_idx, remove_sorted)
    return logits.masked_fill(remove, -math.inf)


def epsilon(logits, contexts, eps: float):
    """transformers' EpsilonLogitsWarper: drop tokens below probability eps (the top stays)."""
    probs = logits.softmax(dim=-1)
    remove = (probs < eps) & (logits < torch.topk(logits, 1)[0][..., -1:])
    return logits.masked_fill(remove, -math.inf)


def eta(logits, contexts, eps: float):
    """transformers' EtaLogitsWarper: drop tokens below min(eps, sqrt(eps) exp(-entropy))."""
    probs = logits.softmax(dim=-1)
    entropy = torch.distributions.Categorical(logits=logits).entropy()
    eps_t = torch.tensor(eps, dtype=logits.dtype, device=logits.device)
    cut = torch.min(eps_t, torch.sqrt(eps_t) * torch.exp(-entropy))[..., None]
    remove = (probs < cut) & (logits < torch.topk(logits, 1)[0][..., -1:])
    return logits.masked_fill(remove, -math.inf)


def _functions(semantics: str) -> dict:
    from . import sampling

    return {
        "repetition_penalty": repetition_penalty,
        "no_repeat_ngram_size": no_repeat_ngram,
        "temperature": lambda x, c, t: sampling.apply_temperature(x, t),
        "top_k": lambda x, c, k: sampling.apply_top_k(x, k, semantics),
        "top_p": lambda x, c, p: sampling.apply_top_p(x, p, semantics),
        "min_p": min_p, "typical_p": typical, "epsilon_cutoff": epsilon, "eta_cutoff": eta,
    }


def check_order(stage_order) -> tuple[str, ...]:
    """A permutation of (a subset of) the stage names; the rest keep transformers' order after it."""
    if stage_order is None:
        return HF_ORDER
    order = list(stage_order)
    unknown = [s for s in order if s not in HF_ORDER]
    if unknown or len(set(order)) != len(order):
        raise ValueError(f"stage_order must list stage names from {', '.join(HF_ORDER)} at most once each, "
                         f"got {stage_order!r}")
    return tuple(order) + tuple(s for s in HF_ORDER if s not in order)


def active_stages(settings, stage_order=None) -> list[Stage]:
    """The stages the settings switch on, in order (transformers' unless `stage_order`). The
    temperature stage is always listed when T != 1; for the three classic settings the
    functions are the existing ones, so default settings give exactly today's numbers."""
    fns = _functions(settings.semantics)
    out = []
    for name in check_order(stage_order):
        value = getattr(settings, name)
        if value == OFF[name]:
            continue
        out.append(Stage(name, value, lambda x, c, f=fns[name], v=value: f(x, c, v)))
    return out
