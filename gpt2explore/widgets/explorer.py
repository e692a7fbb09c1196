"""Notebook widgets: explore (a run) and stepper (a session); compare lives in comparer.py.

Each widget is a plain Python object holding its controls and figures; `.widget` is the
ipywidgets box that shows them, and the object displays as that box. Tests drive the objects
directly (set `.value`, call `.click()`, call the click handlers, read `fig.data`). Slider
moves re-draw from stored logits: no model call.

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
from ..core.trace import require_run
from ..figures import plots
from ..figures.style import settings_text
from ..views import page as page_view
from .comparer import Comparer, compare  # noqa: F401  (gx.compare)
from .controls import (  # noqa: F401
    SLIDER_LAYOUT,
    STYLE,
    _Displayable,
    figure_widget,
    log_toggle,
    message_html,
    readout_html,
    redraw_or_say,
    set_controls,
    settings_box,
    settings_controls,
    settings_values,
    text_html,
)
from .controls import set_one as _set_one
from .front import Front
from .why import WhyPanel

CLICKABLE = (0, 1, 2)  # the bar traces of next_token_bars: a click on any picks that token


class Explorer(_Displayable):
    """`gx.explore(run)`: pick a sample and a step; sliders reshape its bars live. Clicking a
    bar opens a stepper forked at that step with the clicked token forced (the run is not
    touched; it needs the run's model)."""

    page_fallback = True
    CLICKS = [["fork", "fork"], ["explain", "why"]]  # what a click on a bar does (the click toggle's options)

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
        self.forks: list[Stepper] = []
        self.forks_box = W.VBox()
        self.why = WhyPanel()
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
        try:
            data = page_view.page_data(run, kind="explorer", n=n, settings=self.settings, live=True,
                                       title=f"Next-token explorer · {run.model_name}")
        except page_view.PageError:  # e.g. a top-N bundle: its steps lack the full rows the component needs
            self.view = None
            self.widget = self._plotly_widget()
            return
        data["layers"] = self.layer.max if self.layer is not None else None
        data["clicks"] = self.CLICKS
        self.view = Front(data, self._view_step, click=self._on_front_click, gone=self.close, state=self._state())
        self.view.observe(self._from_front, names="state")
        self.widget = W.VBox([self.view, self.status, self.why.widget, self.forks_box])

    def _plotly_widget(self) -> W.VBox:
        """The ipywidgets view, for a run whose steps lack their full logits (a top-N bundle):
        Python redraws each move, marked exact or approximate as its figure says."""
        self.fig = figure_widget(self.fig)
        for t in CLICKABLE:
            self.fig.data[t].on_click(self._on_click)
        return W.VBox([
            W.HBox([self.sample_select, self.step_slider]),
            settings_box(self.controls), W.HBox([self.log, self.click] + ([self.layer] if self.layer else [])),
            self.readout, self.fig, self.status, self.text, self.why.widget, self.forks_box])

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
                    _set_one(self.controls[name], value)
        finally:
            self._following = False
        self._on_change()

    def close(self) -> None:
        """Close the view and every control, and let go of the run."""
        if self.view is not None:
            self.view.release()
        super().close()

    def _on_front_click(self, content: dict) -> None:
        """A click on a bar in the component (its sample, step and token)."""
        token = int(content["token"])
        if self.click.value == "why":
            self.why.explain(token)
        else:
            self.fork_at(int(content["sample"]), int(content["step"]), token)

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
            data = plots.update_bars(self.fig, view, n=self.n, log=self.log.value, **self.settings)
        self._ids = data["ids"]  # only once the bars drew: a failed redraw leaves the last ones
        self.readout.value = readout_html(data)  # the cuts come with the view: the pipeline ran once
        self.text.value = text_html(self.sample, highlight=self.step.index)
        if hasattr(self, "why"):
            self.why.show(self.step, self._ids)

    def _on_click(self, trace, points, selector=None):
        """A click on a bar forks there with that token forced, or (click mode "explain") asks
        the why panel to set that token against the step's own."""
        token = clicked_token(trace, points, self._ids)
        if token is None:
            return
        if self.click.value == "why":
            self.why.explain(token)
        else:
            self.fork_at(self.sample_select.value, self.step_slider.value, token)

    def fork_at(self, sample: int, step: int, token) -> "Stepper | None":
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
        child = Stepper(session, n=self.n)
        self.forks.append(child)
        self.forks_box.children = tuple(
            W.VBox([W.HTML(f"<b>fork {i + 1}</b>: sample {f.session.sample_index}, step "
                           f"{len(f.session.steps) - 1} forced, then {html.escape(settings_text(f.session.settings))}"),
                    f.widget])
            for i, f in enumerate(self.forks))
        self.status.value = ""
        return child


class Stepper(_Displayable):
    """The ipywidgets stepper a click in the explorer forks (gx.stepper and session.widget() are
    the page's own component: gpt2explore.widgets.stepper): Next, Next ×N, Back, Force, Fork, with
    live bars of the next token's distribution. Clicking a bar forces that token. Calling
    `session.step()` in another cell updates the same view."""

    def __init__(self, session, n: int = 20):
        self.session, self.n = session, n
        self.next_btn = W.Button(description="Next", button_style="primary", icon="step-forward")
        self.next_n_btn = W.Button(description="Next ×N")
        self.n_box = W.BoundedIntText(value=5, min=1, max=1000, description="N", layout=W.Layout(width="120px"))
        self.back_btn = W.Button(description="Back", icon="step-backward")
        self.force_text = W.Text(placeholder="a token, e.g. ' John'", description="force",
                                 layout=W.Layout(width="260px"))
        self.force_btn = W.Button(description="Force")
        self.fork_btn = W.Button(description="Fork", icon="code-fork")
        self.controls = settings_controls(session.settings)
        self.log = log_toggle()
        self.readout, self.text, self.status = W.HTML(), W.HTML(), W.HTML()
        self.forks: list[Stepper] = []
        self.forks_box = W.VBox()
        self._ids: list[int] = []
        self.why = WhyPanel()
        self.click = click_mode("force")
        self.layer = layer_slider(session.next_step)
        self.fig = plots.next_token_bars(session.next_step, n=n)
        self.refresh()  # the first state, on a plain figure
        self.fig = figure_widget(self.fig)
        self.next_btn.on_click(lambda _: self._do(self.session.step))
        self.next_n_btn.on_click(lambda _: self._do(self.session.step, self.n_box.value))
        self.back_btn.on_click(lambda _: self._do(self.session.back))
        self.force_btn.on_click(lambda _: self._do(self.session.force, self.force_text.value))
        self.fork_btn.on_click(lambda _: self.fork())
        for name, c in self.controls.items():
            c.observe(lambda change, name=name: self._on_settings(name, change), names="value")
        self.log.observe(lambda _: self.refresh(), names="value")
        if self.layer is not None:
            self.layer.observe(lambda _: self.refresh(), names="value")
        for t in CLICKABLE:
            self.fig.data[t].on_click(self._on_click)
        session.on_change(self._on_session)
        self.widget = W.VBox([
            W.HBox([self.next_btn, self.next_n_btn, self.n_box, self.back_btn, self.force_text,
                    self.force_btn, self.fork_btn]),
            settings_box(self.controls), W.HBox([self.log, self.click] + ([self.layer] if self.layer else [])),
            self.status, self.text, self.readout, self.fig, self.why.widget, self.forks_box])

    def _do(self, fn, *args, **kwargs):
        """Run a session move; a bad input shows as a message (until the next move that
        works), not an exception."""
        try:
            fn(*args, **kwargs)
            self.status.value = ""
        except ValueError as err:
            self.status.value = message_html(str(err))
            self.refresh()  # whatever the move did before it failed is shown

    def _on_settings(self, name: str, change) -> None:
        """Only the control that moved changes the session's settings."""
        self._do(self.session.set, **{name: change["new"]})

    def _on_session(self, session) -> None:
        self.status.value = ""
        self.refresh()

    def _on_click(self, trace, points, selector=None):
        """A click on a bar forces that token, as typing it in the force box would, or (click
        mode "explain") asks the why panel to set it against the token the next u draws."""
        token = clicked_token(trace, points, self._ids)
        if token is None:
            return
        if self.click.value == "why":
            self.why.explain(token)
        else:
            self._do(self.session.force, token)

    def close(self) -> None:
        """Stop following the session and close every control and figure (and its forks')."""
        self.session.off_change(self._on_session)
        if self.session._stepper is self:
            self.session._stepper = None
        super().close()

    def fork(self) -> "Stepper":
        child = Stepper(self.session.fork(), n=self.n)
        self.forks.append(child)
        self.forks_box.children = tuple(
            W.VBox([W.HTML(f"<b>fork {i + 1}</b>"), f.widget]) for i, f in enumerate(self.forks))
        return child

    def refresh(self):
        """Re-draw from the session: text so far and the next token's bars."""
        preview = self.session.next_step
        view = at_layer_or_self(preview, getattr(self, "layer", None))
        with self.fig.batch_update():
            data = plots.update_bars(self.fig, view, n=self.n, log=self.log.value)
        self._ids = data["ids"]
        self.readout.value = readout_html(data) + (
            " <span style='color:#555'>· click a bar to force that token</span>")
        self.text.value = text_html(self.session.sample, highlight=len(self.session.steps) - 1)
        self.back_btn.disabled = not self.session.steps
        if hasattr(self, "why"):
            self.why.show(preview, self._ids)


def click_mode(default: str) -> W.ToggleButtons:
    """What a click on a bar does: `default` ("fork" in the explorer, "force" in the stepper) or
    "explain" (the why panel sets that token against the step's own)."""
    return W.ToggleButtons(options=[(default, default), ("explain", "why")], value=default,
                           description="click a bar", style=STYLE,
                           tooltips=[f"{default} with the clicked token", "why this token and not the clicked one"])


def clicked_token(trace, points, ids: list[int]) -> int | None:
    """The token id of the first bar a plotly click hit (bars sit at x = their index in `ids`)."""
    for i in getattr(points, "point_inds", []) or []:
        x = trace.x[i] if trace.x is not None else i
        return ids[int(round(x))]
    return None


def layer_slider(step) -> W.IntSlider | None:
    """A layer slider (0 = embeddings, last = the final block) when the step has layers."""
    if step is None or step.residual is None:
        return None
    last = step.residual.shape[0] - 1
    return W.IntSlider(value=last, min=0, max=last, description="layer (lens)", layout=SLIDER_LAYOUT, style=STYLE)


def at_layer_or_self(step, slider):
    """The step itself at the last layer (its exact logits), else its lens view."""
    if slider is None or slider.value == slider.max:
        return step
    return step.at_layer(slider.value)


def explore(run, n: int = 20) -> Explorer:
    """Bars of one step of a run (or a session), reshaped live by temperature / top-k / top-p."""
    if not hasattr(run, "samples") and hasattr(run, "run") and not hasattr(run, "token"):  # a Session
        run = run.run
    run, n = require_run(run), arguments.count("n", n)
    if not any(len(s) for s in run.samples):
        raise ValueError("this run has no steps to explore; generate at least one token")
    return Explorer(run, n=n)


