"""Figures of a name study (`gx.study`): how long paired samples stay identical, and the words
each name's samples over-use."""
from __future__ import annotations

from ..core import extensions, provenance
from ..core import formatting as fmt
from .style import CHOSEN_COLOR, FIGURE_MAX_PX, KEPT_COLOR, finish, settings_text, title

PAIRS_NAMED = 10  # more pairs than this are drawn grey, their names on hover


def _facts(study, figure: str) -> list:
    """Provenance: the first step of each name's first sample."""
    facts, seen = [], set()
    for sample in study.run.samples:
        if sample.prompt_index not in seen and sample.steps:
            seen.add(sample.prompt_index)
            facts.append(provenance.for_step(sample.steps[0], None, figure))
    return facts


def agreement_figure(study):
    """One line per pair of names: the fraction of paired samples (the same noise) whose tokens
    are still all the same after each step."""
    import plotly.graph_objects as go

    table = study.agreement()
    fig = go.Figure()
    pairs = table.groupby(["a", "b"], sort=False)
    many = len(pairs) > PAIRS_NAMED  # then the pairs are grey, named on hover; the mean stands out
    for k, ((a, b), part) in enumerate(pairs):
        fig.add_scatter(x=part["step"], y=part["same"], mode="lines", name="each pair (hover: names)" if many
                        else f"{a} · {b}", showlegend=not many or k == 0, legendgroup="pairs" if many else None,
                        line=dict(width=1.2 if many else 1.6, color="#b9b9b9" if many else None),
                        hovertemplate=f"{a} vs {b}<br>step %{{x}}: %{{y:.3f}} still identical<extra></extra>")
    if len(table):
        mean = table.groupby("step")["same"].mean()
        fig.add_scatter(x=mean.index, y=mean.values, mode="lines", name="mean over pairs",
                        line=dict(color="#222", width=3.5, dash="dot"))
    run = study.run
    main = f"How long the names' paired samples stay identical ({run.meta['coupling']} coupling)"
    subs = [f"{study.template!r} · {fmt.count(study.nsamples, 'sample')} per name, the same noise for sample k of "
            f"every name · {settings_text(run.settings.as_dict())} · seed {run.seed}"]
    head, top = title(main, subs, width=110, height=480)
    fig.update_layout(title=head, height=480, width=FIGURE_MAX_PX, margin=dict(t=top + 20, r=190),
                      xaxis=dict(title="step (tokens after the prompt)"),
                      yaxis=dict(title="fraction identical through the step", range=[0, 1.02]))
    return finish(fig, _facts(study, "study agreement"), legend="right", legend_more=dict(font=dict(size=11)))


def words_figure(study, top: int = 3, **words):
    """Each name's `top` most over-represented words against the other names: the difference in
    the fraction of samples containing the word, with its paired bootstrap interval."""
    import plotly.graph_objects as go

    table = study.words(**words)
    best = table.groupby("name", sort=False).head(top)
    best = best.set_index("name").loc[[n for n in study.names if n in set(best["name"])]].reset_index()
    labels = [f"{n}: {w}" for n, w in zip(best["name"], best["word"])]
    significant = (best["lo"] > 0).tolist()
    fig = go.Figure()
    fig.add_scatter(x=best["diff"], y=labels, mode="markers", name="rate − the other names' mean",
                    marker=dict(size=10, color=[CHOSEN_COLOR if s else KEPT_COLOR for s in significant]),
                    error_x=dict(type="data", symmetric=False, array=(best["hi"] - best["diff"]).tolist(),
                                 arrayminus=(best["diff"] - best["lo"]).tolist(), color="#888"),
                    customdata=list(zip(best["rate"], best["others"])),
                    hovertemplate="%{y}<br>in %{customdata[0]:.1%} of its samples, %{customdata[1]:.1%} of the "
                                  "others'<extra></extra>")
    fig.add_vline(x=0, line=dict(color="#444", width=1))
    height = max(360, 150 + 26 * len(labels))
    main = "Words each name's samples use more than the other names'"
    subs = [f"difference in the fraction of samples containing the word; bars: paired bootstrap 95% intervals "
            f"(orange: above 0) · {fmt.count(study.nsamples, 'sample')} per name"]
    head, top_px = title(main, subs, width=100, height=height)
    fig.update_layout(title=head, height=height, width=FIGURE_MAX_PX, margin=dict(t=top_px + 20, l=160),
                      xaxis=dict(title="fraction of samples: this name − the others' mean", zeroline=False),
                      yaxis=dict(autorange="reversed", type="category"), showlegend=False)
    return finish(fig, _facts(study, "study words"))


extensions.register("Study", "agreement_figure", agreement_figure)
extensions.register("Study", "words_figure", words_figure)
