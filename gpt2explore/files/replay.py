"""Replaying a loaded bundle's draws: each one by the rule its bundle was written under.

A bundle written now (format 2, exact draws) must give back every drawn token from its step's
own distribution and uniform, bit for bit, with its recorded probability; a bundle whose
numbers were edited fails with one BundleError line.

Bundles of earlier formats were drawn by arithmetic that the stored numbers reproduce only
within a known precision: single-precision stages computed for a whole batch at once, logits
rounded to float16 after the draw (the first release), or a top-N record without its own
probabilities. Their draws are checked within that precision: the uniform must fall in the
recorded token's interval of the cumulative distribution, widened by the largest shift the
lost precision allows. A step that passes only so is marked `step.draw_replays = False`.
"""
from __future__ import annotations

import math

import torch

from ..core import guards, registry
from ..core.trace import FLOAT32_SLACK, within  # noqa: F401  (re-exported)
from .manifest import MANIFEST, BundleError


def check_replay(run, folder, checked: dict) -> None:
    """Every drawn step of `run` replays exactly, or (bundles of earlier formats, or re-saved
    ones marked so) within the precision its bundle kept; else a BundleError naming it."""
    strict = checked["draw"]["exact"] and checked["draw"]["dtype"] == "float64"
    rounded = bool(run.meta.get("rounded_after_draw"))
    for k, sample in enumerate(run.samples):
        for step in sample.steps:
            if step.forced:
                continue
            where = f"run bundle {folder}: samples[{k}] step {step.index}"
            probs = step.distribution()
            picked = step.draw_from(probs)
            got = float(probs[step.token])
            if picked == step.token and _prob_agrees(got, step.prob, 1e-9):
                step.draw_replays = True
                continue
            if strict or (step.draw_replays and picked != step.token and checked["format"] != "gpt2explore-run/1"):
                why = sampler_reason(step, checked.get("samplers", {}))
                if why:
                    raise BundleError(f"{where}: {why}")
                if picked != step.token:
                    raise BundleError(f"{where}: its {_noise(step)} draws token {picked} from its logits, but "
                                      f"{MANIFEST} records {step.token}; the bundle was modified")
                raise BundleError(f"{where}: probs records {step.prob}, the logits give {got}; the bundle "
                                  f"was modified")
            slack = precision_slack(step, probs, rounded)
            if not within(step, probs, slack) or not _prob_agrees(got, step.prob, slack):
                raise BundleError(f"{where}: its uniform {step.u} does not draw the recorded token "
                                  f"{step.token} from its logits, even within the precision the bundle kept "
                                  f"(±{slack:.2g}); the bundle was modified")
            step.draw_replays = picked == step.token


def _user_stages(settings):
    return [s for s in registry.active_stages(settings) if not s.sampler.builtin]


def samplers_record(steps) -> dict:
    """What a bundle records of each user sampler its steps use: its "off" value and a digest of
    its function, so a bundle loaded under another sampler of the same name can say so."""
    out = {}
    for step in steps:
        for stage in _user_stages(step.settings):
            out.setdefault(stage.name, {"off": stage.sampler.off, "code": guards.fingerprint(stage.sampler.stage)})
    return out


def sampler_reason(step, recorded: dict) -> str | None:
    """Why a step's draw may not come back that is no change to the bundle: a user sampler
    registered now that differs from the one the bundle was made with, or one that is not
    deterministic. None when neither is the case."""
    names = [s.name for s in registry.samplers() if not s.builtin and s.name in step.settings.values]
    for name in names:
        entry, was = registry.get(name), recorded.get(name)
        if not isinstance(was, dict):
            continue
        if was.get("off") != entry.off:
            return (f"the sampler {name!r} registered now has off={entry.off!r}, the one the bundle was made "
                    f"with off={was.get('off')!r}: register the same sampler to replay it")
        if was.get("code") != guards.fingerprint(entry.stage):
            return (f"the sampler {name!r} registered now is another function than the one the bundle was made "
                    f"with: register the same sampler to replay it")
    stages = _user_stages(step.settings)
    if stages and step.logits is not None:
        unsteady = guards.unsteady_samplers(step.logits, registry.active_stages(step.settings),
                                            step.context_tokens if step.settings.uses_context else None)
        if unsteady:
            return guards.not_deterministic_message(unsteady)
    return None


def _noise(step) -> str:
    return f"uniform {step.u}" if step.noise is None else "Gumbel noise"


def _prob_agrees(got: float, recorded, slack: float) -> bool:
    if recorded is None:
        return True
    return abs(got - recorded) <= slack + slack * recorded


def precision_slack(step, probs: torch.Tensor, rounded_after_draw: bool) -> float:
    """How far the cumulative distribution of a step of an earlier format can lie from the one
    its token was drawn from."""
    slack = FLOAT32_SLACK
    settings = step.settings
    if rounded_after_draw and settings.temperature > 0:
        logits = step.require_logits().double()
        finite = logits[torch.isfinite(logits)]
        half_ulp = float(finite.abs().max()) * 2.0 ** -11 if finite.numel() else 0.0  # float16: 10-bit mantissa
        slack += 2 * math.expm1(min(2 * half_ulp / settings.temperature, 50.0))
    cut = step.truncation
    if cut is not None and cut.own_probs is None:
        stored = torch.zeros_like(probs, dtype=torch.bool)
        stored[cut.ids.to(probs.device)] = True
        slack += 2 * float(probs[~stored].sum())  # the tail's own distribution is not known
    return min(slack, 1.0)
