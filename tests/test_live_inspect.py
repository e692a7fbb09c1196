"""The live inspector (the page's own component as the notebook's widget) in a real JupyterLab,
driven through Chromium with the same `el.gx` handle as a saved inspect page."""
import random
from pathlib import Path

import pytest
from lab import browser_page, lab_server, open_and_run_all, require_chromium, write_notebook
from test_live import SIZE, call, random_settings

import gpt2explore as gx

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).parent / "artifacts"
ROOT = ".jp-OutputArea-output .gx-live.gx-inspect"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    require_chromium()
    root = tmp_path_factory.mktemp("lab")
    with lab_server(root, root) as url:
        yield root, url


def test_live_inspect_is_decided_everywhere_exact_and_fits_beside_the_file_browser(lab):
    root, url = lab
    ARTIFACTS.mkdir(exist_ok=True)
    text = (gx.data_path("texts") / "mississippi.txt").read_text()[:300]
    write_notebook(root / "inspect.ipynb", [
        "import gpt2explore as gx\nlm = gx.load('tiny', device='cpu')\n"
        "text = (gx.data_path('texts') / 'mississippi.txt').read_text()[:300]\nins = gx.inspect(lm, text, n=12)\nins"])
    steps = gx.load("tiny", device="cpu").score(text)[0].steps
    rng = random.Random(7)
    with browser_page(width=1280, height=800) as page:
        open_and_run_all(page, url, "inspect.ipynb")
        page.wait_for_function(f"() => {{ const r = document.querySelector('{ROOT}'); return r && r.gx; }}",
                               timeout=120_000)
        first = call(page, "ready", sel=ROOT)
        assert first["kind"] == "inspect" and first["live"] and first["exact"] and "maybe" not in first["allowed"]
        both = set()
        for i in range(6):
            settings = random_settings(rng)
            position = rng.randrange(len(steps))
            shown = call(page, "set", dict(settings, step=position), sel=ROOT)
            full = shown["settings"]
            want = [float(s.distribution(**full)[s.token]) for s in steps]
            assert shown["error"] is None and "maybe" not in shown["allowed"], settings
            assert shown["probs"] == want, settings  # Python's numbers, exactly
            assert shown["allowed"] == ["allowed" if p > 0 else "impossible" for p in want], settings
            assert shown["impossible"] == sum(p == 0 for p in want)
            both |= set(shown["allowed"])
            # the bars of the shown position: exact from the kernel's row
            step = steps[position]
            ids = [t["id"] for t in shown["tokens"]]
            assert shown["exact"] and shown["bound"] == 0
            assert [t["p"] for t in shown["tokens"]] == pytest.approx(step.distribution(**full)[ids].tolist(), abs=1e-6)
            assert shown["drawn"] == step.token and shown["drawn_kind"] == "text"
        assert both == {"allowed", "impossible"}
        # the colour modes are the component's own
        shown = call(page, "set", {"colour": "rank"}, sel=ROOT)
        assert shown["colour"] == "rank" and "rank 1-10" in page.inner_text(f"{ROOT} .gx-key")
        call(page, "set", {"colour": "allowed", "top_k": 40, "temperature": 1.0, "top_p": 1.0, "min_p": 0.0,
                           "typical_p": 1.0, "step": 3}, sel=ROOT)
        size = page.evaluate(SIZE, ROOT)
        page.locator(ROOT).screenshot(path=str(ARTIFACTS / "live_inspect.png"))
        page.screenshot(path=str(ARTIFACTS / "live_inspect_lab.png"))
    assert size["files"] > 150  # the file browser is open
    assert size["scroll"] <= size["client"] + 1 and size["width"] <= size["output"] + 1, size
    assert size["height"] <= 720, size


IN_VIEW = """(sel) => { const t = document.querySelector(sel + ' .gx-text'), c = t.querySelector('.gx-current');
    const a = t.getBoundingClientRect(), b = c.getBoundingClientRect(), note = document.querySelector(sel + ' .gx-scroll-note');
    return {scrolls: t.scrollHeight > t.clientHeight, top: t.scrollTop, inside: b.top >= a.top - 1 && b.bottom <= a.bottom + 1,
            lines: t.clientHeight / parseFloat(getComputedStyle(t).lineHeight), note: note ? note.textContent : null}; }"""


def test_a_long_texts_inspect_scrolls_its_text_and_keeps_the_bars_on_screen(lab):
    """A text of a few paragraphs scrolls inside the widget (which stays within 720 px, its bars on
    a 1280x800 screen); choosing a position shows its token, and a redraw keeps the text's place."""
    root, url = lab
    write_notebook(root / "long.ipynb", [
        "import gpt2explore as gx\nlm = gx.load('tiny', device='cpu')\n"
        "text = (gx.data_path('texts') / 'mississippi.txt').read_text()\nins = gx.inspect(lm, text, n=12)\nins"])
    with browser_page(width=1280, height=800) as page:
        open_and_run_all(page, url, "long.ipynb")
        page.wait_for_function(f"() => {{ const r = document.querySelector('{ROOT}'); return r && r.gx; }}",
                               timeout=120_000)
        first = call(page, "ready", sel=ROOT)
        last = len(first["allowed"]) - 1
        call(page, "set", {"step": last}, sel=ROOT)
        seen = page.evaluate(IN_VIEW, ROOT)
        assert seen["scrolls"] and seen["top"] > 0 and seen["inside"], seen
        # whole lines shown (none cut in half), and the text says it scrolls, with how much is shown
        assert abs(seen["lines"] - round(seen["lines"])) < 0.05 and seen["note"].startswith("↕ the text scrolls: 6 of"), seen
        call(page, "set", {"temperature": 0.7}, sel=ROOT)  # a redraw: the text keeps its place
        again = page.evaluate(IN_VIEW, ROOT)
        assert again["inside"] and again["top"] == seen["top"], (seen, again)
        call(page, "set", {"step": 0}, sel=ROOT)
        assert page.evaluate(IN_VIEW, ROOT)["inside"]
        size = page.evaluate(SIZE, ROOT)
    assert size["height"] <= 720 and size["scroll"] <= size["client"] + 1, size
