"""Screenshots of the live widgets as a reader first sees them: a notebook opened in JupyterLab
in Chromium with the file browser open (as JupyterLab starts), Run All, then the window with the
notebook scrolled so that a widget's top is at the top of the notebook panel. One picture per
(widget, window size), for the README and docs/gallery.

    python scripts/widget_shots.py                       # -> docs/gallery/widgets/
    python scripts/widget_shots.py --out /tmp/shots --sizes 1280x800

Each picture is the whole window: whether the controls and the bars are on one screen is what
it shows.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from lab import browser_page, lab_server, open_and_run_all  # noqa: E402

# (picture name, notebook, the widget's root class, which of them in the notebook)
SHOTS = [
    ("explorer", "01_quickstart.ipynb", "gx-explorer", 0),
    ("stepper", "03_step_through.ipynb", "gx-stepper", 0),
    ("compare", "04_name_prompts.ipynb", "gx-compare", 0),
    ("inspect", "06_score_a_text.ipynb", "gx-inspect", 0),
]
SIZES = ["1280x800", "1400x1000"]


def shoot(page, url: str, notebook: str, cls: str, index: int, target: Path, timeout_s: int) -> bool:
    """Run the notebook, scroll the widget to the top of the panel, screenshot the window."""
    open_and_run_all(page, url, notebook, timeout_ms=timeout_s * 1000, wait=True)
    sel = f".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output .gx-live.{cls}"
    try:
        page.wait_for_function(f"() => document.querySelectorAll('{sel}').length > {index} && "
                               f"document.querySelectorAll('{sel}')[{index}].gx", timeout=timeout_s * 1000)
    except Exception:  # the notebook has no such widget: say so, take no picture
        print(f"{notebook}: no .{cls} widget found", file=sys.stderr)
        return False
    page.evaluate("([s, i]) => document.querySelectorAll(s)[i].gx.ready()", [sel, index])
    page.evaluate("([s, i]) => document.querySelectorAll(s)[i].closest('.jp-Cell').scrollIntoView({block: 'start'})",
                  [sel, index])
    time.sleep(1.5)  # the scroll settles, the bars finish drawing
    page.screenshot(path=str(target))
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", help="widget names (default: all): " + ", ".join(s[0] for s in SHOTS))
    parser.add_argument("--out", default=str(ROOT / "docs" / "gallery" / "widgets"))
    parser.add_argument("--sizes", nargs="*", default=SIZES, help="window sizes, WIDTHxHEIGHT")
    parser.add_argument("--timeout", type=int, default=300, help="seconds a notebook may take to run")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shots = [s for s in SHOTS if not args.which or s[0] in args.which]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root, state = tmp / "notebooks", tmp / "state"
        root.mkdir()
        state.mkdir()
        for _, notebook, _, _ in shots:
            shutil.copy(ROOT / "notebooks" / notebook, root / notebook)
        with lab_server(root, state) as url:
            for size in args.sizes:
                width, height = (int(x) for x in size.split("x"))
                for name, notebook, cls, index in shots:
                    with browser_page(width, height) as page:
                        target = out / f"{name}_{size}.png"
                        if shoot(page, url, notebook, cls, index, target, args.timeout):
                            print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
