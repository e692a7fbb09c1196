"""The logit lens: the residual stream after the embeddings and after every block, read
through the model's own final norm and LM head.

The blocks, the final norm (GPT-2's and GPT-NeoX's LayerNorm, Llama's and Qwen2's RMSNorm) and
the LM head are where the family table says (gpt2explore.model.family).

`capture_layers(model)` hooks the transformer blocks for the length of a `with` block (the
hooks are removed in `finally`, also when the block raises) and records, per forward call,
the residual stream at the newest position: (B, n_layer + 1, d_model), on the model's
device. 4 bytes x (n_layer + 1) x d_model per step in float32: 39,936 bytes for GPT-2 small
(13 x 768), far less than the step's 201,028 bytes of logits.

Pitfalls others met, avoided here: the hooks read each block's output, BEFORE the final
norm (transformers' last_hidden_state already has it applied: reading it and applying it
again would normalise twice); every layer goes through the model's own final norm module
(`ln_f`, `norm`, `final_layer_norm`) as a function, once, with its learned scale and bias (not
a stored scale from another layer), and the final norm is never skipped.
"""
from __future__ import annotations

import numbers
from contextlib import contextmanager

import torch

from ..core import arguments, extensions
from ..core.tokens import token_label
from ..core.trace import step_rank
from .family import known, layout, others


class LensError(ValueError):
    """A model the lens cannot read (a family the table does not know) or a step without layers."""


def blocks_of(model):
    """(blocks, final norm, lm_head) of a model whose family the table knows."""
    family = layout(model)
    blocks, norm = family.part(model, "blocks"), family.part(model, "norm")
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if blocks is None or norm is None or head is None or not len(blocks):
        kind = getattr(getattr(model, "config", None), "model_type", None)
        where = (f"{family.name} models ({family.body}.{family.blocks}, {family.body}.{family.norm}, {family.head})"
                 if known(model) else f"GPT-2 family models (transformer.h, transformer.ln_f, lm_head) and {others()}")
        raise LensError(f"the logit lens reads {where}; {type(model).__name__}"
                        f"{f' (model_type {kind!r})' if kind else ''} is not one")
    return blocks, norm, head


class LayerCapture:
    """What `capture_layers` recorded: `resid[i]` is (B, n_layer + 1, d) for forward call i
    (newest position), or (B, T, n_layer + 1, d) when `all_positions`."""

    def __init__(self, n_layer: int, all_positions: bool):
        self.n_layer, self.all_positions = n_layer, all_positions
        self.resid: list[torch.Tensor] = []
        self._current: list[torch.Tensor] = []

    def _take(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden.detach() if self.all_positions else hidden[:, -1, :].detach().clone()

    def _embeddings(self, module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        self._current = [self._take(hidden)]

    def _block(self, module, args, kwargs, output):
        hidden = output[0] if isinstance(output, tuple) else output
        self._current.append(self._take(hidden))
        if len(self._current) == self.n_layer + 1:
            self.resid.append(torch.stack(self._current, dim=-2))  # (B, L+1, d) or (B, T, L+1, d)
            self._current = []


@contextmanager
def capture_layers(model, all_positions: bool = False):
    """Record the residual stream after the embeddings and after each block, per forward call."""
    if not isinstance(getattr(model, "model", model), torch.nn.Module):
        raise TypeError(f"model must be a torch model (e.g. lm.model) or an LM, got {type(model).__name__}")
    blocks, _, _ = blocks_of(model)
    cap = LayerCapture(len(blocks), all_positions)
    handles = [blocks[0].register_forward_pre_hook(cap._embeddings, with_kwargs=True)]
    try:
        for block in blocks:
            handles.append(block.register_forward_hook(cap._block, with_kwargs=True))
        yield cap
    finally:
        for h in handles:
            h.remove()


def maybe_capture_layers(model, layers: bool, all_positions: bool = False):
    """`capture_layers` when `layers`, else a block that yields None and hooks nothing."""
    from contextlib import nullcontext

    return capture_layers(model, all_positions) if layers else nullcontext(None)


def lens_logits(model, resid: torch.Tensor) -> torch.Tensor:
    """Residual stream (..., d) -> logits (..., V): the model's own final norm, then its LM head."""
    _, ln_f, head = blocks_of(model)
    with torch.inference_mode():
        return head(ln_f(resid.to(next(model.parameters()).dtype))).float()


def step_model(step):
    lm = getattr(getattr(step.sample, "run", None), "lm", None) if step.sample is not None else None
    if lm is None:
        raise LensError("the lens needs the model that made this step (its final layer norm and LM head); "
                        "this run was loaded from a bundle without it: gx.load_run(folder, lm=lm) attaches it")
    return lm.model


def require_residual(step) -> torch.Tensor:
    run = getattr(step.sample, "run", None) if step.sample is not None else None
    if step.residual is None and run is not None and run.meta.get("bundle"):
        raise LensError("this step has no layers recorded: its bundle holds no residual stream (the run was made "
                        "without layers=True, or saved by a version that did not keep it); generate it again "
                        "with layers=True and save that")
    if step.residual is None:
        raise LensError("this step has no layers recorded; generate (or score) with layers=True, e.g. "
                        "lm.generate(prompt, layers=True), to use the logit lens")
    return step.residual


def layer_index(step, layer: int) -> int:
    n = require_residual(step).shape[0] - 1
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not -n - 1 <= layer <= n:
        raise LensError(f"layer must be an integer in 0..{n} (0 = the embeddings, {n} = the last block; "
                        f"-1 = the last), got {layer!r}")
    return int(layer) % (n + 1)


def layer_logits(step, layer: int) -> torch.Tensor:
    """Logits over the vocabulary read at `layer` (0 = after the embeddings, n_layer = after
    the last block, -1 = the last): the step's residual through the final norm and the LM head."""
    return lens_logits(step_model(step), require_residual(step)[layer_index(step, layer)])


def at_layer(step, layer: int):
    """A copy of the step whose logits are the lens logits at `layer` (for bars and tables)."""
    import copy

    view = copy.copy(step)
    view.logits, view.truncation, view.residual = layer_logits(step, layer), None, None
    view.scored_rank0 = view.raw_prob = None
    view.layer = layer_index(step, layer)
    return view


def lens_table(step, top: int = 10, **settings):
    """One row per (layer, rank): the top tokens at each layer under the settings, with the
    rank of the token actually drawn at that layer (ranks from 1, the likeliest)."""
    top = arguments.count("top", top)
    import pandas as pd

    rows, layers = [], require_residual(step).shape[0]
    chosen = step.settings_for(**settings)
    for layer in range(layers):
        view = at_layer(step, layer)
        probs = view.distribution_under(chosen)
        logits = view.logits
        ids = torch.topk(logits, top).indices.tolist()
        drawn_rank = step_rank(view) if step.token >= 0 else None
        for rank, tid in enumerate(ids, start=1):
            rows.append({"layer": layer, "rank": rank, "token_id": tid, "token": token_label(step, tid),
                         "logit": float(logits[tid]), "prob": float(probs[tid]),
                         "drawn_rank": None if drawn_rank is None else drawn_rank + 1})
    return pd.DataFrame(rows)


# the conveniences on Step that this module owns
extensions.register("Step", "layer_logits", layer_logits)
extensions.register("Step", "at_layer", at_layer)
extensions.register("Step", "lens", lens_table)
