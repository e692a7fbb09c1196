"""A text as coloured tokens (GLTR's rank view and more), and rank histograms across texts.

`text_view(sample, color=...)` lays the tokens out as lines of monospaced text in a plotly
figure: each token sits on a coloured box, hover gives its rank, both probabilities and the
five likeliest alternatives, and a legend (or a colour bar) says what the colours mean. It
works on scored text and on generated samples alike.
"""
from __future__ import annotations

import math

from ..core import formatting as fmt
from ..core import provenance
from ..core.pieces import step_label
from ..core.tokens import show_text
from ..core.trace import require_sample, step_rank, step_raw_prob
from ..model.scoring import RANK_BUCKETS, rank_bucket
from .style import FIGURE_MAX_PX, finish, settings_text, title

GLTR = ("#b6e3a1", "#fbe38b", "#f5a3a3", "#c9a7e8")  # ranks 1-10, 11-100, 101-1000, > 1000 (GLTR's four)
IMPOSSIBLE, ALLOWED = "#a8a8a8", "#dfe7ef"  # impossible: grey, as the bars grey what the settings cut (red is GLTR's)
CHAR_PX, LINE_PX, LINE_CHARS = 8.4, 26, 88
LEGEND = dict(y=1.0, bgcolor=None)  # above the plot, on the template's white
MAX_TOKENS = 800  # a longer text shows its first 800 tokens (the figure says so)


def _alternatives(step, k: int = 5) -> str:
    if step.logits is None:
        return "(logits not kept)"
    import torch

    logits = step.logits.float()
    probs = logits.softmax(-1)
    ids = torch.topk(logits, k).indices.tolist()
    return "<br>".join(f"{step_label(step, i)!s:.24} {fmt.prob(float(probs[i]))}"
                       for i in ids)


def _layout(pieces: list[str], start_col: int = 0, line_chars: int = LINE_CHARS):
    """(line, column) of each piece when the text wraps at line_chars columns (newlines break)."""
    places, line, col = [], 0, start_col
    for text in pieces:
        width = max(len(text), 1)
        if col + width > line_chars and col > 0:
            line, col = line + 1, 0
        places.append((line, col, width))
        col += width
        if text.endswith("↵"):
            line, col = line + 1, 0
    return places, line + 1


def rank_fills(ranks: list[int]) -> list[str]:
    """GLTR's colour of each rank (counted from 0): top 10, 100, 1000, beyond."""
    return [GLTR[rank_bucket(r)] for r in ranks]


def rank_legend(ranks: list[int]) -> list[tuple[str, str]]:
    """(colour, name) of each of GLTR's buckets, with the share of the tokens in it."""
    buckets = [rank_bucket(r) for r in ranks]
    return [(c, f"{label} ({buckets.count(i) / max(len(ranks), 1):.0%})")
            for i, ((_, label), c) in enumerate(zip(RANK_BUCKETS, GLTR))]


def surprisal_top(surprisal: list[float]) -> float:
    """The top of the surprisal scale: the largest finite surprisal (1 when there is none)."""
    return max((s for s in surprisal if math.isfinite(s)), default=1.0)


def surprisal_fills(surprisal: list[float], top: float) -> list[str]:
    """Each surprisal's colour on the YlOrRd scale from 0 to `top` nats."""
    from plotly.colors import sample_colorscale

    return sample_colorscale("YlOrRd", [min(v, top) / top if top else 0 for v in surprisal])


def text_colours(sample) -> dict:
    """The colours of the settings-free modes, as a live view paints them: for "rank" and
    "surprisal", each token's fill and the legend's (colour, name) entries."""
    steps = require_sample(sample).steps[:MAX_TOKENS]
    ranks = [step_rank(s) for s in steps]
    surprisal = [-math.log(p) if p > 0 else math.inf for p in (step_raw_prob(s) for s in steps)]
    top = surprisal_top(surprisal)
    low, high = surprisal_fills([0.0, top], top)
    return {"rank": {"fills": rank_fills(ranks), "legend": rank_legend(ranks), "what": "rank under the model (GLTR's buckets)"},
            "surprisal": {"fills": surprisal_fills(surprisal, top), "what": "surprisal, -log p (nats)",
                          "legend": [(low, "0 nats"), (high, f"{fmt.number(top, 2)} nats or more")]}}


def text_view(sample, color: str = "rank", **settings):
    """The sample's tokens coloured by `color`: "rank" (GLTR: ranks 1-10 green, 11-100 yellow,
    101-1000 red, beyond 1000 purple), "surprisal" (-log p, nats, a sequential scale) or "allowed"
    (tokens the settings make impossible in red). Hover: rank, the model's probability, the
    probability under the settings, and the five likeliest alternatives."""
    sample = require_sample(sample)
    import plotly.graph_objects as go

    if color not in ("rank", "surprisal", "allowed"):
        raise ValueError(f"color must be 'rank', 'surprisal' or 'allowed', got {color!r}")
    steps = sample.steps[:MAX_TOKENS]
    if not steps:
        raise ValueError("this sample has no tokens to show")
    prompt = show_text(sample.prompt) if sample.prompt else ""
    whole = sample.pieces[:len(steps)]  # every character whole: a split one shows where it completes
    pieces = [show_text(w.text).replace("\n", "↵") or ("" if w.partial else "∅") for w in whole]
    right = 160 if color == "surprisal" else 30  # room for the colour bar
    chars = min(LINE_CHARS, int((FIGURE_MAX_PX - 30 - right - 8) / CHAR_PX))  # the figure fits FIGURE_MAX_PX
    places, n_lines = _layout(pieces, start_col=len(prompt) + (1 if prompt else 0), line_chars=chars)
    ranks = [step_rank(s) for s in steps]
    raws = [step_raw_prob(s) for s in steps]
    probs = [s.prob if not settings else float(s.distribution(**settings)[s.token]) for s in steps]
    surprisal = [-math.log(p) if p > 0 else math.inf for p in raws]
    height = max(220, n_lines * LINE_PX + 190)
    fig = go.Figure()
    x = [(col + w / 2) * CHAR_PX for _, col, w in places]
    y = [-line * LINE_PX for line, _, _ in places]
    if color == "rank":
        fills = rank_fills(ranks)
    elif color == "allowed":
        fills = [IMPOSSIBLE if p == 0 else ALLOWED for p in probs]
    else:
        top = surprisal_top(surprisal)
        fills = None
    hover = [f"<b>{w.label}</b> (step {s.index}){'<br><i>' + w.note + '</i>' if w.note else ''}<br>rank {r + 1:,}<br>model p {fmt.prob(rp)} · surprisal "
             f"{fmt.number(su, 2)} nats<br>after settings p {fmt.prob(p)}{' (impossible)' if p == 0 else ''}"
             f"<br><i>likeliest:</i><br>{_alternatives(s)}"
             for w, s, r, rp, su, p in zip(whole, steps, ranks, raws, surprisal, probs)]
    marker = dict(symbol="square", size=1, opacity=0)
    if fills is None:
        marker = dict(symbol="square", size=1, opacity=0, color=[min(v, top) for v in surprisal], cmin=0, cmax=top,
                      colorscale="YlOrRd", showscale=True, colorbar=dict(title=dict(text="surprisal (nats)", side="right"), thickness=14))
        fills = surprisal_fills(surprisal, top)
    shapes = [dict(type="rect", x0=col * CHAR_PX + 0.5, x1=(col + w) * CHAR_PX - 0.5, y0=yy - LINE_PX / 2 + 2,
                   y1=yy + LINE_PX / 2 - 2, fillcolor=f, line=dict(width=0), layer="below")
              for (_, col, w), yy, f in zip(places, y, fills)]
    fig.add_scatter(x=x, y=y, mode="text+markers", text=pieces, textfont=dict(family="DejaVu Sans Mono, monospace",
                    size=13, color="#111"), hovertext=hover, hoverinfo="text", marker=marker, showlegend=False,
                    name="tokens")
    if prompt:
        fig.add_scatter(x=[len(prompt) * CHAR_PX / 2], y=[0], mode="text", text=[prompt], showlegend=False,
                        textfont=dict(family="DejaVu Sans Mono, monospace", size=13, color="#1f3b73"),
                        hoverinfo="skip", name="prompt")
    if color == "rank":
        for c, name in rank_legend(ranks):
            fig.add_scatter(x=[None], y=[None], mode="markers", marker=dict(symbol="square", size=14, color=c),
                            name=name, showlegend=True)
    elif color == "allowed":
        n_bad = sum(1 for p in probs if p == 0)
        fig.add_scatter(x=[None], y=[None], mode="markers", marker=dict(symbol="square", size=14, color=IMPOSSIBLE),
                        name=f"impossible under the settings ({fmt.count(n_bad, 'token')})")
        fig.add_scatter(x=[None], y=[None], mode="markers", marker=dict(symbol="square", size=14, color=ALLOWED),
                        name="allowed")
    chosen = sample.steps[0].settings_for(**settings)
    what = {"rank": "rank under the model (GLTR's bands)", "surprisal": "surprisal, -log p (nats)",
            "allowed": f"whether {settings_text(chosen)} allow them"}[color]
    more = [] if len(sample.steps) <= MAX_TOKENS else [f"the first {MAX_TOKENS} of {len(sample.steps):,} tokens"]
    head, top_px = title(f"{len(steps)} tokens coloured by {what}" if color != "allowed" else f"{len(steps)} tokens: {what}", more, height=height)
    span = chars * CHAR_PX + 8
    fig.update_layout(title=head, height=height, width=int(span + 30 + right), shapes=shapes,
                      margin=dict(t=top_px + 50, l=30, r=right, b=20, autoexpand=False), plot_bgcolor="white",
                      xaxis=dict(visible=False, range=[-4, chars * CHAR_PX + 4], fixedrange=True),
                      yaxis=dict(visible=False, range=[-(n_lines - 0.5) * LINE_PX, LINE_PX / 2], fixedrange=True))
    return finish(fig, provenance.for_step(steps[0], chosen, f"text_view ({color})"), legend="above",
                  legend_more=LEGEND)


def rank_histogram(items, labels=None):
    """The share of tokens in each rank band (ranks 1-10, 11-100, 101-1000, > 1000) for several
    texts side by side. `items`: runs (every sample) or samples."""
    if not isinstance(items, (list, tuple)) and not hasattr(items, "samples") and not hasattr(items, "steps"):
        raise TypeError(f"items must be a run, a sample or a list of them, got {type(items).__name__}")
    import plotly.graph_objects as go

    samples = []
    for item in items:
        samples.extend(item.samples if hasattr(item, "samples") else [item])
    labels = labels or [repr((s.prompt or s.text)[:30]) for s in samples]
    if len(labels) != len(samples):
        raise ValueError(f"{len(labels)} labels for {len(samples)} samples; give one label per sample")
    fig = go.Figure()
    names = [label for _, label in RANK_BUCKETS]
    for sample, label in zip(samples, labels):
        buckets = [rank_bucket(step_rank(s)) for s in sample.steps]
        shares = [buckets.count(i) / max(len(buckets), 1) for i in range(len(RANK_BUCKETS))]
        fig.add_bar(name=f"{label} ({fmt.count(len(buckets), 'token')})", x=names, y=shares,
                    customdata=[fmt.prob(v) for v in shares], hovertemplate="%{x}: %{customdata}<extra></extra>")
    head, top_px = title("Where each text's tokens rank under the model", ["share of tokens per rank band (ranks counted from 1)"])
    fig.update_layout(barmode="group", title=head, height=440 + top_px, margin=dict(t=top_px + 60),
                      yaxis=dict(title="share of tokens", tickformat=".0%", range=[0, 1]))
    facts = [provenance.for_step(s.steps[0], None, "rank_histogram") for s in samples if s.steps] or None
    return finish(fig, facts, legend="above", legend_more=LEGEND)
