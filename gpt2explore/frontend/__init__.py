"""The one front end: the JavaScript component (and its styles) that draws every explorer,
stepper, compare and inspect view, in a saved page and in a notebook widget alike.

- `page_math.js`: the sampling arithmetic in the browser (the same stages as core.stages, in
  double precision), and the bounds that say where a page is exact.
- `page_view.js`: the views and their controls, and the `el.gx` handle.
- `page.css`: their styles.

Python never runs these files; files.page inlines them into a page, widgets.front hands them to
the notebook as an anywidget module. Neither home adds logic of its own."""
from __future__ import annotations

from importlib import resources

SCRIPTS = ("page_math.js", "page_view.js")  # in this order: the arithmetic, then the views


def read(name: str) -> str:
    """One of the front end's files, as text."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def script() -> str:
    """The component's JavaScript: the arithmetic, then the views."""
    return "\n".join(read(name) for name in SCRIPTS)
