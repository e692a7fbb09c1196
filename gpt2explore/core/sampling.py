"""The draw's arithmetic: the stages in order, the probabilities, and the inverse-CDF pick from
a uniform; the per-sample uniforms.

A step's logits become its distribution by the active stages of its settings, in the
registry's order (transformers' for the built-ins: repetition penalty, no-repeat n-grams,
temperature, top-k, top-p, min-p, typical, epsilon, eta), one row at a time and in double
precision, so that a row's numbers never depend on the rows beside it; the softmax of the
result is what the token is drawn from. `pick` then takes the first token, in
descending-probability order, whose cumulative probability exceeds the step's uniform.

Functions take `logits` (raw model output, or already filtered) and return new tensors;
their inputs are never modified. Settings are checked once, where they enter
(`Settings(...)`); the functions that take a Settings object never check them again.
"""
from __future__ import annotations

import numbers
import random

import torch

from . import arguments, guards, registry
from .registry import SEMANTICS  # noqa: F401  (re-exported: the rule sets)
from .settings import Settings  # noqa: F401  (re-exported)
from .stages import OPENAI_FILTER_VALUE, apply_temperature, apply_top_k, apply_top_p, greedy  # noqa: F401

DRAW_DTYPE = torch.float64  # the distribution a token is drawn from is computed in double precision
LEGACY_DRAW_DTYPE = torch.float32  # bundles of format 1 were drawn with single-precision stages


def draw_dtype(device: torch.device, legacy: bool = False) -> torch.dtype:
    """The precision of the draw's arithmetic (mps has no float64: float32 there)."""
    if legacy or torch.device(device).type == "mps":
        return LEGACY_DRAW_DTYPE
    return DRAW_DTYPE


def stage_trace(logits: torch.Tensor, settings: Settings, context=None, stage_order=None, legacy: bool = False):
    """Raw logits (V,) -> [(stage or None, filtered logits)]: the input first (None), then the
    logits after each active stage in order. One row at a time, in double precision: a row's
    numbers never depend on the rows computed beside it, nor on how many there are."""
    if logits.dim() != 1:
        raise ValueError(f"stage_trace takes one row of logits (V,), got shape {tuple(logits.shape)}")
    filtered = logits.to(draw_dtype(logits.device, legacy), copy=True)
    out = [(None, filtered)]
    for stage in registry.active_stages(settings, stage_order):
        filtered = stage.apply(filtered, context)
        out.append((stage, filtered))
    guards.check_trace(out)  # NaN, +inf or nothing left: an error naming its source, never a draw
    return out


def _rows(logits: torch.Tensor, context):
    """(row, its context) pairs of logits (V,) or (B, V); `context`: ids, or one list per row."""
    if logits.dim() == 1:
        return [(logits, context)]
    return [(row, None if context is None else context[b]) for b, row in enumerate(logits)]


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                  semantics: str = "hf", context=None, stage_order=None, legacy: bool = False,
                  **more) -> torch.Tensor:
    """Raw logits -> filtered logits (float64): every active stage in order (transformers'
    order unless `stage_order`): repetition penalty, no-repeat n-grams, temperature, top-k,
    top-p, min-p, typical, epsilon, eta. `context`: the tokens so far (a list of ids for
    logits (V,), one list per row for (B, V)); needed only by the first two stages.
    Rows are computed one by one, so a row's result is the same bits whatever the batch."""
    _check_input(logits, context)
    settings = Settings(temperature, top_k, top_p, semantics, **more)
    return _on_callers_logits(filtered_under, logits, settings, context, stage_order, legacy)


def _filtered_rows(logits: torch.Tensor, settings: Settings, context, stage_order, legacy) -> list[torch.Tensor]:
    """Each row of `logits` through every active stage, alone."""
    if settings.uses_context and context is None:
        raise ValueError("the settings read the tokens so far (repetition penalty, no-repeat n-grams): pass context=")
    out = []
    for r, (row, ctx) in enumerate(_rows(logits, context)):
        try:
            out.append(stage_trace(row, settings, ctx, stage_order, legacy)[-1][1])
        except guards.StepError as err:  # a bad distribution, or a sampler's output of the wrong kind
            err.row = r if logits.dim() > 1 else None  # which row of a batch (generation names its sample)
            raise
    return out


def filtered_under(logits: torch.Tensor, settings: Settings, context=None, stage_order=None,
                   legacy: bool = False) -> torch.Tensor:
    """`filter_logits` for Settings already checked (nothing is checked again)."""
    rows = _filtered_rows(logits, settings, context, stage_order, legacy)
    return rows[0] if logits.dim() == 1 else torch.stack(rows)


def distribution_under(logits: torch.Tensor, settings: Settings, context=None, stage_order=None,
                       legacy: bool = False) -> torch.Tensor:
    """`probabilities` for Settings already checked: the softmax of the filtered logits, row by row
    (each row filtered and normalised alone, then the rows stacked once)."""
    rows = [row.softmax(dim=-1) for row in _filtered_rows(logits, settings, context, stage_order, legacy)]
    return rows[0] if logits.dim() == 1 else torch.stack(rows)


def probabilities(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                  semantics: str = "hf", context=None, stage_order=None, legacy: bool = False,
                  **more) -> torch.Tensor:
    """Raw logits -> the probabilities a token is drawn from (softmax of the filtered logits),
    float64, one row at a time (see `filter_logits`)."""
    _check_input(logits, context)
    settings = Settings(temperature, top_k, top_p, semantics, **more)
    return _on_callers_logits(distribution_under, logits, settings, context, stage_order, legacy)


def _on_callers_logits(under, logits, settings: Settings, context, stage_order, legacy):
    """`under` on a caller's own logits (checked, as the settings were, by the public call):
    a step error speaks of "the logits", not the model's."""
    try:
        return under(logits, settings, context, stage_order, legacy)
    except guards.StepError as err:
        raise err.given() from None


def _check_input(logits, context) -> None:
    """The public calls' logits (a float tensor (V,) or (B, V)) and context (token ids in the
    vocabulary), checked once where they enter."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch tensor (V,) or (B, V), got {type(logits).__name__}; "
                        f"e.g. torch.tensor([...])")
    if logits.dim() not in (1, 2) or not logits.is_floating_point() or logits.shape[-1] == 0:
        raise ValueError(f"logits must be a floating-point tensor of shape (V,) or (B, V), got "
                         f"{str(logits.dtype).replace('torch.', '')} of shape {tuple(logits.shape)}")
    if context is None:
        return
    rows = [context] if logits.dim() == 1 else list(context)
    vocab = logits.shape[-1]
    for row in rows:
        for t in row:
            if isinstance(t, bool) or not isinstance(t, int) and not (
                    isinstance(t, torch.Tensor) and t.dim() == 0) or not 0 <= int(t) < vocab:
                raise ValueError(f"context must hold token ids in [0, {vocab}) (one list per row for (B, V) "
                                 f"logits), got {t!r}")


PICK_CANDIDATES = 64  # rows first look among their 64 likeliest tokens
PICK_SMALL = 512  # the threshold search stops once this few candidates are left, and sorts them
PICK_MARGIN = 1e-10  # a draw this close to a cumulative boundary is settled by the reference order


def pick(probs: torch.Tensor, u) -> torch.Tensor:
    """Inverse-CDF draw: the first token, in descending-probability order (ties: lower id
    first), whose cumulative probability exceeds `u`.

    probs (..., V) with u of shape (...) -> token ids (...): one draw per row.
    probs (V,) with u of any shape (N...) -> token ids (N...): many draws from one distribution.

    A row first looks among its 64 likeliest tokens; when its draw lies beyond them, a
    threshold search over the probability values (`_pick_by_threshold`) finds the tokens the
    draw falls among and orders only those, never the whole vocabulary. Both give exactly the
    token of the full sort (`pick_reference`); a draw within 1e-10 of a cumulative boundary,
    where summing in another order could tip the result, is settled by the full sort.
    """
    _check_pick(probs, u)
    acc = torch.float32 if probs.device.type == "mps" else torch.float64  # mps has no float64
    u = torch.as_tensor(u, dtype=acc, device=probs.device)
    if probs.dim() == 1:
        return pick_reference(probs, u)
    u = u.expand(probs.shape[:-1]).unsqueeze(-1).contiguous()  # (..., 1)
    m = min(PICK_CANDIDATES, probs.shape[-1])
    if m == probs.shape[-1]:
        return pick_reference(probs, u.squeeze(-1))
    # fast path: the m likeliest tokens, ordered as the full sort would order them
    values, ids = torch.topk(probs, m, dim=-1)  # (..., m)
    by_id = torch.argsort(ids, dim=-1)
    values, ids = values.gather(-1, by_id), ids.gather(-1, by_id)
    order = torch.sort(values, dim=-1, descending=True, stable=True).indices
    values, ids = values.gather(-1, order), ids.gather(-1, order)
    cumulative = values.to(acc).cumsum(dim=-1)
    rank = torch.searchsorted(cumulative, u, right=True).clamp(max=m - 1)  # (..., 1)
    # exact when the chosen token is strictly likelier than the m-th: then every token
    # ranked before it in the full order is among the candidates, in the same order
    ok = values.gather(-1, rank) > values[..., -1:]
    tokens = ids.gather(-1, rank).squeeze(-1)  # (...)
    if bool(ok.all()):
        return tokens
    flat_probs, flat_u = probs.reshape(-1, probs.shape[-1]), u.reshape(-1)
    flat_tokens, flat_ok = tokens.reshape(-1).clone(), ok.reshape(-1)
    for r in (~flat_ok).nonzero().flatten().tolist():
        found = _pick_by_threshold(flat_probs[r], float(flat_u[r]), acc)
        flat_tokens[r] = found if found is not None else pick_reference(flat_probs[r], flat_u[r])
    return flat_tokens.reshape(tokens.shape)


def _check_pick(probs, u) -> None:
    """pick's inputs: probabilities (no NaN, none negative) and uniforms in [0, 1] (1.0 draws
    the last token with mass). One reduction over the probabilities (amin propagates NaN)."""
    if not isinstance(probs, torch.Tensor) or not probs.is_floating_point() or probs.dim() == 0:
        raise TypeError(f"probs must be a floating-point tensor (..., V) of probabilities, got "
                        f"{type(probs).__name__ if not isinstance(probs, torch.Tensor) else probs.dtype}")
    if probs.numel() == 0 or not float(probs.amin()) >= 0:
        raise ValueError("probs must be probabilities (no NaN, none negative), e.g. gx.probabilities(logits); "
                         "got NaN or a negative value")
    if isinstance(u, torch.Tensor):
        if u.is_complex() or not bool(((u >= 0) & (u <= 1)).all()):
            raise ValueError("u must hold uniform draws in [0, 1], e.g. gx.uniforms(seed, 0, n); got a value "
                             "outside it (or NaN)")
    else:
        arguments.unit_interval("u", u)


PICK_BUCKETS_BITS = 12  # 4,096 value buckets per pass of the threshold search


def _pick_by_threshold(p: torch.Tensor, u: float, acc) -> int | None:
    """One row's draw without sorting the row. The bit patterns of probabilities
    (p >= 0) order like the values, so one pass puts every token in one of 4,096 value buckets
    (a radix step) and sums each bucket's mass; walking the buckets from the top finds the one
    where the cumulative mass crosses `u`, with the mass above it in `above`. Only that
    bucket's tokens are kept (the step repeats on them while more than PICK_SMALL are left and
    their values differ), and only they are sorted. Returns None when the draw is within
    PICK_MARGIN of a boundary or of the total mass: only the reference summation order can
    decide there."""
    vals = p.to(acc)
    if u >= float(vals.sum()) - PICK_MARGIN:  # the draw lands at the very end: the reference's clamp decides
        return None
    ids = torch.arange(p.shape[-1], device=p.device)
    bits = p.contiguous().view(torch.int64 if p.dtype == torch.float64 else torch.int32).long()
    above = 0.0  # mass of every token above the candidates' values
    while ids.numel() > PICK_SMALL:
        lo, hi = int(bits.min()), int(bits.max())
        if lo == hi:  # all candidates share one value
            break
        shift = max(0, (hi - lo).bit_length() - PICK_BUCKETS_BITS)
        bucket = (bits - lo) >> shift  # (n,) 0 .. < 4096, higher = likelier
        nb = int(bucket.max()) + 1
        mass = torch.bincount(bucket, weights=vals, minlength=nb).flip(0)  # from the likeliest bucket down
        before = above + torch.cat([mass.new_zeros(1), mass.cumsum(0)[:-1]])  # mass above each bucket
        k = int((before <= u).sum()) - 1  # the last bucket whose mass above is <= u: the crossing one
        b = nb - 1 - k
        above = float(before[k])
        keep = (bucket == b).nonzero().flatten()
        ids, vals, bits = ids[keep], vals[keep], bits[keep]
    order = torch.sort(vals, descending=True, stable=True).indices  # ids ascend: ties stay by id
    ranked, ranked_ids = vals[order], ids[order]
    cumulative = above + ranked.cumsum(dim=-1)
    j = int(torch.searchsorted(cumulative, torch.tensor([u], dtype=acc, device=p.device), right=True))
    if j >= ranked.numel() or float(ranked[j]) == 0.0:
        return None
    start = above if j == 0 else float(cumulative[j - 1])
    if float(cumulative[j]) - u <= PICK_MARGIN or u - start < PICK_MARGIN:
        return None
    return int(ranked_ids[j])


def pick_reference(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The defining rule by a full sort: probs (..., V), u (...) -> ids (...); probs (V,) with
    u of any shape -> ids of u's shape. `pick` must always agree with it."""
    acc = torch.float32 if probs.device.type == "mps" else torch.float64
    u = torch.as_tensor(u, dtype=acc, device=probs.device)
    ranked, order = _ranked(probs)
    cumulative = ranked.to(acc).cumsum(dim=-1)
    if probs.dim() == 1:
        last = int((ranked > 0).sum()) - 1  # never past the last token with non-zero probability
        rank = torch.searchsorted(cumulative, u.reshape(-1), right=True).clamp(max=last)
        return order[rank].reshape(u.shape)
    last = (ranked > 0).sum(dim=-1, keepdim=True) - 1
    rank = torch.searchsorted(cumulative.contiguous(), u.expand(probs.shape[:-1]).unsqueeze(-1).contiguous(),
                              right=True).clamp(max=last)
    return order.gather(-1, rank).squeeze(-1)


def _ranked(probs: torch.Tensor):
    """Probabilities in descending order, ties by lower id first, and the token ids."""
    return torch.sort(probs, dim=-1, descending=True, stable=True)


def check_seed(seed) -> int:
    """A valid seed (an integer >= 0); None draws a fresh one, to be recorded by the caller."""
    if seed is None:
        return make_seed()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0 or None, got {seed!r}")
    return int(seed)


def make_seed() -> int:
    """A fresh seed for a run that was given none (recorded so the run can be replayed)."""
    return random.SystemRandom().randrange(2**31)


def uniforms(seed: int, sample_index: int, n: int) -> torch.Tensor:
    """The first n uniforms of sample `sample_index` under `seed` (float64, CPU).

    Each sample has its own stream, so a sample's tokens do not depend on the batch it was
    generated in, and the same sample index under two prompts uses the same draws.
    A longer request extends a shorter one: uniforms(s, i, n)[:m] == uniforms(s, i, m).
    """
    seed = arguments.count("seed", seed, 0)
    sample_index = arguments.count("sample_index", sample_index, 0)
    n = arguments.count("n", n, 0)
    gen = torch.Generator().manual_seed(_mix(seed, sample_index))
    return torch.rand(n, generator=gen, dtype=torch.float64)


def _mix(seed: int, sample_index: int) -> int:
    """Combine (seed, sample index) into one 63-bit generator seed (splitmix64)."""
    x = (int(seed) * 0x9E3779B97F4A7C15 + int(sample_index) + 1) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (x ^ (x >> 31)) & 0x7FFFFFFFFFFFFFFF


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats of probabilities over the last axis."""
    p = probs.double()
    h = -(p * torch.where(p > 0, p.log(), torch.zeros_like(p))).sum(dim=-1)
    return h.clamp(min=0.0) + 0.0  # a one-token distribution is 0, never -0.0 (or -1e-16)


def nucleus_size(probs: torch.Tensor) -> torch.Tensor:
    """How many tokens have non-zero probability."""
    return (probs > 0).sum(dim=-1)
