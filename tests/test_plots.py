"""Figure builders: the numbers drawn are the numbers the step gives."""
import math

import pytest
import torch

import gpt2explore as gx
from gpt2explore import plots, sampling
from gpt2explore.core.pieces import step_label
from gpt2explore.figures import bars


@pytest.fixture(scope="module")
def run(lm):
    return lm.generate(["Hi! My name is Isamu", "Hi! My name is John"], nsamples=2, length=6, seed=1,
                       top_k=30)


def test_next_token_bars_shows_both_distributions(run):
    step = run[0].steps[2]
    fig = gx.next_token_bars(step, temperature=0.7, top_k=5, n=10)
    ids = torch.topk(step.logits, 10).indices
    assert list(fig.data[0].y) == pytest.approx(step.logits.softmax(-1)[ids].tolist())
    assert list(fig.data[1].y) == pytest.approx(step.distribution(temperature=0.7, top_k=5)[ids].tolist())
    kept = [p > 0 for p in step.distribution(temperature=0.7, top_k=5)[ids].tolist()]
    # orange: what the step's own u draws under the settings shown, over its "after settings" bar
    here = step.resample(temperature=0.7, top_k=5)
    shown = [int(i) for i in fig.layout.xaxis.tickvals]
    ids_shown = ids.tolist() + [t for t in (here, step.token) if t not in ids.tolist()]
    assert list(fig.data[2].x) == [ids_shown.index(here)] and fig.data[2].marker.color == plots.CHOSEN_COLOR
    assert len(shown) == len(ids_shown)
    if here != step.token:  # the run's own token gets its own marker
        assert list(fig.data[5].text) and fig.data[5].name == "drawn in the run"
    # cut tokens: a grey cross at the foot of each
    assert [round(x - 0.2125) for x in fig.data[3].x] == [i for i, k in enumerate(kept) if not k]
    assert set(fig.data[3].y) == {0.0} and fig.data[3].marker.color == plots.CUT_COLOR
    assert list(fig.data[4].x) == [4.5, 4.5]  # the cut-off after the 5 kept tokens
    assert fig.data[1].customdata[0][0] == int(ids[0])
    assert "top-k=5" in fig.layout.title.text and fig.layout.template.layout.paper_bgcolor == "white"


def test_every_legend_entry_keeps_its_own_colour(lm):
    """Item 1: whatever token is drawn (first bar or not), each swatch is one colour."""
    run = lm.generate("Hello", length=30, seed=5, temperature=0.3, top_k=3)
    firsts = [s for s in run[0].steps if s.token == int(s.logits.argmax())]
    others = [s for s in run[0].steps if s.token != int(s.logits.argmax())]
    assert firsts and others
    for step in (firsts[0], others[0]):
        fig = gx.next_token_bars(step, n=10)
        names = [t.name for t in fig.data]
        assert names == ["model's p (raw logits)", "p after the settings", "drawn token",
                         "cut by the settings", "cut-off: kept | cut", "drawn in the run",
                         "the marked token, too small to see"]
        assert fig.data[0].marker.color == plots.RAW_COLOR and fig.data[1].marker.color == plots.KEPT_COLOR
        assert isinstance(fig.data[1].marker.color, str)  # one colour, not one per bar
        assert fig.data[2].marker.color == plots.CHOSEN_COLOR
        assert fig.data[3].showlegend and fig.data[4].showlegend  # top_k=3 of 10 shown: cuts exist
        assert fig.data[4].line.dash == "dash"


def test_log_scale_shows_flat_distributions(lm):
    step = lm.generate("Hello", length=2, seed=1)[0].steps[0]
    fig = gx.next_token_bars(step, temperature=100, log=True)
    assert fig.layout.yaxis.type == "log"
    lo = fig.layout.yaxis.range[0]
    assert all(p <= 0 or math.log10(p) > lo for p in fig.data[1].y)  # every bar rises above the floor
    plots.redraw_bars(fig, step, step.settings_for(temperature=1.0), log=False)
    assert fig.layout.yaxis.type == "linear"


def test_token_labels_make_whitespace_visible(lm):
    from gpt2explore.core.trace import show_token

    assert show_token(" John") == "␣John" and show_token("\n") == "↵" and show_token("") == "∅"
    assert show_token("日本") == "日本"


def test_temperature_sweep_matches_distribution(run):
    step = run[0].steps[0]
    d = plots.sweep_data(step, temperatures=[0.5, 1.0, 2.0], n=3)
    for t, probs, ent in zip(d["temperatures"], d["probs"], d["entropy"]):
        full = step.distribution(temperature=t)
        assert probs == pytest.approx(full[d["ids"]].tolist())
        assert ent == pytest.approx(float(sampling.entropy(full)))
    assert d["entropy"][0] < d["entropy"][1] < d["entropy"][2]
    fig = gx.temperature_sweep(step)
    assert len(fig.data) == 8 + 2 + 1  # tokens, entropy, 90% mass, and what top_k=30 keeps
    # readable major ticks only: round values, no minor labels
    assert list(fig.layout.xaxis.tickvals) == [0.05, 0.1, 0.2, 0.5, 1, 2]
    assert fig.layout.xaxis.minor.ticks == ""
    # the third panel moves with temperature (it is not stuck at the vocabulary size)
    assert len(set(d["mass90"])) > 1 and max(d["mass90"]) < 50257


def test_generation_overview(run):
    sample = run[1]
    fig = gx.generation_overview(sample)
    assert list(fig.data[0].y) == pytest.approx([s.prob for s in sample.steps])
    assert len(fig.data[1].y) == len(sample.steps)


def test_divergences_on_hand_made_distributions():
    p, q = torch.tensor([0.5, 0.5]), torch.tensor([0.9, 0.1])
    d = plots.divergences(p, q)
    assert d["kl_pq"] == pytest.approx(0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1))
    assert plots.divergences(p, p)["js"] == 0
    assert plots.divergences(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]))["js"] == pytest.approx(math.log(2))


def test_compare_next_token_states_divergence(run):
    fig = gx.compare_next_token([run[0], run[2]], ["Isamu", "John"])
    expected = plots.divergences(run[0].steps[0].distribution(), run[2].steps[0].distribution())
    assert f"JS {expected['js']:.3f}" in fig.layout.title.text
    assert f"KL(Isamu‖John) {gx.core.formatting.number(expected['kl_pq'])}" in fig.layout.title.text  # its direction
    assert fig.layout.meta["divergences"][0]["js"] == pytest.approx(expected["js"])
    assert [t.name for t in fig.data if t.type == "bar"] == ["Isamu", "John"]
    # the step and what each column's u draws under the settings shown (as gx.save(compare) exports it)
    a, b = run[0].steps[0], run[2].steps[0]
    assert fig.layout.title.text.startswith("Next token at step 0: Isamu vs John")
    drawn = f"drawn under these settings (▼): Isamu {step_label(a, a.token)!r} · John {step_label(b, b.token)!r}"
    assert drawn in fig.layout.title.text
    hot = gx.compare_next_token([run[0], run[2]], ["Isamu", "John"], temperature=3.0)
    hot_a = a.resample(temperature=3.0)
    assert f"Isamu {step_label(a, hot_a)!r}" in hot.layout.title.text
    # each column's draw is among the bars, even outside the top n, with a ▼ over its own column's bar
    for f, picks in ((fig, [a.token, b.token]), (hot, [hot_a, b.resample(temperature=3.0)])):
        few = gx.compare_next_token([run[0], run[2]], ["Isamu", "John"], n=1, temperature=f is hot and 3.0 or None)
        for shown in (f, few):
            bars = [t for t in shown.data if t.type == "bar"]
            marks = next(t for t in shown.data if t.name == "drawn under these settings")
            ticks = list(shown.layout.xaxis.ticktext)
            assert len(marks.x) == 2
            for j, (i, x, y) in enumerate(zip(picks, marks.x, marks.y)):
                where = ticks.index(step_label(a, i))
                assert round(x) == where and (x < where) == (j == 0)  # over its own column's bar
                assert y > bars[j].y[where]


def test_log_ratio_table_ranks_tokens(run):
    a, b = run[0].steps[0], run[2].steps[0]
    table = gx.log_ratio_table(a, b, n=5, top_k=0)
    assert len(table) == 5
    assert len(gx.log_ratio_table(a, b, n=50)) < 50  # top_k=30: only tokens possible under both
    ratio = table["log ratio"]
    assert list(ratio) == sorted(ratio, reverse=True)
    pa, pb = a.distribution(top_k=0), b.distribution(top_k=0)
    for r, (_, row) in zip(ratio, table.iterrows()):
        assert r == pytest.approx(math.log(float(pa[row.id]) / float(pb[row.id])), rel=1e-5)


def test_the_cut_off_line_stands_only_where_every_kept_token_is_before_it(lm):
    """top-k=100 keeps 100 tokens; 10 bars show the likeliest, then the run's own token from far
    down, which top-k cuts: a dashed line between them would say the 90 kept tokens not shown
    are cut. No line there; with every kept token shown, the line stands after the last."""
    run = lm.generate("Hello", length=40, seed=3, temperature=3.0)
    far = [s for s in run[0].steps if s.rank0 >= 100]
    assert far, "the run should draw a token ranked beyond 100 somewhere"
    step = far[0]
    fig = gx.next_token_bars(step, top_k=100, n=10)
    ids = [row[0] for row in fig.data[0].customdata]
    assert step.token in ids and fig.data[3].x  # the run's token is shown, with a grey cross
    assert list(fig.data[4].x) == [] and not fig.data[4].showlegend
    fig = gx.next_token_bars(step, top_k=5, n=10)
    assert list(fig.data[4].x) == [4.5, 4.5] and fig.data[4].showlegend


def test_a_marked_bar_too_small_to_see_gets_a_ring_at_its_foot(lm):
    """At T=1 a step often draws a token of p 1e-4 beside a top bar of 0.2: its orange bar is a
    hairline, so an orange ring marks its foot (linear axis only: a log axis shows the bar)."""
    run = lm.generate("Hello", length=40, seed=3)
    tiny = [s for s in run[0].steps if float(s.distribution()[s.token]) < 0.005 * float(s.distribution().max())]
    assert tiny
    fig = gx.next_token_bars(tiny[0], n=10)
    ids = [row[0] for row in fig.data[0].customdata]
    assert list(fig.data[6].x) == [ids.index(tiny[0].token) + bars.AFTER_OFFSET] and list(fig.data[6].y) == [0.0]
    assert not fig.data[6].showlegend  # the legend's "drawn token" swatch names it
    assert list(gx.next_token_bars(tiny[0], n=10, log=True).data[6].x) == []
    assert list(gx.next_token_bars(tiny[0], n=10, top_k=1).data[6].x) == []  # top-k 1: the marked bar is all of p


def test_long_prompts_are_named_by_the_words_that_differ(lm):
    """compare_next_token's default names: short prompts quoted whole; long ones by their own words
    ("…Isamu…"), so the legend and the KL line stay short."""
    from gpt2explore.core.formatting import short_names

    assert short_names(["Hi! My name is Isamu", "Hi! My name is John"]) == ["'Hi! My name is Isamu'", "'Hi! My name is John'"]
    end = " and I come from a small town near the sea"
    assert short_names(["Hi! My name is Isamu" + end, "Hi! My name is John" + end]) == ["…Isamu…", "…John…"]
    longer = "Once upon a time in a land far away there was"
    assert short_names([longer + " a dragon", longer]) == ["…was a dragon", "…was"]  # each keeps a word of its own
    run = lm.generate(["Hi! My name is Isamu" + end, "Hi! My name is John" + end], length=2, seed=7)
    fig = gx.compare_next_token([run[0], run[1]])
    assert [t.name for t in fig.data if t.type == "bar"] == ["…Isamu…", "…John…"]
    assert "KL(…Isamu…‖…John…)" in fig.layout.title.text


def test_a_legend_of_long_names_gets_room_under_the_title(run):
    """Two rows of legend (long column names) push the plot down by a row, so the legend never
    sits on the title's last line."""
    from gpt2explore.figures.style import legend_rows

    assert legend_rows(["a", "b"]) == 1 and legend_rows(["x" * 60, "y" * 60]) == 2
    short = gx.compare_next_token([run[0], run[2]], ["A", "B"])
    long = gx.compare_next_token([run[0], run[2]], ["A" * 30, "B" * 30])
    lines = lambda f: f.layout.title.text.count("<br>")  # noqa: E731
    per_line = 26
    extra = long.layout.margin.t - short.layout.margin.t - per_line * (lines(long) - lines(short))
    assert extra >= 26, (long.layout.margin.t, short.layout.margin.t)


def test_a_title_leaves_the_room_plotly_gives_its_lines():
    """plotly spaces every line of a title by 1.3 x the title's font (1.4 x the layout's), the smaller
    lines too: the margin a title asks for holds them all, so the legend under it stays clear."""
    from gpt2explore.figures.style import FONT, title

    spacing = 1.3 * 1.4 * FONT["size"]
    for subs in ([], ["one"], ["one", "two", "three", "four"]):
        head, top = title("A title", subs)
        assert top >= 50 + spacing * len(subs) - 1, (subs, top)
