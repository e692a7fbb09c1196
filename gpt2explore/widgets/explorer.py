"""The explorer of a run (gx.explore); the stepper lives in stepper.py, compare in comparer.py.

The widget is a plain Python object holding its controls; `.widget` is the ipywidgets box that
shows it, and the object displays as that box. Tests drive the object directly (set `.value`,
send the component's messages, read `fig.data`). Slider moves re-draw from stored logits: no
model call.

The explorer's view is the offline page's own component (gpt2explore.widgets.front): the
browser redraws every control at once, exact at every setting from the rows the kernel sends,
and the Python object follows its controls (`fig` is the plotly figure of what it shows, for
gx.save); setting a control in Python moves the view.
"""
from __future__ import annotations

import html
import time

import ipywidgets as W

from ..core import arguments
from ..core.pieces import step_label
from ..core.trace import require_run
from ..figures import plots
from ..figures.style import settings_text
from ..views import page as page_view
from .comparer import Comparer, compare  # noqa: F401  (gx.compare)
from .controls import (  # noqa: F401
    SLIDER_LAYOUT,
    STYLE,
    _Displayable,
    at_layer_or_self,
    layer_slider,
    log_toggle,
    message_html,
    note_html,
    readout_html,
    redraw_or_say,
    set_controls,
    set_one,
    settings_controls,
    settings_values,
    text_html,
)
from .front import Front
from .stepper import LiveStepper
from .why import why_spec


class Explorer(_Displayable):
    """`gx.explore(run)`: pick a sample and a step; sliders reshape its bars live. Clicking a
    bar opens a stepper (the same component) forked at that step with the clicked token forced
    (the run is not touched; it needs the run's model). A run drawn with Gumbel noise works the
    same way: the kernel says what each step's noise draws under the settings shown."""

    page_fallback = True
    CLICKS = [["fork", "fork"], ["why this token", "why"]]  # what a click on a bar does (the click toggle's options)

    def __init__(self, run, n: int = 20):
        self.run, self.n = run, n
        self.sample_select = W.Dropdown(
            options=[(f"{i}: {(s.prompt or '<|endoftext|>')[:60]!r} #{s.index}", i) for i, s in enumerate(run)],
            value=0, description="sample", style=STYLE, layout=W.Layout(width="auto", min_width="420px"))
        self.step_slider = W.IntSlider(value=0, min=0, max=max(len(run[0]) - 1, 0), description="step",
                                       layout=SLIDER_LAYOUT, style=STYLE)
        first = run[0].steps[0] if len(run[0]) else None
        self.controls = settings_controls(first.settings if first is not None else run.settings)
        self.log = log_toggle()
        self.readout, self.text, self.status = W.HTML(), W.HTML(), W.HTML()
        self.forks: list[LiveStepper] = []
        self.forks_box = W.VBox()
        self.click = click_mode("fork")
        self._following = False  # set while the controls move to a step's own settings
        self.layer = layer_slider(first)
        self.fig = plots.next_token_bars(self.step, n=n, **self.settings)
        self.last_update_ms = 0.0
        self._ids: list[int] = []
        self._on_change()  # the first state
        self.sample_select.observe(self._on_sample, names="value")
        self.step_slider.observe(self._on_step, names="value")
        for c in [*self.controls.values(), self.log, self.click] + ([self.layer] if self.layer else []):
            c.observe(self._on_change, names="value")
        data = page_view.page_data(run, kind="explorer", n=n, settings=self.settings, live=True,
                                   title=f"Next-token explorer · {run.model_name}")
        data["layers"] = self.layer.max if self.layer is not None else None
        data["clicks"] = self.CLICKS
        data["why"] = why_spec()  # the "why this token" section: the kernel answers it
        self.view = Front(data, self._view_step, click=self._on_front_click, gone=self.close, state=self._state())
        self.view.observe(self._from_front, names="state")
        self.widget = W.VBox([self.view, self.status, self.forks_box])

    def _state(self) -> dict:
        """The controls as the component reads them."""
        return {"sample": self.sample_select.value, "step": self.step_slider.value, "log": bool(self.log.value),
                "layer": self.layer.value if self.layer is not None else None, "click": self.click.value,
                "settings": dict(self.settings)}

    def _view_step(self, sample: int, step: int, layer):
        """The Step a message of the component asks about (its lens view at `layer`)."""
        s = self.run[sample].steps[step]
        return s if layer is None else s.at_layer(int(layer))

    def _from_front(self, change) -> None:
        """The reader moved the component's controls: the Python object follows (one redraw)."""
        state = change["new"] or {}
        if state == self._state():
            return
        self._following = True
        try:
            self.sample_select.value = state.get("sample", self.sample_select.value)
            self.step_slider.max = max(len(self.sample) - 1, 0)
            self.step_slider.value = state.get("step", self.step_slider.value)
            self.log.value = bool(state.get("log", self.log.value))
            if self.layer is not None and state.get("layer") is not None:
                self.layer.value = state["layer"]
            if state.get("click"):
                self.click.value = state["click"]
            for name, value in (state.get("settings") or {}).items():
                if name in self.controls and self.controls[name].value != value:
                    set_one(self.controls[name], value)
        finally:
            self._following = False
        self._on_change()

    def close(self) -> None:
        """Close the view and every control, and let go of the run."""
        self.view.release()
        super().close()

    def _on_front_click(self, content: dict) -> None:
        """A click on a bar in the component (its sample, step and token)."""
        if self.click.value != "why":  # a click in "why" mode is the front end's own (its why section)
            self.fork_at(int(content["sample"]), int(content["step"]), int(content["token"]))

    @property
    def sample(self):
        return self.run[self.sample_select.value]

    @property
    def step(self):
        return self.sample.steps[self.step_slider.value]

    @property
    def settings(self) -> dict:
        return settings_values(self.controls)

    def _on_sample(self, change=None):
        self.step_slider.max = max(len(self.sample) - 1, 0)
        self._on_change()

    def _on_step(self, change=None):
        """A new step: where the controls showed the old step's own settings, they move to the
        new step's own (a session may change its settings between steps); settings the reader
        chose stay."""
        old = self.sample.steps[min(change["old"], len(self.sample) - 1)] if change else None
        if old is not None and self.settings == old.settings.as_dict() and old.settings != self.step.settings:
            self._following = True
            try:
                set_controls(self.controls, self.step.settings)
            finally:
                self._following = False
        self._on_change()

    def _on_change(self, change=None):
        """Redraw the bars, then the readout, text and clickable ids; settings that cannot go
        together (openai rules with a newer sampler) show on the status line, and what was
        drawn stays."""
        if self._following:
            return
        t0 = time.perf_counter()
        if redraw_or_say(self.status, self._redraw):
            self.last_update_ms = (time.perf_counter() - t0) * 1000
        view = getattr(self, "view", None)
        if view is not None and view.state != self._state():
            view.state = self._state()  # the component follows a control set in Python

    def _redraw(self):
        view = at_layer_or_self(self.step, self.layer)
        with self.fig.batch_update():
            data = plots.redraw_bars(self.fig, view, view.settings_for(**self.settings), n=self.n, log=self.log.value)
        self._ids = data["ids"]  # only once the bars drew: a failed redraw leaves the last ones
        self.readout.value = readout_html(data)  # the cuts come with the view: the pipeline ran once
        self.text.value = text_html(self.sample, highlight=self.step.index)

    def fork_at(self, sample: int, step: int, token) -> LiveStepper | None:
        """A stepper on sample `sample` forked just before step `step`, with `token` forced
        there, going on at the explorer's current settings; shown under the explorer. The run
        itself is not changed."""
        lm = self.run.lm
        if lm is None:
            self.status.value = message_html("this run was loaded from a bundle without its model: "
                                             "gx.load_run(folder, lm=lm) attaches it, so that it can fork")
            return None
        s = self.run[sample]
        try:
            session = lm.session(s.prompt, seed=self.run.seed or 0, sample_index=s.index,
                                 **self.settings).replay(s.steps[:step])
            session.force(token)
        except ValueError as err:  # e.g. a scored text longer than the context: no room to fork there
            self.status.value = message_html(f"cannot fork at step {step}: {err}")
            return None
        child = LiveStepper(session, n=self.n)
        self.forks.append(child)
        forced = session.steps[-1]
        child.caption = (f"<b>fork {len(self.forks)}</b>: sample {session.sample_index}, step {forced.index} forced to "
                         f"{html.escape(repr(step_label(forced, forced.token)))}, then "
                         f"{html.escape(settings_text(session.settings))}")
        self.forks_box.children = tuple(W.VBox([W.HTML(f.caption), f.widget]) for f in self.forks)
        self.status.value = note_html(f"fork {len(self.forks)} opened below: step {forced.index} forced to "
                                         f"{step_label(forced, forced.token)!r}")
        return child


def click_mode(default: str) -> W.ToggleButtons:
    """What a click on a bar does: `default` ("fork" in the explorer, "force" in the stepper) or
    "why this token" (the why section sets that token against the step's own)."""
    return W.ToggleButtons(options=[(default, default), ("why this token", "why")], value=default,
                           description="click a bar", style=STYLE,
                           tooltips=[f"{default} with the clicked token", "why this token and not the clicked one"])


def explore(run, n: int = 20) -> Explorer:
    """Bars of one step of a run (or a session), reshaped live by temperature / top-k / top-p."""
    if not hasattr(run, "samples") and hasattr(run, "run") and not hasattr(run, "token"):  # a Session
        run = run.run
    run, n = require_run(run), arguments.count("n", n)
    if not any(len(s) for s in run.samples):
        raise ValueError("this run has no steps to explore; generate at least one token")
    require_full_rows(run)
    return Explorer(run, n=n)


def require_full_rows(run) -> None:
    """The explorer is exact at every setting from each step's full logits row, redrawn in double
    precision: a run that lacks them is a ValueError naming what shows it instead."""
    steps = [s for x in run.samples for s in x.steps]
    if any(s.truncation is not None for s in steps):
        raise ValueError("gx.explore needs every step's full logits row; this run was loaded from a top-N bundle "
                         "(logits='top'), which keeps each step's likeliest tokens only: explore the run itself or a "
                         "bundle saved with logits='full', or draw one step with gx.next_token_bars(step), which "
                         "says where it is exact")
    if any(s.legacy for s in steps):
        raise ValueError("gx.explore redraws in double precision; this run was drawn by format 1's single-precision "
                         "arithmetic (a bundle of an earlier version): generate the run again, or draw one step "
                         "with gx.next_token_bars(step)")


