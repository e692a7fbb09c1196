"""The stepper on the page's own component (gpt2explore.widgets.front, kind "stepper").

The view's data is the session's sample with its next step (the preview: its logits, its
settings and the token its u draws) as the last step; the component shows that step's bars,
exact at every setting from the row the kernel sends, and redraws the sliders in the browser.
Next, Next ×N, Back, Force, Fork and a click on a bar are messages to the kernel
({type: "click", action, ...}); the session moves, the view's data follows, and the kernel
answers {type: "moved", ask, error} once it has. The settings a move carries are the
component's: a move draws with what the reader sees. A session drawn with Gumbel noise (one
number per vocabulary token) is the same component: the browser asks the kernel what the
step's noise draws under the settings shown ({type: "drawn"}, gpt2explore.widgets.front).

The explorer's click-to-fork opens this stepper too (Explorer.fork_at).

The Python object keeps the settings controls (`controls`, `layer`), as the explorer does: set
in Python, they set the session's settings and move the view. Tests drive the object as the
component does (`handle(message)`) or through its methods (next, back, force, fork).
"""
from __future__ import annotations

import copy
import html

import ipywidgets as W

from ..core import arguments, extensions
from ..core.pieces import step_label
from ..core.tokens import show_text
from ..core.trace import Run
from ..figures import plots
from ..model.generation import require_lm
from ..views import page as page_view
from .controls import _Displayable, at_layer_or_self, layer_slider, message_html, set_controls, settings_controls
from .front import Front
from .why import why_spec

CLICKS = [["force", "force"], ["why this token", "why"]]  # what a click on a bar does


class LiveStepper(_Displayable):
    """`gx.stepper(lm, prompt)` or `session.widget()`: Next, Next ×N, Back, Force, Fork, with
    live bars of the next token's distribution. Clicking a bar forces that token. Calling
    `session.step()` in another cell updates the same view."""

    def __init__(self, session, n: int = 20):
        self.session, self.n = session, n
        self.status = W.HTML()
        self.forks: list[LiveStepper] = []
        self.forks_box = W.VBox()
        self.controls = settings_controls(session.settings)
        self.layer = layer_slider(session.next_step)
        self._following = False  # set while the controls follow the session
        data = self._data()
        self.view = Front(data, self._view_step, click=self.handle, gone=self.close, state=self._state(data))
        self.view.observe(self._from_front, names="state")
        session.on_change(self._on_session)
        for name, c in self.controls.items():
            c.observe(lambda change, name=name: self._on_control(name, change), names="value")
        if self.layer is not None:
            self.layer.observe(lambda _: self._push_state(), names="value")
        self.widget = W.VBox([self.view, self.status, self.forks_box])

    def _do(self, fn, *args, **kwargs) -> str | None:
        """Run a session move; a bad input shows as a message (until the next move that works),
        not an exception; returns the message."""
        try:
            fn(*args, **kwargs)
        except (ValueError, TypeError) as err:
            self.status.value = message_html(str(err))
            return str(err)
        self.status.value = ""
        return None

    def _on_control(self, name: str, change) -> None:
        """A control set in Python: only that setting of the session changes."""
        if not self._following:
            self._do(self.session.set, **{name: change["new"]})

    def _push_state(self) -> None:
        state = self._state(self.view.data)
        if self.view.state != state:
            self.view.state = state

    # ---- what the view shows ----------------------------------------------------------
    def _data(self) -> dict:
        """The page data of the session's sample with its next step last."""
        s = self.session
        shown = copy.copy(s.sample)
        shown.steps = list(s.steps) + [s.next_step]
        run = Run([shown], s.settings, s.seed, model_name=s.lm.name, meta=dict(s.run.meta), lm=s.lm)
        data = page_view.page_data(run, kind="stepper", n=self.n, live=True,
                                   title=f"Stepper · {s.lm.name}")
        whole = s.sample.pieces  # the text so far: the preview's token is not written yet
        data["samples"][0]["pieces"] = [show_text(p.text) for p in whole]
        data["samples"][0]["notes"] = [p.note for p in whole]
        data["clicks"] = CLICKS
        data["why"] = why_spec()  # the "why this token" section: the kernel answers it
        residual = shown.steps[-1].residual
        data["layers"] = residual.shape[0] - 1 if residual is not None else None
        data["room"] = s.room
        return data

    def _state(self, data: dict | None = None) -> dict:
        data = data if data is not None else self.view.data
        old = getattr(getattr(self, "view", None), "state", None) or {}
        now = {k: v for k, v in self.session.settings.as_dict().items() if k in data["start"]}
        mine = old.get("settings") or {}
        if mine and all(now.get(k, v) == v for k, v in mine.items()):
            now = mine  # the component's own (the same values): no echo back to it
        layer = getattr(self, "layer", None)
        return {"sample": 0, "step": len(self.session.steps), "log": bool(old.get("log", False)),
                "layer": layer.value if layer is not None else None, "click": old.get("click") or "force",
                "settings": now}

    def _view_step(self, sample: int, step: int, layer):
        """The step a message asks about: a step so far, or the next one (the last)."""
        steps = self.session.steps
        s = steps[step] if step < len(steps) else self.session.next_step
        return s if layer is None else s.at_layer(int(layer))

    def _on_session(self, session) -> None:
        """The session moved (a button here, or session.step() in another cell): the view follows."""
        self._following = True
        try:
            set_controls(self.controls, session.settings)
        finally:
            self._following = False
        self.view.data = self._data()
        self._push_state()

    def _from_front(self, change) -> None:
        """The reader moved a slider: the session's settings follow (the next draws use them)."""
        state = change["new"] or {}
        if self.layer is not None and state.get("layer") is not None and state["layer"] != self.layer.value:
            self._following = True
            try:
                self.layer.value = state["layer"]
            finally:
                self._following = False
        self._do(self._settle, state.get("settings") or {})

    def _settle(self, settings: dict) -> None:
        now = self.session.settings.as_dict()
        changed = {k: v for k, v in settings.items() if k in now and now[k] != v}
        if changed:
            self.session.set(**changed)

    # ---- moves ------------------------------------------------------------------------
    def handle(self, content: dict) -> None:
        """A message of the component: a move (next, next_n, back, force, fork) or a click on a
        bar; the kernel answers {type: "moved"} once the view's data has followed, with what went
        wrong (`error`) or what a force or a fork did (`said`): the component shows either on its
        status line, once."""
        action, error, said = content.get("action") or "bar", None, ""
        try:
            if content.get("settings"):
                self._settle(content["settings"])
            if action == "next":
                self.session.step(int(content.get("n") or 1))
            elif action == "back":
                self.session.back()
            elif action in ("force", "bar"):  # a click on a bar in "why" mode is the front end's own
                text = content.get("text", "")
                self.session.force(int(content["token"]) if content.get("token") is not None else text)
                forced = self.session.steps[-1]
                said = f"forced {step_label(forced, forced.token)!r} at step {forced.index}"
            elif action == "fork":
                self.fork()
                said = f"fork {len(self.forks)} opened below this stepper"
            else:
                raise ValueError(f"unknown stepper action {action!r}; the actions are next, back, force, fork")
        except (ValueError, TypeError) as err:
            error = str(err)
        self.status.value = ""  # the component says it, on its own status line
        # `steps`: the session's steps once moved, so the component keeps what was said when that data comes after it
        self.view.send({"type": "moved", "ask": content.get("ask"), "error": error, "said": said,
                        "steps": len(self.session.steps)})

    def next(self, n: int = 1) -> None:
        self.handle({"action": "next", "n": n})

    def back(self) -> None:
        self.handle({"action": "back"})

    def force(self, token) -> None:
        self.handle({"action": "force", "token": token} if isinstance(token, int) else {"action": "force", "text": token})

    def fork(self) -> "LiveStepper":
        """A stepper on a fork of the session (the same steps so far), shown under this one."""
        child = LiveStepper(self.session.fork(), n=self.n)
        self.forks.append(child)
        self.forks_box.children = tuple(
            W.VBox([W.HTML(f"<b>fork {i + 1}</b>: {html.escape(repr(f.session.text[-60:]))}"), f.widget])
            for i, f in enumerate(self.forks))
        return child

    @property
    def fig(self):
        """The plotly figure of the next step's bars (its lens view at the layer shown), for gx.save."""
        state = self.view.state or {}
        view = at_layer_or_self(self.session.next_step, self.layer)
        return plots.next_token_bars(view, n=self.n, log=bool(state.get("log")))

    def close(self) -> None:
        """Stop following the session and close the view (and its forks')."""
        self.session.off_change(self._on_session)
        if self.session._stepper is self:
            self.session._stepper = None
        self.view.release()
        super().close()


def stepper(lm, prompt=None, n: int = 20, **settings):
    """A step-through session on `prompt` with buttons and live next-token bars."""
    lm, n = require_lm(lm), arguments.count("n", n)
    return session_widget(lm.session(prompt, **settings), n=n)


def session_widget(session, n: int = 20):
    """The stepper of a session: the page's component. It redraws what a step's one uniform u
    draws in the browser; a session drawn with Gumbel noise (one number per vocabulary token) asks
    the kernel what its noise draws under the settings shown."""
    return LiveStepper(session, n=n)


extensions.register("Session", "stepper", session_widget)  # session.widget()
