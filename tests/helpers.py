"""Small randomly initialised GPT-2 folders for the tests (no hub needed)."""
from __future__ import annotations

from pathlib import Path

import torch


def make_random_gpt2(folder: Path, n_positions: int = 64, n_embd: int = 32, n_layer: int = 2,
                     n_head: int = 2, seed: int = 0, initializer_range: float = 0.2) -> Path:
    """Save a random GPT-2 (real GPT-2 vocabulary and BPE) into `folder`."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from gpt2explore.training.tokenizer_files import write_tokenizer

    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=50257, n_positions=n_positions, n_embd=n_embd, n_layer=n_layer,
                        n_head=n_head, initializer_range=initializer_range,
                        bos_token_id=50256, eos_token_id=50256)
    GPT2LMHeadModel(config).save_pretrained(folder)
    write_tokenizer(folder, model_max_length=n_positions)
    return Path(folder)
