"""The prefix tree (gpt2explore.model.prefixes): samples of one prompt computed together give
exactly what each gives alone — tokens, probabilities, noise and kept logits, bit for bit."""
import pytest
import torch

import gpt2explore as gx
from gpt2explore.model import generation, prefixes

TEMPLATE = "Hi! My name is {name}."
NAMES = ["Isamu", "John", "Maria"]


def one_by_one(monkeypatch):
    """Generation as it was before the tree: every sample alone, row by row."""
    monkeypatch.setattr(prefixes, "applies", lambda *args: False)


def record(run):
    return [(s.prompt_index, s.index, s.tokens, [(st.prob, st.u, st.noise, st.position, st.index) for st in s.steps])
            for s in run.samples]


def same_logits(a, b):
    return all(torch.equal(x.logits, y.logits) for s, t in zip(a.samples, b.samples) for x, y in zip(s.steps, t.steps))


@pytest.mark.parametrize("temperature", [1.0, 0.05])  # 0.05: most samples share long prefixes
def test_study_draws_what_every_sample_draws_alone(lm, monkeypatch, temperature):
    fast = gx.study(lm, TEMPLATE, NAMES, nsamples=6, length=8, seed=5, progress=False, first_sample=3,
                    temperature=temperature)
    with monkeypatch.context() as m:
        one_by_one(m)
        slow = gx.study(lm, TEMPLATE, NAMES, nsamples=6, length=8, seed=5, progress=False, first_sample=3,
                        temperature=temperature)
        alone = lm.generate(TEMPLATE.replace("{name}", "John"), nsamples=1, first_sample=7, length=8, seed=5,
                            coupling="gumbel", temperature=temperature, progress=False)
    assert record(fast.run) == record(slow.run)
    assert torch.equal(fast.tokens(), slow.tokens())
    john7 = [s for s in fast.run.samples if s.prompt_index == 1 and s.index == 7][0]
    assert john7.tokens == alone[0].tokens and [st.prob for st in john7.steps] == [st.prob for st in alone[0].steps]
    if temperature < 1:  # the tree did branch: samples shared a first token and parted later
        tokens = fast.tokens()[1]
        assert len({tuple(r[:1]) for r in tokens.tolist()}) < 6 and len({tuple(r) for r in tokens.tolist()}) > 1


def test_counterfactual_of_a_study_row_is_the_other_names_row(lm, monkeypatch):
    fast = gx.study(lm, TEMPLATE, ["John", "Maria"], nsamples=4, length=6, seed=2, progress=False, first_sample=1)
    john = lm.generate(TEMPLATE.replace("{name}", "John"), nsamples=4, first_sample=1, length=6, seed=2,
                       coupling="gumbel", progress=False)
    with monkeypatch.context() as m:
        one_by_one(m)
        cf_slow = john.counterfactual(prompt=TEMPLATE.replace("{name}", "Maria"))
    cf = john.counterfactual(prompt=TEMPLATE.replace("{name}", "Maria"))
    assert [s.tokens for s in cf.samples] == [s.tokens for s in cf_slow.samples]
    assert [s.tokens for s in cf.samples] == [s.tokens for s in fast.run.samples if s.prompt_index == 1]


@pytest.mark.parametrize("keep", ["float32", "float16"])
def test_cdf_runs_with_logits_context_and_eos_are_unchanged(lm, monkeypatch, keep):
    prompts = ["Hello there", "Once upon a time", "Hello there"]  # a repeated prompt: one tree for both
    kwargs = dict(nsamples=4, length=10, seed=9, progress=False, keep_logits=keep, repetition_penalty=1.3,
                  temperature=0.3, stop_at_eos=True)
    fast = lm.generate(prompts, **kwargs)
    with monkeypatch.context() as m:
        one_by_one(m)
        slow = lm.generate(prompts, **kwargs)
    assert record(fast) == record(slow) and same_logits(fast, slow)
    assert fast.meta["coupling"] == "cdf"


def test_each_distinct_prefix_is_forwarded_once(lm):
    calls = []
    handle = lm.model.register_forward_hook(lambda *args: calls.append(1))
    try:
        run = lm.generate("Hi! My name is John.", nsamples=8, length=5, seed=1, coupling="gumbel", temperature=0.05,
                          progress=False, keep_logits="none")
    finally:
        handle.remove()
    tokens = [s.tokens for s in run.samples]
    prefixes_seen = {tuple(t[:k]) for t in tokens for k in range(5)}  # the prompt (k=0) and every longer prefix
    assert len(calls) == len(prefixes_seen) < 8 * 5


def test_progress_bar_counts_every_token(lm, monkeypatch):
    bars = []

    class Bar:
        def __init__(self, total):
            self.total, self.n, bars[:] = total, 0, [self]

        def update(self, n):
            self.n += n

        def close(self):
            pass

    monkeypatch.setattr(generation, "progress_bar", lambda progress, total, desc, minimum: Bar(total))
    gx.study(lm, TEMPLATE, NAMES, nsamples=5, length=4, seed=0, progress=True, temperature=0.05)
    assert bars[0].total == bars[0].n == 3 * 5 * 4


def test_layers_attention_and_hindsight_keep_the_row_path(lm):
    run = lm.generate("Hi", nsamples=2, length=2, seed=0, progress=False)
    assert prefixes.applies("rows", [generation.Job("Hi", 0, [1], 0, [0.5, 0.5])], False, False)
    assert not prefixes.applies("rows", [generation.Job("Hi", 0, [1], 0, [0.5])], True, False)
    assert not prefixes.applies("rows", [generation.Job("Hi", 0, [1], 0, [0.5])], False, True)
    assert not prefixes.applies("padded", [generation.Job("Hi", 0, [1], 0, [0.5])], False, False)
    hind = lm.hindsight("Hi", run.samples[0].text, n=2, seed=1)
    assert all(s.tokens == run.samples[0].tokens for s in hind.samples)
