"""Figure builders: steps and samples in, plotly figures out. Nothing here displays anything.

Data functions (`bars_data`, `sweep_data`, `divergences`) are plain: the figures and the
widgets are both drawn from them, so what the widgets show is what the tests check.
"""
from __future__ import annotations

import math

import torch

from ..core import arguments, provenance, sampling
from ..core import formatting as fmt
from ..core.trace import require_sample, require_step
from ..views.compare import divergence_reading, divergences  # noqa: F401  (re-exported: gx.plots.divergences)
from ..views.sweep import NUCLEUS_P, sweep_data  # noqa: F401
from .bars import bars_data, bars_title, next_token_bars, redraw_bars  # noqa: F401  (the bars live in bars.py)
from .style import (  # noqa: F401
    CHOSEN_COLOR,
    CUT_COLOR,
    FIGURE_MAX_PX,
    KEPT_COLOR,
    RAW_COLOR,
    bottom_margin,
    finish,
    legend_rows,
    nice_step,
    settings_text,
    step_label,
    template,
    title,
)

TEMPERATURE_TICKS = [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]
COUNT_TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000]


def _ticks_within(ticks, low, high):
    inside = [t for t in ticks if low <= t <= high]
    return inside or [low, high]


def temperature_sweep(step, temperatures=None, n: int = 8, top_k=None, top_p=None, semantics=None, **more):
    """Three panels over temperature (log axis, round ticks): the top tokens' probabilities,
    the entropy, and how many tokens it takes to hold 90% of the probability (with the tokens
    the settings keep, when they cut)."""
    step, n = require_step(step), arguments.count("n", n)
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    settings = step.settings_for(None, top_k, top_p, semantics, **more)
    d = sweep_data(step, settings, temperatures, n)
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.1,
                        subplot_titles=("top tokens' probability", "entropy (nats)",
                                        f"tokens holding {NUCLEUS_P:.0%} of p"))
    for j, label in enumerate(d["labels"]):
        fig.add_trace(go.Scatter(x=d["temperatures"], y=[p[j] for p in d["probs"]], name=label,
                                 mode="lines"), row=1, col=1)
    fig.add_trace(go.Scatter(x=d["temperatures"], y=d["entropy"], name="entropy", mode="lines",
                             line=dict(color="#333"), showlegend=False), row=1, col=2)
    fig.add_trace(go.Scatter(x=d["temperatures"], y=d["mass90"], name=f"tokens holding {NUCLEUS_P:.0%}",
                             mode="lines", line=dict(color="#333"), showlegend=False), row=1, col=3)
    cuts = settings.top_k > 0 or settings.top_p < 1 or bool(settings.changed().keys() - {"temperature", "semantics"})
    if cuts:
        fig.add_trace(go.Scatter(x=d["temperatures"], y=d["nucleus"], name="tokens kept by the settings",
                                 mode="lines", line=dict(color="#d9541e", dash="dash"), showlegend=True),
                      row=1, col=3)
    t_lo, t_hi = min(d["temperatures"]), max(d["temperatures"])
    fig.update_xaxes(type="log", title_text="temperature", tickvals=_ticks_within(TEMPERATURE_TICKS, t_lo, t_hi),
                     tickformat="~g", minor=dict(showgrid=False, ticks=""), tickangle=0, tickfont=dict(size=11),
                     title_standoff=4)  # upright even in a blog's 720-px column
    counts = d["mass90"] + (d["nucleus"] if cuts else [])
    c_hi = max(counts)
    fig.update_yaxes(type="log", row=1, col=3, tickvals=_ticks_within(COUNT_TICKS, 1, c_hi * 1.5),
                     tickformat="~s", range=[-0.05, math.log10(max(c_hi, 2)) + 0.1])
    fig.update_yaxes(tickformat=".1f", row=1, col=2)
    fig.update_yaxes(tickformat="~g", row=1, col=1, rangemode="tozero")
    fig.update_annotations(font_size=14, yshift=6)  # the panels' titles, clear of the axes below them
    rest = settings_text(settings).replace('T=' + format(settings.temperature, 'g') + ', ', '')
    head, top = title(f"Temperature at step {step.index} · {rest}", ["from the stored logits, no model call"],
                      height=480)
    fig.update_layout(height=480, width=FIGURE_MAX_PX, margin=dict(t=top + 40, r=20, b=120), title=head)
    facts = provenance.for_step(step, settings, "temperature_sweep")
    facts["swept"] = {"temperature": [t_lo, t_hi]}  # the caption names the range, not the step's own T
    return finish(fig, facts, legend="right",  # under the panels: every panel keeps the figure's width
                  legend_more=dict(orientation="h", x=0, xanchor="left", y=-0.24, yanchor="top",
                                   font=dict(size=12)))


def generation_overview(sample, temperature=None, top_k=None, top_p=None, semantics=None, **more):
    """The generated tokens as bars coloured by the probability of the chosen token, with the
    entropy of each step's distribution as a line on a right axis (round ticks)."""
    sample = require_sample(sample)
    import plotly.graph_objects as go

    under = [step.settings_for(temperature, top_k, top_p, semantics, **more) for step in sample.steps]
    labels, chosen, ent = [], [], []
    for step, settings in zip(sample.steps, under):
        probs = step.distribution_under(settings)
        labels.append(step_label(step, step.token))
        chosen.append(float(probs[step.token]))
        ent.append(float(sampling.entropy(probs)))
    x = list(range(len(labels)))
    top = max(ent, default=1.0)
    dstep = nice_step(top, 4)
    e_hi = dstep * math.ceil(top / dstep) if top > 0 else 1.0
    fig = go.Figure()
    fig.add_bar(x=x, y=chosen, name="p(chosen token)", text=labels, textposition="none", showlegend=False,
                marker=dict(color=chosen, colorscale="Viridis", cmin=0, cmax=1,
                            colorbar=dict(title=dict(text="p", side="top"), x=1.0, xanchor="left", xpad=70,
                                          thickness=14, len=0.8, y=0.4, tickvals=[0, 0.25, 0.5, 0.75, 1])),
                customdata=[fmt.prob(p) for p in chosen],
                hovertemplate="step %{x}: <b>%{text}</b><br>p %{customdata}<extra></extra>")
    fig.add_scatter(x=x, y=ent, name="entropy (nats)", yaxis="y2", mode="lines+markers",
                    line=dict(color="#d9541e"), customdata=[fmt.number(e) for e in ent],
                    hovertemplate="step %{x}: entropy %{customdata} nats<extra></extra>")
    prompt = (sample.prompt or "<|endoftext|>")
    short = prompt if len(prompt) <= 60 else prompt[:57] + "…"
    fig.update_layout(title=f"Generated after {short!r}", height=440, margin=dict(t=110, r=150),
                      xaxis=dict(tickmode="array", tickvals=x, ticktext=labels, tickangle=-60),
                      margin_b=bottom_margin(labels, 60),
                      yaxis=dict(title="p(chosen token)", range=[0, 1.02], tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1]),
                      yaxis2=dict(title="entropy (nats)", overlaying="y", side="right", showgrid=False,
                                  range=[0, e_hi * 1.02], dtick=dstep, tick0=0, tickformat="~g",
                                  showline=True, linecolor="#444", ticks="outside"))
    first = sample.steps[0] if sample.steps else None
    facts = None if first is None else provenance.for_step(first, under[0], "generation_overview")
    return finish(fig, facts, legend="above", legend_more=dict(y=1.0))


def _first_steps(items) -> list:
    if hasattr(items, "distribution") or hasattr(items, "samples") or hasattr(items, "steps"):
        items = [items]
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(f"items must be a non-empty list of steps, samples or runs, got {items!r:.80}")
    steps = []
    for item in items:
        if hasattr(item, "distribution"):
            steps.append(item)
        elif hasattr(item, "samples"):
            steps.append(item.samples[0].steps[0])
        else:
            steps.append(item.steps[0])
    return steps


def compare_next_token(items, labels=None, temperature=None, top_k=None, top_p=None, semantics=None,
                       n: int = 12, **more):
    """Next-token distributions of several prompts (or branches) on one figure, with KL and JS
    stated. `items`: steps, samples (their first step) or runs (their first sample's first
    step); `labels` name them (default: their prompts, long ones by the words that differ). None
    settings = each step's own; the title names them for each item when they differ. A token
    the settings cut in one column gets a grey × at the foot of that column's bar, as in
    `next_token_bars` (trace after the bars: "cut by the settings"); the token each column's own
    draw picks under the settings shown is always among the bars, with a ▼ over its bar (the
    next trace: "drawn under these settings", or "the next draw picks" for a session's next
    step, not drawn yet)."""
    n = arguments.count("n", n)
    if not isinstance(items, (list, tuple)):
        raise TypeError(f"items must be a non-empty list of steps, samples or runs, got {type(items).__name__}")
    import plotly.graph_objects as go

    steps = _first_steps(items)
    if not labels:  # the prompts, by the words that differ when they are long ("…Isamu…" vs "…John…")
        prompts = [s.sample.prompt if s.sample is not None else None for s in steps]
        names = fmt.short_names([p for p in prompts if p is not None])
        labels = [names.pop(0) if p is not None else f"#{i}" for i, p in enumerate(prompts)]
    chosen = [s.settings_for(temperature, top_k, top_p, semantics, **more) for s in steps]
    dists = [s.distribution_under(c) for s, c in zip(steps, chosen)]
    union = []
    for d in dists:
        for i in torch.topk(d, min(n, d.numel())).indices.tolist():
            if i not in union and float(d[i]) > 0:  # a column's top n, never the tokens its settings cut
                union.append(i)
    union.sort(key=lambda i: -max(float(d[i]) for d in dists))
    union = union[: max(n, 1) * 2]
    # what each column's own draw (its u, or its Gumbel noise) picks under the settings shown: always a bar
    picks = [s.draw_from(d) if s.drawn else None for s, d in zip(steps, dists)]
    union += [i for i in dict.fromkeys(picks) if i is not None and i not in union]
    ticks = [step_label(steps[0], i) for i in union]
    fig = go.Figure()
    for label, d in zip(labels, dists):
        ys = d[union].tolist()
        fig.add_bar(name=label, x=list(range(len(union))), y=ys, text=ticks, customdata=[fmt.prob(v) for v in ys],
                    textposition="none", hovertemplate="<b>%{text}</b><br>p %{customdata}<extra>" + label + "</extra>")
    cut_x, cut_text = [], []  # a grey × at the foot of each column's bar the settings cut, as next_token_bars marks
    for j, (label, d) in enumerate(zip(labels, dists)):
        for x, i in enumerate(union):
            if float(d[i]) == 0:
                cut_x.append(x + _group_offset(j, len(dists)))
                cut_text.append(f"{ticks[x]} ({label})")
    fig.add_scatter(name="cut by the settings", mode="markers", cliponaxis=False, x=cut_x, y=[0.0] * len(cut_x),
                    text=cut_text, showlegend=bool(cut_x),
                    marker=dict(symbol="x-thin", size=11, color=CUT_COLOR, line=dict(width=2.5, color=CUT_COLOR)),
                    hovertemplate="<b>%{text}</b>: cut by the settings<extra></extra>")
    ymax = max(float(d[union].max()) for d in dists) if union else 1.0
    pick_x, pick_y, pick_text = [], [], []  # a marker over each column's own draw, as next_token_bars marks it
    for j, (label, d, i) in enumerate(zip(labels, dists, picks)):
        if i is not None:
            pick_x.append(union.index(i) + _group_offset(j, len(dists)))
            pick_y.append(float(d[i]) + 0.04 * ymax)
            pick_text.append(f"{step_label(steps[j], i)} ({label})")
    # a session's next step is not drawn yet: its noise is what the next draw will use
    said = "the next draw picks" if any(s.pending for s, i in zip(steps, picks) if i is not None) \
        else "drawn under these settings"
    fig.add_scatter(name=said, mode="markers", cliponaxis=False, x=pick_x, y=pick_y,
                    text=pick_text, showlegend=bool(pick_x),
                    marker=dict(symbol="triangle-down", size=12, color="#222", line=dict(width=1, color="white")),
                    hovertemplate="<b>%{text}</b>: " + said + "<extra></extra>")
    facts = []
    for j in range(1, len(dists)):
        dv = divergences(dists[0], dists[j])
        facts.append(f"{labels[0]} vs {labels[j]}: JS {fmt.number(dv['js'])} nats — {divergence_reading(dv)} · "
                     f"KL({labels[0]}‖{labels[j]}) {fmt.number(dv['kl_pq'])}")
    drawn = [f"{label} {step_label(s, i)!r}" for label, s, i in zip(labels, steps, picks) if i is not None]
    if drawn:
        facts.insert(0, f"{said} (▼): " + " · ".join(drawn))
    settings, where = chosen[0], "Next token"
    if len({s.index for s in steps}) == 1:
        where = f"Next token at step {steps[0].index}"
    if all(c == settings for c in chosen):
        main = f"{where}: {' vs '.join(labels)} · {settings_text(settings)}"
    else:
        main = f"{where}: {' vs '.join(labels)}"
        facts = [f"{label}: {settings_text(c)}" for label, c in zip(labels, chosen)] + facts
    _, top = title(main, facts)
    shown = [t.name for t in fig.data if t.showlegend is not False]
    top += 26 * (legend_rows(shown) - 1)  # long names wrap the legend: room for its rows under the title
    head, _ = title(main, facts, height=440 + top)
    fig.update_layout(barmode="group", bargap=0.15, height=440 + top, yaxis_title="probability", title=head,
                      margin=dict(t=top + 45, b=bottom_margin(ticks)),
                      xaxis=dict(tickmode="array", tickvals=list(range(len(union))), ticktext=ticks,
                                 tickangle=-45))
    return finish(fig, [provenance.for_step(s, c, "compare_next_token") for s, c in zip(steps, chosen)],
                  legend="above", meta={"divergences": [divergences(dists[0], d) for d in dists[1:]]})


def _group_offset(j: int, m: int, bargap: float = 0.15) -> float:
    """x offset of the j-th of m grouped bars from its category's centre (the template's bargap)."""
    width = (1 - bargap) / m
    return -(1 - bargap) / 2 + width * (j + 0.5)


def log_ratio_table(step_a, step_b, n: int = 10, temperature=None, top_k=None, top_p=None, semantics=None,
                    labels=None, pool: int = 50, **more):
    """Tokens that prompt A makes likelier than prompt B, ranked by log(p_A / p_B) (a DataFrame).
    Only plausible tokens count: those among the `pool` likeliest under either prompt, possible
    under both (p > 0), so the list is not led by the far tail's tiny ratios. The probability
    columns are named after the prompts (`labels`, default the prompts themselves)."""
    step_a, step_b = require_step(step_a, "step_a"), require_step(step_b, "step_b")
    n, pool = arguments.count("n", n), arguments.count("pool", pool)
    import pandas as pd

    chosen = [s.settings_for(temperature, top_k, top_p, semantics, **more) for s in (step_a, step_b)]
    pa, pb = (s.distribution_under(c).double() for s, c in zip((step_a, step_b), chosen))
    plausible = torch.zeros_like(pa, dtype=torch.bool)
    for d in (pa, pb):
        plausible[torch.topk(d, min(pool, d.numel())).indices] = True
    both = plausible & (pa > 0) & (pb > 0)
    ratio = torch.where(both, pa.log() - pb.log(), torch.full_like(pa, -math.inf))
    ids = [i for i in torch.topk(ratio, min(n, ratio.numel())).indices.tolist() if math.isfinite(float(ratio[i]))]
    name_a, name_b = labels or [_prompt_name(step_a, "A"), _prompt_name(step_b, "B")]
    if name_a == name_b:
        name_a, name_b = f"{name_a} (A)", f"{name_b} (B)"
    table = pd.DataFrame({"token": [step_label(step_a, i) for i in ids], "id": ids,
                          f"p after {name_a}": pa[ids].tolist(), f"p after {name_b}": pb[ids].tolist(),
                          "log ratio": ratio[ids].tolist()})
    return finish(table, [provenance.for_step(s, c, "log_ratio_table") for s, c in zip((step_a, step_b), chosen)])


def _prompt_name(step, fallback: str) -> str:
    prompt = getattr(step.sample, "prompt", None) if step.sample is not None else None
    return repr(prompt) if prompt else fallback


def annotate_token(fig, token_id: int, text: str):
    """Point at one token's bars in a next-token bars figure with an arrow and a label."""
    ids = [row[0] for row in fig.data[0].customdata]
    if token_id not in ids:
        return fig
    x = ids.index(token_id)
    y = max(fig.data[0].y[x], fig.data[1].y[x] or 0)
    if len(fig.data) > 5 and fig.data[5].x and any(abs(mx - x) < 0.5 for mx in fig.data[5].x):
        y = max(y, max(fig.data[5].y))  # the ▼ of the token the run drew sits above the bars: point above it
    log = fig.layout.yaxis.type == "log"
    fig.add_annotation(x=x, y=math.log10(y) if log else y, text=text, showarrow=True, arrowhead=2, ax=95,
                       ay=-45, standoff=8, font=dict(size=13, color="#b00020"), arrowcolor="#b00020",
                       bgcolor="rgba(255,255,255,0.9)")
    return fig
