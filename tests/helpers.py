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


def shown_ids(step, n: int, reach_cut: bool = True, **settings) -> list[int]:
    """The tokens a bars figure shows, by the rule it promises: the n likeliest by raw logit,
    reaching the first cut token when the settings keep fewer than 60; then the token the step's
    u draws under these settings and the step's own token, where they are not among them."""
    from gpt2explore import sampling

    probs = step.distribution(**settings)
    kept = int((probs > 0).sum())
    k = max(n, kept + 1) if kept < 60 and reach_cut else n
    ids = torch.topk(step.logits.float(), min(k, step.logits.shape[-1])).indices.tolist()
    extra = [int(sampling.pick(probs, step.u))] if step.u is not None and not step.forced else []
    extra += [] if step.pending else [step.token]
    for t in extra:
        if t >= 0 and t not in ids:
            ids.append(t)
    return ids


def bars_expected(step, n: int, reach_cut: bool = True, **settings) -> list[float]:
    """The probabilities a bars figure of `step` shows under `settings`, in `shown_ids` order."""
    return step.distribution(**settings)[shown_ids(step, n, reach_cut, **settings)].tolist()


FAMILY_CONFIGS = {  # tiny random models of today's families, with GPT-2's vocabulary and BPE
    "llama": ("LlamaConfig", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                  num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=False)),
    "qwen2": ("Qwen2Config", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                  num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=True)),
    "gpt_neox": ("GPTNeoXConfig", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                       num_attention_heads=4, max_position_embeddings=64, rotary_pct=0.25,
                                       use_parallel_residual=True, tie_word_embeddings=False)),
}


def make_random_causal(folder: Path, family: str, seed: int = 0, initializer_range: float = 0.2, **overrides) -> Path:
    """Save a random model of `family` (llama, qwen2, gpt_neox; GPT-2's 50257-token BPE, BOS = EOS
    = 50256) into `folder`: no hub and no SentencePiece needed."""
    import transformers

    from gpt2explore.training.tokenizer_files import write_tokenizer

    name, kwargs = FAMILY_CONFIGS[family]
    torch.manual_seed(seed)
    config = getattr(transformers, name)(vocab_size=50257, bos_token_id=50256, eos_token_id=50256,
                                         initializer_range=initializer_range, **{**kwargs, **overrides})
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    write_tokenizer(folder, model_max_length=config.max_position_embeddings)
    return Path(folder)
