"""Figures that never mislead (#22): what a figure marks is true of the settings it shows, the
draw has its own picture, numbers follow one rule, and samples are scored as drawn."""
import math
import random

import pytest
import torch

import gpt2explore as gx
from gpt2explore import formatting as fmt


@pytest.fixture(scope="module")
def run(lm):
    return lm.generate(["Hi! My name is Isamu", "Hello there"], nsamples=2, length=8, seed=3, top_k=40)


def plain(text: str) -> str:
    """A title as a reader reads it: markup and line breaks gone."""
    import re

    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


def marked(fig) -> int | None:
    """The token id under the orange bar of a bars figure."""
    xs = list(fig.data[2].x or [])
    return None if not xs else int(fig.data[2].customdata[0][0])


SETTINGS = [dict(), dict(top_k=10), dict(temperature=0.5), dict(temperature=0), dict(top_p=0.3),
            dict(temperature=1.5, top_k=0), dict(min_p=0.2), dict(semantics="openai", top_p=0.5)]


# ---- 1. "drawn" is true for the settings shown --------------------------------------------
@pytest.mark.parametrize("kw", SETTINGS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "own")
def test_1_the_orange_bar_is_what_u_draws_under_the_settings_shown(run, kw):
    for sample in run:
        for step in sample.steps:
            fig = gx.next_token_bars(step, n=12, **kw)
            here = step.resample(**kw)
            assert marked(fig) == here
            probs = step.distribution(**kw)
            assert float(probs[here]) > 0  # never a token "drawn" with p = 0
            title = plain(fig.layout.title.text)
            if not kw and here == step.token:
                assert f"drawn {gx.style.token_label(step, here)!r}" in title and "u=" not in title
            else:
                assert "draws" in title and "drawn " not in title.split("the run drew")[0]
                if here != step.token:
                    assert "the run drew" in title and list(fig.data[5].text)  # the run's own, marked apart
            assert "(p=0)" not in title


def test_1_a_step_not_drawn_yet_says_next_u_draws(lm):
    s = lm.session("Hi! My name is", seed=2)
    fig = gx.next_token_bars(s.next_step)
    assert "next u=" in plain(fig.layout.title.text) and fig.data[2].name == "next u draws"
    assert marked(fig) == s.next_step.token
    s.step()
    assert s.steps[0].token == marked(fig)  # what the preview said is what was drawn


def test_1_forced_and_scored_tokens_are_never_called_drawn(lm):
    s = lm.session("Hi", seed=1)
    forced = s.force(" John")
    fig = gx.next_token_bars(forced, top_k=1)
    cut = forced.distribution(top_k=1)[forced.token] == 0  # then its bar is empty, and its legend entry says why
    assert fig.data[2].name == "forced token" + (": cut (×)" if cut else "") and "forced" in plain(fig.layout.title.text)
    assert gx.next_token_bars(forced).data[2].name == "forced token"
    scored = lm.score("Hello there my friend")[0].steps[2]
    fig = gx.next_token_bars(scored, top_k=1)
    cut = scored.distribution(top_k=1)[scored.token] == 0
    assert fig.data[2].name == "the text's token" + (": cut (×)" if cut else "")
    assert "the text has" in plain(fig.layout.title.text)
    assert "drawn" not in plain(fig.layout.title.text)


def test_1_every_widget_marks_what_u_draws_under_its_controls(lm, run):
    ex = gx.explore(run, n=10)
    ex.controls["top_k"].value = 1
    assert marked(ex.fig) == int(ex.step.logits.argmax()) == ex.step.resample(**ex.settings)
    # a Gumbel compare's columns mark what the kernel says each step's noise draws (the browser's
    # side: tests/test_live_compare.py)
    cmp = gx.compare(lm, ["Hi! My name is Isamu", "Hi! My name is John"], length=4, seed=1, coupling="gumbel")
    cmp.controls["temperature"].value = 0.0
    sent = []
    cmp.view.send = lambda msg, buffers=None: sent.append(msg)
    for i in range(2):
        place = cmp.run.samples.index(cmp.sample_of(i))
        cmp.view._on_msg(cmp.view, {"type": "drawn", "ask": "d", "key": "d", "sample": place,
                                    "step": cmp.step_slider.value, "settings": cmp.view.state["settings"]}, [])
        assert sent[-1]["drawn"] == cmp.step_of(i).resample(**cmp.settings) == int(cmp.step_of(i).logits.argmax())
    layered = lm.generate("Hello", length=3, seed=1, layers=True)
    lex = gx.explore(layered, n=10)
    lex.layer.value = 1
    view = layered[0].steps[0].at_layer(1)
    assert marked(lex.fig) == view.resample(**lex.settings)
    assert "layer 1" in lex.fig.data[0].name and "layer 1" in lex.readout.value


@pytest.mark.slow
def test_1_the_gallery_says_drawn_only_of_what_was_drawn():
    from gpt2explore import gallery_cases

    figs = gallery_cases.figures(gx.load())
    bars_figs = {k: f for k, f in figs.items() if f.data and f.data[0].name and "p (" in f.data[0].name}
    assert {"next_token_bars", "next_token_bars_other_settings", "explore", "stepper"} <= set(bars_figs)
    for name, fig in bars_figs.items():
        text = plain(fig.layout.title.text)
        assert "(p=0)" not in text, name
        if "drawn " in text:
            assert fig.data[2].name == "drawn token" and "u=" not in text.split("drawn ")[0], name
    assert "draws" in plain(figs["next_token_bars_other_settings"].layout.title.text)
    assert figs["stepper"].data[2].name == "next u draws"
    assert "compare" not in figs  # the same picture as compare_next_token; the widget has its screenshot


# ---- 2. the picture of a draw ------------------------------------------------------------------
def test_2_the_draw_figure_highlights_the_token_resample_gives(run):
    rng = random.Random(2)
    for trial in range(30):
        step = rng.choice([s for x in run for s in x.steps])
        kw = rng.choice(SETTINGS)
        fig = gx.draw_figure(step, **kw)
        d = gx.drawplot.draw_data(step, step.settings_for(**kw))
        assert d["token"] == step.resample(**kw)
        at = d["rank0"].index(d["token_rank0"])
        assert fig.data[0].marker.color[at] == gx.style.CHOSEN_COLOR
        assert sum(c == gx.style.CHOSEN_COLOR for c in fig.data[0].marker.color) == 1
        assert d["before"][at] <= step.u < d["after"][at]  # the staircase passes u at that token
        assert list(fig.data[2].y) == [step.u, step.u]
        if d["rank0"][-1] == d["kept"] - 1:  # the walk shown to its end: the total reaches 1
            assert math.isclose(d["after"][-1], 1.0, rel_tol=1e-9)


def test_2_the_draw_figure_reaches_a_token_deep_in_the_tail(lm):
    step = lm.generate("Hello", length=1, seed=1, temperature=5.0)[0].steps[0]
    d = gx.drawplot.draw_data(step)
    assert d["token_rank0"] > 100 and d["token_rank0"] in d["rank0"] and d["gap_after"] == 19
    assert "skipped" in plain(gx.draw_figure(step).layout.title.text)


def test_2_a_forced_step_has_no_draw_to_show(lm):
    s = lm.session("Hi", seed=1)
    with pytest.raises(ValueError, match="no uniform u"):
        gx.draw_figure(s.force(" John"))


# ---- 3. fits the notebook --------------------------------------------------------------------
def test_3_every_figure_fits_the_output_area_of_a_1280_px_window(lm):
    """JupyterLab's output area beside the open file browser is about 848 px wide in a 1280-px window."""
    layered = lm.generate("Hi! My name is John", length=12, seed=1, layers=True, attention=True)
    step = layered[0].steps[0]
    gumbel = lm.generate(["Hi! My name is Isamu", "Hi! My name is John"], length=6, seed=1, coupling="gumbel")
    cf = gumbel.counterfactual("Hi! My name is Maria")
    figs = [gx.temperature_sweep(step), gx.lens_heatmap(step), gx.lens_grid(layered[0]),
            gx.pipeline_figure(step, min_p=0.1, top_k=20), gx.next_token_bars(step, top_k=50),
            gx.draw_figure(step), gx.draw_figure(gumbel[0].steps[0]), gx.attribution_figure(step),
            gx.attention_view(step), gx.attention_overview(step), gx.generation_overview(layered[0]),
            gx.counterfactual_view(gumbel, cf), gx.coupling_figure(gumbel[0].steps[0], gumbel[1].steps[0])]
    for fig in figs:
        assert (fig.layout.width or 700) <= gx.style.FIGURE_MAX_PX, fig.layout.title.text


def test_3_long_titles_wrap_instead_of_being_cut(lm):
    step = lm.generate("Hello", length=2, seed=1)[0].steps[0]
    fig = gx.next_token_bars(step, min_p=0.05, typical_p=0.9, repetition_penalty=1.3, no_repeat_ngram_size=3,
                             epsilon_cutoff=3e-4, eta_cutoff=1e-3, temperature=0.7, top_k=40, top_p=0.95)
    first = fig.layout.title.text.split("<span")[0]
    assert all(len(line) <= 80 for line in first.split("<br>"))
    assert "eta=0.001" in plain(fig.layout.title.text)


def test_3_the_cut_is_drawn_when_the_settings_keep_fewer_than_60(run):
    step = run[0].steps[2]
    for kw in (dict(top_p=0.9), dict(min_p=0.05), dict(top_k=33)):
        fig = gx.next_token_bars(step, n=20, **kw)
        kept = int((step.distribution(**kw) > 0).sum())
        if kept < 60:
            assert len(fig.data[1].x) >= kept + 1 and list(fig.data[4].x) == [kept - 0.5, kept - 0.5]


# ---- 4. samples scored as drawn ----------------------------------------------------------------
def test_4_a_top_k_sample_scores_with_every_rank_inside_the_top_k(lm):
    run = lm.generate("Hello there", nsamples=2, length=30, seed=4, temperature=0.7, top_k=40)
    scored = lm.score(run)
    assert [s.tokens for s in scored] == [s.tokens for s in run]  # the ids as drawn, not re-tokenized
    assert all(s.rank0 < 40 for x in scored for s in x.steps)
    assert scored.summary()["worst rank"].max() <= 40
    for a, b in zip(run, scored):
        for sa, sb in zip(a.steps, b.steps):
            assert torch.allclose(sa.logits, sb.logits, atol=1e-4)
    with pytest.raises(ValueError, match="prompt= goes with texts"):
        lm.score(run, prompt="x")


def test_4_the_log_ratio_table_names_the_prompts_and_skips_the_tail(lm):
    run = lm.generate(["Hi! My name is Isamu", "Hi! My name is John"], length=2, seed=1)
    table = gx.log_ratio_table(run[0].steps[0], run[1].steps[0], n=10)
    assert "p after 'Hi! My name is Isamu'" in table.columns and "p after 'Hi! My name is John'" in table.columns
    pa, pb = run[0].steps[0].distribution(), run[1].steps[0].distribution()
    top_a = set(torch.topk(pa, 50).indices.tolist()) | set(torch.topk(pb, 50).indices.tolist())
    assert set(table.id) <= top_a


# ---- 5. numbers --------------------------------------------------------------------------------
def test_5_numbers_follow_one_rule():
    assert fmt.value(0.9599999999999999) == "0.96" and fmt.value(100.0) == "100" and fmt.value(1e-6) == "1e-06"
    assert fmt.value(40) == "40" and fmt.value("hf") == "hf"
    with pytest.raises(ValueError, match=r"typical_p must be in \(0, 1\] \(1.0 = off\), got 1.5\b"):
        gx.Settings(typical_p=1.5000000000000002)
    import pandas as pd

    html = gx.table(pd.DataFrame({"temperature": [100.0, 0.5], "text": ["a", "b"]})).to_html()
    assert ">100<" in html and ">0.5<" in html and "100.000" not in html


def test_5_ranks_shown_to_people_start_at_1(lm, run):
    step = run[0].steps[0]
    assert step.top(3)[0].rank == 1
    frame = run.to_frame(top=3)
    assert frame["rank"].min() == 1
    layered = lm.generate("Hi", length=1, seed=1, layers=True)[0].steps[0]
    assert layered.lens(top=2)["rank"].min() == 1
    fig = gx.next_token_bars(step)
    assert fig.data[1].customdata[0][4] == 1  # the hover's "#1"
    assert plain_divergence_reading_once()


def plain_divergence_reading_once() -> bool:
    from gpt2explore.figures.plots import divergence_reading

    reading = divergence_reading({"js": 0.2, "kl_pq": math.inf, "kl_qp": 1.0})
    return "KL ∞" not in reading


def test_5_partial_characters_and_a_half_character_at_the_end(lm):
    from gpt2explore.core.tokens import incomplete_tail, whole_text

    ids = lm.encode("Hi 🦜")
    assert lm.decode(ids[:-1]).endswith("\ufffd") and whole_text(lm.tokenizer, ids[:-1]) == "Hi "
    assert whole_text(lm.tokenizer, ids) == "Hi 🦜"
    assert incomplete_tail(b"a\xe2\x80") == 2 and incomplete_tail(b"a\xe2\x80\x94") == 0


def test_5_png_exports_default_to_scale_2(tmp_path, run):
    from PIL import Image

    fig = gx.next_token_bars(run[0].steps[0])
    path = gx.save(fig, tmp_path / "b.png", width=400, height=300)
    assert Image.open(path).size == (800, 600)
    assert Image.open(gx.save(fig, tmp_path / "c.png", width=400, height=300, scale=1)).size == (400, 300)
