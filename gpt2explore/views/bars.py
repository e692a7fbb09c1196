"""What a next-token bars figure shows, as plain data: a step's top tokens with the model's
distribution and the one a token is drawn from under the settings shown, the token the step's
own uniform draws there (and the run's own token, where another), the cut and what each stage
cut. Figures and widgets draw it (gpt2explore.figures.bars); nothing here draws anything.
"""
from __future__ import annotations

import torch

from ..core import sampling
from ..core.pieces import step_label
from ..core.settings import Settings
from ..core.trace import rank_of
from .stages import cuts_of, stages_under

CUT_SHOWN_MAX = 60  # when the settings keep fewer tokens than this, the bars reach the first cut one


def marked_token(step, probs: torch.Tensor, own: bool) -> tuple[int | None, str]:
    """(token, kind) the bars mark under the settings that gave `probs`: kind is "drawn" (the
    run's own settings), "u" (what u draws under other settings), "next" (a session's next
    step), "forced" or "text" (a forced token or a scored text's token: no u to replay)."""
    if not step.drawn:
        run = getattr(step.sample, "run", None) if step.sample is not None else None
        scored = run is not None and run.meta.get("scored")
        return (step.token if step.token >= 0 else None), ("text" if scored else "forced")
    token = step.draw_from(probs)  # the same u, or the argmax of log p + the same Gumbel noise
    if step.pending:
        return token, "next"
    return token, ("drawn" if own and token == step.token else "u")


def bars_data(step, settings: Settings | None = None, n: int = 20, reach_cut: bool = True) -> dict:
    """The top-n tokens of a step (by raw logit) with both distributions under `settings` (None
    = the step's own), as host lists. When the settings keep fewer than 60 tokens and the top n
    stop short of the first cut one, the bars go on to it (unless `reach_cut` is False: then n
    is the most); the marked token and the run's own, when outside, come after them."""
    settings = step.settings if settings is None else settings
    own = settings == step.settings
    logits = step.require_logits().float()
    stages = stages_under(step, settings)  # the pipeline runs once: its last stage is the distribution
    probs = stages[-1][2]  # (V,)
    raw = logits.softmax(-1)
    n_kept = int(sampling.nucleus_size(probs))
    shown = min(max(n, n_kept + 1) if reach_cut and n_kept < CUT_SHOWN_MAX else n, logits.shape[-1])
    ids = torch.topk(logits, shown).indices.tolist()
    marked, kind = marked_token(step, probs, own)
    run_token = step.token if kind == "u" and step.token >= 0 and step.token != marked else None
    for extra in (marked, run_token):  # beyond the top bars: appended, so they are always seen
        if extra is not None and extra not in ids:
            ids.append(extra)
    ids_t = torch.tensor(ids, dtype=torch.long, device=probs.device)
    kept = probs[ids_t] > 0
    return {
        "ids": ids,
        "labels": [step_label(step, i) for i in ids],
        "logits": logits[ids_t].tolist(),
        "raw": raw[ids_t].tolist(),
        "probs": probs[ids_t].tolist(),
        "kept": kept.tolist(),
        "n_kept": n_kept,
        "entropy": float(sampling.entropy(probs)),
        "entropy_raw": float(sampling.entropy(raw)),
        "rank0": [rank_of(logits, i) for i in ids],  # by raw logit, counted from 0 (people read rank0 + 1)
        "marked": marked, "marked_kind": kind,
        "marked_prob": None if marked is None else float(probs[marked]),
        "run_token": run_token,
        "run_token_prob": None if run_token is None else float(probs[run_token]),
        "token": step.token,  # the step's own token (drawn, forced, or the text's)
        "token_prob": float(probs[step.token]) if step.token >= 0 else None,
        "u": step.u,
        "coupling": step.coupling,  # "cdf" (u), "gumbel" / "posterior" (Gumbel noise), None (forced)
        "own": own,
        "exact": step.exact_under(settings),
        "settings": settings.as_dict(),
        "step_settings": step.settings.as_dict(),
        "cuts": cuts_of(stages),  # (stage label, tokens it removed), for the readout
        "layer": getattr(step, "layer", None),  # a logit-lens view: the layer its logits were read at
    }
