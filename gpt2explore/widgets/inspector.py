"""`gx.inspect(lm, text)`: a text scored once, then explored without the model.

The text view (coloured by rank, surprisal, or whether the settings allow each token) sits
above the settings sliders; moving top-k / top-p / temperature recolours the impossible
tokens and updates the totals from the stored logits. Clicking a token (or moving the
position slider) shows that position's next-token bars, the text's actual token in orange.
"""
from __future__ import annotations

import html

import ipywidgets as W

from ..core import arguments
from ..core import formatting as fmt
from ..figures import plots
from ..figures.textview import text_view
from ..model.generation import require_lm
from .controls import (
    SLIDER_LAYOUT,
    STYLE,
    _Displayable,
    figure_widget,
    is_live,
    message_html,
    redraw_or_say,
    settings_box,
    settings_controls,
    settings_values,
)


class Inspector(_Displayable):
    """The logic of `gx.inspect`; tests drive it without a browser."""

    page_fallback = True

    def __init__(self, lm, text, prompt=None, n: int = 15, color: str = "allowed", **settings):
        self.run = lm.score(text, prompt=prompt, **settings)
        self.sample, self.n = self.run[0], n
        self.controls = settings_controls(self.run.settings)
        self.color = W.ToggleButtons(options=["rank", "surprisal", "allowed"], value=color, description="colour",
                                     style=STYLE)
        self.position = W.IntSlider(value=0, min=0, max=len(self.sample) - 1, description="position",
                                    layout=SLIDER_LAYOUT, style=STYLE)
        self.totals, self.status = W.HTML(), W.HTML()
        self.view = text_view(self.sample, color, **self.settings)
        self.fig = plots.next_token_bars(self.step, n=n, **self.settings)
        self._on_settings()  # the first state, on plain figures: nothing is sent before the views exist
        self.view, self.fig = figure_widget(self.view), figure_widget(self.fig)
        self._bind_clicks()
        for c in self.controls.values():
            c.observe(self._on_settings, names="value")
        self.color.observe(self._on_settings, names="value")
        self.position.observe(self._on_position, names="value")
        self.widget = W.VBox([self.color, self.view, settings_box(self.controls), self.status, self.totals,
                              self.position, self.fig])

    @property
    def settings(self) -> dict:
        return settings_values(self.controls) if hasattr(self, "controls") else {}

    @property
    def step(self):
        return self.sample.steps[self.position.value if hasattr(self, "position") else 0]

    def figure(self):
        """What the text view shows now (for gx.save)."""
        import plotly.graph_objects as go

        return go.Figure(self.view)

    def _bind_clicks(self):
        if is_live(self.view):
            self.view.data[0].on_click(self._on_click)

    def _on_click(self, trace, points, selector=None):
        for i in getattr(points, "point_inds", []) or []:
            self.position.value = int(i)
            return

    def _on_settings(self, change=None):
        """Recolour the text and update the totals and the bars, from stored logits only; settings
        that cannot go together show as a message."""
        redraw_or_say(self.status, self._recolour)

    def _recolour(self):
        fresh = text_view(self.sample, self.color.value, **self.settings)
        with self.view.batch_update():
            self.view.data = []
            self.view.add_traces(fresh.data)
            self.view.layout = fresh.layout
        self._bind_clicks()
        summary = self.run.summary(**self.settings).iloc[0]
        self.totals.value = (f"<span style='font-family:monospace'>{fmt.count(summary.tokens, 'token')} · "
                             f"<b>{fmt.count(summary.impossible, 'token')}</b> impossible under these settings · "
                             f"log-prob under them {fmt.number(summary.logprob, 2)} · the model's own perplexity "
                             f"{fmt.number(summary.perplexity, 1)}</span>")
        self._on_position()

    def _on_position(self, change=None):
        step = self.step
        try:
            with self.fig.batch_update():
                plots.update_bars(self.fig, step, n=self.n, **self.settings,
                                  heading=f"Position {step.index}: the text has {html.escape(repr(step.text))}")
        except ValueError as err:
            self.status.value = message_html(str(err))


def inspect(lm, text, prompt=None, n: int = 15, color: str = "allowed", **settings) -> Inspector:
    """Score `text` once and explore it: the coloured text view, settings sliders that recolour
    the tokens those settings forbid, and the bars at any position."""
    lm, n = require_lm(lm), arguments.count("n", n)
    arguments.choice("color", color, ("rank", "surprisal", "allowed"))
    return Inspector(lm, text, prompt=prompt, n=n, color=color, **settings)
