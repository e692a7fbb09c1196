"""Direct logit attribution: the components add up to the step's logit difference, each layer's
heads and bias to its whole attention output, hooks never outlive the pass, and the figures."""
import copy
import random
import types

import pytest
import torch

import gpt2explore as gx
from gpt2explore.core import extensions
from gpt2explore.figures import why
from gpt2explore.model import attribution as A

TOL = 1e-3


@pytest.fixture(scope="module")
def tiny():
    return gx.load("tiny", device="cpu")


@pytest.fixture(autouse=True)
def provider(monkeypatch):
    """step.attribution() finds its module as the front door will name it."""
    monkeypatch.setitem(extensions.PROVIDERS, ("Step", "attribution"), "gpt2explore.model.attribution")


def hook_count(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def some_steps(lm, n: int, seed: int):
    """`n` random steps of generated, scored and session runs (different prompts, seeds, settings)."""
    rng = random.Random(seed)
    runs = [lm.generate(["Hi! My name is", "Once upon a time"], nsamples=2, batch_size=4, length=6, seed=seed),
            lm.generate(None, length=5, seed=seed + 1, temperature=0.7, top_k=40),
            lm.score(" John and I went home", prompt="Hi! My name is")]
    steps = [s for run in runs for sample in run for s in sample.steps]
    session = lm.session("The cat", seed=seed)
    session.step(3)
    return rng.sample(steps, n - 1) + [session.steps[-1]]


def check_sums(step, df, vs):
    logits = step.logits.double()
    assert df.attrs["token"] == step.token and df.attrs["vs"] == vs
    assert df.attrs["logit_diff"] == pytest.approx(float(logits[step.token] - logits[vs]), abs=1e-9)
    assert df["contribution"].sum() == pytest.approx(df.attrs["sum"], abs=1e-9)
    assert abs(df.attrs["sum"] - df.attrs["logit_diff"]) <= TOL


@pytest.mark.parametrize("which", ["random", "tiny"])
def test_contributions_sum_to_the_logit_difference(which, lm, tiny):
    model = lm if which == "random" else tiny
    for step in some_steps(model, 6, seed=3):
        df = A.attribution(step)
        others = step.logits.double().clone()
        others[step.token] = float("-inf")
        vs = int(others.argmax())  # the likeliest token that is not the step's own
        check_sums(step, df, vs)
        check_sums(step, A.attribution(step, vs=17), 17)
        check_sums(step, step.attribution(" the"), model.tokenizer.encode(" the")[0])


def test_rows_name_every_component_in_order(tiny):
    step = tiny.generate("Hello there", length=3, seed=1)[0].steps[2]
    df = step.attribution()
    n_layer, n_head = tiny.model.config.n_layer, tiny.model.config.n_head
    assert list(df.columns) == ["component", "layer", "head", "kind", "contribution"]
    assert len(df) == 2 + n_layer * (n_head + 2) + 1
    assert list(df.component[:2]) == ["embed", "pos_embed"] and df.component.iloc[-1] == "ln_f bias"
    assert list(df.component[2:2 + n_head + 2]) == [f"L0H{h}" for h in range(n_head)] + ["L0 attn bias", "L0 mlp"]
    assert set(df.kind) == set(A.KINDS)
    row = df[df.component == "L3H2"].iloc[0]
    assert (row["layer"], row["head"], row["kind"]) == (3, 2, "head") and type(row.layer) is int
    assert df.layer.iloc[0] is None and df[df.kind == "mlp"]["head"].map(lambda h: h is None).all()
    by_layer = A.attribution_by_layer(df)
    assert list(by_layer.columns) == ["layer", "attn", "mlp", "total"] and list(by_layer.layer) == list(range(n_layer))
    outside = df[df.layer.map(lambda x: x is None)].contribution.sum()
    assert by_layer.total.sum() + outside == pytest.approx(df.attrs["sum"], abs=1e-9)


def attention_outputs(model, context):
    """Each block's whole attention output at the last position, hooked independently of the module."""
    outs = []
    handles = [b.attn.register_forward_hook(lambda m, a, o: outs.append(o[0][0, -1].double()))
               for b in model.transformer.h]
    try:
        with torch.inference_mode():
            model(torch.tensor([context]))
    finally:
        for h in handles:
            h.remove()
    return outs


def direct(model, vec, resid, token, vs):
    """`vec`'s direct effect on logit(token) - logit(vs) through ln_f with the scale of `resid`."""
    ln_f, w_u = model.transformer.ln_f, model.lm_head.weight.detach().double()
    sigma = torch.sqrt(resid.double().var(unbiased=False) + ln_f.eps)
    return float(((vec - vec.mean()) / sigma * ln_f.weight.detach().double()) @ (w_u[token] - w_u[vs]))


def head_outputs(model, context, layer: int) -> torch.Tensor:
    """(n_head, d): each head's output at the last position, from block `layer`'s queries, keys and
    values (its c_attn output): softmax(q . k / sqrt(d_head)) over the positions, times v, through
    the head's rows of c_proj."""
    attn, found = model.transformer.h[layer].attn, []
    handle = attn.c_attn.register_forward_hook(lambda m, a, o: found.append(o[0].detach().double()))
    try:
        with torch.inference_mode():
            model(torch.tensor([context]))
    finally:
        handle.remove()
    n_head, d = model.config.n_head, model.config.n_embd
    q, k, v = found[0].split(d, dim=-1)  # (T, d) each
    dh = d // n_head
    w = attn.c_proj.weight.detach().double()  # Conv1D: (in, out)
    outs = []
    for h in range(n_head):
        cols = slice(h * dh, (h + 1) * dh)
        weights = torch.softmax(q[-1, cols] @ k[:, cols].T / dh ** 0.5, dim=-1)  # (T,): the last row
        outs.append((weights @ v[:, cols]) @ w[cols])
    return torch.stack(outs)


@pytest.mark.parametrize("which", ["random", "tiny"])
def test_heads_and_bias_make_the_layers_attention_output(which, lm, tiny):
    model = lm if which == "random" else tiny
    run = model.generate("Hi! My name is", nsamples=2, length=5, seed=4, layers=True)
    for step in [run[0].steps[1], run[1].steps[4]]:
        df = A.attribution(step)
        token, vs = df.attrs["token"], df.attrs["vs"]
        by_layer = A.attribution_by_layer(df)
        resid = step.residual.double()  # (n_layer + 1, d): after the embeddings and after each block
        attn = attention_outputs(model.model, step.context_tokens)
        for layer in range(model.model.config.n_layer):
            part = df[df.layer.map(lambda x: x == layer)]
            heads_and_bias = part[part.kind.isin(["head", "attn_bias"])].contribution.sum()
            assert heads_and_bias == pytest.approx(direct(model.model, attn[layer], resid[-1], token, vs), abs=1e-4)
            # resid[l+1] - resid[l] = attn_out_l + mlp_out_l
            whole = direct(model.model, resid[layer + 1] - resid[layer], resid[-1], token, vs)
            assert by_layer.total[layer] == pytest.approx(whole, abs=1e-4)
        for layer in (0, model.model.config.n_layer - 1):  # each head on its own, from its q, k, v
            heads = head_outputs(model.model, step.context_tokens, layer)
            for h, vec in enumerate(heads):
                got = float(df[df.component == f"L{layer}H{h}"].contribution.iloc[0])
                assert got == pytest.approx(direct(model.model, vec, resid[-1], token, vs), abs=1e-4)
        embeddings = df[df.kind.isin(["embed", "pos"])].contribution.sum()
        assert embeddings == pytest.approx(direct(model.model, resid[0], resid[-1], token, vs), abs=1e-4)


def test_hooks_are_removed_also_when_the_forward_raises(lm, monkeypatch):
    step = lm.generate("Hello", length=3, seed=1)[0].steps[2]
    before = hook_count(lm.model)
    A.attribution(step)
    assert hook_count(lm.model) == before
    with A.capture_components(lm.model):
        assert hook_count(lm.model) == before + 2 + 2 * lm.model.config.n_layer + 1
    assert hook_count(lm.model) == before

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(lm.model.transformer.h[1].mlp, "forward", broken)
    with pytest.raises(RuntimeError, match="boom"):
        A.attribution(step)
    assert hook_count(lm.model) == before


def test_vs_is_checked(lm):
    step = lm.generate("Hello", length=2, seed=1)[0].steps[1]
    for bad, says in [(50257, "token id in 0..50256"), (-1, "token id"), (True, "token id"), (2.0, "token id"),
                      ("Hello there friend", "encodes to 3 tokens"), ("", "encodes to 0 tokens"),
                      (step.token, "differ from the step's own token")]:
        with pytest.raises(ValueError, match=says) as caught:
            A.attribution(step, vs=bad)
        assert "\n" not in str(caught.value)
    assert A.attribution(step, vs=torch.tensor(5).item()).attrs["vs"] == 5


def test_a_bundle_without_its_model_says_how_to_attach_it(lm, tmp_path):
    run = lm.generate("Hello", length=3, seed=2)
    run.save(tmp_path / "run")
    loaded = gx.load_run(tmp_path / "run")
    with pytest.raises(A.AttributionError, match=r"gx\.load_run\(folder, lm=lm\)") as caught:
        loaded[0].steps[1].attribution()
    assert "\n" not in str(caught.value)
    attached = gx.load_run(tmp_path / "run", lm=lm)
    df = attached[0].steps[1].attribution()
    assert df.attrs["logit_diff"] == pytest.approx(run[0].steps[1].attribution().attrs["logit_diff"], abs=1e-6)
    assert abs(df.attrs["sum"] - df.attrs["logit_diff"]) <= TOL


def test_a_step_without_logits_uses_the_rerun(lm):
    step = lm.generate("Hello", length=3, seed=2, keep_logits="none")[0].steps[2]
    df = A.attribution(step)
    assert df.attrs["logit_diff"] == df.attrs["recomputed_logit_diff"]
    assert abs(df.attrs["sum"] - df.attrs["logit_diff"]) <= TOL


def test_only_gpt2_family_models(lm):
    class NotGPT2(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = torch.nn.Module()
            self.transformer.wte = torch.nn.Embedding(4, 2)

    with pytest.raises(A.AttributionError, match="GPT-2 family.*NotGPT2 has no transformer.wpe") as caught:
        A.parts_of(NotGPT2())
    assert "\n" not in str(caught.value)
    step = copy.copy(lm.generate("Hello", length=2, seed=1)[0].steps[1])
    step.sample = types.SimpleNamespace(run=types.SimpleNamespace(lm=types.SimpleNamespace(model=NotGPT2())))
    with pytest.raises(A.AttributionError, match="GPT-2 family"):
        A.attribution(step)


def test_linear_and_conv1d_weights_are_read_as_in_out():
    from transformers.pytorch_utils import Conv1D

    conv, linear = Conv1D(6, 4), torch.nn.Linear(4, 6)  # both map 4 -> 6
    x = torch.randn(4)
    assert torch.allclose(x @ A.out_weight(conv) + conv.bias, conv(x[None])[0], atol=1e-6)
    assert torch.allclose(x @ A.out_weight(linear) + linear.bias, linear(x), atol=1e-6)


def test_waterfall_rows():
    import pandas as pd

    df = pd.DataFrame({"component": list("abcde"), "contribution": [0.1, -2.0, 0.5, 3.0, -0.2]})
    rows = why.waterfall_rows(df, top=2)
    assert rows == [("b", -2.0, "relative"), ("d", 3.0, "relative"),
                    ("other components (3)", pytest.approx(0.4), "relative"),
                    ("logit difference", pytest.approx(1.4), "total")]
    assert [r[0] for r in why.waterfall_rows(df, top=9)][-1] == "logit difference" and len(why.waterfall_rows(df)) == 6
    with pytest.raises(ValueError, match="top must be a positive integer"):
        why.waterfall_rows(df, top=0)


@pytest.mark.parametrize("which", ["random", "tiny"])
def test_figures_build_carry_provenance_and_export(which, lm, tiny, tmp_path):
    model = lm if which == "random" else tiny
    step = model.generate("Hi! My name is", length=4, seed=7)[0].steps[3]
    df = A.attribution(step, vs=" a")
    fig = why.attribution_figure(step, vs=" a", top=5)
    bars = fig.data[0]
    assert bars.type == "waterfall" and len(bars.x) == 7 and bars.measure[-1] == "total"
    assert bars.x[-2] == f"other components ({len(df) - 5})"
    assert bars.y[-1] == pytest.approx(df.attrs["sum"]) and sum(bars.y[:-1]) == pytest.approx(bars.y[-1])
    assert abs(bars.y[-1] - df.attrs["logit_diff"]) <= TOL
    token, other = gx.tokens.token_label(step, step.token), gx.tokens.token_label(step, df.attrs["vs"])
    assert f"Why {token!r} over {other!r}: direct logit attribution at step 3" in fig.layout.title.text
    assert "indirect paths ignored" in fig.layout.title.text
    heat = why.attribution_heatmap(step, vs=" a")
    cfg = model.model.config
    assert len(heat.data[0].z) == cfg.n_layer and len(heat.data[0].z[0]) == cfg.n_head and heat.data[0].zmid == 0
    assert heat.data[0].z[1][0] == pytest.approx(float(df[df.component == "L1H0"].contribution.iloc[0]))
    for f, name in [(fig, "attribution_figure"), (heat, "attribution_heatmap")]:
        assert f.layout.width <= gx.style.FIGURE_MAX_PX
        caption = gx.caption(f)
        assert caption.startswith(name) and f"model {step.sample.run.model_name}" in caption and "seed 7" in caption
    gx.save(fig, tmp_path / "a.png")
    gx.save(heat, tmp_path / "h.png")
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "h.png").stat().st_size > 1000
