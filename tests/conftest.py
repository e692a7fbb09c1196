"""Shared fixtures: small random GPT-2 models built by the tests themselves."""
from __future__ import annotations

import os
import sys

# Under pytest-xdist (make test runs one worker per core) each worker, and every process it starts
# (the command line, notebook kernels), computes on one thread: two workers' thread pools on the
# same cores would spin against each other. Set before torch is first imported.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from helpers import make_random_gpt2  # noqa: E402

import gpt2explore as gx  # noqa: E402


@pytest.fixture(scope="session")
def rnd_dir(tmp_path_factory):
    """A random 2-layer GPT-2 with a 64-token context and GPT-2's real vocabulary."""
    return make_random_gpt2(tmp_path_factory.mktemp("rnd") / "model")


@pytest.fixture(scope="session")
def lm(rnd_dir):
    return gx.load(str(rnd_dir), device="cpu")


@pytest.fixture(scope="session")
def cuda_lm(rnd_dir):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU; none is available on this machine")
    return gx.load(str(rnd_dir), device="cuda")


@pytest.fixture
def tokenizer_loaded_once(monkeypatch):
    """Bundles whose tokenizer files are the same bytes share the tokenizer the first of them
    loaded (and checked): loading one takes about a quarter of a second, so a test that loads
    dozens of bundles and is about something else spends most of its time there. A tokenizer
    folder that differs in any byte, or holds anything but small regular files, loads afresh."""
    import hashlib
    import stat
    from pathlib import Path

    from gpt2explore.files import bundle

    real, loaded = bundle._load_tokenizer, {}

    def load(folder):
        tdir = Path(folder) / bundle.TOKENIZER
        entries = sorted(tdir.iterdir()) if tdir.is_dir() else []
        if not entries or not all(stat.S_ISREG(e.stat().st_mode) and e.stat().st_size <= bundle.TOKENIZER_FILE_MAX
                                   for e in entries):
            return real(folder)
        key = tuple((e.name, hashlib.sha256(e.read_bytes()).hexdigest()) for e in entries)
        if key not in loaded:
            loaded[key] = real(folder)
        return loaded[key]

    monkeypatch.setattr(bundle, "_load_tokenizer", load)
    return loaded
