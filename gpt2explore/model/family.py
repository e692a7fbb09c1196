"""The model families the kit reads inside: one small table, keyed by `config.model_type`.

Generation, sessions, scoring, bundles and verify need only a causal LM (its logits and its
KV cache), so they run on any model `AutoModelForCausalLM` loads. What looks INSIDE the model
(the logit lens, attribution, attention) reads the modules this table names: where the blocks,
the final norm and the unembedding live, and which modules add to the residual stream.

    family_of(model).blocks  # "h" for GPT-2, "layers" for Llama, Qwen2 and GPT-NeoX

SmolLM (1 and 2) is `model_type` "llama" and reads as Llama; Pythia is "gpt_neox".
"""
from __future__ import annotations

from dataclasses import dataclass


class FamilyError(ValueError):
    """A model whose family the table does not know (the lens and attribution cannot read it)."""


@dataclass(frozen=True)
class Family:
    """Where one family keeps its parts; attribute names relative to `body` unless said."""

    name: str
    body: str  # attribute of the causal LM holding the decoder stack (its base_model_prefix)
    embeddings: tuple[tuple[str, str], ...]  # (component, attribute of body): summed into the residual
    blocks: str  # attribute of body: the list of blocks
    norm: str  # attribute of body: the final norm, applied once before the unembedding
    norm_kind: str  # "layer" (LayerNorm: centred, scaled, biased) or "rms" (RMSNorm: scaled only)
    head: str  # attribute of the causal LM: the unembedding (LM head)
    attn: str  # attribute of a block: its attention
    attn_out: str  # attribute of the attention: the output projection, its input the heads side by side
    mlp: str  # attribute of a block: its MLP (output added to the residual stream)
    qkv: str | None  # attribute of the attention: GPT-2's fused q/k/v projection (attention capture)
    n_ctx: tuple[str, ...]  # config attributes naming the context length, the first present wins
    prepend_bos: bool  # whether prompts start with the BOS token, as the family was trained
    split_heads: bool = True  # attn_out's input is the heads' outputs side by side (per-head attribution)

    def part(self, model, where: str):
        """The module at `where` ("body", "blocks", "norm", "head"), or None."""
        body = getattr(model, self.body, None)
        if where == "body":
            return body
        if where == "head":  # the table's name, else what the model says (NeoX: embed_out before transformers 5)
            head = getattr(model, self.head, None)
            if head is None and hasattr(model, "get_output_embeddings"):
                head = model.get_output_embeddings()
            return head
        return getattr(body, getattr(self, where), None)


FAMILIES = {
    "gpt2": Family("gpt2", body="transformer", embeddings=(("embed", "wte"), ("pos_embed", "wpe")), blocks="h",
                   norm="ln_f", norm_kind="layer", head="lm_head", attn="attn", attn_out="c_proj", mlp="mlp",
                   qkv="c_attn", n_ctx=("n_positions", "n_ctx"), prepend_bos=False),
    "llama": Family("llama", body="model", embeddings=(("embed", "embed_tokens"),), blocks="layers", norm="norm",
                    norm_kind="rms", head="lm_head", attn="self_attn", attn_out="o_proj", mlp="mlp", qkv=None,
                    n_ctx=("max_position_embeddings",), prepend_bos=True),
    "qwen2": Family("qwen2", body="model", embeddings=(("embed", "embed_tokens"),), blocks="layers", norm="norm",
                    norm_kind="rms", head="lm_head", attn="self_attn", attn_out="o_proj", mlp="mlp", qkv=None,
                    n_ctx=("max_position_embeddings",), prepend_bos=False),
    "gpt_neox": Family("gpt_neox", body="gpt_neox", embeddings=(("embed", "embed_in"),), blocks="layers",
                       norm="final_layer_norm", norm_kind="layer", head="lm_head", attn="attention",
                       attn_out="dense", mlp="mlp", qkv=None, n_ctx=("max_position_embeddings",),
                       prepend_bos=False),
}
CONTEXT_ATTRIBUTES = ("n_positions", "max_position_embeddings", "n_ctx", "seq_length")  # any other family


def model_type(model) -> str:
    return str(getattr(getattr(model, "config", None), "model_type", "") or type(model).__name__)


def known(model) -> Family | None:
    """The model's family, or None when the table does not know it."""
    return FAMILIES.get(model_type(model))


def layout(model) -> Family:
    """The model's family; a model the table does not know is read as GPT-2's layout (so a
    GPT-2-shaped model of another model_type still works, and errors name GPT-2's parts)."""
    return known(model) or FAMILIES["gpt2"]


def others() -> str:
    """The families besides GPT-2, for messages: "llama (SmolLM), qwen2, gpt_neox (Pythia)"."""
    return "llama (SmolLM), qwen2, gpt_neox (Pythia)"


def family_of(model, what: str = "this") -> Family:
    """The model's family; a one-line FamilyError naming its model_type and the families known."""
    family = known(model)
    if family is None:
        raise FamilyError(f"{what} reads the families {', '.join(FAMILIES)} (SmolLM as llama, Pythia as "
                          f"gpt_neox); {type(model).__name__} is model_type {model_type(model)!r}")
    return family


def context_length(config) -> int:
    """The context window in tokens: the family's attribute, else the first usual one present."""
    family = FAMILIES.get(getattr(config, "model_type", ""))
    for name in (family.n_ctx if family else ()) + CONTEXT_ATTRIBUTES:
        value = getattr(config, name, None)
        if value:
            return int(value)
    raise FamilyError(f"the config of model_type {getattr(config, 'model_type', '?')!r} names no context length "
                      f"({', '.join(CONTEXT_ATTRIBUTES)})")


def prepends_bos(model) -> bool:
    """Whether prompts start with the BOS token (Llama does; GPT-2, Qwen2 and GPT-NeoX do not;
    a family the table does not know: no)."""
    family = known(model)
    return bool(family and family.prepend_bos)


def norm_eps(norm) -> float:
    """The epsilon of a LayerNorm (`eps`) or an RMSNorm (`variance_epsilon` or `eps`)."""
    for name in ("eps", "variance_epsilon", "epsilon"):
        value = getattr(norm, name, None)
        if value is not None:
            return float(value)
    raise FamilyError(f"{type(norm).__name__} names no epsilon")


def head_count(model) -> int:
    cfg = model.config
    return int(getattr(cfg, "num_attention_heads", None) or getattr(cfg, "n_head"))
