"""Scoring any text: the same Step model as generation, checked against plain forward passes."""
import html
import math
import subprocess
import sys

import pytest
import torch

import gpt2explore as gx
from gpt2explore import scoring

TEXT = "The quick brown fox jumps over the lazy dog. It was not a commonplace river, but a remarkable one."


def plain_logprobs(lm, ids):
    with torch.inference_mode():
        return lm.model(torch.tensor([ids])).logits[0].float().log_softmax(-1)  # (T, V)


def test_scores_equal_a_plain_forward_pass(lm):
    run = lm.score(TEXT)
    sample = run[0]
    ids = [lm.eos_token_id] + lm.encode(TEXT)
    full = plain_logprobs(lm, ids)
    assert sample.tokens == ids[1:] and len(sample) == len(ids) - 1
    for step in sample.steps:
        assert step.forced and step.u is None
        want = float(full[step.position - 1, step.token])
        assert math.log(step.raw_prob) == pytest.approx(want, abs=1e-4)
        assert step.surprisal == pytest.approx(-want, abs=1e-4)
        # rank by brute force: how many logits beat it (ties to the lower id)
        logits = step.logits
        value = logits[step.token]
        brute = sum(1 for i, v in enumerate(logits.tolist()) if v > value or (v == value and i < step.token))
        assert step.rank0 == brute
        assert step.prob == pytest.approx(step.raw_prob, rel=1e-5)  # default settings: the model's own


def test_a_prompt_is_context_not_scored(lm):
    run = lm.score(" jumps over the lazy dog", prompt="The quick brown fox")
    ids = lm.encode("The quick brown fox") + lm.encode(" jumps over the lazy dog")
    full = plain_logprobs(lm, ids)
    sample = run[0]
    assert sample.prompt_tokens == lm.encode("The quick brown fox")
    assert sample.tokens == lm.encode(" jumps over the lazy dog")
    for step in sample.steps:
        assert math.log(step.raw_prob) == pytest.approx(float(full[step.position - 1, step.token]), abs=1e-4)


def test_batched_equals_one_by_one(lm):
    texts = [TEXT, "Hi! My name is Isamu.", "A much shorter one"]
    together = lm.score(texts, batch_size=3)
    for i, t in enumerate(texts):
        alone = lm.score(t, batch_size=1)[0]
        assert together[i].tokens == alone.tokens
        for a, b in zip(together[i].steps, alone.steps):
            assert a.rank0 == b.rank0 and a.raw_prob == pytest.approx(b.raw_prob, rel=1e-4, abs=1e-9)


def test_sliding_window_scores_every_token_once_with_enough_context(lm):
    long = " ".join(["the river runs to the sea and back"] * 30)  # far more than 64 tokens
    ids = lm.encode(long)
    run = lm.score(long, batch_size=4)
    sample = run[0]
    assert sample.tokens == ids and [s.position for s in sample.steps] == list(range(1, len(ids) + 1))
    assert run.meta["stride"] == lm.n_ctx // 2 and run.meta["window"] == lm.n_ctx
    plan = scoring.windows(1, len(ids), lm.n_ctx, 0, [lm.eos_token_id] + ids)
    scored = [j for w in plan for j in range(w.first, w.offset + len(w.tokens))]
    assert scored == list(range(1, len(ids) + 1))  # each exactly once
    for w in plan[1:]:
        assert w.first - w.offset >= lm.n_ctx // 2  # at least half a window of context
    assert all(len(w.inputs) <= lm.n_ctx and w.inputs == w.tokens[:-1] for w in plan)
    # the last token is predicted, never fed: a text of n_ctx tokens after <|endoftext|> is one pass
    assert len(scoring.windows(1, lm.n_ctx, lm.n_ctx, 0, list(range(lm.n_ctx + 1)))) == 1
    assert len(scoring.windows(1, lm.n_ctx + 1, lm.n_ctx, 0, list(range(lm.n_ctx + 2)))) == 2
    # a text that fits: sliding window == a single pass
    short = lm.score(TEXT)[0]
    full = plain_logprobs(lm, [lm.eos_token_id] + lm.encode(TEXT))
    assert all(abs(math.log(s.raw_prob) - float(full[s.position - 1, s.token])) < 1e-4 for s in short.steps)
    # and each window's scores equal that window's own plain pass
    w = plan[2]
    window_lp = plain_logprobs(lm, w.inputs)
    for step in sample.steps[w.first - 1: w.first + 3]:
        assert math.log(step.raw_prob) == pytest.approx(float(window_lp[step.position - w.offset - 1, step.token]),
                                                        abs=1e-4)


def test_a_generated_sample_scored_again(lm):
    gen = lm.generate("Hi! My name is", length=12, seed=3, top_k=20)
    again = lm.score(gen[0].text, prompt="Hi! My name is", top_k=20)
    if again[0].tokens != gen[0].tokens:  # BPE may re-split a generated text; compare where they agree
        pytest.skip("the generated text re-encodes to other tokens")
    for g, s in zip(gen[0].steps, again[0].steps):
        assert torch.allclose(g.logits, s.logits, atol=1e-4)
        assert s.prob > 0  # its own settings allowed every token


def test_settings_mark_impossible_tokens_and_summary(lm):
    run = lm.score(TEXT, top_k=5)
    table = run.summary()
    row = table.iloc[0]
    impossible = sum(1 for s in run[0].steps if s.rank0 >= 5)
    assert row.impossible == impossible and impossible > 0
    assert row.logprob == -math.inf and math.isfinite(row.logprob_raw)
    assert row.perplexity == pytest.approx(math.exp(-row.logprob_raw / row.tokens))
    shares = [row[f"share {label}"] for _, label in scoring.RANK_BUCKETS]
    assert sum(shares) == pytest.approx(1.0)
    assert row["share rank 1-10"] == pytest.approx(sum(1 for s in run[0].steps if s.rank0 < 10) / row.tokens)
    relaxed = run.summary(top_k=0).iloc[0]
    assert relaxed.impossible == 0 and relaxed.logprob == pytest.approx(row.logprob_raw, rel=1e-5)


def test_keep_logits_none_keeps_ranks_and_probabilities(lm):
    run = lm.score(TEXT, keep_logits="none")
    full = lm.score(TEXT)
    for a, b in zip(run[0].steps, full[0].steps):
        assert a.logits is None and a.rank0 == b.rank0 and a.raw_prob == pytest.approx(b.raw_prob)
    assert run.summary().iloc[0].perplexity == pytest.approx(full.summary().iloc[0].perplexity)


@pytest.mark.parametrize("bad, words", [("", "empty"), (None, "string"), (3, "string"),
                                        ([], "string"), (["ok", 5], "string"), ("a\ud800b", "lone surrogate")])
def test_bad_text_is_a_clear_error(lm, bad, words):
    with pytest.raises(ValueError, match=words):
        lm.score(bad)


def test_empty_prompt_is_a_clear_error(lm):
    with pytest.raises(ValueError, match="prompt"):
        lm.score("text", prompt="")


def test_views_work_on_scored_text(lm, tmp_path):
    run = lm.score(TEXT)
    step = run[0].steps[3]
    fig = gx.next_token_bars(step)
    assert "the text's token" in [t.name for t in fig.data]
    assert len(run.to_frame(top=3)) >= 3 * len(run[0])
    loaded = gx.load_run(run.save(tmp_path / "scored"))
    assert loaded[0].tokens == run[0].tokens


def test_text_view_colours(lm):
    run = lm.score(TEXT)
    sample = run[0]
    fig = gx.text_view(sample)
    fills = [s.fillcolor for s in fig.layout.shapes]
    from gpt2explore.figures.textview import GLTR

    assert fills == [GLTR[scoring.rank_bucket(s.rank0)] for s in sample.steps]
    assert [t.name.split(" (")[0] for t in fig.data if t.showlegend] == ["rank 1-10", "rank 11-100",
                                                                          "rank 101-1000", "rank > 1000"]
    allowed = gx.text_view(sample, color="allowed", top_k=10)
    from gpt2explore.figures.textview import IMPOSSIBLE

    bad = [s.fillcolor == IMPOSSIBLE for s in allowed.layout.shapes]
    assert bad == [s.rank0 >= 10 for s in sample.steps]
    hover = fig.data[0].hovertext[0]
    assert "rank" in hover and "likeliest" in hover
    gen = lm.generate("Hello", length=5, seed=1)
    assert len(gx.text_view(gen[0], color="surprisal").layout.shapes) == 5  # generated samples too
    with pytest.raises(ValueError, match="color"):
        gx.text_view(sample, color="blue")


def test_rank_histogram(lm):
    a, b = lm.score(TEXT), lm.generate(None, length=30, seed=1, top_k=10)
    fig = gx.rank_histogram([a, b], ["text", "top-k 10"])
    assert len(fig.data) == 2 and sum(fig.data[0].y) == pytest.approx(1.0)
    assert fig.data[1].y[0] == pytest.approx(1.0)  # top-k 10 sampled only top-10 tokens


def test_inspect_recolours_without_the_model(lm, monkeypatch):
    ins = gx.inspect(lm, TEXT)
    forward = lm.model.forward

    def no_model(*a, **k):
        raise AssertionError("the model was called")

    monkeypatch.setattr(lm.model, "forward", no_model)
    ins.controls["top_k"].value = 10
    from gpt2explore.figures.textview import IMPOSSIBLE

    bad = sum(1 for s in ins.figure().layout.shapes if s.fillcolor == IMPOSSIBLE)
    assert bad == sum(1 for s in ins.sample.steps if s.rank0 >= 10)
    assert f"<b>{bad} token" in ins.totals.value
    ins.view.state = dict(ins.view.state, step=4)  # a click on the fifth token in the component
    assert ins.position.value == 4
    step = ins.sample.steps[4]
    from helpers import shown_ids

    ids = shown_ids(step, ins.n, top_k=10)
    assert list(ins.fig.data[1].y) == pytest.approx(step.distribution(top_k=10)[ids].tolist(), abs=1e-7)
    first, rest = ins.fig.layout.title.text.split("<br>", 1)
    assert first == f"Position 4: the text has {html.escape(repr(step.text))}"
    assert "kept" in rest and "entropy" in rest and "Position" not in rest  # the bars' own second line, once
    monkeypatch.setattr(lm.model, "forward", forward)


def test_cli_score(rnd_dir, tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(TEXT)
    base = [sys.executable, "-m", "gpt2explore", "score", f"--model_name={rnd_dir}"]
    out = subprocess.run(base + [str(path), "--top_k=5"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lm = gx.load(str(rnd_dir))
    run = lm.score(TEXT, top_k=5)
    lines = out.stdout.splitlines()
    assert len(lines) == 1 + len(run[0]) + 1
    assert sum("forbid" in line for line in lines) == sum(1 for s in run[0].steps if s.prob == 0)
    csv = subprocess.run(base + ["-", "--format=csv"], input=TEXT, capture_output=True, text=True, timeout=120)
    rows = csv.stdout.splitlines()
    assert rows[0].startswith("position,token_id") and len(rows) == 1 + len(run[0])
    assert int(rows[1].split(",")[3]) == run[0].steps[0].rank1 == run[0].steps[0].rank0 + 1  # ranks shown to people start at 1
    for bad_input, args in [(None, [str(tmp_path / "missing.txt")]), ("", ["-"]), (b"\xff\xfe\x00data", ["-"])]:
        result = subprocess.run(base + args, input=bad_input, capture_output=True, timeout=120)
        assert result.returncode == 2 and result.stderr.count(b"\n") == 1, result.stderr


def test_lm_head_chunks_do_not_change_the_scores(lm, monkeypatch):
    long = " ".join(["the river runs to the sea and back"] * 12)
    whole = lm.score(long, batch_size=2)[0]
    monkeypatch.setattr(scoring, "CHUNK", 5)  # many chunks per window, one of them short
    parts = lm.score(long, batch_size=2)[0]
    assert [s.position for s in parts.steps] == [s.position for s in whole.steps]
    for a, b in zip(whole.steps, parts.steps):
        assert a.token == b.token and a.rank0 == b.rank0
        assert a.raw_prob == pytest.approx(b.raw_prob, rel=1e-5)
        assert torch.allclose(a.logits, b.logits, atol=1e-5)
