"""Hostile input: damaged run bundles and text that is not valid Unicode get one clear error."""
import copy
import json
import random
import subprocess
import sys

import pytest

import gpt2explore as gx
from gpt2explore import bundle


@pytest.fixture(scope="module")
def saved(lm, tmp_path_factory):
    run = lm.generate(["Hello there", "Hi! My name is"], nsamples=1, length=5, seed=2, top_k=30)
    folder = run.save(tmp_path_factory.mktemp("b") / "bundle")
    return run, folder, json.loads((folder / "manifest.json").read_text())


def write(folder, manifest):
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def bundle_copy(saved, tmp_path):
    import shutil

    _, folder, manifest = saved
    target = tmp_path / "copy"
    shutil.copytree(folder, target)
    return target, copy.deepcopy(manifest)


@pytest.mark.parametrize("edit, words", [
    (lambda m: m.pop("files"), "files is missing"),
    (lambda m: m.__setitem__("samples", "abc"), "samples must be a list"),
    (lambda m: m["samples"][0].__setitem__("tokens", m["samples"][0]["tokens"] * 3), "forced has 5 entries, expected 15"),
    (lambda m: m["samples"][0].__setitem__("tokens", m["samples"][0]["tokens"][:2]), "forced has 5 entries, expected 2"),
    (lambda m: m["logits"].__setitem__("vocab_size", 10**12), "logits.vocab_size must be in"),
    (lambda m: m["samples"][1]["tokens"].__setitem__(2, 50257), r"samples\[1\].tokens\[2\] must be in 0..50256"),
    (lambda m: m["samples"][0]["settings"][1].__setitem__("top_p", 7), r"samples\[0\].settings\[1\] is not valid"),
    (lambda m: m["samples"][0]["uniforms"].__setitem__(0, "x"), r"samples\[0\].uniforms\[0\] must be a finite"),
    (lambda m: m.__setitem__("seed", -1), "seed must be >= 0"),
    (lambda m: m["samples"][0].__setitem__("prompt_tokens", []), "prompt_tokens is empty"),
])
def test_damaged_manifests_name_the_field(bundle_copy, edit, words):
    folder, manifest = bundle_copy
    edit(manifest)
    write(folder, manifest)
    with pytest.raises(bundle.BundleError, match=words) as info:
        gx.load_run(folder)
    assert "\n" not in str(info.value) and str(folder) in str(info.value)


def test_tensor_shapes_must_match_the_manifest(bundle_copy):
    folder, manifest = bundle_copy
    manifest["logits"]["vocab_size"] = 50000
    for sample in manifest["samples"]:
        sample["tokens"] = [t % 50000 for t in sample["tokens"]]
        sample["prompt_tokens"] = [t % 50000 for t in sample["prompt_tokens"]]
    write(folder, manifest)
    with pytest.raises(bundle.BundleError, match=r"s0.logits has shape \(5, 50257\), expected \(5, 50000\)"):
        gx.load_run(folder)


def test_edited_draws_are_caught(bundle_copy):
    folder, manifest = bundle_copy
    sample = manifest["samples"][0]
    sample["tokens"][3] = (sample["tokens"][3] + 1) % 50257
    write(folder, manifest)
    with pytest.raises(bundle.BundleError, match=r"samples\[0\] step 3"):
        gx.load_run(folder)


def test_todays_bundles_still_load(saved):
    run, folder, _ = saved
    loaded = gx.load_run(folder)
    assert loaded.texts == run.texts


def _mutations(manifest, rng):
    """One random damage: drop a key, change a type, shorten or lengthen a list, an id out of range."""
    m = copy.deepcopy(manifest)
    paths = []

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                paths.append(path + [k])
                walk(v, path + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node[:6]):
                paths.append(path + [i])
                walk(v, path + [i])

    walk(m, [])
    path = rng.choice(paths)
    parent = m
    for key in path[:-1]:
        parent = parent[key]
    key, value = path[-1], parent[path[-1]]
    kind = rng.choice(["drop", "type", "short", "long", "range", "number"])
    if kind == "drop":
        if isinstance(parent, dict):
            del parent[key]
        else:
            parent.pop(key)
    elif kind == "type":
        parent[key] = rng.choice([None, "text", 1.5, [], {}, True, -3])
    elif kind in ("short", "long") and isinstance(value, list):
        parent[key] = value[:-1] if kind == "short" else value + value[:1]
    elif kind == "range" and isinstance(value, int) and not isinstance(value, bool):
        parent[key] = rng.choice([-1, 50257, 10**9, 2**63])
    elif kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        parent[key] = rng.choice([value + 1, value * 2, -value, float("nan"), 1e300])
    else:
        parent[key] = None
    return m


def test_fuzzed_manifests_end_in_a_bundle_error_or_a_consistent_run(bundle_copy, tokenizer_loaded_once):
    folder, manifest = bundle_copy  # only the manifest is damaged: its tokenizer loads once
    rng = random.Random(0)
    outcomes = {"error": 0, "loaded": 0}
    for _ in range(200):
        write(folder, _mutations(manifest, rng))
        try:
            run = gx.load_run(folder)
        except bundle.BundleError as err:
            assert "\n" not in str(err)
            outcomes["error"] += 1
            continue
        outcomes["loaded"] += 1
        for sample in run:  # what loads is consistent: every draw replays
            assert len(sample.tokens) == len(sample.steps)
            for step in sample.steps:
                assert 0 <= step.token < 50257
                if not step.forced:
                    assert step.resample() == step.token
    assert outcomes["error"] > 100 and outcomes["loaded"] > 0, outcomes
    assert len(tokenizer_loaded_once) == 1


@pytest.mark.parametrize("call", ["generate", "session", "force", "encode"])
def test_lone_surrogates_are_a_value_error_naming_the_position(lm, call):
    text = "Hi \ud800 there"
    with pytest.raises(ValueError, match="lone surrogate.*position 3") as info:
        if call == "generate":
            lm.generate(text, length=2)
        elif call == "session":
            lm.session(text)
        elif call == "force":
            lm.session("Hi").force(text)
        else:
            lm.encode(text)
    assert "TextEncodeInput" not in str(info.value)


def test_cli_rejects_bytes_that_are_not_utf8(rnd_dir):
    rng = random.Random(1)
    data = bytes(rng.randrange(256) for _ in range(3000))
    out = subprocess.run([sys.executable, "-m", "gpt2explore", "interact", f"--model_name={rnd_dir}",
                          "--length=2"], input=data, capture_output=True, timeout=120)
    err = out.stderr.decode()
    assert out.returncode == 2, err
    assert "not UTF-8" in err and "Traceback" not in err and "TextEncodeInput" not in err
    assert err.count("\n") == 1
