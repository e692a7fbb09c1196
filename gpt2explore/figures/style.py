"""The look every figure shares: print-friendly template, colours, token labels, settings text,
and `finish`, the last step of every builder (template, legend, provenance)."""
from __future__ import annotations

from ..core.pieces import step_label  # noqa: F401  (a token as a step names it: whole characters)
from ..core.settings import describe
from ..core.tokens import show_token, token_label  # noqa: F401  (token_label's home is tokens.py)

FONT = dict(family="Helvetica, Arial, sans-serif", size=14, color="#222")
RAW_COLOR, KEPT_COLOR, CUT_COLOR, CHOSEN_COLOR = "#9db7d5", "#1f5fa8", "#8a8a8a", "#d9541e"
LOG_TICKS = [1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1]
# the widest figure: JupyterLab's output area beside the open file browser is 848 px in a 1280-px
# window (953 in 1400), less a desktop scroll bar (15 px) and room to spare (tests/test_fit.py)
FIGURE_MAX_PX = 800


def template():
    """The print-friendly look every figure shares: white, readable, no clutter."""
    import plotly.graph_objects as go

    return go.layout.Template(layout=dict(
        font=FONT, paper_bgcolor="white", plot_bgcolor="white", bargap=0.15,
        margin=dict(l=80, r=20, t=80, b=100), hoverlabel=dict(font_size=13),
        xaxis=dict(showline=True, linecolor="#444", ticks="outside", gridcolor="#eee", automargin=True),
        yaxis=dict(showline=True, linecolor="#444", ticks="outside", gridcolor="#e5e5e5", zeroline=False,
                   automargin=True),
        legend=dict(x=0.99, y=0.99, xanchor="right", yanchor="top", bgcolor="rgba(255,255,255,0.85)"),
    ))


# where legends go: "above", a row over the plot (room for it is left by `title`); "right", a
# column beside it (the figure keeps a right margin for it)
LEGENDS = {
    "above": dict(orientation="h", x=0, xanchor="left", y=1.02, yanchor="bottom", bgcolor="rgba(255,255,255,0)"),
    "right": dict(orientation="v", x=1.02, y=1, xanchor="left", yanchor="top"),
}


def legend_rows(names, width: int = 700, char_px: float = 8.0, item_px: int = 46) -> int:
    """How many rows a horizontal legend of these entries takes across `width` pixels (a swatch
    and its gap, then the name at about char_px a character), so a figure can leave room for them."""
    rows, used = 1, 0.0
    for name in names:
        w = item_px + char_px * len(str(name))
        if used and used + w > width:
            rows, used = rows + 1, 0.0
        used += w
    return rows


def finish(fig, facts, legend: str | None = None, legend_more: dict | None = None, meta: dict | None = None):
    """The last step of every builder, so that every figure has the same look and says where it
    came from: the shared template; the legend in one of the shared places (`legend`, a key of
    LEGENDS, with `legend_more` changed on it; None leaves the legend to the template); and the
    provenance `facts` (`gpt2explore.core.provenance.for_step`, or a list of them) in
    `layout.meta["gpt2explore"]`, where `gx.caption` and the exports read them, beside `meta`.
    A table (a DataFrame: `log_ratio_table`) has no look: it gets the facts in `attrs`."""
    if not hasattr(fig, "layout"):  # a table
        fig.attrs["gpt2explore"] = facts
        return fig
    fig.update_layout(template=template())
    if legend is not None:
        if legend not in LEGENDS:
            raise ValueError(f"legend must be one of {', '.join(LEGENDS)} or None, got {legend!r}")
        fig.update_layout(legend={**LEGENDS[legend], **(legend_more or {})})
    fig.layout.meta = {"gpt2explore": facts, **(meta or {})}
    return fig


def settings_text(settings) -> str:
    """'T=0.7, top-k=40, no top-p, min-p=0.1, hf rules' (gpt2explore.core.settings.describe)."""
    return describe(settings)


def nice_step(span: float, target: int = 5) -> float:
    """A round tick step (1, 2 or 5 x 10^k) giving about `target` ticks over `span`."""
    import math

    if span <= 0:
        return 1.0
    raw = span / target
    base = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * base >= raw:
            return m * base
    return 10 * base


SUB_SIZE = 12  # px, the smaller lines under a title
# px a title line takes, the smaller ones too: plotly spaces a title's lines by 1.3 x its font (1.4 x the
# layout's 14 px), whatever size a line's own <span> sets
LINE_PX = 26


def title(main: str, subs=(), width: int = 88, height: int = 460) -> tuple[dict, int]:
    """A title with smaller lines under it (each wrapped at `width` characters), and the top
    margin in pixels it needs (plus room for a legend row above the plot). Plotly places a
    multi-line title by its first line, so that line is put 34 px below the top of a figure
    `height` pixels high."""
    heads = wrap_phrases(main, int(width * 0.8)) or [""]  # the first line's font is larger: fewer characters
    lines = [w for s in subs if s for w in wrap_phrases(s, width)]
    text = "<br>".join(heads) + "".join(f"<br><span style='font-size:{SUB_SIZE}px'>{line}</span>" for line in lines)
    return dict(text=text, x=0.5, xanchor="center", y=1 - 34 / height, yref="container",
                yanchor="bottom"), 50 + LINE_PX * (len(heads) - 1 + len(lines))


def wrap_phrases(text: str, width: int) -> list[str]:
    """Lines of at most `width` characters, broken between the " · " phrases of `text` where it
    can ("... · the run drew ' not'" stays on one line), inside a phrase only when the phrase
    alone is longer than a line. Pages wrap their subtitles by the same rule."""
    import textwrap

    lines: list[str] = []
    line = ""
    for phrase in text.split(" · "):
        joined = f"{line} · {phrase}" if line else phrase
        if len(joined) <= width:
            line = joined
            continue
        if line:
            lines.append(line + " ·")
        pieces = textwrap.wrap(phrase, width) or [""]
        lines.extend(pieces[:-1])
        line = pieces[-1]
    if line:
        lines.append(line)
    return lines


def bottom_margin(labels, angle: float = 45) -> int:
    """Pixels below the axis that tick labels slanted at `angle` degrees need (14 px font)."""
    import math

    longest = max((len(label) for label in labels), default=1)
    return int(36 + 8.2 * longest * math.sin(math.radians(angle)))
