"""The one promise at its edges (#32): no NaN reaches a bar, a user's sampler is checked where it
is applied, the registry keeps its names and its built-ins, a bundle says when a sampler differs."""
import copy
import inspect
import keyword

import pytest
import torch

import gpt2explore as gx
from gpt2explore.core import guards, registry
from gpt2explore.files.manifest import BundleError


@pytest.fixture
def user_sampler():
    """Register samplers for one test; each is removed afterwards, whatever happens."""
    names = []

    def register(name, stage, **kw):
        gx.register_sampler(name, stage, **kw)
        names.append(name)

    yield register
    for name in names:
        if name in registry.names():
            registry.unregister_sampler(name)


def nan_model(lm):
    """A copy of `lm` whose every logit is NaN (a damaged checkpoint)."""
    bad = copy.copy(lm)
    bad.model = copy.deepcopy(lm.model)
    with torch.no_grad():
        bad.model.transformer.ln_f.weight[0] = float("nan")
    return bad


# ---- 1. a step whose distribution is not a distribution is an error naming its source ------
def test_nan_from_the_model_names_the_models_logits_and_nothing_is_drawn(lm):
    bad = nan_model(lm)
    with pytest.raises(ValueError, match=r"step 0 of sample 0 \(prompt 'Hi'\): the model's logits hold NaN") as err:
        bad.generate("Hi", length=3, seed=1)
    assert isinstance(err.value, guards.DistributionError) and "\n" not in str(err.value)
    session = bad.session("Hi", seed=1)
    with pytest.raises(guards.DistributionError, match="step 0 of the session: the model's logits hold NaN"):
        session.step(2)
    assert session.steps == []  # nothing drawn, nothing kept
    with pytest.raises(guards.DistributionError, match="scoring position 1: the model's logits hold NaN"):
        bad.score("Hi there")


def test_a_callers_own_logits_are_the_logits_not_the_models(user_sampler):
    nan = torch.full((4,), float("nan"))
    for call in (gx.probabilities, gx.filter_logits):
        with pytest.raises(guards.DistributionError, match=r"^the logits hold NaN \(4 of 4 values\); they make no "
                                                           r"distribution \(pass finite logits") as err:
            call(nan)
        assert "model" not in str(err.value) and "step" not in str(err.value)
    batch = torch.tensor([[0.0, 1.0], [float("inf"), 1.0]])
    with pytest.raises(guards.DistributionError, match=r"^row 1: the logits hold \+inf"):
        gx.probabilities(batch)
    user_sampler("nan_s", lambda l, v: l * float("nan"), off=0.0)
    with pytest.raises(guards.DistributionError, match="^the sampler 'nan_s' returned logits that hold NaN"):
        gx.probabilities(torch.zeros(3), nan_s=0.5)


BAD_OUTPUTS = [  # (stage, what the error says)
    (lambda l, v: l * float("nan"), "returned logits that hold NaN"),
    (lambda l, v: l * 0 + float("inf"), r"returned logits that hold \+inf"),
    (lambda l, v: l.masked_fill(l == l.max(), float("inf")), r"returned logits that hold \+inf"),
    (lambda l, v: torch.full_like(l, float("-inf")), "returned logits that are all -inf"),
]


@pytest.mark.parametrize("stage, says", BAD_OUTPUTS)
def test_a_sampler_returning_no_distribution_is_named_and_nothing_is_drawn(lm, user_sampler, stage, says):
    user_sampler("bad_s", stage, off=0.0)
    with pytest.raises(guards.DistributionError, match=f"^step 0 of sample 0 .*: the sampler 'bad_s' {says}"):
        lm.generate("Hi", length=2, seed=1, bad_s=0.5)
    # a later step, in a batch: the error names that step and that sample
    start = len(lm.start_tokens("Hi"))

    def later(logits, v, context=None):  # bad from the third step on
        return logits if len(context) < start + 2 else stage(logits, v)

    registry.register_sampler("bad_s", later, off=0.0, replace=True)
    with pytest.raises(guards.DistributionError, match=f"^step 2 of sample 3 .*: the sampler 'bad_s' {says}"):
        lm.generate("Hi", length=4, seed=1, nsamples=2, batch_size=2, first_sample=3, bad_s=0.5)
    # a session keeps the steps it made before, and draws nothing from the bad one
    registry.register_sampler("bad_s", stage, off=0.0, replace=True)
    session = lm.session("Hi", seed=1)
    made = session.step(2)
    session.set(bad_s=0.5)
    with pytest.raises(guards.DistributionError, match=f"^step 2 of the session: the sampler 'bad_s' {says}"):
        session.step()
    assert session.steps == made
    # a step recorded under harmless settings: asking for the sampler there is the same error, no bars
    step = lm.generate("Hi", length=1, seed=1)[0].steps[0]
    for ask in (lambda: step.distribution(bad_s=0.5), lambda: step.resample(bad_s=0.5),
                lambda: step.top(5, bad_s=0.5)):
        with pytest.raises(guards.DistributionError, match=f"the sampler 'bad_s' {says}"):
            ask()


def test_a_session_draws_nothing_from_a_bad_step(lm, user_sampler):
    user_sampler("nan_s", lambda l, v: l * float("nan"), off=0.0)
    session = lm.session("Hi", seed=1, nan_s=0.5)
    with pytest.raises(guards.DistributionError, match="^step 0 of the session: the sampler 'nan_s' returned "
                                                       "logits that hold NaN"):
        session.step(3)
    assert session.steps == [] and session.tokens == lm.start_tokens("Hi")


# ---- 2. a user's sampler is checked where it is applied -------------------------------------
WRONG_OUTPUTS = [
    (lambda l, v: l[:100], ValueError, r"returned shape \(100,\) for one row of logits of shape \(50257,\)"),
    (lambda l, v: l[None], ValueError, r"returned shape \(1, 50257\)"),
    (lambda l, v: l.long(), TypeError, "returned int64 values: return floating-point logits"),
    (lambda l, v: l.tolist(), TypeError, "returned list, not a tensor"),
    (lambda l, v: None, TypeError, "returned NoneType, not a tensor"),
]


@pytest.mark.parametrize("stage, kind, says", WRONG_OUTPUTS)
def test_a_sampler_with_the_wrong_output_is_named_in_one_line_with_its_step(lm, user_sampler, stage, kind, says):
    user_sampler("odd_s", stage, off=0.0)
    with pytest.raises(kind, match=rf"^step 0 of sample 0 \(prompt 'Hi'\): the sampler 'odd_s' {says}") as err:
        lm.generate("Hi", length=2, seed=1, odd_s=0.5)
    assert "\n" not in str(err.value)
    # a later step of a later sample in a batch, a session's step, a scored position: each says which
    start = len(lm.start_tokens("Hi"))

    def later(logits, v, context=None):  # wrong from the third step on
        return logits if len(context) < start + 2 else stage(logits, v)

    registry.register_sampler("odd_s", later, off=0.0, replace=True)
    with pytest.raises(kind, match=f"^step 2 of sample 3 .*: the sampler 'odd_s' {says}"):
        lm.generate("Hi", length=4, seed=1, nsamples=2, batch_size=2, first_sample=3, odd_s=0.5)
    session = lm.session("Hi", seed=1, odd_s=0.5)
    made = session.step(2)
    with pytest.raises(kind, match=f"^step 2 of the session: the sampler 'odd_s' {says}"):
        session.step()
    assert session.steps == made
    with pytest.raises(kind, match=f"^scoring position {start + 2}: the sampler 'odd_s' {says}"):
        lm.score("Hi there, how are you", odd_s=0.5)
    # a caller's own logits: the sampler named, and the row of a batch
    registry.register_sampler("odd_s", stage, off=0.0, replace=True)
    with pytest.raises(kind, match=f"^row 0: the sampler 'odd_s' {says}"):
        gx.probabilities(torch.zeros(2, 50257), odd_s=0.5)


def test_a_sampler_returning_float16_is_taken_in_the_draws_precision(lm, user_sampler):
    user_sampler("half_s", lambda l, v: (l / 2).half(), off=0.0)
    run = lm.generate("Hi", length=3, seed=1, half_s=0.5)
    step = run[0].steps[0]
    assert step.distribution().dtype == torch.float64
    assert all(s.resample() == s.token for s in run[0].steps)


def test_a_non_deterministic_sampler_is_named_on_replay(lm, user_sampler, tmp_path):
    user_sampler("noisy", lambda l, v: l + torch.randn_like(l) * v, off=0.0)
    torch.manual_seed(0)
    run = lm.generate("Hi", length=4, seed=1, noisy=3.0)
    verdict = run.verify(lm)
    assert not verdict.ok and "the sampler 'noisy' is not deterministic" in verdict.problem
    folder = run.save(tmp_path / "b")
    with pytest.raises(BundleError, match="the sampler 'noisy' is not deterministic"):
        gx.load_run(folder)


# ---- 3. the registry keeps its names and its built-ins -------------------------------------
@pytest.mark.parametrize("name", ["class", "None", "lambda", "match", "True"])
def test_keywords_are_refused_as_sampler_names(name):
    with pytest.raises(ValueError, match=f"keyword {name!r}"):
        gx.register_sampler(name, lambda l, v: l)
    assert name not in registry.names()


def test_every_argument_name_of_generate_score_and_sessions_is_refused(lm):
    from gpt2explore.model import generation, scoring, session

    names = set()
    for fn in (generation.generate, scoring.score, session.Session.__init__, gx.Settings.__init__):
        names |= {p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    names -= set(registry.names())  # the samplers' own names (temperature, ...) are samplers
    assert {"seed", "length", "prompt", "nsamples", "keep_logits", "layers", "batch_size", "attention",
            "progress"} <= names
    for name in sorted(names):
        with pytest.raises(ValueError, match=f"cannot be {name!r}: generate .* already takes an argument"):
            gx.register_sampler(name, lambda l, v: l)
        assert name not in registry.names()


def test_the_builtins_can_be_neither_replaced_nor_removed(lm):
    before = registry.names()
    for name in before:
        with pytest.raises(ValueError, match="built-in sampler and cannot be replaced"):
            gx.register_sampler(name, lambda l, v: l, replace=True)
        with pytest.raises(ValueError, match="built in and stays"):
            registry.unregister_sampler(name)
    assert registry.names() == before and all(s.builtin for s in registry.samplers())
    assert lm.generate("Hi", length=2, seed=1, temperature=0.7)[0].tokens  # generate still works


def test_a_bundle_under_a_differing_sampler_says_so(lm, user_sampler, tmp_path):
    user_sampler("shift", lambda l, a: l.masked_fill(l < l.max() - 1 / a, float("-inf")), off=0.0)
    run = lm.generate("Hi", length=4, seed=1, shift=0.5)
    folder = run.save(tmp_path / "b")
    registry.register_sampler("shift", lambda l, a: l.masked_fill(l > l.min() + 1 / a, float("-inf")), off=0.0,
                              replace=True)
    with pytest.raises(BundleError, match="the sampler 'shift' registered now is another function than the one "
                                          "the bundle was made with") as err:
        gx.load_run(folder)
    assert "modified" not in str(err.value)
    registry.register_sampler("shift", lambda l, a: l.masked_fill(l < l.max() - 1 / a, float("-inf")), off=0.0,
                              replace=True)
    assert gx.load_run(folder)[0].tokens == run[0].tokens  # the same sampler again: it loads


def test_a_bundle_under_a_sampler_with_another_off_says_so(lm, user_sampler, tmp_path):
    user_sampler("cut", lambda l, a: l.masked_fill(l < l.max() - 1 / max(a, 1e-3), float("-inf")), off=0.0)
    folder = lm.generate("Hi", length=4, seed=1, cut=0.5).save(tmp_path / "b")
    registry.register_sampler("cut", lambda l, a: l.masked_fill(l < l.max() - 1 / max(a, 1e-3), float("-inf")),
                              off=0.5, replace=True)
    with pytest.raises(BundleError, match="the sampler 'cut' registered now has off=0.5, the one the bundle was "
                                          "made with off=0.0"):
        gx.load_run(folder)


def test_guards_cost_one_reduction_per_stage_and_keep_the_tokens(lm):
    """The same seeds give the same tokens, and a valid row passes the check unchanged."""
    run = lm.generate(["Hi", "Hello there"], nsamples=2, length=6, seed=4, temperature=0.8, top_k=40)
    again = lm.generate(["Hi", "Hello there"], nsamples=2, length=6, seed=4, temperature=0.8, top_k=40,
                        batch_size=3)
    assert [s.tokens for s in run] == [s.tokens for s in again]
    assert all(s.resample() == s.token for x in run for s in x.steps)
    assert not any(keyword.iskeyword(n) for n in registry.names())


# ---- 5. attribution of a step past the first scoring window --------------------------------
def _third_window_attribution(lm):
    from gpt2explore.model.scoring import window_start

    run = lm.score("the cat sat on the mat and " * 30)
    stride = run.meta["stride"]
    assert len(run[0].steps) > 3 * run.meta["window"]  # a text of several windows
    step = next(s for s in run[0].steps if window_start(s) == 2 * stride)  # the first scored in the third
    df = step.attribution()
    assert df.attrs["window"] == (2 * stride, step.position)
    assert df.attrs["sum"] == pytest.approx(df.attrs["logit_diff"], abs=1e-3)
    assert df.attrs["recomputed_logit_diff"] == pytest.approx(df.attrs["logit_diff"], abs=1e-3)
    last = run[0].steps[-1].attribution()  # the last step, in the last window
    assert last.attrs["sum"] == pytest.approx(last.attrs["logit_diff"], abs=1e-3)


def test_attribution_past_the_first_window_attributes_its_own_window_gpt2(lm):
    _third_window_attribution(lm)


def test_attribution_past_the_first_window_attributes_its_own_window_llama(tmp_path):
    from helpers import make_random_causal

    _third_window_attribution(gx.load(str(make_random_causal(tmp_path / "llama", "llama")), device="cpu"))


# ---- 7. memory said before it is spent -----------------------------------------------------
def test_the_estimate_of_kept_logits_is_what_a_run_keeps(lm):
    from gpt2explore.model import memory

    for keep in ("float32", "float16"):
        run = lm.generate(["Hi", "Hello"], nsamples=2, length=5, seed=1, keep_logits=keep)
        scored = lm.score(["Hi there you", "the cat sat on the mat"], keep_logits=keep)
        for r in (run, scored):
            steps = [s for x in r for s in x.steps]
            measured = sum(s.logits.numel() * s.logits.element_size() for s in steps)
            assert memory.kept_bytes(len(steps), lm.vocab_size, keep) == measured
    assert memory.kept_bytes(60_000, 50_257, "float32") > 12e9  # the text: about 12 GB


def test_a_text_too_long_for_free_memory_is_refused_before_any_forward(lm, monkeypatch):
    """A text whose float32 logits would take more than half of the memory free now (measured
    on this machine, not allocated): one line naming the remedies, and no forward pass."""
    from gpt2explore.model import memory

    free = memory.available_bytes(lm.device)
    assert free and free > 0
    per_token = memory.kept_bytes(1, lm.vocab_size, "float32")
    n = int(memory.KEPT_SHARE * free / per_token) + 1000  # just past the share
    words = "the cat sat on the mat and "  # 7 tokens
    text = words * (n // 7 + 1)
    monkeypatch.setattr(type(lm.model), "forward", lambda *a, **k: pytest.fail("the model ran"))
    with pytest.raises(ValueError, match=r'^scoring [\d,]+ tokens keeps float32 logits of [\d,]+ steps: [\d.]+ GB, '
                                         r'against [\d.]+ GB free on cpu; pass keep_logits="float16"') as err:
        lm.score(text)
    assert "\n" not in str(err.value) and "'none'" not in str(err.value) and '"none"' in str(err.value)
    with pytest.raises(ValueError, match="keep_logits=\"float16\""):
        lm.generate("Hi", nsamples=n // 30 + 1, length=30, seed=1)


def test_a_call_above_a_quarter_of_free_memory_warns(lm, monkeypatch):
    from gpt2explore.model import memory

    need = memory.kept_bytes(2, lm.vocab_size, "float32")
    monkeypatch.setattr(memory, "available_bytes", lambda device: int(need / 0.3))  # need = 30% of free
    with pytest.warns(ResourceWarning, match="generating 1 sample"):
        run = lm.generate("Hi", length=2, seed=1)
    assert len(run[0].steps) == 2
    monkeypatch.setattr(memory, "available_bytes", lambda device: int(need / 0.6))  # 60%: refused
    with pytest.raises(ValueError, match="keeps float32 logits of 2 steps"):
        lm.generate("Hi", length=2, seed=1)
    assert lm.generate("Hi", length=2, seed=1, keep_logits="none")[0].tokens == run[0].tokens
