"""The run bundle's manifest.json: its format, checked field by field before anything is built.

Every check names the file, the sample and the field it found wrong, in one line, so that a
hand-edited or badly synced bundle fails with a `BundleError` rather than a KeyError deep
inside the loader.

Formats (`format` in the manifest):
- ``gpt2explore-run/2`` (written now): draws in double precision; `draw` says how the draws
  replay; every step's `rank` (counted from 0: `step.rank0`) and `raw_prob`; top-N bundles store each step's own token logit
  (`tok`) and their own-settings probabilities in float64; optional residuals (`resid`).
- ``gpt2explore-run/1`` (earlier releases): draws in single precision. Its first release wrote
  no `keep_logits` (float16 runs were drawn from float32 logits and rounded after) and top-N
  bundles without `own` probabilities; both load, checked within the precision they kept.
"""
from __future__ import annotations

import math
import numbers
import re

from ..core import registry
from ..core.settings import Settings

FORMAT = "gpt2explore-run/2"
FORMAT_1 = "gpt2explore-run/1"
FORMATS = (FORMAT, FORMAT_1)
MANIFEST, LOGITS, TOKENIZER = "manifest.json", "logits.safetensors", "tokenizer"
MAX_VOCAB = 1 << 21  # 2,097,152 tokens: far above any GPT-2 vocabulary, far below a memory blow-up
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BundleError(ValueError):
    """A run bundle that is missing a file, is malformed, or whose files do not match."""


class _Checker:
    def __init__(self, folder):
        self.folder = folder

    def fail(self, where: str, problem: str):
        raise BundleError(f"run bundle {self.folder}: {MANIFEST}: {where} {problem}")

    def field(self, record: dict, key: str, where: str):
        if not isinstance(record, dict):
            self.fail(where, f"must be an object, got {type(record).__name__}")
        if key not in record:
            self.fail(f"{where}{'.' if where else ''}{key}", "is missing")
        return record[key]

    def integer(self, value, where: str, low: int = 0, high: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            self.fail(where, f"must be an integer, got {value!r:.60}")
        if value < low or (high is not None and value > high):
            bound = f">= {low}" if high is None else f"in {low}..{high}"
            self.fail(where, f"must be {bound}, got {value}")
        return int(value)

    def number(self, value, where: str, low: float, high: float, high_open: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            self.fail(where, f"must be a finite number, got {value!r:.60}")
        if value < low or value > high or (high_open and value >= high):
            self.fail(where, f"must be in [{low}, {high}{')' if high_open else ']'}, got {value}")
        return float(value)

    def list_of(self, value, where: str, length: int | None = None) -> list:
        if not isinstance(value, list):
            self.fail(where, f"must be a list, got {type(value).__name__}")
        if length is not None and len(value) != length:
            self.fail(where, f"has {len(value)} entries, expected {length} (one per token)")
        return value

    def settings(self, value, where: str):
        if not isinstance(value, dict):
            self.fail(where, f"must be an object of settings, got {type(value).__name__}")
        unknown = [k for k in value if k != "semantics" and k not in registry.names()]
        if unknown:
            self.fail(where, f"uses the sampler {unknown[0]!r}, which is not registered in this session: "
                             f"gx.register_sampler({unknown[0]!r}, ...) before loading it")
        try:
            return Settings(**value)
        except TypeError as err:
            self.fail(where, f"has an unknown setting ({err})")
        except ValueError as err:
            self.fail(where, f"is not valid: {err}")


def check_manifest(manifest, folder) -> dict:
    """Check a parsed manifest against the format; return a dict of the checked values:
    mode, top, vocab, settings, and per sample its lists. Raises BundleError."""
    c = _Checker(folder)
    if not isinstance(manifest, dict):
        c.fail("the top level", f"must be an object, got {type(manifest).__name__}")
    fmt = manifest.get("format")
    if fmt not in FORMATS:
        c.fail("format", f"is {fmt!r}, expected one of {', '.join(repr(f) for f in FORMATS)} (a newer "
                         f"gpt2explore may have written it: upgrade)")
    files = c.field(manifest, "files", "")
    digest = c.field(files, LOGITS, "files")
    if not isinstance(digest, str) or not _SHA256.match(digest):
        c.fail(f"files.{LOGITS}", "must be a sha256 hex digest")
    model = c.field(manifest, "model", "")
    if not isinstance(model, str):
        c.fail("model", f"must be a string, got {type(model).__name__}")
    sha = manifest.get("weights_sha256")
    if sha is not None and not isinstance(sha, str):
        c.fail("weights_sha256", f"must be a string or null, got {type(sha).__name__}")
    for key in ("versions", "meta"):
        if key in manifest and not isinstance(manifest[key], dict):
            c.fail(key, f"must be an object, got {type(manifest[key]).__name__}")
    seed = c.field(manifest, "seed", "")
    seed = None if seed is None else c.integer(seed, "seed")  # None: a scored text has no draws
    length = c.integer(c.field(manifest, "length", ""), "length")
    settings = c.settings(c.field(manifest, "settings", ""), "settings")
    logits = c.field(manifest, "logits", "")
    mode = c.field(logits, "mode", "logits")
    if mode not in ("full", "top"):
        c.fail("logits.mode", f"must be 'full' or 'top', got {mode!r}")
    vocab = c.integer(c.field(logits, "vocab_size", "logits"), "logits.vocab_size", 1, MAX_VOCAB)
    top = c.integer(c.field(logits, "top", "logits"), "logits.top", 1, vocab) if mode == "top" else None
    keep = manifest.get("keep_logits", "float32")
    if keep not in ("float32", "float16"):
        c.fail("keep_logits", f"must be 'float32' or 'float16', got {keep!r}")
    draw = _check_draw(c, manifest) if fmt == FORMAT else {"dtype": "float32", "exact": True}
    samples = c.list_of(c.field(manifest, "samples", ""), "samples")
    if not samples:
        c.fail("samples", "is empty; a bundle holds at least one sample")
    checked = [_check_sample(c, rec, k, vocab, fmt == FORMAT) for k, rec in enumerate(samples)]
    return {"format": fmt, "mode": mode, "top": top, "vocab": vocab, "settings": settings, "seed": seed,
            "length": length, "keep_logits": keep, "samples": checked, "draw": draw,
            "first_release": fmt == FORMAT_1 and "keep_logits" not in manifest,
            "samplers": manifest.get("samplers") if isinstance(manifest.get("samplers"), dict) else {}}


def _check_draw(c: _Checker, manifest: dict) -> dict:
    draw = c.field(manifest, "draw", "")
    dtype = c.field(draw, "dtype", "draw")
    if dtype not in ("float64", "float32"):
        c.fail("draw.dtype", f"must be 'float64' or 'float32', got {dtype!r}")
    exact = c.field(draw, "exact", "draw")
    if not isinstance(exact, bool):
        c.fail("draw.exact", f"must be true or false, got {exact!r:.60}")
    return {"dtype": dtype, "exact": exact}


def _check_sample(c: _Checker, rec, k: int, vocab: int, current: bool) -> dict:
    where = f"samples[{k}]"
    if not isinstance(rec, dict):
        c.fail(where, f"must be an object, got {type(rec).__name__}")
    prompt = c.field(rec, "prompt", where)
    if prompt is not None and not isinstance(prompt, str):
        c.fail(f"{where}.prompt", f"must be a string or null, got {type(prompt).__name__}")
    out = {"prompt": prompt,
           "prompt_index": c.integer(c.field(rec, "prompt_index", where), f"{where}.prompt_index"),
           "index": c.integer(c.field(rec, "index", where), f"{where}.index")}
    prompt_tokens = c.list_of(c.field(rec, "prompt_tokens", where), f"{where}.prompt_tokens")
    if not prompt_tokens:
        c.fail(f"{where}.prompt_tokens", "is empty")
    out["prompt_tokens"] = [c.integer(t, f"{where}.prompt_tokens[{i}]", 0, vocab - 1)
                            for i, t in enumerate(prompt_tokens)]
    tokens = c.list_of(c.field(rec, "tokens", where), f"{where}.tokens")
    n = len(tokens)
    out["tokens"] = [c.integer(t, f"{where}.tokens[{i}]", 0, vocab - 1) for i, t in enumerate(tokens)]
    forced = c.list_of(c.field(rec, "forced", where), f"{where}.forced", n)
    for i, f in enumerate(forced):
        if not isinstance(f, bool):
            c.fail(f"{where}.forced[{i}]", f"must be true or false, got {f!r:.60}")
    out["forced"] = forced
    out["noise"] = noise = _check_noise(c, rec.get("noise"), where, n)
    uniforms = c.list_of(c.field(rec, "uniforms", where), f"{where}.uniforms", n)
    out["uniforms"] = [None if (forced[i] or noise[i] is not None) and u is None else
                       c.number(u, f"{where}.uniforms[{i}]", 0.0, 1.0, high_open=True)
                       for i, u in enumerate(uniforms)]
    probs = c.list_of(c.field(rec, "probs", where), f"{where}.probs", n)
    out["probs"] = [None if p is None else c.number(p, f"{where}.probs[{i}]", 0.0, 1.0)
                    for i, p in enumerate(probs)]
    settings = c.list_of(c.field(rec, "settings", where), f"{where}.settings", n)
    out["settings"] = [c.settings(s, f"{where}.settings[{i}]") for i, s in enumerate(settings)]
    out["rank"] = out["raw_prob"] = None
    out["replays"] = [True] * n
    if current:
        ranks = c.list_of(c.field(rec, "rank", where), f"{where}.rank", n)
        out["rank"] = [c.integer(r, f"{where}.rank[{i}]", 0, vocab - 1) for i, r in enumerate(ranks)]
        raws = c.list_of(c.field(rec, "raw_prob", where), f"{where}.raw_prob", n)
        out["raw_prob"] = [c.number(p, f"{where}.raw_prob[{i}]", 0.0, 1.0) for i, p in enumerate(raws)]
        if "replays" in rec:
            replays = c.list_of(rec["replays"], f"{where}.replays", n)
            for i, r in enumerate(replays):
                if not isinstance(r, bool):
                    c.fail(f"{where}.replays[{i}]", f"must be true or false, got {r!r:.60}")
            out["replays"] = replays
    return out


NOISE_KINDS = ("gumbel", "posterior")  # Gumbel noise regenerated from its key (coupling.Gumbel, .Posterior)


def _check_noise(c: _Checker, noise, where: str, n: int) -> list:
    """Each step's Gumbel-noise key ({"kind", "seed", "sample", "step"}) or None (a uniform drew it)."""
    if noise is None:
        return [None] * n
    out = []
    for i, rec in enumerate(c.list_of(noise, f"{where}.noise", n)):
        at = f"{where}.noise[{i}]"
        if rec is None:
            out.append(None)
            continue
        if not isinstance(rec, dict) or rec.get("kind") not in NOISE_KINDS:
            c.fail(at, f"must be null or an object of kind {' or '.join(NOISE_KINDS)}, got {rec!r:.60}")
        out.append({"kind": rec["kind"], **{key: c.integer(c.field(rec, key, at), f"{at}.{key}")
                                            for key in ("seed", "sample", "step")}})
    return out


def check_tensors(shapes: dict, checked: dict, folder) -> None:
    """Tensor shapes in logits.safetensors against what the manifest says (`shapes`: name ->
    tuple, read from the file's header without loading the data)."""

    def fail(name, problem):
        raise BundleError(f"run bundle {folder}: {LOGITS}: {name} {problem}")

    vocab = checked["vocab"]
    for k, rec in enumerate(checked["samples"]):
        steps = len(rec["tokens"])
        if checked["mode"] == "full":
            name = f"s{k}.logits"
            if name not in shapes:
                fail(name, "is missing")
            if tuple(shapes[name]) != (steps, vocab):
                fail(name, f"has shape {tuple(shapes[name])}, expected ({steps}, {vocab}) from {MANIFEST}")
            continue
        current = checked["format"] == FORMAT
        for part in ("values", "ids", "lse") + (("tok",) if current else ()):
            if f"s{k}.{part}" not in shapes:
                fail(f"s{k}.{part}", "is missing")
        if current and f"s{k}.tok" in shapes and tuple(shapes[f"s{k}.tok"]) != (steps,):
            fail(f"s{k}.tok", f"has shape {tuple(shapes[f's{k}.tok'])}, expected ({steps},)")
        width = shapes[f"s{k}.values"]
        if len(width) != 2 or width[0] != steps or not 1 <= width[1] <= vocab:
            fail(f"s{k}.values", f"has shape {tuple(width)}, expected ({steps}, 1..{vocab})")
        if tuple(shapes[f"s{k}.ids"]) != tuple(width):
            fail(f"s{k}.ids", f"has shape {tuple(shapes[f's{k}.ids'])}, expected {tuple(width)}")
        if tuple(shapes[f"s{k}.lse"]) != (steps,):
            fail(f"s{k}.lse", f"has shape {tuple(shapes[f's{k}.lse'])}, expected ({steps},)")
        if f"s{k}.own" in shapes and tuple(shapes[f"s{k}.own"]) != tuple(width):
            fail(f"s{k}.own", f"has shape {tuple(shapes[f's{k}.own'])}, expected {tuple(width)}")
    for k, rec in enumerate(checked["samples"]):
        name = f"s{k}.resid"
        if name in shapes and (len(shapes[name]) != 3 or shapes[name][0] != len(rec["tokens"])):
            fail(name, f"has shape {tuple(shapes[name])}, expected ({len(rec['tokens'])}, layers + 1, width)")
