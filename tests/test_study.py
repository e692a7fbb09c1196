"""Name studies (gx.study) and the counterfactual figures (gx.counterfactual_view, gx.coupling_figure)."""
import csv
from pathlib import Path

import pytest
import torch

import gpt2explore as gx
from gpt2explore.core import coupling

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "Hi! My name is {name}."
NAMES = ["Isamu", "John", "Maria"]


@pytest.fixture(scope="module")
def small_study(lm):
    return gx.study(lm, TEMPLATE, NAMES, nsamples=6, length=6, seed=3, progress=False, temperature=1.2)


def test_study_samples_are_paired_runs(lm, small_study):
    frame = small_study.frame
    assert len(frame) == 3 * 6 * 6
    assert list(frame.columns[:6]) == ["name", "group", "prompt", "sample", "step", "token_id"]
    for name in NAMES:
        want = lm.generate(TEMPLATE.replace("{name}", name), nsamples=6, length=6, seed=3, coupling="gumbel",
                           temperature=1.2)
        got = frame[frame.name == name].sort_values(["sample", "step"])
        assert got.token_id.tolist() == [t for s in want for t in s.tokens]
    assert small_study.run.meta["coupling"] == "gumbel"


def test_agreement_is_the_paired_fraction_and_never_rises(small_study):
    table = small_study.agreement()
    assert set(zip(table.a, table.b)) == {("Isamu", "John"), ("Isamu", "Maria"), ("John", "Maria")}
    tokens = small_study.tokens()
    for (a, b), part in table.groupby(["a", "b"]):
        i, j = NAMES.index(a), NAMES.index(b)
        values = part.sort_values("step").same.tolist()
        assert all(x >= y for x, y in zip(values, values[1:]))
        for t, v in enumerate(values):
            same = sum(bool((tokens[i, k, :t + 1] == tokens[j, k, :t + 1]).all()) for k in range(6)) / 6
            assert v == pytest.approx(same)


def test_words_rates_and_paired_bootstrap(small_study):
    words = small_study.words(min_samples=2, resamples=200)
    assert list(words.columns) == ["name", "word", "rate", "others", "diff", "lo", "hi"]
    assert len(words) > 0
    assert (words.lo <= words["diff"] + 1e-6).all() and (words["diff"] <= words.hi + 1e-6).all()
    texts = small_study.texts()
    row = words.iloc[0]
    n = NAMES.index(row["name"])

    def rate(m):
        return sum(row.word in {w.lower() for w in gx.model.study.WORD.findall(t)} for t in texts[m]) / 6

    assert row.rate == pytest.approx(rate(n))
    assert row.others == pytest.approx(sum(rate(m) for m in range(3) if m != n) / 2)
    assert "endoftext" not in set(words.word)


def test_study_shards_by_sample_and_groups(lm, small_study):
    part = gx.study(lm, TEMPLATE, NAMES, nsamples=3, length=6, seed=3, progress=False, temperature=1.2,
                    first_sample=3)
    whole = small_study.tokens()
    assert torch.equal(part.tokens(), whole[:, 3:, :])
    one = gx.study(lm, TEMPLATE, ["John"], nsamples=2, length=6, seed=3, progress=False, temperature=1.2,
                   first_sample=4)  # a shard by name and by sample: the same rows
    assert torch.equal(one.tokens(), whole[1:2, 4:, :])
    grouped = gx.study(lm, TEMPLATE, {"a": ["Isamu"], "b": ["John", "Maria"]}, nsamples=2, length=3, seed=3,
                       progress=False)
    assert grouped.names == NAMES and grouped.frame.group.tolist()[:3] == ["a"] * 3
    with pytest.raises(ValueError, match=r"\{name\}"):
        gx.study(lm, "Hi!", NAMES, nsamples=1, length=2)
    with pytest.raises(ValueError, match="different"):
        gx.study(lm, TEMPLATE, ["John", "John"], nsamples=1, length=2)


def test_study_figures_carry_provenance(small_study):
    fig = small_study.agreement_figure()
    facts = fig.layout.meta["gpt2explore"]
    assert [f["prompt"] for f in facts] == [TEMPLATE.replace("{name}", n) for n in NAMES]
    assert len([t for t in fig.data if t.showlegend is not False]) >= 3
    words = small_study.words_figure(top=2, min_samples=2, resamples=100)
    assert words.layout.meta["gpt2explore"][0]["figure"] == "study words"


def test_names_csv_drives_a_study():
    with open(ROOT / "data" / "names.csv", newline="") as fh:
        names = [row["name"] for row in csv.DictReader(fh)]
    assert len(names) >= 8 and len(set(names)) == len(names)


def test_counterfactual_view_pairs_the_texts(lm):
    run = lm.generate("Hi! My name is Isamu", nsamples=2, length=12, seed=3, coupling="gumbel")
    cf = run.counterfactual("Hi! My name is John")
    from gpt2explore.views.counterfactual import pair_data

    for k in range(2):
        d = pair_data(run, cf, k)
        a, b = run[k].tokens, cf[k].tokens
        part = next((t for t in range(12) if a[t] != b[t]), None)
        assert d["part"] == part and d["same"] == [x == y for x, y in zip(a, b)]
        if part is not None:
            assert [s["token"] for s in d["sides"]] == [a[part], b[part]]
    fig = gx.counterfactual_view(run, cf, 0)
    assert fig.layout.meta["counterfactual"] == {"prompt": "Hi! My name is John"}
    assert len(fig.layout.meta["gpt2explore"]) == 2
    same = gx.counterfactual_view(run, run.counterfactual(), 0)
    assert "never part" in same.layout.title.text
    with pytest.raises(ValueError, match="sample must be"):
        gx.counterfactual_view(run, cf, 5)


def test_coupling_figure_numbers(lm):
    a = lm.generate("Hi! My name is Isamu", length=1, seed=0)[0][0]
    b = lm.generate("Hi! My name is John", length=1, seed=0)[0][0]
    fig = gx.coupling_figure(a, b, temperature=0.8)
    p, q = a.distribution(temperature=0.8), b.distribution(temperature=0.8)
    got = fig.layout.meta["agreement"]
    assert got["gumbel"] == pytest.approx(coupling.gumbel_agreement(p, q))
    assert got["cdf"] == pytest.approx(coupling.cdf_agreement(p, q))
    bounds = coupling.agreement_bounds(p, q)
    assert bounds["gumbel_floor"] - 1e-12 <= got["gumbel"] <= bounds["ceiling"] + 1e-12
    assert list(fig.data[0].y) == pytest.approx([got["cdf"], got["gumbel"], bounds["ceiling"]])
