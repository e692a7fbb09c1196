"""Pure sampling maths: temperature, top-k, top-p, and the inverse-CDF pick from a uniform.

Order (as transformers' `generate` and OpenAI's sample.py): logits / temperature, then
top-k, then top-p, then softmax. Two rule sets:

- ``semantics="hf"`` (default): exactly transformers' TemperatureLogitsWarper,
  TopKLogitsWarper and TopPLogitsWarper (removed tokens get -inf; top-p drops the
  low-probability tail whose total is <= 1 - p, so the token that crosses p is kept).
- ``semantics="openai"``: OpenAI's gpt-2 sample.py (removed tokens get -1e10; top-p keeps
  the tokens whose cumulative probability is <= p, so the token that crosses p is dropped,
  at least one kept).

``top_k=0`` and ``top_p=1.0`` mean no limit, as in GPT-2's scripts.

``temperature=0`` means greedy decoding: all probability on the argmax (the lowest id wins a
tie). The original code divides the logits by zero instead: every positive logit becomes
+inf, every negative one -inf (and 0/0 = NaN), so softmax turns into NaN, not a one-hot
distribution; what comes out is whatever the sampler does with NaN, not the most likely token.

Functions take `logits` (raw model output, or already filtered) and return new tensors;
their inputs are never modified.
"""
from __future__ import annotations

import math
import numbers
import random
from dataclasses import dataclass

import torch

SEMANTICS = ("hf", "openai")
OPENAI_FILTER_VALUE = -1e10


@dataclass(frozen=True)
class Settings:
    """How a step's logits become its distribution (defaults: every stage off but the model)."""

    temperature: float = 1.0  # 1.0 = no change, < 1.0 = less random, > 1.0 = more random, 0 = greedy
    top_k: int = 0  # 0 = no limit
    top_p: float = 1.0  # 1.0 = no limit
    semantics: str = "hf"  # "hf" (transformers) or "openai" (gpt-2 sample.py)
    repetition_penalty: float = 1.0  # 1.0 = off; > 1 makes tokens already in the context less likely
    no_repeat_ngram_size: int = 0  # 0 = off; n bans any token that would repeat an n-gram of the context
    min_p: float = 0.0  # 0 = off; drop tokens below min_p x the top token's probability
    typical_p: float = 1.0  # 1.0 = off; typical sampling's mass
    epsilon_cutoff: float = 0.0  # 0 = off; drop tokens below this probability
    eta_cutoff: float = 0.0  # 0 = off; drop tokens below min(eta, sqrt(eta) exp(-entropy))

    def __post_init__(self):
        check_settings(**self.as_dict())
        for name in SETTING_NAMES:  # numpy scalars, Fractions, big ints -> plain float / int
            value = getattr(self, name)
            if name in INTEGER_SETTINGS:
                object.__setattr__(self, name, int(value))
            elif name != "semantics":
                object.__setattr__(self, name, float(value))

    def replace(self, temperature=None, top_k=None, top_p=None, semantics=None, **more) -> "Settings":
        """A copy with the given values changed; None keeps the current one."""
        values = self.as_dict()
        for key, value in dict(temperature=temperature, top_k=top_k, top_p=top_p, semantics=semantics,
                               **more).items():
            if key not in values:
                raise ValueError(f"unknown setting {key!r}; the settings are {', '.join(values)}")
            if value is not None:
                values[key] = value
        return Settings(**values)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in SETTING_NAMES}

    @property
    def uses_context(self) -> bool:
        """Whether a stage reads the tokens so far (repetition penalty, no-repeat n-grams)."""
        return self.repetition_penalty != 1.0 or self.no_repeat_ngram_size > 0

    def changed(self) -> dict:
        """The settings that differ from the defaults (for captions and the CLI)."""
        return {k: v for k, v in self.as_dict().items() if v != DEFAULTS[k]}


def settings_with(temperature, top_k, top_p, semantics, samplers: dict) -> "Settings":
    """Settings from the classic arguments plus the newer samplers by name; an unknown name is
    a ValueError listing the settings there are."""
    unknown = sorted(set(samplers) - set(NEW_SAMPLERS))
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r}; the settings are {', '.join(SETTING_NAMES)}")
    return Settings(temperature, top_k, top_p, semantics, **samplers)


SETTING_NAMES = ("temperature", "top_k", "top_p", "semantics", "repetition_penalty", "no_repeat_ngram_size",
                 "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff")
NEW_SAMPLERS = SETTING_NAMES[4:]  # what OpenAI's sample.py does not know
INTEGER_SETTINGS = ("top_k", "no_repeat_ngram_size")
REPETITION_PENALTY_RANGE = (1e-6, 1e6)  # beyond, the penalised logits overflow or underflow to nonsense
DEFAULTS = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "semantics": "hf", "repetition_penalty": 1.0,
            "no_repeat_ngram_size": 0, "min_p": 0.0, "typical_p": 1.0, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0}


def _shown(value) -> str:
    """A value as a person typed it in an error message: -1.0 and 1e-40 as they are, but 0.96,
    not a float's last bits (0.9599999999999999)."""
    text = repr(value)
    if isinstance(value, float) and len(text) > 10:
        return f"{value:.6g}"
    return text


def _real(value) -> bool:
    """A finite real number of any type (int, float, NumPy, Fraction), not a bool."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int beyond float's range
        return False


def check_settings(temperature=1.0, top_k=0, top_p=1.0, semantics="hf", repetition_penalty=1.0,
                   no_repeat_ngram_size=0, min_p=0.0, typical_p=1.0, epsilon_cutoff=0.0, eta_cutoff=0.0) -> None:
    """Raise ValueError naming the bad value; accept the documented ranges."""
    if not _real(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a finite number >= 0 (0 = greedy), got {_shown(temperature)}")
    if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or top_k < 0:
        raise ValueError(f"top_k must be an integer >= 0 (0 = no limit), got {_shown(top_k)}")
    if not _real(top_p) or not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (1.0 = no limit), got {_shown(top_p)}")
    if semantics not in SEMANTICS:
        raise ValueError(f"semantics must be one of {', '.join(SEMANTICS)}, got {semantics!r}")
    lo, hi = REPETITION_PENALTY_RANGE
    if not _real(repetition_penalty) or not lo <= repetition_penalty <= hi:
        raise ValueError(f"repetition_penalty must be a number in [{lo:g}, {hi:g}] (1.0 = off, > 1 against "
                         f"repeats, < 1 for them), got {_shown(repetition_penalty)}")
    if isinstance(no_repeat_ngram_size, bool) or not isinstance(no_repeat_ngram_size, numbers.Integral) \
            or no_repeat_ngram_size < 0:
        raise ValueError(f"no_repeat_ngram_size must be an integer >= 0 (0 = off), got {_shown(no_repeat_ngram_size)}")
    if not _real(min_p) or not 0 <= min_p <= 1:
        raise ValueError(f"min_p must be in [0, 1] (0 = off), got {_shown(min_p)}")
    if not _real(typical_p) or not 0 < typical_p <= 1:
        raise ValueError(f"typical_p must be in (0, 1] (1.0 = off), got {_shown(typical_p)}")
    if not _real(epsilon_cutoff) or not 0 <= epsilon_cutoff < 1:
        raise ValueError(f"epsilon_cutoff must be in [0, 1) (0 = off), got {_shown(epsilon_cutoff)}")
    if not _real(eta_cutoff) or not 0 <= eta_cutoff < 1:
        raise ValueError(f"eta_cutoff must be in [0, 1) (0 = off), got {_shown(eta_cutoff)}")
    if semantics == "openai":
        extra = {k: v for k, v in dict(repetition_penalty=repetition_penalty,
                                       no_repeat_ngram_size=no_repeat_ngram_size, min_p=min_p, typical_p=typical_p,
                                       epsilon_cutoff=epsilon_cutoff, eta_cutoff=eta_cutoff).items()
                 if v != DEFAULTS[k]}
        if extra:
            names = ", ".join(f"{k}={_shown(v)}" for k, v in extra.items())
            raise ValueError(f"semantics='openai' follows OpenAI's sample.py, which knows only temperature, "
                             f"top_k and top_p; got {names}: use semantics='hf' for the newer samplers")


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


DRAW_DTYPE = torch.float64  # the distribution a token is drawn from is computed in double precision
LEGACY_DRAW_DTYPE = torch.float32  # bundles of format 1 were drawn with single-precision stages


def draw_dtype(device: torch.device, legacy: bool = False) -> torch.dtype:
    """The precision of the draw's arithmetic (mps has no float64: float32 there)."""
    if legacy or torch.device(device).type == "mps":
        return LEGACY_DRAW_DTYPE
    return DRAW_DTYPE


def stage_trace(logits: torch.Tensor, settings: "Settings", context=None, stage_order=None, legacy: bool = False):
    """Raw logits (V,) -> [(stage or None, filtered logits)]: the input first (None), then the
    logits after each active stage in order. One row at a time, in double precision: a row's
    numbers never depend on the rows computed beside it, nor on how many there are."""
    from .stages import active_stages

    if logits.dim() != 1:
        raise ValueError(f"stage_trace takes one row of logits (V,), got shape {tuple(logits.shape)}")
    filtered = logits.to(draw_dtype(logits.device, legacy), copy=True)
    out = [(None, filtered)]
    for stage in active_stages(settings, stage_order):
        filtered = stage.apply(filtered, context)
        out.append((stage, filtered))
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
    settings = Settings(temperature, top_k, top_p, semantics, **more)
    if settings.uses_context and context is None:
        raise ValueError("repetition_penalty and no_repeat_ngram_size need the tokens so far: pass context=")
    rows = [stage_trace(row, settings, ctx, stage_order, legacy)[-1][1] for row, ctx in _rows(logits, context)]
    return rows[0] if logits.dim() == 1 else torch.stack(rows)


def probabilities(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                  semantics: str = "hf", context=None, stage_order=None, legacy: bool = False,
                  **more) -> torch.Tensor:
    """Raw logits -> the probabilities a token is drawn from (softmax of the filtered logits),
    float64, one row at a time (see `filter_logits`)."""
    filtered = filter_logits(logits, temperature, top_k, top_p, semantics, context=context,
                             stage_order=stage_order, legacy=legacy, **more)
    if filtered.dim() == 1:
        return filtered.softmax(dim=-1)
    return torch.stack([row.softmax(dim=-1) for row in filtered])


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
