"""Pure sampling maths on hand-made logits, and parity with transformers' own warpers."""
import math

import pytest
import torch

from gpt2explore import sampling

RAMP = torch.tensor([[0.0, 1.0, 2.0, 3.0, 4.0]])  # token 4 most likely


def test_temperature_scales_and_does_not_modify_input():
    x = RAMP.clone()
    out = sampling.apply_temperature(x, 2.0)
    assert torch.equal(out, RAMP / 2)
    assert torch.equal(x, RAMP)


def test_temperature_zero_is_greedy_with_lowest_id_on_ties():
    x = torch.tensor([[1.0, 3.0, 3.0, 0.0]])
    probs = sampling.probabilities(x, temperature=0)
    assert probs.tolist() == [[0.0, 1.0, 0.0, 0.0]]
    assert int(sampling.pick(probs[0], 0.999)) == 1


def test_top_k_hf_masks_to_minus_inf_and_keeps_ties():
    out = sampling.apply_top_k(torch.tensor([[0.0, 2.0, 2.0, 1.0, 3.0]]), 2)
    assert out.tolist() == [[-math.inf, 2.0, 2.0, -math.inf, 3.0]]


def test_top_k_openai_masks_with_minus_1e10():
    out = sampling.apply_top_k(RAMP, 2, "openai")
    assert out.tolist() == [[-1e10, -1e10, -1e10, 3.0, 4.0]]


def test_top_k_above_vocabulary_is_clamped():
    assert torch.equal(sampling.apply_top_k(RAMP, 1000), RAMP)


def test_top_p_rules_differ_at_the_crossing_token():
    # probabilities 0.5, 0.3, 0.2 (descending): cumulative 0.5, 0.8, 1.0
    logits = torch.log(torch.tensor([[0.2, 0.5, 0.3]]))
    hf = sampling.probabilities(logits, top_p=0.6)
    openai = sampling.probabilities(logits, top_p=0.6, semantics="openai")
    # hf keeps the token that crosses p (0.3 takes the sum to 0.8); openai drops it
    assert hf.dtype == openai.dtype == torch.float64  # the draw's arithmetic is double precision
    assert torch.allclose(hf, torch.tensor([[0.0, 0.5 / 0.8, 0.3 / 0.8]], dtype=torch.float64))
    assert torch.allclose(openai, torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64))


def test_top_p_keeps_at_least_one_token():
    logits = torch.log(torch.tensor([[0.1, 0.9]]))
    for sem in ("hf", "openai"):
        probs = sampling.probabilities(logits, top_p=0.05, semantics=sem)
        assert probs.tolist() == [[0.0, 1.0]]


def test_pick_walks_descending_cumulative_probability():
    probs = torch.tensor([0.1, 0.6, 0.3])  # order: 1 (0.6), 2 (0.9), 0 (1.0)
    assert [int(sampling.pick(probs, u)) for u in (0.0, 0.59, 0.61, 0.89, 0.95, 0.999999)] == [1, 1, 2, 2, 0, 0]
    many = sampling.pick(probs, torch.tensor([0.1, 0.7, 0.95]))
    assert many.tolist() == [1, 2, 0]
    rows = sampling.pick(torch.stack([probs, probs.flip(0)]), torch.tensor([0.7, 0.1]))
    assert rows.tolist() == [2, 1]


def test_pick_never_returns_a_zero_probability_token():
    probs = torch.tensor([0.0, 0.5, 0.5, 0.0])
    assert int(sampling.pick(probs, 1.0)) in (1, 2)


def test_uniforms_extend_and_differ_by_seed_and_index():
    a = sampling.uniforms(7, 0, 10)
    assert torch.equal(sampling.uniforms(7, 0, 4), a[:4])
    assert not torch.equal(sampling.uniforms(7, 1, 10), a)
    assert not torch.equal(sampling.uniforms(8, 0, 10), a)
    assert a.dtype == torch.float64 and bool(((a >= 0) & (a < 1)).all())


@pytest.mark.parametrize("kwargs, fragment", [
    ({"temperature": -1.0}, "-1.0"),
    ({"temperature": float("nan")}, "nan"),
    ({"temperature": float("inf")}, "inf"),
    ({"top_k": -3}, "-3"),
    ({"top_k": 2.5}, "2.5"),
    ({"top_p": 0.0}, "0.0"),
    ({"top_p": 1.5}, "1.5"),
    ({"top_p": float("nan")}, "nan"),
    ({"semantics": "tf"}, "tf"),
])
def test_bad_settings_raise_value_error_naming_the_value(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        sampling.filter_logits(RAMP, **kwargs)
    with pytest.raises(ValueError, match=fragment):
        sampling.Settings(**kwargs)


SETTINGS = [
    dict(temperature=1.0), dict(temperature=0.5), dict(temperature=2.0), dict(top_k=5),
    dict(top_k=40, temperature=0.7), dict(top_p=0.9), dict(top_p=0.5, temperature=1.3),
    dict(top_k=50, top_p=0.95, temperature=0.8), dict(top_k=1),
]


@pytest.mark.parametrize("kw", SETTINGS)
def test_hf_semantics_equal_transformers_warpers(kw):
    from transformers.generation.logits_process import (
        LogitsProcessorList,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    torch.manual_seed(0)
    logits = torch.randn(3, 50257) * 3
    procs = LogitsProcessorList()
    if kw.get("temperature", 1.0) != 1.0:
        procs.append(TemperatureLogitsWarper(kw["temperature"]))
    if kw.get("top_k", 0):
        procs.append(TopKLogitsWarper(kw["top_k"]))
    if kw.get("top_p", 1.0) < 1.0:
        procs.append(TopPLogitsWarper(kw["top_p"]))
    # transformers' warpers in double precision, the precision our draws are computed in
    expected = procs(None, logits.double()).softmax(-1)
    ours = sampling.probabilities(logits, **kw)
    assert (ours - expected).abs().max() <= 1e-12


def test_entropy_and_nucleus_size():
    probs = torch.tensor([0.5, 0.5, 0.0])
    assert math.isclose(float(sampling.entropy(probs)), math.log(2))
    assert int(sampling.nucleus_size(probs)) == 2


def test_batched_pick_fast_path_equals_full_sort():
    # rows with ties, zeros, peaked and flat distributions: the candidate fast path and the
    # full sort must give the same tokens for every uniform
    torch.manual_seed(0)
    flat = torch.full((1000,), 1 / 1000)
    peaked = torch.softmax(torch.randn(1000) * 4, -1)
    ties = torch.zeros(1000).index_fill(0, torch.tensor([5, 3, 900, 7]), 0.25)
    rows = torch.stack([flat, peaked, ties])
    for u in torch.linspace(0, 0.999999, 97, dtype=torch.float64):
        fast = sampling.pick(rows, u.expand(3))
        slow = torch.stack([sampling.pick(r, u) for r in rows])  # the 1-D path sorts fully
        assert fast.tolist() == slow.tolist()
    assert sampling.pick(ties[None], torch.tensor([0.3], dtype=torch.float64)).tolist() == [5]
