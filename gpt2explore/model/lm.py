"""LM: a causal language model (GPT-2, Llama, Qwen2, GPT-NeoX, ...) and its tokenizer, on one device."""
from __future__ import annotations

import hashlib
import numbers
import os
from functools import cached_property
from pathlib import Path

import torch

from . import family
from .batching import check_strategy
from .counterfactual import hindsight
from .generation import generate
from .scoring import score
from .session import Session


def check_unicode(text: str) -> None:
    """Raise ValueError at the first lone surrogate (U+D800..U+DFFF): no tokenizer can encode it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        bad = text[err.start]
        raise ValueError(f"text is not valid Unicode: a lone surrogate {bad!r} at position {err.start}; "
                         f"remove it, or decode the source with errors='replace'") from None


class LM:
    """A loaded causal LM: `.model` (eval mode), `.tokenizer`, `.device`, `.n_ctx`, `.name`.

    `.prepend_bos`: whether prompts start with the BOS token (from the family table: Llama's do;
    GPT-2's, Qwen2's and GPT-NeoX's do not); settable. Unconditional samples start from
    `bos_token_id` (GPT-2's <|endoftext|>)."""

    def __init__(self, model, tokenizer, name: str = "", source: str = ""):
        self.model = model.eval()
        self.tokenizer = tokenizer
        # texts longer than the context are ours to handle (a clear error, or a sliding
        # window): no tokenizer warning about "indexing errors" on stderr
        warned = getattr(tokenizer, "deprecation_warnings", None)
        if isinstance(warned, dict):
            warned["sequence-length-is-longer-than-the-specified-maximum"] = True
        self.name = name or getattr(model.config, "_name_or_path", "") or type(model).__name__
        self.source = source
        self._batching = "auto"
        self.prepend_bos = family.prepends_bos(model)

    @property
    def batching(self) -> str:
        """How rows share forward passes: "auto" (default), "rows" or "padded"; every strategy gives
        each sample the same bits whatever the batch (see gpt2explore.batching)."""
        return self._batching

    @batching.setter
    def batching(self, value) -> None:
        self._batching = check_strategy(value)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def n_ctx(self) -> int:
        """The model's context window in tokens (the config attribute the family table names)."""
        return family.context_length(self.model.config)

    @property
    def family(self) -> str:
        """The model's `config.model_type` ("gpt2", "llama", "qwen2", "gpt_neox", ...)."""
        return family.model_type(self.model)

    @property
    def vocab_size(self) -> int:
        return int(self.model.config.vocab_size)

    @property
    def eos_token_id(self) -> int:
        eos = self.tokenizer.eos_token_id
        if eos is None:
            eos = self.model.config.eos_token_id
        return int(eos[0] if isinstance(eos, (list, tuple)) else eos)

    @property
    def bos_token_id(self) -> int:
        """The token an unconditional sample starts from, and that `prepend_bos` puts before a
        prompt: the tokenizer's BOS, else the config's, else EOS (GPT-2: <|endoftext|>, all three)."""
        bos = self.tokenizer.bos_token_id
        if bos is None:
            bos = getattr(self.model.config, "bos_token_id", None)
        if isinstance(bos, (list, tuple)):
            bos = bos[0] if bos else None
        return int(bos) if bos is not None else self.eos_token_id

    @property
    def pad_token_id(self) -> int:
        """The id left padding uses (masked out, never seen): the tokenizer's pad, else EOS."""
        pad = self.tokenizer.pad_token_id
        return int(pad) if pad is not None else self.eos_token_id

    def start_tokens(self, prompt: str | None) -> list[int]:
        """The tokens a sample starts from: [BOS] for no prompt; else the prompt's tokens, after
        BOS where the family prepends one."""
        if prompt is None:
            return [self.bos_token_id]
        ids = self.encode(prompt)
        return [self.bos_token_id] + ids if self.prepend_bos and ids else ids

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def encode(self, text: str) -> list[int]:
        """Text -> token ids. Text that is not valid Unicode (a lone surrogate, as left by
        bytes decoded with errors='surrogateescape') is a ValueError naming its position."""
        if not isinstance(text, str):
            raise ValueError(f"text to encode must be a string, got {type(text).__name__}: {text!r:.80}")
        check_unicode(text)
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, tokens) -> str:
        if isinstance(tokens, torch.Tensor):
            tokens = tokens.tolist()
        return self.tokenizer.decode(list(tokens), clean_up_tokenization_spaces=False)

    def token_id(self, token: int | str) -> int:
        """A token id from an id or from text that encodes to exactly one token."""
        if isinstance(token, bool):
            raise ValueError(f"token must be an id or text, got {token!r}")
        if isinstance(token, numbers.Integral):  # int, NumPy integers
            if not 0 <= token < self.vocab_size:
                raise ValueError(f"token id {token} is outside the vocabulary 0..{self.vocab_size - 1}")
            return int(token)
        if not isinstance(token, str):
            raise ValueError(f"token must be an id (int) or text (str), got {type(token).__name__}")
        if token == self.tokenizer.eos_token:
            return self.eos_token_id
        ids = self.encode(token)
        if not ids:
            raise ValueError(f"{token!r} encodes to no token; give some text")
        if len(ids) > 1:
            pieces = [self.decode([i]) for i in ids]
            raise ValueError(f"{token!r} encodes to {len(ids)} tokens {pieces}, not one; force a single "
                             f"token (e.g. {pieces[0]!r}) or its id")
        return ids[0]

    @cached_property
    def weights_sha256(self) -> str:
        """sha256 of the weight files (local folders) or of the parameters as loaded (hub)."""
        if self.source and Path(self.source).is_dir():
            digest = weights_sha256(self.source)
            if digest:
                return digest
        h = hashlib.sha256()
        for key, value in sorted(self.model.state_dict().items()):
            h.update(key.encode())
            h.update(value.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
        return h.hexdigest()

    def generate(self, prompt=None, **kwargs):
        """Sample text and record every step: see `gpt2explore.generation.generate`."""
        return generate(self, prompt, **kwargs)

    def score(self, text, prompt=None, **kwargs):
        """Score any text token by token: see `gpt2explore.scoring.score`."""
        return score(self, text, prompt, **kwargs)

    def hindsight(self, prompt, text: str, n: int = 1, seed: int | None = None, **kwargs):
        """n samples of the Gumbel noise given that this model wrote `text` after `prompt`: see
        `gpt2explore.model.counterfactual.hindsight`."""
        return hindsight(self, prompt, text, n=n, seed=seed, **kwargs)

    def session(self, prompt=None, **kwargs):
        """A step-through session: see `gpt2explore.session.Session`."""
        return Session(self, prompt, **kwargs)

    def __repr__(self) -> str:
        return (f"LM({self.name!r}: {self.n_params / 1e6:.1f}M parameters, n_ctx={self.n_ctx}, "
                f"vocab={self.vocab_size}, device={self.device}, dtype={str(self.dtype).replace('torch.', '')})")


def weights_sha256(folder: str | os.PathLike) -> str | None:
    """sha256 over the folder's weight files (safetensors or bin), or None if there are none."""
    folder = Path(folder)
    files = sorted(list(folder.glob("*.safetensors")) + list(folder.glob("*.bin")))
    if not files:
        return None
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()
