"""Installing like any Python package: the wheel carries the bundled model and data, errors
stay short, `make lab` works as root, notebooks write only to ignored folders."""
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import gpt2explore as gx
from gpt2explore.files import page

REPO = Path(__file__).resolve().parent.parent
WHEEL_LIMIT = 30 * 2**20


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-w", str(out), "-q"],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "project.license" not in built.stderr and "License classifiers" not in built.stderr
    (path,) = out.glob("gpt2explore-*.whl")
    return path


@pytest.mark.slow
def test_the_wheel_holds_the_package_and_its_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ["gpt2explore/__init__.py", "gpt2explore/data/names.csv", "gpt2explore/data/texts/mississippi.txt",
                   "gpt2explore/data/models/tiny/config.json", "gpt2explore/data/models/tiny/model.safetensors",
                   "gpt2explore/data/models/tiny/vocab.json", "gpt2explore/data/models/tiny/merges.txt",
                   "gpt2explore/training/train.py", "gpt2explore/training/__main__.py",
                   "gpt2explore/frontend/__init__.py", "gpt2explore/frontend/page_math.js",
                   "gpt2explore/frontend/page_view.js", "gpt2explore/frontend/page.css"]:
        assert needed in names, needed
    assert wheel.stat().st_size < WHEEL_LIMIT, wheel.stat().st_size
    assert not any(n.startswith(("tests/", "notebooks/", "data/")) for n in names)


@pytest.mark.slow
def test_the_installed_wheel_works_outside_the_repository(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = ("import sys, gpt2explore as gx\n"
            f"assert gx.__file__.startswith({str(target)!r}), gx.__file__\n"
            f"assert not any(p.rstrip('/') == {str(REPO)!r} for p in sys.path)\n"
            "lm = gx.load()\n"
            "assert str(gx.data_path('names.csv')).startswith(" + repr(str(target)) + ")\n"
            "run = lm.generate('Hi! My name is', length=1, seed=1)\n"
            "print('TOKEN', run[0].tokens[0], lm.name)\n"
            "print('PAGE', 'GX.mountAll' in gx.page(run) and 'function powerBounds' in gx.page(run))\n")
    env = dict(os.environ, PYTHONPATH=str(target), HF_HUB_OFFLINE="1")
    env.pop("GPT2EXPLORE_DATA", None)
    out = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert re.search(r"TOKEN \d+ tiny", out.stdout)
    assert "PAGE True" in out.stdout  # the page's script travels in the wheel
    version = subprocess.run([sys.executable, "-m", "gpt2explore", "--version"], cwd=elsewhere, env=env,
                             capture_output=True, text=True, timeout=120)
    assert version.stdout.strip() == f"gpt2explore {gx.__version__}"


def test_an_unavailable_model_is_one_short_traceback(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    out = subprocess.run([sys.executable, "-c", "import gpt2explore as gx; gx.load('gpt2')"], env=env,
                         capture_output=True, text=True, timeout=120)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 1
    assert lines[-1].startswith("gpt2explore.model.loading.ModelUnavailableError: model 'gpt2' is not available here")
    assert "load('tiny')" in lines[-1] and "OSError" in lines[-1]  # the original reason, in one line
    frames = [line for line in lines if line.strip().startswith("File ")]
    assert len(frames) <= 3 and not any("huggingface_hub" in f or "transformers" in f for f in frames), lines
    assert "During handling of the above exception" not in out.stderr
    missing = subprocess.run([sys.executable, "-c", f"import gpt2explore as gx; gx.load({str(tmp_path / 'nope')!r})"],
                             capture_output=True, text=True, timeout=120)
    assert len(missing.stderr.strip().splitlines()) <= 8 and "unknown model" in missing.stderr


def test_version_flags():
    for cmd in ([sys.executable, "-m", "gpt2explore", "--version"], [shutil.which("gpt2explore") or "", "--version"]):
        if not cmd[0]:
            continue
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout.strip() == f"gpt2explore {gx.__version__}"


def test_make_lab_passes_allow_root_to_root():
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    # -o Makefile: the stamp stands in for "installed", and a Makefile older than pyproject.toml must not be
    # remade for real (make remakes its makefiles even under -n)
    out = subprocess.run(["make", "-n", "-o", "Makefile", "lab", "STAMP=Makefile"], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    line = next(line for line in out.stdout.splitlines() if "jupyter lab" in line)
    assert ("--allow-root" in line) == (os.geteuid() == 0)
    assert "URL" in out.stdout


def test_notebook_exports_are_ignored_by_git():
    if not (REPO / ".git").exists() or not shutil.which("git"):
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "check-ignore", "-q", "notebooks/exports/next_token.png"], cwd=REPO)
    assert out.returncode == 0
    source = (REPO / "notebooks" / "05_export_for_write_ups.ipynb").read_text()
    assert 'EXPORT_DIR = \\"exports\\"' in source


def test_environment_yml_installs_what_make_lab_installs():
    env = (REPO / "environment.yml").read_text()
    make = (REPO / "Makefile").read_text()
    extras = re.search(r'-e "?\.\[(\w+)\]', make).group(1)
    assert f"-e .[{extras}]" in env
    pyproject = (REPO / "pyproject.toml").read_text()
    assert f"{extras} = " in pyproject and 'license = "MIT"' in pyproject


def test_one_version_everywhere(lm, tmp_path):
    """pyproject.toml, the package, the newest section of CHANGELOG.md, and what a bundle and a
    page record as the version that wrote them."""
    root = Path(__file__).resolve().parent.parent
    declared = re.search(r'^version = "([^"]+)"', (root / "pyproject.toml").read_text(), re.M).group(1)
    newest = re.search(r"^## (\S+)", (root / "CHANGELOG.md").read_text(), re.M).group(1)
    assert declared == gx.__version__ == newest
    run = lm.generate("Hi! My name is", length=3, seed=1)
    manifest = json.loads((run.save(tmp_path / "bundle") / "manifest.json").read_text())
    assert manifest["versions"]["gpt2explore"] == gx.__version__
    assert page.data_of(run, None)["facts"]["versions"]["gpt2explore"] == gx.__version__
