"""`gx.compare(lm, prompts)`: several prompts sampled with the same draws (or the same Gumbel noise),
in columns that wrap.

The view is the offline page's own component (gpt2explore.widgets.front, kind "compare"): a
column per prompt (its prompt as header, bars, text), a step slider, the settings, and a "More
samples" button whose samples the kernel draws. In a live notebook each column's bars are exact
at every setting from the full logits row the kernel sends for it; the line naming how the
columns differ (Jensen–Shannon) is the kernel's, asked for each shown state. Two columns stand
side by side in the output area JupyterLab has beside its file browser at 1280x800 (848
pixels); three or more wrap. The Python object follows the component's controls, and setting a control
in Python moves the view.

A run drawn with Gumbel noise (coupling="gumbel") is the same component: its noise is one number
per vocabulary token and step, which the browser does not hold, so each column asks the kernel
what its step's noise draws under the settings shown ({type: "drawn"}, gpt2explore.widgets.front),
and the key and the summary name the Gumbel noise the columns share.
"""
from __future__ import annotations

import html

import ipywidgets as W

from ..figures import plots
from ..model.generation import check_count, normalize_prompts, require_lm, string_list
from ..views import page as page_view
from ..views.compare import summary_html
from .controls import (
    SLIDER_LAYOUT,
    STYLE,
    _Displayable,
    message_html,
    redraw_or_say,
    set_one,
    settings_controls,
    settings_values,
)
from .front import Front

TITLE = "Prompts compared with the same draws"  # gpt2explore.files.page names a saved compare page the same


class Comparer(_Displayable):
    """One column per prompt, samples drawn with the same noise (uniforms, or Gumbel noise),
    next-token bars side by side, a step slider, and a button for more samples."""

    page_fallback = True

    def __init__(self, lm, prompts, nsamples: int = 1, length: int = 20, seed: int | None = None,
                 n: int = 12, coupling: str = "cdf", **settings):
        self.lm, self.prompts, self.length, self.n = lm, list(prompts), length, n
        self.run = lm.generate(self.prompts, nsamples=nsamples, length=length, seed=seed, coupling=coupling,
                               **settings)
        self.coupling = self.run.meta.get("coupling", "cdf")  # runs from before the couplings: cdf
        self.seed = self.run.seed
        self.sample_select = W.Dropdown(options=self._sample_options(), value=0, description="sample #",
                                        style=STYLE)
        self.step_slider = W.IntSlider(value=0, min=0, max=self.run.length - 1, description="step",
                                       layout=SLIDER_LAYOUT, style=STYLE)
        self.more_btn = W.Button(description="More samples", icon="plus")
        self.controls = settings_controls(self.run.settings)
        self.log = False  # the component's log-scale box
        self.summary, self.status = W.HTML(), W.HTML()  # the summary: the Python object's copy of the kernel's line
        self._following = False  # set while the controls follow the component
        self.view = None
        self._on_change()  # the first state
        self.view = Front(self._data(), self._view_step, click=self._on_front_click, gone=self.close,
                          state=self._state())
        self.view.observe(self._from_front, names="state")
        self.widget = W.VBox([self.view, self.status])
        self.sample_select.observe(self._on_change, names="value")
        self.step_slider.observe(self._on_change, names="value")
        for c in self.controls.values():
            c.observe(self._on_change, names="value")
        self.more_btn.on_click(lambda _: self.more())

    def _data(self) -> dict:
        """The component's data: every sample of the run, the controls where they stand."""
        return page_view.page_data(self.run, kind="compare", n=self.n, settings=self.settings, live=True,
                                   title=f"{TITLE} · {self.run.model_name}")

    def _sample_options(self):
        return sorted({s.index for s in self.run})

    def samples_of(self, prompt_index: int) -> list:
        return [s for s in self.run if s.prompt_index == prompt_index]

    def sample_of(self, prompt_index: int):
        return next(s for s in self.samples_of(prompt_index) if s.index == self.sample_select.value)

    def step_of(self, prompt_index: int):
        sample = self.sample_of(prompt_index)
        return sample.steps[min(self.step_slider.value, len(sample) - 1)]

    @property
    def settings(self) -> dict:
        return settings_values(self.controls)

    def figure(self):
        """The prompts' next-token distributions at the current step, on one figure."""
        return plots.compare_next_token([self.step_of(i) for i in range(len(self.prompts))], self.prompts,
                                        n=self.n, **self.settings)

    def more(self, nsamples: int = 1):
        """Draw more samples for every prompt: the next sample indices, the same seed."""
        first = max(s.index for s in self.run) + 1
        extra = self.lm.generate(self.prompts, nsamples=nsamples, length=self.run.length, seed=self.seed,
                                 first_sample=first, coupling=self.coupling, **self.run.settings.as_dict())
        self.run.samples.extend(extra.samples)
        self.run.samples.sort(key=lambda s: (s.prompt_index, s.index))
        self._following = True  # one redraw, once the new sample is chosen
        try:
            self.sample_select.options = self._sample_options()
        finally:
            self._following = False
        self.view.data = self._data()  # the component's sample selector offers the new ones
        self.sample_select.value = first

    # ---- the component ------------------------------------------------------------------
    def _state(self) -> dict:
        """The controls as the component reads them (its sample: a place in the selector's list)."""
        return {"sample": list(self.sample_select.options).index(self.sample_select.value),
                "step": self.step_slider.value, "log": bool(self.log), "layer": None, "click": None,
                "settings": dict(self.settings)}

    def _view_step(self, sample: int, step: int, layer):
        """The Step a message of the component asks about (`sample`: its place in the run)."""
        return self.run.samples[sample].steps[step]

    def _from_front(self, change) -> None:
        """The reader moved the component's controls: the Python object follows (one redraw)."""
        state = change["new"] or {}
        if state == self._state():
            return
        self._following = True
        try:
            options = list(self.sample_select.options)
            if state.get("sample") is not None and 0 <= state["sample"] < len(options):
                self.sample_select.value = options[state["sample"]]
            self.step_slider.value = state.get("step", self.step_slider.value)
            self.log = bool(state.get("log", self.log))
            for name, value in (state.get("settings") or {}).items():
                if name in self.controls and self.controls[name].value != value:
                    set_one(self.controls[name], value)
        finally:
            self._following = False
        self._on_change()

    def _on_front_click(self, content: dict) -> None:
        """A message of the component: "more" (the next sample of every prompt) or "summary" (how
        the columns differ at a shown state); each is answered, so that the component can wait."""
        action, ask = content.get("action"), content.get("ask")
        if action == "more":
            error = None
            try:
                self.more()
            except ValueError as err:  # e.g. no room left in the model's context
                error = str(err)
            self.status.value = message_html(error) if error else ""
            self.view.send({"type": "moved", "ask": ask, "error": error})
            return
        if action == "summary":
            try:
                number = list(self.sample_select.options)[int(content["sample"])]
                samples = [next(s for s in self.samples_of(i) if s.index == number) for i in range(len(self.prompts))]
                step = int(content["step"])
                text = summary_html([s.steps[min(step, len(s) - 1)] for s in samples], self.prompts,
                                    dict(content["settings"]), self.coupling, self.seed, step)
            except (ValueError, TypeError, IndexError, KeyError, StopIteration) as err:
                text = html.escape(str(err))
            self.view.send({"type": "summary", "ask": ask, "key": content.get("key"), "html": text})

    def close(self) -> None:
        """Close the view and every control, and let go of the run."""
        self.view.release()
        super().close()

    # ---- redraws --------------------------------------------------------------------------
    def _on_change(self, change=None):
        """Redraw the summary; settings that cannot go together (a newer sampler with OpenAI's
        rules) show as a message, and the summary keeps what it said. The component follows a
        control set in Python."""
        if self._following:
            return
        redraw_or_say(self.status, self._redraw)
        if self.view is not None and self.view.state != self._state():
            self.view.state = self._state()

    def _redraw(self):
        steps = [self.step_of(i) for i in range(len(self.prompts))]
        self.summary.value = summary_html(steps, self.prompts, self.settings, self.coupling, self.seed,
                                          self.step_slider.value)


def compare(lm, prompts, nsamples: int = 1, length: int = 20, seed: int | None = None, coupling: str = "cdf",
            **settings) -> Comparer:
    """Several prompts sampled with the same draws, side by side. `prompts`: a list of
    strings (one string is one prompt). coupling="gumbel" shares Gumbel noise between the
    prompts, so their samples part only where the model's distributions demand it."""
    lm, nsamples = require_lm(lm), check_count("nsamples", nsamples)
    prompts = string_list(prompts, "prompts", " (e.g. ['Hi! My name is Isamu', 'Hi! My name is John'])")
    normalize_prompts(prompts)  # each one a non-empty string
    return Comparer(lm, prompts, nsamples=nsamples, length=length, seed=seed, coupling=coupling, **settings)
