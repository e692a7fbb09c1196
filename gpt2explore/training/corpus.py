"""The tiny model's training text: fetched from Debian packages, cleaned into documents.

Sources (all freely usable):
- `bible-kjv` / `bible-kjv-text`: the King James Bible (1611, public domain), dumped with
  the package's own `bible` program; one document per chapter.
- `fortunes`: the BSD fortune cookie files (BSD licence); one document per fortune.
- `jargon-text`: the Jargon File 4.4.7 (public domain); one document per entry.
"""
from __future__ import annotations

import gzip
import re
import subprocess
import tempfile
from pathlib import Path

PACKAGES = ("bible-kjv", "bible-kjv-text", "fortunes", "jargon-text")

# fortune files that are pictures or not English prose
FORTUNE_SKIP = {"ascii-art", "art", "translate-me", "debian", "linux", "linuxcookie", "perl"}

SOURCES = {
    "kjv": "King James Bible, Debian packages bible-kjv/bible-kjv-text (public domain text)",
    "fortunes": "BSD fortune cookies, Debian package fortunes (BSD licence)",
    "jargon": "Jargon File 4.4.7, Debian package jargon-text (public domain)",
}


def _reflow(text: str) -> str:
    """Join hard-wrapped lines into paragraphs; paragraphs separated by one blank line."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines() if line.strip()) for p in paragraphs)


def clean_kjv(dump: str) -> list[str]:
    """`bible` output -> one document per chapter: 'Genesis 1\\n\\nIn the beginning ...'."""
    docs = []
    for chunk in re.split(r"\n(?=[1-3]?\s?[A-Z][A-Za-z ]+ \d+\n)", "\n" + dump.strip()):
        chunk = chunk.strip()
        if not chunk:
            continue
        head, _, body = chunk.partition("\n")
        verses = re.split(r"\n?\s+\d+ ", "\n" + body)
        text = " ".join(" ".join(v.split()) for v in verses if v.strip())
        if text:
            docs.append(f"{head.strip()}\n\n{text}")
    return docs


def clean_fortunes(text: str) -> list[str]:
    """A fortune file ('%' lines between cookies) -> one document per cookie."""
    docs = []
    for cookie in re.split(r"^%\s*$", text, flags=re.M):
        lines = [line.rstrip() for line in cookie.strip("\n").splitlines()]
        if not lines:
            continue
        body = "\n".join(line.strip() for line in lines).strip()
        if len(body) >= 20 and _mostly_text(body):
            docs.append(body)
    return docs


def clean_jargon(text: str) -> list[str]:
    """The Jargon File as text -> one document per entry (':word: n.' headings)."""
    docs = []
    for entry in re.split(r"\n(?=   :[^\n]+:)", text):
        entry = "\n".join(line for line in entry.splitlines() if not re.search(r"[─│┌┐└┘├┤┬┴┼]", line))
        entry = entry.strip()
        if not entry.startswith(":"):
            continue
        entry = re.sub(r"[{}]", "", entry)
        head, _, body = entry.partition("\n")
        body = _reflow(body)
        if len(body) >= 40:
            docs.append(f"{head.strip()}\n\n{body}")
    return docs


def _mostly_text(s: str) -> bool:
    letters = sum(c.isalpha() or c.isspace() for c in s)
    return letters / max(len(s), 1) > 0.8


def fetch(workdir: str | Path | None = None) -> dict[str, list[str]]:
    """Download the Debian packages with apt-get, unpack them and return documents per source."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="gx-corpus-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["apt-get", "download", *PACKAGES], cwd=workdir, check=True,
                       capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise RuntimeError(
            f"could not download the corpus packages {', '.join(PACKAGES)} with apt-get "
            f"({getattr(err, 'stderr', err)}); run `apt-get update` first, on a Debian system"
        ) from err
    root = workdir / "root"
    for deb in sorted(workdir.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return read_unpacked(root)


def read_unpacked(root: Path) -> dict[str, list[str]]:
    """Documents per source from the unpacked packages under `root`."""
    dump = subprocess.run(
        [str(root / "usr/bin/bible"), "-p", str(root / "usr/lib"), "Gen1:1-Rev22:21"],
        check=True, capture_output=True, text=True).stdout
    fortunes = []
    fdir = root / "usr/share/games/fortunes"
    for path in sorted(fdir.iterdir()):
        if path.suffix or path.name in FORTUNE_SKIP or path.is_symlink():
            continue
        fortunes += clean_fortunes(path.read_text(encoding="utf-8", errors="replace"))
    jargon = gzip.open(root / "usr/share/doc/jargon-text/jargon.txt.gz", "rt", encoding="utf-8").read()
    return {"kjv": clean_kjv(dump), "fortunes": fortunes, "jargon": clean_jargon(jargon)}
