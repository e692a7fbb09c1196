"""Conveniences on the data, wired from the layer that owns them.

`run.save`, `run.verify`, `step.layer_logits`, `session.widget` ... are called on the data
objects of the lower layers, but their work belongs to higher ones (files, model, widgets). As
pandas registers accessors, the owning layer registers the function here (`register`), and the
data object looks it up (`call`); the data model never imports the layers built on it. The
package's front door (gpt2explore/__init__.py) names, in `PROVIDERS`, the module that registers
each convenience, so that a convenience works however its object was made.
"""
from __future__ import annotations

import importlib
from typing import Callable

_FUNCTIONS: dict[tuple[str, str], Callable] = {}
PROVIDERS: dict[tuple[str, str], str] = {}  # (owner, name) -> the module that registers it


def register(owner: str, name: str, fn: Callable) -> Callable:
    """Make `fn(obj, ...)` the convenience `owner.name` (owner: "Run", "Step", "Session")."""
    _FUNCTIONS[(owner, name)] = fn
    return fn


def call(owner: str, name: str, obj, *args, **kwargs):
    """Run the convenience `owner.name` on `obj`."""
    fn = _FUNCTIONS.get((owner, name))
    if fn is None and (owner, name) in PROVIDERS:
        importlib.import_module(PROVIDERS[(owner, name)])  # the owning layer registers it on import
        fn = _FUNCTIONS.get((owner, name))
    if fn is None:
        raise AttributeError(f"{owner}.{name} is provided by a part of gpt2explore that is not loaded: "
                             f"import gpt2explore first")
    return fn(obj, *args, **kwargs)
