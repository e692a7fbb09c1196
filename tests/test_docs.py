"""The README and docs/: short where a newcomer starts, every link resolving, and every Python
example running as written (each file's blocks in order, in one namespace, as a reader would
paste them). A block that needs what a test machine lacks says so in its fence
(```python needs-network, ```python needs-gpu), and only those are skipped, naming why."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

import gpt2explore as gx

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^[ \t]*```python([^\n]*)\n(.*?)^[ \t]*```", re.M | re.S)  # in a list item too
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
NEEDS = {"needs-network": "it downloads from the model hub", "needs-gpu": "it needs a CUDA GPU"}


def blocks(path: Path) -> list[tuple[int, str, str]]:
    """(line, the fence's words after `python`, code) of every ```python block."""
    text = path.read_text(encoding="utf-8")
    return [(text[:m.start()].count("\n") + 1, m.group(1).strip(), textwrap.dedent(m.group(2)))
            for m in FENCE.finditer(text)]


def _heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings."""
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


def test_the_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 150, f"README.md has {lines} lines; move detail to docs/"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_link_resolves(path):
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^[ \t]*```.*?^[ \t]*```", "", text, flags=re.M | re.S)  # links inside code are code
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto: are not checked offline
            continue
        file, _, anchor = target.partition("#")
        where = (path.parent / file).resolve() if file else path
        if not where.exists():
            broken.append(target)
        elif anchor and where.suffix == ".md" and anchor not in _heading_anchors(where):
            broken.append(target)
    assert broken == [], f"{path.name}: links that resolve to nothing: {broken}"


def test_the_link_check_finds_a_broken_link(tmp_path):
    page = tmp_path / "x.md"
    page.write_text("# A title\n[ok](#a-title) [gone](nowhere.md) [no anchor](#other)\n")
    with pytest.raises(AssertionError, match="nowhere.md.*#other"):
        test_every_link_resolves(page)


EXAMPLES = [(path, line, words, code) for path in DOCS for line, words, code in blocks(path)]


def test_the_docs_have_examples():
    assert len(EXAMPLES) >= 8
    assert {p.name for p, *_ in EXAMPLES} >= {"README.md", "concepts.md", "pages.md", "bundles.md", "models.md"}


@pytest.mark.parametrize("path", sorted({p for p, *_ in EXAMPLES}), ids=lambda p: p.name)
def test_every_python_example_runs(path, tmp_path, monkeypatch):
    """A file's examples in order, in one namespace, in an empty folder (what they save lands there)."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    skipped = []
    for line, words, code in blocks(path):
        unknown = [w for w in words.split() if w not in NEEDS]
        assert not unknown, f"{path.name}:{line}: unknown fence words {unknown}; known: {', '.join(NEEDS)}"
        needs = [w for w in words.split() if w in NEEDS]
        if needs:
            skipped.append(f"line {line} ({NEEDS[needs[0]]})")
            continue
        try:
            exec(compile(code, f"{path.name}:{line}", "exec"), namespace)
        except Exception as err:  # noqa: BLE001 - name the block that failed
            raise AssertionError(f"{path.name}, the block at line {line}: {type(err).__name__}: {err}") from err
    if skipped:
        assert len(skipped) < len(blocks(path)), f"{path.name}: every example is skipped"
        print(f"{path.name}: skipped {', '.join(skipped)}")


def test_examples_that_need_more_than_a_test_machine_are_marked():
    """What a test machine cannot do (the hub, a GPU) is marked, never silently attempted."""
    for path, line, words, code in EXAMPLES:
        if re.search(r"gx\.load\(\s*[\"'](gpt2|124M|117M|345M|355M|774M|1558M)", code):
            assert "needs-network" in words, f"{path.name}:{line} loads from the hub unmarked"
        if re.search(r"[\"']cuda[\"']", code):
            assert "needs-gpu" in words, f"{path.name}:{line} uses CUDA unmarked"


def test_a_failing_example_fails_the_test(tmp_path, monkeypatch):
    page = tmp_path / "bad.md"
    page.write_text("# Bad\n\n```python\nimport gpt2explore as gx\ngx.load('nope/none-such', device='cpu')\n```\n")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(AssertionError, match="bad.md, the block at line 3"):
        test_every_python_example_runs(page, tmp_path, monkeypatch)


def test_the_changelog_names_this_release_and_its_changed_behaviour_first():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    newest = sections[0]
    assert newest.split()[0] == gx.__version__, "CHANGELOG.md's newest section is not this version"
    parts = re.split(r"^### ", newest, flags=re.M)
    assert parts[1].startswith("Changed behaviour\n"), "a release's section starts with its changed behaviour"
    assert parts[1].count("\n- ") >= 1
