"""The bundled offline model and the script that trains it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gpt2explore as gx
from gpt2explore import loading
from gpt2explore.training import corpus, train

TINY = loading.tiny_dir()
LOSS_BOUND = 5.0  # nats/token on held-out text (the model card states the measured value)


@pytest.fixture(scope="module")
def tiny():
    return gx.load("tiny", device="cpu")


def test_tiny_loads_offline_and_generates(tmp_path):
    code = ("import time, gpt2explore as gx\nt = time.perf_counter()\nlm = gx.load()\n"
            "print(round(time.perf_counter() - t, 2))\n"
            "print(lm.generate('Hi! My name is', length=8, seed=1).texts[0])\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(tmp_path / "empty"),
               no_proxy="*", http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    seconds, text = out.stdout.split("\n", 1)
    assert text.strip()
    print(f"gx.load() took {seconds} s after imports")


def test_folder_is_a_real_gpt2_folder(tiny):
    names = {p.name for p in TINY.iterdir()}
    assert {"config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer_config.json",
            "README.md", "heldout_slice.json", "training.json"} <= names
    config = json.loads((TINY / "config.json").read_text())
    assert config["model_type"] == "gpt2" and config["architectures"] == ["GPT2LMHeadModel"]
    assert config["n_positions"] >= 256 and tiny.n_ctx == config["n_positions"]
    assert tiny.vocab_size == 50257 and tiny.eos_token_id == 50256
    assert tiny.encode("Hi! My name is Isamu") == [17250, 0, 2011, 1438, 318, 1148, 321, 84]
    assert type(tiny.model).__name__ == "GPT2LMHeadModel" and tiny.dtype == torch.float32
    size = sum(p.stat().st_size for p in TINY.rglob("*") if p.is_file())
    assert size <= 25 * 2**20, f"data/models/tiny is {size / 2**20:.1f} MiB"


def test_heldout_loss_below_bound_and_as_stated(tiny):
    ids = json.loads((TINY / "heldout_slice.json").read_text())
    facts = json.loads((TINY / "training.json").read_text())
    loss = train.heldout_loss(tiny.model, torch.tensor(ids), tiny.n_ctx)
    assert loss <= LOSS_BOUND
    assert abs(loss - facts["slice_loss"]) < 0.01
    assert facts["heldout_loss"] <= LOSS_BOUND and facts["heldout_loss"] <= facts["unigram_loss"] - 2.0
    card = (TINY / "README.md").read_text()
    assert f"{facts['heldout_loss']:.3f}" in card and f"{facts['unigram_loss']:.3f}" in card


def test_next_tokens_after_hi_my_name_is_are_mostly_words(tiny):
    top = tiny.generate("Hi! My name is", length=1, seed=0)[0].steps[0].top(10)
    words = [t for t in top if t.text.strip().isalpha()]
    assert len(words) >= 6, [t.text for t in top]


def test_temperature_visibly_matters(tiny):
    step = tiny.generate("Hi! My name is", length=1, seed=0)[0].steps[0]
    from gpt2explore import sampling

    cold, warm = step.distribution(temperature=0.5), step.distribution(temperature=1.5)
    assert float(cold.max()) > float(step.distribution().max()) > float(warm.max())
    assert float(sampling.entropy(cold)) + 1.0 < float(sampling.entropy(warm))


def test_training_smoke_is_reproducible(tmp_path, tiny):
    ids = json.loads((TINY / "heldout_slice.json").read_text())
    text = tiny.decode(ids[:3000])
    (tmp_path / "corpus.txt").write_text(text, encoding="utf-8")
    logs = []
    for run in ("a", "b"):
        out = subprocess.run([sys.executable, "-m", "gpt2explore.training", "--smoke", "--subset_vocab",
                              "--corpus_text", str(tmp_path / "corpus.txt"), "--out", str(tmp_path / run)],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        logs.append((tmp_path / run / "train_log.csv").read_text().split("\n")[1:-1])
        assert (tmp_path / run / "README.md").exists()
        gx.load(str(tmp_path / run)).generate("Hi", length=3, seed=1)
    a = [float(line.split(",")[1]) for line in logs[0]]
    b = [float(line.split(",")[1]) for line in logs[1]]
    assert len(a) == 4 and a == pytest.approx(b, abs=1e-4)


def test_corpus_cleaners():
    kjv = "\nGenesis 1\n\n  1 In the beginning God created the heaven\nand the earth.\n  2 And the earth was.\n\nExodus 2\n\n  1 And there went.\n"
    assert corpus.clean_kjv(kjv) == ["Genesis 1\n\nIn the beginning God created the heaven and the earth. "
                                     "And the earth was.", "Exodus 2\n\nAnd there went."]
    fortunes = "A bore is a man who talks.\n\t\t-- Anon\n%\n%\n#$%^&*()!@#$%^&*()\n%\nShort one but long enough.\n"
    assert corpus.clean_fortunes(fortunes) == ["A bore is a man who talks.\n-- Anon", "Short one but long enough."]
    jargon = ("   :foo: n.\n\n   A {metasyntactic} variable, used in examples of code everywhere.\n\n"
              "   ┌───┐\n   :bar: n.\n\n   The second one, as in foo and bar, used after foo.\n")
    assert corpus.clean_jargon(jargon) == [
        ":foo: n.\n\nA metasyntactic variable, used in examples of code everywhere.",
        ":bar: n.\n\nThe second one, as in foo and bar, used after foo."]
    train_docs, held = train.split_documents({"a": [f"doc {i}" for i in range(80)]}, seed=0)
    assert len(held) == 2 and len(train_docs) == 78 and not set(held) & set(train_docs)


def _flips_only_at_precision(tiny, kwargs: dict, index: int, recorded: list[int], today: list[int],
                             slack: float) -> bool:
    """Whether two token lists of one sample part only where precision decides: they agree up to
    a step whose uniform lies within `slack` of the cumulative probability's boundary between
    the recorded token and today's (not within 1e-9: a real boundary, not an exact tie)."""
    from gpt2explore import sampling
    from gpt2explore.files.replay import within

    first = next((t for t, (a, b) in enumerate(zip(recorded, today)) if a != b), None)
    if first is None:
        return recorded == today
    kw = dict(kwargs)
    prompt, seed = kw.pop("prompt"), kw.pop("seed")
    kw.pop("length"), kw.pop("nsamples")
    session = tiny.session(prompt, seed=seed, sample_index=index, **kw)
    for token in recorded[:first]:
        session.force(token)
    step = session.next_step
    assert step.token == today[first]
    step.token = recorded[first]
    probs = sampling.probabilities(step.logits, **step.settings.as_dict())
    return within(step, probs, slack) and not within(step, probs, 1e-9)


def _samples_parted_at_precision(tiny, cases: list[dict]) -> int:
    """Generate every recorded case again; each sample that parts from its record must part only
    where precision decides (`_flips_only_at_precision`). Returns how many parted."""
    parted = 0
    for case in cases:
        run = tiny.generate(**case["kwargs"])
        for index, (sample, tokens) in enumerate(zip(run, case["tokens"])):
            if sample.tokens != tokens:
                parted += 1
                assert _flips_only_at_precision(tiny, case["kwargs"], index, tokens, sample.tokens, 1e-5), \
                    (case["kwargs"], index)
    return parted


def test_same_seed_same_tokens_as_recorded(tiny):
    """Existing behaviour is a promise: tokens recorded before later changes come back. The
    model's forward pass rounds in single precision, differently on other CPUs (their matrix
    kernels add in another order): a sample may part from the record only at a step whose
    draw lies within that rounding (1e-5 of the cumulative sum) of a boundary, and at most
    two of the ten samples do."""
    import json

    recorded = json.loads((Path(__file__).parent / "data" / "reference_tokens.json").read_text())
    assert tiny.weights_sha256 == recorded["weights_sha256"]
    assert _samples_parted_at_precision(tiny, recorded["cases"]) <= 2


def test_tokens_recorded_before_double_precision_part_only_at_precision_flips(tiny):
    """Draws moved from single to double precision. The tokens recorded before agree with
    today's up to a step whose uniform lies within single precision's error (1e-5 of the
    cumulative sum, which single precision misses by ~5e-6 in the far tail) of a boundary
    between the old token and the new one: a flip of precision, not of the rule. (That record
    did not even reproduce on every machine: single-precision sums differ between CPUs.)"""
    import json

    old = json.loads((Path(__file__).parent / "data" / "reference_tokens_float32.json").read_text())
    changed = _samples_parted_at_precision(tiny, old["cases"])
    assert 1 <= changed <= 3  # of 10 samples: those drawn at T >= 1 with no truncation


def test_same_settings_same_probabilities_as_recorded(tiny):
    """Existing behaviour is a promise for the numbers too: the distributions a step gives under
    several settings (the classic three, the newer samplers, OpenAI's rules, greedy), and the
    bars and the temperature sweep that show them, as recorded. Within single precision's
    rounding of the forward pass, which differs between CPUs."""
    import json

    recorded = json.loads((Path(__file__).parent / "data" / "reference_probs.json").read_text())
    assert tiny.weights_sha256 == recorded["weights_sha256"]
    run = tiny.generate(**recorded["generate"])
    for at in recorded["steps"]:
        step = run[0].steps[at["index"]]
        assert [t.id for t in step.top(8)] == at["ids"]
        for case in at["cases"]:
            kw = case["settings"]
            assert step.distribution(**kw)[at["ids"]].tolist() == pytest.approx(case["probs"], rel=1e-4, abs=1e-7), kw
            bars = gx.next_token_bars(step, n=8, **kw)
            assert [int(c[0]) for c in bars.data[1].customdata] == case["bars_ids"], kw
            assert list(bars.data[1].y) == pytest.approx(case["bars_probs"], rel=1e-4, abs=1e-7), kw
            sweep = gx.temperature_sweep(step, temperatures=[0.5, 1.0, 2.0], n=4,
                                         **{k: v for k, v in kw.items() if k != "temperature"})
            assert list(sweep.data[4].y) == pytest.approx(case["sweep_entropy"], rel=1e-4, abs=1e-7), kw
