"""Run bundles: a folder that restores a Run with no model loaded, and replays it exactly.

    manifest.json       model, weights sha256, versions, device, settings, seed, prompts,
                        every sample's tokens, uniforms and per-step settings, file checksums
    logits.safetensors  per sample: full raw logits (steps, vocab), or the top-N logits with
                        their ids and the log-normaliser (logsumexp over the whole vocabulary)
    tokenizer/          the tokenizer, so texts and token labels need no model

A bundle is written into a temporary folder and renamed into place, so a half-written bundle
never exists under the final name.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from .sampling import Settings
from .trace import Run, Sample, Step

FORMAT = "gpt2explore-run/1"
MANIFEST, LOGITS, TOKENIZER = "manifest.json", "logits.safetensors", "tokenizer"


class BundleError(ValueError):
    """A run bundle that is missing a file or whose files do not match their checksums."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_run(run: Run, folder, logits: str = "full", top: int = 256) -> Path:
    """Write `run` to `folder` (which must not exist yet, or be an earlier bundle to replace).

    logits: "full" (every step's raw logits; distributions under any settings are exact) or
    "top" (the `top` largest logits, their ids and the log-normaliser; 4 + 4 bytes x top per
    step; distributions are exact for top_k <= top, the tail beyond is dropped).
    """
    from safetensors.torch import save_file

    from .provenance import versions

    if logits not in ("full", "top"):
        raise ValueError(f"logits must be 'full' or 'top', got {logits!r}")
    if run.keep_logits == "none":
        raise ValueError("this run kept no logits (keep_logits='none'); generate it again with "
                         "keep_logits='float32' to save a bundle")
    folder = Path(folder)
    if folder.exists() and not (folder / MANIFEST).exists():
        raise ValueError(f"{folder} exists and is not a run bundle; choose a new folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        tensors, samples = {}, []
        for k, sample in enumerate(run.samples):
            stacked = torch.stack([s.require_logits() for s in sample.steps]).float().cpu()  # (steps, V)
            if logits == "full":
                tensors[f"s{k}.logits"] = stacked.contiguous()
            else:
                values, ids = torch.topk(stacked, min(top, stacked.shape[-1]), dim=-1)
                tensors[f"s{k}.values"] = values.contiguous()
                tensors[f"s{k}.ids"] = ids.to(torch.int32).contiguous()
                tensors[f"s{k}.lse"] = torch.logsumexp(stacked, dim=-1).contiguous()
            samples.append({
                "prompt_index": sample.prompt_index, "index": sample.index,
                "prompt": sample.prompt, "prompt_tokens": list(sample.prompt_tokens),
                "tokens": sample.tokens, "uniforms": [s.u for s in sample.steps],
                "probs": [s.prob for s in sample.steps], "forced": [s.forced for s in sample.steps],
                "settings": [s.settings.as_dict() for s in sample.steps],
            })
        save_file(tensors, str(tmp / LOGITS), metadata={"format": FORMAT})
        tokenizer = getattr(run.lm, "tokenizer", None) or run.meta.get("_tokenizer")
        if tokenizer is None:
            raise ValueError("this run has no tokenizer to save (it was neither generated nor loaded)")
        tokenizer.save_pretrained(str(tmp / TOKENIZER))
        manifest = {
            "format": FORMAT, "model": run.model_name, "weights_sha256": run.weights_sha256,
            "versions": versions(), "device": run.meta.get("device"), "seed": run.seed,
            "length": run.length, "settings": run.settings.as_dict(), "prompts": run.prompts,
            "logits": {"mode": logits, "top": top if logits == "top" else None, "dtype": "float32",
                       "vocab_size": int(run.samples[0].steps[0].require_logits().shape[-1])},
            "meta": {k: v for k, v in run.meta.items() if not k.startswith("_")},
            "samples": samples,
            "files": {LOGITS: _sha256(tmp / LOGITS)},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def load_run(folder, device: str = "cpu") -> Run:
    """Restore a Run from a bundle, with no model: every plot and widget works from it."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"no run bundle at {folder}: not a folder")
    mpath = folder / MANIFEST
    if not mpath.exists():
        raise BundleError(f"run bundle {folder} is missing {MANIFEST}; save it again with run.save()")
    try:
        manifest = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(f"run bundle {folder}: {MANIFEST} is corrupt ({err})") from err
    if manifest.get("format") != FORMAT:
        raise BundleError(f"run bundle {folder}: {MANIFEST} has format {manifest.get('format')!r}, "
                          f"expected {FORMAT!r}")
    lpath = folder / LOGITS
    if not lpath.exists():
        raise BundleError(f"run bundle {folder} is missing {LOGITS}")
    if _sha256(lpath) != manifest["files"][LOGITS]:
        raise BundleError(f"run bundle {folder}: {LOGITS} does not match its checksum in {MANIFEST} "
                          f"(truncated or modified)")
    if not (folder / TOKENIZER).is_dir():
        raise BundleError(f"run bundle {folder} is missing its {TOKENIZER}/ folder")
    try:
        tensors = load_file(str(lpath), device=device)
    except Exception as err:  # noqa: BLE001 - the checksum catches corruption first
        raise BundleError(f"run bundle {folder}: {LOGITS} cannot be read ({err})") from err
    tokenizer = AutoTokenizer.from_pretrained(str(folder / TOKENIZER))

    def decode(tokens):
        return tokenizer.decode(list(tokens), clean_up_tokenization_spaces=False)

    mode, vocab = manifest["logits"]["mode"], manifest["logits"]["vocab_size"]
    samples = []
    for k, rec in enumerate(manifest["samples"]):
        if mode == "full":
            rows = tensors[f"s{k}.logits"]
        else:
            values, ids = tensors[f"s{k}.values"], tensors[f"s{k}.ids"].long()
            rows = torch.full((values.shape[0], vocab), float("-inf"), device=device)
            rows = rows.scatter(-1, ids, values)
        sample = Sample(rec["prompt"], rec["prompt_tokens"], rec["index"], decode=decode,
                        prompt_index=rec["prompt_index"])
        n_prompt = len(rec["prompt_tokens"])
        for t, tok in enumerate(rec["tokens"]):
            sample.steps.append(Step(token=tok, u=rec["uniforms"][t], position=n_prompt + t,
                                     settings=Settings(**rec["settings"][t]), logits=rows[t], index=t,
                                     prob=rec["probs"][t], forced=rec["forced"][t], sample=sample))
        samples.append(sample)
    meta = dict(manifest.get("meta", {}), weights_sha256=manifest["weights_sha256"], bundle=str(folder),
                logits_mode=mode, saved_versions=manifest["versions"], _tokenizer=tokenizer)
    return Run(samples, Settings(**manifest["settings"]), manifest["seed"], model_name=manifest["model"],
               length=manifest["length"], keep_logits="float32", meta=meta)


@dataclass
class Verification:
    """What `run.verify(lm)` found."""

    weights_match: bool
    logits_match: bool
    tokens_match: bool
    max_abs_diff: float
    steps: int

    @property
    def ok(self) -> bool:
        return self.logits_match and self.tokens_match

    def __repr__(self) -> str:
        verdict = "matches" if self.ok else "DOES NOT match"
        return (f"Verification: the model {verdict} the run over {self.steps} steps (logits "
                f"{'match' if self.logits_match else 'differ'}, max |diff| {self.max_abs_diff:.2e}; "
                f"tokens {'replay' if self.tokens_match else 'differ'}; weights sha256 "
                f"{'same' if self.weights_match else 'different'})")


def verify_run(run: Run, lm, atol: float = 1e-4) -> Verification:
    """Re-run `lm` over each sample's recorded tokens and replay every draw from the logits."""
    worst, tokens_ok, steps = 0.0, True, 0
    for sample in run.samples:
        seq = sample.context_tokens[:-1]  # the last token is never fed
        with torch.inference_mode():
            full = lm.model(torch.tensor([seq], device=lm.device)).logits[0].float()  # (T, V)
        for step in sample.steps:
            fresh = full[step.position - 1]
            stored = step.require_logits().to(fresh.device).float()
            finite = torch.isfinite(stored)  # top-N bundles store only some logits
            worst = max(worst, float((fresh[finite] - stored[finite]).abs().max()))
            if not step.forced:
                tokens_ok &= step.resample() == step.token
            steps += 1
    return Verification(weights_match=run.weights_sha256 == lm.weights_sha256, logits_match=worst <= atol,
                        tokens_match=bool(tokens_ok), max_abs_diff=worst, steps=steps)


def save_table(run: Run, path, top: int = 20) -> Path:
    """`run.to_frame(top)` as CSV or Parquet, by the suffix."""
    path = Path(path)
    frame = run.to_frame(top=top)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        raise ValueError(f"table format {path.suffix!r} is not supported; use .csv or .parquet")
    return path
