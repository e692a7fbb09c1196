"""`gx.inspect(lm, text)`: a text scored once, then explored without the model.

The view is the offline page's own component (gpt2explore.widgets.front, kind "inspect"): the
text coloured by rank, surprisal, or whether the settings allow each token, the settings
sliders, and the bars of one position. Moving a slider recolours at once what the stored
tokens decide in the browser; the kernel answers the rest ({type: "allowed", settings}: each
position's probability of the text's token under those settings), so no position stays
undecided, and the totals and log-probability are Python's. The bars of the shown position are
exact at every setting from the row the kernel sends, as in the explorer.

The Python object keeps the controls (`controls`, `color`, `position`): they follow the
component's, and setting one in Python moves the view. `figure()` is the text view as a plotly
figure and `fig` the bars of the shown position (for gx.save).
"""
from __future__ import annotations

import html
import math
from collections import OrderedDict

import ipywidgets as W
import numpy as np

from ..core import arguments
from ..core import formatting as fmt
from ..core.trace import step_raw_prob
from ..figures import plots
from ..figures.textview import text_colours, text_view
from ..model.generation import require_lm
from ..views import page as page_view
from .controls import (
    SLIDER_LAYOUT,
    STYLE,
    _Displayable,
    redraw_or_say,
    set_one,
    settings_controls,
    settings_values,
)
from .front import Front

COLOURS = ("rank", "surprisal", "allowed")
TOLD_KEPT = 16  # settings whose answers the kernel keeps (a slider moved back and forth asks again)


class Inspector(_Displayable):
    """The logic of `gx.inspect`; tests drive it without a browser."""

    page_fallback = True

    def __init__(self, lm, text, prompt=None, n: int = 15, color: str = "allowed", **settings):
        self.run = lm.score(text, prompt=prompt, **settings)
        self.sample, self.n = self.run[0], n
        self.controls = settings_controls(self.run.settings)
        self.color = W.ToggleButtons(options=list(COLOURS), value=color, description="colour", style=STYLE)
        self.position = W.IntSlider(value=0, min=0, max=len(self.sample) - 1, description="position",
                                    layout=SLIDER_LAYOUT, style=STYLE)
        self.totals, self.status = W.HTML(), W.HTML()
        self._told: OrderedDict = OrderedDict()  # settings -> each position's probability of its token
        self._following, self._log, self._closed = False, False, False
        self.fig = plots.next_token_bars(self.step, n=n, **self.settings)
        self._on_change()  # the first state
        data = page_view.page_data(self.run, kind="inspect", samples=[0], n=n, settings=self.settings, live=True,
                                   title=f"A text, token by token · {self.run.model_name}")
        data["colours"] = text_colours(self.sample)
        self.view = Front(data, self._view_step, gone=self.close, answers={"allowed": self._answer_allowed},
                          state=self._state())
        self.view.observe(self._from_front, names="state")
        for c in [*self.controls.values(), self.color, self.position]:
            c.observe(self._on_change, names="value")
        self.widget = W.VBox([self.view, self.status])

    @property
    def settings(self) -> dict:
        return settings_values(self.controls)

    @property
    def step(self):
        return self.sample.steps[self.position.value]

    def figure(self):
        """What the text view shows now (for gx.save): the text coloured by the current mode."""
        return text_view(self.sample, self.color.value, **self.settings)

    # ---- the kernel's answers ---------------------------------------------------------
    def allowed(self, settings: dict | None = None) -> list[float]:
        """Each position's probability of the text's token under `settings` (the controls' by
        default): step.distribution(**settings)[token], position by position; 0 = impossible."""
        settings = dict(self.settings if settings is None else settings)
        key = tuple(sorted(settings.items()))
        if key in self._told:
            self._told.move_to_end(key)
            return self._told[key]
        probs = [float(s.distribution(**settings)[s.token]) for s in self.sample.steps]
        self._told[key] = probs
        while len(self._told) > TOLD_KEPT:
            self._told.popitem(last=False)
        return probs

    def _answer_allowed(self, content: dict) -> tuple[dict, list]:
        """The component's {type: "allowed", settings}: the probabilities as one float64 buffer,
        with the count of impossible tokens and the log-probability (None when -inf)."""
        settings = dict(content["settings"])
        probs = self.allowed(settings)
        if settings == self.settings:
            self._show_totals(probs)
        logprob = _logprob(probs)
        return ({"type": "allowed", "key": content.get("key"), "impossible": sum(1 for p in probs if p == 0),
                 "logprob": logprob if math.isfinite(logprob) else None},
                [np.asarray(probs, dtype="<f8").tobytes()])

    def _show_totals(self, probs: list[float]) -> None:
        lp_raw, n = _logprob(step_raw_prob(s) for s in self.sample.steps), len(probs)
        self.totals.value = (
            f"<span style='font-family:monospace'>{fmt.count(n, 'token')} · "
            f"<b>{fmt.count(sum(1 for p in probs if p == 0), 'token')}</b> impossible under these settings · "
            f"log-prob under them {fmt.number(_logprob(probs))} · the model's own perplexity "
            f"{fmt.number(math.exp(-lp_raw / n) if n else math.nan, 1)}</span>")

    # ---- the component and the controls ---------------------------------------------------
    def _state(self) -> dict:
        """The controls as the component reads them."""
        return {"sample": 0, "step": self.position.value, "log": self._log, "layer": None, "click": None,
                "settings": dict(self.settings), "colour": self.color.value}

    def _view_step(self, sample: int, step: int, layer):
        """The Step a message of the component asks about."""
        return self.sample.steps[step]

    def _from_front(self, change) -> None:
        """The reader moved the component's controls: the Python object follows. The totals wait
        for the component's own question about these settings, unless the answer is known."""
        state = change["new"] or {}
        if state == self._state():
            return
        self._following = True
        try:
            self._log = bool(state.get("log", self._log))
            if state.get("colour") in COLOURS:
                self.color.value = state["colour"]
            self.position.value = int(state.get("step", self.position.value))
            for name, value in (state.get("settings") or {}).items():
                if name in self.controls and self.controls[name].value != value:
                    set_one(self.controls[name], value)
        finally:
            self._following = False
        self._on_change(known_only=True)

    def _on_change(self, change=None, known_only: bool = False):
        """Redraw the bars and the totals (settings that cannot go together show as a message),
        and move the component to the controls set in Python."""
        if self._following:
            return
        redraw_or_say(self.status, lambda: self._redraw(known_only))
        view = getattr(self, "view", None)
        if view is not None and view.state != self._state():
            view.state = self._state()

    def _redraw(self, known_only: bool) -> None:
        step, settings = self.step, self.settings
        with self.fig.batch_update():
            plots.redraw_bars(self.fig, step, step.settings_for(**settings), n=self.n,
                              heading=f"Position {step.index}: the text has {html.escape(repr(step.text))}")
        key = tuple(sorted(settings.items()))
        if not known_only or key in self._told:
            self._show_totals(self.allowed(settings))
        else:
            self.totals.value = ""  # the component asks for these settings; its answer fills the totals

    def close(self) -> None:
        """Close the view and every control, and let go of the run (a second call does nothing more)."""
        if not self._closed:
            self._closed = True
            self.view.unobserve(self._from_front, names="state")
            self.view.release()
        self._told.clear()
        super().close()


def _logprob(probs) -> float:
    """The sum of log p in the text's order (-inf when any p is 0), as run.summary adds it."""
    return sum(math.log(p) if p > 0 else -math.inf for p in probs)


def inspect(lm, text, prompt=None, n: int = 15, color: str = "allowed", **settings) -> Inspector:
    """Score `text` once and explore it: the coloured text view, settings sliders that recolour
    the tokens those settings forbid, and the bars at any position."""
    lm, n = require_lm(lm), arguments.count("n", n)
    arguments.choice("color", color, ("rank", "surprisal", "allowed"))
    return Inspector(lm, text, prompt=prompt, n=n, color=color, **settings)
