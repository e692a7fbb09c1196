"""How rows share a forward pass without changing each other's bits.

A batched forward and a single-row forward differ in their last bits: a matrix product of 8
rows runs another kernel (another order of the sums) than a product of 1, and left padding
shifts the attention's reductions. At a near-tie that is enough to draw another token, so a
sample would depend on the batch it was made in. Every forward of generation, sessions and
scoring therefore goes through one strategy, chosen once per device and dtype:

- ``"rows"``: one row per forward call, exactly as batch 1 computes it. On CPUs, where a matrix
  product of a few rows costs several times a matrix-vector product (bench figure 4b), this
  keeps batch 1 at full speed and gives up what batching gained.
- ``"padded"``: rows batched in one call; every matrix product is padded to a multiple of
  `quantum` rows, so each row is computed in a full tile of the same kernel whatever the batch,
  and attention runs row by row over the row's own positions (no padding enters a sum). Chosen
  where `calibrate` finds such a quantum (GPUs, where the padding costs nothing while decoding);
  it can be asked for on any device with ``lm.batching = "padded"``.

Whichever runs, a row's logits are the same bits at batch 1, 3 or 16, in a session and in
`generate`; the tests check both strategies.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager

import torch

STRATEGIES = ("auto", "rows", "padded")
QUANTA = (4, 8, 16, 32, 64)  # row quanta the calibration tries, smallest first
_ATTENTION = "gx_rowwise"  # the name our attention function is registered under


def check_strategy(value) -> str:
    if value not in STRATEGIES:
        raise ValueError(f"batching must be one of {', '.join(STRATEGIES)}, got {value!r}")
    return value


def strategy(lm) -> tuple[str, int]:
    """(strategy, quantum) for `lm`: what `lm.batching` asks for, or for "auto" "padded" on a
    CUDA device whose products calibrate, else "rows" (quantum 1)."""
    asked = getattr(lm, "batching", "auto")
    device, dtype = lm.device, lm.dtype
    if asked == "rows":
        return "rows", 1
    if not supports_padded(lm.model):
        return "rows", 1
    quantum = calibrate(str(device), str(dtype))
    if asked == "padded":
        if quantum is None:
            raise ValueError(f"batching='padded' needs matrix products that agree row for row when padded; "
                             f"none of the quanta {QUANTA} does on {device} ({dtype}): use 'rows'")
        return "padded", quantum
    if device.type == "cuda" and quantum is not None:
        return "padded", quantum
    return "rows", 1


@functools.lru_cache(maxsize=None)
def calibrate(device: str, dtype: str) -> int | None:
    """The smallest row quantum q for which products of q, 2q, 3q, 5q and 16q rows give each row
    the same bits as a product of q rows (for the shapes of GPT-2's layers), or None."""
    dev, dt = torch.device(device), getattr(torch, dtype.replace("torch.", ""))
    gen = torch.Generator().manual_seed(0)
    shapes = [(64, 192), (192, 64), (64, 1000)]
    mats = [(torch.randn(k, n, generator=gen).to(dev, dt), torch.randn(n, generator=gen).to(dev, dt))
            for k, n in shapes]
    for q in QUANTA:
        if all(_agrees(w, b, q, gen) for w, b in mats):
            return q
    return None


def _agrees(w, b, q: int, gen) -> bool:
    k = w.shape[0]
    x = torch.randn(16 * q, k, generator=gen).to(w.device, w.dtype)
    for product in (lambda a: torch.addmm(b, a, w), lambda a: torch.nn.functional.linear(a, w.T.contiguous(), b)):
        ref = [product(torch.cat([x[i:i + 1], x.new_zeros(q - 1, k)]))[0] for i in range(0, 16 * q, 7)]
        for m in (q, 2 * q, 3 * q, 5 * q, 16 * q):
            out = product(x[:m])
            for j, i in enumerate(range(0, m, 7)):
                if not torch.equal(out[i], ref[j]):
                    return False
    return True


def supports_padded(model) -> bool:
    """Whether `model` can run the padded strategy: transformers' attention interface and a
    config that names its attention implementation."""
    try:
        from transformers import AttentionInterface  # noqa: F401
        from transformers.masking_utils import AttentionMaskInterface  # noqa: F401
    except ImportError:
        return False
    return hasattr(getattr(model, "config", None), "_attn_implementation")


@contextmanager
def forward_mode(lm):
    """For the length of a `with` block, forward calls of `lm.model` use the padded strategy when
    `strategy(lm)` says so (and nothing changes otherwise). Module forwards and the attention
    implementation are restored in `finally`, even when the block raises."""
    name, quantum = strategy(lm)
    if name != "padded":
        yield name
        return
    model = lm.model
    _register()
    patched = []
    old = model.config._attn_implementation
    try:
        for module in model.modules():
            if _is_linear(module):
                module.forward = _padded_forward(module, quantum)
                patched.append(module)
        model.config._attn_implementation = _ATTENTION
        yield name
    finally:
        model.config._attn_implementation = old
        for module in patched:
            del module.forward


def _is_linear(module) -> bool:
    if isinstance(module, torch.nn.Linear):
        return True
    return type(module).__name__ == "Conv1D" and hasattr(module, "nf")


def _padded_forward(module, quantum: int):
    """`module`'s forward with its rows padded to a multiple of `quantum` (zeros, dropped after)."""
    conv = not isinstance(module, torch.nn.Linear)

    def forward(x):
        rows = x.reshape(-1, x.shape[-1])
        m = rows.shape[0]
        extra = (-m) % quantum
        if extra:
            rows = torch.cat([rows, rows.new_zeros(extra, rows.shape[1])])
        if conv:  # transformers' Conv1D: x @ weight + bias, weight (in, out)
            out = torch.addmm(module.bias, rows, module.weight)
        else:
            out = torch.nn.functional.linear(rows, module.weight, module.bias)
        return out[:m].reshape(*x.shape[:-1], out.shape[-1])

    return forward


@functools.lru_cache(maxsize=None)
def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(_ATTENTION, rowwise_attention)
    AttentionMaskInterface.register(_ATTENTION, sdpa_mask)


def left_pads(attention_mask, batch: int, kv_len: int) -> list[int]:
    """Each row's count of left-padding positions, from transformers' 4-D mask (bool: True =
    visible; float: 0 = visible), or zeros when there is no mask."""
    if attention_mask is None:
        return [0] * batch
    last = attention_mask[:, 0, -1, :]  # the newest query sees every real key of its row
    visible = last if last.dtype == torch.bool else last == 0
    return [kv_len - int(v) for v in visible.sum(-1).tolist()]


def rowwise_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    """Scaled dot-product attention computed row by row over each row's real (unpadded)
    positions, the queries causal among themselves: the same call, on the same shapes, as that
    row alone would make. query (B, H, q, d), key/value (B, H or fewer, kv, d) -> (B, q, H, d)."""
    batch, _, q_len, _ = query.shape
    kv_len = key.shape[2]
    groups = query.shape[1] // key.shape[1]
    if groups > 1:  # grouped-query attention (Llama, Qwen2): each key/value head serves `groups` query heads
        key, value = key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1)
    pads = left_pads(attention_mask, batch, kv_len)
    out = query.new_zeros(batch, query.shape[1], q_len, value.shape[-1])
    for b, pad in enumerate(pads):
        k, v = key[b:b + 1, :, pad:], value[b:b + 1, :, pad:]
        q = query[b:b + 1, :, q_len - min(q_len, kv_len - pad):]  # the row's real queries
        n_q, n_k = q.shape[2], k.shape[2]
        if 1 < n_q < n_k:  # new queries after cached keys: causal, aligned to the end
            mask = torch.ones(n_q, n_k, dtype=torch.bool, device=q.device).tril(n_k - n_q)
            o = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scaling)
        else:
            o = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=n_q > 1, scale=scaling)
        out[b:b + 1, :, q_len - q.shape[2]:] = o
    return out.transpose(1, 2).contiguous(), None
