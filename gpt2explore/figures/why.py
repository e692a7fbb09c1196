"""Why this token: a step's direct logit attribution as a waterfall, and its heads as a heatmap."""
from __future__ import annotations

from ..core import arguments, provenance
from ..core import formatting as fmt
from ..core.trace import require_step
from ..model.attribution import attribution
from ..views.why import waterfall_rows
from .style import CHOSEN_COLOR, FIGURE_MAX_PX, KEPT_COLOR, bottom_margin, finish, step_label, title

SUBTITLE = ("each bar: a component's direct effect on logit(token) − logit(vs), final layer norm's scale frozen; "
            "indirect paths ignored")
CELL_SUBTITLE = "each cell: a head's direct effect on logit(token) − logit(vs), final layer norm's scale frozen; " \
    "indirect paths ignored"
TOTAL_COLOR = "#444"


def _labels(step, df) -> tuple[str, str]:
    return step_label(step, df.attrs["token"]), step_label(step, df.attrs["vs"])  # whole characters


def attribution_figure(step, vs=None, top: int = 12):
    """A waterfall from the embeddings to logit(token) − logit(vs) at this step: the `top`
    components of largest |direct effect| by name (model order), the rest summed as "other
    components", and a last bar, the total, equal to the logit difference (model.attribution)."""
    step, top = require_step(step), arguments.count("top", top)
    import plotly.graph_objects as go

    df = attribution(step, vs)
    rows = waterfall_rows(df, top)
    labels, values, measures = zip(*rows)
    running = [sum(values[: i + 1]) for i in range(len(values) - 1)] + [values[-1]]
    hover = [f"<b>{lab}</b><br>{'total' if m == 'total' else 'direct effect'} {v:+.3f}<br>running sum {r:+.3f}"
             for lab, v, m, r in zip(labels, values, measures, running)]
    fig = go.Figure(go.Waterfall(
        x=list(labels), y=list(values), measure=list(measures), text=[f"{v:+.2f}" for v in values],
        textposition="outside", cliponaxis=False, textfont=dict(size=11), hovertext=hover, hoverinfo="text",
        increasing=dict(marker=dict(color=KEPT_COLOR)), decreasing=dict(marker=dict(color=CHOSEN_COLOR)),
        totals=dict(marker=dict(color=TOTAL_COLOR)), connector=dict(line=dict(color="#999", width=1)),
        showlegend=False))
    # the y range holds every running sum and its label (the labels sit outside the bars)
    ends = [0.0] + running
    low, high = min(ends), max(ends)
    pad = 0.12 * max(high - low, 1e-6)
    fig.update_yaxes(title_text="logit(token) − logit(vs)", range=[low - pad, high + pad], zeroline=True,
                     zerolinecolor="#888")
    fig.update_xaxes(tickangle=-45)
    token, other = _labels(step, df)
    height = 520
    head, top_px = title(f"Why {token!r} over {other!r}: direct logit attribution at step {step.index}",
                         [SUBTITLE, f"logit difference {df.attrs['logit_diff']:+.3f}; "
                                    f"blue raises {token!r} over {other!r}, orange lowers it"], width=130, height=height)
    fig.update_layout(title=head, height=height, width=FIGURE_MAX_PX,
                      margin=dict(t=top_px + 30, b=bottom_margin(labels)))
    return finish(fig, provenance.for_step(step, None, "attribution_figure"),
                  meta={"attribution": {"token": df.attrs["token"], "vs": df.attrs["vs"],
                                        "logit_diff": df.attrs["logit_diff"]}})


def attribution_heatmap(step, vs=None):
    """Layers (rows, layer 0 at the bottom) x heads (columns): each head's direct effect on
    logit(token) − logit(vs) at this step, on a diverging scale centred at 0 (model.attribution)."""
    step = require_step(step)
    import plotly.graph_objects as go

    df = attribution(step, vs)
    heads = df[df["kind"] == "head"]
    n_layer, n_head = int(heads["layer"].max()) + 1, int(heads["head"].max()) + 1
    z = [[0.0] * n_head for _ in range(n_layer)]
    for layer, head_, value in zip(heads["layer"], heads["head"], heads["contribution"]):
        z[layer][head_] = float(value)
    limit = max((abs(v) for row in z for v in row), default=0.0) or 1.0
    text = [[f"{v:+.2f}" for v in row] for row in z]
    hover = [[f"<b>L{layer}H{h}</b><br>direct effect {z[layer][h]:+.4f}" for h in range(n_head)]
             for layer in range(n_layer)]
    fig = go.Figure(go.Heatmap(
        z=z, x=list(range(n_head)), y=list(range(n_layer)), colorscale="RdBu", zmid=0, zmin=-limit, zmax=limit,
        text=text, texttemplate="%{text}" if n_head * n_layer <= 400 else None, textfont=dict(size=11),
        hovertext=hover, hoverinfo="text", colorbar=dict(title="effect", thickness=12)))
    fig.update_xaxes(title_text="head", dtick=1, showgrid=False)
    fig.update_yaxes(title_text="layer", dtick=1, showgrid=False)
    token, other = _labels(step, df)
    height = 200 + 40 * n_layer
    width = min(FIGURE_MAX_PX, max(700, 60 * n_head + 260))
    total = float(heads["contribution"].sum())
    head, top_px = title(f"Heads' direct effect on {token!r} over {other!r} at step {step.index}",
                         [CELL_SUBTITLE, f"all {fmt.count(len(heads), 'head')} together: {total:+.3f} of the logit "
                                    f"difference {df.attrs['logit_diff']:+.3f}; blue raises {token!r}, red lowers it"],
                         width=width // 7, height=height)
    fig.update_layout(title=head, height=height, width=width,
                      margin=dict(t=top_px + 30, b=70))
    return finish(fig, provenance.for_step(step, None, "attribution_heatmap"),
                  meta={"attribution": {"token": df.attrs["token"], "vs": df.attrs["vs"],
                                        "logit_diff": df.attrs["logit_diff"]}})
