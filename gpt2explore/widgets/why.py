"""The "why" panel of the explorer and the stepper: for the step on show, what its position
attended to (a layer, one head or the mean of the heads) and which components pushed its token
above a rival (direct logit attribution, the rival chosen from the bars or by a click on one).

It draws only while open (a model pass per attribution), and says in one line what is missing
when the run has no attention recorded or no model attached.
"""
from __future__ import annotations

import ipywidgets as W

from ..core.tokens import token_label
from ..figures import attention as attention_figs
from ..figures import why as why_figs
from .controls import SLIDER_LAYOUT, STYLE, message_html

MEAN = -1  # the head control's value for the mean of the heads


class WhyPanel:
    """`panel.widget` is a collapsed section; `panel.show(step, ids)` redraws it for a step whose
    bars show `ids`; `panel.explain(token)` picks the rival (a clicked bar) and opens it."""

    def __init__(self):
        self.step, self.ids = None, []
        self.vs = W.Dropdown(options=[], description="vs", style=STYLE, layout=W.Layout(width="300px"))
        self.layer = W.IntSlider(value=0, min=0, max=0, description="attention layer", layout=SLIDER_LAYOUT,
                                 style=STYLE)
        # the mean is -1, not None: a Dropdown whose value is None shows an empty box in the browser
        self.head = W.Dropdown(options=[("mean of the heads", MEAN)], value=MEAN, description="head", style=STYLE)
        self.status = W.HTML()
        self.attention_out, self.attribution_out = W.Output(), W.Output()
        self.attention_fig = self.attribution_fig = None  # what the panel shows now (plain figures)
        self.attention_controls = W.HBox([self.layer, self.head])
        body = W.VBox([W.HBox([self.vs]), self.status, self.attribution_out, self.attention_controls,
                       self.attention_out])
        self.widget = W.Accordion(children=[body], titles=("why this token (attention, attribution)",))
        self.widget.selected_index = None
        self._quiet = False
        self.widget.observe(lambda _: self.redraw(), names="selected_index")
        self.vs.observe(lambda _: self.redraw(attention=False), names="value")
        for c in (self.layer, self.head):
            c.observe(lambda _: self.redraw(attribution=False), names="value")

    @property
    def head_index(self) -> int | None:
        """The head the attention view shows, None for the mean of the heads."""
        return None if self.head.value == MEAN else self.head.value

    @property
    def is_open(self) -> bool:
        return self.widget.selected_index == 0

    def show(self, step, ids) -> None:
        """Follow a new step (or new bars): the rival list is the bars' other tokens."""
        self.step, self.ids = step, [i for i in ids if i != step.token]
        self._quiet = True
        try:
            options = [(repr(token_label(step, i)), i) for i in self.ids]
            keep = self.vs.value if self.vs.value in self.ids else (self.ids[0] if self.ids else None)
            self.vs.options = options
            self.vs.value = keep
            att = step.attention_weights
            # the attention controls only where there is attention to show (a run made with attention=True)
            self.attention_controls.layout.display = None if att is not None else "none"
            if att is not None:
                last = att.shape[0] - 1
                self.layer.max = last
                if self.layer.value > last:
                    self.layer.value = last
                heads = [("mean of the heads", MEAN)] + [(f"head {h}", h) for h in range(att.shape[1])]
                if [v for _, v in self.head.options] != [v for _, v in heads]:
                    self.head.options = heads
                    self.head.value = MEAN
                    self.layer.value = last
        finally:
            self._quiet = False
        self.redraw()

    def explain(self, token: int) -> None:
        """Take `token` as the rival (a clicked bar) and open the panel."""
        if self.step is None or token == self.step.token:
            return
        if token not in self.ids:
            self.ids.append(token)
            self.vs.options = list(self.vs.options) + [(repr(token_label(self.step, token)), token)]
        self.vs.value = token
        self.widget.selected_index = 0
        self.redraw()

    def redraw(self, attention: bool = True, attribution: bool = True) -> None:
        """Draw what is asked while the panel is open; what cannot be drawn is said in one line."""
        if self._quiet or not self.is_open or self.step is None:
            return
        from IPython.display import clear_output, display

        said = []
        if attribution:
            with self.attribution_out:
                clear_output(wait=True)
                try:
                    self.attribution_fig = why_figs.attribution_figure(self.step, vs=self.vs.value)
                    display(self.attribution_fig)
                except ValueError as err:
                    self.attribution_fig = None
                    said.append(str(err))
        if attention:
            with self.attention_out:
                clear_output(wait=True)
                if self.step.attention_weights is None:
                    self.attention_fig = None
                    said.append("no attention recorded for this step: generate (or start the session) with "
                                "attention=True to see what it attended to")
                else:
                    self.attention_fig = attention_figs.attention_view(self.step, self.layer.value, self.head_index)
                    display(self.attention_fig)
        self.status.value = "<br>".join(message_html(s) for s in said)
