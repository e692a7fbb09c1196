"""The notebooks: stored clean, parameterised, and executed top to bottom on the tiny model."""
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from lab import TOKEN, free_port
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["01_quickstart.ipynb", "02_temperature_and_top_k.ipynb", "03_step_through.ipynb",
         "04_name_prompts.ipynb", "05_export_for_write_ups.ipynb", "06_score_a_text.ipynb",
         "07_logit_lens.ipynb", "08_modern_samplers.ipynb", "09_why_this_token.ipynb",
         "10_what_would_john_have_said.ipynb"]
BUDGET_S = 180  # per cell: the client's timeout, generous for a loaded machine


def test_the_notebooks_exist():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES
    assert sorted(p.name for p in (NOTEBOOKS / "src").glob("*.py")) == [n.replace(".ipynb", ".py") for n in NAMES]


def test_committed_notebooks_equal_their_sources():
    """notebooks/*.ipynb are written from notebooks/src/*.py (make notebooks): the same bytes."""
    sys.path.insert(0, str(NOTEBOOKS.parent / "scripts"))
    try:
        import build_notebooks
    finally:
        sys.path.pop(0)
    for name in NAMES:
        built = build_notebooks.build(NOTEBOOKS / "src" / name.replace(".ipynb", ".py"))
        assert (NOTEBOOKS / name).read_text(encoding="utf-8") == built, f"{name}: run make notebooks"
        assert build_notebooks.build(NOTEBOOKS / "src" / name.replace(".ipynb", ".py")) == built  # stable


@pytest.mark.parametrize("name", NAMES)
def test_stored_without_outputs_and_parameterised(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    first = code[0]
    assert "parameters" in first.metadata.get("tags", [])
    assert 'MODEL = "tiny"' in first.source and 'DEVICE = "auto"' in first.source and "SEED" in first.source
    assert any("gpt2" in c.source for c in nb.cells if c.cell_type == "markdown")  # tells the reader


def execute(path: Path, workdir: Path, overrides: str = "") -> tuple[nbformat.NotebookNode, float]:
    nb = nbformat.read(path, as_version=4)
    if overrides:  # like papermill: a cell right after the parameters
        at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(overrides))
    start = time.perf_counter()
    NotebookClient(nb, timeout=BUDGET_S, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return nb, time.perf_counter() - start


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_on_the_tiny_model(name, tmp_path):
    nb, _ = execute(NOTEBOOKS / name, tmp_path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    # no wall-clock assertion here (speed is the benchmarks' job): a cell that hangs fails by the client's timeout
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) or
               "application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in shown)
    if name.startswith("05"):
        out = tmp_path / "exports"
        for f in ["next_token.png", "next_token.svg", "next_token.pdf", "next_token.html", "next_token.json",
                  "next_token.png.json", "temperature_sweep.png", "overview.svg", "names.pdf",
                  "explorer_view.html", "explorer.html", "explorer_fragment.html", "compare.html",
                  "steps.csv", "steps.parquet", "bundle/manifest.json",
                  "bundle/logits.safetensors"]:
            assert (out / f).exists() and (out / f).stat().st_size > 0, f


def test_make_lab_serves_the_notebooks(tmp_path):
    repo = NOTEBOOKS.parent
    port = free_port()
    venv = Path(sys.executable).parent.parent
    args = (f"--no-browser --allow-root --ip=127.0.0.1 --port={port} --IdentityProvider.token={TOKEN} "
            f"--ServerApp.open_browser=False")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    proc = subprocess.Popen(["make", "-s", "lab", f"VENV={venv}", f"LAB_ARGS={args}"], cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, listing = time.time() + 300, None
        while time.time() < deadline and listing is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={TOKEN}", timeout=2) as r:
                    listing = json.loads(r.read())
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
                time.sleep(0.5)
        assert listing is not None, "JupyterLab did not answer"
        assert sorted(i["name"] for i in listing["content"] if i["name"].endswith(".ipynb")) == NAMES
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
    first = proc.stdout.read().decode().splitlines()[0]
    assert f"http://127.0.0.1:{port}/lab" in first, first  # the port LAB_ARGS chose, not 8888
