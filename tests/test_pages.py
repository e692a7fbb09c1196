"""Living figures: pages saved from the explorer, compare and inspect open from file:// with
the network blocked, and show what Python computes: exactly where they say so, within the
bound they prove elsewhere, and the run's own token at its own settings."""
from __future__ import annotations

import json
import math
import random
import re

import pytest
from lab import CHROME_FLAGS, require_chromium

import gpt2explore as gx
from gpt2explore.files import page as pages
from gpt2explore.views import page as page_view

pytestmark = pytest.mark.browser

PROMPTS = ["Hi! My name is Isamu", "Hi! My name is John"]
SHOWN = "() => document.querySelector('.gx-page').gx.shown()"
SET = "async ([i, o]) => await document.querySelectorAll('.gx-page')[i].gx.set(o)"


@pytest.fixture(scope="module")
def tiny():
    return gx.load("tiny", device="cpu")


@pytest.fixture(scope="module")
def run(tiny):
    """Two samples of 64 steps: the size the issue names."""
    return tiny.generate(PROMPTS, length=64, seed=1)


@pytest.fixture(scope="module")
def penalised(tiny):
    """A run that uses the context stages and epsilon, so its page offers them."""
    return tiny.generate(PROMPTS[1], length=40, seed=3, temperature=0.8, repetition_penalty=1.3,
                         no_repeat_ngram_size=3, epsilon_cutoff=0.0005)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=require_chromium(), args=CHROME_FLAGS)
        try:
            yield b
        finally:
            b.close()


class Opened:
    """A page in Chromium with every request but file:// refused, and what it said."""

    def __init__(self, browser, path):
        self.page = browser.new_page(viewport={"width": 1000, "height": 1000})
        self.errors, self.requests = [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)
        self.page.goto(path.as_uri())
        self.page.wait_for_function("[...document.querySelectorAll('.gx-page')].every(e => e.gx)")

    def _route(self, route):
        if route.request.url.startswith("file://"):
            return route.continue_()
        self.requests.append(route.request.url)
        return route.abort()

    def set(self, settings, index: int = 0) -> dict:
        return self.page.evaluate(SET, [index, settings])

    def shown(self, index: int = 0) -> dict:
        return self.page.evaluate(f"() => document.querySelectorAll('.gx-page')[{index}].gx.shown()")

    def close(self, allowed=()):
        """No console error and no request, but for those of `allowed` hosts (and their failing loads)."""
        outside = [r for r in self.requests if not any(host in r for host in allowed)]
        assert not outside, outside
        if not allowed:
            assert not self.errors, self.errors
        else:
            assert all("Failed to load resource" in e for e in self.errors), self.errors
        self.page.close()


def _random_settings(rng, offered) -> dict:
    s = {"temperature": rng.choice([0, 1, round(rng.uniform(0.05, 3), 2), round(rng.uniform(0.3, 1.5), 2)]),
         "top_k": rng.choice([0, 0, rng.randint(1, 200), rng.randint(1, 10)]),
         "top_p": rng.choice([1.0, round(rng.uniform(0.05, 1), 2)]),
         "semantics": rng.choice(["hf", "hf", "openai"])}
    hf = s["semantics"] == "hf"
    s["min_p"] = rng.choice([0.0, 0.0, round(rng.uniform(0, 0.5), 2)]) if hf else 0.0
    extra = {"repetition_penalty": (1.0, lambda: round(rng.uniform(0.5, 2), 2)),
             "no_repeat_ngram_size": (0, lambda: rng.randint(1, 4)),
             "epsilon_cutoff": (0.0, lambda: round(rng.uniform(0, 0.01), 4)),
             "eta_cutoff": (0.0, lambda: round(rng.uniform(0, 0.01), 4)),
             "typical_p": (1.0, lambda: round(rng.uniform(0.2, 1), 2))}
    for name, (off, draw) in extra.items():
        if name in offered:
            s[name] = draw() if hf and rng.random() < 0.6 else off
    return s


def _check_against_python(step, shown, settings) -> None:
    """Every shown probability within 1e-6 of Python where the page says exact, within its
    bound elsewhere, and Python's value inside the interval the page proves; a draw the page
    calls decided is Python's."""
    py = step.distribution(**settings)
    tol = 1e-6 if shown["exact"] else shown["bound"] + 1e-12
    for t in shown["tokens"]:
        want = float(py[t["id"]])
        assert abs(t["p"] - want) <= tol, (settings, t, want, shown["exact"], shown["bound"])
        assert t["lo"] - 1e-12 <= want <= t["hi"] + 1e-12, (settings, t, want)
    if shown.get("drawn_sure", True) and shown["drawn"] is not None:
        assert shown["drawn"] == step.resample(**settings), settings


@pytest.fixture(scope="module")
def explorer_page(run, tmp_path_factory):
    path = tmp_path_factory.mktemp("pages") / "explorer.html"
    gx.save(gx.explore(run), path)
    return path


def test_a_page_is_one_offline_file_of_at_most_1_5_mb(explorer_page):
    text = explorer_page.read_text()
    assert text.startswith("<!DOCTYPE html>") and 'class="gx-page gx-explorer"' in text
    assert len(text.encode()) <= 1.5 * 1024 * 1024, len(text.encode())
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "a page loads nothing from outside"
    assert json.loads((explorer_page.parent / "explorer.html.json").read_text())["format"] == "html page"


def test_the_explorer_page_shows_pythons_numbers_at_40_random_settings(browser, run, explorer_page):
    opened = Opened(browser, explorer_page)
    rng = random.Random(7)
    offered = [s["name"] for s in pages.data_of(run)["samplers"]]
    kinds = {"exact": 0, "bounded": 0}
    for _ in range(40):
        settings = _random_settings(rng, offered)
        si, st = rng.randrange(len(run)), rng.randrange(64)
        shown = opened.set(dict(settings, sample=si, step=st))
        assert shown["error"] is None and shown["sample"] == si and shown["step"] == st
        _check_against_python(run[si].steps[st], shown, settings)
        kinds["exact" if shown["exact"] else "bounded"] += 1
        assert shown["exact"] or 0 < shown["bound"] < 0.05, shown["bound"]  # a bound worth having
    assert kinds["exact"] >= 10 and kinds["bounded"] >= 5, kinds  # both kinds of answer were checked
    opened.close()


def test_at_the_runs_own_settings_every_step_draws_the_runs_token(browser, run, explorer_page):
    opened = Opened(browser, explorer_page)
    for si, sample in enumerate(run):
        for st, step in enumerate(sample.steps):
            shown = opened.set(dict(step.settings.as_dict(), sample=si, step=st))
            assert shown["own"] and shown["exact"], (si, st)
            assert shown["drawn"] == step.token and shown["drawn_kind"] == "drawn", (si, st)
            top = {t["id"]: t["p"] for t in shown["tokens"]}
            py = step.distribution()
            assert all(abs(p - float(py[i])) <= 1e-12 for i, p in top.items())
    opened.close()


def test_the_context_stages_and_epsilon_follow_python_too(browser, penalised, tmp_path):
    path = gx.save(gx.explore(penalised), tmp_path / "penalised.html")
    offered = [s["name"] for s in pages.data_of(penalised)["samplers"]]
    assert {"repetition_penalty", "no_repeat_ngram_size", "epsilon_cutoff"} <= set(offered)
    opened = Opened(browser, path)
    rng = random.Random(11)
    for _ in range(20):
        settings = _random_settings(rng, offered)
        st = rng.randrange(len(penalised[0]))
        shown = opened.set(dict(settings, step=st))
        _check_against_python(penalised[0].steps[st], shown, settings)
    own = penalised[0].steps[5]
    assert opened.set(dict(own.settings.as_dict(), step=5))["drawn"] == own.token
    opened.close()


@pytest.mark.parametrize("name, used, values", [
    ("eta_cutoff", 0.0008, lambda rng: rng.choice([0.0002, 0.0008, 0.003, round(rng.uniform(0, 0.01), 4)])),
    ("typical_p", 0.9, lambda rng: rng.choice([0.2, 0.5, 0.9, 0.95, round(rng.uniform(0.05, 1), 2)]))])
def test_the_samplers_that_read_the_entropy_follow_python_within_their_bound(browser, tiny, tmp_path, name, used,
                                                                             values):
    """eta's threshold min(eta, sqrt(eta) exp(-H)) and typical's order |surprisal - H| need the
    entropy, which the page bounds from what it stores: where no token's fate depends on where in
    its bounds the entropy lies, the step is decided."""
    run = tiny.generate(PROMPTS[0], length=30, seed=4, **{name: used})
    opened = Opened(browser, gx.save(gx.explore(run), tmp_path / f"{name}.html"))
    for st, step in enumerate(run[0].steps):
        shown = opened.set(dict(step.settings.as_dict(), step=st))
        assert shown["exact"] and shown["drawn"] == step.token, st
    rng = random.Random(5)
    kinds = {"exact": 0, "bounded": 0}
    for _ in range(30):
        settings = dict(_random_settings(rng, []), semantics="hf", **{name: values(rng)})
        st = rng.randrange(30)
        shown = opened.set(dict(settings, step=st))
        _check_against_python(run[0].steps[st], shown, settings)
        kinds["exact" if shown["exact"] else "bounded"] += 1
        assert shown["exact"] or shown["bound"] < 0.05, (settings, shown["bound"])
    assert kinds["exact"] >= 5, kinds
    opened.close()


def test_two_fragments_on_one_page_keep_their_own_state(browser, run, penalised, tmp_path):
    a = tmp_path / "a.html"
    b = tmp_path / "b.html"
    gx.save(gx.explore(run), a, embed=True)
    gx.save(gx.explore(penalised), b, embed=True)
    for f in (a, b):
        text = f.read_text()
        assert "<html" not in text and "<head" not in text and text.startswith('<div class="gx-page gx-explorer"')
    post = tmp_path / "post.html"
    post.write_text(f"<!DOCTYPE html><html><body><h1>A post</h1><p>Move the sliders.</p>{a.read_text()}"
                    f"<p>And another.</p>{b.read_text()}</body></html>")
    opened = Opened(browser, post)
    first, second = opened.shown(0), opened.shown(1)
    moved = opened.set({"temperature": 0.5, "step": 3}, index=0)
    assert moved["settings"]["temperature"] == 0.5 and moved["step"] == 3
    again = opened.shown(1)
    assert again["settings"] == second["settings"] and again["step"] == second["step"] == 0
    assert again["tokens"] == second["tokens"]
    assert opened.shown(0)["tokens"] != first["tokens"]
    _check_against_python(run[0].steps[3], moved, dict(run[0].steps[3].settings.as_dict(), temperature=0.5))
    opened.close()


def test_the_compare_page_answers_set_and_shown_column_by_column(browser, tiny, tmp_path):
    comparer = gx.compare(tiny, PROMPTS, nsamples=2, length=16, seed=2)
    path = gx.save(comparer, tmp_path / "compare.html")
    assert 'class="gx-page gx-compare"' in path.read_text()
    opened = Opened(browser, path)
    run = comparer.run
    rng = random.Random(5)
    for _ in range(8):
        settings = _random_settings(rng, ["temperature", "top_k", "top_p", "min_p"])
        number, st = rng.randrange(2), rng.randrange(16)
        shown = opened.set(dict(settings, sample=number, step=st))
        assert [c["prompt"] for c in shown["columns"]] == PROMPTS
        for column in shown["columns"]:
            sample = next(s for s in run if s.prompt == column["prompt"] and s.index == column["sample_index"])
            assert column["sample_index"] == number
            _check_against_python(sample.steps[st], column, settings)
    opened.close()


def test_a_saved_compare_page_opens_where_the_widget_is_and_says_how_the_columns_differ(browser, tiny, tmp_path):
    """The page opens at the widget's sample and step; its summary line is the live widget's (the
    kernel's words at the page's starting settings), and at other settings it says it has none."""
    from gpt2explore.views.compare import summary_html

    comparer = gx.compare(tiny, PROMPTS, nsamples=2, length=8, seed=2)
    comparer.sample_select.value = comparer.sample_select.options[1]
    comparer.step_slider.value = 5
    path = gx.save(comparer, tmp_path / "compare.html")
    opened = Opened(browser, path)
    shown = opened.shown()
    assert shown["step"] == 5 and {c["sample_index"] for c in shown["columns"]} == {1}
    said = opened.page.inner_text(".gx-summary")
    columns = [s for s in comparer.run if s.index == 1]
    want = summary_html([c.steps[5] for c in columns], PROMPTS, comparer.settings, "cdf", comparer.run.seed, 5)
    assert said == re.sub(r"<[^>]+>", "", want).replace("&#x27;", "'") and "Jensen–Shannon" in said, said
    opened.set({"temperature": 0.5})
    assert "stored for the settings the page opened with only" in opened.page.inner_text(".gx-summary")
    opened.close()


def test_the_inspect_page_recolours_the_text_as_python_would(browser, tiny, tmp_path):
    text = (gx.data_path("texts") / "mississippi.txt").read_text()[:400]
    inspector = gx.inspect(tiny, text)
    path = gx.save(inspector, tmp_path / "inspect.html")
    opened = Opened(browser, path)
    sample = inspector.run[0]
    for settings in ({"top_k": 10}, {"top_p": 0.5, "temperature": 0.7}, {"min_p": 0.2}):
        full = dict(sample.steps[0].settings.as_dict(), **settings)
        shown = opened.set(dict(full, step=4))
        _check_against_python(sample.steps[4], dict(shown, drawn=None), full)
        assert shown["drawn"] == sample.steps[4].token and shown["drawn_kind"] == "text"
        decided = 0
        for step, state, p in zip(sample.steps, shown["allowed"], shown["probs"]):
            want = float(step.distribution(**full)[step.token])
            if state != "maybe":
                decided += 1
                assert (state == "allowed") == (want > 0), (settings, step.index, state, want)
        assert decided >= len(sample.steps) * 0.9
        assert any(s == "impossible" for s in shown["allowed"]) and any(s == "allowed" for s in shown["allowed"])
        bad = shown["allowed"].count("impossible")
        readout = opened.page.inner_text(".gx-readout")
        assert readout.startswith(f"{bad} of {len(sample.steps)} tokens impossible under"), readout
    # a scored text has no run: the page says so in its own words; a cut text token's legend says it is cut
    assert opened.page.inner_text(".gx-reset") == "the starting settings"
    assert "the run" not in opened.page.inner_text(".gx-note")
    cut_at = next(i for i, s in enumerate(sample.steps) if s.rank0 >= 10)
    opened.set(dict(sample.steps[0].settings.as_dict(), top_k=10, step=cut_at))
    assert "the text's token: cut (×)" in opened.page.inner_text(".gx-figure")
    opened.close()


def test_draw_100_times_overlays_fresh_draws_from_the_distribution_shown(browser, explorer_page):
    opened = Opened(browser, explorer_page)
    opened.set({"top_k": 5, "temperature": 1.0, "step": 2})
    draws = opened.page.evaluate("async () => await document.querySelector('.gx-page').gx.draw(100)")
    kept = {t["id"] for t in opened.shown()["tokens"] if t["p"] > 0}
    assert draws["total"] == 100 and sum(draws["counts"].values()) + draws["elsewhere"] == 100
    assert draws["elsewhere"] == 0 and {int(i) for i in draws["counts"]} <= kept  # top-k 5: only the five
    assert opened.page.locator(".gx-draws").count() >= 1
    opened.close()


@pytest.mark.parametrize("family", ["llama", "qwen2", "gpt_neox"])
def test_pages_of_other_families_replay_and_show_pythons_numbers(browser, family, tmp_path):
    """A random Llama, Qwen2 and GPT-NeoX model: the explorer page re-draws every step's token at
    the run's own settings and shows Python's numbers at 12 random settings; the inspect page
    colours the text as Python would."""
    from helpers import make_random_causal

    flm = gx.load(str(make_random_causal(tmp_path / family, family)), device="cpu")
    run = flm.generate(PROMPTS, length=12, seed=2, top_k=50)
    opened = Opened(browser, gx.save(gx.explore(run), tmp_path / "explorer.html"))
    for si, sample in enumerate(run):
        for st, step in enumerate(sample.steps):
            shown = opened.set(dict(step.settings.as_dict(), sample=si, step=st))
            assert shown["exact"] and shown["drawn"] == step.token, (family, si, st)
    rng = random.Random(3)
    for _ in range(12):
        settings = _random_settings(rng, [])
        si, st = rng.randrange(len(run)), rng.randrange(12)
        _check_against_python(run[si].steps[st], opened.set(dict(settings, sample=si, step=st)), settings)
    opened.close()
    inspector = gx.inspect(flm, "Hi! My name is Isamu and I like the cat")
    opened = Opened(browser, gx.save(inspector, tmp_path / "inspect.html"))
    full = dict(inspector.run[0].steps[0].settings.as_dict(), top_k=3)
    shown = opened.set(full)
    for step, state in zip(inspector.run[0].steps, shown["allowed"]):
        assert state != "maybe" and (state == "allowed") == (step.rank0 < 3), (family, step.index, state)
    opened.close()


def test_settings_that_cannot_go_together_or_bad_values_are_refused_in_one_line(browser, explorer_page):
    opened = Opened(browser, explorer_page)
    shown = opened.page.evaluate("""async () => {
        const el = document.querySelector('.gx-page');
        const errors = [];
        for (const o of [{top_p: 0}, {top_k: 1.5}, {temperature: -1}, {nope: 1}, {semantics: 'openai', min_p: 0.1}]) {
            try { await el.gx.set(o); errors.push(null); } catch (e) { errors.push(e.message); }
        }
        return errors;
    }""")
    assert "top_p must be in (0, 1]" in shown[0] and "top_k must be an integer" in shown[1]
    assert "temperature must be" in shown[2] and "unknown setting 'nope'" in shown[3]
    assert "semantics='openai'" in shown[4] and "min_p=0.1" in shown[4]
    opened.close()


def test_a_run_the_browser_cannot_compute_is_refused_naming_what(tiny, tmp_path):
    from gpt2explore.core import registry

    def top_a(logits, a):  # a sampler of the user's own: Python the page cannot run
        p = logits.softmax(-1)
        return logits.masked_fill(p < a * p.max(-1, keepdim=True).values ** 2, float("-inf"))

    registry.register_sampler("top_a", top_a, off=0.0, range=(0.0, 1.0), label="top-a")
    try:
        typical = tiny.generate("Hi", length=3, seed=1, top_a=0.2)
        with pytest.raises(page_view.PageError, match="top_a"):
            gx.save(gx.explore(typical), tmp_path / "t.html")
    finally:
        registry.unregister_sampler("top_a")
    assert not (tmp_path / "t.html").exists()
    bare = tiny.generate("Hi", length=3, seed=1, keep_logits="none")
    with pytest.raises(page_view.PageError, match="keep_logits"):
        gx.page(bare)
    with pytest.raises(ValueError, match="embed=True"):
        gx.save(gx.next_token_bars(typical[0].steps[0]), tmp_path / "f.png", embed=True)


def test_the_page_data_round_trips_the_exact_logits(run):
    step = run[1].steps[7]
    data = page_view.step_data(step, ["temperature", "top_k", "top_p", "min_p"], {})
    ids = page_view.unb64(data["ids"], "int32")
    logits = page_view.unb64(data["logits"], "float32")
    assert list(ids[:256]) == step.logits.topk(256).indices.tolist() and step.token in ids
    assert all(float(step.logits[i]) == float(v) for i, v in zip(ids, logits))
    tail = {k: page_view.unb64(v, "int32" if k == "n" else "float32" if k in ("lo", "hi") else "float64")
            for k, v in data["tail"].items()}
    assert int(tail["n"].sum()) + len(ids) == step.logits.shape[-1]
    total = sum(float(s) * math.exp(float(h)) for s, h in zip(tail["s"], tail["hi"]))
    rest = step.logits.double().exp().sum() - step.logits.double()[list(ids)].exp().sum()
    assert abs(total - float(rest)) <= 1e-9 * float(rest)  # the groups hold the tail's exact mass at T=1


def test_notebook_01_converted_to_html_keeps_a_live_explorer(browser, tiny, tmp_path):
    """The nbconvert route: executed without storing widget state (as a notebook saved from
    JupyterLab is), converted to HTML, the explorer's page fragment is what a reader gets."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(_notebook("01_quickstart.ipynb"), as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    body, _ = HTMLExporter().from_notebook_node(nb)
    path = tmp_path / "01_quickstart.html"
    path.write_text(body)
    opened = Opened(browser, path)
    assert opened.page.locator(".gx-explorer").count() == 1
    run = tiny.generate("Hi! My name is", nsamples=3, length=20, seed=1, top_k=40)  # the notebook's run
    first = opened.shown()
    assert first["drawn"] == run[0].steps[0].token and first["drawn_kind"] == "drawn"
    settings = dict(run[0].steps[0].settings.as_dict(), temperature=0.5, top_k=10)
    shown = opened.set(dict(settings, sample=1, step=6))
    _check_against_python(run[1].steps[6], shown, settings)
    opened.close(allowed=NBCONVERT_CDNS)  # nbconvert's own template asks for require.js and MathJax


NBCONVERT_CDNS = ("cdnjs.cloudflare.com", "cdn.jsdelivr.net", "unpkg.com")


def _notebook(name):
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "notebooks" / name


def test_a_page_starts_at_the_widgets_settings_and_offers_what_they_use(run):
    explorer = gx.explore(run)
    explorer.controls["temperature"].value = 0.7
    explorer.controls["repetition_penalty"].value = 1.3
    data = pages.data_of(explorer)
    assert data["start"]["temperature"] == 0.7 and data["start"]["repetition_penalty"] == 1.3
    assert "repetition_penalty" in [s["name"] for s in data["samplers"]]
    step = run[0].steps[10]
    stored = set(page_view.unb64(data["samples"][0]["steps"][10]["ids"], "int32").tolist())
    assert set(step.context_tokens) <= stored  # the penalty moves only stored tokens
    explorer.controls["typical_p"].value = 0.9  # every built-in sampler is computed in the page
    data = pages.data_of(explorer)
    assert data["start"]["typical_p"] == 0.9 and "typical_p" in [s["name"] for s in data["samplers"]]
    from gpt2explore.core import registry

    registry.register_sampler("top_a", lambda logits, a: logits, off=0.0, range=(0.0, 1.0), label="top-a")
    try:  # a sampler of the user's own is Python the page cannot run
        own = gx.explore(run)
        own.controls["top_a"].value = 0.2
        with pytest.raises(page_view.PageError, match="top_a=0.2"):
            pages.data_of(own)
    finally:
        registry.unregister_sampler("top_a")


def test_a_prompt_that_looks_like_markup_stays_text(browser, tiny, tmp_path):
    prompt = 'Hi </script><!-- <script>alert(1)</script> <b>bold</b> "quoted" & more'
    path = gx.save(tiny.generate(prompt, length=3, seed=1), tmp_path / "markup.html")
    opened = Opened(browser, path)
    assert opened.page.locator(".gx-prompt").inner_text() == prompt
    assert opened.page.locator(".gx-page b:has-text('bold')").count() == 0
    assert opened.shown()["drawn_kind"] == "drawn"
    opened.close()


@pytest.mark.parametrize("temperature", [1e15, 1e16, 1e300])
def test_huge_temperatures_tie_in_float64_and_the_page_follows_python_or_says_approximate(browser, run, explorer_page,
                                                                                           temperature):
    """At T >= 1e15 the stored tokens' probabilities tie exactly in float64 although their
    logits differ: Python orders ties by the lower id first; the page shows Python's numbers
    and draw, or says its answer is not exact."""
    opened = Opened(browser, explorer_page)
    checked = 0
    for top_k, top_p in ((10, 0.9), (201, 1.0), (0, 0.5), (3, 1.0), (40, 0.95)):
        settings = dict(temperature=temperature, top_k=top_k, top_p=top_p, semantics="hf")
        for si, st in ((0, 0), (0, 5), (1, 17), (1, 40)):
            shown = opened.set(dict(settings, sample=si, step=st))
            assert shown["error"] is None
            step = run[si].steps[st]
            _check_against_python(step, shown, settings)
            if shown["exact"]:  # where exact, the tokens kept are Python's too
                py = step.distribution(**settings)
                assert [t["p"] > 0 for t in shown["tokens"]] == [bool(py[t["id"]] > 0) for t in shown["tokens"]]
            checked += 1
    assert checked == 20
    opened.close()


def test_every_approximate_interval_holds_pythons_value_without_tolerance(browser, run, explorer_page):
    """Where the page is approximate it proves an interval [lo, hi] for each probability: the
    float rounding of its own sums and of Python's never leaves Python's value outside it."""
    opened = Opened(browser, explorer_page)
    rng = random.Random(5)
    offered = [s["name"] for s in pages.data_of(run)["samplers"]]
    approximate, tokens = 0, 0
    for _ in range(600):  # half of them at temperatures where the probabilities nearly or exactly tie
        settings = _random_settings(rng, offered)
        if rng.random() < 0.5:
            settings["temperature"] = rng.choice([1e15, 1e16, 1e300, round(rng.uniform(3, 50), 1), 1e5, 1e10])
        si, st = rng.randrange(len(run)), rng.randrange(64)
        shown = opened.set(dict(settings, sample=si, step=st))
        assert shown["error"] is None
        if shown["exact"] or shown["bound"] >= 1:
            continue
        py = run[si].steps[st].distribution(**settings)
        for t in shown["tokens"]:
            want = float(py[t["id"]])
            assert t["lo"] <= want <= t["hi"], (settings, si, st, t, want)
            tokens += 1
        approximate += 1
    assert approximate >= 150 and tokens >= 1500, (approximate, tokens)  # enough approximate answers were checked
    opened.close()
