"""Figure 13: the live widgets in JupyterLab against their saved pages, in one Chromium: the redraw
after a control change through `el.gx.set` (the same handle on both), timed in the browser. The
explorer: settings and step changes; compare: its step slider; inspect: its settings. A live
widget waits for the kernel only when the shown step changes (its full logits row) or, in the
inspector, for the text's probabilities under new settings; after a step is shown it asks for
the rows of the two steps either side, so that a step slider moved one step at a time (the walk,
at a person's pace of one step per 100 ms) can find its row already there.

    python -m bench.run_all --only live   # merged into bench/results.json, docs/benchmarks.md rewritten
"""
from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

from .common import REPO, summary
from .pages import _moves

TIMED = """async ([sel, moves, pace]) => {
    const el = document.querySelector(sel), redraw = {}, frame = {};
    for (const o of moves) {
        const kind = 'step' in o ? 'step' : 'settings', t0 = performance.now();
        await el.gx.set(o);              // resolved once redrawn (live: with the kernel's row)
        (frame[kind] = frame[kind] || []).push(performance.now() - t0);
        (redraw[kind] = redraw[kind] || []).push(el.gx.shown().ms);
        if (pace) await new Promise(r => setTimeout(r, pace));
    }
    return [redraw, frame];
}"""
PACE_MS = 100  # the walk: one step per 100 ms, a slider dragged by hand
TEXT_CHARS = 1200  # the inspected text, as in figure 10


def _walk(length: int, samples: int) -> list[dict]:
    """Every step of each sample in turn, one step at a time (a step slider moved by hand)."""
    return [{"step": i, "sample": s} if samples > 1 else {"step": i} for s in range(samples) for i in range(length)]


def _timed(page, sel: str, moves: list[dict], pace: int = 0) -> dict:
    redraw, frame = page.evaluate(TIMED, [sel, moves, pace])
    return {k: {"redraw_ms": summary(redraw[k]), "to_next_frame_ms": summary(frame[k])} for k in redraw}


def live(smoke: bool = False) -> dict:
    """A 2-sample run of the bundled model in a live notebook explorer, a 2-prompt compare and an
    inspector of a text, each beside its saved page, at 1280x800: the same control changes through
    el.gx.set (explorer: T, top-k, top-p and step; compare: its step; inspect: T, top-k, top-p)."""
    sys.path.insert(0, str(REPO / "tests"))
    from lab import browser_page, lab_server, open_and_run_all, write_notebook

    import gpt2explore as gx

    length, moves = (8, 20) if smoke else (64, 200)
    prompts = ["Hi! My name is Isamu", "Hi! My name is John"]
    text = (gx.data_path("texts") / "mississippi.txt").read_text()[:300 if smoke else TEXT_CHARS]
    rng = random.Random(0)
    plan = _moves(rng, moves, length, 2)
    steps_only = [{"step": o["step"]} for o in _moves(rng, 4 * (moves // 4), length, 1) if "step" in o]
    settings_only = [o for o in _moves(rng, moves, length, 1) if "step" not in o]
    out = {"run": f"2 samples x {length} steps, bundled model", "moves": moves, "text_chars": len(text),
           "walk_pace_ms": PACE_MS}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lm = gx.load("tiny", device="cpu")
        run = lm.generate(prompts, length=length, seed=1, progress=False)
        made = {"explorer": gx.explore(run), "compare": gx.compare(lm, prompts, length=length, seed=1),
                "inspect": gx.inspect(lm, text)}
        saved = {kind: gx.save(w, tmp / f"{kind}.html") for kind, w in made.items()}
        (tmp / "text.txt").write_text(text)
        cells = {"explorer": f"run = lm.generate({prompts!r}, length={length}, seed=1, progress=False)\nex = gx.explore(run)\nex",
                 "compare": f"cm = gx.compare(lm, {prompts!r}, length={length}, seed=1)\ncm",
                 "inspect": "ins = gx.inspect(lm, open('text.txt').read())\nins"}
        for kind, cell in cells.items():  # a notebook each: every widget on screen while it is timed
            write_notebook(tmp / f"{kind}.ipynb", [f"import gpt2explore as gx\nlm = gx.load('tiny', device='cpu')\n{cell}"])
        plans = {"explorer": [("", plan, 0), ("walk", _walk(length, 2), PACE_MS)],
                 "compare": [("", steps_only, 0), ("walk", _walk(length, 1), PACE_MS)],
                 "inspect": [("", settings_only, 0)]}
        with lab_server(tmp, tmp) as url, browser_page(width=1280, height=800) as page:
            for kind, runs in plans.items():
                open_and_run_all(page, url, f"{kind}.ipynb")
                sel = f".jp-OutputArea-output .gx-live.gx-{kind}"
                page.wait_for_function(f"() => {{ const r = document.querySelector('{sel}'); return r && r.gx; }}",
                                       timeout=300_000)
                page.evaluate(f"() => document.querySelector('{sel}').gx.ready()")
                home = out.setdefault(kind, {}).setdefault("live", {})
                for name, moves_, pace in runs:
                    for k, v in _timed(page, sel, moves_, pace).items():
                        home[f"{k}_{name}" if name else k] = v
            for kind, runs in plans.items():
                other = page.context.browser.new_page(viewport={"width": 1280, "height": 800})
                other.goto(saved[kind].as_uri())
                other.wait_for_function("document.querySelector('.gx-page').gx")
                home = out[kind].setdefault("page", {})
                for name, moves_, pace in runs:
                    for k, v in _timed(other, ".gx-page", moves_, pace).items():
                        home[f"{k}_{name}" if name else k] = v
                other.close()
    return out
