"""What the temperature sweep shows, as plain data: the top tokens' probabilities, the entropy
and how many tokens hold 90% of the probability, across temperatures (no model call)."""
from __future__ import annotations

import torch

from ..core import registry, sampling
from ..core.pieces import step_label
from ..core.settings import Settings

NUCLEUS_P = 0.9  # the sweep's third panel: how many tokens hold this much probability


def sweep_data(step, settings: Settings | None = None, temperatures=None, n: int = 8) -> dict:
    """How the top tokens' probabilities, entropy and nucleus size move with temperature, the
    other settings those of `settings` (None = the step's own).
    `nucleus`: tokens kept under the settings; `mass90`: how many of the likeliest tokens it
    takes to hold 90% of the probability (moves with T even when the settings keep a fixed set)."""
    if temperatures is None:
        temperatures = [round(0.05 * 1.1 ** i, 4) for i in range(45)]  # 0.05 .. ~3.6
    temperatures = list(temperatures)
    if not temperatures or any(not registry.is_real(t) or t <= 0 for t in temperatures):
        raise ValueError(f"temperatures must be a non-empty list of numbers > 0 (e.g. [0.5, 1, 2]), got "
                         f"{temperatures!r:.80}")
    temperatures = [float(t) for t in temperatures]  # plain numbers out, whatever came in (NumPy's float32)
    settings = step.settings if settings is None else settings
    logits = step.require_logits().float()
    ids = torch.topk(logits, n).indices
    rows = []
    for t in temperatures:
        probs = step.distribution_under(settings.replace(temperature=t))
        ranked = probs.sort(descending=True).values.double().cumsum(-1)
        mass = int((ranked < NUCLEUS_P).sum()) + 1
        rows.append((probs[ids].tolist(), float(sampling.entropy(probs)), int(sampling.nucleus_size(probs)),
                     min(mass, int(sampling.nucleus_size(probs)))))
    return {"temperatures": temperatures, "ids": ids.tolist(),
            "labels": [step_label(step, i) for i in ids.tolist()],
            "probs": [r[0] for r in rows], "entropy": [r[1] for r in rows], "nucleus": [r[2] for r in rows],
            "mass90": [r[3] for r in rows]}
