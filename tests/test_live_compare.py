"""The live compare (the page's own component as the notebook's widget) in a real JupyterLab at
1280x800 with the file browser open, driven through Chromium with the same `el.gx` handle as a
saved page."""
import random
from pathlib import Path

import pytest
from lab import browser_page, lab_server, open_and_run_all, require_chromium, write_notebook
from test_live import call as call_at
from test_live import random_settings

import gpt2explore as gx

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).parent / "artifacts"
ROOT = ".jp-OutputArea-output .gx-live.gx-compare"
PROMPTS = ["Hi! My name is Isamu", "Hi! My name is John"]
COLUMNS = """(sel) => { const r = document.querySelector(sel); r.scrollIntoView({block: 'start'});
    const out = r.closest('.jp-OutputArea-output').getBoundingClientRect();
    return {output: out.width, outputLeft: out.left, outputRight: out.right, scroll: r.scrollWidth, client: r.clientWidth,
            files: (document.querySelector('#filebrowser') || {getBoundingClientRect: () => ({width: 0})}).getBoundingClientRect().width,
            columns: Array.from(r.querySelectorAll('.gx-column')).map(c => {
              const b = c.getBoundingClientRect(), svg = c.querySelector('svg.gx-bars').getBoundingClientRect();
              return {left: b.left, right: b.right, top: b.top, width: b.width, svgLeft: svg.left, svgRight: svg.right,
                      head: c.querySelector('.gx-head').textContent, bars: c.querySelectorAll('.gx-bar').length,
                      text: c.querySelector('.gx-text').textContent}; }),
            summary: (r.querySelector('.gx-summary') || {}).textContent || ''}; }"""


def call(page, method: str, arg=None):
    """`el.gx[method](arg)` of the compare, waited for."""
    return call_at(page, method, arg, sel=ROOT)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    require_chromium()
    root = tmp_path_factory.mktemp("lab")
    with lab_server(root, root) as url:
        yield root, url


def test_live_compare_is_exact_side_by_side_and_draws_more_samples(lab, rnd_dir):
    root, url = lab
    ARTIFACTS.mkdir(exist_ok=True)
    write_notebook(root / "compare.ipynb", [
        f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')\n"
        f"c = gx.compare(lm, {PROMPTS!r}, length=5, seed=7, top_k=40)\nc"])
    lm = gx.load(str(rnd_dir), device="cpu")
    run = lm.generate(PROMPTS, nsamples=2, length=5, seed=7, top_k=40)  # sample #1: what "More samples" adds

    def step_of(prompt, number, index):
        return next(s for s in run if s.prompt_index == prompt and s.index == number).steps[index]

    def check(shown, number, settings):
        full = shown["settings"]
        assert shown["error"] is None and shown["exact"] and shown["bound"] == 0, settings
        assert [col["prompt"] for col in shown["columns"]] == PROMPTS
        for i, col in enumerate(shown["columns"]):
            step = step_of(i, number, shown["step"])
            assert col["sample_index"] == number and col["exact"]
            ids = [t["id"] for t in col["tokens"]]
            probs = step.distribution(**full)
            assert [t["p"] for t in col["tokens"]] == pytest.approx(probs[ids].tolist(), abs=1e-6), (i, settings)
            assert col["drawn"] == step.resample(**full), (i, settings)

    rng = random.Random(11)
    with browser_page(width=1280, height=800) as page:
        open_and_run_all(page, url, "compare.ipynb")
        page.wait_for_function(f"() => {{ const r = document.querySelector('{ROOT}'); return r && r.gx; }}",
                               timeout=120_000)
        first = call(page, "ready")
        check(first, 0, {})
        for _ in range(5):
            settings = random_settings(rng)
            check(call(page, "set", dict(settings, step=rng.randrange(5))), 0, settings)
        shown = call(page, "set", {"temperature": 1.0, "top_k": 40, "top_p": 1.0, "min_p": 0.0, "typical_p": 1.0,
                                   "step": 2})
        size = page.evaluate(COLUMNS, ROOT)
        page.screenshot(path=str(ARTIFACTS / "live_compare_lab.png"))
        # More samples: the kernel draws the next sample of every prompt; the selector offers it
        page.locator(f"{ROOT} .gx-more-samples").click()
        page.wait_for_function(f"() => {{ const r = document.querySelector('{ROOT}'); "
                               "return r.gx.data.samples.length === 4 && r.gx.shown().sample === 1; }", timeout=60_000)
        after = call(page, "ready")
        data = page.evaluate(f"() => document.querySelector('{ROOT}').gx.data.samples.map("
                             "s => ({prompt: s.prompt, index: s.index, tokens: s.steps.map(t => t.token)}))")
        options = page.evaluate(f"() => Array.from(document.querySelectorAll('{ROOT} select.gx-sample option'))"
                                ".map(o => o.textContent)")
        check(after, 1, {})
        check(call(page, "set", {"temperature": 0.6, "top_p": 0.8}), 1, {"temperature": 0.6, "top_p": 0.8})
    assert size["files"] > 150 and size["output"] < 1000, size  # the file browser is open: ~953 px for the output
    one, two = size["columns"]
    assert [one["head"], two["head"]] == PROMPTS and one["bars"] >= 12 and two["bars"] >= 12
    assert abs(one["top"] - two["top"]) <= 2 and two["left"] >= one["right"], size  # side by side
    assert size["outputRight"] >= two["right"] - 1 and size["scroll"] <= size["client"] + 1, size  # nothing overflows
    for col in (one, two):
        assert col["svgLeft"] >= col["left"] - 1 and col["svgRight"] <= col["right"] + 1, col
    step = shown["step"]
    js = gx.plots.divergences(step_of(0, 0, step).distribution(**shown["settings"]),
                              step_of(1, 0, step).distribution(**shown["settings"]))["js"]
    assert f"step {step}:" in size["summary"] and f"{js:.3f}" in size["summary"], size["summary"]
    assert one["text"].startswith(PROMPTS[0]) and two["text"].startswith(PROMPTS[1])
    # the new samples are the ones a single call with nsamples=2 gives
    assert [(s["prompt"], s["index"], s["tokens"]) for s in data] == \
        [(s.prompt, s.index, [t.token for t in s.steps]) for s in run]
    assert options == ["sample #0", "sample #1"]


def test_live_gumbel_compare_marks_what_each_columns_noise_draws(lab, rnd_dir):
    """A compare drawn with Gumbel noise is the same component: each column's marked token is the
    kernel's answer, what its step's noise draws under the settings shown, and every word names
    the Gumbel noise, none a u."""
    root, url = lab
    write_notebook(root / "gumbel_compare.ipynb", [
        f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')\n"
        f"c = gx.compare(lm, {PROMPTS!r}, length=5, seed=7, coupling='gumbel')\nc"])
    lm = gx.load(str(rnd_dir), device="cpu")
    run = lm.generate(PROMPTS, nsamples=2, length=5, seed=7, coupling="gumbel")  # sample #1: "More samples"

    def check(shown, settings, number=0):
        full = shown["settings"]
        assert shown["error"] is None and shown["exact"], settings
        for i, col in enumerate(shown["columns"]):
            step = next(s for s in run if s.prompt_index == i and s.index == number).steps[shown["step"]]
            assert col["sample_index"] == number
            assert col["drawn_sure"] and col["drawn"] == step.resample(**full), (i, shown["step"], settings)
            ids = [t["id"] for t in col["tokens"]]
            assert [t["p"] for t in col["tokens"]] == pytest.approx(step.distribution(**full)[ids].tolist(), abs=1e-6)
        return [(col["drawn"], step.token) for col, step in
                zip(shown["columns"], [next(s for s in run if s.prompt_index == i and s.index == number).steps[shown["step"]]
                                       for i in range(2)])]

    rng = random.Random(5)
    marks = []
    with browser_page(width=1280, height=800) as page:
        open_and_run_all(page, url, "gumbel_compare.ipynb")
        page.wait_for_function(f"() => {{ const r = document.querySelector('{ROOT}'); return r && r.gx; }}",
                               timeout=120_000)
        first = call(page, "ready")
        assert [col["drawn"] for col in first["columns"]] == [run[0].steps[0].token, run[2].steps[0].token]
        asked = []
        for _ in range(4):
            settings = dict(random_settings(rng), step=rng.randrange(5))
            asked.append(settings)
            marks.append(check(call(page, "set", settings), settings))
        cold = call(page, "set", {"temperature": 0.05, "top_k": 0, "top_p": 1.0, "step": 3})
        marks.append(check(cold, "cold"))
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "live_gumbel_compare_lab.png"))
        # More samples: the kernel's draws are asked again for the new places of the samples
        page.locator(f"{ROOT} .gx-more-samples").click()
        page.wait_for_function(f"() => {{ const r = document.querySelector('{ROOT}'); "
                               "return r.gx.data.samples.length === 4 && r.gx.shown().sample === 1; }", timeout=60_000)
        for settings in asked[:2]:  # settings asked before: no answer of another sample's noise is reused
            marks.append(check(call(page, "set", settings), settings, number=1))
        text = page.evaluate(f"() => {{ const r = document.querySelector('{ROOT}').cloneNode(true); "
                             "r.querySelectorAll('.gx-text, .gx-head').forEach(t => t.remove()); "
                             "return r.textContent; }")  # the words, without the prompts and texts
        key = page.evaluate(f"() => document.querySelector('{ROOT} .gx-key').textContent")
    assert "Gumbel noise draws under these settings" in key and "the columns share the same Gumbel noise" in key, key
    assert "u=" not in text and "u draws" not in text and "u now draws" not in text and "same draws" not in text, text
    assert "the same Gumbel noise for every prompt" in text
    assert any(drawn != token for m in marks for drawn, token in m), marks  # the noise drew another token somewhere
