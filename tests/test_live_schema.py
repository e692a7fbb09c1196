"""One view schema: what the live explorer (the page's component in JupyterLab) shows and what the
static plotly figure (`gx.next_token_bars`) draws are the same view, field by field: the tokens in
order, their probabilities, the marked token and its kind, the title's words and the legend's
entries, at random settings (min-p and typical-p among them, which a saved page only approximates)."""
import random
import re

import pytest
from lab import browser_page, open_and_run_all, write_notebook
from test_live import call, lab, random_settings  # noqa: F401  (lab: the module's JupyterLab)

import gpt2explore as gx
from gpt2explore.views.bars import bars_data

pytestmark = [pytest.mark.browser, pytest.mark.slow]
EXPLORER = ".jp-OutputArea-output .gx-live.gx-explorer"
N = 12
PROMPTS = ["Hi! My name is", "Hello"]
RUNS = [dict(length=5, seed=7), dict(length=5, seed=9, coupling="gumbel")]  # u, and Gumbel noise


def title_words(text: str) -> str:
    """A plotly title as one line: its line breaks and the <span> of its smaller lines removed,
    nothing else (a token such as '<|endoftext|>' stays as it is)."""
    return " ".join(re.sub(r"</?span[^>]*>", "", line) for line in text.split("<br>"))


def legend_entries(fig) -> list[str]:
    """The names of the traces the figure's legend lists, in order (a trace without points has none)."""
    return [t.name for t in fig.data if t.showlegend is not False and (t.x is None or len(t.x))]


def figure_view(step, settings: dict) -> dict:
    """What the static figure draws at `settings`, as the fields the component's shown() reports."""
    fig = gx.next_token_bars(step, n=N, **settings)
    data = bars_data(step, step.settings_for(**settings), n=N)
    marked = fig.data[2]
    return {"ids": [int(c[0]) for c in fig.data[0].customdata], "probs": list(fig.data[1].y),
            "labels": list(fig.layout.xaxis.ticktext),
            "marked": int(marked.customdata[0][0]) if len(marked.x) else None, "kind": data["marked_kind"],
            "title": title_words(fig.layout.title.text), "legend": legend_entries(fig)}


def test_the_title_normaliser_keeps_everything_but_line_breaks_and_spans():
    text = "Next token at step 3 · T=1<br><span style='font-size:12px'>drawn '<|endoftext|>' (p=0.2) ·</span>" \
           "<br><span style='font-size:12px'>probabilities exact</span>"
    assert title_words(text) == "Next token at step 3 · T=1 drawn '<|endoftext|>' (p=0.2) · probabilities exact"


def settings_at(rng, i: int) -> dict:
    """Random settings; every third has min-p, every third typical-p (a saved page approximates both)."""
    s = {k: v for k, v in random_settings(rng).items() if k not in ("min_p", "typical_p")}
    if i % 3 == 0:
        s["min_p"] = round(rng.uniform(0.01, 0.3), 3)
    if i % 3 == 1:
        s["typical_p"] = round(rng.uniform(0.2, 0.95), 3)
    return s


def test_the_live_explorer_and_the_static_figure_show_the_same_view(lab, rnd_dir):  # noqa: F811
    root, url = lab
    write_notebook(root / "schema.ipynb", [f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')"] + [
        f"run{i} = lm.generate({PROMPTS!r}, **{kw!r})\nex{i} = gx.explore(run{i}, n={N})\nex{i}" for i, kw in enumerate(RUNS)])
    lm = gx.load(str(rnd_dir), device="cpu")
    runs = [lm.generate(PROMPTS, **kw) for kw in RUNS]
    rng, kinds, compared = random.Random(33), set(), 0
    with browser_page(width=1280, height=800) as page:
        open_and_run_all(page, url, "schema.ipynb")
        page.wait_for_function(f"() => document.querySelectorAll('{EXPLORER}').length === 2 && "
                               f"Array.from(document.querySelectorAll('{EXPLORER}')).every(r => r.gx)", timeout=180_000)
        page.evaluate(f"() => document.querySelectorAll('{EXPLORER}').forEach((r, i) => {{ r.dataset.run = i; }})")
        for which, run in enumerate(runs):
            sel = f"{EXPLORER}[data-run='{which}']"
            call(page, "ready", sel=sel)
            for i in range(9):
                settings = {} if i == 0 else settings_at(rng, i)  # the first: the run's own settings
                sample, index = rng.randrange(2), rng.randrange(5)
                shown = call(page, "set", dict(settings, sample=sample, step=index), sel=sel)
                assert shown["error"] is None and shown["exact"], (settings, shown["error"])
                want = figure_view(run[sample].steps[index], shown["settings"])
                where = (which, sample, index, shown["settings"])
                assert [t["id"] for t in shown["tokens"]] == want["ids"], where
                assert [t["p"] for t in shown["tokens"]] == pytest.approx(want["probs"], abs=1e-6), where
                assert shown["labels"] == want["labels"], where
                assert (shown["drawn"], shown["drawn_kind"]) == (want["marked"], want["kind"]), where
                assert shown["title"] == want["title"], where
                assert shown["legend"] == want["legend"], where
                kinds.add(shown["drawn_kind"])
                compared += 1
    assert compared == 18 and {"drawn", "u"} <= kinds  # the run's own token and what u / the noise draws elsewhere
