"""What the attention figures show, as plain data: the context's tokens with the weight the
step's position gave each (one head, or the mean of a layer's heads), and a layers x heads
overview of where each head looked most."""
from __future__ import annotations

import numbers

from ..core.pieces import context_pieces as whole_context
from ..core.tokens import show_text


def _layer(att, layer) -> int:
    n = att.shape[0]
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not -n <= layer < n:
        raise ValueError(f"layer must be an integer in 0..{n - 1} (-1 = the last), got {layer!r}")
    return int(layer) % n


def _head(att, head):
    if head is None:
        return None
    n = att.shape[1]
    if isinstance(head, bool) or not isinstance(head, numbers.Integral) or not 0 <= head < n:
        raise ValueError(f"head must be an integer in 0..{n - 1}, or None for the mean of the heads, got {head!r}")
    return int(head)


def context_pieces(step) -> list[str]:
    """The text of each position the step's position attended over (prompt first, then the
    tokens drawn before it), whitespace made visible as the text views show it; a character
    split over tokens shows whole in the token that completes it ("" in a token holding only
    part of it, as the text views show it)."""
    return [_shown(p) for p in whole_context(step)]


def _shown(piece) -> str:
    return show_text(piece.text).replace("\n", "↵") or ("" if piece.partial else "∅")


def attention_data(step, layer: int = -1, head=None) -> dict:
    """The context's tokens and the attention the step's position gave each, at `layer`, for one
    `head` or the mean of the layer's heads (None)."""
    att = step.attention()  # (L, H, T)
    layer, head = _layer(att, layer), _head(att, head)
    row = att[layer].mean(0) if head is None else att[layer, head]
    context = step.context_tokens
    n_prompt = len(step.sample.prompt_tokens)
    pieces = whole_context(step)
    return {
        "layer": layer, "head": head, "n_layer": int(att.shape[0]), "n_head": int(att.shape[1]),
        "ids": [int(t) for t in context], "pieces": [_shown(p) for p in pieces],
        "labels": [p.label for p in pieces],  # whole characters, as every text names tokens
        "weights": [float(w) for w in row.tolist()],
        "in_prompt": [i < n_prompt for i in range(len(context))],
        "position": int(step.position) - 1,  # the position whose output gave the logits: the last one
    }


def attention_overview_data(step) -> dict:
    """Per (layer, head): the position it attended most, its token and weight, and the share
    of its attention on the prompt."""
    att = step.attention()  # (L, H, T)
    n_prompt = len(step.sample.prompt_tokens)
    top_w, top_at = att.max(-1)  # (L, H)
    labels = [p.label for p in whole_context(step)]
    return {
        "n_layer": int(att.shape[0]), "n_head": int(att.shape[1]),
        "weight": top_w.tolist(), "at": top_at.tolist(),
        "token": [[labels[i] for i in row] for row in top_at.tolist()],
        "prompt_share": att[..., :n_prompt].sum(-1).tolist(),
    }
