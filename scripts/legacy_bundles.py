"""Write small run bundles with earlier versions of the package, for tests/data/bundles/.

Each version is checked out in a git worktree of its commit and runs `WRITE` below on a small
random GPT-2 with a 300-token byte-level BPE (so that a bundle is a few tens of kilobytes),
kept beside them in tests/data/bundles/model so that the tests can verify the bundles against it.
Run from the repository root:  python scripts/legacy_bundles.py
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "bundles"
VERSIONS = {  # label -> the commit whose package writes the bundles
    "v0-exports": "b8c3f35",  # the first bundles: float16 drawn before rounding, top-N without own probabilities
    "v1-promises": "4ce97aa",  # float16 drawn from float16, top-N with own probabilities
    "v1-samplers": "ea7593b",  # the newer samplers in every step's settings
    "v1-scoring": "4e0b23d",  # scored texts (seed null); the last release of format 1
}

TEXT = ("Hi! My name is Isamu. Hi! My name is John. Once upon a time the river ran past the town, "
        "and the boats went down to the sea. The the the the. ") * 20


def make_model(folder: Path) -> Path:
    """A random 2-layer GPT-2 with a 300-token byte-level BPE trained on TEXT."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel

    folder.mkdir(parents=True, exist_ok=True)
    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator([TEXT], vocab_size=300, min_frequency=1, special_tokens=["<|endoftext|>"])
    tok.save_model(str(folder))
    vocab = json.loads((folder / "vocab.json").read_text())
    eos = vocab["<|endoftext|>"]
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "GPT2Tokenizer", "model_max_length": 64, "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "add_prefix_space": False}))
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(vocab), n_positions=64, n_embd=16, n_layer=2, n_head=2,
                        initializer_range=0.5, bos_token_id=eos, eos_token_id=eos)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


WRITE = r'''
import inspect, sys
from pathlib import Path
import gpt2explore as gx
assert Path(gx.__file__).resolve().is_relative_to(Path.cwd().resolve()), gx.__file__  # the old version
model, out = sys.argv[1], Path(sys.argv[2])
lm = gx.load(model, device="cpu")
gen = inspect.signature(gx.generation.generate).parameters if hasattr(gx, "generation") else {}
def save(run, name, **kw):
    run.save(out / name, **kw)
run = lm.generate(["Hi! My name is Isamu", "The the"], nsamples=2, length=12, seed=3, temperature=1.5)
save(run, "full")
save(run, "top", logits="top", top=8)
f16 = lm.generate("Once upon a time", nsamples=2, length=12, seed=5, temperature=1.5, keep_logits="float16")
save(f16, "float16")
save(lm.generate("Hi! My name is John", nsamples=1, length=10, seed=7, top_k=20, top_p=0.9, temperature=0.7),
     "topk_topp")
s = lm.session("The river", seed=1, temperature=2.0)
s.step(4); s.force(" the"); s.step(3)
save(s.run, "session")
if "min_p" in gen or "samplers" in gen:
    save(lm.generate("The the", nsamples=2, length=10, seed=2, temperature=3.0, typical_p=0.5,
                     repetition_penalty=1.3), "samplers")
if hasattr(lm, "score"):
    save(lm.score("Hi! My name is John. The river ran past the town."), "scored")
    save(lm.score("Hi! My name is John. The river ran past the town."), "scored_top", logits="top", top=8)
'''


def main() -> int:
    shutil.rmtree(OUT / "model", ignore_errors=True)
    model = make_model(OUT / "model")
    with tempfile.TemporaryDirectory() as tmp:
        for label, commit in VERSIONS.items():
            tree = Path(tmp) / f"tree-{commit}"
            subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=ROOT, check=True,
                           capture_output=True)
            try:
                target = OUT / label
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir(parents=True)
                env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
                subprocess.run([sys.executable, "-c", WRITE, str(model), str(target)], env=env, check=True, cwd=tree)
                (target / "WRITTEN_BY").write_text(f"gpt2explore at commit {commit}\n")
                print(label, commit, sorted(p.name for p in target.iterdir()))
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
