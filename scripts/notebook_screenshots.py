"""Screenshots of the notebooks as a reader sees them: JupyterLab in Chromium, 1400 x 1000, the file
browser open (as JupyterLab starts), Run All, then the whole notebook, stitched into one picture.

    python scripts/notebook_screenshots.py                 # every notebook -> docs/gallery/notebooks/
    python scripts/notebook_screenshots.py 02 04 --out /tmp/shots

The notebooks run from a clean copy in a temporary folder (nothing else shows in the file
browser); JupyterLab's settings live outside it.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from lab import browser_page, lab_server, open_and_run_all  # noqa: E402

SCALE = 0.6  # the stitched picture is scaled down to keep the gallery small


def unwindowed(config: Path) -> None:
    """Render every cell (JupyterLab 4 renders only those near the view), so scrolling captures all."""
    folder = config / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))


def shoot(page, url: str, name: str, target: Path, timeout_s: int) -> None:
    from PIL import Image, ImageChops

    open_and_run_all(page, url, name, timeout_ms=timeout_s * 1000, wait=True)
    time.sleep(4)  # plots and widgets finish drawing
    scroller = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer"
    height = page.evaluate(f"() => document.querySelector('{scroller}').scrollHeight")
    view = page.evaluate(f"() => document.querySelector('{scroller}').clientHeight")
    box = page.locator(scroller).bounding_box()
    shots, offset = [], 0
    while True:
        page.evaluate(f"(y) => document.querySelector('{scroller}').scrollTop = y", offset)
        time.sleep(0.4)
        path = target.with_name(f".{target.stem}.{len(shots)}.png")
        page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": 1400, "height": box["y"] + box["height"]})
        actual = page.evaluate(f"() => document.querySelector('{scroller}').scrollTop")
        shots.append((path, actual))
        if offset + view >= height:
            break
        offset += view
    # stitch: the first shot whole (menus, file browser), then each next one's new part of the panel
    first = Image.open(shots[0][0])
    top = int(box["y"])
    parts = [first]
    previous = shots[0][1]
    left = int(box["x"])
    for path, scrolled in shots[1:]:
        img = Image.open(path)
        new = scrolled - previous
        parts.append(img.crop((left, int(top + box["height"] - new), int(left + box["width"]),
                               int(top + box["height"]))))
        previous = scrolled
    canvas = Image.new("RGB", (1400, sum(p.height for p in parts)), "white")
    y = 0
    for i, p in enumerate(parts):
        canvas.paste(p, (0 if i == 0 else left, y))
        y += p.height
    blank = ImageChops.difference(canvas, Image.new("RGB", canvas.size, "white")).getbbox()
    if blank:  # the notebook's empty space below its last cell is cut away
        canvas = canvas.crop((0, 0, canvas.width, min(canvas.height, blank[3] + 40)))
    canvas = canvas.resize((int(canvas.width * SCALE), int(canvas.height * SCALE)), Image.LANCZOS)
    canvas.save(target, optimize=True)
    for path, _ in shots:
        path.unlink()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", help="notebook number prefixes (default: all)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "gallery" / "notebooks"))
    parser.add_argument("--timeout", type=int, default=300, help="seconds a notebook may take to run")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")
                   if not args.which or any(p.name.startswith(w) for w in args.which))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root, state = tmp / "notebooks", tmp / "state"
        root.mkdir()
        state.mkdir()
        for name in names:
            shutil.copy(ROOT / "notebooks" / name, root / name)
        unwindowed(state / "jconfig")
        with lab_server(root, state) as url:
            for name in names:
                with browser_page() as page:
                    target = out / name.replace(".ipynb", ".png")
                    shoot(page, url, name, target, args.timeout)
                    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
