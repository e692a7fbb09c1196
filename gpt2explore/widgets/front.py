"""The notebook widgets' front end: the page's own component (gpt2explore/frontend) as an
anywidget module. Python sends the page's view data (gpt2explore.views.page) in the `data`
trait; the component renders it and handles every control, and sends the controls' state back
in the `state` trait. What needs the kernel is a message:

- {type: "row", sample, step, layer}: the step's full logits row (the logit lens's row at
  `layer`), as binary buffers in the row's order by raw logit, highest first: ids (int32),
  logits and the step's own distribution (float64); the browser's arithmetic then has nothing
  left to bound, so every setting is exact.
- {type: "dist", sample, step, layer, settings}: a distribution the browser cannot compute (a
  sampler registered in Python), in the same order, with the token the step's u draws there.
- {type: "drawn", sample, step, layer, settings}: the token the step's Gumbel noise draws under
  `settings` (a run or session drawn with coupling="gumbel": one number per vocabulary token,
  which the browser does not hold).
- {type: "labels", ids}: the labels of tokens the data does not carry.
- {type: "why", sample, step, vs, att_layer, head}: the "why this token" section's data
  (views.why): the step's direct logit attribution against `vs` and its attention.
- {type: "click", ...}: handed to the widget's own handler (fork, explain).
- any other type a widget answers itself (`answers`): e.g. the inspector's {type: "allowed",
  settings}, each position's probability of the text's token under those settings.
- {type: "gone"}: the component's last view was removed (its cell re-run or cleared, its output
  closed): the widget closes itself and lets go of its run or session, so that re-running a cell
  does not pile up runs. A closed widget is not shown again; make a new one.
"""
from __future__ import annotations

import anywidget
import numpy as np
import torch
import traitlets

from .. import frontend
from ..core import sampling
from ..core.tokens import token_label
from ..views.why import why_data

TOP_LABELS = 300  # labels sent with a row: above the bars shown up to the cut (60) and the top-k slider's 200


# the notebook's compact rows: three controls a row, so that the controls and the bars are on a
# 1280x800 screen together beside JupyterLab's file browser; compare's columns share the output's
# width, two side by side there (each at least 380 px), three or more wrap
LIVE_CSS = """
.gx-live.gx-page { max-width: 100%; margin: 0; }
.gx-live.gx-page .gx-row, .gx-live.gx-page .gx-controls { gap: 2px 14px; margin: 2px 0; }
.gx-live.gx-page .gx-controls .gx-control { width: 290px; }
.gx-live.gx-page .gx-name { width: 84px; }
.gx-live.gx-page input[type=range] { width: 130px; }
.gx-live.gx-page .gx-value { min-width: 4em; white-space: nowrap; }
.gx-live.gx-page select.gx-sample { max-width: 300px; }
.gx-live.gx-page .gx-readout { margin: 2px 0; }
.gx-live.gx-page .gx-text { margin: 2px 0; }
.gx-live.gx-inspect .gx-text { line-height: 1.45; max-height: calc(6 * 1.45em); overflow-y: auto; scrollbar-width: thin; scrollbar-color: #9a9a9a #eee; }  /* a long text scrolls, six whole lines shown: the bars stay on screen */
.gx-live.gx-inspect .gx-key { margin: 2px 0; }
.gx-page .gx-more { display: flex; flex-wrap: wrap; gap: 2px 14px; width: 100%; }
.gx-page .gx-more summary { cursor: pointer; color: #1f5fa8; width: 100%; }
.gx-page .gx-more:not([open]) { width: auto; }
.gx-live.gx-page .gx-columns { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 0 10px; }
.gx-live.gx-page .gx-column { width: auto; }
.gx-live.gx-page .gx-summary { margin: 2px 0; font-size: 13px; }
"""


def esm() -> str:
    """The page's script with an ES module's default export: one source for both homes."""
    return frontend.script() + "\nexport default { render: function (ctx) { return window.GX.render(ctx); } };\n"


class Front(anywidget.AnyWidget):
    """One explorer view (kind "explorer", ...); `on_click(fn)` receives the click messages."""

    _esm = esm()
    _css = frontend.read("page.css") + LIVE_CSS
    data = traitlets.Dict().tag(sync=True)
    state = traitlets.Dict().tag(sync=True)

    def __init__(self, data: dict, steps, click=None, gone=None, answers=None, **kwargs):
        """`steps(sample, step, layer)` gives the Step (or lens view) a message asks about;
        `gone()` closes the widget that owns this view once its last view is removed (by
        default the view releases itself); `answers` maps a message type to the widget's own
        answer, `fn(content) -> (reply, buffers)`."""
        super().__init__(data=data, **kwargs)
        self._steps, self._click, self._gone = steps, click, gone
        self._answers = dict(answers or {})
        self.on_msg(self._on_msg)

    def _on_msg(self, _widget, content, buffers=None):
        kind = content.get("type")
        if kind == "gone":
            gone = self._gone
            if gone is not None:
                gone()
            self.release()
            return
        if kind == "click":
            if self._click is not None:
                self._click(content)
            return
        try:
            own = self._answers.get(kind)
            reply, out = own(content) if own is not None else answer(content, self._steps)
        except (ValueError, IndexError, KeyError) as err:
            reply, out = {"type": "status", "key": content.get("key"), "text": str(err)}, []
        reply["ask"] = content.get("ask")  # what the component asked: it waits for this reply
        self.send(reply, buffers=out)

    def release(self) -> None:
        """Forget the run (its steps) and close the view."""
        self._steps = self._click = self._gone = None
        self._answers = {}
        self.close()


def row_order(logits: torch.Tensor) -> torch.Tensor:
    """Token ids by raw logit, highest first, ties by the lower id (the order a page stores)."""
    return torch.sort(logits.double(), descending=True, stable=True).indices


def answer(content: dict, steps) -> tuple[dict, list]:
    """The kernel's reply to one message and its binary buffers."""
    kind, key = content.get("type"), content.get("key")
    if kind == "labels":
        step = steps(0, 0, None)
        return {"type": "labels", "key": key, "labels": {str(int(i)): token_label(step, int(i)) for i in content["ids"]}}, []
    step = steps(int(content["sample"]), int(content["step"]), content.get("layer"))
    if kind == "why":  # the step itself (not a lens view): its attribution and attention
        vs = content.get("vs")
        head = content.get("head")
        return {"type": "why", "key": key, **why_data(step, None if vs is None else int(vs),
                                                      int(content.get("att_layer", -1)),
                                                      None if head is None else int(head))}, []
    if kind == "drawn":
        return {"type": "drawn", "key": key, "drawn": drawn_under(step, dict(content["settings"]))}, []
    logits = step.require_logits().double()
    order = row_order(logits)
    if kind == "row":
        own = step.distribution().double()
        top = order[:TOP_LABELS].tolist() + ([int(step.token)] if step.token >= 0 else [])
        msg = {"type": "row", "key": key, "own_kept": int(sampling.nucleus_size(own)),
               "own_entropy": float(sampling.entropy(own)),
               "labels": {str(i): token_label(step, i) for i in top}}
        return msg, [order.numpy().astype("<i4").tobytes(), logits[order].numpy().astype("<f8").tobytes(),
                     own[order].numpy().astype("<f8").tobytes()]
    if kind == "dist":
        settings = dict(content["settings"])
        probs = step.distribution(**settings).double()
        drawn = drawn_under(step, settings)
        return {"type": "dist", "key": key, "drawn": drawn}, [probs[order].numpy().astype("<f8").tobytes()]
    raise ValueError(f"unknown message type {kind!r}")


def drawn_under(step, settings: dict) -> int | None:
    """The token the step's noise (its u, or its Gumbel noise) draws under `settings`; None for
    a step without noise (a scored text's)."""
    return None if step.u is None and step.noise is None else int(step.resample(**settings))


def decode(buffer: bytes, dtype) -> np.ndarray:
    """A reply's buffer read back (tests)."""
    return np.frombuffer(buffer, dtype=np.dtype(dtype).newbyteorder("<"))
