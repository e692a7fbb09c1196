"""Figures fit the notebook: at 1280x800 with the file browser open (and the notebook's own
scroll bar), no figure of the package's widest width scrolls sideways in JupyterLab."""
from pathlib import Path

import pytest
from lab import browser_page, lab_server, open_and_run_all, require_chromium, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).parent / "artifacts"
SCROLL_BAR = 15  # px

MEASURE = """() => Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output'))
    .filter(o => o.querySelector('.main-svg')).map(o => ({
        output: o.clientWidth, scroll: o.scrollWidth,
        figure: o.querySelector('.main-svg').getBoundingClientRect().width,
        files: (document.querySelector('#filebrowser') || {getBoundingClientRect: () => ({width: 0})}).getBoundingClientRect().width}))"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    require_chromium()
    root = tmp_path_factory.mktemp("lab")
    with lab_server(root, root) as url:
        yield root, url


def test_the_widest_figures_fit_beside_the_file_browser_at_1280x800(lab):
    root, url = lab
    ARTIFACTS.mkdir(exist_ok=True)
    write_notebook(root / "fit.ipynb", [
        "import gpt2explore as gx\nimport plotly.graph_objects as go\nlm = gx.load('tiny', device='cpu')\n"
        "step = lm.generate('Hi! My name is Isamu', length=2, seed=7)[0].steps[0]",
        "go.Figure(go.Bar(x=list('abc'), y=[1, 2, 3])).update_layout(width=gx.style.FIGURE_MAX_PX, height=300)",
        "gx.next_token_bars(step, top_k=50)",
        "gx.attribution_figure(step)",
        # a long notebook: the page's own scroll bar takes its width from the output area
        "\n".join(f"print({i})" for i in range(60))])
    with browser_page(width=1280, height=800) as page:
        open_and_run_all(page, url, "fit.ipynb")
        page.wait_for_function(f"() => ({MEASURE})().length === 3", timeout=120_000)
        sizes = page.evaluate(MEASURE)
        page.screenshot(path=str(ARTIFACTS / "fit_lab.png"))
    for size in sizes:
        assert size["files"] > 150, size  # the file browser is open
        # a desktop Chromium's scroll bar (15 px) takes its width from the output area; this one hides it
        assert size["figure"] + SCROLL_BAR <= size["output"] and size["scroll"] <= size["output"], sizes
