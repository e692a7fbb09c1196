"""Attention per step: the weights the position that produced a step's logits gave every
position before it (itself included), in every layer and head.

`capture_attention(model)` hooks each block's query-key-value projection (`attn.c_attn`) for
the length of a `with` block (the hooks are removed in `finally`, also when the block raises)
and keeps the newest position's queries of the last forward call. The keys are the model's own
KV cache after that call, so generation and sessions (force, back, fork: the cache is cropped or
copied with them) always read the keys the model itself attended over. `weights(cache, mask)`
then gives, per row, softmax(q . k / scaling) over the row's real positions:
(n_layer, n_head, n_context) each, every row of it summing to 1 - what transformers' eager
attention (`output_attentions=True`) gives for that position. 4 x n_layer x n_head x n_context
bytes a step (GPT-2 small at 100 tokens of context: 57,600).
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext

import torch


class AttentionError(ValueError):
    """A model whose attention cannot be read (not a GPT-2 family model) or a step without it."""


def attention_modules(model) -> list:
    """Each block's attention module of a GPT-2 family model (transformer.h[i].attn.c_attn)."""
    blocks = getattr(getattr(model, "transformer", None), "h", None)
    mods = [getattr(b, "attn", None) for b in blocks] if blocks is not None else []
    if not mods or any(m is None or not hasattr(m, "c_attn") or not hasattr(m, "num_heads") for m in mods):
        raise AttentionError(f"attention=True reads GPT-2 family models (transformer.h[i].attn.c_attn); "
                             f"{type(model).__name__} is not one yet")
    return mods


class AttentionCapture:
    """The newest position's queries of each layer for the last forward call: q[l] (B, H, dh)."""

    def __init__(self, mods):
        self.mods = mods
        self.q: list[torch.Tensor | None] = [None] * len(mods)

    def _hook(self, layer: int):
        mod = self.mods[layer]

        def hook(module, args, output):
            d = output.shape[-1] // 3
            q = output[:, -1, :d]  # (B, d) the newest position
            self.q[layer] = q.reshape(q.shape[0], mod.num_heads, -1).detach().clone()  # (B, H, dh)
        return hook

    def weights(self, cache, attention_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Per row, (n_layer, n_head, n_real) attention of the newest position over the row's real
        positions (left padding dropped), in float32, from the keys in `cache`."""
        rows = []
        per_layer = []
        for layer, mod in enumerate(self.mods):
            keys = cache_keys(cache, layer)  # (B, H, T, dh)
            q = self.q[layer]
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
    cap = AttentionCapture(mods)
    handles = []
    try:
        for layer, mod in enumerate(mods):
            handles.append(mod.c_attn.register_forward_hook(cap._hook(layer)))
        yield cap
    finally:
        for h in handles:
            h.remove()


def maybe_capture_attention(model, attention: bool):
    """`capture_attention` when `attention`, else a block that yields None and hooks nothing."""
    return capture_attention(model) if attention else nullcontext(None)
