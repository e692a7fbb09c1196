"""Notebook widgets: explore (a run), stepper (a session), compare (several prompts).

Each widget is a plain Python object holding its controls and figures; `.widget` is the
ipywidgets box that shows them, and the object displays as that box. Tests drive the objects
directly (set `.value`, call `.click()`, read `fig.data`). Slider moves re-draw from stored
logits: no model call.
"""
from __future__ import annotations

import html
import time

import ipywidgets as W

from . import plots, sampling
from .trace import show_token

SLIDER_LAYOUT = W.Layout(width="420px")
STYLE = {"description_width": "110px"}


TEMPERATURE_MAX, TOP_K_MAX, TOP_P_MIN = 3.0, 200, 0.01  # slider ranges, widened to fit a run's own values


def settings_controls(settings) -> dict:
    """Temperature / top-k / top-p sliders and the rule-set toggle, set to `settings`.

    The ranges widen to include the settings' own values (a run made at T=100 or top_k=500),
    so a control never clamps the value it starts at."""
    t_max = max(TEMPERATURE_MAX, float(settings.temperature))
    return {
        "temperature": W.FloatSlider(value=settings.temperature, min=0.0, max=t_max,
                                     step=0.05 if t_max <= TEMPERATURE_MAX else t_max / 200,
                                     description="temperature", readout_format=".3g",
                                     layout=SLIDER_LAYOUT, style=STYLE),
        "top_k": W.IntSlider(value=settings.top_k, min=0, max=max(TOP_K_MAX, int(settings.top_k)),
                             description="top_k (0=all)", layout=SLIDER_LAYOUT, style=STYLE),
        "top_p": W.FloatSlider(value=settings.top_p, min=min(TOP_P_MIN, float(settings.top_p)), max=1.0,
                               step=0.01, description="top_p", readout_format=".3g",
                               layout=SLIDER_LAYOUT, style=STYLE),
        "semantics": W.ToggleButtons(options=list(sampling.SEMANTICS), value=settings.semantics,
                                     description="rules", style=STYLE,
                                     tooltips=["transformers' warpers", "OpenAI's sample.py"]),
    }


def settings_box(controls: dict) -> W.HBox:
    """The four settings controls in two columns."""
    return W.HBox([W.VBox([controls["temperature"], controls["top_k"]]),
                   W.VBox([controls["top_p"], controls["semantics"]])])


def settings_values(controls: dict) -> dict:
    """The controls' current values as keyword arguments for Step.distribution."""
    return {k: c.value for k, c in controls.items()}


def readout_html(data) -> str:
    """Entropy, tokens kept and the drawn token's probability under the current settings."""
    tok = "" if data["token_prob"] is None else f" · p(drawn token) <b>{data['token_prob']:.4f}</b>"
    return (f"<span style='font-family:monospace'>entropy <b>{data['entropy']:.3f}</b> nats "
            f"(model: {data['entropy_raw']:.3f}) · tokens kept <b>{data['n_kept']:,}</b>{tok}</span>")


def text_html(sample, upto: int | None = None, highlight: int | None = None) -> str:
    """The prompt (shaded) and the generated tokens; `highlight` marks one step's token."""
    prompt = html.escape(sample.prompt or "<|endoftext|>")
    parts = []
    steps = sample.steps if upto is None else sample.steps[:upto]
    for step in steps:
        t = html.escape(step.text)
        if step.index == highlight:
            t = f"<span style='background:#ffd8c2;outline:1px solid #d9541e'>{t or '∅'}</span>"
        elif step.forced:
            t = f"<span style='text-decoration:underline dotted' title='forced'>{t}</span>"
        parts.append(t)
    return (f"<div style='font-family:monospace;white-space:pre-wrap;line-height:1.5;max-width:900px'>"
            f"<span style='background:#e8eef7;color:#1f3b73;font-weight:bold'>{prompt}</span>"
            f"{''.join(parts)}</div>")


class _Displayable:
    widget: W.Widget
    fig = None

    def figure(self):
        """A plain plotly Figure of what the widget shows now (for gx.save)."""
        import plotly.graph_objects as go

        return go.Figure(self.fig)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class Explorer(_Displayable):
    """`gx.explore(run)`: pick a sample and a step; sliders reshape its bars live."""

    def __init__(self, run, n: int = 20):
        import plotly.graph_objects as go

        self.run, self.n = run, n
        self.sample_select = W.Dropdown(
            options=[(f"{i}: {(s.prompt or '<|endoftext|>')[:40]!r} #{s.index}", i) for i, s in enumerate(run)],
            value=0, description="sample", style=STYLE)
        self.step_slider = W.IntSlider(value=0, min=0, max=max(len(run[0]) - 1, 0), description="step",
                                       layout=SLIDER_LAYOUT, style=STYLE)
        self.controls = settings_controls(run.settings)
        self.readout = W.HTML()
        self.text = W.HTML()
        self.fig = go.FigureWidget(plots.next_token_bars(self.step, n=n, **self.settings))
        self.last_update_ms = 0.0
        self.sample_select.observe(self._on_sample, names="value")
        self.step_slider.observe(self._on_change, names="value")
        for c in self.controls.values():
            c.observe(self._on_change, names="value")
        self._on_change()
        self.widget = W.VBox([
            W.HBox([self.sample_select, self.step_slider]),
            settings_box(self.controls),
            self.readout, self.fig, self.text])

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

    def _on_change(self, change=None):
        t0 = time.perf_counter()
        with self.fig.batch_update():
            data = plots.update_bars(self.fig, self.step, n=self.n, **self.settings)
        self.readout.value = readout_html(data)
        self.text.value = text_html(self.sample, highlight=self.step.index)
        self.last_update_ms = (time.perf_counter() - t0) * 1000


class Stepper(_Displayable):
    """`gx.stepper(lm, prompt)` or `session.widget()`: Next, Next ×N, Back, Force, Fork, with
    live bars of the next token's distribution. Calling `session.step()` in another cell
    updates the same view."""

    def __init__(self, session, n: int = 20):
        import plotly.graph_objects as go

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
        self.readout, self.text, self.status = W.HTML(), W.HTML(), W.HTML()
        self.forks: list[Stepper] = []
        self.forks_box = W.VBox()
        self.fig = go.FigureWidget(plots.next_token_bars(session.next_step, n=n))
        self.next_btn.on_click(lambda _: self._do(self.session.step))
        self.next_n_btn.on_click(lambda _: self._do(self.session.step, self.n_box.value))
        self.back_btn.on_click(lambda _: self._do(self.session.back))
        self.force_btn.on_click(lambda _: self._do(self.session.force, self.force_text.value))
        self.fork_btn.on_click(lambda _: self.fork())
        for name, c in self.controls.items():
            c.observe(lambda change, name=name: self._on_settings(name, change), names="value")
        session.on_change(self._on_session)
        self.refresh()
        self.widget = W.VBox([
            W.HBox([self.next_btn, self.next_n_btn, self.n_box, self.back_btn, self.force_text,
                    self.force_btn, self.fork_btn]),
            settings_box(self.controls),
            self.status, self.text, self.readout, self.fig, self.forks_box])

    def _do(self, fn, *args, **kwargs):
        """Run a session move; a bad input shows as a message, not an exception."""
        try:
            fn(*args, **kwargs)
            self.status.value = ""
        except ValueError as err:
            self.status.value = f"<span style='color:#b00020'>{html.escape(str(err))}</span>"
            self.refresh()  # whatever the move did before it failed is shown

    def _on_settings(self, name: str, change) -> None:
        """Only the control that moved changes the session's settings."""
        self._do(self.session.set, **{name: change["new"]})

    def _on_session(self, session) -> None:
        self.refresh()

    def close(self) -> None:
        """Stop following the session and close the controls."""
        self.session.off_change(self._on_session)
        self.widget.close()

    def fork(self) -> "Stepper":
        child = Stepper(self.session.fork(), n=self.n)
        self.forks.append(child)
        self.forks_box.children = tuple(
            W.VBox([W.HTML(f"<b>fork {i + 1}</b>"), f.widget]) for i, f in enumerate(self.forks))
        return child

    def refresh(self):
        """Re-draw from the session: text so far and the next token's bars."""
        preview = self.session.next_step
        with self.fig.batch_update():
            data = plots.update_bars(self.fig, preview, n=self.n)
        self.readout.value = readout_html(data) + (
            f" <span style='color:#555'>· next uniform u={preview.u:.4f} would draw "
            f"<b>{html.escape(show_token(preview.text))}</b></span>")
        self.text.value = text_html(self.session.sample, highlight=len(self.session.steps) - 1)
        self.back_btn.disabled = not self.session.steps


class Comparer(_Displayable):
    """`gx.compare(lm, prompts)`: one column per prompt, samples drawn with the same uniforms,
    next-token bars side by side, a step slider, and a button for more samples."""

    def __init__(self, lm, prompts, nsamples: int = 1, length: int = 20, seed: int | None = None,
                 n: int = 12, **settings):
        import plotly.graph_objects as go

        self.lm, self.prompts, self.length, self.n = lm, list(prompts), length, n
        self.run = lm.generate(self.prompts, nsamples=nsamples, length=length, seed=seed, **settings)
        self.seed = self.run.seed
        self.sample_select = W.Dropdown(options=self._sample_options(), value=0, description="sample #",
                                        style=STYLE)
        self.step_slider = W.IntSlider(value=0, min=0, max=self.run.length - 1, description="step",
                                       layout=SLIDER_LAYOUT, style=STYLE)
        self.more_btn = W.Button(description="More samples", icon="plus")
        self.controls = settings_controls(self.run.settings)
        self.texts = [W.HTML() for _ in self.prompts]
        self.figs = [go.FigureWidget(plots.next_token_bars(self.step_of(i), n=n)) for i in range(len(self.prompts))]
        for f in self.figs:
            f.layout.height, f.layout.showlegend = 380, False
        self.summary = W.HTML()
        self.sample_select.observe(self._on_change, names="value")
        self.step_slider.observe(self._on_change, names="value")
        for c in self.controls.values():
            c.observe(self._on_change, names="value")
        self.more_btn.on_click(lambda _: self.more())
        self._on_change()
        columns = [W.VBox([W.HTML(f"<b>{html.escape(p)}</b>"), t, f], layout=W.Layout(width=f"{100 // len(self.prompts)}%"))
                   for p, t, f in zip(self.prompts, self.texts, self.figs)]
        self.widget = W.VBox([
            W.HBox([self.sample_select, self.step_slider, self.more_btn]),
            settings_box(self.controls),
            self.summary, W.HBox(columns)])

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
                                 first_sample=first, **self.run.settings.as_dict())
        self.run.samples.extend(extra.samples)
        self.run.samples.sort(key=lambda s: (s.prompt_index, s.index))
        self.sample_select.options = self._sample_options()
        self.sample_select.value = first

    def _on_change(self, change=None):
        steps = [self.step_of(i) for i in range(len(self.prompts))]
        for i, (fig, step) in enumerate(zip(self.figs, steps)):
            with fig.batch_update():
                plots.update_bars(fig, step, n=self.n, **self.settings)
            self.texts[i].value = text_html(self.sample_of(i), highlight=step.index)
        dists = [s.distribution(**self.settings) for s in steps]
        facts = []
        for j in range(1, len(dists)):
            d = plots.divergences(dists[0], dists[j])
            facts.append(f"{html.escape(self.prompts[0])!s} vs {html.escape(self.prompts[j])}: "
                         f"Jensen–Shannon <b>{d['js']:.4f}</b> nats")
        self.summary.value = (f"<span style='font-family:monospace'>same draws for every prompt (seed "
                              f"{self.seed}); step {self.step_slider.value}: " + "; ".join(facts) + "</span>")


def explore(run, n: int = 20) -> Explorer:
    """Bars of one step of a run (or a session), reshaped live by temperature / top-k / top-p."""
    if not hasattr(run, "samples") and hasattr(run, "run"):  # a Session
        run = run.run
    if not any(len(s) for s in run.samples):
        raise ValueError("this run has no steps to explore; generate at least one token")
    return Explorer(run, n=n)


def stepper(lm, prompt=None, n: int = 20, **settings) -> Stepper:
    """A step-through session on `prompt` with buttons and live next-token bars."""
    return Stepper(lm.session(prompt, **settings), n=n)


def compare(lm, prompts, nsamples: int = 1, length: int = 20, seed: int | None = None, **settings) -> Comparer:
    """Several prompts sampled with the same draws, side by side. `prompts`: a list of
    strings (one string is one prompt)."""
    if isinstance(prompts, str):
        prompts = [prompts]
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise ValueError(f"prompts must be a list of strings, e.g. ['Hi! My name is Isamu', "
                         f"'Hi! My name is John'], got {prompts!r}")
    from .generation import normalize_prompts

    normalize_prompts(list(prompts))  # each one a non-empty string
    return Comparer(lm, prompts, nsamples=nsamples, length=length, seed=seed, **settings)
