"""Attention per step: the weights the position that produced a step's logits gave every
position before it (itself included), in every layer and head.

`capture_attention(model)` records, for the length of a `with` block, each layer's queries of
the newest position in the last forward call, as the model's own attention used them:
GPT-2's from its query-key-value projection (`attn.c_attn`, a forward hook); Llama's, Qwen2's
and GPT-NeoX's after their rotary embedding, from the call of transformers' attention function
(the function the model would call, wrapped for the block: the model's arithmetic is the same
bits). The keys are the model's own KV cache after that call, so generation and sessions (force,
back, fork: the cache is cropped or copied with them) always read the keys the model itself
attended over; grouped-query attention's key heads are shared by their query heads as the
model shares them. `weights(cache, mask)` then gives, per row, softmax(q . k * scaling) over
the row's real positions: (n_layer, n_head, n_context) each, every row of it summing to 1 -
what transformers' eager attention (`output_attentions=True`) gives for that position. Hooks
and the wrapper are removed in `finally`, also when the block raises. 4 x n_layer x n_head x
n_context bytes a step (GPT-2 small at 100 tokens of context: 57,600).
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext

import torch

from . import family


class AttentionError(ValueError):
    """A model whose attention cannot be read, or a step without it."""


def attention_modules(model) -> list:
    """Each block's attention module, from the family table (GPT-2: transformer.h[i].attn;
    Llama and Qwen2: model.layers[i].self_attn; GPT-NeoX: gpt_neox.layers[i].attention)."""
    fam = family.layout(model)
    blocks = fam.part(model, "blocks")
    mods = [getattr(b, fam.attn, None) for b in blocks] if blocks is not None else []
    if not mods or any(m is None or not hasattr(m, "scaling") for m in mods) or \
            (fam.qkv is not None and any(not hasattr(m, fam.qkv) for m in mods)):
        raise AttentionError(f"attention=True reads the families {', '.join(family.FAMILIES)}; "
                             f"{type(model).__name__} (model_type {family.model_type(model)!r}) is not one")
    return mods


class AttentionCapture:
    """The newest position's queries of each layer for the last forward call: q[l] (B, H, dh)."""

    def __init__(self, mods, heads: int):
        self.mods, self.heads = mods, heads
        self.layer_of = {id(m): i for i, m in enumerate(mods)}
        self.q: list[torch.Tensor | None] = [None] * len(mods)

    def _qkv_hook(self, layer: int):  # GPT-2: the fused projection's output, queries first
        def hook(module, args, output):
            d = output.shape[-1] // 3
            q = output[:, -1, :d]  # (B, d) the newest position
            self.q[layer] = q.reshape(q.shape[0], self.heads, -1).detach().clone()  # (B, H, dh)
        return hook

    def _wrap(self, function):  # the others: the query the attention function is given (B, H, T, dh)
        def attention(module, query, *args, **kwargs):
            layer = self.layer_of.get(id(module))
            if layer is not None:
                self.q[layer] = query[:, :, -1, :].detach().clone()
            return function(module, query, *args, **kwargs)
        return attention

    def weights(self, cache, attention_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Per row, (n_layer, n_head, n_real) attention of the newest position over the row's real
        positions (left padding dropped), in float32, from the keys in `cache`."""
        if any(q is None for q in self.q):
            raise AttentionError("the model's attention was not seen: attention=True needs a transformers whose "
                                 "models call their attention through ALL_ATTENTION_FUNCTIONS.get_interface")
        rows = []
        per_layer = []
        for layer, mod in enumerate(self.mods):
            keys = cache_keys(cache, layer)  # (B, H_kv, T, dh)
            q = self.q[layer]
            if keys.shape[1] != q.shape[1]:  # grouped-query attention: query head h reads key head h // group
                keys = keys.repeat_interleave(q.shape[1] // keys.shape[1], dim=1)
            scores = torch.einsum("bhd,bhtd->bht", q.float(), keys.float()) * float(mod.scaling)  # (B, H, T)
            if attention_mask is not None:
                scores = scores.masked_fill(attention_mask[:, None, :].to(scores.device) == 0, float("-inf"))
            per_layer.append(scores.softmax(-1))
        stacked = torch.stack(per_layer, dim=1)  # (B, L, H, T)
        for b in range(stacked.shape[0]):
            keep = slice(None) if attention_mask is None else attention_mask[b].bool().to(stacked.device)
            rows.append(stacked[b][..., keep].contiguous())
        return rows


def cache_keys(cache, layer: int) -> torch.Tensor:
    """The keys of one layer of a KV cache (transformers 5: cache.layers[i].keys; 4: key_cache)."""
    if hasattr(cache, "layers"):
        return cache.layers[layer].keys
    if hasattr(cache, "key_cache"):
        return cache.key_cache[layer]
    return cache[layer][0]  # the legacy tuple of (key, value) pairs


@contextmanager
def capture_attention(model):
    """Record each layer's newest queries per forward call (see the module's docstring)."""
    mods = attention_modules(model)
    fam = family.layout(model)
    cap = AttentionCapture(mods, family.head_count(model))
    handles, interface, before = [], None, None
    try:
        if fam.qkv is not None:
            for layer, mod in enumerate(mods):
                handles.append(getattr(mod, fam.qkv).register_forward_hook(cap._qkv_hook(layer)))
        else:
            from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS as interface

            before = interface.__dict__.get("get_interface")  # another capture's, when nested
            chosen = interface.get_interface  # which function a module calls
            interface.get_interface = lambda name, default: cap._wrap(chosen(name, default))
        yield cap
    finally:
        for h in handles:
            h.remove()
        if interface is not None:
            if before is None:
                del interface.get_interface  # the class's method again
            else:
                interface.get_interface = before


def maybe_capture_attention(model, attention: bool):
    """`capture_attention` when `attention`, else a block that yields None and hooks nothing."""
    return capture_attention(model) if attention else nullcontext(None)
