"""Forward hooks on the LM head that record the raw logits of every forward call.

Hooks are global state on a module. `capture` registers one on the model's output
embeddings for the length of a `with` block and removes it in `finally`, so a hook never
outlives its block, even when the block raises.

    with capture(model) as cap:
        model.generate(input_ids, max_new_tokens=5, do_sample=False)
    cap.logits  # one (batch, vocab) tensor per forward call: the prefill, then each step
"""
from __future__ import annotations

from contextlib import contextmanager

import torch


class Capture:
    """What a `capture` block recorded: `logits[i]` is the newest position of call i."""

    def __init__(self):
        self.logits: list[torch.Tensor] = []  # each (B, V), raw, on the model's device

    def _hook(self, module, inputs, output):
        logits = output[0] if isinstance(output, tuple) else output  # (B, T, V)
        last = logits[:, -1, :].detach()  # (B, V)
        if logits.shape[1] > 1:
            last = last.clone()  # do not keep the whole prefill (B, T, V) alive
        self.logits.append(last)

    def __len__(self) -> int:
        return len(self.logits)

    def __getitem__(self, i) -> torch.Tensor:
        return self.logits[i]

    def __repr__(self) -> str:
        shape = tuple(self.logits[0].shape) if self.logits else None
        return f"Capture({len(self.logits)} forward calls, each {shape})"


def lm_head(model: torch.nn.Module) -> torch.nn.Module:
    """The module that turns hidden states into vocabulary logits."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is None:
        raise ValueError(f"{type(model).__name__} has no output embeddings (LM head) to capture")
    return head


@contextmanager
def capture(model: torch.nn.Module):
    """Record the logits of the newest position of each forward call inside the block."""
    model = getattr(model, "model", model) if not isinstance(model, torch.nn.Module) else model
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch model (e.g. lm.model) or an LM, got {type(model).__name__}")
    cap = Capture()
    handle = lm_head(model).register_forward_hook(cap._hook)
    try:
        yield cap
    finally:
        handle.remove()
