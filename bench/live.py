"""Figure 12: the live explorer in JupyterLab against its saved page, in one Chromium: the redraw
after a control change through `el.gx.set` (the same handle on both), timed in the browser.
The live widget waits for the kernel only when the shown step changes (its full logits row).

    python -m bench.run_all --only live   # merged into bench/results.json, docs/benchmarks.md rewritten
"""
from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

from .common import REPO, summary
from .pages import _moves

TIMED = """async ([sel, moves]) => {
    const el = document.querySelector(sel), redraw = {settings: [], step: []}, frame = {settings: [], step: []};
    for (const o of moves) {
        const kind = 'step' in o ? 'step' : 'settings', t0 = performance.now();
        await el.gx.set(o);              // resolved once redrawn (live: with the kernel's row)
        frame[kind].push(performance.now() - t0);
        redraw[kind].push(el.gx.shown().ms);
    }
    return [redraw, frame];
}"""


def live(smoke: bool = False) -> dict:
    """A 2-sample run of the bundled model in a live notebook explorer and its saved page, at
    1280x800: the same control changes (temperature, top-k, top-p, step) through el.gx.set."""
    sys.path.insert(0, str(REPO / "tests"))
    from lab import browser_page, lab_server, open_and_run_all, write_notebook

    import gpt2explore as gx

    length, moves = (8, 20) if smoke else (64, 200)
    prompts = ["Hi! My name is Isamu", "Hi! My name is John"]
    rng = random.Random(0)
    plan = _moves(rng, moves, length, 2)
    out = {"run": f"2 samples x {length} steps, bundled model", "moves": moves}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run = gx.load("tiny", device="cpu").generate(prompts, length=length, seed=1, progress=False)
        page_path = gx.save(gx.explore(run), tmp / "explorer.html")
        write_notebook(tmp / "live.ipynb", [
            f"import gpt2explore as gx\nrun = gx.load('tiny', device='cpu').generate({prompts!r}, length={length}, "
            "seed=1, progress=False)\nex = gx.explore(run)\nex"])
        with lab_server(tmp, tmp) as url, browser_page(width=1280, height=800) as page:
            open_and_run_all(page, url, "live.ipynb")
            sel = ".jp-OutputArea-output .gx-live.gx-explorer"
            page.wait_for_function(f"() => {{ const r = document.querySelector('{sel}'); return r && r.gx; }}",
                                   timeout=180_000)
            page.evaluate(f"() => document.querySelector('{sel}').gx.ready()")
            redraw, frame = page.evaluate(TIMED, [sel, plan])
            out["live"] = {k: {"redraw_ms": summary(redraw[k]), "to_next_frame_ms": summary(frame[k])} for k in redraw}
            saved = page.context.browser.new_page(viewport={"width": 1280, "height": 800})
            saved.goto(page_path.as_uri())
            saved.wait_for_function("document.querySelector('.gx-explorer').gx")
            redraw, frame = saved.evaluate(TIMED, [".gx-explorer", plan])
            out["page"] = {k: {"redraw_ms": summary(redraw[k]), "to_next_frame_ms": summary(frame[k])} for k in redraw}
    return out
