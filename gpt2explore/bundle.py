"""Run bundles: a folder that restores a Run with no model loaded, and replays it exactly.

    manifest.json       model, weights sha256, versions, device, settings, seed, prompts,
                        every sample's tokens, uniforms and per-step settings, file checksums
    logits.safetensors  per sample: full raw logits (steps, vocab), or the top-N logits with
                        their ids, the log-normaliser (logsumexp over the whole vocabulary)
                        and the stored tokens' probabilities under the step's own settings
    tokenizer/          the tokenizer, so texts and token labels need no model

A bundle is written into a temporary folder and renamed into place, so a half-written bundle
never exists under the final name. Replacing a bundle moves the old one aside as
`.NAME.old`, renames the new one in, moves back any file the user had added, then deletes
the old one; if that is interrupted, the next save or load of NAME finishes or undoes it.
Only a folder that is a bundle (its manifest parses and has this format) or an empty
folder is ever replaced.

Reading is bounded: only regular files are read (a link to a device or a FIFO is a
BundleError), manifest.json up to 256 MiB, each tokenizer file up to 64 MiB, and
logits.safetensors up to 64 GiB (its header must match the manifest before data is read).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import torch

from .manifest import FORMAT, LOGITS, MANIFEST, TOKENIZER, BundleError, check_manifest, check_tensors
from .modes import honour_umask_tree
from .trace import Run, Sample, Step, Truncation

__all__ = ["BundleError", "FORMAT", "load_run", "save_run"]

MANIFEST_MAX = 256 << 20  # bytes
TOKENIZER_FILE_MAX = 64 << 20
LOGITS_MAX = 64 << 30
BUNDLE_ENTRIES = (MANIFEST, LOGITS, TOKENIZER)  # what a bundle writes; anything else is the user's


# ---- files -------------------------------------------------------------------------------
def regular_file(path: Path, limit: int, what: str) -> int:
    """The size of `path` if it is a regular file (links followed) of at most `limit` bytes."""
    try:
        info = os.stat(path)
    except OSError as err:
        raise BundleError(f"{what} {path} cannot be read ({err.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise BundleError(f"{what} {path} is not a regular file (a device, FIFO or folder); "
                          f"a bundle holds only regular files")
    if info.st_size > limit:
        raise BundleError(f"{what} {path} is {info.st_size:,} bytes, over the limit of {limit:,}")
    return info.st_size


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    regular_file(path, limit, what)
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise BundleError(f"{what} {path} is over the limit of {limit:,} bytes")
    return data


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _old_path(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.old")


def _move_user_files(old: Path, folder: Path) -> None:
    """Files the user added to the old bundle's folder go into the new one."""
    for entry in old.iterdir():
        if entry.name not in BUNDLE_ENTRIES and not (folder / entry.name).exists():
            os.replace(entry, folder / entry.name)


def recover(folder: Path) -> str | None:
    """Finish or undo a replace that was interrupted; returns what was done, or None."""
    old = _old_path(folder)
    if not old.is_dir() or old.is_symlink():
        return None
    if not folder.exists():  # stopped between the two renames: the old bundle comes back
        os.replace(old, folder)
        return f"restored {folder} from {old.name} (an earlier save was interrupted)"
    _move_user_files(old, folder)  # stopped after the new bundle was in place
    shutil.rmtree(old, ignore_errors=True)
    return f"removed the leftover {old.name} (an earlier save was interrupted)"


def is_bundle(folder: Path) -> bool:
    """A folder whose manifest.json is a regular file that parses and has our format."""
    try:
        data = read_bounded(folder / MANIFEST, MANIFEST_MAX, "manifest")
        manifest = json.loads(data)
    except (BundleError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


def _check_target(folder: Path) -> None:
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise ValueError(f"{folder} exists and is not a folder; choose a new folder for the bundle")
    if folder.is_dir() and any(folder.iterdir()) and not is_bundle(folder):
        raise ValueError(f"{folder} exists and is not a run bundle (no {MANIFEST} of format {FORMAT}); "
                         f"nothing was written: choose a new or empty folder")


def check_top(top) -> int:
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be an integer >= 1 (how many logits per step to keep), got {top!r}")
    return top


# ---- save --------------------------------------------------------------------------------
def save_run(run: Run, folder, logits: str = "full", top: int = 256) -> Path:
    """Write `run` to `folder`: a new or empty folder, or an earlier bundle to replace (files
    you added to it are kept). Any other existing folder is refused, untouched.

    logits: "full" (every step's raw logits, 4 bytes x vocabulary per step: distributions under
    any settings are exact) or "top" (the `top` largest raw logits per step, widened where needed
    to reach the drawn token, with their ids, the log-normaliser and the stored tokens'
    probabilities under the step's own settings; about 12 bytes x top per step).
    What a top-N bundle gives exactly: the step's own distribution (so every token replays),
    the model's probabilities (T=1) of the stored tokens, and any settings with top_k <= top.
    Other settings need the dropped tail, whose total mass is known only at T=1: it is spread
    evenly over the dropped tokens, so a top-p cut that falls in the tail, or a temperature far
    from 1 without top-k, is approximate (`step.exact_for(...)` says which).
    """
    from safetensors.torch import save_file

    from .provenance import versions

    if logits not in ("full", "top"):
        raise ValueError(f"logits must be 'full' or 'top', got {logits!r}")
    if logits == "top":
        check_top(top)
    if run.keep_logits == "none":
        raise ValueError("this run kept no logits (keep_logits='none'); generate it again with "
                         "keep_logits='float32' to save a bundle")
    if not any(sample.steps for sample in run.samples):
        raise ValueError("this run has no steps to save; generate at least one token")
    tokenizer = run.tokenizer
    if tokenizer is None:
        raise ValueError("this run has no tokenizer to save (it was neither generated nor loaded)")
    folder = Path(folder)
    recover(folder)
    _check_target(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    vocab = int(next(s for x in run.samples for s in x.steps).require_logits().shape[-1])
    tmp = Path(tempfile.mkdtemp(prefix=".gx-bundle-", dir=folder.parent))
    try:
        tensors, samples = {}, []
        for k, sample in enumerate(run.samples):
            if sample.steps:
                stacked = torch.stack([s.require_logits() for s in sample.steps]).float().cpu()  # (T, V)
            else:
                stacked = torch.empty((0, vocab))
            if logits == "full":
                tensors[f"s{k}.logits"] = stacked.contiguous()
            else:
                tensors.update({f"s{k}.{name}": t for name, t in _top_tensors(sample, stacked, top).items()})
            samples.append({
                "prompt_index": sample.prompt_index, "index": sample.index,
                "prompt": sample.prompt, "prompt_tokens": list(sample.prompt_tokens),
                "tokens": sample.tokens, "uniforms": [s.u for s in sample.steps],
                "probs": [s.prob for s in sample.steps], "forced": [s.forced for s in sample.steps],
                "settings": [s.settings.as_dict() for s in sample.steps],
            })
        save_file(tensors, str(tmp / LOGITS), metadata={"format": FORMAT})
        tokenizer.save_pretrained(str(tmp / TOKENIZER))
        manifest = {
            "format": FORMAT, "model": run.model_name, "weights_sha256": run.weights_sha256,
            "versions": versions(), "device": run.meta.get("device"), "seed": run.seed,
            "length": run.length, "settings": run.settings.as_dict(), "prompts": run.prompts,
            "keep_logits": run.keep_logits,
            "logits": {"mode": logits, "top": top if logits == "top" else None, "dtype": "float32",
                       "vocab_size": vocab},
            "meta": {k: v for k, v in run.meta.items() if not k.startswith("_")},
            "samples": samples,
            "files": {LOGITS: _sha256(tmp / LOGITS)},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str) + "\n")
        honour_umask_tree(tmp)
        if folder.exists():
            old = _old_path(folder)
            os.replace(folder, old)
            os.replace(tmp, folder)
            _move_user_files(old, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _top_tensors(sample: Sample, stacked: torch.Tensor, top: int) -> dict:
    """The top-N record of a sample: its width W covers `top` and every token ranked at or
    before each drawn token under the step's own settings, so replay is exact."""
    vocab = stacked.shape[-1]
    width = min(top, vocab)
    own = []
    for t, step in enumerate(sample.steps):
        probs = step.distribution().float().cpu()  # what the token was drawn from
        own.append(probs)
        if not step.forced and step.token >= 0:
            # every token the pick may rank before the drawn one has p >= p(drawn) ...
            before = probs >= probs[step.token]
            # ... so keeping all logits >= the smallest such logit keeps them all
            floor = stacked[t][before].min()
            width = max(width, int((stacked[t] >= floor).sum()))
    values, ids = torch.topk(stacked, width, dim=-1) if len(sample.steps) else \
        (torch.empty((0, width)), torch.empty((0, width), dtype=torch.long))
    own_probs = torch.stack(own).gather(-1, ids) if own else torch.empty((0, width))
    return {"values": values.contiguous(), "ids": ids.to(torch.int32).contiguous(),
            "lse": torch.logsumexp(stacked.double(), dim=-1).contiguous(), "own": own_probs.contiguous()}


# ---- load --------------------------------------------------------------------------------
def load_run(folder, device: str = "cpu") -> Run:
    """Restore a Run from a bundle, with no model: every plot and widget works from it.
    The manifest and the tensors are checked against the format before anything is built,
    and every recorded draw is replayed; any mismatch is one BundleError line."""
    from .loading import pick_device

    dev = pick_device(device)
    folder = Path(folder)
    recover(folder)
    if not folder.is_dir():
        raise BundleError(f"no run bundle at {folder}: not a folder")
    mpath = folder / MANIFEST
    if not mpath.exists():
        raise BundleError(f"run bundle {folder} is missing {MANIFEST}; save it again with run.save()")
    try:
        manifest = json.loads(read_bounded(mpath, MANIFEST_MAX, "manifest"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(f"run bundle {folder}: {MANIFEST} is corrupt ({err})") from None
    checked = check_manifest(manifest, folder)
    lpath = folder / LOGITS
    if not lpath.exists():
        raise BundleError(f"run bundle {folder} is missing {LOGITS}")
    regular_file(lpath, LOGITS_MAX, "logits file")
    if _sha256(lpath) != manifest["files"][LOGITS]:
        raise BundleError(f"run bundle {folder}: {LOGITS} does not match its checksum in {MANIFEST} "
                          f"(truncated or modified)")
    tokenizer = _load_tokenizer(folder)
    try:
        tensors = _read_tensors(lpath, checked, folder, dev)
        run = _build(manifest, checked, tensors, tokenizer, folder)
    except BundleError:
        raise
    except Exception as err:  # noqa: BLE001 - a last guard: never a raw error from a bad bundle
        raise BundleError(f"run bundle {folder} is inconsistent ({type(err).__name__}: {err})") from None
    check_replay(run, folder)
    return run


def _load_tokenizer(folder: Path):
    from .loading import check_tokenizer

    tdir = folder / TOKENIZER
    if not tdir.is_dir():
        raise BundleError(f"run bundle {folder} is missing its {TOKENIZER}/ folder")
    for entry in tdir.iterdir():
        regular_file(entry, TOKENIZER_FILE_MAX, "tokenizer file")
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(tdir))
    except Exception as err:  # noqa: BLE001
        raise BundleError(f"run bundle {folder}: {TOKENIZER}/ cannot be loaded ({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''})") from None
    try:
        check_tokenizer(tokenizer, tdir)
    except ValueError as err:
        raise BundleError(f"run bundle {folder}: {err}") from None
    return tokenizer


def _read_tensors(lpath: Path, checked: dict, folder: Path, device) -> dict:
    from safetensors import safe_open

    try:
        with safe_open(str(lpath), "pt", device=str(device)) as fh:
            shapes = {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}
            check_tensors(shapes, checked, folder)
            return {k: fh.get_tensor(k) for k in shapes}
    except BundleError:
        raise
    except Exception as err:  # noqa: BLE001 - the checksum catches corruption first
        raise BundleError(f"run bundle {folder}: {LOGITS} cannot be read ({err})") from None


def _build(manifest: dict, checked: dict, tensors: dict, tokenizer, folder: Path) -> Run:
    def decode(tokens):
        return tokenizer.decode(list(tokens), clean_up_tokenization_spaces=False)

    vocab = checked["vocab"]
    samples = []
    for k, rec in enumerate(checked["samples"]):
        cuts = None
        if checked["mode"] == "full":
            rows = tensors[f"s{k}.logits"].float()
        else:
            rows, cuts = _rows_from_top(tensors, k, vocab, folder)
        sample = Sample(rec["prompt"], rec["prompt_tokens"], rec["index"], decode=decode,
                        prompt_index=rec["prompt_index"])
        n_prompt = len(rec["prompt_tokens"])
        for t, tok in enumerate(rec["tokens"]):
            sample.steps.append(Step(token=tok, u=rec["uniforms"][t], position=n_prompt + t,
                                     settings=rec["settings"][t], logits=rows[t], index=t,
                                     prob=rec["probs"][t], forced=rec["forced"][t], sample=sample,
                                     truncation=None if cuts is None else cuts[t]))
        samples.append(sample)
    meta = dict(manifest.get("meta", {}), weights_sha256=manifest.get("weights_sha256"), bundle=str(folder),
                logits_mode=checked["mode"], saved_versions=manifest.get("versions", {}), _tokenizer=tokenizer)
    return Run(samples, checked["settings"], checked["seed"], model_name=manifest["model"],
               length=checked["length"], keep_logits=checked["keep_logits"], meta=meta)


def _rows_from_top(tensors: dict, k: int, vocab: int, folder: Path):
    """Full-vocabulary rows from a top-N record: stored logits, and for the dropped tokens one
    flat value that gives the tail its true total probability at T=1."""
    values, ids = tensors[f"s{k}.values"].float(), tensors[f"s{k}.ids"].long()  # (T, W)
    lse = tensors[f"s{k}.lse"].double()  # (T,)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
        raise BundleError(f"run bundle {folder}: {LOGITS}: s{k}.ids has token ids outside 0..{vocab - 1}")
    width = values.shape[-1]
    stored_mass = (values.double() - lse[:, None]).exp().sum(-1)  # (T,)
    tail = (1 - stored_mass).clamp(min=0)
    fill = torch.full_like(lse, float("-inf"))
    if width < vocab:
        fill = torch.where(tail > 0, tail.log() + lse - torch.log(torch.tensor(float(vocab - width))), fill)
    floor = values.min(dim=-1).values.double() if width else fill
    below = torch.nextafter(floor.float(), torch.tensor(float("-inf"))).double()
    fill = torch.minimum(fill, below).float()  # the tail never outranks a stored token
    rows = fill[:, None].expand(-1, vocab).clone().scatter(-1, ids, values)
    own = tensors.get(f"s{k}.own")
    cuts = [Truncation(ids[t], None if own is None else own[t].float()) for t in range(ids.shape[0])]
    return rows, cuts


def check_replay(run: Run, folder) -> None:
    """Every drawn token must come back from its logits and uniform, with its recorded
    probability: a bundle whose numbers were edited fails here (batched per sample)."""
    from . import sampling

    for k, sample in enumerate(run.samples):
        drawn = [s for s in sample.steps if not s.forced]
        groups: dict = {}
        for s in drawn:
            groups.setdefault((s.settings, s.truncation is not None), []).append(s)
        for (settings, _), steps in groups.items():
            if steps[0].truncation is not None:
                probs = torch.stack([s.distribution() for s in steps])
            else:
                rows = torch.stack([s.logits for s in steps])
                context = [s.context_tokens for s in steps] if settings.uses_context else None
                probs = sampling.probabilities(rows, **settings.as_dict(), context=context)  # (n, V)
            u = torch.tensor([s.u for s in steps], dtype=torch.float64)
            picked = sampling.pick(probs, u.to(probs.device)).tolist()
            for s, p, row in zip(steps, picked, probs):
                if p != s.token:
                    raise BundleError(f"run bundle {folder}: samples[{k}] step {s.index}: its uniform "
                                      f"{s.u} draws token {p} from its logits, but {MANIFEST} records "
                                      f"{s.token}; the bundle was modified")
                if s.prob is not None and abs(float(row[s.token]) - s.prob) > 1e-5 + 1e-3 * s.prob:
                    raise BundleError(f"run bundle {folder}: samples[{k}] step {s.index}: probs records "
                                      f"{s.prob}, the logits give {float(row[s.token])}; the bundle was modified")
