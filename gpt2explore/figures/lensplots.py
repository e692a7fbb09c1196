"""Logit-lens figures: one step's top tokens layer by layer, and a sample's positions x layers."""
from __future__ import annotations

import torch

from ..core import arguments, provenance, sampling
from ..core import formatting as fmt
from ..core.trace import require_sample, require_step
from ..model.lens import at_layer, require_residual
from ..views.lens import lens_heatmap_data  # noqa: F401  (the view this figure draws)
from .style import CHOSEN_COLOR, FIGURE_MAX_PX, finish, settings_text, step_label, title


def lens_heatmap(step, n: int = 10, **settings):
    """Rows: layers (0 = embeddings, bottom; the last block on top). Columns: the step's final
    top-n tokens (and the drawn token). Cell colour: probability at that layer under the
    settings. The drawn token's column is outlined in orange; the side panel gives its rank per
    layer (log scale)."""
    step, n = require_step(step), arguments.count("n", n)
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    chosen = step.settings_for(**settings)
    d = lens_heatmap_data(step, chosen, n)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.78, 0.22], horizontal_spacing=0.09,
                        subplot_titles=("probability at each layer", "the step's token's rank"))
    hover = [[f"layer {layer}: <b>{label}</b> p {fmt.prob(p)}" for label, p in zip(d["labels"], row)]
             for layer, row in zip(d["layers"], d["z"])]
    fig.add_trace(go.Heatmap(z=d["z"], x=list(range(len(d["ids"]))), y=d["layers"], colorscale="Blues", zmin=0,
                             zmax=1, text=hover, hoverinfo="text",
                             colorbar=dict(title="p", x=0.7, thickness=12, len=0.8, tickformat=".1f")), row=1, col=1)
    if step.token in d["ids"]:
        x = d["ids"].index(step.token)
        fig.add_shape(type="rect", x0=x - 0.5, x1=x + 0.5, y0=-0.5, y1=len(d["layers"]) - 0.5,
                      line=dict(color=CHOSEN_COLOR, width=3), row=1, col=1)
    if d["drawn_rank0"][0] is not None:
        fig.add_scatter(x=[r + 1 for r in d["drawn_rank0"]], y=d["layers"], mode="lines+markers",
                        line=dict(color=CHOSEN_COLOR), showlegend=False,
                        customdata=[f"{r + 1:,}" for r in d["drawn_rank0"]],
                        hovertemplate="layer %{y}: rank %{customdata}<extra></extra>", row=1, col=2)
    fig.update_xaxes(tickmode="array", tickvals=list(range(len(d["ids"]))), ticktext=d["labels"], tickangle=-45,
                     row=1, col=1)
    fig.update_xaxes(type="log", title_text="rank (1 = top)", tickformat="~s", row=1, col=2)
    fig.update_yaxes(title_text="layer (0 = embeddings)", dtick=1, row=1, col=1)
    fig.update_yaxes(dtick=1, row=1, col=2)
    drawn = step_label(step, step.token) if step.token >= 0 else "?"
    head, top = title(f"Logit lens at step {step.index} · {settings_text(chosen)}",
                      [f"the step's token {drawn!r} is outlined; early layers read through the final layer norm"],
                      height=520)
    fig.update_layout(title=head, height=520, width=FIGURE_MAX_PX, margin=dict(t=top + 50))
    return finish(fig, provenance.for_step(step, chosen, "lens_heatmap"))


def lens_grid(sample, color: str = "prob", **settings):
    """nostalgebraist's grid: positions (columns) x layers (rows); each cell shows the layer's
    top token (visible whitespace) coloured by its probability (or the distribution's entropy
    with color="entropy"); hover gives the top 5."""
    sample = require_sample(sample)
    import plotly.graph_objects as go

    if color not in ("prob", "entropy"):
        raise ValueError(f"color must be 'prob' or 'entropy', got {color!r}")
    steps = sample.steps
    if not steps:
        raise ValueError("this sample has no steps")
    layers = require_residual(steps[0]).shape[0]
    z, text, hover = [[None] * len(steps) for _ in range(layers)], [[""] * len(steps) for _ in range(layers)], \
        [[""] * len(steps) for _ in range(layers)]
    under = [step.settings_for(**settings) for step in steps]
    for j, (step, chosen) in enumerate(zip(steps, under)):
        for layer in range(layers):
            probs = at_layer(step, layer).distribution_under(chosen)
            top = torch.topk(probs, 5)
            label = step_label(step, int(top.indices[0]))
            z[layer][j] = float(top.values[0]) if color == "prob" else float(sampling.entropy(probs))
            text[layer][j] = label[:10]
            hover[layer][j] = (f"position {j} (next: {step_label(step, step.token)}), layer {layer}<br>" +
                               "<br>".join(f"{step_label(step, int(i))} {fmt.prob(float(p))}"
                                           for i, p in zip(top.indices, top.values)))
    scale = dict(colorscale="Blues", zmin=0, zmax=1) if color == "prob" else dict(colorscale="YlOrRd_r")
    fig = go.Figure(go.Heatmap(z=z, text=text, texttemplate="%{text}", textfont=dict(size=11), hovertext=hover,
                               hoverinfo="text", colorbar=dict(title="top p" if color == "prob" else "entropy",
                                                               thickness=12), **scale))
    fig.update_xaxes(tickmode="array", tickvals=list(range(len(steps))),
                     ticktext=[step_label(s, s.token) for s in steps], tickangle=-45, title_text="next token")
    fig.update_yaxes(dtick=1, title_text="layer (0 = embeddings)")
    chosen = under[0]
    height = 120 + 34 * layers + 150
    head, top_px = title(f"Logit lens over {fmt.count(len(steps), 'position')} · {settings_text(chosen)}",
                         ["each cell: the layer's top token; colour: " + ("its probability" if color == "prob"
                                                                          else "the entropy (nats)")], height=height)
    # 70 px a position, but at most 940 px: the output area with the file browser open is about 953
    fig.update_layout(title=head, height=height, width=min(FIGURE_MAX_PX, max(600, 70 * len(steps) + 200)),
                      margin=dict(t=top_px + 40))
    return finish(fig, provenance.for_step(steps[0], chosen, "lens_grid"))
