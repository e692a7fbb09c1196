"""Offline pages: an explorer, a comparison or an inspected text as ONE self-contained HTML file
(or a fragment to paste into a blog) whose controls work in any browser, with no network and no
Python. The page carries the run's view data (gpt2explore.views.page) and a small script that
recomputes every distribution in the browser, in double precision and in the registry's stage
order, so it shows the notebook's numbers: exact where the stored tokens decide them, otherwise
with a bound it proves, and marked approximate.

    gx.save(gx.explore(run), "explorer.html")               # a whole page
    gx.save(gx.explore(run), "explorer.html", embed=True)   # a fragment: no <html>, <head>
    gx.page(run)                                            # the same as a string (shows as the page)

Each page's root element carries the class gx-explorer (gx-compare, gx-inspect) and a handle,
`el.gx`: `el.gx.set({step: 3, temperature: 0.5})` returns a Promise resolved once the figure is
redrawn, `el.gx.shown()` returns {step, exact, bound, drawn, tokens: [{id, p, lo, hi}, ...]},
`el.gx.draw(100)` overlays 100 fresh draws. Several fragments on one page keep their own state.
"""
from __future__ import annotations

import html
import json
import secrets

from .. import frontend
from ..core import arguments, provenance
from ..views import compare as compare_view
from ..views import page as page_view

KINDS = ("explorer", "compare", "inspect")


def _json_for_script(data: dict) -> str:
    text = json.dumps(data, allow_nan=False, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c")  # no "</script>" or "<!--" can end or bend the script element


def fragment(data: dict) -> str:
    """One page's HTML fragment: its root element, styles, data and script (no <html>/<head>).
    Two fragments on one page share the script (it defines itself once) and keep separate state."""
    kind = data["kind"]
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    uid = "gx-" + secrets.token_hex(4)
    label = html.escape(data.get("title") or f"gpt2explore {kind}")
    return (f'<div class="gx-page gx-{kind}" id="{uid}" role="figure" aria-label="{label}">'
            f"<style>{frontend.read('page.css')}</style>"
            f'<script type="application/json" class="gx-data">{_json_for_script(data)}</script>'
            f"<noscript>This gpt2explore {kind} needs JavaScript to draw its figure.</noscript>"
            f"<script>{frontend.script()}\nGX.mountAll();</script></div>")


def document(data: dict, part: str | None = None) -> str:
    """A whole HTML document around one fragment (`part`, made from `data` when not given)."""
    title = html.escape(data.get("title") or f"gpt2explore {data['kind']}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{title}</title>"
            '<script type="application/json" id="gpt2explore-provenance">'
            f"{_json_for_script(data.get('facts') or {})}</script></head>"
            f"<body style=\"margin:16px\">{part or fragment(data)}</body></html>\n")


def data_of(obj, n: int | None = None) -> dict:
    """The page data of a widget (explore, compare, inspect: at its current settings) or a run."""
    kind, run, settings, samples = "explorer", obj, None, None
    name = type(obj).__name__
    if hasattr(obj, "run") and name in ("Explorer", "Comparer", "Inspector"):
        run = obj.run
        kind = {"Explorer": "explorer", "Comparer": "compare", "Inspector": "inspect"}[name]
        settings = dict(obj.settings)
        n = n or getattr(obj, "n", None)
    elif not hasattr(obj, "samples"):
        raise TypeError(f"obj must be a run or a widget of gx.explore / gx.compare / gx.inspect, got {name}")
    elif run.meta.get("scored"):
        kind = "inspect"
    if kind == "inspect":
        samples = [0]
    first = next((s.steps[0] for s in run.samples if s.steps), None)
    if first is None:
        raise page_view.PageError("this run has no steps to show; generate at least one token")
    facts = provenance.for_step(first, None, f"page ({kind})")
    title = {"explorer": "Next-token explorer", "compare": "Prompts compared with the same draws",
             "inspect": "A text, token by token"}[kind]
    data = page_view.page_data(run, kind=kind, samples=samples, n=n or (12 if kind == "compare" else 20),
                               facts=facts, settings=settings, title=f"{title} · {run.model_name}")
    state = getattr(getattr(obj, "view", None), "state", None) if run is not obj else None
    if state:  # the page opens where the widget is: its sample, step, scale and colouring
        data["open"] = {k: state[k] for k in ("sample", "step", "log", "colour") if state.get(k)}
    if kind == "compare":
        data["summaries"] = compare_summaries(run, data["start"])
    return data


def compare_summaries(run, settings: dict) -> dict:
    """How the columns of each sample number differ at each step, at the page's starting settings
    (the kernel's words, as the live widget says them), keyed "sample:step" (the sample's place
    among the numbers): a page shows them while its controls are at those settings."""
    numbers = list(dict.fromkeys(s.index for s in run.samples))  # in the run's order, as the page's selector
    coupling = run.meta.get("coupling", "cdf")
    out = {}
    for place, number in enumerate(numbers):
        columns = [s for s in run.samples if s.index == number]
        prompts = [c.prompt for c in columns]
        for step in range(min(len(c.steps) for c in columns)):
            try:
                out[f"{place}:{step}"] = compare_view.summary_html([c.steps[step] for c in columns], prompts, settings,
                                                                   coupling, run.seed, step)
            except ValueError:  # settings that cannot go together: the page says so itself
                break
    return out


class Page(str):
    """A page's HTML: a whole document, or a fragment (`embed=True`). It is a str (write it
    anywhere); in a notebook it shows as the living page itself."""

    fragment: str = ""

    def _repr_html_(self) -> str:
        return self.fragment

    def __repr__(self) -> str:
        kind = "fragment" if self == self.fragment else "document"
        return f"<gpt2explore page: an HTML {kind} of {len(self.encode()) / 2**20:.2f} MiB>"


def page(obj, embed: bool = False, n: int | None = None) -> Page:
    """The page of a widget (at its current settings) or of a run: a whole HTML document, or
    with `embed` a fragment; `n` bars per figure. In a notebook it shows as the page."""
    if n is not None:
        n = arguments.count("n", n)
    data = data_of(obj, n)
    part = fragment(data)
    out = Page(part if embed else document(data, part))
    out.fragment = part
    return out
