"""Run bundles: a folder that restores a Run with no model loaded, and replays it exactly.

    manifest.json       model, weights sha256, versions, device, settings, seed, prompts,
                        every sample's tokens, uniforms, per-step settings, ranks and raw
                        probabilities, how the draws replay, file checksums
    logits.safetensors  per sample: full raw logits (steps, vocab), or the top-N logits with
                        their ids, the log-normaliser (logsumexp over the whole vocabulary),
                        each step's own token logit and the stored tokens' probabilities under
                        the step's own settings; the residual stream when the run has layers
    tokenizer/          the tokenizer, so texts and token labels need no model

Bundles of every earlier format load (see gpt2explore.manifest), each replayed by the rule it
was written under, and save again in the current one; a run loaded from a top-N bundle saves
as a top-N bundle with exactly what it holds, never an estimate written as measured.

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
import numbers
import os
import shutil
import stat
import tempfile
from pathlib import Path

from ..core import arguments, extensions
from ..core.provenance import versions
from ..core.trace import Run
from ..model.loading import check_tokenizer, pick_device
from .bundle_data import build_run, sample_tensors
from .manifest import FORMAT, FORMATS, LOGITS, MANIFEST, TOKENIZER, BundleError, check_manifest, check_tensors
from .modes import honour_umask_tree
from .replay import check_replay, samplers_record

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
    return isinstance(manifest, dict) and manifest.get("format") in FORMATS


def _check_target(folder: Path) -> None:
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise ValueError(f"{folder} exists and is not a folder; choose a new folder for the bundle")
    if folder.is_dir() and any(folder.iterdir()) and not is_bundle(folder):
        raise ValueError(f"{folder} exists and is not a run bundle (no {MANIFEST} of format {FORMAT}); "
                         f"nothing was written: choose a new or empty folder")


def check_top(top) -> int:
    if isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 1:
        raise ValueError(f"top must be an integer >= 1 (how many logits per step to keep), got {top!r}")
    return int(top)


# ---- save --------------------------------------------------------------------------------
def save_run(run: Run, folder, logits: str | None = None, top: int | None = None) -> Path:
    """Write `run` to `folder`: a new or empty folder, or an earlier bundle to replace (files
    you added to it are kept). Any other existing folder is refused, untouched.

    logits: "full" (every step's raw logits, 4 bytes x vocabulary per step: distributions under
    any settings are exact) or "top" (the `top` largest raw logits per step, default 256,
    widened where needed to reach the drawn token, with their ids, the log-normaliser, each
    step's own token logit and the stored tokens' probabilities under the step's own settings;
    about 16 bytes x top per step). None (default): the run's own kind: "full", or "top" for a
    run loaded from a top-N bundle, which saves exactly what it holds (it cannot be saved as
    "full", nor with another `top`).
    What a top-N bundle gives exactly: the step's own distribution (so every token replays),
    every step's rank and raw probability, and settings whose top-k cut (or greedy decoding)
    provably keeps only stored tokens. Elsewhere the dropped tail is estimated (its total mass
    is known at T=1): `step.exact_for(...)` says which.
    """
    from safetensors.torch import save_file

    mode, top = _choose_mode(run, logits, top)
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
    steps = [s for x in run.samples for s in x.steps]
    legacy = any(s.legacy for s in steps)
    tmp = Path(tempfile.mkdtemp(prefix=".gx-bundle-", dir=folder.parent))
    try:
        tensors, samples = {}, []
        for k, sample in enumerate(run.samples):
            record, part = sample_tensors(sample, k, mode, top, vocab)
            tensors.update(part)
            samples.append(record)
        save_file(tensors, str(tmp / LOGITS), metadata={"format": FORMAT})
        tokenizer.save_pretrained(str(tmp / TOKENIZER))
        manifest = {
            "format": FORMAT, "model": run.model_name, "weights_sha256": run.weights_sha256,
            "versions": versions(), "device": run.meta.get("device"), "seed": run.seed,
            "length": run.length, "settings": run.settings.as_dict(), "prompts": run.prompts,
            "keep_logits": run.keep_logits, "samplers": samplers_record(steps),
            "draw": {"dtype": "float32" if legacy else "float64", "exact": all(s.replays for s in steps),
                     "rounded_after_draw": bool(run.meta.get("rounded_after_draw", False))},
            "logits": {"mode": mode, "top": top if mode == "top" else None, "dtype": "float32",
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


def _choose_mode(run: Run, logits, top) -> tuple[str, int | None]:
    """("full" | "top", width) for `run.save(logits=, top=)`; a run that holds only top-N logits
    (loaded from a top-N bundle) keeps its kind."""
    if logits not in (None, "full", "top"):
        raise ValueError(f"logits must be 'full' or 'top' (or None: the run's own kind), got {logits!r}")
    truncated = [s.truncation for x in run.samples for s in x.steps if s.truncation is not None]
    if truncated:
        width = max(t.width for t in truncated)
        if logits == "full":
            raise ValueError(f"this run holds only the top {width} logits of each step (it was loaded from a "
                             f"top-N bundle): its full logits are not known; save it with logits='top'")
        if top is not None and check_top(top) != width:
            raise ValueError(f"this run holds the top {width} logits of each step; it saves exactly those: "
                             f"leave top unset (asked for top={top})")
        return "top", width
    if logits == "top" or (logits is None and top is not None):
        return "top", check_top(256 if top is None else top)
    if top is not None:
        raise ValueError("top= goes with logits='top'; a full bundle keeps every logit")
    return "full", None


# ---- load --------------------------------------------------------------------------------
def load_run(folder, device: str = "cpu", lm=None) -> Run:
    """Restore a Run from a bundle, with no model: every plot and widget works from it.
    The manifest and the tensors are checked against the format before anything is built,
    and every recorded draw is replayed; any mismatch is one BundleError line. `lm`: the model
    that made the run, attached for what needs it (forks, the logit lens on saved residuals);
    it must have the run's vocabulary."""
    dev = pick_device(device)
    folder = Path(arguments.path("folder", folder))
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
        run = build_run(manifest, checked, tensors, tokenizer, folder)
    except BundleError:
        raise
    except Exception as err:  # noqa: BLE001 - a last guard: never a raw error from a bad bundle
        raise BundleError(f"run bundle {folder} is inconsistent ({type(err).__name__}: {err})") from None
    check_replay(run, folder, checked)
    if lm is not None:
        attach(run, lm)
    return run


def attach(run: Run, lm) -> Run:
    """Give a loaded run its model (for forks and the logit lens); the vocabularies must agree."""
    vocab = int(next(s for x in run.samples for s in x.steps).require_logits().shape[-1])
    if vocab != lm.vocab_size:
        raise ValueError(f"this run has a vocabulary of {vocab} tokens, the model {lm.vocab_size}: "
                         f"attach the model that made it")
    run.lm = lm
    return run


def _load_tokenizer(folder: Path):
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


extensions.register("Run", "save", save_run)  # run.save(folder)
