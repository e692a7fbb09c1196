"""What the widgets share: the settings controls, the readout, the text view, display glue."""
from __future__ import annotations

import html

import ipywidgets as W

from ..core import formatting as fmt
from ..core import registry, sampling
from ..core.tokens import show_text
from ..files import page as pages
from ..views.page import PageError
from ..views.stages import cuts_text

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
                                     description="temperature", readout_format=".4",
                                     layout=SLIDER_LAYOUT, style=STYLE),
        "top_k": W.IntSlider(value=settings.top_k, min=0, max=max(TOP_K_MAX, int(settings.top_k)),
                             description="top_k (0=all)", layout=SLIDER_LAYOUT, style=STYLE),
        "top_p": W.FloatSlider(value=settings.top_p, min=min(TOP_P_MIN, float(settings.top_p)), max=1.0,
                               step=0.01, description="top_p", readout_format=".4",
                               layout=SLIDER_LAYOUT, style=STYLE),
        **more_controls(settings),
        "semantics": W.ToggleButtons(options=list(sampling.SEMANTICS), value=settings.semantics,
                                     description="rules", style=STYLE,
                                     tooltips=["transformers' warpers", "OpenAI's sample.py"]),
    }


def more_controls(settings) -> dict:
    """One control per registered sampler beyond the classic three (each off at its default),
    generated from the registry: its label (short enough for the 110 px label column; the
    setting's own name is the tooltip) and slider range, widened to the value."""
    out = {}
    for s in registry.samplers():
        if s.openai:
            continue
        value = getattr(settings, s.name)
        lo, hi = s.range
        common = dict(value=value, min=min(lo, value), max=max(hi, value), description=s.short, tooltip=s.name,
                      layout=SLIDER_LAYOUT, style=STYLE)
        out[s.name] = W.IntSlider(step=int(s.step) or 1, **common) if s.integer else \
            W.FloatSlider(step=s.step, readout_format=".4" if s.step >= 1e-3 else ".2", **common)
    return out


def settings_values(controls: dict) -> dict:
    """The controls' current values as keyword arguments for Step.distribution."""
    return {k: c.value for k, c in controls.items()}


def set_controls(controls: dict, settings) -> None:
    """Move the controls to `settings` (a Settings), widening a slider's range where a value
    lies beyond it, so that no value is clamped."""
    for name, value in settings.as_dict().items():
        c = controls[name]
        if hasattr(c, "max") and value > c.max:
            c.max = value
        if hasattr(c, "min") and value < c.min:
            c.min = value
        c.value = value


def close_tree(widget) -> None:
    """Close a widget and every widget inside it (ipywidgets keeps each open widget, and what its
    callbacks reach, alive in a global registry until it is closed)."""
    for child in getattr(widget, "children", ()) or ():
        close_tree(child)
    close_widget(widget)


def close_widget(widget) -> None:
    """Close one widget. An anywidget (the component, gpt2explore.widgets.front, is one) also
    connects itself to its class's front-end file for hot reloading and never lets go: that link
    is cut here, or every view ever shown, with the run its callbacks reach, would stay in memory."""
    widget.close()
    try:
        from anywidget._file_contents import FileContents, VirtualFileContents
    except ImportError:  # pragma: no cover - no anywidget, no such link
        return
    for cls in type(widget).__mro__:
        for value in list(vars(cls).values()):
            if not isinstance(value, (FileContents, VirtualFileContents)):
                continue
            try:
                signal = value.changed
                for slot in list(signal._slots):
                    fn = slot.dereference()
                    cells = getattr(fn, "__closure__", None) or ()
                    if any(cell.cell_contents is widget for cell in cells):
                        signal.disconnect(fn)
            except (AttributeError, ValueError):  # another anywidget version: nothing to cut here
                return


READOUT_NAMES = {"drawn": "drawn token", "u": "the token u draws here", "next": "the token the next u draws",
                 "forced": "forced token", "text": "the text's token"}
GUMBEL_READOUT_NAMES = {**READOUT_NAMES, "u": "the token its Gumbel noise draws here",
                        "next": "the token the next Gumbel noise draws"}  # coupling="gumbel" (or hindsight)


def readout_name(data) -> str:
    """The marked token in words, naming the step's noise: its u (cdf) or its Gumbel noise."""
    names = GUMBEL_READOUT_NAMES if data.get("coupling") in ("gumbel", "posterior") else READOUT_NAMES
    return names[data["marked_kind"]]


def readout_html(data, cuts=None) -> str:  # cuts: None = the view's own (data["cuts"])
    """Entropy, tokens kept and the marked token's probability under the current settings (the
    token the step's noise draws there, named as its u or its Gumbel noise, or a forced one), and (given `cuts` from
    pipeline.stage_cuts) which stage removed how many of its rivals."""
    cuts = data.get("cuts") if cuts is None else cuts
    tok = "" if data["marked_prob"] is None else (
        f" · p({readout_name(data)}) <b>{fmt.prob(data['marked_prob'])}</b>")
    cut = "" if cuts is None else f"<br>{html.escape(cuts_text(cuts))}"
    source = "model" if data.get("layer") is None else f"layer {data['layer']}, logit lens"
    return (f"<span style='font-family:monospace'>entropy <b>{fmt.number(data['entropy'])}</b> nats "
            f"({source}: {fmt.number(data['entropy_raw'])}) · <b>{fmt.count(data['n_kept'], 'token')}</b> kept"
            f"{tok}{cut}</span>")


def log_toggle() -> W.Checkbox:
    """A log-scale switch for the probability axis (flat distributions, T=100)."""
    return W.Checkbox(value=False, description="log scale", indent=False, layout=W.Layout(width="110px"))


def message_html(text: str) -> str:
    """What went wrong, in red."""
    return f"<span style='color:#b00020'>{html.escape(text)}</span>"


def note_html(text: str) -> str:
    """What a move did (a fork opened), in the page's grey."""
    return f"<span style='color:#555'>{html.escape(text)}</span>"


def set_one(control, value) -> None:
    """Move one control to `value`, widening a slider's range where the value lies beyond it."""
    if hasattr(control, "max") and value > control.max:
        control.max = value
    if hasattr(control, "min") and value < control.min:
        control.min = value
    control.value = value


def redraw_or_say(status, redraw) -> bool:
    """Run `redraw()`; settings that cannot go together (a ValueError: a newer sampler with
    OpenAI's rules) show in `status` instead, and what was drawn stays. True when it redrew."""
    try:
        redraw()
    except ValueError as err:
        status.value = message_html(str(err))
        return False
    status.value = ""
    return True


def text_html(sample, upto: int | None = None, highlight: int | None = None) -> str:
    """The prompt (shaded) and the generated tokens, every character whole (a character split
    over tokens shows in the token that completes it; a token holding only part of one is a
    thin mark whose hover names the character); `highlight` marks one step's token."""
    prompt = html.escape(sample.prompt or "<|endoftext|>")
    parts = []
    pieces = sample.pieces
    steps = sample.steps if upto is None else sample.steps[:upto]
    for step, piece in zip(steps, pieces):
        t = html.escape(show_text(piece.text))
        note = f"step {step.index}: {piece.label}" + (f" · {piece.note}" if piece.note else "")
        mark = "display:inline-block;min-width:0.35em;border-bottom:2px dotted #888;" if piece.partial else ""
        if step.index == highlight:
            t = (f"<span style='{mark}background:#fff0b3;outline:1px solid #9a7d0a' "
                 f"title='{html.escape(note, quote=True)}'>{t or ('' if piece.partial else '∅')}</span>")
        elif step.forced:
            t = f"<span style='{mark}text-decoration:underline dotted' title='forced · {html.escape(note, quote=True)}'>{t}</span>"
        else:
            t = f"<span style='{mark}' title='{html.escape(note, quote=True)}'>{t}</span>" if (mark or piece.note) else t
        parts.append(t)
    return (f"<div style='font-family:monospace;white-space:pre-wrap;line-height:1.5;max-width:900px'>"
            f"<span style='background:#e8eef7;color:#1f3b73;font-weight:bold'>{prompt}</span>"
            f"{''.join(parts)}</div>")


class _Displayable:
    widget: W.Widget
    fig = None

    def close(self) -> None:
        """Close every control and figure of the widget: the front end drops it, and once the
        object is dropped too, its run (or session) and logits are freed."""
        for child in getattr(self, "forks", ()):
            child.close()
        close_tree(self.widget)
        for value in list(vars(self).values()):
            items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, W.Widget):
                    close_widget(item)

    def figure(self):
        """A plain plotly Figure of what the widget shows now (for gx.save)."""
        import plotly.graph_objects as go

        return go.Figure(self.fig)

    page_fallback = False  # the explorer, comparer and inspector carry their offline page too

    def _repr_mimebundle_(self, **kwargs):
        """The widget; and for a reader without a kernel (a notebook converted to HTML by
        nbconvert, whose widgets need a kernel or an online widget manager), the same view as
        an offline page fragment (gpt2explore.files.page) under text/html: a live front end
        shows the widget, a static HTML page the fragment, whose controls work without Python."""
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        if self.page_fallback:
            try:
                bundle["text/html"] = pages.page(self, embed=True)
            except PageError:  # e.g. a sampler the browser cannot compute: the widget alone
                pass
        return bundle

    def _ipython_display_(self):
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)




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
