"""The package's shape: floors without circles, one sampler registry that a user's own sampler
joins, settings checked once, and the sources linted."""
from __future__ import annotations

import ast
import dataclasses
import json
import shlex
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
import torch
import yaml

import gpt2explore as gx
from gpt2explore.core import registry

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gpt2explore"
BIN = Path(sys.executable).parent


# ---- floors ------------------------------------------------------------------------------------

def _cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                out.append(sorted(part))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return out


def test_the_import_graph_has_no_circle():
    graph = grimp.build_graph("gpt2explore", cache_dir=None)  # every import statement, in functions too
    assert len(graph.modules) > 50
    assert graph.find_modules_directly_imported_by("gpt2explore.core.trace")  # the graph is really read
    assert _cycles(graph) == []


def test_tarjan_finds_a_circle_when_there_is_one():
    graph = grimp.ImportGraph()
    for a, b in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")]:
        graph.add_import(importer=a, imported=b)
    assert _cycles(graph) == [["p.a", "p.b", "p.c"]]


def test_the_floors_hold():
    """import-linter's contracts (pyproject.toml): each floor imports only from those below."""
    done = subprocess.run([str(BIN / "lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


def _local_imports(path: Path, root: Path = ROOT) -> list[str]:
    """The package's own modules imported inside a function of `path` ("file:line")."""
    found = set()
    for fn in ast.walk(ast.parse(path.read_text())):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("gpt2explore")):
                found.add(f"{path.relative_to(root)}:{node.lineno}")
            elif isinstance(node, ast.Import) and any(a.name.startswith("gpt2explore") for a in node.names):
                found.add(f"{path.relative_to(root)}:{node.lineno}")
    return sorted(found)


def test_at_most_two_function_local_imports_of_the_package():
    """Imports sit at the top of a module, where the graph shows them. Two are late on purpose:
    the command line imports its commands (torch, transformers) once its flags are checked and
    its Ctrl-C guard is up, and the registry imports the built-in stages (torch) when one first
    runs, so that declaring the samplers needs no torch."""
    late = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in _local_imports(path)]
    assert len(late) <= 2, late
    assert {hit.split(":")[0] for hit in late} <= {"gpt2explore/cli/main.py", "gpt2explore/core/registry.py"}, late


def test_the_local_import_count_sees_an_import_in_a_function(tmp_path):
    module = tmp_path / "probe.py"
    module.write_text("import os\n\ndef f():\n    from .core import registry\n\n    def g():\n"
                      "        import gpt2explore\n        import json\n")
    assert _local_imports(module, tmp_path) == ["probe.py:4", "probe.py:7"]


LINTED = ["gpt2explore", "notebooks/src", "scripts", "bench", "tests"]


def test_the_sources_are_linted():
    """Unused and undefined names, import order: the package, the notebooks' sources, scripts,
    benchmarks and tests (ruff, configured in pyproject.toml)."""
    done = subprocess.run([str(BIN / "ruff"), "check", *LINTED], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_pre_commit_hooks_are_the_static_checks_and_pass():
    """.pre-commit-config.yaml runs, before a commit, what the tests check statically: ruff on the
    same sources, the import contracts, and the notebooks against their sources; local hooks
    only (nothing fetched), each of which passes here."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    hooks = {hook["id"]: hook for hook in config["repos"][0]["hooks"]}
    assert set(hooks) == {"ruff", "import-linter", "notebooks"}
    assert shlex.split(hooks["ruff"]["entry"]) == ["ruff", "check", *LINTED]
    assert shlex.split(hooks["import-linter"]["entry"])[0] == "lint-imports"
    assert shlex.split(hooks["notebooks"]["entry"]) == ["python", "scripts/build_notebooks.py", "--check"]
    for hook in hooks.values():
        assert hook["language"] == "system" and hook["pass_filenames"] is False
        command = shlex.split(hook["entry"])
        command[0] = sys.executable if command[0] == "python" else str(BIN / command[0])
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (hook["id"], done.stdout + done.stderr)


def test_every_public_name_resolves():
    for name in gx.__all__:
        assert getattr(gx, name) is not None, name
    for name in gx.MODULES:
        assert getattr(gx, name).__name__.startswith("gpt2explore"), name


# ---- a sampler of one's own ----------------------------------------------------------------------

def top_a(logits, a):
    """Top-a: drop tokens below a * p_max^2."""
    p = logits.softmax(-1)
    return logits.masked_fill(p < a * p.max(-1, keepdim=True).values ** 2, float("-inf"))


@pytest.fixture
def with_top_a():
    registry.register_sampler("top_a", top_a, off=0.0, range=(0.0, 1.0), label="top-a")
    try:
        yield
    finally:
        if "top_a" in registry.names():
            registry.unregister_sampler("top_a")


def test_a_registered_sampler_works_everywhere_a_builtin_does(lm, tmp_path, with_top_a):
    run = lm.generate("Hi! My name is", nsamples=2, length=12, seed=1, top_a=0.5)
    plain = lm.generate("Hi! My name is", nsamples=2, length=12, seed=1)
    assert run.settings.top_a == 0.5 and plain.settings.top_a == 0.0
    # the settings shape the draws: each step's token survives top-a's cut
    for sample in run:
        for step in sample.steps:
            assert step.resample() == step.token  # exact replay
            probs = step.distribution()
            assert probs[step.token] > 0
            logits = step.require_logits().double().softmax(-1)
            assert bool(((logits >= 0.5 * logits.max() ** 2) == (probs > 0)).all())
    assert any(int((s.distribution() > 0).sum()) < int((s.distribution(top_a=0) > 0).sum())
               for s in run[0].steps)
    # step.distribution(top_a=...) on a run made without it
    step = plain[0].steps[3]
    cut = step.distribution(top_a=0.9)
    assert 0 < int((cut > 0).sum()) < int((step.distribution() > 0).sum())
    assert float(cut.sum()) == pytest.approx(1.0)
    # sessions
    session = lm.session("Hi! My name is", seed=1, top_a=0.5)
    session.step(12)
    one = lm.generate("Hi! My name is", length=12, seed=1, top_a=0.5)
    assert session.sample.tokens == one[0].tokens and session.settings.top_a == 0.5
    # titles, captions, the stage-by-stage view
    fig = gx.next_token_bars(run[0].steps[2])
    assert "top-a=0.5" in fig.layout.title.text
    assert "top-a=0.5" in gx.caption(fig)
    stages = gx.sampling_stages(run[0].steps[2])
    assert list(stages.stage)[-1] == "top_a" and list(stages.label)[-1] == "top-a 0.5"
    assert "top-a" in gx.pipeline_figure(run[0].steps[2]).layout.title.text
    # the explorer's and stepper's controls, and a slider move that uses it
    explorer = gx.explore(plain)
    assert "top_a" in explorer.controls and explorer.controls["top_a"].description == "top-a"
    explorer.controls["top_a"].value = 0.9
    assert "top-a=0.9" in explorer.fig.layout.title.text
    explorer.close()
    stepper = gx.stepper(lm, "Hi", seed=1, top_a=0.3)
    assert stepper.controls["top_a"].value == pytest.approx(0.3)
    stepper.close()
    # bundles: saved and loaded in the same process, then refused once the sampler is gone
    folder = run.save(tmp_path / "top_a")
    back = gx.load_run(folder)
    assert back.settings == run.settings and back.texts == run.texts
    assert all(s.resample() == s.token for s in back[1].steps)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["settings"]["top_a"] == 0.5
    registry.unregister_sampler("top_a")
    with pytest.raises(gx.BundleError) as err:
        gx.load_run(folder)
    text = str(err.value)
    assert "\n" not in text and "'top_a'" in text and "register_sampler" in text


def test_a_sampler_can_read_the_context_and_choose_its_place(lm):
    seen = []

    def ban_last(logits, value, context):
        seen.append(context)
        out = logits.clone()
        if value and context:
            out[int(context[-1])] = float("-inf")
        return out

    registry.register_sampler("ban_last", ban_last, off=0, after="repetition_penalty", label="ban last")
    try:
        order = registry.names()
        assert order.index("ban_last") == order.index("repetition_penalty") + 1
        run = lm.generate("Hi! My name is", length=10, seed=2, temperature=2.0, ban_last=1)
        tokens = run[0].prompt_tokens + run[0].tokens
        start = len(run[0].prompt_tokens)
        assert all(tokens[i] != tokens[i - 1] for i in range(start, len(tokens)))
        assert seen and all(c is not None for c in seen)
        assert all(s.resample() == s.token for s in run[0].steps)
        assert run.settings.uses_context
    finally:
        registry.unregister_sampler("ban_last")


def test_registering_refuses_bad_declarations():
    with pytest.raises(ValueError, match="registered already"):
        registry.register_sampler("top_k", top_a)
    with pytest.raises(ValueError, match="after='nope'"):
        registry.register_sampler("x_a", top_a, after="nope")
    with pytest.raises(ValueError, match="Python identifier"):
        registry.register_sampler("top-a", top_a)
    with pytest.raises(ValueError, match="built in"):
        registry.unregister_sampler("temperature")
    assert "x_a" not in registry.names()


def test_the_builtins_are_declared_through_the_same_call():
    names = registry.names()
    assert names[:9] == ["repetition_penalty", "no_repeat_ngram_size", "temperature", "top_k", "top_p", "min_p",
                         "typical_p", "epsilon_cutoff", "eta_cutoff"]
    assert all(s.builtin for s in registry.samplers())
    assert set(gx.Settings().as_dict()) == {*names, "semantics"}


def test_captions_and_titles_name_every_active_sampler(lm):
    run = lm.generate("Hi! My name is", length=6, seed=1, min_p=0.1, repetition_penalty=1.3)
    fig = gx.next_token_bars(run[0].steps[2])
    for text in (fig.layout.title.text, gx.caption(fig)):
        assert "min-p=0.1" in text and "repetition penalty=1.3" in text
    assert "min-p=0.1" in run._repr_html_()


# ---- settings checked once, the pipeline run once ------------------------------------------------

def _counting(monkeypatch, name: str) -> dict:
    """Count calls of one registered sampler's check and stage."""
    counts = {"check": 0, "stage": 0}
    entry = registry._REGISTRY[name]

    def check(value):
        counts["check"] += 1
        return entry.check(value)

    def stage(logits, value, **kw):
        counts["stage"] += 1
        return entry.function(logits, value, **kw)

    stage.__signature__ = __import__("inspect").signature(entry.function)
    monkeypatch.setitem(registry._REGISTRY, name, dataclasses.replace(entry, check=check, stage=stage))
    return counts


@pytest.mark.parametrize("top", [None, 64])
def test_a_slider_move_checks_the_settings_once_and_runs_the_pipeline_once(lm, monkeypatch, tmp_path, top):
    run = lm.generate("Hi! My name is", length=4, seed=1)
    if top:  # a top-N bundle's steps (their figure; the explorer wants full rows): whether a view is exact
        run = gx.load_run(run.save(tmp_path / "top", top=top))  # is read from the same settings
        assert run[0].steps[0].truncation is not None
        counts = _counting(monkeypatch, "temperature")
        gx.next_token_bars(run[0].steps[0], temperature=0.55)
        assert counts == {"check": 1, "stage": 1}
        return
    explorer = gx.explore(run)
    counts = _counting(monkeypatch, "temperature")
    explorer.controls["temperature"].value = 0.55
    assert counts == {"check": 1, "stage": 1}
    explorer.close()


def test_the_maths_never_checks_again(lm, monkeypatch):
    step = lm.generate("Hi! My name is", length=3, seed=1)[0].steps[1]
    settings = gx.Settings(temperature=0.7, top_k=5)
    counts = _counting(monkeypatch, "temperature")
    probs = step.distribution_under(settings)
    assert counts == {"check": 0, "stage": 1}
    assert torch.equal(probs, step.distribution(temperature=0.7, top_k=5))
    assert counts["check"] == 1  # distribution(...) checks once, where the values enter


# ---- settings travel as one value -----------------------------------------------------------

CLASSIC = {"temperature", "top_k", "top_p"}
SETTINGS_ROUTES = {"settings", "more", "samplers"}  # a **kwargs of sampler values by name


def _takes_settings_by_name(path: Path, root: Path = PACKAGE) -> list[str]:
    """'module:qualified.name' of each function that takes sampler values by name: two or more of
    temperature / top_k / top_p, or a **settings / **more / **samplers."""
    found = []

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                walk(child, prefix + [child.name])
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = child.args
                names = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
                if len(names & CLASSIC) >= 2 or (a.kwarg is not None and a.kwarg.arg in SETTINGS_ROUTES):
                    module = ".".join(path.relative_to(root).with_suffix("").parts)
                    found.append(f"{module}:{'.'.join(prefix + [child.name])}")
                walk(child, prefix + [child.name])

    walk(ast.parse(path.read_text()), [])
    return found


# Where a person's values enter, by name; each builds its Settings once and hands that on.
# Everything else inside the package takes `settings: Settings` (None = a step's own).
SETTINGS_DOORS = {
    "gx": ["core.sampling:filter_logits", "core.sampling:probabilities", "figures.bars:next_token_bars",
           "figures.counterfactual:coupling_figure", "figures.drawplot:draw_figure", "figures.lensplots:lens_heatmap",
           "figures.lensplots:lens_grid", "figures.pipeline:pipeline_figure", "figures.plots:temperature_sweep",
           "figures.plots:generation_overview", "figures.plots:compare_next_token", "figures.plots:log_ratio_table",
           "figures.textview:text_view", "model.generation:generate", "model.study:study",
           "views.stages:sampling_stages", "widgets.comparer:compare", "widgets.inspector:inspect",
           "widgets.stepper:stepper"],
    "method": ["core.settings:Settings.__init__", "core.settings:Settings.replace",
               "core.trace:Step.layer_distribution", "core.trace:Step.lens", "core.trace:Step.distribution",
               "core.trace:Step.exact_for", "core.trace:Step.settings_for", "core.trace:Step.resample",
               "core.trace:Step.top", "core.trace:Run.summary", "core.trace:Run.counterfactual",
               "model.session:Session.__init__", "model.session:Session.set",
               "widgets.comparer:Comparer.__init__", "widgets.inspector:Inspector.__init__"],
    "extension": ["model.counterfactual:counterfactual", "model.lens:lens_table", "model.scoring:summary"],
    "LM": ["model.counterfactual:hindsight", "model.scoring:score"],
    "notebooks": ["teaching.demos:temperature_samples"],
}


def test_settings_travel_as_one_value():
    """Sampler values by name (temperature, top_k, top_p, ..., or **settings) are taken only
    where a person's values enter: public functions and methods, which build one Settings and
    pass it down. A new internal function that takes them by name fails here: give it
    `settings: Settings` instead."""
    import importlib

    from gpt2explore.core import extensions

    found = {hit for path in sorted(PACKAGE.rglob("*.py")) for hit in _takes_settings_by_name(path)}
    doors = {name for names in SETTINGS_DOORS.values() for name in names}
    assert found - doors == set(), "takes settings by name inside the package: " + ", ".join(sorted(found - doors))
    assert doors - found == set(), "no longer a door (drop it from SETTINGS_DOORS): " + ", ".join(sorted(doors - found))

    def resolve(door):
        module, name = door.split(":")
        obj = importlib.import_module(f"gpt2explore.{module}")
        for part in name.split("."):
            obj = getattr(obj, part)
        return obj

    for door in SETTINGS_DOORS["gx"]:  # each is the public name it says it is
        assert getattr(gx, door.split(":")[1]) is resolve(door), door
    public_classes = {"Settings", "Step", "Run", "Session"} | {"Comparer", "Inspector"}  # gx.compare / gx.inspect
    for door in SETTINGS_DOORS["method"]:
        assert door.split(":")[1].split(".")[0] in public_classes, door
    assert (gx.compare.__annotations__["return"], gx.inspect.__annotations__["return"]) == ("Comparer", "Inspector")
    for owner, name in extensions.PROVIDERS:
        importlib.import_module(extensions.PROVIDERS[(owner, name)])
    registered = list(extensions._FUNCTIONS.values())
    for door in SETTINGS_DOORS["extension"]:  # run.counterfactual(...), step.lens(...), run.summary(...)
        assert any(resolve(door) is fn for fn in registered), door
    for door in SETTINGS_DOORS["LM"]:  # lm.hindsight(...), lm.score(...)
        assert callable(getattr(gx.LM, door.split(":")[1])), door


def test_the_settings_walk_sees_an_internal_function_taking_them_by_name(tmp_path):
    module = tmp_path / "probe.py"
    module.write_text("def f(step, settings):\n    pass\n\n\ndef g(step, temperature=None, top_k=None):\n    pass\n\n\n"
                      "class A:\n    def h(self, n, **more):\n        pass\n\n    def k(self, top_k):\n        pass\n")
    assert _takes_settings_by_name(module, tmp_path) == ["probe:g", "probe:A.h"]
