"""Next-token bars: a step's top tokens, the model's distribution beside the one the token is
drawn from, the drawn token, the tokens the settings cut and the cut-off, each with its own
legend entry. `update_bars` redraws the same figure (or FigureWidget) in place.

Traces, in this order (widgets and tests rely on it):
    0  model (softmax of raw logits)          bars
    1  after settings (what is sampled)       bars, every shown token (0 where cut)
    2  drawn token                            one bar over trace 1, at the drawn token
    3  cut by the settings                    grey crosses at the foot of each cut token
    4  cut-off                                the dashed line between kept and cut tokens
"""
from __future__ import annotations

import math

import torch

from . import formatting as fmt
from . import provenance, sampling
from .trace import rank_of
from .style import (CHOSEN_COLOR, CUT_COLOR, KEPT_COLOR, LOG_TICKS, RAW_COLOR, bottom_margin, settings_text,
                    template, title, token_label)

AFTER_OFFSET = 0.2125  # x offset of the "after settings" bars in group mode (bargap 0.15, 2 groups)
HOVER = ("<b>#%{customdata[4]} %{customdata[5]}</b><br>id %{customdata[0]}<br>logit %{customdata[1]}"
         "<br>model p %{customdata[2]}<br>after settings p %{customdata[3]}<extra></extra>")


def bars_data(step, temperature=None, top_k=None, top_p=None, semantics=None, n: int = 20, **more) -> dict:
    """The top-n tokens of a step (by raw logit) with both distributions, as host lists; the
    newer samplers (min_p=, ...) by name."""
    settings = step.settings_for(temperature, top_k, top_p, semantics, **more)
    logits = step.require_logits().float()
    probs = step.distribution(**settings.as_dict())  # (V,)
    raw = logits.softmax(-1)
    n = min(n, logits.shape[-1])
    ids = torch.topk(logits, n).indices
    kept = probs[ids] > 0
    chosen_p = float(probs[step.token]) if step.token >= 0 else None
    shown = step.token in ids.tolist()
    rank = rank_of(logits, step.token) if step.token >= 0 else None
    return {
        "ids": ids.tolist(),
        "labels": [token_label(step, i) for i in ids.tolist()],
        "logits": logits[ids].tolist(),
        "raw": raw[ids].tolist(),
        "probs": probs[ids].tolist(),
        "kept": kept.tolist(),
        "n_kept": int(sampling.nucleus_size(probs)),
        "entropy": float(sampling.entropy(probs)),
        "entropy_raw": float(sampling.entropy(raw)),
        "token": step.token,
        "token_prob": chosen_p,
        "token_rank": rank,
        "token_shown": shown,
        "exact": step.exact_for(**settings.as_dict()),
        "settings": settings,
    }


def token_role(step) -> str:
    """The legend's name for the step's own token: drawn, forced (a session), or the text's."""
    if not step.forced:
        return "drawn token"
    run = getattr(step.sample, "run", None) if step.sample is not None else None
    return "the text's token" if run is not None and run.meta.get("scored") else "forced token"


def _customdata(data) -> list[list]:
    return [[i, fmt.number(lg), fmt.prob(r), fmt.prob(p), rank + 1, label] for rank, (i, lg, r, p, label) in
            enumerate(zip(data["ids"], data["logits"], data["raw"], data["probs"], data["labels"]))]


def _cutoff_x(data) -> float | None:
    """Where the cut-off line goes: between the last kept and the first cut bar, if shown."""
    kept = data["kept"]
    if all(kept) or not any(kept):
        return None
    return kept.index(False) - 0.5


def bars_title(step, data, compact: bool = False, heading: str | None = None) -> str:
    """Title: the step and settings, then tokens kept, entropy and the drawn token (one rule
    for the numbers). `compact`: one short line, for narrow columns. `heading`: another first
    line (plain text) in place of the step and settings."""
    drawn = ""
    if data["token"] >= 0:
        label = token_label(step, data["token"])
        where = "" if data["token_shown"] else f", rank {data['token_rank'] + 1}, not shown"
        verb = "token" if step.forced else "drawn"
        drawn = f" · {verb} {label!r} (p={fmt.prob(data['token_prob'])}{where})"
    approx = "" if data["exact"] else " · approximate (top-N bundle)"
    if getattr(step, "layer", None) is not None:
        approx += f" · logit lens at layer {step.layer}"
    if compact:  # two short lines, for a column about 450 px wide
        drawn = drawn.replace(" · drawn", "drawn", 1)
        return (f"step {step.index} · {fmt.count(data['n_kept'], 'token')} kept{approx}<br>"
                f"<span style='font-size:13px'>{drawn}</span>")
    head, _ = title(heading or f"Next token at step {step.index} · {settings_text(data['settings'])}",
                    [f"{fmt.count(data['n_kept'], 'token')} kept · entropy {fmt.number(data['entropy'], 2)} nats"
                     f"{drawn}{approx}"], width=110)
    return head["text"]


def next_token_bars(step, temperature=None, top_k=None, top_p=None, semantics=None, n: int = 20,
                    log: bool = False, compact: bool = False, **more):
    """Bars of a step's top-n tokens: the model's own distribution (softmax of raw logits)
    beside the distribution after the settings. The drawn token is orange, each token the
    settings cut has a grey cross at its foot, and a dashed line marks the cut-off; each has a
    legend entry. `log=True`: a log probability axis, for flat distributions (T=100).
    None = the step's own settings."""
    import plotly.graph_objects as go

    fig = go.Figure(layout=dict(template=template()))
    fig.add_bar(name="model (softmax of raw logits)", marker_color=RAW_COLOR, offsetgroup="model",
                textposition="none", hovertemplate=HOVER)
    fig.add_bar(name="after settings (what is sampled)", marker=dict(color=KEPT_COLOR), offsetgroup="after",
                textposition="none", hovertemplate=HOVER)
    fig.add_bar(name="drawn token", marker=dict(color=CHOSEN_COLOR), offsetgroup="after", textposition="none",
                hovertemplate=HOVER)
    fig.add_scatter(name="cut by the settings", mode="markers", cliponaxis=False,
                    marker=dict(symbol="x-thin", size=11, color=CUT_COLOR, line=dict(width=2.5, color=CUT_COLOR)),
                    hovertemplate="<b>%{text}</b>: cut by the settings<extra></extra>")
    fig.add_scatter(name="cut-off: kept | cut", mode="lines", line=dict(color="#666", dash="dash", width=1.5),
                    hoverinfo="skip")
    fig.update_layout(barmode="group", yaxis_title="probability", height=480,
                      margin=dict(t=130 if not compact else 100),
                      title=title("", height=480)[0],
                      legend=dict(orientation="h", x=0, xanchor="left", y=1.02, yanchor="bottom",
                                  bgcolor="rgba(255,255,255,0)", font=dict(size=12),
                                  entrywidth=0.33, entrywidthmode="fraction"),
                      xaxis=dict(tickmode="array", tickangle=-45))
    update_bars(fig, step, temperature, top_k, top_p, semantics, n=n, log=log, compact=compact, **more)
    return fig


def update_bars(fig, step, temperature=None, top_k=None, top_p=None, semantics=None, n: int = 20,
                log: bool | None = None, compact: bool | None = None, heading: str | None = None, **more) -> dict:
    """Re-draw a `next_token_bars` figure (or FigureWidget) in place for new settings.
    `log` / `compact` None keep the figure's current choice; `heading` see `bars_title`."""
    data = bars_data(step, temperature, top_k, top_p, semantics, n, **more)
    if log is None:
        log = fig.layout.yaxis.type == "log"
    if compact is None:
        compact = bool((fig.layout.meta or {}).get("compact")) if isinstance(fig.layout.meta, dict) else False
    x = list(range(len(data["ids"])))
    custom = _customdata(data)
    raw, after, drawn, cut, line = fig.data[:5]
    raw.x, raw.y, raw.customdata = x, data["raw"], custom
    after.x, after.y, after.customdata = x, data["probs"], custom
    at = data["ids"].index(data["token"]) if data["token_shown"] else None
    drawn.x = [] if at is None else [at]
    drawn.y = [] if at is None else [data["probs"][at]]
    drawn.customdata = [] if at is None else [custom[at]]
    drawn.showlegend = at is not None
    drawn.name = token_role(step)
    cut_x = [i for i in x if not data["kept"][i]]
    floor = _axis_floor(data) if log else 0.0
    cut.x = [i + AFTER_OFFSET for i in cut_x]
    cut.y = [floor] * len(cut_x)
    cut.text = [data["labels"][i] for i in cut_x]
    cut.showlegend = bool(cut_x)
    cx = _cutoff_x(data)
    top = max(max(data["raw"], default=0), max(data["probs"], default=0))
    line.x = [] if cx is None else [cx, cx]
    line.y = [] if cx is None else [floor, top * (3 if log else 1.05)]
    line.showlegend = cx is not None
    fig.layout.xaxis.tickvals, fig.layout.xaxis.ticktext = x, data["labels"]
    fig.layout.margin.b = bottom_margin(data["labels"])
    fig.layout.xaxis.range = [-0.6, len(x) - 0.4]
    if log:
        lo = math.log10(floor)
        fig.layout.yaxis.update(type="log", range=[lo, math.log10(max(top, 1e-12)) + 0.15],
                                tickvals=[t for t in LOG_TICKS if t >= floor], tickformat="~g",
                                title_text="probability (log scale)")
    else:
        fig.layout.yaxis.update(type="linear", range=[0, max(top, 1e-12) * 1.08], tickvals=None,
                                tickformat=None, title_text="probability")
    fig.layout.title.text = bars_title(step, data, compact=compact, heading=heading)
    fig.layout.title.y = 1 - 34 / (fig.layout.height or 480)  # see style.title
    fig.layout.shapes = []
    fig.layout.meta = {"gpt2explore": provenance.for_step(step, data["settings"], "next_token_bars"),
                       "compact": compact}
    return data


def _axis_floor(data) -> float:
    """The bottom of a log axis: a decade below the smallest shown non-zero probability."""
    positive = [p for p in data["raw"] + data["probs"] if p > 0]
    low = min(positive) if positive else 1e-6
    return 10 ** (math.floor(math.log10(low)) - 0.3)
