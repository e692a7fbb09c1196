"""Figures to files for write-ups: .html .png .svg .pdf .json, each with its provenance.

Static images (.png, .svg, .pdf) are drawn by kaleido in a headless Chrome/Chromium. One
browser session is kept alive across calls (about 0.2 s an image instead of 2.5 s) and closed
at exit. Every export writes a sidecar `<name>.json` with the facts (model, weights sha256,
prompt, seed, settings, step, versions, device); .html and .svg also embed them, and .json
figures carry them in `layout.meta`.
"""
from __future__ import annotations

import atexit
import html
import json
import os
import shutil
import stat
import tempfile
import threading
import warnings
from pathlib import Path

from ..core import arguments, provenance
from . import page
from .modes import honour_umask

FORMATS = (".html", ".png", ".svg", ".pdf", ".json")
STATIC = (".png", ".svg", ".pdf")
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic")

NO_BROWSER = ("static export (.png/.svg/.pdf) needs Chrome or Chromium, and none was found. Remedies: "
              "install one (Debian/Ubuntu: apt-get install chromium), or with network access run "
              "`plotly_get_chrome` (kaleido's installer), or set BROWSER_PATH to a Chrome binary; "
              ".html and .json exports need no browser")
_lock = threading.Lock()
_server = {"running": False}


class ExportError(RuntimeError):
    """An export that could not be made (no browser, a stalled browser, a bad path)."""


def figure_of(obj):
    """A plotly Figure from a figure, a FigureWidget, or one of our widgets (what it shows now)."""
    import plotly.graph_objects as go
    from plotly.basedatatypes import BaseFigure

    if isinstance(obj, BaseFigure):  # go.Figure, and go.FigureWidget (not a go.Figure subclass)
        return go.Figure(obj)
    if hasattr(obj, "figure"):
        return obj.figure()
    raise TypeError(f"obj must be a plotly figure or a gpt2explore widget (gx.explore, gx.compare, ...), got "
                    f"{type(obj).__name__}")


def facts_of(fig) -> dict | list | None:
    meta = fig.layout.meta
    return meta.get("gpt2explore") if isinstance(meta, dict) else None


def caption(obj) -> str:
    """A one-line caption for a write-up: the same facts as the export's sidecar."""
    facts = facts_of(figure_of(obj))
    if not facts:
        return "Figure (no gpt2explore provenance attached)"
    return provenance.caption(facts)


def check_browser(binary: str) -> None:
    """A browser path that is not Chrome/Chromium (BROWSER_PATH=/bin/true, a text file) is a
    one-line ExportError at once, not a browser thread's traceback after the timeout."""
    import subprocess

    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=20,
                             errors="replace")
        said = (out.stdout + out.stderr).strip()
    except (OSError, subprocess.SubprocessError) as err:
        said = f"{type(err).__name__}: {err}"
    if "chrom" not in said.lower() and "google chrome" not in said.lower():
        raise ExportError(f"the browser {binary} is not Chrome or Chromium (`--version` said "
                          f"{said[:80]!r}); set BROWSER_PATH to a Chrome/Chromium binary or unset it")


def find_browser() -> str | None:
    """A Chrome/Chromium for kaleido: BROWSER_PATH, then the usual names on PATH."""
    env = os.environ.get("BROWSER_PATH")
    if env:
        return env if os.path.exists(env) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    try:  # kaleido's own download (plotly_get_chrome) lives in its package
        from choreographer.utils import browser_which

        return browser_which()
    except Exception:  # noqa: BLE001 - any failure means "not found"
        return None


def _browser_wrapper(binary: str) -> str:
    """A tiny script that starts the browser with offline-friendly flags."""
    folder = Path(tempfile.mkdtemp(prefix="gx-chrome-"))
    script = folder / "chromium"
    script.write_text("#!/bin/sh\nexec " + " ".join([f'"{binary}"', *CHROME_FLAGS]) + ' "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(script)


def _start_kaleido(timeout: float) -> None:
    with _lock:
        if _server["running"]:
            return
        import kaleido

        binary = find_browser()
        if binary is None:
            raise ExportError(NO_BROWSER)
        check_browser(binary)
        if "BROWSER_PATH" not in os.environ and os.name == "posix":
            os.environ["BROWSER_PATH"] = _browser_wrapper(binary)
        try:
            kaleido.start_sync_server(n=1, timeout=timeout, mathjax=False, silence_warnings=True)
        except Exception as err:  # noqa: BLE001
            raise ExportError(f"could not start the browser for static export ({err}); {NO_BROWSER}") from None
        _server["running"] = True
        atexit.register(stop_browser)


def stop_browser() -> None:
    """Close the browser kept for static exports (done at exit by itself)."""
    with _lock:
        if _server["running"]:
            import kaleido

            try:
                kaleido.stop_sync_server(silence_warnings=True)
            finally:
                _server["running"] = False


def _static(fig, fmt: str, width, height, scale, timeout: float) -> bytes:
    import plotly.io as pio

    _start_kaleido(timeout)
    result, error = {}, {}

    def work():
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The kopts argument is ignored")
                result["bytes"] = pio.to_image(fig, format=fmt, width=width, height=height, scale=scale)
        except Exception as err:  # noqa: BLE001
            error["err"] = err

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout + 5)
    if worker.is_alive():
        raise ExportError(f"the browser did not render the {fmt} within {timeout:.0f} s; try again, or "
                          f"export .html instead")
    if "err" in error:
        err = error["err"]
        if "Chrome" in str(err) or "browser" in str(err).lower():
            raise ExportError(f"{NO_BROWSER} ({err})") from err
        raise err
    return result["bytes"]


def _embed_svg(svg: bytes, facts) -> bytes:
    text = svg.decode("utf-8")
    end = text.index(">", text.index("<svg")) + 1
    meta = f'<metadata id="gpt2explore-provenance">{html.escape(json.dumps(facts))}</metadata>'
    return (text[:end] + meta + text[end:]).encode("utf-8")


def document_title(fig, path: Path) -> str:
    """The figure's title as plain text (its first line), or the file's stem."""
    import re

    text = fig.layout.title.text or ""
    first = re.split(r"<br\s*/?>", text, maxsplit=1)[0]
    plain = html.unescape(re.sub(r"<[^>]+>", "", first)).strip()
    return plain or path.stem


def pdf_with_title(data: bytes, title: str) -> bytes:
    """Give a PDF (classic cross-reference table, as Chromium writes) a document title by an
    incremental update: a new Info object, an xref section for it, and a trailer pointing back
    to the original one. A PDF of another structure is returned unchanged."""
    import re

    tail = re.search(rb"trailer\s*<<(.*?)>>\s*startxref\s+(\d+)\s+%%EOF\s*$", data, re.S)
    if not tail:
        return data
    size = re.search(rb"/Size\s+(\d+)", tail.group(1))
    root = re.search(rb"/Root\s+(\d+\s+\d+\s+R)", tail.group(1))
    if not size or not root:
        return data
    n, prev = int(size.group(1)), int(tail.group(2))
    info = re.search(rb"/Info\s+(\d+)\s+(\d+)\s+R", tail.group(1))
    if info:  # the writer's own title ("Kaleido-fier") blanked in place: the file holds one title, ours
        data = _blank_title(data, int(info.group(1)), int(info.group(2)))
    body = data if data.endswith(b"\n") else data + b"\n"
    hex_title = "FEFF" + title.encode("utf-16-be").hex().upper()
    obj = f"{n} 0 obj\n<</Title <{hex_title}>\n/Creator (gpt2explore)\n/Producer (Chromium via kaleido)>>\nendobj\n"
    offset = len(body)
    xref_at = offset + len(obj.encode("latin-1"))
    update = (f"{obj}xref\n{n} 1\n{offset:010d} 00000 n \ntrailer\n<</Size {n + 1}\n/Root "
              f"{root.group(1).decode()}\n/Info {n} 0 R\n/Prev {prev}>>\nstartxref\n{xref_at}\n%%EOF\n")
    return body + update.encode("latin-1")


def _blank_title(data: bytes, number: int, generation: int) -> bytes:
    """The /Title entry of object `number` overwritten by as many spaces (every byte offset, and so
    the cross-reference table, stays valid); the data unchanged when there is none."""
    import re

    start = re.search(rb"(?:^|[\r\n])%d\s+%d\s+obj" % (number, generation), data)
    if not start:
        return data
    end = data.find(b"endobj", start.end())
    entry = re.compile(rb"/Title\s*(?:\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>)", re.S)
    found = entry.search(data, start.end(), end if end >= 0 else len(data))
    if not found:
        return data
    return data[:found.start()] + b" " * (found.end() - found.start()) + data[found.end():]


def _svg_with_title(svg: bytes, title: str) -> bytes:
    text = svg.decode("utf-8")
    end = text.index(">", text.index("<svg")) + 1
    return (text[:end] + f"<title>{html.escape(title)}</title>" + text[end:]).encode("utf-8")


def _html(fig, facts, title: str = "") -> str:
    page = fig.to_html(include_plotlyjs=True, full_html=True)
    page = page.replace("<head>", f"<head><title>{html.escape(title)}</title>", 1)
    blob = json.dumps(facts).replace("</", "<\\/")
    tag = f'<script type="application/json" id="gpt2explore-provenance">{blob}</script>'
    return page.replace("</head>", tag + "</head>", 1)


MAX_SCALE, MAX_PIXELS = 10, 20_000  # the browser renders no more than this
PNG_SCALE = 2  # a PNG's default pixels per figure unit


def _check_size(width, height, scale) -> None:
    for name, value in (("width", width), ("height", height)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 10 <= value <= MAX_PIXELS):
            raise ValueError(f"{name} must be a whole number of pixels in 10..{MAX_PIXELS}, got {value!r}")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float))
                              or not 0 < scale <= MAX_SCALE):
        raise ValueError(f"scale must be a number in (0, {MAX_SCALE}], got {scale!r}; for a larger "
                         f"picture export .svg or .pdf (they scale without loss)")


def expected_png_size(fig, width, height, scale) -> tuple[int, int]:
    """The pixel size kaleido draws: the figure's size (plotly's 700 x 500 by default) x scale."""
    w = width or fig.layout.width or 700
    h = height or fig.layout.height or 500
    s = scale or 1
    return round(w * s), round(h * s)


def check_output(data: bytes, suffix: str, size: tuple[int, int] | None, path) -> None:
    """What the browser returned must be a whole file of the kind asked for (and a PNG of the
    size asked for) before it is written under the user's name."""
    ok = True
    if suffix == ".png":
        ok = data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 33 and data[12:16] == b"IHDR"
        if ok and size is not None:
            got = (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"))
            ok = abs(got[0] - size[0]) <= 1 and abs(got[1] - size[1]) <= 1
    elif suffix == ".pdf":
        ok = data.startswith(b"%PDF") and b"%%EOF" in data[-1024:]
    elif suffix == ".svg":
        ok = b"<svg" in data[:2048] and data.rstrip().endswith(b"</svg>")
    if not ok:
        raise ExportError(f"the browser returned a broken {suffix[1:].upper()} ({len(data):,} bytes) for "
                          f"{path}; nothing was written. Try a smaller scale or size, or export .html")


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a short temporary name in the same folder, then rename: a failure leaves
    neither a partial file nor a temporary one, and the error names the user's path."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".gx-", suffix=".part", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        honour_umask(tmp)
        os.replace(tmp, path)
    except OSError as err:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise ExportError(f"cannot write {path}: {err.strerror or err}") from None


PAGE_WIDGETS = ("Explorer", "Comparer", "Inspector")  # gx.explore / gx.compare / gx.inspect


def is_page_source(obj) -> bool:
    """Whether `obj` saves to .html as a living page: one of the widgets above, or a Run."""
    return type(obj).__name__ in PAGE_WIDGETS or (hasattr(obj, "samples") and hasattr(obj, "seed"))


def save_page(obj, path: Path, embed: bool, sidecar: bool) -> Path:
    """An explorer, comparison, inspected text or run as one offline page (gpt2explore.files.page)."""
    data = page.data_of(obj)
    text = page.fragment(data) if embed else page.document(data)
    write_atomic(path, text.encode("utf-8"))
    facts = data.get("facts")
    if sidecar and facts:
        record = {"file": path.name, "format": "html page" if not embed else "html fragment",
                  "caption": provenance.caption(facts), "provenance": facts}
        try:
            write_atomic(sidecar_path(path), (json.dumps(record, indent=2) + "\n").encode("utf-8"))
        except ExportError:
            path.unlink(missing_ok=True)
            raise
    return path


PRESETS = {"blog": {"width": 720, "scale": 2}}  # a blog's column: 720 px wide, drawn at 2x for sharp screens
CAPTION_FONT = 12  # px; the caption's characters average about 0.56 of it in width
CAPTION_LINE = 16  # px between the caption's lines


def with_caption(fig, facts, width: int | None = None):
    """The figure with its provenance burned in under it (prompt, model, seed, settings,
    versions), wrapped to the figure's width: the figure grows by the caption's height."""
    import textwrap

    text = provenance.caption(facts) if facts else "Figure (no gpt2explore provenance attached)"
    w = width or fig.layout.width or 700
    chars = max(30, int((w - 20) / (CAPTION_FONT * 0.56)))
    lines = textwrap.wrap(text, chars)
    margin = fig.layout.margin
    bottom = margin.b if margin.b is not None else 80
    room = len(lines) * CAPTION_LINE + 14
    fig.update_layout(height=(fig.layout.height or 500) + room, margin=dict(b=bottom + room))
    fig.add_annotation(text="<br>".join(html.escape(line) for line in lines), xref="paper", yref="paper",
                       x=0, y=0, xanchor="left", yanchor="top", yshift=-bottom, align="left", showarrow=False,
                       font=dict(size=CAPTION_FONT, color="#444"), name="gpt2explore-caption")
    return fig


def save(obj, path, width: int | None = None, height: int | None = None, scale: float | None = None,
         timeout: float = 60, sidecar: bool = True, embed: bool = False, caption: bool = False,
         preset: str | None = None) -> Path:
    """Write a figure (or what a widget shows now) to `path`; the format comes from the suffix:
    .html (self-contained, plotly.js inlined), .png, .svg, .pdf (kaleido + Chrome/Chromium),
    .json (plotly JSON). An explorer, comparison or inspected text (gx.explore / gx.compare /
    gx.inspect), or a Run, saved as .html is a living page instead: one offline file whose
    controls work in any browser without Python (gpt2explore.files.page), starting at the
    widget's current settings; `embed=True` writes it as a fragment to paste into a blog post.
    Writes `<name>.json` (bars.png.json) with the provenance beside it (not for .json,
    which carries it inside). HTML, SVG and PDF files carry the figure's title (or the file's
    stem) as their document title. Returns the path. A file that cannot be made is an ExportError
    (or ValueError for a bad argument) naming `path`, and leaves nothing behind. `scale`: pixels
    per figure unit; a PNG defaults to 2 (crisp on a retina screen and in print), SVG and PDF
    scale without loss. `caption=True` burns the provenance in under the figure (prompt, model,
    seed, settings; wrapped to its width), for a picture pasted where no sidecar follows it.
    `preset="blog"`: 720 px wide at scale 2 (a blog's column, sharp on a retina screen);
    width= and scale= still win."""
    path = Path(arguments.path("path", path))
    for name, value in (("width", width), ("height", height)):
        if value is not None:
            arguments.count(name, value)
    suffix = path.suffix.lower()
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; use one of {', '.join(map(repr, PRESETS))}, or width= "
                             f"and scale=")
        width, scale = width or PRESETS[preset]["width"], scale or PRESETS[preset]["scale"]
    if scale is None and suffix == ".png":
        scale = PNG_SCALE
    if suffix not in FORMATS:
        raise ValueError(f"unknown export format {path.suffix!r} for {path}; use one of {', '.join(FORMATS)}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name, e.g. {path / ('figure' + suffix)}")
    if not path.parent.exists():
        raise ValueError(f"folder {path.parent} does not exist; create it first")
    _check_size(width, height, scale)
    if embed and not (suffix == ".html" and is_page_source(obj)):
        raise ValueError(f"embed=True writes a page fragment: it needs a .html path and gx.explore / gx.compare / "
                         f"gx.inspect (or a run), got {type(obj).__name__} and {path.name}")
    if suffix == ".html" and is_page_source(obj):
        if width or height or scale:
            raise ValueError("a page fits its reader's window: width, height and scale are for figures")
        return save_page(obj, path, embed, sidecar)
    fig = figure_of(obj)
    facts = facts_of(fig)
    if width or height:
        fig.update_layout(width=width or fig.layout.width, height=height or fig.layout.height)
    title = document_title(fig, path)
    if caption:
        fig = with_caption(fig, facts, width)
        height = None  # the caption's room is added to the figure's own height
    if suffix == ".html":
        data = _html(fig, facts, title).encode("utf-8")
    elif suffix == ".json":
        data = fig.to_json().encode("utf-8")
    else:
        data = _static(fig, suffix[1:], width, height, scale, timeout)
        check_output(data, suffix, expected_png_size(fig, width, height, scale) if suffix == ".png" else None,
                     path)
        if suffix == ".svg":
            data = _svg_with_title(data, title)
            if facts:
                data = _embed_svg(data, facts)
        elif suffix == ".pdf":
            data = pdf_with_title(data, title)
    write_atomic(path, data)
    if sidecar and suffix != ".json" and facts:
        record = {"file": path.name, "format": suffix[1:], "caption": provenance.caption(facts),
                  "provenance": facts}
        side = sidecar_path(path)
        try:
            write_atomic(side, (json.dumps(record, indent=2) + "\n").encode("utf-8"))
        except ExportError:
            path.unlink(missing_ok=True)  # a figure without its provenance is not left behind
            raise
    return path


NAME_MAX = 255  # bytes in one file name on common file systems


def sidecar_path(path) -> Path:
    """Where the provenance of an exported file goes: `<name>.json` (bars.png -> bars.png.json).
    A name too long for that is shortened and given a digest of the full name."""
    import hashlib

    path = Path(path)
    name = path.name + ".json"
    if len(name.encode("utf-8")) > NAME_MAX:
        digest = hashlib.sha256(path.name.encode("utf-8")).hexdigest()[:8]
        stem = path.name.encode("utf-8")[: NAME_MAX - 15].decode("utf-8", "ignore")
        name = f"{stem}~{digest}.json"
    return path.with_name(name)

