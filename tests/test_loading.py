"""load(): names, aliases, local folders, devices, dtypes, and the offline hub error."""
import os
import subprocess
import sys

import pytest
import torch

import gpt2explore as gx
from gpt2explore import loading


@pytest.mark.parametrize("name, hub", [("117M", "gpt2"), ("124M", "gpt2"), ("345M", "gpt2-medium"),
                                       ("355M", "gpt2-medium"), ("774M", "gpt2-large"),
                                       ("1558M", "gpt2-xl"), ("1.5B", "gpt2-xl"), ("gpt2", "gpt2"),
                                       ("distilgpt2", "distilgpt2"), ("someone/gpt2-poems", "someone/gpt2-poems")])
def test_names_resolve(name, hub):
    assert loading.resolve(name) == ("hub", hub)


def test_tiny_resolves_to_data_folder():
    kind, where = loading.resolve("tiny")
    assert kind == "dir" and where.endswith(os.path.join("data", "models", "tiny"))


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        gx.load("gpt5-ultra")
    msg = str(err.value)
    assert "gpt5-ultra" in msg and "gpt2-medium" in msg and "345M" in msg and "tiny" in msg


def test_local_folder_loads_in_eval_mode(rnd_dir):
    lm = gx.load(str(rnd_dir), device="cpu")
    assert not lm.model.training
    assert lm.n_ctx == 64 and lm.vocab_size == 50257 and lm.device == torch.device("cpu")
    assert lm.encode("Hi! My name is Isamu") == [17250, 0, 2011, 1438, 318, 1148, 321, 84]
    assert lm.decode([17250, 0]) == "Hi!"
    assert "n_ctx=64" in repr(lm) and "cpu" in repr(lm)
    assert len(lm.weights_sha256) == 64


def test_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="config.json"):
        gx.load(str(tmp_path))


def test_cpu_half_precision_is_refused(rnd_dir):
    with pytest.raises(ValueError, match="on the CPU"):
        gx.load(str(rnd_dir), device="cpu", dtype="float16")
    with pytest.raises(ValueError, match="unknown dtype"):
        gx.load(str(rnd_dir), device="cpu", dtype="float8")


def test_unavailable_device_is_a_clear_error(rnd_dir):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the error path needs a machine without it")
    with pytest.raises(ValueError, match="CUDA is not available"):
        gx.load(str(rnd_dir), device="cuda")
    with pytest.raises(ValueError, match="unknown device"):
        gx.load(str(rnd_dir), device="tpu9")


def test_hub_id_offline_names_the_remedies(tmp_path):
    code = ("import gpt2explore as gx\n"
            "try:\n    gx.load('gpt2')\n"
            "except gx.ModelUnavailableError as e:\n    print('ERR', e)\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("ERR"), out.stdout + out.stderr
    assert "'gpt2'" in out.stdout and "HF_HOME" in out.stdout and "tiny" in out.stdout
    assert issubclass(gx.ModelUnavailableError, ValueError)


def test_hub_id_without_network_fails_in_seconds(tmp_path):
    """No HF_HUB_OFFLINE, no cached copy, a hub that cannot be reached: one line, quickly, and
    none of the hub client's retry messages."""
    import time

    code = ("import gpt2explore as gx\n"
            "try:\n    gx.load('gpt2')\n"
            "except gx.ModelUnavailableError as e:\n    print('ERR', e)\n")
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT="http://127.0.0.1:9")  # port 9: nothing listens
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 20  # import and all; the hub client's retries took 53 s
    assert out.stdout.startswith("ERR") and "cannot be reached" in out.stdout, out.stdout + out.stderr
    assert "Retrying" not in out.stderr and out.stdout.count("\n") == 1
