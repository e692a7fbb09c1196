"""What an offline page shows, as plain JSON-able data: for every step, its top tokens' raw
logits, a compact summary of the rest of the vocabulary that bounds it, the step's own
distribution over the stored tokens, its uniform and its token. A page (gpt2explore.files.page)
carries this data and recomputes the distribution in the browser, in double precision and in
the same stage order as `step.distribution(...)`.

What a step stores, and why it is enough:
- `ids`, `logits`: the `width` likeliest tokens by raw logit (256: above the top-k slider's
  200, so no top-k up to 200 reaches beyond them), plus the step's own token and, when the page
  offers the repetition penalty or no-repeat n-grams, every token of the context (those stages
  move only tokens of the context, so every token they touch is stored). Logits are the exact
  float32 (or float16) values the step's distribution is computed from.
- `tail`: the other tokens, in at most `bins` groups by logit: how many (`n`), their smallest and
  largest logit (`lo`, `hi`), `s` = sum(exp(logit - hi)) in double precision, and `own`, their
  mass under the step's own settings. At T=1, `s` gives their exact mass; at any other T the
  mass of a group lies between two values a page can prove (Jensen's inequality and the chord
  of exp(x / T) over [lo, hi]), so a page knows how close it is. When the step's token lies
  beyond the stored top, the groups are cut at its value: the tokens drawn before it are whole
  groups, and its draw replays exactly.
- `own`: the step's own distribution over the stored tokens (what its token was drawn from),
  with `own_rest` the mass it leaves to the others, `own_kept` and `own_entropy`: at the run's
  own settings a page shows exactly the numbers the run drew from.

Binary arrays travel as base64 of little-endian typed arrays (Int32 ids and counts, Float32
logits, Float64 masses and probabilities), so a page reads back the exact values.
"""
from __future__ import annotations

import base64
import math

import numpy as np
import torch

from ..core import registry, sampling
from ..core.pieces import carry_before, step_label
from ..core.settings import describe
from ..core.tokens import show_text, token_label

FORMAT = 1
WIDTH = 256  # stored tokens per step: above the top-k slider's 200
BINS = 64  # groups summarising the rest of the vocabulary
CLASSIC = ("temperature", "top_k", "top_p", "min_p")  # a page always offers these
IN_PAGE = ("repetition_penalty", "no_repeat_ngram_size", "temperature", "top_k", "top_p", "min_p", "typical_p",
           "epsilon_cutoff", "eta_cutoff")
CONTEXT_STAGES = ("repetition_penalty", "no_repeat_ngram_size")
SHOWN = ("temperature", "top_k", "top_p")  # always on show; a sampler the run never used waits under "more samplers"


class PageError(ValueError):
    """A run a page cannot be made of (a sampler the browser cannot compute, no logits kept)."""


def b64(array: np.ndarray) -> str:
    """A typed array as base64 of its little-endian bytes."""
    return base64.b64encode(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()).decode("ascii")


def unb64(text: str, dtype) -> np.ndarray:
    """`b64` read back (for tests and tools)."""
    return np.frombuffer(base64.b64decode(text), dtype=np.dtype(dtype).newbyteorder("<"))


def used_samplers(run) -> list[str]:
    """The samplers the steps of `run` set away from their "off" value."""
    used = []
    for sample in run.samples:
        for step in sample.steps:
            for name, value in step.settings.changed().items():
                if name != "semantics" and name not in used:
                    used.append(name)
    return used


def page_samplers(run) -> list[str]:
    """The samplers a page of `run` offers: temperature, top-k, top-p and min-p always, and any
    other the run's steps use. A sampler the browser cannot compute is a PageError naming it."""
    used = used_samplers(run)
    cannot = [n for n in used if n not in IN_PAGE]
    if cannot:
        values = ", ".join(cannot)
        raise PageError(f"a page computes {', '.join(registry.get(n).label for n in IN_PAGE)} in the browser; this "
                        f"run uses {values}, which it cannot: make the page from a run without {values}")
    return [n for n in registry.names() if n in CLASSIC or n in used]


def sampler_specs(names, more=(), kernel=()) -> list[dict]:
    """Each offered sampler as the page's controls need it (generated from the registry); those
    in `more` sit in a collapsed "more samplers" section, those in `kernel` are computed by the
    kernel (a live widget: samplers the browser cannot compute)."""
    out = []
    for name in names:
        s = registry.get(name)
        spec = {"name": s.name, "label": s.label, "short": s.short, "off": s.off, "min": s.range[0],
                "max": s.range[1], "step": s.step, "integer": s.integer, "openai": s.openai,
                "rule": getattr(s.check, "rule", None)}  # the registry's check, as data
        if name in more:
            spec["more"] = True
        if name in kernel:
            spec["kernel"] = True
        out.append(spec)
    return out


def _check_run(run, live: bool = False) -> None:
    """A PageError for a run a page cannot show; `live` (a notebook widget, whose kernel says what
    each step's Gumbel noise draws) lets Gumbel noise through."""
    for sample in run.samples:
        for step in sample.steps:
            if step.logits is None:
                raise PageError("a page needs the logits of every step: this run kept none "
                                "(keep_logits='none'); generate again with keep_logits='float32'")
            if step.truncation is not None:
                raise PageError("a page needs every step's full logits: this run was loaded from a top-N bundle; "
                                "make the page from the run itself, or from a bundle saved with logits='full'")
            if step.legacy:
                raise PageError("this run was drawn by format 1's single-precision arithmetic (a bundle of an "
                                "earlier version); a page recomputes in double precision: generate the run again")
            if step.noise is not None and not live:
                raise PageError("a page redraws each token from its one uniform u; this run was drawn with Gumbel "
                                "noise (coupling='gumbel': one number per vocabulary token and step), which a "
                                "page does not carry: make the page from a run generated with coupling='cdf'")


def tail_summary(values: torch.Tensor, own: torch.Tensor, bins: int = BINS) -> dict:
    """Logits (float64) in at most `bins` groups of equal width by logit, from the largest down:
    n, lo, hi, s = sum(exp(logit - hi)) of each group, and `own`, the step's own probability of
    the group's tokens together."""
    keep = torch.isfinite(values)
    values, own = values[keep], own[keep]
    if values.numel() == 0:
        return {"n": [], "lo": [], "hi": [], "s": [], "own": []}
    top, low = float(values.max()), float(values.min())
    width = (top - low) / bins or 1.0
    group = ((top - values) / width).floor().clamp(0, bins - 1).long()  # 0 = the largest logits
    count = torch.bincount(group, minlength=bins)  # (bins,)
    hi = torch.full((bins,), -math.inf, dtype=values.dtype).scatter_reduce(0, group, values, "amax")
    lo = torch.full((bins,), math.inf, dtype=values.dtype).scatter_reduce(0, group, values, "amin")
    s = torch.zeros(bins, dtype=values.dtype).scatter_add(0, group, torch.exp(values - hi[group]))
    mass = torch.zeros(bins, dtype=torch.float64).scatter_add(0, group, own.double())
    used = count > 0
    return {"n": count[used].tolist(), "lo": lo[used].tolist(), "hi": hi[used].tolist(), "s": s[used].tolist(),
            "own": mass[used].tolist()}


def _joined(parts: list[dict]) -> dict:
    return {k: [v for part in parts for v in part[k]] for k in parts[0]}


def _after_context(step, row: torch.Tensor) -> torch.Tensor:
    """The step's raw logits after its own settings' context stages (repetition penalty,
    no-repeat n-grams): the order its token was drawn in, up to temperature's scaling."""
    for stage in registry.active_stages(step.settings):
        if stage.sampler.reads_context:
            row = stage.apply(row, step.context_tokens)
    return row


def step_data(step, offered: list[str], labels: dict, width: int = WIDTH, bins: int = BINS) -> dict:
    """One step as a page stores it (see the module's docstring). When the step's token lies
    beyond the stored top, the groups are cut at its value, so that the tokens drawn before it
    are whole groups and its draw replays exactly."""
    logits = step.require_logits()
    vocab = logits.shape[-1]
    raw = logits.double()
    ids = torch.topk(logits.float(), min(width, vocab)).indices.tolist()
    extra = [step.token] if step.token >= 0 else []
    if any(n in offered for n in CONTEXT_STAGES):
        extra += step.context_tokens
    seen = set(ids)
    for t in extra:
        if t not in seen:
            seen.add(t)
            ids.append(int(t))
    ids_t = torch.tensor(ids, dtype=torch.long)
    rest = torch.ones(vocab, dtype=torch.bool)
    rest[ids_t] = False
    own = step.distribution()
    rest_ids = rest.nonzero().flatten()
    values, own_rest = raw[rest_ids], own[rest_ids]
    parts = [tail_summary(values, own_rest, bins)]
    if step.token >= 0 and step.token not in ids[:width] and values.numel():
        cut = float(_after_context(step, raw.clone())[step.token])
        above = (values > cut) | ((values == cut) & (rest_ids < step.token))
        if bool(above.any()) and not bool(above.all()):
            parts = [tail_summary(values[above], own_rest[above], bins // 2),
                     tail_summary(values[~above], own_rest[~above], bins // 2)]
    tail = _joined(parts)
    for i in ids:
        if i not in labels:
            labels[i] = token_label(step, i)
    label_at = _labels_here(step, ids, labels)
    dtypes = {"n": np.int32, "lo": np.float32, "hi": np.float32, "s": np.float64, "own": np.float64}
    return {
        "token": int(step.token),
        "u": step.u,
        "forced": bool(step.forced),
        **({"label_at": label_at} if label_at else {}),
        "settings": {k: v for k, v in step.settings.as_dict().items() if k in offered or k == "semantics"},
        "ids": b64(np.array(ids, dtype=np.int32)),
        "logits": b64(raw[ids_t].numpy().astype(np.float32)),
        "tail": {k: b64(np.array(v, dtype=dtypes[k])) for k, v in tail.items()},
        "own": b64(own[ids_t].double().numpy()),
        "own_rest": max(0.0, 1.0 - float(own[ids_t].sum())),
        "own_kept": int(sampling.nucleus_size(own)),
        "own_entropy": float(sampling.entropy(own)),
    }


def _labels_here(step, ids: list[int], labels: dict) -> dict:
    """The labels this step gives that differ from a token's own (core.pieces.step_label): its
    own token when it holds part of a character, and, after a context that ends inside a
    character, the tokens that would complete it."""
    wanted = ids if step.sample is not None and carry_before(step.sample, step.index) else [step.token]
    here = {str(i): step_label(step, i) for i in wanted if i >= 0}
    return {k: v for k, v in here.items() if v != labels.get(int(k))}


def _sample_data(sample, offered, labels, width, bins) -> dict:
    prompt = sample.prompt if sample.prompt is not None else "<|endoftext|>"
    whole = sample.pieces
    return {
        "prompt": prompt,
        "index": sample.index,
        "pieces": [show_text(p.text) for p in whole],  # whole characters: they concatenate to the text
        "notes": [p.note for p in whole],  # which character a token shares with its neighbours ("" if none)
        "context": [int(t) for t in sample.prompt_tokens],
        "steps": [step_data(s, offered, labels, width, bins) for s in sample.steps],
    }


def page_data(run, kind: str = "explorer", samples=None, n: int = 20, width: int = WIDTH, bins: int = BINS,
              facts: dict | None = None, settings: dict | None = None, title: str = "", live: bool = False) -> dict:
    """A run as one page's data: `kind` "explorer", "compare" (columns with the same draws) or
    "inspect" (a scored text); `samples` the indices shown (all by default); `n` bars per
    figure; `settings` where the controls start (the first step's own by default). `live`: the
    data of a notebook widget, whose kernel is there to answer: every registered sampler is
    offered (those the run never used under "more samplers", those the browser cannot compute
    marked for the kernel)."""
    _check_run(run, live)
    first = next((s.steps[0] for s in run.samples if s.steps), None)
    start = first.settings if first is not None else run.settings
    if settings:
        start = start.replace(**settings)
    used, kernel = used_samplers(run) + [k for k in start.changed() if k != "semantics"], ()
    if live:
        offered = registry.names()
        kernel = [n for n in offered if n not in IN_PAGE]
    else:
        offered = page_samplers(run)
    wanted = [k for k in start.changed() if k != "semantics" and k not in offered]  # a widget set to more
    cannot = [k for k in wanted if k not in IN_PAGE and not live]
    if cannot:
        raise PageError(f"the widget is set to {', '.join(f'{k}={start.as_dict()[k]}' for k in cannot)}, which a page "
                        f"cannot compute in the browser; set it back to off before saving the page")
    offered = [n for n in registry.names() if n in offered or n in wanted]
    chosen = list(range(len(run.samples))) if samples is None else list(samples)
    labels: dict[int, str] = {}
    data_samples = [_sample_data(run.samples[i], offered, labels, width, bins) for i in chosen]
    return {
        "format": FORMAT,
        "kind": kind,
        "title": title,
        "model": run.model_name,
        "seed": run.seed,
        "vocab": int(first.logits.shape[-1]) if first is not None else 0,
        "n": n,
        "scored": bool(run.meta.get("scored")),
        "samplers": sampler_specs(offered, [n for n in offered if n not in SHOWN and n not in used], kernel),
        "others": {s.name: s.off for s in registry.samplers() if s.name not in offered},  # always at "off" here
        "start": {k: v for k, v in start.as_dict().items() if k in offered or k == "semantics"},
        "run_settings": describe(run.settings),
        "labels": {str(k): v for k, v in labels.items()},
        "samples": data_samples,
        "facts": facts or {},
        **({"coupling": noise_kind(run)} if live else {}),
    }


def noise_kind(run) -> str:
    """How the run's tokens were drawn: "cdf" (one uniform u per step: the browser redraws them),
    or "gumbel" / "posterior" (Gumbel noise, one number per vocabulary token: the kernel says
    what it draws)."""
    kinds = [s.noise.kind for x in run.samples for s in x.steps if s.noise is not None]
    return kinds[0] if kinds else run.meta.get("coupling") or "cdf"
