"""A sample beside its counterfactual (`counterfactual_view`) and how often two couplings draw the
same token from two distributions (`coupling_figure`)."""
from __future__ import annotations

from ..core import arguments, provenance
from ..core import formatting as fmt
from ..core.trace import require_run, require_step
from ..views.counterfactual import coupling_data, pair_data
from .style import CHOSEN_COLOR, CUT_COLOR, FIGURE_MAX_PX, KEPT_COLOR, RAW_COLOR, finish, title

SHOWN_STEPS = 24  # token cells shown in the aligned texts
LABEL_CHARS = 8  # a token cell shows at most this many characters (the hover shows it whole)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"


def counterfactual_view(run, cf, sample: int = 0, top: int = 8):
    """Sample `sample` of `run` above its counterfactual `cf` (`run.counterfactual(...)`), token
    by token: grey where they agree, orange where they differ; below, at the first step where
    they part, each side's likeliest tokens (on one probability axis) with the token the shared
    noise drew from it. The title names the sample by its number in the seed's sequence, and by
    its place in `run` where that differs (`first_sample=3`: sample #3 is run[0])."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    run, cf = require_run(run), require_run(cf, "cf")
    sample, top = arguments.count("sample", sample, minimum=0), arguments.count("top", top)
    d = pair_data(run, cf, sample, top)
    part = d["part"]
    start = 0 if part is None or part < SHOWN_STEPS - 4 else part - 4
    cols = list(range(start, min(d["steps"], start + SHOWN_STEPS)))
    names = ["as drawn", "counterfactual"]
    fig = make_subplots(rows=2, cols=2, specs=[[{"colspan": 2}, None], [{}, {}]], row_heights=[0.3, 0.7],
                        vertical_spacing=0.2, horizontal_spacing=0.12,
                        subplot_titles=["", *(f"{n}, step {part}: likeliest tokens" for n in names)]
                        if d["sides"] else None)
    z = [[0 if d["same"][t] else 1 for t in cols] for _ in range(2)]
    text = [[_short(d["labels"][r][t]) for t in cols] for r in range(2)]
    hover = [[f"step {t}: {d['labels'][r][t]!r}" for t in cols] for r in range(2)]
    fig.add_trace(go.Heatmap(z=z, x=cols, y=names, text=text, texttemplate="%{text}", textfont=dict(size=10),
                             colorscale=[[0, "#eeeeee"], [1, "#f7c7ad"]], zmin=0, zmax=1, showscale=False,
                             xgap=2, ygap=2, customdata=hover, hovertemplate="%{customdata}<extra></extra>"),
                  row=1, col=1)
    fig.update_yaxes(autorange="reversed", showline=False, ticks="", row=1, col=1)
    fig.update_xaxes(showline=False, ticks="", tickprefix="step ", row=1, col=1)
    for c, side in enumerate(d["sides"], start=1):
        other = d["sides"][2 - c]["token"]
        colors = [CHOSEN_COLOR if i == side["token"] else RAW_COLOR if i == other else KEPT_COLOR
                  for i in side["ids"]]
        fig.add_bar(x=list(range(len(side["ids"]))), y=side["probs"], marker_color=colors, showlegend=False,
                    customdata=side["labels"], hovertemplate="%{customdata}: p %{y:.4g}<extra></extra>",
                    row=2, col=c)
        fig.update_xaxes(tickmode="array", tickvals=list(range(len(side["ids"]))),
                         ticktext=[_short(x) for x in side["labels"]], tickangle=-45, row=2, col=c)
    if d["sides"]:  # one probability axis for both sides: side by side reads true
        ymax = 1.08 * max(max(side["probs"]) for side in d["sides"])
        fig.update_yaxes(range=[0, ymax], row=2)
        fig.update_yaxes(title_text="probability", row=2, col=1)
    for name, color in (("drawn by the shared noise", CHOSEN_COLOR), ("the other side's token", RAW_COLOR),
                        ("another likely token", KEPT_COLOR)):
        fig.add_bar(x=[None], y=[None], name=name, marker_color=color, row=2, col=1)
    kind = "Gumbel noise" if d["coupling"] != "cdf" else "uniforms (cdf coupling)"
    changed = "; ".join(f"{k}: {v}" for k, v in d["changed"].items()) or "nothing changed"
    # run[0] of a run made with first_sample=3 is sample #3 (the explorer's selector names it so)
    which = f"Sample #{d['sample']}" + (f" (run[{d['position']}] here)" if d["position"] != d["sample"] else "")
    main = f"{which} and its counterfactual ({changed})"
    if part is None:
        subs = [f"the same {kind} writes the same {fmt.count(d['steps'], 'token')}: the texts never part"]
    else:
        a, b = d["sides"]
        subs = [f"the same {kind}; the texts agree for {fmt.count(part, 'token')} and part at step {part}",
                f"there it draws {a['token_label']!r} (p={fmt.prob(a['token_prob'])}) as drawn and "
                f"{b['token_label']!r} (p={fmt.prob(b['token_prob'])}) in the counterfactual · "
                f"{d['agree']} of {d['steps']} steps agree"]
    head, top_px = title(main, subs, width=110, height=620)
    fig.update_layout(title=head, height=620, width=FIGURE_MAX_PX, bargap=0.25,
                      margin=dict(t=top_px + 40, b=110, l=110),
                      legend=dict(orientation="h", x=0, y=-0.28, xanchor="left", yanchor="top"))
    step = run.samples[sample].steps[part if part is not None else 0]
    facts = [provenance.for_step(step, None, "counterfactual_view"),
             provenance.for_step(cf.samples[sample].steps[part if part is not None else 0], None,
                                 "counterfactual_view")]
    return finish(fig, facts, meta={"counterfactual": cf.meta.get("counterfactual", {}).get("changed", {})})


def coupling_figure(step_a, step_b, **settings):
    """How often one draw of noise gives the same token from the two steps' distributions (under
    their own settings, or the given ones): the cdf coupling (one uniform), the Gumbel coupling
    (one Gumbel per token), and the most any coupling can reach, 1 - TV; the dashed line is the
    Gumbel coupling's floor (1 - TV) / (1 + TV). Exact numbers, not estimates."""
    import plotly.graph_objects as go

    step_a, step_b = require_step(step_a, "step_a"), require_step(step_b, "step_b")
    d = coupling_data(step_a, step_b, step_a.settings_for(**settings), step_b.settings_for(**settings))
    names = ["cdf (one uniform u)", "gumbel (one Gumbel per token)", "ceiling: 1 − TV"]
    values = [d["cdf"], d["gumbel"], d["ceiling"]]
    fig = go.Figure()
    fig.add_bar(x=names, y=values, marker_color=[CUT_COLOR, CHOSEN_COLOR, KEPT_COLOR],
                text=[fmt.prob(v) for v in values], textposition="outside", showlegend=False,
                hovertemplate="%{x}: P(same token) %{y:.4f}<extra></extra>")
    floor = dict(color=CHOSEN_COLOR, dash="dash", width=1.5)
    fig.add_hline(y=d["gumbel_floor"], line=floor)  # across the whole plot
    fig.add_scatter(x=[None], y=[None], mode="lines", line=floor,  # its legend entry
                    name=f"Gumbel floor (1 − TV)/(1 + TV) = {fmt.prob(d['gumbel_floor'])}")
    prompts = [s.sample.prompt if s.sample is not None else None for s in (step_a, step_b)]
    main = "How often the same noise draws the same token"
    subs = [f"{prompts[0]!r} vs {prompts[1]!r}, step {step_a.index} · total variation {fmt.prob(d['tv'])}",
            "exact probabilities over the noise; no coupling exceeds 1 − TV"]
    head, top_px = title(main, subs, width=90, height=460)
    fig.update_layout(title=head, height=460, width=720, margin=dict(t=top_px + 40, b=80),
                      yaxis=dict(title="P(same token)", range=[0, 1.08]))
    facts = [provenance.for_step(step_a, d["settings"], "coupling_figure"),
             provenance.for_step(step_b, d["settings"], "coupling_figure")]
    return finish(fig, facts, legend="above", meta={"agreement": {k: d[k] for k in ("cdf", "gumbel", "tv")}})
