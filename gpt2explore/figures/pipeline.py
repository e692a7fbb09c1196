"""The stage-by-stage figure: one small panel per stage, drawn from the view's table
(gpt2explore.views.stages), the same tokens on every panel."""
from __future__ import annotations

import math

from ..core import arguments, provenance
from ..core import formatting as fmt
from ..core.trace import require_step
from ..views.stages import stage_rows
from .style import (
    CHOSEN_COLOR,
    CUT_COLOR,
    FIGURE_MAX_PX,
    KEPT_COLOR,
    RAW_COLOR,
    bottom_margin,
    finish,
    settings_text,
    title,
)


def pipeline_figure(step, n: int = 10, stage_order=None, columns: int = 3, **settings):
    """One small panel per stage (the model's distribution first), the same tokens on every
    panel: each panel's bars are the probabilities after that stage; a token the stage removed
    gets a grey cross, a token removed earlier is left empty; orange: the token the step's u
    draws under these settings (at the run's own settings, the token it drew)."""
    n, columns = arguments.count("n", n), arguments.count("columns", columns)
    import pandas as pd
    from plotly.subplots import make_subplots

    step = require_step(step)
    chosen = step.settings_for(**settings)
    table = pd.DataFrame(stage_rows(step, chosen, n, stage_order))
    stages = list(dict.fromkeys(zip(table.stage_index, table.label)))
    ncols = min(columns, len(stages))
    nrows = math.ceil(len(stages) / ncols)
    exact = {k: bool(table[table.stage_index == k].exact.all()) for k, _ in stages}
    titles = [f"{k}. {label} · {'' if exact[k] else '~'}{int(table[table.stage_index == k].survivors.iloc[0]):,} left"
              for k, label in stages]
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
            fig.add_scatter(x=[r - 1 for r in cut["row"]], y=[0] * len(cut), mode="markers",
                            marker=dict(symbol="x-thin", size=10, color=CUT_COLOR, line=dict(width=2.5, color=CUT_COLOR)),
                            showlegend=False, cliponaxis=False, hovertemplate="%{text}: removed here<extra></extra>",
                            text=list(cut.token), row=r, col=c)
        fig.update_xaxes(tickmode="array", tickvals=list(range(len(part))), ticktext=list(part.token), tickangle=-50,
                         tickfont=dict(size=11), row=r, col=c)
        fig.update_yaxes(range=[0, top * 1.08], tickformat="~g", row=r, col=c, showticklabels=(c == 1))
    # at most 940 px wide, so that it fits a notebook's output area (about 965 px in a 1400 px window)
    fig.update_layout(height=height, width=min(FIGURE_MAX_PX, 300 * ncols + 40), title=head,
                      margin=dict(t=top_px, b=gap, l=60, r=20), bargap=0.2)
    for ann in fig.layout.annotations:
        ann.font = dict(size=13)
    return finish(fig, provenance.for_step(step, chosen, "pipeline_figure"))
