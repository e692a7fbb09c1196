"""Figure 10: living pages: the size of a saved page and how fast a control change redraws it
in Chromium (the page's own arithmetic and drawing, timed in the page with performance.now()).

    python -m bench.run_all --only pages   # only this figure: merged into bench/results.json, docs/benchmarks.md rewritten
"""
from __future__ import annotations

import random
import tempfile
from pathlib import Path

from .common import summary

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMED = """async (moves) => {
    const el = document.querySelector('.gx-page'), out = [], frame = [];
    for (const o of moves) {
        const t0 = performance.now();
        await el.gx.set(o);              // resolves on the next animation frame after the redraw
        frame.push(performance.now() - t0);
        out.push(el.gx.shown().ms);       // the redraw itself: arithmetic, bars and text
    }
    return [out, frame];
}"""


def _moves(rng, n: int, steps: int, samples: int) -> list[dict]:
    out = []
    for i in range(n):
        kind = i % 4
        move = {0: {"temperature": round(rng.uniform(0.1, 2.5), 2)}, 1: {"top_k": rng.randint(0, 200)},
                2: {"top_p": round(rng.uniform(0.05, 1.0), 2)}, 3: {"step": rng.randrange(steps),
                                                                     "sample": rng.randrange(samples)}}[kind]
        out.append(move)
    return out


def pages(smoke: bool = False) -> dict:
    """A 2-sample, 64-step run of the bundled model: page bytes (whole and fragment), and the
    redraw time of 200 control changes (temperature, top-k, top-p, step) in each kind of page."""
    from playwright.sync_api import sync_playwright

    import gpt2explore as gx

    tiny = gx.load("tiny", device="cpu")
    length = 8 if smoke else 64
    run = tiny.generate(["Hi! My name is Isamu", "Hi! My name is John"], length=length, seed=1, progress=False)
    moves = 20 if smoke else 200
    rng = random.Random(0)
    out = {"run": f"2 samples x {length} steps, bundled model", "moves": moves}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        tmp = Path(tmp)
        made = {"explorer": gx.explore(run),
                "compare": gx.compare(tiny, ["Hi! My name is Isamu", "Hi! My name is John"], length=length, seed=1),
                "inspect": gx.inspect(tiny, (gx.data_path("texts") / "mississippi.txt").read_text()[:300 if smoke else 1200])}
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            for kind, widget in made.items():
                path = gx.save(widget, tmp / f"{kind}.html")
                frag = gx.save(widget, tmp / f"{kind}-fragment.html", embed=True)
                page = browser.new_page(viewport={"width": 1000, "height": 1000})
                page.goto(path.as_uri())
                page.wait_for_function("document.querySelector('.gx-page').gx")
                shown = page.evaluate("() => document.querySelector('.gx-page').gx.shown()")
                steps = len(widget.run[0].steps)
                redraw, frame = page.evaluate(TIMED, _moves(rng, moves, steps if kind != "compare" else length,
                                                            1 if kind != "explorer" else 2))
                page.close()
                out[kind] = {"bytes": path.stat().st_size, "fragment_bytes": frag.stat().st_size,
                             "redraw_ms": summary(redraw), "to_next_frame_ms": summary(frame),
                             "steps": steps, "first_exact": shown["exact"]}
        finally:
            browser.close()
    return out
