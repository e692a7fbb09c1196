"""Render every figure builder and each widget's figure on the bundled model to
docs/gallery/*.png, at gx.save's default size: python scripts/gallery.py (or make gallery).

Open every picture before committing: overlapping or clipped text, an unreadable label, a
series that cannot be seen, is a bug."""
from __future__ import annotations

import sys
from pathlib import Path

import gpt2explore as gx

OUT = Path(__file__).resolve().parent.parent / "docs" / "gallery"


def figures(lm) -> dict:
    """name -> figure, for every builder and widget."""
    from gpt2explore import gallery_cases

    return gallery_cases.figures(lm)


def main(argv=None) -> int:
    out = Path((argv or sys.argv[1:] or [OUT])[0])
    out.mkdir(parents=True, exist_ok=True)
    lm = gx.load()
    for name, fig in figures(lm).items():
        path = gx.save(fig, out / f"{name}.png", sidecar=False)
        print(f"{path} ({path.stat().st_size // 1024} KiB)")
    gx.export.stop_browser()
    return 0


if __name__ == "__main__":
    sys.exit(main())
