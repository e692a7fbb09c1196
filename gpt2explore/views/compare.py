"""How two next-token distributions differ, as numbers and a plain reading (for compare figures
and widgets)."""
from __future__ import annotations

import html
import math

import torch

from ..core import formatting as fmt
from ..core.coupling import shared_noise


def divergences(p: torch.Tensor, q: torch.Tensor) -> dict:
    """KL(p||q), KL(q||p) and Jensen–Shannon (nats) between two distributions, as floats: a KL
    is inf where a token possible under the first is impossible under the second (JS never is)."""
    p, q = p.double(), q.double()
    m = 0.5 * (p + q)

    def kl(a, b):
        mask = a > 0
        if bool((b[mask] == 0).any()):
            return math.inf
        return float((a[mask] * (a[mask].log() - b[mask].log())).sum())

    return {"kl_pq": kl(p, q), "kl_qp": kl(q, p), "js": 0.5 * kl(p, m) + 0.5 * kl(q, m)}


def divergence_reading(d: dict) -> str:
    """One plain line for a pair of divergences (nats): what JS and KL say here."""
    if d["js"] >= math.log(2) - 1e-6:
        return "no token in common at this step"
    if d["js"] < 1e-3:
        return "practically the same distribution"
    if math.isinf(d["kl_pq"]):
        return "a token possible for the first is impossible for the second"
    if d["js"] < 0.05:
        return "close"
    return "clearly different" if d["js"] < 0.3 else "very different"


def summary_html(steps, prompts, settings: dict, coupling: str, seed, step: int) -> str:
    """How each column's distribution differs from the first's at these settings (Jensen–Shannon,
    nats, and a plain reading). A ValueError where the settings cannot go together."""
    dists = [s.distribution(**settings) for s in steps]
    facts = []
    for j in range(1, len(dists)):
        d = divergences(dists[0], dists[j])
        facts.append(f"{html.escape(prompts[0])} vs {html.escape(prompts[j])}: "
                     f"<span style='white-space:nowrap'>Jensen–Shannon</span> <b>{fmt.number(d['js'])}</b> nats ({divergence_reading(d)})")
    return (f"<div style='font-family:monospace;white-space:normal'>{shared_noise(coupling)} for every prompt "
            f"(seed {seed}); step {step}: " + "; ".join(facts) + "</div>")
