"""Notebook 09's helpers (gpt2explore.teaching.why): what separates two prompts' favourites adds
up in both contexts, the ablation hook never outlives its block and leaves the model as it was,
direct and total effects differ exactly as the final layer norm says where nothing else reads
the ablated output, and the figures say where they came from."""
import pytest
import torch

import gpt2explore as gx
from gpt2explore.model import attribution as A
from gpt2explore.teaching import why

TOL = 1e-3
NAMES = ["Hi! My name is Isamu", "Hi! My name is John"]


@pytest.fixture(scope="module")
def tiny():
    return gx.load("tiny", device="cpu")


@pytest.fixture(params=["random", "tiny"])
def model(request, lm, tiny):
    return lm if request.param == "random" else tiny


def hook_count(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def logit_diff(step, a: int, b: int) -> float:
    logits = step.logits.double()
    return float(logits[a] - logits[b])


# ---- separating components ---------------------------------------------------------------------

def test_separating_components_add_up_to_each_prompts_logit_difference(model):
    run = model.generate(NAMES, length=3, seed=1, attention=True)
    for i in range(3):
        sa, sb = run[0].steps[i], run[1].steps[i]
        df = why.separating_components(sa, sb, top=None)
        a, b = df.attrs["a"], df.attrs["b"]
        assert a == why.likeliest(sa, 1)[0] and a != b
        first_b, second_b = why.likeliest(sb, 2)
        assert b == (second_b if first_b == a else first_b)
        name_a, name_b = df.attrs["labels"]
        assert (name_a, name_b) == ("Isamu", "John")
        assert abs(df[name_a].sum() - logit_diff(sa, a, b)) <= TOL
        assert abs(df[name_b].sum() - logit_diff(sb, a, b)) <= TOL
        assert df.attrs["logit_diff_a"] == pytest.approx(df[name_a].sum(), abs=1e-9)
        assert (df["difference"] == df[name_a] - df[name_b]).all()
        assert list(df["difference"].abs()) == sorted(df["difference"].abs(), reverse=True)
        assert len(df) == len(A.attribution(sa))  # every component once
        top = why.separating_components(sa, sb, top=4)
        assert list(top["component"]) == list(df["component"][:4])
        assert sa.token == run[0].steps[i].token  # the steps themselves are not changed


def test_the_rival_is_the_second_favourite_when_both_prompts_agree(lm):
    step = lm.generate("Hello", length=1, seed=1)[0].steps[0]
    first, second = why.likeliest(step, 2)
    assert why.rival_pair(step, step) == (first, second)
    df = why.separating_components(step, step, top=None, labels=["one", "two"])
    assert (df["difference"].abs() <= 1e-12).all()
    assert abs(df["one"].sum() - logit_diff(step, first, second)) <= TOL
    with pytest.raises(ValueError, match="different labels"):
        why.separating_components(step, step)
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match="top must be a positive integer"):
            why.separating_components(step, step, top=bad, labels=["one", "two"])


def test_attribution_of_another_token_is_that_tokens_logit_difference(tiny):
    step = tiny.generate("Hi! My name is", length=2, seed=3)[0].steps[1]
    a, b = why.likeliest(step, 3)[1:]
    own = step.token
    df = why.attribution_of(step, a, b)
    assert df.attrs["token"] == a and df.attrs["vs"] == b
    assert abs(df["contribution"].sum() - logit_diff(step, a, b)) <= TOL
    assert step.token == own  # only a copy was re-pointed


# ---- caveat 1: attention on the first token against direct effect -------------------------------------

def test_attention_vs_effect_has_every_head_with_its_attention_and_effect(model):
    step = model.generate("Hi! My name is", length=3, seed=2, attention=True)[0].steps[2]
    t = why.attention_vs_effect(step)
    cfg = model.model.config
    assert len(t) == cfg.n_layer * cfg.n_head
    att = step.attention()
    df = A.attribution(step)
    for _, row in t.iterrows():
        assert row["first_token"] == pytest.approx(float(att[row["layer"], row["head"], 0]), abs=1e-7)
        assert row["effect"] == pytest.approx(float(df[df.component == row["component"]].contribution.iloc[0]))
        assert row["abs_effect"] == abs(row["effect"])
    sinks = why.sink_heads(t)
    assert (sinks["first_token"] >= why.HEAVY).all()
    assert (sinks["abs_effect"] <= why.LITTLE * t["abs_effect"].median()).all()
    with pytest.raises(ValueError, match="attention=True"):
        why.attention_vs_effect(model.generate("Hi", length=1, seed=2)[0].steps[0])


# ---- caveat 2: zero-ablation --------------------------------------------------------------------------

def test_the_ablation_hook_is_removed_also_on_error_and_the_model_is_unchanged(model, monkeypatch):
    step = model.generate("Hi! My name is", length=3, seed=1)[0].steps[2]
    ids = torch.tensor([step.context_tokens])
    with torch.inference_mode():
        before_logits = model.model(ids).logits.clone()
    before = hook_count(model.model)
    why.direct_vs_total(step)
    assert hook_count(model.model) == before
    with pytest.raises(RuntimeError, match="boom"):
        with why.ablated_attention(model.model, 1):
            assert hook_count(model.model) == before + 1
            raise RuntimeError("boom")
    assert hook_count(model.model) == before
    calls = []

    def broken(*args):  # the second pass (the first ablated one) fails
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return 0.0

    monkeypatch.setattr(why, "_logit_diff", broken)
    with pytest.raises(RuntimeError, match="boom"):
        why.direct_vs_total(step)
    assert hook_count(model.model) == before
    monkeypatch.undo()
    with torch.inference_mode():
        assert torch.equal(model.model(ids).logits, before_logits)
    with pytest.raises(ValueError, match="layer must be an integer"):
        with why.ablated_attention(model.model, model.model.config.n_layer):
            pass


def test_ablation_is_the_attention_output_set_to_zero(rnd_dir):
    """Zeroing block l's c_proj (weight and bias) gives the same logits as the hook."""
    fresh = gx.load(str(rnd_dir), device="cpu")  # its own copy: its weights are changed below
    step = fresh.generate("Hi! My name is", length=2, seed=5)[0].steps[1]
    ids = torch.tensor([step.context_tokens])
    for layer in range(fresh.model.config.n_layer):
        with why.ablated_attention(fresh.model, layer), torch.inference_mode():
            hooked = fresh.model(ids).logits
        c_proj = fresh.model.transformer.h[layer].attn.c_proj
        saved = c_proj.weight.detach().clone(), c_proj.bias.detach().clone()
        with torch.no_grad():
            c_proj.weight.zero_()
            c_proj.bias.zero_()
            zeroed = fresh.model(ids).logits
            c_proj.weight.copy_(saved[0])
            c_proj.bias.copy_(saved[1])
        assert torch.allclose(hooked, zeroed, atol=1e-5)


def test_direct_column_is_the_layers_attention_attribution(model):
    step = model.generate("Hi! My name is", length=3, seed=4)[0].steps[1]
    t = why.direct_vs_total(step)
    by_layer = A.attribution_by_layer(A.attribution(step))
    assert list(t["layer"]) == list(range(model.model.config.n_layer))
    assert list(t["direct"]) == pytest.approx(list(by_layer["attn"]), abs=1e-9)
    assert list(t["indirect"]) == pytest.approx(list(t["total"] - t["direct"]), abs=1e-12)
    assert t.attrs["clean_logit_diff"] == pytest.approx(logit_diff(step, t.attrs["token"], t.attrs["vs"]), abs=TOL)


@pytest.mark.parametrize("which", ["random", "tiny"])
def test_the_last_layers_direct_and_total_differ_only_by_the_final_layer_norms_scale(which, rnd_dir):
    """The last block's MLP reads its attention's output, so direct and total effects of the last
    layer's attention differ in general, even in sign. With that MLP silenced, nothing but ln_f
    reads it, and the difference is exactly the final layer norm's scale changing:
    total − direct = C(r') (1/sigma − 1/sigma'), with r' the final residual without the attention,
    C(x) = (gamma * (x − mean x)) . (W_U[token] − W_U[vs]), sigma and sigma' the scales of r and r'."""
    fresh = gx.load(str(rnd_dir) if which == "random" else "tiny", device="cpu")  # its weights change below
    model = fresh.model
    last = model.transformer.h[-1]
    with torch.no_grad():
        last.mlp.c_proj.weight.zero_()
        last.mlp.c_proj.bias.zero_()
    run = fresh.generate(NAMES, length=4, seed=1)
    ln_f, w_u = model.transformer.ln_f, model.lm_head.weight.detach().double()
    gamma = ln_f.weight.detach().double()
    for step in [run[0].steps[0], run[1].steps[3]]:
        t = why.direct_vs_total(step)
        token, vs = t.attrs["token"], t.attrs["vs"]
        resid = []
        handle = ln_f.register_forward_pre_hook(lambda m, args: resid.append(args[0][0, -1].double()))
        try:
            with torch.inference_mode():
                model(torch.tensor([step.context_tokens]))
                with why.ablated_attention(model, model.config.n_layer - 1):
                    model(torch.tensor([step.context_tokens]))
        finally:
            handle.remove()
        r, r_ablated = resid

        def scale(x):
            return torch.sqrt(x.var(unbiased=False) + ln_f.eps)

        c = float((gamma * (r_ablated - r_ablated.mean())) @ (w_u[token] - w_u[vs]))
        expected = c * (1 / scale(r) - 1 / scale(r_ablated))
        row = t.iloc[-1]
        assert row["total"] - row["direct"] == pytest.approx(float(expected), abs=1e-4)
        assert abs(row["total"] - row["direct"]) > 1e-6  # the scale really moves: they are not equal


# ---- the figures ---------------------------------------------------------------------------------------

def test_the_figures_carry_their_provenance(tiny):
    run = tiny.generate(NAMES, length=3, seed=1, attention=True)
    sa, sb = run[0].steps[0], run[1].steps[0]
    figs = {"separating_figure": why.separating_figure(sa, sb),
            "attention_vs_effect_figure": why.attention_vs_effect_figure(sa),
            "direct_vs_total_figure": why.direct_vs_total_figure(sb)}
    for name, fig in figs.items():
        text = gx.caption(fig)
        assert text.startswith(name) and "model tiny" in text and "seed 1" in text, text
        assert fig.layout.template.layout.font.family  # the shared look
    assert "'Hi! My name is Isamu' vs 'Hi! My name is John'" in gx.caption(figs["separating_figure"])
    sep = figs["separating_figure"]
    df = why.separating_components(sa, sb)
    assert [t.name for t in sep.data] == ["after John", "after Isamu"]  # drawn so, shown Isamu first
    assert list(sep.data[1].x) == list(df["Isamu"])[::-1] and list(sep.data[0].y) == list(df["component"])[::-1]
    scatter = figs["attention_vs_effect_figure"]
    assert len(scatter.data[0].x) == tiny.model.config.n_layer * tiny.model.config.n_head
    bars = figs["direct_vs_total_figure"]
    t = why.direct_vs_total(sb)
    assert list(bars.data[0].y) == list(t["direct"]) and list(bars.data[1].y) == list(t["total"])
