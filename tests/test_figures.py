"""Figures and widgets good enough to paste into a write-up: numbers, tables, demos, titles,
messages and clicks (the layout of the bars and the sweep is in test_plots.py)."""
import json
import math
import re
from pathlib import Path

import pytest
import torch

import gpt2explore as gx
from gpt2explore import formatting as fmt
from gpt2explore import plots, sampling, teaching
from gpt2explore.core.trace import show_token


# ---- 4: one formatting rule ---------------------------------------------------------------
@pytest.mark.parametrize("p, text", [(0, "0"), (0.0, "0"), (-0.0, "0"), (1, "1"), (1.0, "1"), (0.404, "0.404"),
                                     (0.40449, "0.404"), (0.0123, "0.0123"), (0.001, "0.00100"),
                                     (0.087, "0.0870"), (0.04, "0.0400"), (0.9999, "1.00"),
                                     (3.5e-4, "3.5e-04"), (0.00035, "3.5e-04"), (2e-5, "2.0e-05")])
def test_probabilities_follow_one_rule(p, text):
    assert fmt.prob(p) == text


def test_numbers_and_counts():
    assert fmt.number(-0.0) == "0.000" and fmt.number(-1e-12) == "0.000" and fmt.number(2.5) == "2.500"
    assert fmt.number(math.inf) == "∞"
    assert fmt.count(1, "token") == "1 token" and fmt.count(2, "token") == "2 tokens"
    assert fmt.count(50257, "token") == "50,257 tokens"


def test_titles_and_readouts_use_the_rule(lm):
    step = lm.generate("Hello", length=2, seed=1)[0].steps[0]
    fig = gx.next_token_bars(step, temperature=0)  # one token kept, entropy exactly 0
    title = fig.layout.title.text
    assert "1 token kept" in title and "1 tokens" not in title
    assert "entropy 0.000 nats" in title and "-0" not in title
    assert float(sampling.entropy(step.distribution(temperature=0))) == 0.0
    assert math.copysign(1, float(sampling.entropy(step.distribution(temperature=0)))) == 1.0
    from gpt2explore.widgets.controls import readout_html

    data = plots.bars_data(step, step.settings_for(temperature=0))
    html = readout_html(data)
    assert "<b>1 token</b> kept" in html and "-0" not in html
    low = plots.bars_data(step, step.settings_for(temperature=1.0))
    if low["token_prob"] < 1e-3:
        assert "e-0" in readout_html(low)


def test_view_data_name_their_ranks_rank0_and_figures_count_from_1(lm):
    from gpt2explore.core.trace import rank_of
    from gpt2explore.views.draws import draw_data
    from gpt2explore.views.lens import lens_heatmap_data

    step = lm.generate("Hello there", length=2, seed=3, layers=True)[0].steps[1]
    data = plots.bars_data(step, n=8)
    assert "ranks" not in data
    logits = step.require_logits().float()
    assert data["rank0"] == [rank_of(logits, i) for i in data["ids"]] and data["rank0"][:3] == [0, 1, 2]
    rows = {row[0]: row[4] for row in gx.next_token_bars(step, n=8).data[1].customdata}  # id -> shown "#"
    assert rows[step.token] == step.rank1 == data["rank0"][data["ids"].index(step.token)] + 1
    assert all(rows[t.id] == t.rank for t in step.top(5))  # the hover's "#" is step.top()'s rank
    d = draw_data(step)
    assert "ranks" not in d and "rank" not in d and d["rank0"][:3] == [0, 1, 2]
    assert d["ids"][d["rank0"].index(d["token_rank0"])] == step.token
    assert f"at token #{d['token_rank0'] + 1} of" in gx.draw_figure(step).layout.title.text
    lens = lens_heatmap_data(step, n=5)
    assert "drawn_rank" not in lens and lens["drawn_rank0"][-1] == step.rank0


# ---- 5: tables -------------------------------------------------------------------------------
def test_step_top_is_a_readable_table_and_still_rows(lm):
    step = lm.generate("Hello", length=2, seed=1)[0].steps[0]
    top = step.top(5)
    assert len(top) == 5 and top[0].rank == 1 and isinstance(top[0].prob, float)  # rows in code; ranks from 1
    text = repr(top)
    assert "rank" in text.splitlines()[0] and not re.search(r"\d\.\d{6,}", text)  # no 17-digit floats
    html = top._repr_html_()
    assert "<table" in html and show_token(top[0].text) in html


def test_a_table_shows_a_missing_value_as_a_dash_not_none():
    import pandas as pd

    frame = pd.DataFrame({"component": ["L4H1", "L3 mlp"], "head": pd.Series([1, None], dtype=object),
                          "contribution": [0.5, float("nan")]})
    cells = re.findall(r'class="data row1 col\d" >([^<]*)<', gx.table(frame).to_html())
    assert cells == ["L3 mlp", "–", "–"], cells


def test_tables_show_whole_texts_with_visible_whitespace(lm):
    import pandas as pd

    long = "First line of a long sample that goes on well past forty-five characters\nsecond line \x1b end"
    styled = gx.table(pd.DataFrame({"text": [long], "prob": [3.5e-4]}))
    html = styled.to_html()
    assert "forty-five characters↵" in html and "second line \\x1b end" in html
    assert "…" not in html and "3.5e-04" in html and "\x1b" not in html
    assert re.search(r"th\s*\{\s*text-align: left;", html)  # a header stands over its left-aligned column
    frame = lm.generate("Hi", length=3, seed=1).to_frame(top=3)
    assert {"token", "text"} <= set(frame.columns)
    row = frame.iloc[0]
    assert row.token == show_token(row.text)


def test_control_characters_show_as_escapes():
    assert show_token("\x1b") == "\\x1b" and show_token("\x08") == "\\x08"
    assert show_token(" John") == "␣John" and show_token("\n") == "↵"


# ---- 9: the rules demo shows something -------------------------------------------------------
def test_rules_demo_picks_a_visible_difference():
    tiny = gx.load("tiny", device="cpu")  # a trained model: peaked steps, as in notebook 02
    run = tiny.generate("Hi! My name is", nsamples=2, length=30, seed=1)
    demo = teaching.rules_demo(run)
    assert demo["hf_kept"] == demo["openai_kept"] + 1
    hf, oa = teaching.rules_figures(demo)
    ids = [row[0] for row in hf.data[0].customdata]
    at = ids.index(demo["token"])  # the token is among the bars shown
    assert hf.data[1].y[at] > 0 and oa.data[1].y[at] == 0
    assert at in [round(x - 0.2125) for x in oa.data[3].x]  # marked as cut in openai's figure
    assert any("dropped by openai" in a.text for a in oa.layout.annotations)
    assert any("kept by hf" in a.text for a in hf.layout.annotations)


# ---- 10: document titles ---------------------------------------------------------------------
def test_html_export_has_the_figure_title(tmp_path, lm):
    step = lm.generate("Hello", length=2, seed=1)[0].steps[0]
    fig = gx.next_token_bars(step, temperature=0.7)
    text = gx.save(fig, tmp_path / "bars.html").read_text()
    assert "<title>Next token at step 0 · T=0.7, no top-k, no top-p, hf rules</title>" in text
    untitled = gx.generation_overview(lm.generate("Hi", length=2, seed=1)[0])
    untitled.layout.title.text = None
    assert "<title>plain</title>" in gx.save(untitled, tmp_path / "plain.html").read_text()


def test_pdf_title_by_incremental_update():
    from gpt2explore.files.export import pdf_with_title

    pdf = (b"%PDF-1.4\n1 0 obj\n<</Title (Kaleido-fier)>>\nendobj\n2 0 obj\n<</Type /Catalog>>\nendobj\n"
           b"xref\n0 3\n0000000000 65535 f \n0000000009 00000 n \n0000000051 00000 n \n"
           b"trailer\n<</Size 3\n/Root 2 0 R\n/Info 1 0 R>>\nstartxref\n89\n%%EOF\n")
    out = pdf_with_title(pdf, "Bars · T=0.7")
    blanked = pdf.replace(b"/Title (Kaleido-fier)", b" " * len(b"/Title (Kaleido-fier)"))
    assert out.startswith(blanked) and out.count(b"/Title") == 1  # one title: the writer's blanked in place
    hex_title = "FEFF" + "Bars · T=0.7".encode("utf-16-be").hex().upper()
    assert f"/Title <{hex_title}>".encode() in out and b"/Info 3 0 R" in out and b"/Prev 89" in out
    obj_at = int(re.search(rb"xref\n3 1\n(\d{10})", out).group(1))
    assert out[obj_at:].startswith(b"3 0 obj")
    assert pdf_with_title(b"%PDF-1.7 no trailer here", "x") == b"%PDF-1.7 no trailer here"


# ---- 11: widgets' small things ------------------------------------------------------------
def test_stepper_message_clears_on_the_next_success(lm):
    """A bad move from a cell is said on the component's status line (its "moved" message) and
    never twice (not again under it); the next move that works clears it (the component clears its
    line when the session's data changes)."""
    st = gx.stepper(lm, "Hi! My name is", seed=1)
    sent = []
    st.view.send = lambda msg, buffers=None: sent.append(msg)
    st.force("two tokens here")
    assert "not one" in sent[-1]["error"] and st.status.value == ""
    st.next()
    assert sent[-1]["type"] == "moved" and sent[-1]["error"] is None and sent[-1]["said"] == ""
    st.force(" John")
    assert sent[-1]["error"] is None and sent[-1]["said"].startswith("forced ") and "John" in sent[-1]["said"]
    script = (Path(gx.__file__).parent / "frontend" / "page_view.js").read_text()
    new_data = script[script.index("Stepper.prototype.newData"):script.index("Stepper.prototype.moved")]
    assert 'this.status.textContent = ""' in new_data  # a move from another cell clears the line


def test_explorer_dropdown_shows_the_whole_label(lm):
    run = lm.generate(["Hi! My name is Isamu", "Hi! My name is John"], length=2, seed=1)
    ex = gx.explore(run)
    label = ex.sample_select.options[0][0]
    assert label == "0: 'Hi! My name is Isamu' #0"
    assert ex.sample_select.layout.width == "auto" and ex.sample_select.layout.min_width == "420px"


@pytest.mark.parametrize("p, q, words", [
    ([1.0, 0.0], [0.0, 1.0], "no token in common"),
    ([0.5, 0.5], [0.5, 0.5], "practically the same"),
    ([0.5, 0.5], [1.0, 0.0], "impossible for the second"),
])
def test_divergences_come_with_a_plain_reading(p, q, words):
    d = plots.divergences(torch.tensor(p), torch.tensor(q))
    assert words in plots.divergence_reading(d)


def test_compare_figure_states_the_reading(lm):
    a = lm.session("Hi! My name is", seed=1, top_k=2)
    b = a.fork()
    b.force(" cat")
    fig = gx.compare_next_token([a.next_step, b.next_step], ["original", "branch"])
    # nothing is drawn yet at a session's next step: the marks say what the next draw picks
    assert "the next draw picks (▼)" in fig.layout.title.text and "drawn under" not in fig.layout.title.text
    assert [t.name for t in fig.data if t.type == "scatter" and t.showlegend][-1] == "the next draw picks"
    assert "JS" in fig.layout.title.text and ("in common" in fig.layout.title.text
                                              or "impossible" in fig.layout.title.text
                                              or "different" in fig.layout.title.text
                                              or "close" in fig.layout.title.text)


# ---- 12: pick a token by clicking it ------------------------------------------------------
def test_clicking_a_stepper_bar_forces_that_token(lm):
    st = gx.stepper(lm, "Hi! My name is", seed=1, n=10)
    ids = [row[0] for row in st.fig.data[0].customdata]
    st.view.send = lambda msg, buffers=None: None
    st.view._on_msg(st.view, {"type": "click", "sample": 0, "step": 0, "token": ids[3]}, [])  # as the component sends it
    step = st.session.steps[-1]
    assert step.forced and step.token == ids[3]
    assert st.session.text == "Hi! My name is" + lm.decode([ids[3]])


def test_clicking_an_explorer_bar_forks_a_stepper_at_that_step(lm):
    run = lm.generate("Hi! My name is", length=6, seed=4)
    before = list(run[0].tokens)
    ex = gx.explore(run, n=10)
    ex.step_slider.value = 3
    ids = [row[0] for row in ex.fig.data[0].customdata]
    ex.view._on_msg(ex.view, {"type": "click", "sample": 0, "step": 3, "token": ids[5]}, [])  # as the component sends it
    assert run[0].tokens == before  # the run is untouched
    child = ex.forks[-1]
    assert child.view.data["kind"] == "stepper"  # the page's component, as gx.stepper
    session = child.session
    assert session.sample.tokens == before[:3] + [ids[5]] and session.steps[-1].forced
    assert len(ex.forks_box.children) == 1
    # the fork continues with the run's own draws after the forced token
    assert session.steps[2].u == run[0].steps[2].u and session.seed == run.seed
    assert torch.allclose(session.steps[2].logits, run[0].steps[2].logits, atol=1e-4)


def test_explorer_of_a_bundle_says_why_it_cannot_fork(lm, tmp_path):
    run = lm.generate("Hi", length=3, seed=1)
    ex = gx.explore(gx.load_run(run.save(tmp_path / "b")))
    ex.view._on_msg(ex.view, {"type": "click", "sample": 0, "step": 0, "token": int(run[0].steps[0].token)}, [])
    assert "without its model" in ex.status.value and ex.forks == []


def test_log_toggle_in_the_widgets(lm):
    run = lm.generate("Hi", length=3, seed=1, temperature=100)
    ex = gx.explore(run)
    ex.log.value = True
    assert ex.fig.layout.yaxis.type == "log"
    st = gx.stepper(lm, "Hi")  # the page's component: its log toggle is the component's state
    assert st.fig.layout.yaxis.type != "log"
    st.view.state = dict(st.view.state, log=True)  # as the reader's click sets it
    assert st.fig.layout.yaxis.type == "log"


def test_gallery_cases_render_every_builder(lm):
    from gpt2explore import gallery_cases

    figs = gallery_cases.figures(lm)
    assert {"next_token_bars", "temperature_sweep", "generation_overview", "compare_next_token", "explore",
            "stepper", "draw_figure"} <= set(figs)
    for name, fig in figs.items():
        assert fig.data, name
        json.loads(fig.to_json())


def test_partial_character_tokens_show_their_bytes(lm):
    from gpt2explore.figures.style import token_label

    step = lm.generate("Hello", length=2, seed=1)[0].steps[0]
    assert lm.decode([447]) == "\ufffd"  # GPT-2's token 447 is the first two bytes of a 3-byte character
    assert token_label(step, 447) == "‹e2 80›"
    assert token_label(step, 12520) == "␣‹f0 9f›"
    assert token_label(step, 198) == "↵"


# ---- every builder: one look, and where it came from (#23) --------------------------------
@pytest.fixture(scope="module")
def tiny_run():
    """Two samples of the bundled model with their layers (the lens figures need them)."""
    return gx.load().generate(["Hi! My name is", "The cat"], length=4, seed=1, layers=True, attention=True)


def _every_builder(run):
    a, b = run.samples
    step = a.steps[1]
    return {
        "next_token_bars": gx.next_token_bars(step, top_k=5), "temperature_sweep": gx.temperature_sweep(step),
        "generation_overview": gx.generation_overview(a), "compare_next_token": gx.compare_next_token([a, b]),
        "log_ratio_table": gx.log_ratio_table(a.steps[0], b.steps[0]), "draw_figure": gx.draw_figure(step),
        "pipeline_figure": gx.pipeline_figure(step, top_k=5), "text_view": gx.text_view(a),
        "rank_histogram": gx.rank_histogram([run]), "lens_heatmap": gx.lens_heatmap(step),
        "lens_grid": gx.lens_grid(a), "attention_view": gx.attention_view(step),
        "attention_overview": gx.attention_overview(step), "attribution_figure": gx.attribution_figure(step),
        "attribution_heatmap": gx.attribution_heatmap(step),
        "counterfactual_view": gx.counterfactual_view(run, run.counterfactual(temperature=0.7)),
        "coupling_figure": gx.coupling_figure(a.steps[0], b.steps[0]),
    }


def test_every_figure_builder_has_the_template_and_its_provenance(tiny_run):
    from gpt2explore.core import provenance
    from gpt2explore.figures.style import template

    built = _every_builder(tiny_run)
    public = {name for name, home in gx.PUBLIC.items() if home.startswith("figures.")}
    assert set(built) == public  # a new builder gets a case here
    look = template().layout.to_plotly_json()
    for name, fig in built.items():
        if name == "log_ratio_table":  # a table: no look, the facts ride in its attrs
            facts = fig.attrs["gpt2explore"]
            assert provenance.caption(facts).startswith(f"{name}: step 0 after 'Hi! My name is' vs 'The cat'")
            continue
        assert fig.layout.template.layout.to_plotly_json() == look, name
        facts = (fig.layout.meta or {}).get("gpt2explore")
        assert facts, f"{name} has no provenance in layout.meta['gpt2explore']"
        for f in facts if isinstance(facts, list) else [facts]:
            assert f["figure"].split(" (")[0] == name and f["model"] == "tiny" and f["seed"] == 1, name
        caption = gx.caption(fig)
        assert "no gpt2explore provenance" not in caption and caption.startswith(name), (name, caption)
        assert "model tiny" in caption and "seed 1" in caption, caption
    assert "vs 'The cat'" in gx.caption(built["rank_histogram"])  # one set of facts per text


def test_no_figure_is_wider_than_the_output_area(tiny_run):
    """Every builder's figure fits FIGURE_MAX_PX (the notebook's output area at 1280x800 beside the
    file browser), the text view in each colouring too (its colour bar included)."""
    from gpt2explore.figures.style import FIGURE_MAX_PX

    built = _every_builder(tiny_run)
    sample = tiny_run.lm.score("The quick brown fox jumps over the lazy dog, and then it ran away again " * 3)[0]
    built.update({f"text_view ({c})": gx.text_view(sample, color=c, top_k=5) for c in ("rank", "surprisal", "allowed")})
    for name, fig in built.items():
        width = getattr(getattr(fig, "layout", None), "width", None)
        assert width is None or width <= FIGURE_MAX_PX, (name, width)


# ---- the views are plain data (#23) ------------------------------------------------------
def test_every_view_is_plain_json_data(tiny_run, tmp_path):
    """What each view returns goes through json.dumps as it is (no tensors, no NumPy), with
    allow_nan=False: every number is finite, except a KL divergence, inf where a token possible
    under the first distribution is impossible under the second. NumPy settings come out plain."""
    import inspect

    import numpy as np

    from gpt2explore.views import bars, compare, draws, lens, stages, sweep

    step = tiny_run.samples[0].steps[1]
    lm = tiny_run.lm
    top_n = gx.load_run(lm.generate("Hi", length=2, seed=1).save(tmp_path / "t", top=20))[0].steps[1]
    session = lm.session("Hi", seed=1)
    session.force(" John")
    gumbel = lm.generate("Hi", length=2, seed=1, coupling="gumbel")[0].steps[1]
    views = {
        "bars_data": lambda s: bars.bars_data(s, s.settings_for(temperature=np.float32(0.7), top_k=np.int64(5))),
        "marked_token": lambda s: bars.marked_token(s, s.distribution(), True),
        "sweep_data": lambda s: sweep.sweep_data(s, s.settings_for(top_k=5),
                                                 np.array([0.5, 1.0, 2.0], dtype=np.float32)),
        "draw_data": lambda s: draws.draw_data(s, s.settings_for(top_p=0.9)),
        "gumbel_draw_data": lambda s: draws.gumbel_draw_data(s, s.settings_for(temperature=np.float32(0.7))),
        "lens_heatmap_data": lambda s: lens.lens_heatmap_data(s, s.settings_for(top_k=5), n=5),
        "stage_rows": lambda s: stages.stage_rows(s, s.settings_for(top_k=5, min_p=0.05), n=5),
        "stage_cuts": lambda s: stages.stage_cuts(s, s.settings_for(top_k=5, min_p=0.05)),
        "cuts_text": lambda s: stages.cuts_text(stages.stage_cuts(s, s.settings_for(top_k=5))),
        "divergences": lambda s: compare.divergences(s.distribution(temperature=0.7), s.distribution()),
        "divergence_reading": lambda s: compare.divergence_reading(compare.divergences(s.distribution(),
                                                                                       s.distribution())),
        "summary_html": lambda s: compare.summary_html([s, s], ["a", "b"], {"temperature": np.float32(0.7)},
                                                       "cdf", 1, s.index),
    }
    # not views of their own: the stages' tensors under the views, and the table of stage_rows
    under = {"stages_under", "cuts_of", "sampling_stages"}
    defined = {name for m in (bars, compare, draws, lens, stages, sweep) for name, f in vars(m).items()
               if inspect.isfunction(f) and f.__module__ == m.__name__ and not name.startswith("_")}
    assert defined - under == set(views)  # a new view gets a case here
    for name, view in views.items():
        for where, s in (("a run", step), ("a top-N bundle", top_n), ("a forced step", session.steps[0]),
                         ("a session's next step", session.next_step), ("a gumbel step", gumbel)):
            if name == "lens_heatmap_data" and s.residual is None:
                continue
            if name == "draw_data" and not s.drawn:
                continue
            if name == "gumbel_draw_data" and s.noise is None:
                continue
            json.dumps(view(s), allow_nan=False)  # raises on a tensor, a NumPy number, inf or nan
    from gpt2explore.views import counterfactual

    run = gumbel.sample.run
    json.dumps(counterfactual.pair_data(run, run.counterfactual(" John")), allow_nan=False)
    json.dumps(counterfactual.coupling_data(step, gumbel, step.settings_for(top_k=np.int64(5)),
                                            gumbel.settings_for(top_k=np.int64(5))), allow_nan=False)
    assert json.loads(json.dumps(sweep.sweep_data(step, None, np.array([0.5], dtype=np.float32))))["temperatures"] == [0.5]
    assert gx.sampling_stages(step, n=5, top_k=5).to_dict("records") == stages.stage_rows(step, step.settings_for(top_k=5),
                                                                                         n=5)
    kl = compare.divergences(step.distribution(), step.distribution(top_k=5))["kl_pq"]  # may hold inf
    assert math.isinf(kl) and json.dumps(kl) == "Infinity"
