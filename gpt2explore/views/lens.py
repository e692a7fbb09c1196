"""What the logit-lens figures show, as plain data: a step's top tokens layer by layer."""
from __future__ import annotations

import torch

from ..core.pieces import step_label
from ..core.settings import Settings
from ..core.trace import step_rank
from ..model.lens import at_layer, require_residual


def lens_heatmap_data(step, settings: Settings | None = None, n: int = 10) -> dict:
    """Layers x the final top-n tokens: probability at each layer under `settings` (None = the
    step's own), and the drawn token's rank per layer."""
    layers = require_residual(step).shape[0]
    settings = step.settings if settings is None else settings
    final = step.distribution_under(settings)
    ids = torch.topk(step.require_logits().float(), n).indices.tolist()
    if step.token >= 0 and step.token not in ids:
        ids.append(step.token)
    z, ranks = [], []
    for layer in range(layers):
        view = at_layer(step, layer)
        probs = view.distribution_under(settings)
        z.append([float(probs[i]) for i in ids])
        ranks.append(step_rank(view) if step.token >= 0 else None)
    return {"ids": ids, "labels": [step_label(step, i) for i in ids], "z": z, "drawn_rank0": ranks,
            "final": [float(final[i]) for i in ids], "layers": list(range(layers))}
