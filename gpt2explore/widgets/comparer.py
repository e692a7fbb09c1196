"""`gx.compare(lm, prompts)`: several prompts sampled with the same draws (or the same Gumbel noise),
in columns that wrap.

Each column is a fixed width (the plot inside it is drawn at that width), and the columns
sit in a wrapping row: two fit side by side in a 1400-pixel JupyterLab window with the file
browser open, and three or more wrap onto further rows instead of being squeezed. Every
column starts with a header of the same height, so the plots start at the same height.
"""
from __future__ import annotations

import html

import ipywidgets as W

from ..core import formatting as fmt
from ..core.coupling import shared_noise
from ..figures import plots
from ..model.generation import check_count, normalize_prompts, require_lm, string_list
from .controls import (
    SLIDER_LAYOUT,
    STYLE,
    _Displayable,
    figure_widget,
    redraw_or_say,
    settings_box,
    settings_controls,
    settings_values,
    text_html,
)

COLUMN_PX = 455  # one prompt's column: two, with their gaps, fit the 953 px output area beside the file browser
PLOT_PX = 440  # its plot


def legend_note(kind: str = "cdf") -> str:
    """The colours in words, naming what the columns share: each step's u (cdf) or its Gumbel noise."""
    noise = "Gumbel noise" if kind in ("gumbel", "posterior") else "u"
    return ("<span style='color:#555'>light bars: the model's distribution · dark: after the settings "
            f"(what is sampled) · orange: the token the step's {noise} draws under these settings (at the run's "
            f"own settings, the token it drew) · ▼ the token the run drew, when {noise} now draws another · grey ×: "
            f"cut by the settings · the columns share {shared_noise(kind)}</span>")


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
        self.texts = [W.HTML() for _ in self.prompts]
        self.figs = []
        for i in range(len(self.prompts)):
            fig = plots.next_token_bars(self.step_of(i), n=n, compact=True)
            fig.layout.update(height=400, width=PLOT_PX, showlegend=False, margin=dict(l=60, r=10, t=70),
                              title_font_size=15)
            self.figs.append(fig)
        self.summary, self.status = W.HTML(), W.HTML()
        self._on_change()  # the first state, on plain figures: nothing is sent before the views exist
        self.figs = [figure_widget(f) for f in self.figs]
        self.sample_select.observe(self._on_change, names="value")
        self.step_slider.observe(self._on_change, names="value")
        for c in self.controls.values():
            c.observe(self._on_change, names="value")
        self.more_btn.on_click(lambda _: self.more())
        self.columns = [
            W.VBox([W.HTML(f"<div style='font-weight:bold;height:2.8em;overflow:hidden;line-height:1.4em;"
                           f"overflow-wrap:anywhere' title='{html.escape(p)}'>{html.escape(p)}</div>"), f, t],
                   layout=W.Layout(width=f"{COLUMN_PX}px", min_width=f"{COLUMN_PX}px", margin="0 10px 16px 0",
                                   overflow="hidden"))
            for p, t, f in zip(self.prompts, self.texts, self.figs)]
        self.grid = W.Box(self.columns, layout=W.Layout(display="flex", flex_flow="row wrap",
                                                        align_items="flex-start", width="100%"))
        self.widget = W.VBox([
            W.HBox([self.sample_select, self.step_slider, self.more_btn]),
            settings_box(self.controls),
            self.status, self.summary, W.HTML(legend_note(self.coupling)), self.grid])

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
        self.sample_select.options = self._sample_options()
        self.sample_select.value = first

    def _on_change(self, change=None):
        """Redraw every column; settings that cannot go together (a newer sampler with OpenAI's
        rules) show as a message, the figures keep what they showed."""
        redraw_or_say(self.status, self._redraw)

    def _redraw(self):
        steps = [self.step_of(i) for i in range(len(self.prompts))]
        for i, (fig, step) in enumerate(zip(self.figs, steps)):
            with fig.batch_update():
                plots.update_bars(fig, step, n=self.n, **self.settings)
            self.texts[i].value = text_html(self.sample_of(i), highlight=step.index)
        dists = [s.distribution(**self.settings) for s in steps]
        facts = []
        for j in range(1, len(dists)):
            d = plots.divergences(dists[0], dists[j])
            facts.append(f"{html.escape(self.prompts[0])} vs {html.escape(self.prompts[j])}: "
                         f"Jensen–Shannon <b>{fmt.number(d['js'])}</b> nats ({plots.divergence_reading(d)})")
        self.summary.value = (f"<div style='font-family:monospace;white-space:normal'>"
                              f"{shared_noise(self.coupling)} for every prompt "
                              f"(seed {self.seed}); step {self.step_slider.value}: " + "; ".join(facts) + "</div>")


def compare(lm, prompts, nsamples: int = 1, length: int = 20, seed: int | None = None, coupling: str = "cdf",
            **settings) -> Comparer:
    """Several prompts sampled with the same draws, side by side. `prompts`: a list of
    strings (one string is one prompt). coupling="gumbel" shares Gumbel noise between the
    prompts, so their samples part only where the model's distributions demand it."""
    lm, nsamples = require_lm(lm), check_count("nsamples", nsamples)
    prompts = string_list(prompts, "prompts", " (e.g. ['Hi! My name is Isamu', 'Hi! My name is John'])")
    normalize_prompts(prompts)  # each one a non-empty string
    return Comparer(lm, prompts, nsamples=nsamples, length=length, seed=seed, coupling=coupling, **settings)
