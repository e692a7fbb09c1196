"""Shared fixtures: small random GPT-2 models built by the tests themselves."""
from __future__ import annotations

import os
import sys

import pytest
import torch

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
