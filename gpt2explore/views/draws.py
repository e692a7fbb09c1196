"""How a step's noise draws its token, as plain data: for a uniform u, the walk down the kept
tokens, their running total, u, and where the total passes it; for Gumbel noise, the kept
tokens' log p, their noise g and the perturbed scores log p + g, whose argmax is the token
(`draw_figure` draws both)."""
from __future__ import annotations

import torch

from ..core import coupling
from ..core.pieces import step_label
from ..core.settings import Settings

HEAD = 20  # the likeliest tokens always shown
AROUND = 4  # tokens shown on each side of the drawn one when it lies beyond the head


def draw_data(step, settings: Settings | None = None) -> dict:
    """What `draw_figure` shows, as plain lists: the walk's positions `rank0` (by probability
    under the settings, counted from 0: people read rank0 + 1), ids, labels, probabilities and
    running totals (before and after each token), u, and the drawn token and its `token_rank0`,
    under `settings` (None = the step's own)."""
    if step.noise is not None:
        return gumbel_draw_data(step, settings)
    if step.u is None:
        raise ValueError("this step was forced (or is a scored text's token): it has no uniform u to draw with")
    settings = step.settings if settings is None else settings
    probs = step.distribution_under(settings).double()
    ranked, order = torch.sort(probs, descending=True, stable=True)  # the walk: likeliest first, ties by id
    total = ranked.cumsum(-1)
    kept = int((ranked > 0).sum())
    rank = min(int((total <= step.u).sum()), kept - 1)  # the first token whose running total passes u
    rank0 = list(range(min(HEAD, kept)))  # the walk's positions shown, counted from 0
    if rank >= HEAD:
        rank0 += list(range(max(HEAD, rank - AROUND), min(kept, rank + AROUND + 1)))
    elif kept > HEAD:
        rank0 += list(range(HEAD, min(kept, HEAD + 2)))
    ids = [int(order[r]) for r in rank0]
    return {
        "rank0": rank0, "ids": ids, "labels": [step_label(step, i) for i in ids],
        "probs": [float(ranked[r]) for r in rank0],
        "before": [float(total[r - 1]) if r else 0.0 for r in rank0],
        "after": [float(total[r]) for r in rank0],
        "u": float(step.u), "token": int(order[rank]), "token_rank0": rank, "kept": kept,
        "settings": settings.as_dict(),
        "gap_after": HEAD - 1 if rank >= HEAD + AROUND + 1 else None,  # where the shown ranks jump
        "coupling": "cdf",
    }


GUMBEL_SHOWN = 16  # the tokens of highest perturbed score shown


def gumbel_draw_data(step, settings: Settings | None = None) -> dict:
    """What `draw_figure` shows for a step drawn with Gumbel noise: the kept tokens of highest
    perturbed score log p + g (and the likeliest few), in descending score order, each with
    log p, its noise g and the score; the first is the token drawn (`step.resample(**settings)`)."""
    settings = step.settings if settings is None else settings
    probs = step.distribution_under(settings).double().cpu()
    g = step.gumbels(probs.shape[-1]).cpu()
    score = coupling.scores(probs, g)  # -inf where the settings cut
    kept = int((probs > 0).sum())
    shown = min(GUMBEL_SHOWN, kept)
    ids = torch.topk(score, shown).indices.tolist()
    for i in torch.topk(probs, min(4, kept)).indices.tolist():  # the likeliest, whatever their noise
        if i not in ids:
            ids.append(i)
    ids.sort(key=lambda i: (-float(score[i]), i))
    ranked = torch.sort(probs, descending=True, stable=True).indices
    rank_of = {int(t): r for r, t in enumerate(ranked[:max(kept, 1)].tolist())}
    token = int(coupling.gumbel_pick(probs, g))
    return {
        "coupling": step.noise.kind, "ids": ids, "labels": [step_label(step, i) for i in ids],
        "logp": [float(probs[i].log()) for i in ids], "g": [float(g[i]) for i in ids],
        "scores": [float(score[i]) for i in ids], "probs": [float(probs[i]) for i in ids],
        "prob_rank0": [rank_of.get(i) for i in ids], "token": token, "token_rank0": rank_of.get(token), "kept": kept,
        "settings": settings.as_dict(),
    }
