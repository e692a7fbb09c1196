"""lm.generate: parity with full forward passes, batching, reproducibility, the one promise."""
import math

import pytest
import torch

from gpt2explore import sampling

PROMPTS = ["Hi! My name is Isamu", "Hello", "The quick brown fox jumps over the"]


def full_forward_logits(lm, tokens):
    with torch.no_grad():
        return lm.model(torch.tensor([tokens])).logits[0]  # (T, V)


def assert_capture_parity(lm, run):
    for sample in run:
        seq = sample.context_tokens
        full = full_forward_logits(lm, seq[:-1])  # the last token is never fed
        for step in sample.steps:
            expected = full[step.position - 1]
            assert (step.logits.float() - expected).abs().max() <= 1e-4, (sample.prompt, step.index)
            assert step.context_tokens == seq[: step.position]


def test_capture_parity_batch_one(lm):
    run = lm.generate("Hi! My name is Isamu", nsamples=2, length=12, seed=3, top_k=20)
    assert_capture_parity(lm, run)


def test_capture_parity_batch_of_different_lengths(lm):
    run = lm.generate(PROMPTS, nsamples=2, batch_size=6, length=10, seed=3)
    assert_capture_parity(lm, run)


def test_batched_equals_unbatched(lm):
    together = lm.generate(PROMPTS, nsamples=1, batch_size=3, length=10, seed=11)
    for i, prompt in enumerate(PROMPTS):
        alone = lm.generate(prompt, nsamples=1, batch_size=1, length=10, seed=11)
        assert together[i].tokens == alone[0].tokens
        for a, b in zip(together[i].steps, alone[0].steps):
            assert (a.logits - b.logits).abs().max() <= 1e-4


def test_batch_size_invariance(lm):
    tokens = [[s.tokens for s in lm.generate("Hello", nsamples=5, batch_size=bs, length=8, seed=5)]
              for bs in (1, 2, 5)]
    assert tokens[0] == tokens[1] == tokens[2]
    assert len({tuple(t) for t in tokens[0]}) > 1  # samples differ from one another


def test_same_sample_index_uses_same_draws_across_prompts(lm):
    run = lm.generate(["Hi! My name is Isamu", "Hi! My name is John"], nsamples=2, length=6, seed=9)
    a, b = run[0], run[2]  # sample 0 of each prompt
    assert a.index == b.index == 0
    assert [s.u for s in a.steps] == [s.u for s in b.steps]
    assert [s.u for s in a.steps] == sampling.uniforms(9, 0, 6).tolist()


def test_replay_from_stored_logits_and_uniforms(lm):
    run = lm.generate(PROMPTS, nsamples=2, batch_size=4, length=10, seed=21, temperature=0.8,
                      top_k=30, top_p=0.9)
    for sample in run:
        for step in sample.steps:
            assert step.resample() == step.token
            probs = step.distribution()
            assert math.isclose(float(probs[step.token]), step.prob, rel_tol=1e-6)
            assert probs[step.token] > 0


def test_determinism_and_seeds(lm):
    a = lm.generate("Hello", nsamples=2, length=10, seed=1)
    b = lm.generate("Hello", nsamples=2, length=10, seed=1)
    c = lm.generate("Hello", nsamples=2, length=10, seed=2)
    assert a.texts == b.texts
    assert [s.tokens for s in a] != [s.tokens for s in c]


def test_seed_none_is_recorded_and_replays(lm):
    a = lm.generate("Hello", length=5)
    assert isinstance(a.seed, int)
    assert lm.generate("Hello", length=5, seed=a.seed).texts == a.texts


def test_temperature_zero_is_the_argmax_sequence(lm):
    run = lm.generate("Hi! My name is", length=8, temperature=0, seed=4)
    tokens = lm.encode("Hi! My name is")
    for _ in range(8):
        tokens.append(int(full_forward_logits(lm, tokens)[-1].argmax()))
    assert run[0].tokens == tokens[-8:]


def chi_square_p(counts, expected):
    stat = float(((counts - expected) ** 2 / expected).sum())
    dof = len(counts) - 1
    return float(torch.special.gammaincc(torch.tensor(dof / 2, dtype=torch.float64),
                                         torch.tensor(stat / 2, dtype=torch.float64)))


@pytest.mark.parametrize("kw", [dict(), dict(top_k=10), dict(top_p=0.5), dict(temperature=0.5),
                                dict(temperature=2.0), dict(top_k=40, top_p=0.9, temperature=0.7)])
def test_what_you_see_is_what_is_sampled(lm, kw):
    step = lm.generate("Hi! My name is", length=3, seed=0)[0].steps[2]
    probs = step.distribution(**kw).double()
    n = 20_000
    draws = sampling.pick(step.distribution(**kw), torch.rand(n, generator=torch.Generator().manual_seed(1),
                                                               dtype=torch.float64))
    counts = torch.bincount(draws, minlength=probs.numel()).double()
    # bins of consecutive tokens (by descending probability) holding >= 10 expected draws each
    order = torch.argsort(probs, descending=True)
    bins_c, bins_e, acc_c, acc_e = [], [], 0.0, 0.0
    for tid in order.tolist():
        acc_c += float(counts[tid]); acc_e += float(probs[tid]) * n
        if acc_e >= 10:
            bins_c.append(acc_c); bins_e.append(acc_e); acc_c = acc_e = 0.0
    if acc_e > 0:
        bins_c[-1] += acc_c; bins_e[-1] += acc_e
    assert counts[probs == 0].sum() == 0  # nothing outside the shown distribution
    p = chi_square_p(torch.tensor(bins_c), torch.tensor(bins_e))
    assert len(bins_c) > 2 or kw.get("top_k") == 1
    assert p > 1e-3, p


def test_length_defaults_follow_the_original_scripts(lm):
    assert lm.generate("Hello", seed=0, progress=False).length == lm.n_ctx // 2
    unconditional = lm.generate(None, seed=0, progress=False)
    assert unconditional.length == lm.n_ctx
    assert unconditional[0].prompt is None and unconditional[0].prompt_tokens == [lm.eos_token_id]
    long_prompt = " ".join(["word"] * 50)
    n = len(lm.encode(long_prompt))
    assert lm.generate(long_prompt, seed=0).length == lm.n_ctx - n + 1


def test_nsamples_not_multiple_of_batch_size(lm):
    run = lm.generate("Hello", nsamples=5, batch_size=2, length=4, seed=1)
    assert [s.index for s in run] == [0, 1, 2, 3, 4] and all(len(s) == 4 for s in run)


def test_stop_at_eos(lm):
    # stop_at_eos cuts each sample right after its first <|endoftext|>, draws unchanged
    run = lm.generate(None, nsamples=3, length=20, seed=2, top_k=3)
    full = lm.generate(None, nsamples=3, length=20, seed=2, top_k=3, stop_at_eos=True)
    for a, b in zip(run, full):
        if lm.eos_token_id in a.tokens:
            cut = a.tokens.index(lm.eos_token_id) + 1
            assert b.tokens == a.tokens[:cut]
        else:
            assert b.tokens == a.tokens


def test_stop_at_eos_stops_early(lm):
    head = lm.model.get_output_embeddings()
    bias = torch.zeros(lm.vocab_size)
    bias[lm.eos_token_id] = 50.0
    handle = head.register_forward_hook(lambda m, i, o: o + bias)
    try:
        run = lm.generate("Hello", nsamples=2, length=10, seed=0, stop_at_eos=True)
    finally:
        handle.remove()
    assert all(s.tokens == [lm.eos_token_id] for s in run)


def test_keep_logits_modes(lm):
    half = lm.generate("Hello", length=4, seed=1, keep_logits="float16")
    full = lm.generate("Hello", length=4, seed=1)
    none = lm.generate("Hello", length=4, seed=1, keep_logits="none")
    assert full.texts == none.texts
    # float16 draws from the float16 values it keeps (a near-tie may pick another token)
    assert all(s.resample() == s.token for s in half[0].steps)
    assert half[0][0].logits.dtype == torch.float16 and full[0][0].logits.dtype == torch.float32
    assert none[0][0].logits is None and none[0][0].prob == pytest.approx(full[0][0].prob)
    with pytest.raises(ValueError, match="keep_logits"):
        none[0][0].distribution()
    with pytest.raises(ValueError, match="keep_logits"):
        lm.generate("Hello", length=2, keep_logits="int8")


def test_run_views(lm):
    run = lm.generate(["Hi! My name is Isamu", "Hello"], nsamples=2, length=5, seed=1)
    assert len(run.texts) == 4 and run.prompts == ["Hi! My name is Isamu", "Hello"]
    assert run[0].full_text == "Hi! My name is Isamu" + run[0].text
    assert "seed=1" in repr(run) and "Isamu" in run._repr_html_()
    assert "Isamu" in run[0]._repr_html_()
    top = run[0][0].top(5)
    assert len(top) == 5 and top[0].rank == 1 and top[0].prob >= top[1].prob
    frame = run.to_frame(top=3)
    assert list(frame.columns) == ["prompt", "sample", "step", "rank", "token_id", "token", "text", "logit",
                                   "prob_raw", "prob", "chosen"]
    assert frame.groupby(["sample", "step"]).chosen.sum().eq(1).all()
    chosen = frame[frame.chosen]
    assert chosen.token_id.tolist() == [t for s in run for t in s.tokens]


@pytest.mark.parametrize("call, fragment", [
    (lambda lm: lm.generate(""), "empty"),
    (lambda lm: lm.generate(42), "42"),
    (lambda lm: lm.generate(["ok", 3]), "3"),
    (lambda lm: lm.generate(" ".join(["word"] * 80)), "longer than the model's context of 64"),
    (lambda lm: lm.generate("Hello", length=100), "length 100"),
    (lambda lm: lm.generate("Hello", length=0), "length"),
    (lambda lm: lm.generate("Hello", nsamples=0), "nsamples"),
    (lambda lm: lm.generate("Hello", batch_size=0), "batch_size"),
    (lambda lm: lm.generate("Hello", temperature=-1), "-1"),
    (lambda lm: lm.generate("Hello", temperature=float("nan")), "nan"),
    (lambda lm: lm.generate("Hello", top_k=-1), "-1"),
    (lambda lm: lm.generate("Hello", top_p=0), "top_p"),
    (lambda lm: lm.generate("Hello", top_p=1.01), "1.01"),
    (lambda lm: lm.generate("Hello", seed=-5), "-5"),
])
def test_bad_inputs_raise_clear_value_errors(lm, call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call(lm)


def test_length_error_names_both_numbers(lm):
    with pytest.raises(ValueError) as err:
        lm.generate("Hello", length=100)
    assert "100" in str(err.value) and "64" in str(err.value)


@pytest.mark.parametrize("kw", [dict(top_k=10, temperature=0.5), dict(top_p=0.8, temperature=2.0)])
def test_step_distribution_equals_transformers_warpers(lm, kw):
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    step = lm.generate("Hi! My name is", length=2, seed=0)[0].steps[1]
    scores = step.logits[None].clone()
    scores = TemperatureLogitsWarper(kw["temperature"])(None, scores)
    if "top_k" in kw:
        scores = TopKLogitsWarper(kw["top_k"])(None, scores)
    if "top_p" in kw:
        scores = TopPLogitsWarper(kw["top_p"])(None, scores)
    assert (step.distribution(**kw) - scores.softmax(-1)[0]).abs().max() <= 1e-6
