"""Write notebooks/*.ipynb (without outputs) from their sources in notebooks/src/*.py.

The sources are jupytext percent scripts (`# %%` code cells, `# %% [markdown]` prose): easy to
read, diff and lint. Each cell's id comes from its notebook and position, so a second run writes
the same bytes; `--check` fails when a committed notebook differs from its source (the tests run
it). Run `make notebooks` (or `python scripts/build_notebooks.py`).
"""
from __future__ import annotations

import sys
from pathlib import Path

NB = Path(__file__).resolve().parent.parent / "notebooks"
SRC = NB / "src"


def build(source: Path) -> str:
    """The .ipynb text for one percent script: outputs empty, ids stable, metadata fixed."""
    import jupytext
    import nbformat

    nb = jupytext.reads(source.read_text(encoding="utf-8"), fmt="py:percent")
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    for i, cell in enumerate(nb.cells):
        cell.id = f"{source.stem[:2]}-{i:03d}"
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nbformat.writes(nbformat.from_dict(nb)) + "\n"


def main(argv=None) -> int:
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for source in sorted(SRC.glob("*.py")):
        target = NB / f"{source.stem}.ipynb"
        text = build(source)
        if check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(target.name)
        elif not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date with notebooks/src: {', '.join(stale)}; run make notebooks", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
