"""Today's samplers: each stage equals transformers' own processor/warper, in transformers'
order; defaults change nothing; the newer settings reach every place settings go."""
import json
import subprocess
import sys

import pytest
import torch

import gpt2explore as gx
from gpt2explore import sampling, stages

NEW = dict(repetition_penalty=1.3, no_repeat_ngram_size=2, min_p=0.05, typical_p=0.9, epsilon_cutoff=3e-3,
           eta_cutoff=2e-3)


def reference(logits, input_ids, temperature=1.0, top_k=0, top_p=1.0, repetition_penalty=1.0,
              no_repeat_ngram_size=0, min_p=0.0, typical_p=1.0, epsilon_cutoff=0.0, eta_cutoff=0.0):
    """transformers' classes, in the order its generate builds them."""
    from transformers.generation import logits_process as lp

    procs = lp.LogitsProcessorList()
    if repetition_penalty != 1.0:
        procs.append(lp.RepetitionPenaltyLogitsProcessor(repetition_penalty))
    if no_repeat_ngram_size:
        procs.append(lp.NoRepeatNGramLogitsProcessor(no_repeat_ngram_size))
    if temperature != 1.0:
        procs.append(lp.TemperatureLogitsWarper(temperature))
    if top_k:
        procs.append(lp.TopKLogitsWarper(top_k))
    if top_p < 1.0:
        procs.append(lp.TopPLogitsWarper(top_p))
    if min_p:
        procs.append(lp.MinPLogitsWarper(min_p))
    if typical_p < 1.0:
        procs.append(lp.TypicalLogitsWarper(typical_p))
    if epsilon_cutoff:
        procs.append(lp.EpsilonLogitsWarper(epsilon_cutoff))
    if eta_cutoff:
        procs.append(lp.EtaLogitsWarper(eta_cutoff, device=logits.device))
    return procs(input_ids, logits.double()).softmax(-1)  # in double precision, as our draws


@pytest.fixture(scope="module")
def case():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 300, generator=gen) * 3
    # contexts with repeats, so the penalty and the n-gram ban have something to do
    ids = torch.randint(0, 40, (4, 24), generator=gen)
    ids[:, 10:14] = ids[:, 2:6]
    ids[:, -1] = ids[:, 4]  # the last token repeats one that had a successor: an n-gram to ban
    return logits, ids


@pytest.mark.parametrize("name", list(NEW))
def test_each_new_setting_alone_equals_transformers(case, name):
    logits, ids = case
    kw = {name: NEW[name]}
    ours = sampling.probabilities(logits, context=ids.tolist(), **kw)
    assert torch.allclose(ours, reference(logits, ids, **kw), atol=1e-12)
    assert not torch.equal(ours, logits.double().softmax(-1))  # the setting does something here
    one = sampling.probabilities(logits[1], context=ids[1].tolist(), **kw)  # one row alone: the same bits
    assert torch.equal(one, ours[1])


@pytest.mark.parametrize("classic", [dict(), dict(temperature=0.7), dict(temperature=1.4, top_k=50, top_p=0.9)])
def test_all_at_once_equals_transformers(case, classic):
    logits, ids = case
    kw = dict(NEW, **classic)
    ours = sampling.probabilities(logits, context=ids.tolist(), **kw)
    assert torch.allclose(ours, reference(logits, ids, **kw), atol=1e-12)
    assert torch.equal(logits, case[0])  # the input was not modified


def test_openai_rules_know_only_three_settings():
    for name, value in NEW.items():
        with pytest.raises(ValueError, match="only temperature, top_k and top_p"):
            gx.Settings(semantics="openai", **{name: value})


@pytest.mark.parametrize("kw, words", [
    (dict(min_p=1.5), "min_p"), (dict(min_p=-0.1), "min_p"), (dict(typical_p=0), "typical_p"),
    (dict(typical_p=1.2), "typical_p"), (dict(epsilon_cutoff=-1e-3), "epsilon_cutoff"),
    (dict(eta_cutoff=-0.1), "eta_cutoff"), (dict(repetition_penalty=0), "repetition_penalty"),
    (dict(repetition_penalty=-1.0), "repetition_penalty"), (dict(no_repeat_ngram_size=-1), "no_repeat_ngram_size"),
    (dict(no_repeat_ngram_size=1.5), "no_repeat_ngram_size"), (dict(min_p="0.1"), "min_p"),
    (dict(typical_p=float("nan")), "typical_p"), (dict(eta_cutoff=float("inf")), "eta_cutoff"),
])
def test_bad_values_name_themselves(kw, words):
    with pytest.raises(ValueError, match=words):
        gx.Settings(**kw)


def test_stage_list_reads_the_settings_in_transformers_order():
    from gpt2explore.core import registry

    s = gx.Settings(temperature=0.7, top_k=40, top_p=0.9, **NEW)
    hf_order = ["repetition_penalty", "no_repeat_ngram_size", "temperature", "top_k", "top_p", "min_p", "typical_p",
                "epsilon_cutoff", "eta_cutoff"]
    assert [st.name for st in registry.active_stages(s)] == hf_order
    assert registry.active_stages(gx.Settings()) == []
    custom = registry.active_stages(gx.Settings(temperature=0.7, min_p=0.1), stage_order=["min_p", "temperature"])
    assert [st.name for st in custom] == ["min_p", "temperature"]
    with pytest.raises(ValueError, match="stage_order"):
        registry.active_stages(s, stage_order=["nope"])


def test_generation_and_sessions_apply_the_penalty_to_each_samples_own_tokens(lm):
    run = lm.generate(["Hello there", "Hi! My name is"], nsamples=2, batch_size=3, length=8, seed=2,
                      repetition_penalty=1.5, no_repeat_ngram_size=2, min_p=0.01)
    alone = lm.generate(["Hello there", "Hi! My name is"], nsamples=2, batch_size=1, length=8, seed=2,
                        repetition_penalty=1.5, no_repeat_ngram_size=2, min_p=0.01)
    assert [s.tokens for s in run] == [s.tokens for s in alone]  # batch size does not matter
    for sample in run:
        for step in sample.steps:
            assert step.resample() == step.token  # replayed from the stored logits and context
            assert step.settings.repetition_penalty == 1.5
            probs = step.distribution()
            ctx = step.context_tokens
            direct = sampling.probabilities(step.logits, context=ctx, repetition_penalty=1.5,
                                            no_repeat_ngram_size=2, min_p=0.01)
            assert torch.equal(probs, direct)
        ids = sample.context_tokens
        grams = [tuple(ids[i:i + 2]) for i in range(len(ids) - 1)]
        assert len(grams) == len(set(grams))  # no bigram repeats
    session = lm.session("Hello there", seed=2, sample_index=0, repetition_penalty=1.5, no_repeat_ngram_size=2,
                         min_p=0.01)
    session.step(8)
    assert session.sample.tokens == run[0].tokens
    session.set(min_p=0.2)
    assert session.settings.min_p == 0.2 and session.settings.repetition_penalty == 1.5


def test_defaults_keep_todays_tokens(lm):
    a = lm.generate("Hello", length=10, seed=3, top_k=20)
    b = lm.generate("Hello", length=10, seed=3, top_k=20, repetition_penalty=1.0, min_p=0.0, typical_p=1.0)
    assert a[0].tokens == b[0].tokens


def test_unknown_settings_are_refused(lm):
    with pytest.raises(ValueError, match="unknown setting 'min_q'"):
        lm.generate("Hi", length=2, min_q=0.1)


def test_bundles_carry_the_new_settings_and_old_bundles_load(tmp_path, lm):
    run = lm.generate("Hello there", length=5, seed=1, min_p=0.05, repetition_penalty=1.2)
    loaded = gx.load_run(run.save(tmp_path / "new"))
    assert loaded.settings == run.settings and loaded[0].steps[2].settings.min_p == 0.05
    # a bundle written before these settings existed: four keys per settings record
    plain = lm.generate("Hello there", length=5, seed=1)
    folder = plain.save(tmp_path / "old")
    manifest = json.loads((folder / "manifest.json").read_text())
    old = ("temperature", "top_k", "top_p", "semantics")
    manifest["settings"] = {k: manifest["settings"][k] for k in old}
    for sample in manifest["samples"]:
        sample["settings"] = [{k: s[k] for k in old} for s in sample["settings"]]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    back = gx.load_run(folder)
    assert back.texts == plain.texts and back.settings == gx.Settings()


def test_run_to_frame_and_provenance_carry_them(lm):
    run = lm.generate("Hello", length=3, seed=1, typical_p=0.8)
    fig = gx.next_token_bars(run[0].steps[0])
    facts = fig.layout.meta["gpt2explore"]
    assert facts["settings"]["typical_p"] == 0.8
    assert "typical=0.8" in fig.layout.title.text
    frame = run.to_frame(top=3)
    assert list(frame.prob) == pytest.approx(
        [float(run[0].steps[r.step].distribution()[r.token_id]) for r in frame.itertuples()])


def test_cli_flags(rnd_dir):
    base = [sys.executable, "-m", "gpt2explore", "sample", f"--model_name={rnd_dir}", "--nsamples=1",
            "--length=6", "--seed=4"]
    out = subprocess.run(base + ["--min_p=0.05", "--repetition_penalty=1.3", "--no_repeat_ngram_size=2",
                                 "--typical_p=0.95", "--epsilon_cutoff=1e-4", "--eta_cutoff=1e-4"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lm = gx.load(str(rnd_dir))
    run = lm.generate(None, length=6, seed=4, min_p=0.05, repetition_penalty=1.3, no_repeat_ngram_size=2,
                      typical_p=0.95, epsilon_cutoff=1e-4, eta_cutoff=1e-4, keep_logits="none")
    assert run[0].text in out.stdout
    for flag in ["--min_p=2", "--typical_p=0", "--repetition_penalty=0", "--no_repeat_ngram_size=-1",
                 "--eta_cutoff=nan"]:
        bad = subprocess.run(base + [flag], capture_output=True, text=True, timeout=120)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1, (flag, bad.stderr)
        assert flag.split("=")[0].lstrip("-") in bad.stderr
    openai = subprocess.run(base + ["--semantics=openai", "--min_p=0.1"], capture_output=True, text=True, timeout=120)
    assert openai.returncode == 2 and "only temperature" in openai.stderr


def _rows(gen, shape, scale, kind):
    logits = torch.randn(*shape, generator=gen) * scale
    if kind == "ties":
        logits = (logits * 2).round() / 2
    elif kind == "zeros":
        logits[:, torch.randperm(shape[1], generator=gen)[: shape[1] // 3]] = float("-inf")
    elif kind == "flat":
        logits = torch.zeros(*shape)
    return logits.softmax(-1)


def test_pick_equals_the_full_sort_on_10000_rows():
    gen = torch.Generator().manual_seed(1)
    rows = mismatches = beyond = iteration = 0
    while rows < 10_000:
        # GPT-2's whole vocabulary one round in five; the rounds between use 8,192 tokens, where
        # the same fast path and threshold search run at a fraction of the cost
        vocab = 50257 if iteration % 5 == 0 else 8192
        iteration += 1
        cases = [((20, vocab), 0.3), ((20, vocab), 3.0), ((20, 5000), 0.1), ((20, 300), 1.0), ((20, 70), 2.0)]
        for (shape, scale), kind in zip(cases, ["plain", "ties", "zeros", "flat", "plain"]):
            probs = _rows(gen, shape, scale, kind)
            u = torch.rand(shape[0], generator=gen, dtype=torch.float64)
            got, want = sampling.pick(probs, u), sampling.pick_reference(probs, u)
            mismatches += int((got != want).sum())
            rows += shape[0]
            # how many draws lay beyond the 64 likeliest tokens (the threshold search's rows)
            ranked = probs.sort(-1, descending=True).values.double().cumsum(-1)
            beyond += int((ranked[:, min(63, shape[1] - 1)] <= u).sum())
    assert mismatches == 0 and rows >= 10_000
    assert beyond > 2000  # the threshold search was exercised, not only the fast path


def test_pick_never_sorts_the_whole_vocabulary(monkeypatch):
    sizes = []
    real = torch.sort

    def spy(x, *args, **kwargs):
        sizes.append(x.shape[-1])
        return real(x, *args, **kwargs)

    gen = torch.Generator().manual_seed(2)
    probs = _rows(gen, (32, 50257), 0.3, "plain")
    u = torch.rand(32, generator=gen, dtype=torch.float64) * 0.98 + 0.01
    want = sampling.pick_reference(probs, u)
    monkeypatch.setattr(torch, "sort", spy)
    got = sampling.pick(probs, u)
    assert torch.equal(got, want)
    assert sizes and max(sizes) < 50257 // 4


def test_pick_edges_go_to_the_reference():
    # a draw at the very end of the mass, and exact ties on a boundary, still match
    probs = torch.full((2, 1000), 1e-3)
    u = torch.tensor([0.999999999999, 0.5], dtype=torch.float64)
    assert torch.equal(sampling.pick(probs, u), sampling.pick_reference(probs, u))


# ---- the stage-by-stage view and the widgets ---------------------------------------------
def test_sampling_stages_table_and_its_last_stage(lm):
    step = lm.generate("Hello there", length=6, seed=3)[0].steps[4]
    settings = dict(temperature=0.8, top_k=40, top_p=0.9, min_p=0.02, repetition_penalty=1.2)
    table = gx.sampling_stages(step, n=8, **settings)
    assert list(dict.fromkeys(table.stage)) == ["raw", "repetition_penalty", "temperature", "top_k", "top_p", "min_p"]
    last = table[table.stage == "min_p"]
    expected = step.distribution(**settings)
    assert list(last.prob) == pytest.approx([float(expected[t]) for t in last.token_id], abs=1e-7)
    assert int(last.survivors.iloc[0]) == int((expected > 0).sum())
    topk = table[table.stage == "top_k"]
    assert int(topk.survivors.iloc[0]) == 40
    # a token removed at a stage is marked there and only there
    for tid in table.token_id.unique():
        rows = table[table.token_id == tid]
        assert rows.removed_here.sum() <= 1


def test_pipeline_figure_has_a_panel_per_stage_with_the_same_tokens(lm):
    step = lm.generate("Hello there", length=6, seed=3)[0].steps[4]
    fig = gx.pipeline_figure(step, n=6, temperature=0.7, top_k=3, min_p=0.01)
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 4  # raw, temperature, top-k, min-p
    ticks = [fig.layout[f"xaxis{i if i > 1 else ''}"].ticktext for i in range(1, 5)]
    assert all(list(t) == list(ticks[0]) for t in ticks)
    crosses = [t for t in fig.data if t.type == "scatter"]
    assert crosses  # top-k=3 of 6 shown tokens: removed ones are marked
    final = step.distribution(temperature=0.7, top_k=3, min_p=0.01)
    ids = [int(i) for i in gx.sampling_stages(step, n=6, temperature=0.7, top_k=3, min_p=0.01).token_id.unique()]
    assert list(bars[-1].y) == pytest.approx([float(final[i]) for i in ids], abs=1e-7)
    # it fits a notebook's output area (848 px in a 1280-px window): the settings on their own line
    assert fig.layout.width <= gx.style.FIGURE_MAX_PX
    assert fig.layout.title.text.split("<br>")[0] == f"Stage by stage at step {step.index}"
    assert all(len(a.text) <= 40 for a in fig.layout.annotations)  # panel titles fit their column
    # the first row's slanted labels end above the second row's panel titles
    from gpt2explore.figures.style import bottom_margin

    plot_h = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    gap_px = (fig.layout.yaxis.domain[0] - fig.layout.yaxis4.domain[1]) * plot_h
    assert gap_px >= bottom_margin(list(ticks[0]), angle=50) * 11 / 14 + 30


def test_stage_order_is_another_pipeline_on_the_same_logits(lm):
    step = lm.generate("Hello there", length=3, seed=3)[0].steps[1]
    hot = dict(temperature=2.0, min_p=0.3)
    a = step.distribution(**hot)
    b = step.distribution(**hot, stage_order=["min_p", "temperature"])
    assert int((b > 0).sum()) <= int((a > 0).sum())
    manual = sampling.apply_temperature(stages.min_p(step.logits.double(), 0.3), 2.0).softmax(-1)
    assert torch.equal(b, manual)


def test_widget_controls_for_the_newer_samplers(lm):
    run = lm.generate("Hello there", length=4, seed=2)
    ex = gx.explore(run, n=12)
    for name, value in [("min_p", 0.05), ("typical_p", 0.7), ("repetition_penalty", 1.4),
                        ("no_repeat_ngram_size", 2), ("epsilon_cutoff", 1e-3), ("eta_cutoff", 1e-3)]:
        ex.controls[name].value = value
        from helpers import shown_ids

        ids = shown_ids(ex.step, 12, **ex.settings)
        assert list(ex.fig.data[1].y) == pytest.approx(ex.step.distribution(**ex.settings)[ids].tolist(), abs=1e-7)
    assert "cut by" in ex.readout.value and "min-p" in ex.readout.value
    st = gx.stepper(lm, "Hello there", seed=1)
    st.controls["min_p"].value = 0.2
    assert st.session.settings.min_p == 0.2 and st.session.settings.temperature == 1.0
    st.controls["semantics"].value = "openai"  # refused while min-p is set: a message, the settings unchanged
    assert "only temperature" in st.status.value and st.session.settings.semantics == "hf"
