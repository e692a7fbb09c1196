"""The widgets in a real JupyterLab, driven through Chromium: bars change as the sliders say."""
import json
import statistics
import time
from pathlib import Path

import pytest
import torch
from helpers import bars_expected
from lab import browser_page, lab_server, open_and_run_all, require_chromium, write_notebook

import gpt2explore as gx

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).parent / "artifacts"
SLIDER = ".widget-slider:has(.widget-label:text-is('{}'))"


def wait_for_bars(page, index, expected, timeout=30_000, tol=1e-6):
    """Wait for the settled state: plot `index` shows `expected` (within tol), not merely a first
    change, so a redraw that lags behind the control is never read as the answer."""
    page.wait_for_function(
        "([i, want, tol]) => { const p = document.querySelectorAll('.js-plotly-plot')[i];"
        " if (!p || !p.data || !p.data[1]) return false; const y = Array.from(p.data[1].y);"
        " return y.length === want.length && y.every((v, k) => Math.abs(v - want[k]) <= tol); }",
        arg=[index, [float(v) for v in expected], tol], timeout=timeout, polling=5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One JupyterLab for the module's tests (each opens its own notebooks, in a workspace and
    a kernel of their own, in a browser of its own): (root folder, base URL)."""
    require_chromium()
    root = tmp_path_factory.mktemp("lab")
    with lab_server(root, root) as url:
        yield root, url


STEPPER = ".jp-OutputArea-output .gx-live.gx-stepper"


def shown_when(page, condition: str, timeout: int = 60_000) -> dict:
    """The stepper's `el.gx.shown()` once `condition` (JS on `s`, the shown state) holds: the
    settled state asked for, not merely a first change."""
    probe = f"() => {{ const r = document.querySelector('{STEPPER}'); if (!r || !r.gx) return false;" \
            f" const s = r.gx.shown(); return ({condition}) ? s : false; }}"
    return page.wait_for_function(probe, timeout=timeout, polling=5).json_value()


def shown_probs(shown) -> tuple[list[int], list[float]]:
    return [t["id"] for t in shown["tokens"]], [t["p"] for t in shown["tokens"]]


def test_stepper_slider_and_next_in_jupyterlab(lab, rnd_dir):
    """The stepper (the page's own component) follows its temperature slider in the browser,
    exact from the kernel's row, and its Next button draws what the session draws."""
    root, url = lab
    ARTIFACTS.mkdir(exist_ok=True)
    write_notebook(root / "widgets.ipynb", [
        f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')\n"
        "st = gx.stepper(lm, 'Hi! My name is', seed=3, n=10)\nst",
    ])
    lm = gx.load(str(rnd_dir), device="cpu")
    session = lm.session("Hi! My name is", seed=3)
    with browser_page() as page:
        open_and_run_all(page, url, "widgets.ipynb")
        before = shown_when(page, "s.live && s.exact && s.own", timeout=120_000)
        ids, probs = shown_probs(before)
        assert probs == pytest.approx(session.next_step.distribution()[ids].tolist(), abs=1e-6)

        # move the temperature slider down step by step; the bars follow, exact
        slider = page.locator(f"{STEPPER} input[data-name=temperature]")
        latencies = []
        for k in range(6):
            want = round(1.0 - 0.05 * (k + 1), 2)
            t0 = time.perf_counter()
            # one step down, as an arrow key moves a range input (JupyterLab keeps the arrow keys)
            slider.evaluate("i => { i.stepDown(); i.dispatchEvent(new Event('input', {bubbles: true})); }")
            shown = shown_when(page, f"Math.abs(s.settings.temperature - {want}) < 1e-9 && s.exact")
            latencies.append((time.perf_counter() - t0) * 1000)
            ids, probs = shown_probs(shown)
            assert probs == pytest.approx(session.next_step.distribution(temperature=want)[ids].tolist(), abs=1e-6)
        session.set(temperature=0.7)
        assert shown["drawn"] == session.next_step.token

        # one click on Next: the kernel draws at the slider's temperature, as the session does
        page.locator(f"{STEPPER} button.gx-next").click()
        after = shown_when(page, "s.generated.length === 1 && s.exact")
        (drawn,) = session.step()
        assert after["generated"] == [drawn.token] and after["text"] == session.text
        ids, probs = shown_probs(after)
        assert probs == pytest.approx(session.next_step.distribution()[ids].tolist(), abs=1e-6)
        page.screenshot(path=str(ARTIFACTS / "browser_widgets.png"), full_page=True)
    (ARTIFACTS / "browser_latency.json").write_text(json.dumps(
        {"slider_to_bars_ms": latencies, "median_ms": statistics.median(latencies)}, indent=2))


def test_quickstart_notebook_renders_bars_in_jupyterlab(lab):
    root, url = lab
    import shutil

    from test_notebooks import NOTEBOOKS

    shutil.copy(NOTEBOOKS / "01_quickstart.ipynb", root / "01_quickstart.ipynb")
    lm = gx.load("tiny", device="cpu")
    step = lm.generate("Hi! My name is", nsamples=3, length=20, seed=1, top_k=40)[0].steps[0]
    with browser_page() as page:
        open_and_run_all(page, url, "01_quickstart.ipynb")
        root_sel = ".jp-OutputArea-output .gx-live.gx-explorer"
        page.wait_for_function(f"() => {{ const r = document.querySelector('{root_sel}'); return r && r.gx; }}",
                               timeout=120_000)
        page.evaluate(f"() => {{ window.__s = null; document.querySelector('{root_sel}').gx.ready()"
                      f".then(s => {{ window.__s = s; }}); }}")
        page.wait_for_function("() => window.__s", timeout=60_000)
        bars = [t["p"] for t in page.evaluate("() => window.__s")["tokens"]]
        assert bars == pytest.approx(bars_expected(step, 20, top_k=40), abs=1e-6)
        assert sum(1 for y in bars if y > 0) == 40  # top_k=40: the bars reach the first cut token
        page.screenshot(path=str(ARTIFACTS / "browser_quickstart.png"), full_page=True)


COLUMN_BOXES = """() => Array.from(document.querySelectorAll('.gx-live.gx-compare .gx-column')).map(c => {
    const svg = c.querySelector('svg.gx-bars'), r = svg.getBoundingClientRect(), col = c.getBoundingClientRect();
    const cell = c.closest('.jp-OutputArea-output').getBoundingClientRect();
    const title = svg.querySelector('.gx-title').getBoundingClientRect();
    return {left: r.left, right: r.right, top: col.top, width: r.width,
            titleLeft: title.left, titleRight: title.right, colLeft: col.left, colRight: col.right, colWidth: col.width,
            cellRight: cell.right, bars: c.querySelectorAll('.gx-bar').length}; })"""
COLUMNS_DRAWN = ("(n) => { const cols = document.querySelectorAll('.gx-live.gx-compare .gx-column');"
                 " return cols.length >= n && Array.from(cols).every(c => c.querySelectorAll('.gx-bar').length >= 12); }")


def test_compare_columns_fit_their_cell_with_the_file_browser_open(lab, rnd_dir):
    """Item 6: each plot lies inside its column, columns start at the same height, and a third
    prompt wraps onto a new row instead of squeezing the others."""
    root, url = lab
    ARTIFACTS.mkdir(exist_ok=True)
    write_notebook(root / "compare.ipynb", [
        f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')",
        "gx.compare(lm, ['Hi! My name is Isamu', 'Hi! My name is John'], length=4, seed=1, top_k=40)",
        "gx.compare(lm, ['Hi! My name is Isamu', 'Hi! My name is John', 'Hi! My name is Maria'], length=4, seed=1)",
    ])
    with browser_page() as page:
        open_and_run_all(page, url, "compare.ipynb")
        page.wait_for_function(COLUMNS_DRAWN, arg=5, timeout=120_000)
        page.wait_for_timeout(500)
        browser_width = page.evaluate("document.querySelector('#filebrowser').getBoundingClientRect().width")
        assert browser_width > 150  # the file browser is open
        area = page.evaluate("document.querySelector('.jp-OutputArea-output').getBoundingClientRect().width")
        boxes = page.evaluate(COLUMN_BOXES)
        page.screenshot(path=str(ARTIFACTS / "browser_compare.png"), full_page=True)
    assert len(boxes) == 5
    for b in boxes:
        assert b["width"] <= b["colWidth"] + 1, b  # the plot is drawn no wider than its column
        assert b["left"] >= b["colLeft"] - 1 and b["right"] <= b["colRight"] + 1, b
        assert b["colRight"] <= b["cellRight"] + 1, b  # the column fits the cell
        assert b["bars"] >= 12  # every bar drawn (and the marked tokens, if beyond the 12)
        assert b["titleLeft"] >= b["left"] - 1 and b["titleRight"] <= b["right"] + 1, b  # title not clipped
    two, three = boxes[:2], boxes[2:]
    assert abs(two[0]["top"] - two[1]["top"]) <= 2 and two[1]["left"] > two[0]["right"]  # side by side
    # the two columns share the output area beside the file browser (at 1280x800, narrower still, they
    # stand side by side too: tests/test_live_compare.py)
    assert area >= two[1]["colRight"] - two[0]["colLeft"] and area <= 1000
    assert abs(three[0]["top"] - three[1]["top"]) <= 2
    assert three[2]["top"] > three[0]["top"] + 100  # the third prompt wraps onto a new row


def test_clicking_a_bar_in_the_stepper_forces_that_token(lab, rnd_dir):
    """Item 12 in a real browser: a click on a bar forces that token."""
    root, url = lab
    write_notebook(root / "click.ipynb", [
        f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')\n"
        "st = gx.stepper(lm, 'Hi! My name is', seed=3, n=10)\nst",
    ])
    lm = gx.load(str(rnd_dir), device="cpu")
    session = lm.session("Hi! My name is", seed=3)
    ids = torch.topk(session.next_logits, 10).indices.tolist()
    session.force(ids[2])
    with browser_page() as page:
        open_and_run_all(page, url, "click.ipynb")
        shown_when(page, "s.live && s.exact", timeout=120_000)
        page.locator(f"{STEPPER} .gx-bar[data-id='{ids[2]}']").click()
        after = shown_when(page, "s.generated.length === 1 && s.exact")
        assert after["generated"] == [ids[2]] and after["text"] == session.text
        assert after["next"] == session.next_step.token
        shown, probs = shown_probs(after)
        assert probs == pytest.approx(session.next_step.distribution()[shown].tolist(), abs=1e-6)
        text = page.locator(f"{STEPPER} .gx-text").inner_text()
        assert text.replace("\n", "") == session.text


def test_compare_plots_are_never_empty_from_a_fresh_kernel(lab, rnd_dir):
    """The compare cell run from a fresh kernel, twice: both columns have their bars, and the
    component hears back from the kernel (its rows and summary come)."""
    root, url = lab
    for i in range(2):
        write_notebook(root / f"compare{i}.ipynb", [
            f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')\n"
            "gx.compare(lm, ['Hi! My name is Isamu', 'Hi! My name is John'], length=4, seed=1, top_k=40)"])
    for i in range(2):  # each notebook starts a kernel of its own
        with browser_page() as page:
            open_and_run_all(page, url, f"compare{i}.ipynb")
            page.wait_for_function(COLUMNS_DRAWN, arg=2, timeout=120_000)
            ready = page.evaluate("() => document.querySelector('.gx-live.gx-compare').gx.ready()"
                                  ".then(s => s.columns.length)")
            assert ready == 2
            page.wait_for_function("() => document.querySelector('.gx-live.gx-compare .gx-summary:not(.gx-stale)')"
                                   "?.textContent.includes('Jensen')", timeout=60_000)
            counts = page.evaluate("Array.from(document.querySelectorAll('.gx-live.gx-compare .gx-column'))"
                                   ".map(c => c.querySelectorAll('.gx-bar').length)")
            assert len(counts) == 2 and all(c >= 12 for c in counts), (i, counts)