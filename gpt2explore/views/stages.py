"""The stage-by-stage view: what each sampling stage does to one step's distribution, as plain
data (`stage_rows`, one dict a row, and `sampling_stages`, the same rows as a table; `stage_cuts`,
the counts the widgets' readout names). Under them, `stages_under` gives the stages'
probabilities as tensors, for the views to read (not plain data). They read
`sampling.stage_trace`, the arithmetic the distribution itself is computed with, so the last
stage is exactly `step.distribution(...)`. For a step of a top-N bundle the stages before a cut
that provably keeps only stored tokens are estimates (the dropped tail's logits are not known):
the table's `exact` column says so, and at the step's own settings the last stage is its stored
own distribution.
"""
from __future__ import annotations

import torch

from ..core import arguments, sampling
from ..core import formatting as fmt
from ..core.pieces import step_label
from ..core.settings import Settings
from ..core.trace import rank_of, require_step


def stages_under(step, chosen: Settings, stage_order=None) -> list[tuple[str, str, torch.Tensor, bool]]:
    """(name, label, probabilities, exact) for the model's distribution, then after each active
    stage of `chosen` in order: the pipeline runs once, and its last stage is the step's
    distribution under them (`step.distribution_under(chosen, stage_order)`; its stored own one,
    for a top-N step)."""
    context = step.context_tokens if chosen.uses_context else None
    trace = sampling.stage_trace(step.require_logits(), chosen, context, stage_order, legacy=step.legacy)
    whole = step.truncation is None
    exact_end = step.exact_under(chosen) if stage_order is None else whole
    out, cut_seen = [], False
    for k, (stage, filtered) in enumerate(trace):
        last = k == len(trace) - 1
        name, label = ("raw", "model (raw logits)") if stage is None else (stage.name, stage.label)
        cut_seen |= stage is not None and stage.name == "top_k" or (stage is not None and stage.name == "temperature"
                                                                     and chosen.temperature == 0)
        probs = filtered.softmax(-1)
        if last and stage_order is None and chosen == step.settings and step.own_distribution() is not None:
            probs = step.own_distribution()  # a top-N step's own: its stored probabilities
        out.append((name, label, probs, whole or (exact_end and (last or cut_seen))))
    return out


def _shown_ids(step, n: int, marked: int | None) -> list[int]:
    logits = step.require_logits().float()
    ids = torch.topk(logits, min(n, logits.shape[-1])).indices.tolist()
    for extra in (marked, step.token):
        if extra is not None and extra >= 0 and extra not in ids:
            ids.append(extra)
    return ids


def _marked(step, final: torch.Tensor) -> int | None:
    """The token the figure marks: what the step's noise (its u, or its Gumbel noise) draws from
    the last stage (the settings shown); a forced or scored text's token, which has no noise, is
    its own."""
    if not step.drawn:
        return step.token if step.token >= 0 else None
    return step.draw_from(final)


def sampling_stages(step, n: int = 10, stage_order=None, **settings):
    """One tidy DataFrame of `stage_rows`: for each stage in order (raw, each active stage), the
    probability of the step's top-n tokens (by raw logit, plus the token the step's u draws under
    these settings and the step's own token), whether the token is still in play, whether this
    stage removed it, how many tokens survive the stage, `u_draws` (the token the step's u draws
    from the last stage) and `drawn` (the run's own token)."""
    step, n = require_step(step), arguments.count("n", n)
    import pandas as pd

    return pd.DataFrame(stage_rows(step, step.settings_for(**settings), n, stage_order))


def stage_rows(step, settings: Settings | None = None, n: int = 10, stage_order=None) -> list[dict]:
    """`sampling_stages`' rows as plain dicts (stage_index, stage, label, row, rank1, token_id,
    token, prob, alive, removed_here, survivors, u_draws, drawn, exact), one per stage and token:
    `row` is the token's place in this table (1 = first), `rank1` its rank under the model's raw
    logits (1 = the likeliest, ties to the lower id), the rank every table and figure shows.
    `settings`: None = the step's own."""
    dists = stages_under(step, step.settings if settings is None else settings, stage_order)
    marked = _marked(step, dists[-1][2])
    ids = _shown_ids(step, n, marked)
    rank1 = {tid: rank_of(dists[0][2], tid) + 1 for tid in ids}  # under the raw logits
    rows = []
    before = None
    for k, (name, label, probs, exact) in enumerate(dists):
        alive = probs > 0
        survivors = int(alive.sum())
        for row, tid in enumerate(ids, start=1):
            rows.append({"stage_index": k, "stage": name, "label": label, "row": row, "rank1": rank1[tid],
                         "token_id": tid,
                         "token": step_label(step, tid), "prob": float(probs[tid]), "alive": bool(alive[tid]),
                         "removed_here": bool(before is not None and before[tid] and not alive[tid]),
                         "survivors": survivors, "u_draws": tid == marked, "drawn": tid == step.token,
                         "exact": exact})
        before = alive
    return rows


def stage_cuts(step, settings: Settings | None = None, stage_order=None) -> list[tuple[str, int]]:
    """(stage label, tokens it removed) for each active stage that removed any (`settings`:
    None = the step's own)."""
    return cuts_of(stages_under(step, step.settings if settings is None else settings, stage_order))


def cuts_of(dists) -> list[tuple[str, int]]:
    """(stage label, tokens it removed) from `stages_under`' list."""
    cuts = []
    for (_, _, before, _), (_, label, after, _) in zip(dists, dists[1:]):
        removed = int(((before > 0) & (after == 0)).sum())
        if removed:
            cuts.append((label, removed))
    return cuts


def cuts_text(cuts) -> str:
    """'cut by top-k 40: 50,217 tokens · min-p 0.1: 12 tokens' (or 'nothing cut')."""
    if not cuts:
        return "nothing cut"
    return "cut by " + " · ".join(f"{label}: {fmt.count(n, 'token')}" for label, n in cuts)


