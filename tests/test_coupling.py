"""The Gumbel coupling: exact draws of the shown distribution, regenerated noise, batch
invariance, sessions, figures, bundles, pages and the command line."""
import os
import shutil
import subprocess
import sys

import pytest
import torch

import gpt2explore as gx
from gpt2explore.core import coupling
from gpt2explore.files.manifest import BundleError

CHI2_DF7_P001 = 24.322  # the chi-square value a 7-degree-of-freedom statistic exceeds with probability 0.001


def chi_square(counts: torch.Tensor, probs: torch.Tensor) -> float:
    expected = probs * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


def test_gumbel_noise_is_regenerated_from_its_key_and_standard():
    g = coupling.gumbels(3, 1, 2, 50257)
    assert g.dtype == torch.float64 and g.shape == (50257,)
    assert torch.equal(g, coupling.gumbels(3, 1, 2, 50257))  # the same key, the same bits
    assert torch.equal(coupling.gumbels(3, 1, 2, 100), g[:100])  # a shorter vocabulary is a prefix
    for other in (coupling.gumbels(4, 1, 2, 50257), coupling.gumbels(3, 2, 2, 50257), coupling.gumbels(3, 1, 3, 50257)):
        assert not torch.equal(other, g)
    assert abs(float(g.mean()) - 0.5772) < 0.03  # Euler–Mascheroni: the standard Gumbel's mean
    assert abs(float(g.var()) - torch.pi ** 2 / 6) < 0.06


def test_gumbel_pick_follows_the_distribution_chi_square():
    probs = torch.tensor([0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02, 0.0, 0.0], dtype=torch.float64)
    counts = torch.zeros(10, dtype=torch.float64)
    for i in range(4000):
        counts[int(coupling.gumbel_pick(probs, coupling.gumbels(11, i, 0, 10)))] += 1
    assert counts[8:].sum() == 0  # a token of probability 0 is never drawn
    assert chi_square(counts[:8], probs[:8]) < CHI2_DF7_P001


def test_generated_gumbel_draws_follow_the_shown_distribution(lm):
    run = lm.generate("Hi! My name is", nsamples=1200, length=1, seed=5, top_k=8, coupling="gumbel",
                      keep_logits="none", progress=False)
    ref = lm.generate("Hi! My name is", nsamples=1, length=1, seed=5, top_k=8)[0][0]
    probs = ref.distribution()
    ids = torch.topk(probs, 8).indices
    counts = torch.tensor([sum(s.tokens[0] == int(i) for s in run) for i in ids], dtype=torch.float64)
    assert counts.sum() == 1200  # every draw is one of the 8 the settings keep
    assert chi_square(counts, probs[ids]) < CHI2_DF7_P001


def test_gumbel_token_is_the_argmax_of_log_p_plus_its_noise(lm):
    run = lm.generate("Hi! My name is John", nsamples=2, length=6, seed=9, coupling="gumbel")
    assert run.meta["coupling"] == "gumbel"
    for sample in run:
        for step in sample:
            assert step.u is None and step.coupling == "gumbel"
            g = coupling.gumbels(9, sample.index, step.index, 50257)
            assert step.token == int((step.distribution().log() + g).argmax())
            assert step.resample() == step.token
            for settings in (dict(temperature=0.5), dict(top_k=3), dict(top_p=0.5), dict(temperature=0)):
                want = int((step.distribution(**settings).log() + g).argmax())
                assert step.resample(**settings) == want


def test_default_coupling_keeps_the_uniform_draws(lm):
    a = lm.generate("Hi! My name is John", nsamples=2, length=6, seed=9)
    b = lm.generate("Hi! My name is John", nsamples=2, length=6, seed=9, coupling="cdf")
    assert a.texts == b.texts and a.meta["coupling"] == "cdf"
    for sample in a:
        u = gx.uniforms(9, sample.index, 6)
        assert [s.u for s in sample] == u.tolist()
        assert all(s.noise is None for s in sample)


@pytest.mark.parametrize("strategy", ["rows", "padded"])
def test_gumbel_batch_invariance(lm, strategy):
    old = lm.batching
    lm.batching = strategy
    try:
        args = dict(nsamples=5, length=8, seed=2, coupling="gumbel", temperature=1.3)
        together = lm.generate(["Hi! My name is John", "Hello"], batch_size=5, **args)
        alone = lm.generate(["Hi! My name is John", "Hello"], batch_size=1, **args)
        assert [s.tokens for s in together] == [s.tokens for s in alone]
        late = lm.generate("Hello", nsamples=2, length=8, seed=2, coupling="gumbel", temperature=1.3, first_sample=3)
        assert [s.tokens for s in late] == [s.tokens for s in together.samples[8:10]]
    finally:
        lm.batching = old


def test_session_draws_the_gumbel_run_and_steps_back(lm):
    run = lm.generate("Hi! My name is John", nsamples=1, length=6, seed=4, coupling="gumbel", first_sample=2)
    session = lm.session("Hi! My name is John", seed=4, sample_index=2, coupling="gumbel")
    assert session.next_step.token == run[0].tokens[0]  # the preview draws with the same noise
    session.step(6)
    assert session.sample.tokens == run[0].tokens
    session.back(3)
    session.step(3)
    assert session.sample.tokens == run[0].tokens
    assert session.run.meta["coupling"] == "gumbel"


def test_bad_coupling_is_one_line(lm):
    for call in (lambda: lm.generate("Hi", length=2, coupling="uniform"),
                 lambda: lm.session("Hi", coupling="argmax")):
        with pytest.raises(ValueError, match="coupling must be one of 'cdf', 'gumbel'"):
            call()


def test_figures_follow_the_gumbel_draw(lm):
    from gpt2explore.views.bars import bars_data
    from gpt2explore.views.draws import draw_data

    step = lm.generate("Hi! My name is John", nsamples=1, length=3, seed=8, coupling="gumbel")[0][1]
    for settings in ({}, dict(temperature=0.4), dict(top_k=2)):
        data = bars_data(step, step.settings_for(**settings))
        assert data["marked"] == step.resample(**settings) and data["coupling"] == "gumbel"
        d = draw_data(step, step.settings_for(**settings))
        assert d["token"] == step.resample(**settings) == d["ids"][0]  # the highest perturbed score
        assert d["scores"] == sorted(d["scores"], reverse=True)
        for lp, g, s in zip(d["logp"], d["g"], d["scores"]):
            assert s == pytest.approx(lp + g, abs=1e-12)
    fig = gx.draw_figure(step, temperature=0.4)
    assert "Gumbel noise" in fig.layout.title.text
    facts = fig.layout.meta["gpt2explore"]
    assert facts["figure"] == "draw_figure" and facts["coupling"] == "gumbel" and facts["u"] is None
    # every colour and mark drawn is named in the legend: the scores (black, the drawn one orange), the noise
    legend = {(t.mode, t.marker.symbol if t.mode == "markers" else None,
               t.marker.color if t.mode == "markers" else t.line.color) for t in fig.data if t.showlegend is not False}
    scores = next(t for t in fig.data if t.name == "log p + g (score)" and t.x[0] is not None)
    for color in set(scores.marker.color):
        assert ("markers", "diamond", color) in legend, (color, legend)
    segments = {t.line.color for t in fig.data if t.mode == "lines" and t.showlegend is False}
    assert {("lines", None, c) for c in segments} - legend <= {("lines", None, "#d9541e")}  # the drawn one is orange
    bars = gx.next_token_bars(step, temperature=0.4)
    assert "its Gumbel noise draws" in bars.layout.title.text


def test_gumbel_bundle_saves_loads_replays_verifies(lm, tmp_path):
    run = lm.generate("Hi! My name is John", nsamples=2, length=5, seed=6, coupling="gumbel", top_p=0.9)
    run.save(tmp_path / "b")
    back = gx.load_run(tmp_path / "b")
    assert back.texts == run.texts and back.meta["coupling"] == "gumbel"
    for a, b in zip(run, back):
        for s, t in zip(a, b):
            assert t.noise == s.noise and t.resample(temperature=0.5) == s.resample(temperature=0.5)
    assert back.verify(lm).ok
    with pytest.raises(ValueError, match="logits='full'"):
        run.save(tmp_path / "top", logits="top")
    # a bundle whose noise was edited no longer draws its tokens
    import json

    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    manifest["samples"][0]["noise"][2]["seed"] = 7
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="Gumbel noise draws token"):
        gx.load_run(tmp_path / "b")


def test_page_of_a_gumbel_run_refuses_in_one_line(lm):
    run = lm.generate("Hi! My name is John", nsamples=1, length=3, seed=6, coupling="gumbel")
    with pytest.raises(gx.PageError, match="Gumbel noise") as err:
        gx.page(run)
    assert "\n" not in str(err.value)


def test_compare_widget_takes_the_coupling(lm):
    widget = gx.compare(lm, ["Hi! My name is Isamu", "Hi! My name is John"], nsamples=1, length=4, seed=3,
                        coupling="gumbel")
    want = lm.generate(["Hi! My name is Isamu", "Hi! My name is John"], length=4, seed=3, coupling="gumbel")
    assert widget.run.texts == want.texts
    widget.more(1)
    assert all(s.steps[0].coupling == "gumbel" for s in widget.run)


def test_cli_coupling_flag(rnd_dir, lm):
    exe = shutil.which("gpt2explore", path=os.path.dirname(sys.executable)) or "gpt2explore"
    out = subprocess.run([exe, "sample", f"--model_name={rnd_dir}", "--nsamples=2", "--length=6", "--seed=1",
                          "--coupling", "gumbel"], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    for text in lm.generate(None, nsamples=2, length=6, seed=1, coupling="gumbel").texts:
        assert "\n" + text + "\n" in out.stdout
    bad = subprocess.run([exe, "sample", f"--model_name={rnd_dir}", "--coupling", "dice"], capture_output=True,
                         text=True, timeout=180)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--coupling" in bad.stderr


def _gumbels_as_first_defined(seed, sample_index, step, vocab):
    """The noise's definition: a new Philox(key, counter) a call, then -log(-log(u))."""
    import numpy as np

    bits = np.random.Philox(key=[coupling._key(seed, sample_index), coupling._KEY_WORD], counter=[0, 0, int(step), 0])
    raw = bits.random_raw(vocab)
    u = ((raw >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53
    return torch.from_numpy(-np.log(-np.log(u)))


def test_gumbel_noise_keeps_its_bits():
    import hashlib

    pinned = {(0, 0, 0): "bac3f6b03e609a52", (0, 5, 29): "7986db6b65a7e82b", (3, 1, 2): "9fd0312f094f2c90",
              (123456789, 199, 7): "fc3adcb0814a63cf"}  # sha256 of the float64 bytes, from the first definition
    for key, digest in pinned.items():
        assert hashlib.sha256(coupling.gumbels(*key, 50257).numpy().tobytes()).hexdigest()[:16] == digest
    for seed in (0, 1, 2 ** 40 + 7):
        for sample in (0, 3, 5, 38):  # keys on both sides of 2**63
            for step in (0, 1, 29):
                assert torch.equal(coupling.gumbels(seed, sample, step, 50257),
                                   _gumbels_as_first_defined(seed, sample, step, 50257))
    assert torch.equal(coupling.gumbels(0, 5, 3, 17), _gumbels_as_first_defined(0, 5, 3, 17))


def test_a_runs_repr_says_how_its_tokens_were_drawn(lm):
    """A run drawn with Gumbel noise says so in its repr (text and notebook); the default, one
    uniform a step, adds nothing; one sample is "1 sample"."""
    gumbel = lm.generate(["Hi! My name is Isamu"], length=2, seed=1, coupling="gumbel")
    plain = lm.generate(["Hi! My name is Isamu"], length=2, seed=1)
    assert "coupling='gumbel'" in repr(gumbel) and "coupling='gumbel'" in gumbel._repr_html_()
    assert "coupling" not in repr(plain) and "coupling" not in plain._repr_html_()
    assert repr(plain).startswith("Run(1 sample of 2 tokens")
