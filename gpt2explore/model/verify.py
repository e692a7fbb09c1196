"""Checking a run against a model (`run.verify(lm)`)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core import extensions, guards, registry, sampling
from ..core.trace import FLOAT32_SLACK, Run, within
from .generation import require_lm
from .scoring import score


@dataclass
class Verification:
    """What `run.verify(lm)` found. `problem` names a mismatch that stopped the comparison
    (another vocabulary, a sample longer than the model's context)."""

    weights_match: bool
    logits_match: bool
    tokens_match: bool
    max_abs_diff: float
    steps: int
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.logits_match and self.tokens_match

    def __repr__(self) -> str:
        if self.problem:
            return f"Verification: the model DOES NOT match the run: {self.problem}"
        verdict = "matches" if self.ok else "DOES NOT match"
        return (f"Verification: the model {verdict} the run over {self.steps} steps (logits "
                f"{'match' if self.logits_match else 'differ'}, max |diff| {self.max_abs_diff:.2e}; "
                f"tokens {'replay' if self.tokens_match else 'differ'}; weights sha256 "
                f"{'same' if self.weights_match else 'different'})")


def verify_run(run: Run, lm, atol: float = 1e-4) -> Verification:
    """Re-run `lm` over each sample's recorded tokens and replay every draw from the logits.
    Logits kept in float16 are compared within float16's rounding (2**-10 relative) plus atol;
    a top-N bundle's logits are compared on its stored tokens."""
    lm = require_lm(lm)
    weights = run.weights_sha256 == lm.weights_sha256
    rows = [s.logits for x in run.samples for s in x.steps if s.logits is not None]
    vocab = int(rows[0].shape[-1]) if rows else lm.vocab_size
    if vocab != lm.vocab_size:
        return Verification(weights, False, False, float("nan"), 0,
                            problem=f"the run has a vocabulary of {vocab} tokens, the model {lm.vocab_size}")
    scored = bool(run.meta.get("scored"))
    longest = max((len(x.context_tokens) - 1 for x in run.samples), default=0)
    if longest > lm.n_ctx and not scored:
        return Verification(weights, False, False, float("nan"), 0,
                            problem=f"a sample spans {longest} positions, more than the model's context "
                                    f"of {lm.n_ctx}")
    rel = 2.0 ** -10 if run.keep_logits == "float16" else 0.0
    worst, close, tokens_ok, steps, problem = 0.0, True, True, 0, None
    for sample, fresh_rows in zip(run.samples, _fresh_logits(run, lm, scored)):
        for step in sample.steps:
            fresh_full = fresh_rows[step.position]
            stored = step.require_logits().to(fresh_full.device).float()
            fresh = fresh_full
            if step.truncation is not None:
                ids = step.truncation.ids.to(fresh.device)
                fresh, stored = fresh[ids], stored[ids]
            diff = (fresh - stored).abs()
            worst = max(worst, float(diff.max()))
            close &= bool((diff <= atol + rel * stored.abs()).all())
            if not step.forced:
                replayed = _replays(step, fresh_full)
                tokens_ok &= replayed
                if not replayed and problem is None:
                    problem = _unsteady(step)
            steps += 1
    return Verification(weights_match=weights, logits_match=close, tokens_match=bool(tokens_ok),
                        max_abs_diff=worst, steps=steps, problem=problem)


def _fresh_logits(run: Run, lm, scored: bool):
    """Per sample, {position: the model's logits for it}: one full forward over the sample, or,
    for a scored text, the sliding-window plan it was scored with."""
    if scored:
        fresh = score(lm, run, progress=False)
        for sample in fresh.samples:
            yield {s.position: s.logits.float() for s in sample.steps}
        return
    for sample in run.samples:
        seq = sample.context_tokens[:-1]  # the last token is never fed
        with torch.inference_mode():
            full = lm.model(torch.tensor([seq], device=lm.device)).logits[0].float()  # (T, V)
        yield {s.position: full[s.position - 1] for s in sample.steps}


def _unsteady(step) -> str | None:
    """A step that does not replay because a user's sampler is not deterministic: say so."""
    if step.logits is None:
        return None
    names = guards.unsteady_samplers(step.logits, registry.active_stages(step.settings),
                                     step.context_tokens if step.settings.uses_context else None)
    return f"step {step.index} of a sample: {guards.not_deterministic_message(names)}" if names else None


def _replays(step, fresh: torch.Tensor) -> bool:
    """The step's token comes back: from its stored data, or, for a step of an earlier format
    whose stored data kept too little precision, from the model's fresh logits (within the
    precision of single-precision arithmetic)."""
    if step.replays:
        return step.resample() == step.token
    probs = sampling.distribution_under(fresh, step.settings, step.context_tokens if step.settings.uses_context
                                        else None, legacy=True)
    return within(step, probs, FLOAT32_SLACK)


extensions.register("Run", "verify", verify_run)  # run.verify(lm)
