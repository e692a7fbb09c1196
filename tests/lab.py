"""A JupyterLab server and a headless Chromium for the browser tests."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("GX_CHROMIUM", "/usr/bin/chromium")
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
TOKEN = "gxtest"


def require_chromium():
    """Skip without Chromium, except in CI, where a missing browser is a failure."""
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail(f"Chromium not found at {CHROMIUM}; .ci/run must install it (apt-get install chromium)")
    pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium); browser test skipped")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def lab_server(root: Path, tmp: Path, extra_args=()):
    """JupyterLab on 127.0.0.1 with its own config and runtime dirs; yields the base URL."""
    port = free_port()
    config, runtime = tmp / "jconfig", tmp / "jruntime"
    settings = config / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(runtime),
               JUPYTERLAB_SETTINGS_DIR=str(config / "lab" / "user-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "jworkspaces"))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
           "--ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
           *extra_args]
    log = open(tmp / "jupyter.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("JupyterLab did not start: " + (tmp / "jupyter.log").read_text()[-2000:])
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextmanager
def browser_page(width=1400, height=1000):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require_chromium(), args=CHROME_FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


PROMPTS = ("() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell "
           ".jp-InputPrompt')].map(p => p.textContent.trim())")


def open_and_run_all(page, url: str, notebook: str, timeout_ms: int = 120_000, wait: bool = False):
    """Open a notebook in a JupyterLab workspace of its own (no other tab restored), wait for
    its kernel, and run all cells; Run All is clicked again if no cell has started after 20 s
    (a click that lands before the kernel is ready is lost). `wait`: return only once every code
    cell shows its execution count."""
    workspace = "ws-" + "".join(c if c.isalnum() else "-" for c in notebook)
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={TOKEN}", timeout=timeout_ms)
    page.wait_for_selector("#jp-main-statusbar >> text=Idle", timeout=timeout_ms)
    deadline = time.time() + timeout_ms / 1000
    clicked, last = 0, 0.0
    while time.time() < deadline:
        prompts = page.evaluate(PROMPTS)
        started = any(p.strip("[]: ") for p in prompts)
        if started and (not wait or all(p.strip("[]: ").isdigit() for p in prompts)):
            return
        if not started and clicked < 3 and time.time() - last > 20:
            page.click("text=Run", timeout=timeout_ms)  # the Run menu
            page.click("li[data-command='runmenu:run-all']", timeout=timeout_ms)
            clicked, last = clicked + 1, time.time()
        time.sleep(0.5)
    raise TimeoutError(f"{notebook} did not run in {timeout_ms // 1000} s: prompts {page.evaluate(PROMPTS)}")


def plot_y(page, index: int, trace: int = 1):
    return page.evaluate(
        "([i, t]) => { const p = document.querySelectorAll('.js-plotly-plot')[i];"
        " return p && p.data && p.data[t] ? Array.from(p.data[t].y) : null; }", [index, trace])


def write_notebook(path: Path, cells: list[str]) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path
