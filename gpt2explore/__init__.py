"""gpt2explore: see, step by step, how temperature, top-k and top-p turn GPT-2's logits into text.

    import gpt2explore as gx
    lm = gx.load()                      # the bundled small GPT-2 ("tiny"), offline
    run = lm.generate("Hi! My name is", nsamples=2, length=20, seed=1)
    run.samples[0].steps[0].distribution(temperature=0.5)
"""
from .capture import capture
from .generation import generate
from .lm import LM
from .loading import ModelUnavailableError, data_path, load
from .sampling import Settings, filter_logits, pick, probabilities, uniforms
from .session import Session
from .trace import Run, Sample, Step


def __getattr__(name):
    # the notebook parts load plotly and ipywidgets only when first used
    if name in ("explore", "stepper", "compare"):
        from . import widgets

        return getattr(widgets, name)
    if name in ("next_token_bars", "temperature_sweep", "generation_overview", "compare_next_token",
                "log_ratio_table"):
        from . import plots

        return getattr(plots, name)
    if name in ("save", "caption", "load_run"):
        from . import export

        return getattr(export, name)
    raise AttributeError(f"module 'gpt2explore' has no attribute {name!r}")

__version__ = "0.1.0"

from . import teaching  # noqa: E402  (worked examples for the notebooks)

__all__ = ["LM", "data_path", "teaching", "ModelUnavailableError", "Run", "Sample", "Session", "Settings", "Step", "capture",
           "filter_logits", "generate", "load", "pick", "probabilities", "uniforms", "__version__"]
