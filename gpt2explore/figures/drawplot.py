"""The one picture of how a token is drawn: the kept tokens in the order the draw walks them,
their running total as a staircase, the step's uniform u as a line, and the token where the
total first passes u (which is `step.resample(**settings)`, by the same rule)."""
from __future__ import annotations

from ..core import formatting as fmt
from ..core import provenance
from ..core.trace import require_step
from ..views.draws import HEAD, draw_data  # noqa: F401  (the view this figure draws)
from .style import CHOSEN_COLOR, KEPT_COLOR, RAW_COLOR, bottom_margin, finish, settings_text, step_label, title


def draw_figure(step, temperature=None, top_k=None, top_p=None, semantics=None, **more):
    """How the step's uniform u picks a token under these settings (None = the step's own): the
    kept tokens from the likeliest down, each token's probability as a bar, the running total
    as a staircase, u as a dashed line; the token where the total first passes u is orange (it
    is what `step.resample(**settings)` returns). When that token lies deep in the tail, the
    picture jumps from the 20 likeliest to the tokens around it.

    For a step drawn with Gumbel noise (coupling="gumbel", or a hindsight sample): the kept
    tokens of highest perturbed score, each token's log p as a dot and its score log p + g as
    a diamond, joined by the noise g; the highest score (orange) is the token drawn."""
    step = require_step(step)
    import plotly.graph_objects as go

    d = draw_data(step, step.settings_for(temperature, top_k, top_p, semantics, **more))
    if d["coupling"] != "cdf":
        return _gumbel_figure(step, d)
    x = list(range(len(d["rank0"])))
    at = d["rank0"].index(d["token_rank0"])
    fig = go.Figure()
    fig.add_bar(x=x, y=d["probs"], name="each token's p", showlegend=False, marker_color=[
        CHOSEN_COLOR if i == at else KEPT_COLOR for i in x], opacity=0.85,
        customdata=[[r + 1, lab, fmt.prob(p), fmt.number(b, 4), fmt.number(a, 4)] for r, lab, p, b, a in
                    zip(d["rank0"], d["labels"], d["probs"], d["before"], d["after"])],
        hovertemplate="<b>#%{customdata[0]} %{customdata[1]}</b><br>p %{customdata[2]}<br>running total "
                      "%{customdata[3]} → %{customdata[4]}<extra></extra>")
    # the staircase: flat across each token at the total after it, rising at the token's left edge
    sx, sy = [-0.5], [d["before"][0]]
    for i in x:
        sx += [i - 0.5, i + 0.5]
        sy += [d["after"][i], d["after"][i]]
    fig.add_scatter(x=sx, y=sy, mode="lines", name="running total", line=dict(color="#222", width=2, shape="hv"),
                    hoverinfo="skip")
    fig.add_scatter(x=[-0.5, len(x) - 0.5], y=[d["u"], d["u"]], mode="lines", name=f"u = {fmt.number(d['u'], 4)}",
                    line=dict(color=CHOSEN_COLOR, dash="dash", width=1.5), hoverinfo="skip")
    fig.add_scatter(x=[at - 0.5], y=[d["u"]], mode="markers", name="where the total passes u",
                    marker=dict(color=CHOSEN_COLOR, size=11, symbol="circle", line=dict(color="white", width=1)),
                    hoverinfo="skip")
    for rank, (name, color) in enumerate((("each token's p", KEPT_COLOR), ("the drawn token's p", CHOSEN_COLOR))):
        # the bars' legend: one swatch per colour (a bar trace's own swatch takes its first bar's colour)
        fig.add_scatter(x=[None], y=[None], mode="markers", name=name, legendrank=rank + 1, hoverinfo="skip",
                        marker=dict(symbol="square", size=14, color=color, opacity=0.85))
    labels = list(d["labels"])
    if d["gap_after"] is not None:
        labels = [f"⋯ {lab}" if i == d["gap_after"] + 1 else lab for i, lab in enumerate(labels)]
    shown = repr(step_label(step, d["token"]))
    main = f"How u draws at step {step.index} · {settings_text(d['settings'])}"
    subs = [f"the running total first passes u={fmt.number(d['u'], 4)} at token #{d['token_rank0'] + 1} of "
            f"{fmt.count(d['kept'], 'kept token')}: {shown}"
            + ("" if d["gap_after"] is None else f" (ranks 21–{d['rank0'][HEAD] } skipped)")]
    head, top = title(main, subs, width=100, height=484)
    fig.update_layout(title=head, height=484, margin=dict(t=top + 64, b=bottom_margin(labels, 45)),  # 2 legend rows
                      xaxis=dict(tickmode="array", tickvals=x, ticktext=labels, tickangle=-45,
                                 range=[-0.7, len(x) - 0.3]),
                      yaxis=dict(title="probability / running total", range=[0, 1.04], tickformat="~g"),
                      bargap=0.25)
    return finish(fig, provenance.for_step(step, d["settings"], "draw_figure"), legend="above",
                  legend_more=dict(font=dict(size=12)))


def _gumbel_figure(step, d):
    """The Gumbel-max draw: log p, the noise g and the perturbed score of the top tokens."""
    import plotly.graph_objects as go

    x = list(range(len(d["ids"])))
    win = [i == d["token"] for i in d["ids"]]
    fig = go.Figure()
    for i in x:  # the noise: a segment from log p to log p + g
        fig.add_scatter(x=[i, i], y=[d["logp"][i], d["scores"][i]], mode="lines", showlegend=False,
                        line=dict(color=CHOSEN_COLOR if win[i] else RAW_COLOR, width=2), hoverinfo="skip")
    custom = [[lab, fmt.prob(p), fmt.number(lp, 3), fmt.number(g, 3), fmt.number(s, 3),
               "–" if r is None else r + 1] for lab, p, lp, g, s, r in
              zip(d["labels"], d["probs"], d["logp"], d["g"], d["scores"], d["prob_rank0"])]
    fig.add_scatter(x=x, y=d["logp"], mode="markers", name="log p",
                    marker=dict(color=KEPT_COLOR, size=9), customdata=custom,
                    hovertemplate="<b>%{customdata[0]}</b><br>p %{customdata[1]} (#%{customdata[5]})<br>log p "
                                  "%{customdata[2]}<extra></extra>")
    fig.add_scatter(x=x, y=d["scores"], mode="markers", name="log p + g (score)", showlegend=False,
                    marker=dict(color=[CHOSEN_COLOR if w else "#222" for w in win], size=11, symbol="diamond"),
                    customdata=custom,
                    hovertemplate="<b>%{customdata[0]}</b><br>log p %{customdata[2]} + g %{customdata[3]} = "
                                  "%{customdata[4]}<extra></extra>")
    for name, color in (("log p + g (score)", "#222"), ("the drawn token's score", CHOSEN_COLOR)):
        # the diamonds' legend: one per colour (a trace's own swatch takes its first point's colour)
        fig.add_scatter(x=[None], y=[None], mode="markers", name=name, hoverinfo="skip",
                        marker=dict(color=color, size=11, symbol="diamond"))
    fig.add_scatter(x=[None], y=[None], mode="lines", name="g (the noise)",
                    line=dict(color=RAW_COLOR, width=2), hoverinfo="skip")
    best = max(d["scores"])
    fig.add_scatter(x=[-0.5, len(x) - 0.5], y=[best, best], mode="lines", name="highest score: drawn",
                    line=dict(color=CHOSEN_COLOR, dash="dash", width=1.5), hoverinfo="skip")
    labels = list(d["labels"])
    shown = repr(step_label(step, d["token"]))
    kind = "its hindsight (posterior) Gumbel noise" if d["coupling"] == "posterior" else "its Gumbel noise"
    main = f"How {kind} draws at step {step.index} · {settings_text(d['settings'])}"
    rank = "" if d["token_rank0"] is None else f", #{d['token_rank0'] + 1} by probability of {fmt.count(d['kept'], 'kept token')}"
    subs = [f"token = argmax of log p + g over the vocabulary: {shown} (p={fmt.prob(d['probs'][d['ids'].index(d['token'])])}"
            f"{rank}); tokens by perturbed score"]
    head, top = title(main, subs, width=100, height=484)
    lows = [v for v in d["logp"] + d["scores"]]
    fig.update_layout(title=head, height=484, margin=dict(t=top + 64, b=bottom_margin(labels, 45)),  # 2 legend rows
                      xaxis=dict(tickmode="array", tickvals=x, ticktext=labels, tickangle=-45,
                                 range=[-0.7, len(x) - 0.3]),
                      yaxis=dict(title="log p  and  log p + g", range=[min(lows) - 0.5, max(lows) + 0.5]))
    return finish(fig, provenance.for_step(step, d["settings"], "draw_figure"), legend="above",
                  legend_more=dict(font=dict(size=12)))
