"""Screenshots of the living pages in Chromium (offline, file://), as a reader sees them:
python scripts/page_shots.py [OUT] -> docs/gallery/page_*.png and docs/gallery/explorer_page.html.

Open every picture before committing: a control that wraps, a label cut off, bars that
disagree with the notebook figure of the same step, is a bug."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import gpt2explore as gx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from lab import browser_page  # noqa: E402

OUT = ROOT / "docs" / "gallery"
NAMES = ["Hi! My name is Isamu", "Hi! My name is John"]
WIDTH = 953  # a notebook's output area beside JupyterLab's file browser; a blog column is narrower still


def pages(lm, folder: Path) -> dict:
    """name -> (page path, the settings to show it at, draw 100 times first?)."""
    run = lm.generate("Hi! My name is", nsamples=2, length=24, seed=1, temperature=0.8, top_k=40)
    explorer = gx.save(gx.explore(run), folder / "explorer_page.html")
    compare = gx.save(gx.compare(lm, NAMES, length=16, seed=1, top_k=40), folder / "compare.html")
    text = (gx.data_path("texts") / "mississippi.txt").read_text()[:500]
    inspect = gx.save(gx.inspect(lm, text, top_k=10), folder / "inspect.html")
    return {"page_explorer": (explorer, {"step": 3}, False),
            "page_explorer_other_settings": (explorer, {"step": 3, "temperature": 0.5, "top_k": 0}, False),
            "page_explorer_draws": (explorer, {"step": 3, "temperature": 1.2}, True),
            "page_compare": (compare, {"step": 4}, False),
            "page_inspect": (inspect, {"step": 8}, False)}


def main(argv=None) -> int:
    out = Path((argv or sys.argv[1:] or [OUT])[0])
    out.mkdir(parents=True, exist_ok=True)
    lm = gx.load()
    with tempfile.TemporaryDirectory() as tmp, browser_page(WIDTH + 32, 900) as page:
        made = pages(lm, Path(tmp))
        for name, (path, settings, draws) in made.items():
            page.goto(path.as_uri())
            page.wait_for_function("document.querySelector('.gx-page').gx")
            page.evaluate("async (o) => await document.querySelector('.gx-page').gx.set(o)", settings)
            if draws:
                page.evaluate("async () => await document.querySelector('.gx-page').gx.draw(100)")
            target = out / f"{name}.png"
            page.locator(".gx-page").screenshot(path=str(target))
            print(f"{target} ({target.stat().st_size // 1024} KiB)")
        (out / "explorer_page.html").write_bytes(made["page_explorer"][0].read_bytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
