"""Guards of the one promise at its edges: a step whose distribution is not a distribution is an
error naming where it went wrong, never a token drawn from it.

A row of logits becomes a distribution only when, after every stage, it holds no NaN, no +inf
(softmax would turn either into NaN) and at least one finite value (all -inf leaves nothing to
draw). One reduction says all three: the row's maximum is finite exactly then (torch's max
propagates NaN). A user's sampler is also checked where it is applied: one row of logits in,
a tensor of the same shape and a floating-point dtype out.
"""
from __future__ import annotations

import hashlib
import math

import torch

MODEL = "the model's logits"
GIVEN = "the logits"  # a caller's own logits (gx.probabilities, gx.filter_logits): not the model's


class StepError(Exception):
    """An error in one step's arithmetic that generation, sessions and scoring locate: `at(where)`
    gives the same error saying which step ("step 2 of sample 3 (prompt 'Hi')"); `row` is the
    row of a batch it came from (None: a single row)."""

    row = None

    def __init__(self, message: str, where: str = ""):
        self.message, self.where = message, where
        super().__init__(f"{where}: {message}" if where else message)

    def at(self, where: str) -> "StepError":
        """The same error, saying which step it was (generation and sessions know)."""
        err = type(self).__new__(type(self))
        err.__dict__.update(self.__dict__)
        err.where = where
        err.args = (f"{where}: {self.message}",)
        return err

    def given(self) -> "StepError":
        """The same error for logits a caller passed in: which row of a batch, if one."""
        return self.at(f"row {self.row}") if self.row is not None and not self.where else self


class DistributionError(StepError, ValueError):
    """A step's logits (from the model, or after a sampler) are not a distribution to draw from.
    `source` is "the model's logits" (or, for a caller's own, "the logits") or "the sampler
    'name'"; `problem` says what was wrong."""

    def __init__(self, source: str, problem: str, where: str = "", tail: str = "nothing was drawn from this step"):
        self.source, self.problem = source, problem
        super().__init__(f"{source} {problem}; {tail}", where)

    def given(self) -> "DistributionError":
        """The same error for logits a caller passed in (not the model's): "the logits", and
        which row of a batch."""
        if self.source != MODEL:
            return super().given()
        err = DistributionError(GIVEN, self.problem, self.where or ("" if self.row is None else f"row {self.row}"),
                                "they make no distribution (pass finite logits, -inf only for impossible tokens)")
        err.row = self.row
        return err


class SamplerOutputError(StepError, ValueError):
    """A user's sampler returned logits of another shape than its input (one row)."""


class SamplerOutputTypeError(StepError, TypeError):
    """A user's sampler returned something that is not a tensor of floating-point logits."""


def sampler_source(name: str) -> str:
    return f"the sampler {name!r}"


def what_is_wrong(row: torch.Tensor) -> str:
    """Why a row whose maximum is not finite is no distribution (NaN, +inf or all -inf)."""
    if bool(torch.isnan(row).any()):
        n = int(torch.isnan(row).sum())
        return f"hold NaN ({n} of {row.shape[-1]} values)"
    if bool(torch.isposinf(row).any()):
        return "hold +inf (softmax of +inf is NaN)"
    return "are all -inf (every token removed: nothing left to draw)"


def check_trace(trace) -> None:
    """Raise DistributionError for the first entry of a stage trace [(stage or None, row), ...]
    that is not a distribution (None = the raw logits). One reduction an entry (amax propagates NaN);
    on an accelerator, one host sync for the whole trace."""
    if trace[0][1].device.type == "cpu":
        maxima = [float(row.amax()) for _, row in trace]
    else:
        maxima = torch.stack([row.amax().to(torch.float64) for _, row in trace]).tolist()
    for (stage, row), top in zip(trace, maxima):
        if not math.isfinite(top):
            source = MODEL if stage is None else sampler_source(stage.name)
            problem = what_is_wrong(row)
            if stage is not None:
                problem = f"returned logits that {problem}"
            raise DistributionError(source, problem)


def check_output(name: str, out, row: torch.Tensor) -> torch.Tensor:
    """A user's stage output, checked where it is applied: a tensor of the input's shape and a
    floating-point dtype (returned in the input's dtype and device); else one line naming it
    (a StepError, which generation, sessions and scoring locate at their step)."""
    remedy = f"return a tensor of logits of the same shape as its input {tuple(row.shape)}, e.g. logits.masked_fill(...)"
    if not isinstance(out, torch.Tensor):
        raise SamplerOutputTypeError(f"{sampler_source(name)} returned {type(out).__name__}, not a tensor: {remedy}")
    if tuple(out.shape) != tuple(row.shape):
        raise SamplerOutputError(f"{sampler_source(name)} returned shape {tuple(out.shape)} for one row of logits of "
                                 f"shape {tuple(row.shape)}: {remedy}")
    if not out.is_floating_point():
        raise SamplerOutputTypeError(f"{sampler_source(name)} returned {str(out.dtype).replace('torch.', '')} "
                                     f"values: return floating-point logits (e.g. logits.masked_fill(mask, "
                                     f"float('-inf')))")
    if out.dtype != row.dtype or out.device != row.device:
        out = out.to(device=row.device, dtype=row.dtype)
    return out


def unsteady_samplers(row: torch.Tensor, stages, context=None) -> list[str]:
    """The user samplers among `stages` (the active stages, in order) that do not give the same
    output twice on the same input (their draws cannot be replayed)."""
    out, filtered = [], row.to(torch.float64, copy=True)
    for stage in stages:
        first = stage.apply(filtered, context)
        if not stage.sampler.builtin and not torch.equal(first, stage.apply(filtered, context)):
            out.append(stage.name)
        filtered = first
    return out


def not_deterministic_message(names: list[str]) -> str:
    listed = ", ".join(repr(n) for n in names)
    return (f"the sampler{'s' if len(names) > 1 else ''} {listed} {'are' if len(names) > 1 else 'is'} not "
            f"deterministic (the same logits in give other logits out), so its draws cannot be replayed; "
            f"make it a function of its inputs only")


def fingerprint(stage) -> str:
    """A short digest of a stage function's code and constants (what a bundle records of a user's
    sampler, to say when the one registered now differs)."""
    code = getattr(stage, "__code__", None)
    if code is None:
        text = f"{type(stage).__module__}.{type(stage).__qualname__}"
        code = getattr(getattr(stage, "__call__", None), "__code__", None)
        if code is None:
            return hashlib.sha256(text.encode()).hexdigest()[:16]
    parts = [code.co_code, repr(code.co_consts).encode(), repr(code.co_names).encode(),
             repr(getattr(stage, "__defaults__", None)).encode()]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]
