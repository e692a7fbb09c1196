"""gpt2explore: see, step by step, how temperature, top-k and top-p turn GPT-2's logits into text.

    import gpt2explore as gx
    lm = gx.load()                      # the bundled small GPT-2 ("tiny"), offline
    run = lm.generate("Hi! My name is", nsamples=2, length=20, seed=1)
    run.samples[0].steps[0].distribution(temperature=0.5)

The package is a house of floors, each importing only from the floors below it:
docs/architecture.md describes them, and where a new sampler, figure or widget goes.

Importing the package is cheap: torch, transformers, plotly and ipywidgets load only when a
name that needs them is first used (so the command line can answer Ctrl-C from its first
instant, and `gpt2explore --help` is quick). This file is the front door: it names where each
public name lives, and which floor owns each convenience on the data (`run.save`, ...).
"""
from __future__ import annotations

import importlib

from .core import extensions as _extensions
from .core.version import __version__

# every public name: name -> the module that defines it (gx.NAME)
PUBLIC = {
    "Settings": "core.settings", "register_sampler": "core.registry", "samplers": "core.registry",
    "filter_logits": "core.sampling", "pick": "core.sampling", "probabilities": "core.sampling",
    "uniforms": "core.sampling",
    "Run": "core.trace", "Sample": "core.trace", "Step": "core.trace", "table": "files.tables",
    "LM": "model.lm", "ModelUnavailableError": "model.loading", "data_path": "model.loading", "load": "model.loading",
    "generate": "model.generation", "Session": "model.session", "capture": "model.capture",
    "capture_layers": "model.lens",
    "BundleError": "files.manifest", "load_run": "files.bundle", "save": "files.export", "caption": "files.export",
    "page": "files.page", "PageError": "views.page",
    "next_token_bars": "figures.bars", "temperature_sweep": "figures.plots", "generation_overview": "figures.plots",
    "compare_next_token": "figures.plots", "log_ratio_table": "figures.plots", "draw_figure": "figures.drawplot",
    "sampling_stages": "views.stages", "pipeline_figure": "figures.pipeline", "text_view": "figures.textview",
    "rank_histogram": "figures.textview", "lens_heatmap": "figures.lensplots", "lens_grid": "figures.lensplots",
    "attention_view": "figures.attention", "attention_overview": "figures.attention",
    "attribution_figure": "figures.why", "attribution_heatmap": "figures.why",
    "attribution_by_layer": "model.attribution",
    "explore": "widgets.explorer", "stepper": "widgets.stepper", "compare": "widgets.comparer",
    "inspect": "widgets.inspector",
    "counterfactual_view": "figures.counterfactual", "coupling_figure": "figures.counterfactual",
    "study": "model.study",
}
# modules people reach as gx.NAME (gx.teaching.softmax_table, gx.plots.divergences, ...)
MODULES = {
    "core": "core", "model": "model", "views": "views", "files": "files", "figures": "figures", "widgets": "widgets",
    "cli": "cli", "teaching": "teaching", "training": "training",
    "sampling": "core.sampling", "stages": "core.stages", "formatting": "core.formatting", "tokens": "core.tokens",
    "registry": "core.registry", "trace": "core.trace",
    "loading": "model.loading", "generation": "model.generation", "session": "model.session",
    "batching": "model.batching", "scoring": "model.scoring", "lens": "model.lens",
    "bundle": "files.bundle", "export": "files.export", "manifest": "files.manifest",
    "plots": "figures.plots", "bars": "figures.bars", "style": "figures.style", "drawplot": "figures.drawplot",
    "textview": "figures.textview", "gallery_cases": "teaching.gallery_cases",
}
# the conveniences on the data, and the floor that owns each (see gpt2explore.core.extensions)
_extensions.PROVIDERS.update({
    ("Run", "save"): "gpt2explore.files.bundle", ("Run", "save_table"): "gpt2explore.files.runtable",
    ("Run", "summary"): "gpt2explore.model.scoring", ("Run", "verify"): "gpt2explore.model.verify",
    ("Run", "counterfactual"): "gpt2explore.model.counterfactual",
    ("Step", "layer_logits"): "gpt2explore.model.lens", ("Step", "at_layer"): "gpt2explore.model.lens",
    ("Step", "lens"): "gpt2explore.model.lens", ("Step", "attribution"): "gpt2explore.model.attribution",
    ("Session", "stepper"): "gpt2explore.widgets.stepper", ("TopTable", "html"): "gpt2explore.files.tables",
    ("Study", "agreement_figure"): "gpt2explore.figures.study", ("Study", "words_figure"): "gpt2explore.figures.study",
})


def __getattr__(name):
    if name in PUBLIC:
        value = getattr(importlib.import_module(f".{PUBLIC[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name in MODULES:
        return importlib.import_module(f".{MODULES[name]}", __name__)
    raise AttributeError(f"module 'gpt2explore' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(PUBLIC) | set(MODULES))


__all__ = ["__version__", *PUBLIC]
