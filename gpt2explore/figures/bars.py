"""Next-token bars: a step's top tokens, the model's distribution beside the one a token is
drawn from under the settings shown, the token the step's own uniform draws there, the tokens
the settings cut and the cut-off, each with its own legend entry. `redraw_bars` redraws the
same figure in place under a `Settings`.

What is marked is always true of the settings shown (the one promise, on screen): the orange
bar is the token the step's uniform u draws under them. At the run's own settings that is the
token the run drew ("drawn"); under other settings the title says "u=0.146 draws ' not' under
these settings", and the token the run drew, if another, gets its own marker ("drawn in the
run"). A step not drawn yet (a session's next step) says "next u draws"; a forced token or a
scored text's own token is marked as such, never as drawn.

Traces, in this order (widgets and tests rely on it):
    0  model (softmax of raw logits)          bars
    1  after settings (what is sampled)       bars, every shown token (0 where cut)
    2  the marked token                       one bar over trace 1: what u draws here (or forced)
    3  cut by the settings                    grey crosses at the foot of each cut token
    4  cut-off                                the dashed line between kept and cut tokens
    5  drawn in the run                       a marker over the run's own token, where it differs
"""
from __future__ import annotations

import html
import math

from ..core import arguments, provenance
from ..core import formatting as fmt
from ..core.settings import Settings
from ..core.trace import require_step
from ..views.bars import bars_data, marked_token  # noqa: F401  (the view this figure draws)
from .style import (
    CHOSEN_COLOR,
    CUT_COLOR,
    FIGURE_MAX_PX,
    KEPT_COLOR,
    LOG_TICKS,
    RAW_COLOR,
    bottom_margin,
    finish,
    settings_text,
    step_label,
    title,
)

TINY_SHARE = 0.015  # a bar below this share of the axis's top is too small to see: its mark gets a ring
AFTER_OFFSET = 0.2125  # x offset of the "after settings" bars in group mode (bargap 0.15, 2 groups)
MANY_BARS = 25  # beyond this many bars, labels stand upright and the figure widens (up to MAX_WIDTH)
MAX_WIDTH = FIGURE_MAX_PX  # px: a notebook's output area beside the open file browser in a 1280-px window
LEGEND = dict(font=dict(size=12), entrywidth=0.33, entrywidthmode="fraction")  # three entries a row
PLOT_PX = 270  # the plotting area's height; the figure grows with its title, legend and labels
HOVER = ("<b>#%{customdata[4]} %{customdata[5]}</b><br>id %{customdata[0]}<br>logit %{customdata[1]}"
         "<br>model p %{customdata[2]}<br>after settings p %{customdata[3]}<extra></extra>")


CUT_SUFFIX = ": cut (×)"  # the marked token's legend entry when the settings cut it (a scored text's can be)
MARK_NAMES = {"drawn": "drawn token", "u": "u draws (these settings)", "next": "next u draws",
              "forced": "forced token", "text": "the text's token"}


def token_role(step) -> str:
    """The legend's name for the step's own token: drawn, forced (a session), or the text's."""
    if not step.forced:
        return MARK_NAMES["drawn"]
    run = getattr(step.sample, "run", None) if step.sample is not None else None
    return MARK_NAMES["text"] if run is not None and run.meta.get("scored") else MARK_NAMES["forced"]


def noise_text(data) -> str:
    """The step's noise in words: 'u=0.146' (cdf) or 'its Gumbel noise' (gumbel, hindsight)."""
    if data.get("coupling") in ("gumbel", "posterior"):
        return "its Gumbel noise"
    return f"u={fmt.number(data['u'], 3)}"


def mark_name(data) -> str:
    """The marked token's legend entry ("u draws" reads "its Gumbel noise draws" for a Gumbel step),
    as the page's component names it."""
    name = MARK_NAMES[data["marked_kind"]]
    return name.replace("u draws", "its Gumbel noise draws") if data.get("coupling") in ("gumbel", "posterior") else name


def mark_text(step, data, short: bool = False) -> str:
    """What the marked token is, in words true of the settings shown: 'drawn ' a' (p=0.31)',
    'u=0.146 draws ' not' (p=0.12) under these settings · the run drew ' a'',
    (the page's component says the same words: the figure's title is the component's heading)
    'next u=0.41 draws …', 'forced ' John' (p=0)', 'the text has ' John' (p=0.02)'."""
    kind, marked = data["marked_kind"], data["marked"]
    if marked is None:
        return ""
    label = repr(step_label(step, marked))
    p = f"p={fmt.prob(data['marked_prob'])}"
    if kind == "drawn":
        return f"drawn {label} ({p})"
    if kind == "next":
        return f"next {noise_text(data)} draws {label} ({p})"
    if kind == "forced":
        return f"forced {label} ({p})"
    if kind == "text":
        return f"the text has {label} ({p})"
    text = f"{noise_text(data)} draws {label} ({p})" + ("" if short else " under these settings")
    if data["run_token"] is None and marked == data["token"]:
        text += ", as in the run"
    if data["run_token"] is not None:
        run = repr(step_label(step, data["run_token"]))
        text += f" · the run drew {run}"
    return text


def bars_title(step, data, compact: bool = False, heading: str | None = None) -> str:
    """Title: the step and settings, then tokens kept, entropy and the marked token (one rule
    for the numbers). `compact`: two short lines, for narrow columns. `heading`: another first
    line (plain text) in place of the step and settings."""
    return _title(step, data, compact, heading)[0]


def _title(step, data, compact: bool, heading: str | None) -> tuple[str, int]:
    """(title text, the top margin in pixels it needs). Its words are the page's component's
    (tests/test_live_schema.py compares the two, line for line joined)."""
    mark = mark_text(step, data, short=compact)
    approx = ("" if compact else " · probabilities exact") if data["exact"] else " · probabilities approximate (top-N bundle)"
    if getattr(step, "layer", None) is not None:
        approx += f" · logit lens at layer {step.layer}"
    if compact:  # two short lines, for a column about 450 px wide
        return (f"step {step.index} · {fmt.count(data['n_kept'], 'token')} kept{approx}<br>"
                f"<span style='font-size:13px'>{mark}</span>"), 70
    head, top = title(heading or f"Next token at step {step.index} · {settings_text(data['settings'])}",
                      [f"{fmt.count(data['n_kept'], 'token')} kept · entropy {'' if data['exact'] else '≈ '}"
                       f"{fmt.number(data['entropy'])} nats{'' if data['exact'] else ' (estimated)'}"
                       f"{' · ' + mark if mark else ''}{approx}"], width=100)
    return head["text"], top


def _customdata(data) -> list[list]:
    return [[i, fmt.number(lg), fmt.prob(r), fmt.prob(p), rank0 + 1, label] for i, lg, r, p, rank0, label in
            zip(data["ids"], data["logits"], data["raw"], data["probs"], data["rank0"], data["labels"])]


def _cutoff_x(data) -> float | None:
    """Where the cut-off line goes: between the last kept and the first cut bar, if shown and
    if every kept token stands before it (else kept tokens the bars do not show lie beyond it,
    e.g. the drawn token added after the top n)."""
    kept = data["kept"]
    if all(kept) or not any(kept):
        return None
    first = kept.index(False)
    return None if first < data["n_kept"] else first - 0.5


def next_token_bars(step, temperature=None, top_k=None, top_p=None, semantics=None, n: int = 20,
                    log: bool = False, compact: bool = False, heading: str | None = None,
                    reach_cut: bool = True, **more):
    """Bars of a step's top-n tokens (by raw logit): the model's own distribution (softmax of raw
    logits) beside the distribution after the settings. How many bars: n; but when the
    settings keep fewer than 60 tokens and n does not reach the first cut one, the bars go on
    to it (so the cut-off shows) unless `reach_cut=False` (always so when `compact`): then n
    is the most. The token the step's u draws and the token the run drew, when outside those
    bars, are added after them, each marked (orange bar, ▼). Orange: the token the step's uniform draws
    under the settings shown (at the run's own settings, the token it drew; a forced or a
    scored text's token is marked as such); a triangle marks the token the run drew when
    another. Each token the settings cut has a grey cross at its foot (the marked token too,
    which a scored text's can be: its legend entry then says so), and a dashed line marks
    the cut-off; each has a legend entry. `log=True`: a log probability axis, for flat
    distributions (T=100). `heading`: the title's first line (plain text) in place of "Next
    token at step N · settings", e.g. to tell apart two figures of the same step. None = the
    step's own settings."""
    step, n = require_step(step), arguments.count("n", n)
    if heading is not None and not isinstance(heading, str):
        raise TypeError(f"heading must be a string or None, got {type(heading).__name__}")
    log, compact = arguments.flag("log", log), arguments.flag("compact", compact)
    settings = step.settings_for(temperature, top_k, top_p, semantics, **more)
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_bar(name="model's p (raw logits)", marker_color=RAW_COLOR, offsetgroup="model",
                textposition="none", hovertemplate=HOVER)
    fig.add_bar(name="p after the settings", marker=dict(color=KEPT_COLOR), offsetgroup="after",
                textposition="none", hovertemplate=HOVER)
    fig.add_bar(name=MARK_NAMES["drawn"], marker=dict(color=CHOSEN_COLOR), offsetgroup="after", textposition="none",
                hovertemplate=HOVER)
    fig.add_scatter(name="cut by the settings", mode="markers", cliponaxis=False,
                    marker=dict(symbol="x-thin", size=11, color=CUT_COLOR, line=dict(width=2.5, color=CUT_COLOR)),
                    hovertemplate="<b>%{text}</b>: cut by the settings<extra></extra>")
    fig.add_scatter(name="cut-off: kept | cut", mode="lines", line=dict(color="#666", dash="dash", width=1.5),
                    hoverinfo="skip")
    fig.add_scatter(name="drawn in the run", mode="markers", cliponaxis=False,
                    marker=dict(symbol="triangle-down", size=13, color=CHOSEN_COLOR,
                                line=dict(width=1, color="white")),
                    hovertemplate="<b>%{text}</b>: drawn in the run, at its own settings<extra></extra>")
    fig.add_scatter(name="the marked token, too small to see", mode="markers", cliponaxis=False, showlegend=False,
                    marker=dict(symbol="circle-open", size=11, color=CHOSEN_COLOR, line=dict(width=2.5)),
                    hovertemplate="<b>%{text}</b>: its bar is too small to see here<extra></extra>")
    fig.update_layout(barmode="group", yaxis_title="probability", height=480,
                      margin=dict(t=130 if not compact else 100),
                      title=title("", height=480)[0], xaxis=dict(tickmode="array", tickangle=-45))
    heading = None if heading is None else html.escape(heading)  # plain text, shown as written
    reach_cut = arguments.flag("reach_cut", reach_cut)
    redraw_bars(fig, step, settings, n=n, log=log, compact=compact, heading=heading, reach_cut=reach_cut)  # finishes it
    return fig


def redraw_bars(fig, step, settings: Settings, n: int = 20, log: bool | None = None, compact: bool | None = None,
                heading: str | None = None, reach_cut: bool | None = None) -> dict:
    """Re-draw a `next_token_bars` figure (or FigureWidget) in place under `settings`.
    `log` / `compact` / `reach_cut` None keep the figure's current choice; `heading` see
    `bars_title`."""
    if log is None:
        log = fig.layout.yaxis.type == "log"
    if compact is None:
        compact = bool((fig.layout.meta or {}).get("compact")) if isinstance(fig.layout.meta, dict) else False
    if reach_cut is None:
        meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
        reach_cut = bool(meta.get("reach_cut", True))
    data = bars_data(step, settings, n, reach_cut=reach_cut and not compact)
    x = list(range(len(data["ids"])))
    custom = _customdata(data)
    raw, after, marked, cut, line, run_mark = fig.data[:6]
    raw.x, raw.y, raw.customdata = x, data["raw"], custom
    raw.name = "model's p (raw logits)" if data["layer"] is None else f"layer {data['layer']}'s p (logit lens)"
    after.x, after.y, after.customdata = x, data["probs"], custom
    at = data["ids"].index(data["marked"]) if data["marked"] is not None else None
    marked.x = [] if at is None else [at]
    marked.y = [] if at is None else [data["probs"][at]]
    marked.customdata = [] if at is None else [custom[at]]
    marked.showlegend = at is not None
    marked.name = mark_name(data) + (CUT_SUFFIX if at is not None and data["probs"][at] == 0 else "")
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
    ran = data["ids"].index(data["run_token"]) if data["run_token"] is not None else None
    run_mark.x = [] if ran is None else [ran + AFTER_OFFSET]
    peak = 0 if ran is None else max(data["raw"][ran], data["probs"][ran])
    run_mark.y = [] if ran is None else [(peak * 1.6 if log else peak + 0.04 * max(top, 1e-12)) or floor]
    run_mark.text = [] if ran is None else [data["labels"][ran]]
    run_mark.showlegend = ran is not None
    if len(fig.data) > 6:  # a marked bar too small to see on a linear axis: an orange ring at its foot
        tiny = at is not None and not log and 0 < data["probs"][at] < TINY_SHARE * max(top, 1e-12)
        fig.data[6].x = [at + AFTER_OFFSET] if tiny else []
        fig.data[6].y = [0.0] if tiny else []
        fig.data[6].text = [data["labels"][at]] if tiny else []
    fig.layout.xaxis.tickvals, fig.layout.xaxis.ticktext = x, data["labels"]
    many = len(x) > MANY_BARS and not compact  # up to the cut: narrower labels, upright, and a wider figure
    fig.layout.xaxis.tickangle = -90 if many else -45
    fig.layout.xaxis.tickfont = dict(size=11 if many else None)
    fig.layout.margin.b = bottom_margin(data["labels"], 90 if many else 45)
    if not compact:
        fig.layout.width = min(MAX_WIDTH, 80 + 21 * len(x)) if many else None
    fig.layout.xaxis.range = [-0.6, len(x) - 0.4]
    if log:
        lo = math.log10(floor)
        fig.layout.yaxis.update(type="log", range=[lo, math.log10(max(top, 1e-12)) + 0.35],
                                tickvals=[t for t in LOG_TICKS if t >= floor], tickformat="~g",
                                title_text="probability (log scale)")
    else:
        fig.layout.yaxis.update(type="linear", range=[0, max(top, 1e-12) * 1.12], tickvals=None,
                                tickformat=None, title_text="probability")
    text, top_px = _title(step, data, compact, heading)
    fig.layout.title.text = text
    if not compact:  # room for every title line and the legend's rows (three entries a row)
        entries = sum(1 for t in fig.data[:6] if t.showlegend is not False and (t.x is None or len(t.x)))
        fig.layout.margin.t = top_px + 24 * math.ceil(entries / 3) + 12
        fig.layout.height = PLOT_PX + fig.layout.margin.t + fig.layout.margin.b
    fig.layout.title.y = 1 - 34 / (fig.layout.height or 480)  # see style.title
    fig.layout.shapes = []
    finish(fig, provenance.for_step(step, data["settings"], "next_token_bars"), legend="above",
           legend_more=LEGEND, meta={"compact": compact, "reach_cut": reach_cut})
    return data


def _axis_floor(data) -> float:
    """The bottom of a log axis: a decade below the smallest shown non-zero probability."""
    positive = [p for p in data["raw"] + data["probs"] if p > 0]
    low = min(positive) if positive else 1e-6
    return 10 ** (math.floor(math.log10(low)) - 0.3)
