"""Counterfactuals: the same noise under another prompt, settings or model (`run.counterfactual`),
and the posterior noise of an observed text (`lm.hindsight`)."""
import math
from types import SimpleNamespace

import pytest
import torch

import gpt2explore as gx
from gpt2explore.core import coupling

A, B = "Hi! My name is Isamu", "Hi! My name is John"


@pytest.fixture(scope="module")
def tiny():
    return gx.load()


def chi2_critical(df: int, z: float = 3.09) -> float:
    """The chi-square value exceeded with probability about 0.001 (Wilson–Hilferty)."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


@pytest.mark.parametrize("kind", ["gumbel", "cdf"])
def test_identity_counterfactual_returns_the_run(lm, kind):
    run = lm.generate([A, B], nsamples=3, length=8, seed=4, coupling=kind, top_p=0.95)
    same = run.counterfactual()
    assert [s.tokens for s in same] == [s.tokens for s in run]
    assert same.meta["counterfactual"]["changed"] == {}
    assert same.meta["coupling"] == kind


@pytest.mark.parametrize("kind", ["gumbel", "cdf"])
def test_counterfactual_prompt_equals_a_run_of_that_prompt(lm, kind):
    run = lm.generate(A, nsamples=4, length=10, seed=12, coupling=kind)
    cf = run.counterfactual(B)
    want = lm.generate(B, nsamples=4, length=10, seed=12, coupling=kind)
    assert cf.texts == want.texts
    assert [s.prompt for s in cf] == [B] * 4
    assert cf.meta["counterfactual"]["changed"] == {"prompt": B}
    assert cf.meta["counterfactual"]["of"]["texts"] == run.texts


def test_per_sample_prompts_settings_and_another_model(lm, tiny):
    run = lm.generate(A, nsamples=3, length=6, seed=2, coupling="gumbel")
    prompts = [B, "Hello", A]
    cf = run.counterfactual(prompts)
    for k, p in enumerate(prompts):
        one = lm.generate(p, nsamples=1, length=6, seed=2, coupling="gumbel", first_sample=k)
        assert cf[k].tokens == one[0].tokens and cf[k].prompt == p
    hot = run.counterfactual(temperature=0.6, top_k=40)
    assert hot.texts == lm.generate(A, nsamples=3, length=6, seed=2, coupling="gumbel", temperature=0.6,
                                    top_k=40).texts
    assert hot.meta["counterfactual"]["changed"] == {"settings": {"temperature": 0.6, "top_k": 40}}
    other = run.counterfactual(lm=tiny)  # the same vocabulary, another model
    assert other.texts == tiny.generate(A, nsamples=3, length=6, seed=2, coupling="gumbel").texts
    assert other.meta["counterfactual"]["changed"] == {"model": tiny.name}
    with pytest.raises(ValueError, match="same vocabulary"):
        run.counterfactual(lm=SimpleNamespace(vocab_size=100, name="small"))
    with pytest.raises(ValueError, match="one prompt per sample"):
        run.counterfactual([A, B])


def test_counterfactual_of_a_loaded_bundle_needs_a_model_and_saves(lm, tmp_path):
    run = lm.generate(A, nsamples=2, length=5, seed=7, coupling="gumbel")
    run.save(tmp_path / "run")
    back = gx.load_run(tmp_path / "run")
    with pytest.raises(ValueError, match="pass lm="):
        back.counterfactual(B)
    cf = back.counterfactual(B, lm=lm)
    assert cf.texts == run.counterfactual(B).texts
    cf.save(tmp_path / "cf")
    again = gx.load_run(tmp_path / "cf")
    assert again.texts == cf.texts
    assert again.meta["counterfactual"]["changed"] == {"prompt": B}
    assert again.verify(lm).ok


def test_first_token_agreement_within_the_couplings_bounds(tiny):
    n = 1500
    pa, pb = (tiny.generate(p, length=1, seed=0)[0][0].distribution() for p in (A, B))
    bounds = coupling.agreement_bounds(pa, pb)
    exact_g, exact_c = coupling.gumbel_agreement(pa, pb), coupling.cdf_agreement(pa, pb)
    assert bounds["gumbel_floor"] <= exact_g <= bounds["ceiling"]
    assert exact_c <= bounds["ceiling"]
    for kind, exact in (("gumbel", exact_g), ("cdf", exact_c)):
        run = tiny.generate(A, nsamples=n, length=1, seed=31, coupling=kind, keep_logits="none", progress=False)
        cf = run.counterfactual(B, progress=False)
        same = sum(a.tokens[0] == b.tokens[0] for a, b in zip(run, cf)) / n
        sigma = math.sqrt(max(exact * (1 - exact), 1e-4) / n)
        assert abs(same - exact) < 4.5 * sigma, (kind, same, exact)
        assert same <= bounds["ceiling"] + 4.5 * sigma
        if kind == "gumbel":
            assert same >= bounds["gumbel_floor"] - 4.5 * sigma
    assert exact_g > exact_c  # the two names part less often with shared Gumbel noise


def test_hindsight_samples_redraw_the_text(lm):
    text = " and I like the sea."
    h = lm.hindsight(A, text, n=4, seed=3, temperature=0.9)
    assert h.texts == [text] * 4 and h.meta["hindsight"]["text"] == text
    for sample in h:
        for step in sample:
            assert step.coupling == "posterior" and step.resample() == step.token
    assert [s.tokens for s in h.counterfactual()] == [s.tokens for s in h]
    assert len({tuple(s.tokens) for s in h.counterfactual(B, temperature=1.5)}) > 1  # the noise differs by sample


def test_hindsight_counterfactual_follows_the_shared_noise_conditional(tiny):
    lm = tiny
    """P(Y = y | X = x) under shared Gumbel noise, by Monte Carlo over the noise alone, against the
    first tokens of the counterfactuals of hindsight samples of x."""
    k = 12
    pa = lm.generate(A, length=1, seed=0, top_k=k)[0][0].distribution()
    pb = lm.generate(B, length=1, seed=0, top_k=k)[0][0].distribution()
    x = int(pa.argmax())
    support = torch.nonzero((pa > 0) | (pb > 0)).flatten()
    la, lb = pa[support].log(), pb[support].log()
    gen = torch.Generator().manual_seed(123)
    g = -torch.log(-torch.log(torch.rand(400_000, support.numel(), generator=gen, dtype=torch.float64)))
    keep = support[(la + g).argmax(-1)] == x
    ys = support[(lb + g[keep]).argmax(-1)]
    mc = torch.bincount(ys, minlength=pa.shape[-1]).double() / ys.numel()

    n = 800
    h = lm.hindsight(A, lm.decode([x]), n=n, seed=5, top_k=k)
    assert all(s.tokens == [x] for s in h)
    cf = h.counterfactual(B, progress=False)
    counts = torch.bincount(torch.tensor([s.tokens[0] for s in cf]), minlength=pa.shape[-1]).double()
    expected = mc * n
    big = expected >= 5
    observed = torch.cat([counts[big], counts[~big].sum(0, keepdim=True)])
    wanted = torch.cat([expected[big], expected[~big].sum(0, keepdim=True)])
    observed, wanted = observed[wanted > 0], wanted[wanted > 0]
    stat = float(((observed - wanted) ** 2 / wanted).sum())
    assert stat < chi2_critical(len(wanted) - 1), (stat, observed.tolist(), wanted.tolist())
    # the observed token carries information: B's samples repeat it more often than B alone would write it
    # (on the bundled model: P(Y = x | X = x) is about 0.125, p_B(x) about 0.031)
    freq = float(counts[x]) / n
    assert abs(freq - float(mc[x])) < abs(freq - float(pb[x]))


def test_hindsight_impossible_token_is_one_line(lm):
    text = " and I like the sea."
    free = lm.hindsight(A, text, n=1, seed=0)
    where = next(s for s in free[0] if int(s.distribution().argmax()) != s.token)  # top_k=1 cuts it
    with pytest.raises(ValueError) as err:
        lm.hindsight(A, text, n=1, seed=0, top_k=1)
    message = str(err.value)
    assert f"at position {where.index} has probability 0" in message
    assert repr(lm.decode([where.token])) in message and "\n" not in message and "top_k" in message


def test_hindsight_bundle_round_trip(lm, tmp_path):
    h = lm.hindsight(A, " and I like the sea.", n=2, seed=3)
    h.save(tmp_path / "h")
    back = gx.load_run(tmp_path / "h")
    assert back.texts == h.texts and back.meta["hindsight"]["text"] == " and I like the sea."
    assert all(s.coupling == "posterior" for x in back for s in x)
    assert back.verify(lm).ok
    assert back.counterfactual(B, lm=lm).texts == h.counterfactual(B).texts
    with pytest.raises(ValueError, match="save the hindsight run instead"):
        h.counterfactual(B).save(tmp_path / "cf")


def test_the_counterfactual_figure_names_the_sample_as_the_run_and_the_explorer_do(lm):
    """run[0] of a run made with first_sample=3 is sample #3: the title says both."""
    run = lm.generate("Hi! My name is Isamu", nsamples=1, length=4, seed=1, coupling="gumbel", first_sample=3)
    fig = gx.counterfactual_view(run, run.counterfactual("Hi! My name is John"), sample=0)
    assert fig.layout.title.text.startswith("Sample #3 (run[0] here) and its counterfactual"), fig.layout.title.text
    plain = lm.generate("Hi! My name is Isamu", nsamples=1, length=4, seed=1, coupling="gumbel")
    assert gx.counterfactual_view(plain, plain.counterfactual("Hi! My name is John")).layout.title.text.startswith(
        "Sample #0 and its counterfactual")


def test_the_counterfactual_figure_shows_both_sides_on_one_axis_with_every_colour_named(lm):
    run = lm.generate("Hi! My name is Isamu", nsamples=4, length=8, seed=1, coupling="gumbel")
    cf = run.counterfactual("Hi! My name is John")
    k = next(i for i in range(4) if run[i].tokens != cf[i].tokens)  # a pair that parts
    fig = gx.counterfactual_view(run, cf, sample=k)
    bars = [t for t in fig.data if t.type == "bar" and t.x and t.x[0] is not None]
    assert len(bars) == 2
    assert fig.layout.yaxis2.range == fig.layout.yaxis3.range  # one probability axis
    assert fig.layout.yaxis2.range[1] >= max(max(b.y) for b in bars)
    named = {t.marker.color: t.name for t in fig.data if t.type == "bar" and t.showlegend is not False and t.name}
    assert {c for b in bars for c in b.marker.color} <= set(named), named  # every bar colour has a legend entry
