"""The stage-by-stage view: what each sampling stage does to one step's distribution.

`sampling_stages` is the tidy table, `pipeline_figure` one small panel per stage with the
same tokens on every panel, and `stage_cuts` the counts the widgets' readout names. All read
`sampling.stage_trace`, the arithmetic the distribution itself is computed with, so the last
stage is exactly `step.distribution(...)`. For a step of a top-N bundle the stages before a cut
that provably keeps only stored tokens are estimates (the dropped tail's logits are not known):
the table's `exact` column says so, and at the step's own settings the last stage is its stored
own distribution.
"""
from __future__ import annotations

import math

import torch

from . import formatting as fmt
from . import provenance, sampling
from .style import (CHOSEN_COLOR, CUT_COLOR, KEPT_COLOR, RAW_COLOR, bottom_margin, settings_text, template, title,
                    token_label)


def stage_distributions(step, stage_order=None, **settings) -> list[tuple[str, str, torch.Tensor, bool]]:
    """(name, label, probabilities, exact) for the model's distribution, then after each active
    stage in order. The last one equals `step.distribution(**settings)` (with that stage_order)."""
    chosen = step.settings_for(**settings)
    context = step.context_tokens if chosen.uses_context else None
    trace = sampling.stage_trace(step.require_logits(), chosen, context, stage_order, legacy=step.legacy)
    whole = step.truncation is None
    exact_end = step.exact_for(**chosen.as_dict()) if stage_order is None else whole
    out, cut_seen = [], False
    for k, (stage, filtered) in enumerate(trace):
        last = k == len(trace) - 1
        name, label = ("raw", "model (raw logits)") if stage is None else (stage.name, stage.label)
        cut_seen |= stage is not None and stage.name == "top_k" or (stage is not None and stage.name == "temperature"
                                                                     and chosen.temperature == 0)
        probs = filtered.softmax(-1)
        if last and stage_order is None:
            probs = step.distribution(**chosen.as_dict())  # a top-N step's own: its stored probabilities
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
    """The token the figure marks: what the step's u draws from the last stage (the settings
    shown); a forced or scored text's token, which has no u, is its own."""
    if step.u is None or step.forced:
        return step.token if step.token >= 0 else None
    return int(sampling.pick(final, step.u))


def sampling_stages(step, n: int = 10, stage_order=None, **settings):
    """One tidy DataFrame: for each stage in order (raw, each active stage), the probability of
    the step's top-n tokens (by raw logit, plus the token the step's u draws under these
    settings and the step's own token), whether the token is still in play, whether this stage
    removed it, how many tokens survive the stage, `u_draws` (the token the step's u draws from
    the last stage) and `drawn` (the run's own token)."""
    import pandas as pd

    dists = stage_distributions(step, stage_order, **settings)
    marked = _marked(step, dists[-1][2])
    ids = _shown_ids(step, n, marked)
    rows = []
    before = None
    for k, (name, label, probs, exact) in enumerate(dists):
        alive = probs > 0
        survivors = int(alive.sum())
        for rank, tid in enumerate(ids, start=1):
            rows.append({"stage_index": k, "stage": name, "label": label, "rank": rank, "token_id": tid,
                         "token": token_label(step, tid), "prob": float(probs[tid]), "alive": bool(alive[tid]),
                         "removed_here": bool(before is not None and before[tid] and not alive[tid]),
                         "survivors": survivors, "u_draws": tid == marked, "drawn": tid == step.token,
                         "exact": exact})
        before = alive
    return pd.DataFrame(rows)


def stage_cuts(step, stage_order=None, **settings) -> list[tuple[str, int]]:
    """(stage label, tokens it removed) for each active stage that removed any."""
    dists = stage_distributions(step, stage_order, **settings)
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


def pipeline_figure(step, n: int = 10, stage_order=None, columns: int = 3, **settings):
    """One small panel per stage (the model's distribution first), the same tokens on every
    panel: each panel's bars are the probabilities after that stage; a token the stage removed
    gets a grey cross, a token removed earlier is left empty; orange: the token the step's u
    draws under these settings (at the run's own settings, the token it drew)."""
    from plotly.subplots import make_subplots

    table = sampling_stages(step, n, stage_order, **settings)
    stages = list(dict.fromkeys(zip(table.stage_index, table.label)))
    ncols = min(columns, len(stages))
    nrows = math.ceil(len(stages) / ncols)
    exact = {k: bool(table[table.stage_index == k].exact.all()) for k, _ in stages}
    titles = [f"{k}. {label} · {'' if exact[k] else '~'}{int(table[table.stage_index == k].survivors.iloc[0]):,} left"
              for k, label in stages]
    chosen = step.settings_for(**settings)
    order = "transformers' order" if stage_order is None else "order " + " → ".join(s for _, s in stages[1:])
    main = f"Stage by stage at step {step.index}"
    final = table[table.stage_index == stages[-1][0]]
    mark = final[final.u_draws]
    what = "the drawn token" if chosen == step.settings and stage_order is None and (mark.drawn.all()) else (
        "the token u draws under these settings")
    subs = [settings_text(chosen), f"{order}; grey ×: removed at that stage; orange: {what}"
            + (f" ({mark.token.iloc[0]})" if len(mark) else "")]
    if not all(exact.values()):
        subs.append("~ estimated: this step keeps only its top tokens, the rest of the tail is not known")
    # below each row: its slanted tick labels (11 px, at 50°), then the next row's panel titles
    gap = int(bottom_margin(table[table.stage_index == stages[0][0]].token, angle=50) * 11 / 14) + 34
    panel, top_px = 230, title(main, subs, width=110)[1] + 40
    height = panel * nrows + gap * nrows + top_px
    head = title(main, subs, width=110, height=height)[0]
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=titles, horizontal_spacing=0.06,
                        vertical_spacing=gap / (height - top_px - gap) if nrows > 1 else 0.1)
    top = max(table.prob.max(), 1e-9)
    for i, (k, label) in enumerate(stages):
        part = table[table.stage_index == k]
        r, c = i // ncols + 1, i % ncols + 1
        colors = [CHOSEN_COLOR if d else (RAW_COLOR if k == 0 else KEPT_COLOR) for d in part.u_draws]
        fig.add_bar(x=list(range(len(part))), y=list(part.prob), marker_color=colors, showlegend=False,
                    customdata=[[t, fmt.prob(p)] for t, p in zip(part.token, part.prob)],
                    hovertemplate="<b>%{customdata[0]}</b><br>p %{customdata[1]}<extra>" + label + "</extra>",
                    row=r, col=c)
        cut = part[part.removed_here]
        if len(cut):
            fig.add_scatter(x=[r - 1 for r in cut["rank"]], y=[0] * len(cut), mode="markers",
                            marker=dict(symbol="x-thin", size=10, color=CUT_COLOR, line=dict(width=2.5, color=CUT_COLOR)),
                            showlegend=False, cliponaxis=False, hovertemplate="%{text}: removed here<extra></extra>",
                            text=list(cut.token), row=r, col=c)
        fig.update_xaxes(tickmode="array", tickvals=list(range(len(part))), ticktext=list(part.token), tickangle=-50,
                         tickfont=dict(size=11), row=r, col=c)
        fig.update_yaxes(range=[0, top * 1.08], tickformat="~g", row=r, col=c, showticklabels=(c == 1))
    # at most 940 px wide, so that it fits a notebook's output area (about 965 px in a 1400 px window)
    fig.update_layout(template=template(), height=height, width=300 * ncols + 40, title=head,
                      margin=dict(t=top_px, b=gap, l=60, r=20), bargap=0.2)
    for ann in fig.layout.annotations:
        ann.font = dict(size=13)
    fig.layout.meta = {"gpt2explore": provenance.for_step(step, chosen, "pipeline_figure")}
    return fig
