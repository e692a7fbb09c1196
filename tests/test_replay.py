"""Replay in every mode (#21): bundles always load again, every step re-draws its token, no
sample depends on its batch. One test (or more) per numbered item of the issue."""
import gc
import json
import shutil
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

import gpt2explore as gx
from gpt2explore import sampling
from gpt2explore.files.bundle import BundleError

LEGACY = Path(__file__).parent / "data" / "bundles"
LEGACY_BUNDLES = sorted(p for p in LEGACY.glob("v*/*") if p.is_dir())


@pytest.fixture(scope="module")
def tiny():
    return gx.load()


@pytest.fixture(scope="module")
def small():
    """The 300-token model the bundles of earlier versions were written with."""
    return gx.load(str(LEGACY / "model"), device="cpu")


def replays(run) -> bool:
    return all(s.resample() == s.token for x in run for s in x.steps if not s.forced)


def tensors(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "logits.safetensors"))


# ---- 1. a re-saved top-N bundle stays a top-N bundle --------------------------------------
def test_1_a_loaded_top_n_bundle_saves_again_as_it_was(tmp_path, lm):
    run = lm.generate(["Hello there", "Hi! My name is"], nsamples=2, length=10, seed=3, temperature=1.3)
    first = run.save(tmp_path / "b", logits="top", top=8)
    stored = tensors(first)
    loaded = gx.load_run(first)
    loaded.save(first)  # over itself: the only copy
    again = gx.load_run(first)
    copy = gx.load_run(loaded.save(tmp_path / "copy"))
    for name, value in stored.items():  # nothing estimated was written as measured
        assert torch.equal(tensors(first)[name], value), name
        assert torch.equal(tensors(tmp_path / "copy")[name], value), name
    for r in (again, copy):
        assert r.meta["logits_mode"] == "top" and replays(r)
        assert [s.tokens for s in r] == [s.tokens for s in run]
        step, orig = r[0].steps[4], run[0].steps[4]
        assert step.truncation.width == loaded[0].steps[4].truncation.width
        assert not step.exact_for() and not step.exact_for(temperature=0.5)  # T=1.3 cuts nothing
        ids = step.truncation.ids
        assert torch.equal(step.distribution()[ids], orig.distribution()[ids])
        assert step.distribution().sum() == pytest.approx(1.0, abs=1e-9)  # the tail's mass, spread
    cut = gx.load_run(lm.generate("Hello", length=5, seed=1, top_k=5).save(tmp_path / "k", logits="top", top=8))
    assert all(s.exact_for() for s in cut[0].steps)  # own settings that keep only stored tokens: exact
    with pytest.raises(ValueError, match="only the top .* logits .* save it with logits='top'"):
        loaded.save(tmp_path / "full", logits="full")
    with pytest.raises(ValueError, match="leave top unset"):
        loaded.save(tmp_path / "wider", top=1000)
    assert not (tmp_path / "full").exists() and not (tmp_path / "wider").exists()


# ---- 2. bundles of earlier versions ----------------------------------------------------
@pytest.mark.parametrize("folder", LEGACY_BUNDLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_2_bundles_of_earlier_versions_load_verify_and_save_again(tmp_path, small, folder):
    run = gx.load_run(folder)
    assert run.meta["bundle_format"] == "gpt2explore-run/1"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [s.tokens for s in run] == [s["tokens"] for s in manifest["samples"]]
    for sample in run:
        for step in sample.steps:
            if not step.forced and step.replays:
                assert step.resample() == step.token
    report = run.verify(small)
    assert report.ok, report
    again = gx.load_run(run.save(tmp_path / "now"))
    assert again.meta["bundle_format"] == "gpt2explore-run/2"
    assert [s.tokens for s in again] == [s.tokens for s in run]
    assert [[s.replays for s in x] for x in again] == [[s.replays for s in x] for x in run]
    assert again.keep_logits == run.keep_logits
    assert gx.load_run(again.save(tmp_path / "twice")).texts == run.texts


def test_2_the_first_releases_float16_and_top_n_bundles_are_checked_within_their_precision(small):
    f16 = gx.load_run(LEGACY / "v0-exports" / "float16")
    assert f16.keep_logits == "float16" and f16.meta["rounded_after_draw"]  # it did not say so; its values do
    top = gx.load_run(LEGACY / "v0-exports" / "top")
    steps = [s for x in top for s in x.steps]
    assert any(not s.replays for s in steps)  # drawn from the whole vocabulary; 8 logits were kept
    assert all(s.truncation.own_probs is None for s in steps)
    later = gx.load_run(LEGACY / "v1-scoring" / "top")
    assert all(s.replays for x in later for s in x.steps)  # own probabilities: exact


def test_2_an_edited_bundle_of_an_earlier_version_is_still_caught(tmp_path):
    folder = tmp_path / "b"
    shutil.copytree(LEGACY / "v1-samplers" / "full", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    tokens = manifest["samples"][0]["tokens"]
    probs = gx.load_run(folder)[0].steps[3].distribution()
    tokens[3] = int(torch.argsort(probs)[0])  # the least likely token there
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"samples\[0\] step 3"):
        gx.load_run(folder)


# ---- 3. a session's own save ----------------------------------------------------------
def test_3_a_sessions_fresh_save_loads(tmp_path, lm):
    s = lm.session("The the the the the the", seed=0, temperature=100.0, typical_p=0.2)
    s.force(13)
    s.step(2)
    s.set(top_k=0, min_p=0.0, eta_cutoff=1e-4)
    s.step(3)
    loaded = gx.load_run(s.run.save(tmp_path / "s"))
    assert loaded[0].tokens == s.sample.tokens and replays(loaded)


# ---- 4. batched generation replays ----------------------------------------------------
def test_4_batched_generation_on_a_flat_distribution_replays_every_step(lm):
    run = lm.generate(["Hello there", "Once upon a"], nsamples=2, length=60, seed=0, temperature=100.0,
                      typical_p=0.2, batch_size=4)
    steps = [s for x in run for s in x.steps]
    assert len(steps) == 240 and all(s.resample() == s.token for s in steps)
    assert all(s.prob == float(s.distribution()[s.token]) for s in steps)


def test_4_the_draws_arithmetic_does_not_depend_on_the_rows_beside_it():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(6, 50257, generator=gen) * 0.05  # flat: a last bit decides
    contexts = [list(range(i, i + 9)) for i in range(6)]
    for kw in (dict(typical_p=0.2, temperature=3.0), dict(eta_cutoff=1e-4), dict(min_p=0.01, top_p=0.5),
               dict(repetition_penalty=1.3, no_repeat_ngram_size=2, epsilon_cutoff=1e-5)):
        together = sampling.probabilities(logits, context=contexts, **kw)
        for threads in (1, 2):
            old = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                for b in range(6):
                    alone = sampling.probabilities(logits[b], context=contexts[b], **kw)
                    assert torch.equal(alone, together[b]), (kw, b, threads)
            finally:
                torch.set_num_threads(old)


# ---- 5. a sample never depends on its batch -------------------------------------------
PROMPTS16 = ["Hi! My name is Isamu", "Hi! My name is John", "Once upon a time", "The", "In 1850 the river",
             "It was a dark and stormy night", "Hello", "A long prompt with many words in it for padding",
             "Call me Ishmael.", "The cat sat", "Q: What is", "1, 2, 3,", "Dear Sir,", "She said", "When I", "Why"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """A random GPT-2 small enough to generate thousands of tokens in seconds, with a flat
    next-token distribution over GPT-2's vocabulary (near-ties everywhere)."""
    from helpers import make_random_gpt2

    return gx.load(str(make_random_gpt2(tmp_path_factory.mktemp("quick") / "m", n_positions=128, n_embd=16)),
                   device="cpu")


@pytest.mark.slow
@pytest.mark.parametrize("batching, settings, sizes", [("auto", dict(), (1, 16)),
                                                      ("padded", dict(temperature=1.5), (1, 3, 16))],
                         ids=["default-auto", "T=1.5-padded"])
def test_5_samples_are_the_same_whatever_the_batch(quick, batching, settings, sizes):
    """16 prompts x 2 samples x 100 tokens: at the default settings under the device's own
    strategy (on a CPU each sample runs alone, whatever batch_size says), and at T=1.5 with no
    truncation under the padded strategy, which really batches rows (a GPU's), at batch sizes 1,
    3 and 16. Same tokens, same logits, bit for bit."""
    length = 100
    quick.batching = batching
    try:
        runs = {bs: quick.generate(PROMPTS16, nsamples=2, length=length, seed=11, batch_size=bs, progress=False,
                                   **settings) for bs in sizes}
    finally:
        quick.batching = "auto"
    one = runs[1]
    for bs in sizes[1:]:
        for a, b in zip(one, runs[bs]):
            assert a.tokens == b.tokens, (batching, bs, a.prompt, a.index)
            assert all(torch.equal(sa.logits, sb.logits) for sa, sb in zip(a.steps, b.steps))
    assert all(s.resample() == s.token for x in runs[16] for s in x.steps)


def test_5_sessions_and_generation_are_the_same_bits(lm):
    for batching in ("auto", "padded"):
        lm.batching = batching
        try:
            run = lm.generate(["Hello there", "Hi"], nsamples=2, length=12, seed=5, temperature=1.5, batch_size=4)
            s = lm.session("Hi", seed=5, sample_index=1, temperature=1.5)
            s.step(12)
            assert s.sample.tokens == run[3].tokens
            assert all(torch.equal(a.logits, b.logits) for a, b in zip(s.steps, run[3].steps))
            forked = lm.session("Hi", seed=5, sample_index=1, temperature=1.5).replay(run[3].steps[:5])
            assert torch.equal(forked.next_logits, run[3].steps[5].logits)  # replay feeds as generation did
        finally:
            lm.batching = "auto"


def test_5_the_padded_strategy_restores_the_model(lm):
    from gpt2explore import batching

    lm.batching = "padded"
    try:
        with batching.forward_mode(lm) as name:
            assert name == "padded" and "forward" in vars(lm.model.lm_head)
            assert lm.model.config._attn_implementation == "gx_rowwise"
        assert "forward" not in vars(lm.model.lm_head)
        assert lm.model.config._attn_implementation != "gx_rowwise"
    finally:
        lm.batching = "auto"
    with pytest.raises(ValueError, match="batching must be one of"):
        lm.batching = "fast"


# ---- 6. exact_for says True only where it is exact -------------------------------------
def test_6_exact_for_is_true_only_where_the_top_n_distribution_is_exact(tmp_path, lm):
    run = lm.generate("the the cat the cat sat the", length=12, seed=2, temperature=0.8, top_k=30)
    loaded = gx.load_run(run.save(tmp_path / "b", logits="top", top=16))
    grid = [dict(top_k=5, repetition_penalty=3.0), dict(top_k=5, repetition_penalty=0.3),
            dict(top_k=5, no_repeat_ngram_size=1), dict(top_k=5), dict(top_k=16, temperature=2.0),
            dict(temperature=0), dict(temperature=0, repetition_penalty=0.3), dict(top_k=0),
            dict(top_k=20), dict(top_p=0.5), dict(min_p=0.2), dict(top_k=3, min_p=0.1, typical_p=0.5)]
    seen_true = seen_false = 0
    for full_step, step in zip(run[0].steps, loaded[0].steps):
        for kw in grid:
            if step.exact_for(**kw):
                seen_true += 1
                assert torch.allclose(step.distribution(**kw), full_step.distribution(**kw), atol=1e-12), kw
            else:
                seen_false += 1
    assert seen_true and seen_false
    step = loaded[0].steps[-1]  # late in a repetitive text: the penalties change the order
    assert not step.exact_for(top_k=5, repetition_penalty=0.3) or torch.allclose(
        step.distribution(top_k=5, repetition_penalty=0.3), run[0].steps[-1].distribution(top_k=5, repetition_penalty=0.3))


# ---- 7. the stage-by-stage view of a top-N step ---------------------------------------
def test_7_stage_view_of_a_top_n_step_ends_in_its_own_distribution(tmp_path, tiny):
    run = tiny.generate("Hi! My name is", length=6, seed=4, top_p=0.9)
    step = gx.load_run(run.save(tmp_path / "b", logits="top", top=8))[0].steps[3]
    full = run[0].steps[3]
    assert 8 < int((full.distribution() > 0).sum()) <= 1024  # the run's top-p kept more than 8 tokens
    assert step.exact_for() and torch.equal(step.distribution(), full.distribution())
    table = gx.sampling_stages(step, n=10)
    last = table[table.stage_index == table.stage_index.max()]
    own = step.distribution()
    assert [float(own[i]) for i in last.token_id] == list(last.prob)
    assert int(last.survivors.iloc[0]) == int((own > 0).sum())
    assert not table[table.stage_index < table.stage_index.max()].exact.all()  # estimated, and says so
    assert last.exact.all()


# ---- 8-10. scored texts ------------------------------------------------------------------
def test_8_a_scored_text_saved_top_n_keeps_every_token(tmp_path, lm):
    text = "Hello there my friend, the river ran past the town and the boats went down."
    run = lm.score(text)
    loaded = gx.load_run(run.save(tmp_path / "b", logits="top", top=8))
    for a, b in zip(run[0].steps, loaded[0].steps):
        assert (a.rank0, a.raw_prob, a.prob, a.surprisal) == (b.rank0, b.raw_prob, b.prob, b.surprisal)
        assert float(b.logits[b.token]) == float(a.logits[a.token])
    assert loaded.summary().perplexity[0] == run.summary().perplexity[0]
    assert any(s.rank0 >= 8 for s in run[0].steps)  # tokens outside the top 8 were there to keep


def test_9_verify_replays_the_window_plan_of_a_long_scored_text(lm):
    run = lm.score("Hello there my friend, the river ran past the town. " * 10)
    assert len(run[0]) > lm.n_ctx
    report = run.verify(lm)
    assert report.ok and report.steps == len(run[0]), report


def test_10_float16_scores_come_from_the_kept_values(tmp_path, lm):
    run = lm.score("Hello there my friend, how are you today? The river ran past.", keep_logits="float16")
    from gpt2explore.core.trace import rank_of

    for s in run[0].steps:
        assert s.rank0 == rank_of(s.logits.float(), s.token)
        assert s.prob == float(s.distribution()[s.token])
    loaded = gx.load_run(run.save(tmp_path / "b"))
    assert [s.rank0 for s in loaded[0]] == [s.rank0 for s in run[0]]
    assert [s.prob for s in loaded[0]] == [s.prob for s in run[0]]


# ---- 11-13. sessions ---------------------------------------------------------------------
def test_11_the_explorer_of_a_session_follows_each_steps_own_settings(lm):
    s = lm.session("Hello there", seed=1)
    s.step(2)
    s.set(top_k=1)
    s.step(2)
    ex = gx.explore(s)
    assert ex.settings["top_k"] == 0
    ex.step_slider.value = 3
    assert ex.settings["top_k"] == 1 and ex.step.settings.top_k == 1
    assert "top-k=1" in ex.fig.layout.title.text or "top-k 1" in ex.fig.layout.title.text
    assert s.run.settings.top_k == 1  # the session's run names the settings now in force
    ex.controls["temperature"].value = 0.5  # a reader's own choice stays when the step moves
    ex.step_slider.value = 2
    assert ex.settings["temperature"] == 0.5


def test_12_a_fork_with_another_seed_records_it(tmp_path, lm):
    s = lm.session("Hello", seed=1)
    s.step(2)
    f = s.fork(seed=9)
    f.step(3)
    assert f.run.seed == 9 and s.run.seed == 1
    assert gx.load_run(f.run.save(tmp_path / "f")).seed == 9
    assert f.steps[2].u == float(sampling.uniforms(9, 0, 3)[2])


def test_13_numpy_integers_are_taken_wherever_an_int_is(lm):
    n = np.arange(5)
    run = lm.generate("Hello", nsamples=n[2], length=n[3], seed=n[1], top_k=n[4], batch_size=n[1])
    assert len(run) == 2 and len(run[0]) == 3
    s = lm.session("Hello", seed=n[1], sample_index=n[1])
    s.step(n[2])
    s.force(np.int64(run[0].tokens[0]))
    s.back(n[1])
    lay = lm.generate("Hello", length=2, seed=1, layers=True)[0].steps[0]
    assert lay.layer_logits(np.int64(1)).shape == (lm.vocab_size,)


# ---- 14-15. guards ------------------------------------------------------------------------
@pytest.mark.parametrize("penalty", [1e-40, 1e-45, 1e9])
def test_14_an_absurd_repetition_penalty_is_one_clear_error(lm, penalty):
    with pytest.raises(ValueError, match=r"repetition_penalty must be a number in \[1e-06, 1e\+06\]"):
        lm.generate("Hello", length=3, seed=1, repetition_penalty=penalty)
    out = subprocess.run([sys.executable, "-m", "gpt2explore", "sample", "--nsamples=1", "--length=2",
                          f"--repetition_penalty={penalty}"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "repetition_penalty" in out.stderr and "Traceback" not in out.stderr


def test_14_the_smallest_penalty_allowed_gives_no_nan(lm):
    run = lm.generate("the the the", length=5, seed=1, repetition_penalty=1e-6)
    assert all(s.prob is not None and s.prob == s.prob for s in run[0].steps)
    assert replays(run)


def test_15_going_back_is_interrupt_safe(lm, monkeypatch):
    s = lm.session("Hello there", seed=3)
    s.step(6)
    reference = lm.session("Hello there", seed=3)
    reference.step(3)
    layers = s._cache.layers
    original = type(layers[0]).crop
    calls = []

    def crop(self, n):
        calls.append(n)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, n)

    monkeypatch.setattr(type(layers[0]), "crop", crop)
    with pytest.raises(KeyboardInterrupt):
        s.back(3)
    monkeypatch.setattr(type(layers[0]), "crop", original)
    from gpt2explore.model.session import cache_lengths

    assert cache_lengths(s._cache) == {len(s.tokens)}  # every layer agrees with the steps
    assert len(s.steps) == 3
    s.step(4)
    reference.step(4)
    assert s.sample.tokens == reference.sample.tokens
    assert torch.equal(s.next_logits, reference.next_logits)


# ---- 16-17. widgets -----------------------------------------------------------------------
def test_16_widget_errors_go_to_the_status_line(tiny):
    run = tiny.score("The river ran past the town. " * 60)
    assert len(run[0]) > tiny.n_ctx
    ex = gx.explore(run)
    assert ex.fork_at(0, len(run[0]) - 1, 11) is None
    assert "cannot fork" in ex.status.value
    cmp = gx.compare(tiny, ["Hello", "Hi"], length=3, seed=1)
    cmp.controls["min_p"].value = 0.1
    cmp.controls["semantics"].value = "openai"
    assert "OpenAI" in cmp.status.value and "min_p" in cmp.status.value
    ins = gx.inspect(tiny, "Hello there my friend")
    ins.controls["min_p"].value = 0.1
    ins.controls["semantics"].value = "openai"
    assert "OpenAI" in ins.status.value
    ins.position.value = 2
    ins.controls["semantics"].value = "hf"
    assert ins.status.value == ""


def test_17_closed_widgets_free_their_runs_and_sessions(lm):
    refs = []
    for i in range(5):
        run = lm.generate("Hello", length=3, seed=i)
        ex = gx.explore(run)
        ex.close()
        refs.append(weakref.ref(run))
        st = gx.stepper(lm, "Hi", seed=i)
        st.next()
        refs.append(weakref.ref(st.session))
        st.close()
        del run, ex, st
    for name in ("cmp", "ins"):
        w = gx.compare(lm, ["Hello", "Hi"], length=2, seed=1) if name == "cmp" else gx.inspect(lm, "Hello there")
        refs.append(weakref.ref(w.run))
        w.close()
        del w
    gc.collect()
    assert [r() for r in refs] == [None] * len(refs)


# ---- 18. messages that name the problem -----------------------------------------------------
def test_18_messages_name_the_problem(lm, tmp_path):
    assert lm.generate("Hi", length=2, seed=1, temperature=10**30)[0].steps[0].settings.temperature == 1e30
    from fractions import Fraction

    assert lm.generate("Hi", length=2, seed=1, top_p=Fraction(1, 2))[0].steps[0].settings.top_p == 0.5
    with pytest.raises(ValueError, match="temperature must be a finite number"):
        lm.generate("Hi", length=2, temperature=10**400)
    whitespace = lm.score("\n\n")
    assert len(whitespace[0]) >= 1
    step = lm.generate("Hi", length=2, seed=1)[0].steps[0]
    with pytest.raises(ValueError, match="temperatures must be a non-empty list"):
        gx.temperature_sweep(step, temperatures=[])
    with pytest.raises(ValueError, match="items must be a non-empty list"):
        gx.compare_next_token([])
    layered = gx.load_run(lm.generate("Hi", length=2, seed=1, layers=True).save(tmp_path / "l"))
    with pytest.raises(ValueError, match="attaches it"):
        layered[0].steps[0].layer_logits(1)
    attached = gx.load_run(tmp_path / "l", lm=lm)
    assert attached[0].steps[0].layer_logits(-1).shape == (lm.vocab_size,)


def test_18_score_from_closed_stdin_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-c", "import sys, os; os.close(0); sys.stdin = None; "
                          "from gpt2explore.cli import main; sys.argv = ['gpt2explore', 'score', '-']; "
                          "sys.exit(main())"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "standard input is closed" in out.stderr and "Traceback" not in out.stderr


# ---- the property test -------------------------------------------------------------------
SAMPLERS = {"temperature": [0.0, 0.7, 1.0, 1.5, 30.0], "top_k": [0, 1, 5, 40], "top_p": [1.0, 0.9, 0.3],
            "min_p": [0.0, 0.05], "typical_p": [1.0, 0.5], "epsilon_cutoff": [0.0, 3e-4], "eta_cutoff": [0.0, 1e-3],
            "repetition_penalty": [1.0, 1.3, 0.7], "no_repeat_ngram_size": [0, 2]}


def _random_settings(rng) -> dict:
    kw = {k: rng.choice(v) for k, v in SAMPLERS.items() if rng.random() < 0.5}
    if rng.random() < 0.15:  # OpenAI's rules know only the classic three
        kw = {k: v for k, v in kw.items() if k in ("temperature", "top_k", "top_p")}
        kw["semantics"] = "openai"
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in kw.items()}


@pytest.mark.slow
def test_property_every_mode_saves_loads_verifies_and_replays(tmp_path, lm, tokenizer_loaded_once):
    import random

    rng = random.Random(21)
    tried = 0
    for trial in range(24):
        settings = _random_settings(rng)
        mode = rng.choice(["batched", "session", "float16", "scored", "layers"])
        if mode == "session":
            s = lm.session(rng.choice(["Hello there", "The the the"]), seed=trial, **settings)
            s.step(rng.randint(1, 6))
            if rng.random() < 0.5:
                s.force(rng.randrange(lm.vocab_size))
            s.step(rng.randint(1, 4))
            s.back(rng.randint(1, 2))
            s = s.fork(seed=trial + 100) if rng.random() < 0.5 else s
            s.step(rng.randint(1, 3))
            run = s.run
        elif mode == "scored":
            run = lm.score(rng.choice(["Hello there my friend.", "The cat sat on the mat. " * 5]), **settings)
        else:
            run = lm.generate(["Hello there", "Hi"], nsamples=2, length=rng.randint(3, 12), seed=trial,
                              batch_size=rng.choice([1, 3, 4]), keep_logits="float16" if mode == "float16" else "float32",
                              layers=mode == "layers", **settings)
        assert replays(run), (mode, settings)
        kind = rng.choice([{}, {"logits": "top", "top": rng.choice([1, 8, 64])}])
        first = gx.load_run(run.save(tmp_path / f"t{trial}", **kind))
        assert replays(first) and [x.tokens for x in first] == [x.tokens for x in run], (mode, settings, kind)
        assert first.verify(lm).ok, (mode, settings, kind)
        second = gx.load_run(first.save(tmp_path / f"t{trial}b"))
        assert [x.tokens for x in second] == [x.tokens for x in run]
        for a, b in zip(first, second):  # the same distributions, uniforms and tokens as `first`,
            for sa, sb in zip(a.steps, b.steps):  # which replays: so `second` replays too
                assert torch.equal(sa.distribution(), sb.distribution())
                assert (sa.u, sa.forced, sa.token) == (sb.u, sb.forced, sb.token)
                assert (sa.rank0, sa.raw_prob, sa.prob) == (sb.rank0, sb.raw_prob, sb.prob)
        tried += 1
    assert tried == 24
