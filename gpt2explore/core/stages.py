"""The sampling stages, each a pure function `(logits, value, ...) -> logits`: removed tokens
get -inf (-1e10 under OpenAI's rules), inputs are never modified. The registry
(gpt2explore.core.registry) declares each one with its setting, its "off" value and its place
in the order; a stage that reads the tokens so far takes a parameter named `context` (the ids,
for logits (V,)), one that follows a rule set takes `semantics`.

    repetition_penalty     1.0 = off   divide positive / multiply negative logits of seen tokens
    no_repeat_ngram_size   0 = off     ban the token that would repeat an n-gram of the context
    temperature            1.0 = off   divide by T (0 = greedy)
    top_k                  0 = off     keep the k likeliest
    top_p                  1.0 = off   keep the nucleus holding p
    min_p                  0 = off     drop tokens below min_p x the top probability
    typical_p              1.0 = off   keep the tokens closest to the expected surprisal, mass p
    epsilon_cutoff         0 = off     drop tokens below a fixed probability
    eta_cutoff             0 = off     drop tokens below min(eta, sqrt(eta) exp(-entropy))

``semantics="hf"`` is exactly transformers' warpers (top-p drops the low-probability tail whose
total is <= 1 - p, so the token that crosses p is kept); ``semantics="openai"`` is OpenAI's
gpt-2 sample.py (removed tokens get -1e10; top-p keeps the tokens whose cumulative probability
is <= p, so the token that crosses p is dropped, at least one kept). ``temperature=0`` is
greedy decoding: all probability on the argmax (the lowest id wins a tie). The original code
divides the logits by zero instead: every positive logit becomes +inf, every negative one -inf
(and 0/0 = NaN), so softmax turns into NaN, not a one-hot distribution.
"""
from __future__ import annotations

import math

import torch

OPENAI_FILTER_VALUE = -1e10


def greedy(logits: torch.Tensor) -> torch.Tensor:
    """Everything but the first maximum of each row gets -inf (temperature 0)."""
    keep = torch.nn.functional.one_hot(logits.argmax(dim=-1), logits.shape[-1]).bool()
    return logits.masked_fill(~keep, -math.inf)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Scale logits by 1/temperature; temperature 0 keeps only the argmax (greedy).

    A temperature so small that logits / temperature overflows (a finite logit turns into
    +-inf, e.g. T=1e-38 in float32) acts as T=0 on the rows where that happens: the limit of
    softmax(logits / T) as T -> 0 is the argmax, while the overflowed values would give NaN.
    """
    if temperature == 0:
        return greedy(logits)
    if temperature == 1.0:
        return logits.clone()
    scaled = logits / temperature
    if temperature < 1.0:
        overflow = (torch.isinf(scaled) & torch.isfinite(logits)).any(dim=-1, keepdim=True)  # (..., 1)
        if bool(overflow.any()):
            scaled = torch.where(overflow, greedy(logits), scaled)
    return scaled


def apply_top_k(logits: torch.Tensor, top_k: int, semantics: str = "hf") -> torch.Tensor:
    """Keep the top_k largest logits (ties at the k-th value stay); 0 = no limit."""
    if top_k == 0:
        return logits.clone()
    top_k = min(top_k, logits.shape[-1])  # a k above the vocabulary keeps everything
    kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (..., 1)
    fill = -math.inf if semantics == "hf" else OPENAI_FILTER_VALUE
    return logits.masked_fill(logits < kth, fill)


def apply_top_p(logits: torch.Tensor, top_p: float, semantics: str = "hf") -> torch.Tensor:
    """Nucleus filtering by the rule set's definition; top_p = 1.0 = no limit."""
    if top_p >= 1.0:
        return logits.clone()
    if semantics == "hf":
        # transformers: drop the ascending-sorted prefix whose cumulative probability <= 1 - p
        sorted_logits, sorted_idx = torch.sort(logits, descending=False, dim=-1)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove_sorted = cumulative <= (1 - top_p)
        remove_sorted[..., -1:] = False  # keep at least one token
        remove = remove_sorted.scatter(-1, sorted_idx, remove_sorted)
        return logits.masked_fill(remove, -math.inf)
    # OpenAI: keep tokens whose descending cumulative probability <= p (at least one)
    sorted_logits = torch.sort(logits, descending=True, dim=-1).values
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    n_keep = (cumulative <= top_p).sum(dim=-1, keepdim=True)
    min_value = sorted_logits.gather(-1, (n_keep - 1).clamp(min=0))  # (..., 1)
    return logits.masked_fill(logits < min_value, OPENAI_FILTER_VALUE)


def temperature(logits, t: float):
    """The temperature stage: logits / T (0 = greedy)."""
    return apply_temperature(logits, t)


def top_k(logits, k: int, semantics: str = "hf"):
    """The top-k stage."""
    return apply_top_k(logits, k, semantics)


def top_p(logits, p: float, semantics: str = "hf"):
    """The top-p (nucleus) stage."""
    return apply_top_p(logits, p, semantics)


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


def repetition_penalty(logits, penalty: float, context=None):
    """transformers' RepetitionPenaltyLogitsProcessor: every token already in the context has
    its logit divided by `penalty` when positive, multiplied when negative."""
    penalized = torch.where(logits < 0, logits * penalty, logits / penalty)
    return torch.where(seen_mask(context, logits), penalized, logits)


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


def no_repeat_ngram(logits, n: int, context=None):
    """transformers' NoRepeatNGramLogitsProcessor: ban every token that would make an n-gram
    the context already holds."""
    return logits.masked_fill(banned_ngram_mask(context, logits, n), -math.inf)


def min_p(logits, p: float):
    """transformers' MinPLogitsWarper: drop tokens whose probability is below p x the top one
    (the top token always stays)."""
    probs = torch.softmax(logits, dim=-1)
    remove = probs < p * probs.amax(dim=-1, keepdim=True)
    remove = remove.scatter(-1, torch.topk(probs, 1, dim=-1).indices, False)
    return logits.masked_fill(remove, -math.inf)


def typical(logits, mass: float):
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


def epsilon(logits, eps: float):
    """transformers' EpsilonLogitsWarper: drop tokens below probability eps (the top stays)."""
    probs = logits.softmax(dim=-1)
    remove = (probs < eps) & (logits < torch.topk(logits, 1)[0][..., -1:])
    return logits.masked_fill(remove, -math.inf)


def eta(logits, eps: float):
    """transformers' EtaLogitsWarper: drop tokens below min(eps, sqrt(eps) exp(-entropy))."""
    probs = logits.softmax(dim=-1)
    entropy = torch.distributions.Categorical(logits=logits).entropy()
    eps_t = torch.tensor(eps, dtype=logits.dtype, device=logits.device)
    cut = torch.min(eps_t, torch.sqrt(eps_t) * torch.exp(-entropy))[..., None]
    remove = (probs < cut) & (logits < torch.topk(logits, 1)[0][..., -1:])
    return logits.masked_fill(remove, -math.inf)
