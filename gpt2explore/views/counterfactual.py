"""A sample and its counterfactual, and two distributions' couplings, as plain data
(`gx.counterfactual_view` and `gx.coupling_figure` draw them)."""
from __future__ import annotations

import torch

from ..core import coupling
from ..core.pieces import step_label
from ..core.settings import Settings

TOP = 8  # the likeliest tokens of each side shown at the parting step


def pair_data(run, cf, sample: int = 0, top: int = TOP) -> dict:
    """Sample `sample` of `run` and of its counterfactual `cf`, token by token: the labels of
    both, where they agree, the first step where they part (None: never), and at that step each
    side's likeliest tokens with the token its noise drew (the same noise for both)."""
    if not 0 <= sample < min(len(run.samples), len(cf.samples)):
        raise ValueError(f"sample must be in 0..{min(len(run.samples), len(cf.samples)) - 1}, got {sample!r}")
    a, b = run.samples[sample], cf.samples[sample]
    if a.index != b.index:
        raise ValueError(f"these runs do not pair: sample {sample} is sample index {a.index} in the first and "
                         f"{b.index} in the second; pass run.counterfactual(...) of the first")
    n = min(len(a.steps), len(b.steps))
    same = [a.steps[t].token == b.steps[t].token for t in range(n)]
    part = next((t for t, s in enumerate(same) if not s), None)
    sides = []
    if part is not None:
        for step in (a.steps[part], b.steps[part]):
            probs = step.distribution().double()
            ids = torch.topk(probs, min(top, int((probs > 0).sum()))).indices.tolist()
            for extra in (a.steps[part].token, b.steps[part].token):
                if extra not in ids and float(probs[extra]) > 0:
                    ids.append(extra)
            sides.append({"ids": ids, "labels": [step_label(step, i) for i in ids],
                          "probs": [float(probs[i]) for i in ids], "token": step.token,
                          "token_label": step_label(step, step.token), "token_prob": float(probs[step.token])})
    return {
        "prompts": [a.prompt, b.prompt],
        "labels": [[step_label(s, s.token) for s in a.steps], [step_label(s, s.token) for s in b.steps]],
        "same": same, "part": part, "sides": sides, "sample": a.index, "position": sample,
        "coupling": run.meta.get("coupling", "cdf"), "agree": sum(same), "steps": n,
        "changed": cf.meta.get("counterfactual", {}).get("changed", {}),
    }


def coupling_data(step_a, step_b, settings_a: Settings | None = None, settings_b: Settings | None = None) -> dict:
    """For the distributions of two steps (under `settings_a` and `settings_b`; None = the step's
    own): the exact probability that the cdf coupling and the Gumbel coupling draw the same token
    from both, the ceiling 1 - TV of every coupling and the Gumbel coupling's floor."""
    settings_a = step_a.settings if settings_a is None else settings_a
    settings_b = step_b.settings if settings_b is None else settings_b
    p, q = step_a.distribution_under(settings_a), step_b.distribution_under(settings_b)
    if p.shape != q.shape:
        raise ValueError(f"the steps' vocabularies differ ({p.shape[-1]} and {q.shape[-1]} tokens)")
    bounds = coupling.agreement_bounds(p, q)
    return {**bounds, "cdf": coupling.cdf_agreement(p, q), "gumbel": coupling.gumbel_agreement(p, q),
            "settings": settings_a.as_dict()}
