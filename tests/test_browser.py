"""The widgets in a real JupyterLab, driven through Chromium: bars change as the sliders say."""
import json
import statistics
import time
from pathlib import Path

import pytest
import torch

import gpt2explore as gx
from lab import browser_page, lab_server, open_and_run_all, plot_y, require_chromium, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).parent / "artifacts"
SLIDER = ".widget-slider:has(.widget-label:text-is('{}'))"


def expected_bars(step, n, **settings):
    ids = torch.topk(step.logits, n).indices
    return step.distribution(**settings)[ids].tolist()


def wait_for_change(page, index, before, timeout=30_000):
    page.wait_for_function(
        "([i, prev]) => { const p = document.querySelectorAll('.js-plotly-plot')[i];"
        " return p && p.data && p.data[1] && JSON.stringify(Array.from(p.data[1].y)) !== prev; }",
        arg=[index, json.dumps(before, separators=(",", ":"))], timeout=timeout, polling=5)


def js_list(values):
    return json.loads(json.dumps(values, separators=(",", ":")))


def test_explore_slider_and_stepper_click_in_jupyterlab(tmp_path, rnd_dir):
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    write_notebook(tmp_path / "widgets.ipynb", [
        f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')\n"
        "run = lm.generate('Hi! My name is', length=4, seed=7)\nex = gx.explore(run, n=10)\nex",
        "st = gx.stepper(lm, 'Hi! My name is', seed=3, n=10)\nst",
    ])
    lm = gx.load(str(rnd_dir), device="cpu")
    step = lm.generate("Hi! My name is", length=4, seed=7)[0].steps[0]
    with lab_server(tmp_path, tmp_path) as url, browser_page() as page:
        open_and_run_all(page, url, "widgets.ipynb")
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=120_000)
        page.wait_for_function("Array.from(document.querySelectorAll('.js-plotly-plot'))"
                               ".every(p => p.data && p.data.length >= 2)", timeout=60_000)
        before = plot_y(page, 0)
        assert before == pytest.approx(expected_bars(step, 10), abs=1e-6)

        # move the temperature slider with the keyboard; the bars follow
        slider = page.locator(SLIDER.format("temperature")).first
        handle = slider.locator(".noUi-handle")
        latencies = []
        for _ in range(6):
            handle.focus()
            t0 = time.perf_counter()
            page.keyboard.press("ArrowLeft")
            wait_for_change(page, 0, js_list(before))
            latencies.append((time.perf_counter() - t0) * 1000)
            page.wait_for_timeout(50)
            before = plot_y(page, 0)
        temperature = float(slider.locator(".widget-readout").inner_text())
        assert temperature == pytest.approx(0.70)
        assert plot_y(page, 0) == pytest.approx(expected_bars(step, 10, temperature=temperature), abs=1e-6)

        # one click on the stepper's Next: the bars show the next step's distribution
        session = lm.session("Hi! My name is", seed=3)
        assert plot_y(page, 1) == pytest.approx(expected_bars(session.next_step, 10), abs=1e-6)
        before = plot_y(page, 1)
        page.locator("button:text-is('Next')").first.click()
        wait_for_change(page, 1, js_list(before))
        session.step()
        assert plot_y(page, 1) == pytest.approx(expected_bars(session.next_step, 10), abs=1e-6)
        page.screenshot(path=str(ARTIFACTS / "browser_widgets.png"), full_page=True)
    (ARTIFACTS / "browser_latency.json").write_text(json.dumps(
        {"slider_to_bars_ms": latencies, "median_ms": statistics.median(latencies)}, indent=2))


def test_quickstart_notebook_renders_bars_in_jupyterlab(tmp_path):
    require_chromium()
    import shutil

    from test_notebooks import NOTEBOOKS

    shutil.copy(NOTEBOOKS / "01_quickstart.ipynb", tmp_path / "01_quickstart.ipynb")
    lm = gx.load("tiny", device="cpu")
    step = lm.generate("Hi! My name is", nsamples=3, length=20, seed=1, top_k=40)[0].steps[0]
    with lab_server(tmp_path, tmp_path) as url, browser_page() as page:
        open_and_run_all(page, url, "01_quickstart.ipynb")
        page.wait_for_function("Array.from(document.querySelectorAll('.js-plotly-plot'))"
                               ".some(p => p.data && p.data.length >= 2)", timeout=120_000)
        bars = plot_y(page, 0)
        assert bars == pytest.approx(expected_bars(step, 20), abs=1e-6)
        assert sum(1 for y in bars if y > 0) == 20  # top_k=40 keeps all twenty shown
        page.screenshot(path=str(ARTIFACTS / "browser_quickstart.png"), full_page=True)
