"""gpt2explore: see, step by step, how temperature, top-k and top-p turn GPT-2's logits into text.

    import gpt2explore as gx
    lm = gx.load()                      # the bundled small GPT-2 ("tiny"), offline
    run = lm.generate("Hi! My name is", nsamples=2, length=20, seed=1)
    run.samples[0].steps[0].distribution(temperature=0.5)

Importing the package is cheap: torch, transformers, plotly and ipywidgets load only when a
name that needs them is first used (so the command line can answer Ctrl-C from its first
instant, and `gpt2explore --help` is quick).
"""
from __future__ import annotations

import importlib
import sys
import types

__version__ = "0.1.0"

# public name -> the module that defines it
_NAMES = {
    "capture": "capture",
    "generate": "generation",
    "LM": "lm",
    "ModelUnavailableError": "loading", "data_path": "loading", "load": "loading",
    "Settings": "sampling", "filter_logits": "sampling", "pick": "sampling", "probabilities": "sampling",
    "uniforms": "sampling",
    "Session": "session",
    "Run": "trace", "Sample": "trace", "Step": "trace",
    "explore": "widgets", "stepper": "widgets", "compare": "widgets",
    "next_token_bars": "plots", "temperature_sweep": "plots", "generation_overview": "plots",
    "compare_next_token": "plots", "log_ratio_table": "plots",
    "save": "export", "caption": "export", "load_run": "export",
    "BundleError": "bundle",
    "table": "formatting",
    "sampling_stages": "pipeline", "pipeline_figure": "pipeline",
    "text_view": "textview", "rank_histogram": "textview", "inspect": "inspector",
    "lens_heatmap": "lensplots", "lens_grid": "lensplots", "capture_layers": "lens",
    "draw_figure": "drawplot",
}
_SUBMODULES = {"bars", "bundle", "capture", "cli", "comparer", "controls", "drawplot", "export", "formatting", "generation", "inspector", "lens", "lensplots", "lm", "loading", "pipeline", "plots",
               "provenance", "sampling", "scoring", "session", "stages", "style", "teaching", "textview", "tokens", "trace", "verify", "widgets"}


def __getattr__(name):
    if name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'gpt2explore' has no attribute {name!r}")


class _Package(types.ModuleType):
    """Keeps `gx.capture` the function: importing the submodule of the same name would
    otherwise rebind the package attribute to the module."""

    def __setattr__(self, name, value):
        if name == "capture" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __dir__():
    return sorted(set(globals()) | set(_NAMES) | _SUBMODULES)


__all__ = ["LM", "data_path", "teaching", "ModelUnavailableError", "Run", "Sample", "Session", "Settings", "Step",
           "capture", "filter_logits", "generate", "load", "pick", "probabilities", "uniforms", "__version__",
           "explore", "stepper", "compare", "next_token_bars", "temperature_sweep", "generation_overview",
           "compare_next_token", "log_ratio_table", "save", "caption", "load_run", "BundleError", "table",
           "sampling_stages", "pipeline_figure", "text_view", "rank_histogram", "inspect",
           "lens_heatmap", "lens_grid", "capture_layers", "draw_figure"]
