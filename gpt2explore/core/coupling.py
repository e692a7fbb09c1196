"""Couplings: how a step's noise turns its distribution into a token (pure functions).

Two rules, both exact samples of the distribution a figure shows:

- ``"cdf"`` (the default): one uniform `u` per step; the first token, in descending-probability
  order, whose cumulative probability exceeds `u` (`sampling.pick`).
- ``"gumbel"``: one standard Gumbel `g[v]` per vocabulary token per step; the token is
  argmax over v of (log p[v] + g[v]) (the Gumbel-max trick). The noise is never stored: it is
  regenerated from (seed, sample index, step) by a counter-based generator (Philox) on the
  CPU, in double precision, so any machine and any batch get the same `g`.

The Gumbel coupling is counterfactually stable: under another prompt, other settings or
another model, the same `g` changes the token only where the distributions demand it. For two
distributions at total-variation distance TV it agrees with probability between
(1 - TV) / (1 + TV) and 1 - TV (the most any coupling can reach); the cdf coupling's
agreement depends on how the cumulative order shifts and can be far lower.

`posterior` noise is the Gumbel noise conditioned on an observed token (the hindsight sampling
of Ravfogel et al., 2025): the observed token's perturbed score is the maximum, a Gumbel of
location log Z; every other token's is a Gumbel truncated below it.
"""
from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass

import numpy as np
import torch

from . import sampling

COUPLINGS = ("cdf", "gumbel")
_KEY_WORD = 0x6778_6775_6D62_656C  # the second key word of every Gumbel stream ("gxgumbel")
_GOLDEN = 0x9E3779B97F4A7C15


def check_coupling(value) -> str:
    if value not in COUPLINGS:
        raise ValueError(f"coupling must be one of {', '.join(repr(c) for c in COUPLINGS)}, got {value!r}")
    return value


def shared_noise(kind) -> str:
    """What samples with one seed and sample index share, in words: "the same draws" (one
    uniform u a step, the cdf coupling) or "the same Gumbel noise" (gumbel, hindsight)."""
    return "the same Gumbel noise" if kind in ("gumbel", "posterior") else "the same draws"


def _key(seed: int, sample_index: int) -> int:
    """(seed, sample index) -> one 64-bit Philox key word (splitmix64)."""
    x = (int(seed) * _GOLDEN + int(sample_index) + 1) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def gumbels(seed: int, sample_index: int, step: int, vocab: int) -> torch.Tensor:
    """The standard Gumbel noise of step `step` of sample `sample_index` under `seed`:
    (vocab,) float64 on the CPU. Philox keyed by (seed, sample index), its counter starting at
    (0, 0, step, 0): every step's stream is its own, computed alone, the same on every machine.
    (A study draws this for every sample and step: the generator is reused and the arithmetic
    done in place, with the values of a new `Philox(key=..., counter=...)` a call.)"""
    bits = getattr(_PHILOX, "bits", None)
    if bits is None:
        bits = _PHILOX.bits = np.random.Philox(key=[0, _KEY_WORD])
    bits.state = {"bit_generator": "Philox",
                  "state": {"counter": np.array([0, 0, int(step), 0], dtype=np.uint64),
                            "key": np.array(_philox_key(int(seed), int(sample_index)), dtype=np.uint64)},
                  "buffer": np.zeros(4, dtype=np.uint64), "buffer_pos": 4, "has_uint32": 0, "uinteger": 0}
    raw = bits.random_raw(vocab)  # (vocab,) uint64
    np.right_shift(raw, np.uint64(11), out=raw)
    g = raw.astype(np.float64)
    g += 0.5
    g *= 2.0 ** -53  # u in (0, 1), never 0 or 1
    np.log(g, out=g)
    np.negative(g, out=g)
    np.log(g, out=g)
    np.negative(g, out=g)  # -log(-log(u))
    return torch.from_numpy(g)


_PHILOX = threading.local()  # one reusable generator per thread


@functools.lru_cache(maxsize=8192)
def _philox_key(seed: int, sample_index: int) -> tuple[int, int]:
    """The two key words of the stream of (seed, sample index), exactly as Philox's constructor
    stores them from [_key(seed, sample_index), _KEY_WORD] (its conversion of that list included)."""
    key = np.random.Philox(key=[_key(seed, sample_index), _KEY_WORD]).state["state"]["key"]
    return int(key[0]), int(key[1])



def scores(probs: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """The perturbed scores log p + g (float64; -inf where p = 0). probs (..., V), g (..., V)."""
    return probs.double().log() + g.to(probs.device, torch.float64)


def gumbel_pick(probs: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """argmax over the last axis of log p + g (ties: lower id first): (..., V) -> (...)."""
    return scores(probs, g).argmax(dim=-1)


@dataclass(frozen=True)
class Gumbel:
    """The Gumbel noise of one step, named by its key: nothing vocabulary-sized is stored."""

    seed: int
    sample: int
    step: int

    kind = "gumbel"

    def values(self, vocab: int) -> torch.Tensor:
        return gumbels(self.seed, self.sample, self.step, vocab)

    def record(self) -> dict:
        return {"kind": "gumbel", "seed": self.seed, "sample": self.sample, "step": self.step}


@dataclass(frozen=True, eq=False)
class Posterior:
    """Gumbel noise conditioned on `token` being the argmax under `probs` (the distribution the
    observed text is held to), made from the prior stream of (seed, sample, step)."""

    seed: int
    sample: int
    step: int
    token: int
    probs: torch.Tensor  # (V,) float64: the distribution the noise is conditioned under

    kind = "posterior"

    def values(self, vocab: int) -> torch.Tensor:
        if vocab != self.probs.shape[-1]:
            raise ValueError(f"this noise is over {self.probs.shape[-1]} tokens, not {vocab}")
        return posterior_gumbels(self.probs.cpu(), self.token, gumbels(self.seed, self.sample, self.step, vocab))

    def record(self) -> dict:
        return {"kind": "posterior", "seed": self.seed, "sample": self.sample, "step": self.step,
                "token": self.token}


class ImpossibleToken(ValueError):
    """An observed token that the settings give probability 0: no noise draws it."""

    def __init__(self, token: int, step: int):
        super().__init__(f"token {token} at step {step} has probability 0 under these settings: no noise draws it")
        self.token, self.step = token, step


@dataclass(frozen=True)
class Observed:
    """A token that was observed, not drawn: its step's noise is the posterior given it
    (`given(probs)` once the step's distribution is known)."""

    seed: int
    sample: int
    step: int
    token: int

    kind = "observed"

    def given(self, probs: torch.Tensor) -> Posterior:
        probs = probs.double().cpu()
        if not float(probs[self.token]) > 0:
            raise ImpossibleToken(self.token, self.step)
        return Posterior(self.seed, self.sample, self.step, self.token, probs)


def posterior_gumbels(probs: torch.Tensor, token: int, prior: torch.Tensor) -> torch.Tensor:
    """Gumbel noise g given that argmax(log p + g) = `token` (float64, (V,)), from one prior draw.

    The maximum of the perturbed scores is Gumbel(log Z) and independent of which token wins, so
    the observed token's score is M = log Z + prior[token]; each other token's score is its own
    Gumbel(log p) truncated below M: -log(exp(-M) + exp(-(log p + prior))). Tokens of
    probability 0 keep their prior noise (they can never win). Exactly an argmax of `token`:
    a score that rounding lifts to M is moved below it."""
    logp = probs.double().log()
    if not torch.isfinite(logp[token]):
        raise ValueError(f"token {token} has probability 0 under these settings: no noise can draw it")
    finite = torch.isfinite(logp)
    log_z = float(torch.logsumexp(logp[finite], dim=-1))
    top = log_z + float(prior[token])
    below = -torch.logaddexp(torch.full_like(logp, -top), -(logp + prior))
    g = torch.where(finite, below - logp, prior).clone()
    g[token] = top - float(logp[token])
    step = math.ulp(abs(top)) if top != 0 else 2.0 ** -1074
    for _ in range(64):  # rounding: a score at or above the winner's is moved strictly below it
        s = logp + g
        bad = finite & (s >= s[token])
        bad[token] = False
        if not bool(bad.any()):
            return g
        g = torch.where(bad, g - (s - s[token]) - step, g)
        step *= 2
    raise ArithmeticError("could not place the posterior noise below the observed token's score")


def agreement_bounds(p: torch.Tensor, q: torch.Tensor) -> dict:
    """For two distributions over one vocabulary: their total-variation distance `tv`, the
    ceiling 1 - TV that no coupling exceeds, and the Gumbel coupling's floor (1 - TV) / (1 + TV)."""
    tv = 0.5 * float((p.double().cpu() - q.double().cpu()).abs().sum())
    return {"tv": tv, "ceiling": 1 - tv, "gumbel_floor": (1 - tv) / (1 + tv)}


def cdf_agreement(p: torch.Tensor, q: torch.Tensor) -> float:
    """The exact probability that one uniform u draws the same token from p and from q under the
    inverse-CDF rule (each in its own descending-probability order, ties by lower id)."""
    ends = []
    for dist in (p.double().cpu(), q.double().cpu()):
        ranked, order = torch.sort(dist, descending=True, stable=True)
        end = torch.empty_like(dist).scatter(0, order, ranked.cumsum(0))  # each token's interval end
        ends.append((end - dist, end))
    (lo_p, hi_p), (lo_q, hi_q) = ends
    both = (p.double().cpu() > 0) & (q.double().cpu() > 0)
    overlap = (torch.minimum(hi_p, hi_q) - torch.maximum(lo_p, lo_q)).clamp(min=0)
    return float(overlap[both].sum())


def gumbel_agreement(p: torch.Tensor, q: torch.Tensor) -> float:
    """The exact probability that one Gumbel noise draws the same token from p and from q:
    sum over v of p_v q_v / sum_w max(p_w q_v, q_w p_v). With the tokens ordered by p_w / q_w,
    each inner sum is two prefix sums, so the whole is O(V log V)."""
    p, q = p.double().cpu(), q.double().cpu()
    ratio = torch.where(q > 0, p / q.clamp(min=1e-300), torch.full_like(p, math.inf))
    ratio = torch.where(p > 0, ratio, torch.zeros_like(p))
    order = torch.sort(ratio, descending=True, stable=True).indices
    ps, qs = p[order], q[order]
    p_above = ps.cumsum(0)  # sum of p_w over the first i+1 (ratio >= r_i)
    q_total = float(qs.sum())
    q_above = qs.cumsum(0)
    both = (ps > 0) & (qs > 0)
    # ties of the ratio: either branch of the max gives the same value, so the prefix may stop anywhere
    inner = qs * p_above + ps * (q_total - q_above)
    terms = torch.where(both, ps * qs / inner.clamp(min=1e-300), torch.zeros_like(ps))
    return float(terms.sum())


def draw_rows(probs: torch.Tensor, noises: list) -> torch.Tensor:
    """One token per row of probs (B, V), each by its own noise: a uniform (the cdf rule,
    `sampling.pick`) or a Gumbel noise object (argmax of log p + g). Each row is drawn alone,
    with arithmetic that does not depend on the rows beside it."""
    vocab = probs.shape[-1]
    out = []
    for row, noise in zip(probs, noises):
        if isinstance(noise, Observed):
            raise ValueError("an observed token's noise is its posterior: call noise.given(probs) first")
        if isinstance(noise, (Gumbel, Posterior)):
            out.append(gumbel_pick(row, noise.values(vocab)))
        else:
            out.append(sampling.pick(row, noise))
    return torch.stack(out)
