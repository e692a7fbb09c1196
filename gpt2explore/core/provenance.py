"""Where a figure or a table came from, as data: model, weights, prompt, seed, settings,
versions. Figures, exports, pages and bundles record it; it sits on the lowest floor because it
is data about the data, and every floor above may need it."""
from __future__ import annotations

import datetime
import platform
import re
from importlib import metadata

import torch

from . import registry
from .settings import Settings, describe
from .version import __version__


def _installed(name: str) -> str | None:
    """An installed distribution's version, read without importing it."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict:
    found = {"gpt2explore": __version__, "torch": torch.__version__, "transformers": _installed("transformers"),
             "python": platform.python_version()}
    plotly = _installed("plotly")  # optional: figures only
    if plotly is not None:
        found["plotly"] = plotly
    return found


def for_step(step, settings=None, figure: str = "") -> dict:
    """The facts behind a figure drawn from one step (settings = the ones shown)."""
    sample = step.sample
    run = sample.run if sample is not None else None
    shown = settings or step.settings
    return {
        "figure": figure,
        "model": run.model_name if run else None,
        "weights_sha256": run.weights_sha256 if run else None,
        "device": run.meta.get("device") if run else None,
        "prompt": sample.prompt if sample is not None else None,
        "seed": run.seed if run else None,
        "sample": sample.index if sample is not None else None,
        "step": step.index,
        "token": step.token,
        "u": step.u,
        "coupling": step.coupling,  # "cdf" (u), "gumbel" / "posterior" (Gumbel noise), None (forced)
        "settings": shown if isinstance(shown, dict) else shown.as_dict(),
        "sampled_with": step.settings.as_dict(),
        "versions": versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def caption(facts: dict) -> str:
    """One line for a write-up, from `for_step` facts (or a list of them); its settings read as
    the figure's title reads them (`describe`: every sampler the settings switch on, by label)."""
    items = facts if isinstance(facts, list) else [facts]
    f = items[0]
    known = set(registry.names()) | {"semantics"}
    s = Settings(**{k: v for k, v in f["settings"].items() if k in known})
    prompts = " vs ".join(repr(x["prompt"] if x["prompt"] is not None else "<|endoftext|>") for x in items)
    sha = (f["weights_sha256"] or "")[:12]
    v = f["versions"]
    said = describe(s)
    swept = (f.get("swept") or {}).get("temperature")
    if swept:  # a figure over many temperatures (temperature_sweep): the range, never one T
        lo, hi = (format(float(t), ".2g") for t in swept)
        said = re.sub(r"^T=[^,]*", f"T swept from {lo} to {hi}", said)
    return (f"{f['figure'] or 'Figure'}: step {f['step']} after {prompts}; model {f['model']} "
            f"(weights sha256 {sha}), seed {f['seed']}, sample {f['sample']}; {said}; "
            f"gpt2explore {v['gpt2explore']}, "
            f"torch {v['torch']}, transformers {v['transformers']}, {f['device']}.")
