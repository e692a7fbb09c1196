"""Attention figures: what the position that produced a step's logits looked at (the context
as text, each token shaded by its attention weight), and a layers x heads overview."""
from __future__ import annotations

from ..core import formatting as fmt
from ..core import provenance
from ..core.pieces import step_label
from ..core.trace import require_step
from ..views.attention import attention_data, attention_overview_data
from .style import FIGURE_MAX_PX, finish, title

CHAR_PX, PAD_PX, LINE_PX, LINE_PX_MAX = 10.0, 8.0, 34, 780  # a 16 px monospace character, the room between tokens

SHADE = (217, 84, 30)  # the drawn token's orange: the more attention, the deeper


def _places(pieces: list[str]) -> tuple[list[tuple[int, float, float]], int]:
    """(line, x, width) in pixels of each token's box, wrapping at LINE_PX_MAX (newlines break)."""
    out, line, x = [], 0, 0.0
    for text in pieces:
        w = max(len(text), 1) * CHAR_PX + PAD_PX
        if x + w > LINE_PX_MAX and x > 0:
            line, x = line + 1, 0.0
        out.append((line, x, w))
        x += w
        if text.endswith("↵"):
            line, x = line + 1, 0.0
    return out, line + 1


def _fill(w: float, top: float) -> str:
    a = 0.06 + 0.9 * (w / top if top > 0 else 0)
    return f"rgba({SHADE[0]},{SHADE[1]},{SHADE[2]},{a:.3f})"


def attention_view(step, layer: int = -1, head=None):
    """The step's context as text, each token shaded by the attention the step's position gave
    it at `layer` (-1 = the last), for one `head` or the mean of the layer's heads (None).
    Hover: the weight. Needs a run made with attention=True."""
    step = require_step(step)
    import plotly.graph_objects as go

    d = attention_data(step, layer, head)
    pieces = d["pieces"]
    places, n_lines = _places(pieces)
    top = max(d["weights"]) if d["weights"] else 1.0
    x = [x0 + w / 2 for _, x0, w in places]
    y = [-line * LINE_PX for line, _, _ in places]
    shapes = [dict(type="rect", x0=x0 + 1, x1=x0 + w - 1, y0=yy - LINE_PX / 2 + 3, y1=yy + LINE_PX / 2 - 3,
                   fillcolor=_fill(wt, top), line=dict(width=2 if i == d["position"] else 0, color="#222"),
                   layer="below")
              for i, ((_, x0, w), yy, wt) in enumerate(zip(places, y, d["weights"]))]
    hover = [f"<b>{label}</b> (position {i}{', prompt' if p else ''})<br>attention {fmt.prob(wt)}"
             for i, (label, wt, p) in enumerate(zip(d["labels"], d["weights"], d["in_prompt"]))]
    fig = go.Figure()
    fig.add_scatter(x=x, y=y, mode="text+markers", text=pieces, hovertext=hover, hoverinfo="text",
                    textfont=dict(family="DejaVu Sans Mono, monospace", size=16,
                                  color=["#1f3b73" if p else "#111" for p in d["in_prompt"]]),
                    marker=dict(symbol="square", size=1, opacity=0), showlegend=False, name="context")
    which = f"head {d['head']}" if d["head"] is not None else f"the mean of its {d['n_head']} heads"
    drawn = repr(step_label(step, step.token)) if step.token >= 0 else "the next token"
    order = sorted(range(len(d["weights"])), key=lambda i: -d["weights"][i])[:3]
    most = ", ".join(f"{d['labels'][i]!r} {fmt.prob(d['weights'][i])}" for i in order)
    height = max(210, n_lines * LINE_PX + 190)
    head_text, top_px = title(f"What step {step.index}'s position attended to, before {drawn}",
                              [f"layer {d['layer']} (layers 0–{d['n_layer'] - 1}), {which} · darker = more attention · "
                               f"blue text: the prompt · boxed: the position itself (its own token, the last one)",
                               f"most: {most}"], height=height)
    fig.update_layout(title=head_text, height=height, width=min(FIGURE_MAX_PX, int(LINE_PX_MAX + 60)), shapes=shapes,
                      margin=dict(t=top_px + 20, l=30, r=30, b=20, autoexpand=False),
                      xaxis=dict(visible=False, range=[-4, LINE_PX_MAX + 4], fixedrange=True),
                      yaxis=dict(visible=False, range=[-(n_lines - 0.5) * LINE_PX, LINE_PX / 2], fixedrange=True))
    facts = provenance.for_step(step, None, "attention_view")
    return finish(fig, facts, meta={"layer": d["layer"], "head": d["head"]})


def attention_overview(step):
    """Layers x heads: where each head of each layer looked most (the token in the cell) and
    how much (the colour), for the step's position. Needs a run made with attention=True."""
    step = require_step(step)
    import plotly.graph_objects as go

    d = attention_overview_data(step)
    hover = [[f"layer {layer}, head {h}: most on <b>{tok}</b> ({fmt.prob(w)}) · prompt share {fmt.prob(s)}"
              for h, (tok, w, s) in enumerate(zip(toks, ws, ss))]
             for layer, (toks, ws, ss) in enumerate(zip(d["token"], d["weight"], d["prompt_share"]))]
    text = [[t if len(t) <= 9 else t[:8] + "…" for t in row] for row in d["token"]]
    fig = go.Figure(go.Heatmap(z=d["weight"], x=list(range(d["n_head"])), y=list(range(d["n_layer"])),
                               colorscale="Oranges", zmin=0, zmax=1, text=text, texttemplate="%{text}",
                               textfont=dict(size=11), hovertext=hover, hoverinfo="text",
                               colorbar=dict(title="weight", thickness=12)))
    drawn = repr(step_label(step, step.token)) if step.token >= 0 else "the next token"
    height = 190 + 34 * d["n_layer"]
    width = min(FIGURE_MAX_PX, max(600, 160 + 70 * d["n_head"]))
    head_text, top_px = title(f"Where each head looked most at step {step.index}, before {drawn}",
                              ["cell: the context token that head attended to most; colour: its weight"],
                              width=width // 8, height=height)
    fig.update_layout(title=head_text, height=height, width=width,
                      margin=dict(t=top_px + 10, l=70, r=20, b=60),
                      xaxis=dict(title="head", tickmode="linear", dtick=1), yaxis=dict(title="layer", tickmode="linear",
                                                                                        dtick=1))
    return finish(fig, provenance.for_step(step, None, "attention_overview"))
