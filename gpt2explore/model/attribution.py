"""Direct logit attribution: how much each part of the final residual stream pushed one step's
token's logit above another token's.

GPT-2's final residual stream at a position is a plain sum: the token embedding, the position
embedding, and, for every block, its attention output (one term per head, z_h @ W_O[h], plus the
c_proj bias) and its MLP output. The logits are lm_head(ln_f(x)), and the final layer norm,
LN(x) = (x - mean x) / sigma * gamma + beta, is linear in x once its scale sigma is fixed. So,
with sigma frozen at this step's value, logit(token) - logit(vs) splits exactly into one term
per component, (c - mean c) / sigma * gamma . (W_U[token] - W_U[vs]), plus beta's own term
("ln_f bias"). Each term is the component's DIRECT effect only: what it does to the logits
through later layers (by changing what they read) is ignored, and so is its share of sigma.

`attribution(step)` recomputes what it needs with one forward pass over the step's context
(prompt and earlier tokens; the step's position is the last; for a step of a scored text
longer than the model's window, the sliding window it was scored in, `df.attrs["window"]` =
(first position, the step's position)), hooking the embeddings, each
block's attn.c_proj input and MLP output, and ln_f's input for the length of the pass
(`capture_components`: the hooks are removed in `finally`, also when the pass raises).

Other families read the same way, their parts where the family table says
(gpt2explore.model.family): Llama (and SmolLM) and Qwen2 have one token embedding, per block
the heads' outputs into `self_attn.o_proj` (its input is the heads side by side, so head h's
term is z_h @ W_O[h]; Llama and Qwen2 have no o_proj bias, so no bias row) and the MLP, and a
final RMSNorm, RMS(x) = x / rms(x) * gamma with rms(x) = sqrt(mean(x^2) + eps): no mean-centring
and no bias, linear in x once rms is frozen, so a component's term is c / rms * gamma . (W_U[token]
- W_U[vs]). GPT-NeoX (Pythia) adds per block `attention.dense` (split by heads, with a bias) and
the MLP (parallel or sequential residual: both a plain sum), and ends in a LayerNorm read as
GPT-2's. A family whose attention output is not the heads side by side (`split_heads=False` in
its table entry; none of the four) would give the layer's attention as one component, "L3 attn".
"""
from __future__ import annotations

import numbers
from contextlib import contextmanager

import torch

from ..core import extensions
from .family import head_count, known, layout, norm_eps, others
from .scoring import window_start

KINDS = ("embed", "pos", "head", "attn_bias", "mlp", "ln_bias")
LAYER_ATTN = "attn"  # the kind of a layer's whole attention, for a family without the per-head split
RESIDUAL_SLACK = 1e-4  # how far (relative) the components' sum may lie from the residual the model saw


class AttributionError(ValueError):
    """A step whose logits cannot be attributed (no model, not a GPT-2 family model, bad `vs`)."""


def parts_of(model) -> dict:
    """The modules attribution reads, where the family table says; a one-line error naming what
    is missing. Keys: "embeddings" [(component, module)], "blocks", "norm", "head", "family",
    and per block i the paths of its attention output projection and MLP."""
    family = layout(model)
    body = family.part(model, "body")
    prefix = family.body
    blocks = family.part(model, "blocks")
    parts = {f"{prefix}.{attr}": getattr(body, attr, None) for _, attr in family.embeddings}
    parts[f"{prefix}.{family.blocks}"] = blocks if blocks is not None and len(blocks) else None
    parts[f"{prefix}.{family.norm}"] = family.part(model, "norm")
    parts[family.head] = family.part(model, "head")
    for i, block in enumerate(blocks if parts[f"{prefix}.{family.blocks}"] is not None else []):
        attn = getattr(block, family.attn, None)
        parts[f"{prefix}.{family.blocks}[{i}].{family.attn}.{family.attn_out}"] = getattr(attn, family.attn_out, None)
        parts[f"{prefix}.{family.blocks}[{i}].{family.mlp}"] = getattr(block, family.mlp, None)
    missing = [name for name, part in parts.items() if part is None]
    if missing:
        if known(model) is None or family.name == "gpt2":
            reads = (f"GPT-2 family models (transformer.wte, wpe, h[i].attn.c_proj, h[i].mlp, ln_f, lm_head) "
                     f"and {others()}")
        else:
            reads = f"{family.name} models"
        raise AttributionError(f"direct logit attribution reads {reads}; {type(model).__name__} has no "
                               f"{', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    return {"family": family, "blocks": blocks, "norm": parts[f"{prefix}.{family.norm}"],
            "head": parts[family.head],
            "embeddings": [(name, getattr(body, attr)) for name, attr in family.embeddings],
            "attn_out": [getattr(getattr(b, family.attn), family.attn_out) for b in blocks],
            "mlp": [getattr(b, family.mlp) for b in blocks]}


def out_weight(c_proj) -> torch.Tensor:
    """c_proj's weight as (in, out): GPT-2's Conv1D stores it so; an nn.Linear stores (out, in)."""
    return c_proj.weight.T if isinstance(c_proj, torch.nn.Linear) else c_proj.weight


class ComponentCapture:
    """What `capture_components` recorded at the newest position of the last forward call:
    `embeds` {component: (d,)} (GPT-2: "embed" and "pos_embed"; the others: "embed"); `z[l]`, the
    heads' merged outputs going into block l's attention output projection; `mlp[l]` (d,);
    `resid` (d,), the final residual stream going into the final norm."""

    def __init__(self, n_layer: int):
        self.resid = None
        self.embeds: dict[str, torch.Tensor] = {}
        self.z: list[torch.Tensor | None] = [None] * n_layer
        self.mlp: list[torch.Tensor | None] = [None] * n_layer

    @property
    def embed(self):
        return self.embeds.get("embed")

    @property
    def pos(self):
        return self.embeds.get("pos_embed")

    @staticmethod
    def _last(t) -> torch.Tensor:
        t = t[0] if isinstance(t, tuple) else t
        return t[0, -1, :].detach().clone()  # (d,) of batch row 0, newest position

    def _store(self, name: str, layer: int | str | None = None):
        def hook(module, args, output=None):
            value = self._last(args if output is None else output)
            if layer is None:
                setattr(self, name, value)
            else:  # a layer's list entry, or an embedding's dict entry
                getattr(self, name)[layer] = value
        return hook


@contextmanager
def capture_components(model):
    """Record the residual stream's components at the newest position, per forward call."""
    parts = parts_of(model)
    cap = ComponentCapture(len(parts["blocks"]))
    handles = []
    try:
        for name, module in parts["embeddings"]:
            handles.append(module.register_forward_hook(cap._store("embeds", name)))
        for i, (out, mlp) in enumerate(zip(parts["attn_out"], parts["mlp"])):
            handles.append(out.register_forward_pre_hook(cap._store("z", i)))
            handles.append(mlp.register_forward_hook(cap._store("mlp", i)))
        handles.append(parts["norm"].register_forward_pre_hook(cap._store("resid")))
        yield cap
    finally:
        for h in handles:
            h.remove()


def attribution_lm(step):
    """The LM that made `step`; a one-line error naming the remedy when the run has none."""
    run = getattr(step.sample, "run", None) if step.sample is not None else None
    lm = getattr(run, "lm", None)
    if lm is None:
        raise AttributionError("direct logit attribution re-runs the model that made this step; this run was "
                               "loaded from a bundle without it: gx.load_run(folder, lm=lm) attaches it")
    return lm


def check_vs(step, vs, vocab: int) -> int | None:
    """`vs` as a token id (None stays None): an id in 0..vocab-1 or a string of exactly one token."""
    if vs is None:
        return None
    if isinstance(vs, str):
        ids = step.sample.run.tokenizer.encode(vs, add_special_tokens=False)
        if len(ids) != 1:
            raise AttributionError(f"vs must be one token; {vs!r} encodes to {len(ids)} tokens {ids}")
        vs = ids[0]
    elif isinstance(vs, bool) or not isinstance(vs, numbers.Integral) or not 0 <= vs < vocab:
        raise AttributionError(f"vs must be a token id in 0..{vocab - 1} or a one-token string, got {vs!r}")
    if int(vs) == step.token:
        raise AttributionError(f"vs must differ from the step's own token (id {step.token})")
    return int(vs)


def known_logit(step, token: int) -> bool:
    """Whether the step's stored logits hold `token`'s true logit (a top-N bundle keeps only some)."""
    cut = step.truncation
    return step.logits is not None and (cut is None or token == step.token or token in cut.ids.tolist())


def _components(cap, parts, n_head: int) -> tuple[list[tuple], torch.Tensor]:
    """([(component, layer, head, kind)], (n_components, d) float64): the residual's terms."""
    rows, vecs = [], []
    for name, _ in parts["embeddings"]:
        rows.append((name, None, None, "pos" if name == "pos_embed" else "embed"))
        vecs.append(cap.embeds[name])
    split = parts["family"].split_heads
    for layer, out in enumerate(parts["attn_out"]):
        w = out_weight(out).detach().double().cpu()  # (d_in, d_out)
        z = cap.z[layer].double().cpu()  # (d_in,): the heads side by side
        if split:
            dh = z.shape[-1] // n_head
            heads = torch.einsum("hk,hkd->hd", z.view(n_head, dh), w.view(n_head, dh, -1))  # (H, d)
            for h in range(n_head):
                rows.append((f"L{layer}H{h}", layer, h, "head"))
                vecs.append(heads[h])
        else:  # the layer's attention output (without its bias) as one component
            rows.append((f"L{layer} attn", layer, None, LAYER_ATTN))
            vecs.append(z @ w)
        if out.bias is not None:  # GPT-2's c_proj and NeoX's dense have one; Llama's o_proj none
            rows.append((f"L{layer} attn bias", layer, None, "attn_bias"))
            vecs.append(out.bias)
        rows.append((f"L{layer} mlp", layer, None, "mlp"))
        vecs.append(cap.mlp[layer])
    return rows, torch.stack([v.detach().double().cpu() for v in vecs])


def attribution(step, vs=None):
    """One row per component of the final residual stream at the position that produced the
    step's logits: component ("embed", "pos_embed", "L3H5", "L3 attn bias", "L3 mlp", "ln_f
    bias"; another family names its final norm's bias after the module, e.g. "final_layer_norm
    bias", and has rows only for the embeddings and biases it has), layer and head (int or
    None), kind (one of KINDS), contribution: its direct effect on logit(token) - logit(vs)
    through the final norm (LayerNorm or RMSNorm) with its scale frozen at this step's value (the
    norm is then linear; indirect paths through later layers are ignored).

    `vs`: a token id or a one-token string; None = the likeliest token other than the step's
    own under its raw logits. The rows sum to the logit difference; `df.attrs` holds token, vs
    (ids), logit_diff (from the step's own logits where they hold both tokens, else the
    re-run's), sum, and recomputed_logit_diff. One forward pass over the step's context."""
    import pandas as pd

    lm = attribution_lm(step)
    model = lm.model
    parts = parts_of(model)
    head, ln_f, family = parts["head"], parts["norm"], parts["family"]
    vocab = head.weight.shape[0]
    if step.token < 0:
        raise AttributionError("this step has no token yet to attribute")
    vs = check_vs(step, vs, vocab)
    context = step.context_tokens
    if not context:
        raise AttributionError("this step has no context to run the model on")
    start = window_start(step)  # a long scored text: the window the step was scored in
    context = context[start:]
    device = next(model.parameters()).device
    ids = torch.tensor([context], dtype=torch.long, device=device)  # (1, T)

    # one forward pass through the body, the components hooked at the last position
    with capture_components(model) as cap, torch.inference_mode():
        family.part(model, "body")(input_ids=ids, position_ids=torch.arange(len(context), device=device)[None],
                                   use_cache=False)
    rows, vecs = _components(cap, parts, head_count(model))  # (n, d)
    resid = cap.resid.double().cpu()  # (d,)
    if (vecs.sum(0) - resid).abs().max() > RESIDUAL_SLACK * (1 + resid.abs().max()):
        raise AttributionError(f"the components do not add up to the residual stream {type(model).__name__} "
                               f"fed its final layer norm (a model in training mode, with dropout?)")

    # the logits this pass gives, and the token to compare against
    gamma = ln_f.weight.detach().double().cpu()
    norm_bias = getattr(ln_f, "bias", None)
    rms = family.norm_kind == "rms"
    # the norm's scale at this step, then frozen: LayerNorm's sigma, RMSNorm's root mean square
    sigma = torch.sqrt((resid.pow(2).mean() if rms else resid.var(unbiased=False)) + norm_eps(ln_f))
    with torch.inference_mode():
        logits = head(ln_f(cap.resid.to(device))).double().cpu()  # (V,)
    if vs is None:
        raw = step.logits.double().cpu() if step.logits is not None else logits
        vs = int(raw.masked_fill(torch.arange(raw.shape[-1]) == step.token, float("-inf")).argmax())

    # each component through the frozen layer norm onto the direction W_U[token] - W_U[vs]
    w_u = head.weight.detach().double().cpu()
    direction = w_u[step.token] - w_u[vs]  # (d,)
    centred = vecs if rms else vecs - vecs.mean(-1, keepdim=True)  # (n, d); RMSNorm does not centre
    contributions = (centred / sigma * gamma) @ direction  # (n,)
    values = contributions.tolist()
    if norm_bias is not None:
        rows.append((f"{family.norm} bias", None, None, "ln_bias"))
        values.append(float(norm_bias.detach().double().cpu() @ direction))
    if getattr(head, "bias", None) is not None:  # not GPT-2's, but some fine-tunes add one
        b = head.bias.detach().double().cpu()
        rows.append(("lm_head bias", None, None, "ln_bias"))
        values.append(float(b[step.token] - b[vs]))

    columns = dict(zip(["component", "layer", "head", "kind"], zip(*rows)))
    df = pd.DataFrame({name: pd.Series(list(col), dtype=object) for name, col in columns.items()})
    df["contribution"] = values
    recomputed = float(logits[step.token] - logits[vs])
    stored = step.logits.double() if known_logit(step, vs) else None
    df.attrs.update(token=int(step.token), vs=vs, step=step.index, window=(start, step.position),
                    logit_diff=float(stored[step.token] - stored[vs]) if stored is not None else recomputed,
                    sum=float(sum(values)), recomputed_logit_diff=recomputed, ln_f_sigma=float(sigma))
    return df


def attribution_by_layer(df):
    """Per-layer sums of an `attribution` table: layer, attn (its heads and output bias), mlp, total."""
    if not hasattr(df, "columns") or "layer" not in df.columns:
        raise TypeError(f"df must be the table of step.attribution(), got {type(df).__name__}")
    import pandas as pd

    inside = df[df["layer"].notna()]
    rows = []
    for layer, part in inside.groupby(inside["layer"].astype(int), sort=True):
        attn = float(part.loc[part["kind"].isin(["head", LAYER_ATTN, "attn_bias"]), "contribution"].sum())
        mlp = float(part.loc[part["kind"] == "mlp", "contribution"].sum())
        rows.append((int(layer), attn, mlp, attn + mlp))
    out = pd.DataFrame(rows, columns=["layer", "attn", "mlp", "total"])
    out.attrs.update(df.attrs)
    return out


# the convenience on Step that this module owns
extensions.register("Step", "attribution", attribution)
