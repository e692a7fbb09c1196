"""How a step's uniform draws its token, as plain data: the walk down the kept tokens, their
running total, u, and where the total passes it (`draw_figure` draws it)."""
from __future__ import annotations

import torch

from ..core.pieces import step_label

HEAD = 20  # the likeliest tokens always shown
AROUND = 4  # tokens shown on each side of the drawn one when it lies beyond the head


def draw_data(step, temperature=None, top_k=None, top_p=None, semantics=None, **more) -> dict:
    """What `draw_figure` shows, as plain lists: the walk's ranks, ids, labels, probabilities
    and running totals (before and after each token), u, and the drawn token and its rank."""
    if step.u is None:
        raise ValueError("this step was forced (or is a scored text's token): it has no uniform u to draw with")
    settings = step.settings_for(temperature, top_k, top_p, semantics, **more)
    probs = step.distribution_under(settings).double()
    ranked, order = torch.sort(probs, descending=True, stable=True)  # the walk: likeliest first, ties by id
    total = ranked.cumsum(-1)
    kept = int((ranked > 0).sum())
    rank = min(int((total <= step.u).sum()), kept - 1)  # the first token whose running total passes u
    ranks = list(range(min(HEAD, kept)))
    if rank >= HEAD:
        ranks += list(range(max(HEAD, rank - AROUND), min(kept, rank + AROUND + 1)))
    elif kept > HEAD:
        ranks += list(range(HEAD, min(kept, HEAD + 2)))
    ids = [int(order[r]) for r in ranks]
    return {
        "ranks": ranks, "ids": ids, "labels": [step_label(step, i) for i in ids],
        "probs": [float(ranked[r]) for r in ranks],
        "before": [float(total[r - 1]) if r else 0.0 for r in ranks],
        "after": [float(total[r]) for r in ranks],
        "u": float(step.u), "token": int(order[rank]), "rank": rank, "kept": kept, "settings": settings.as_dict(),
        "gap_after": HEAD - 1 if rank >= HEAD + AROUND + 1 else None,  # where the shown ranks jump
    }
