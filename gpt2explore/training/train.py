"""Train the small GPT-2 shipped as the offline default model ("tiny").

    python -m gpt2explore.training --out data/models/tiny          # the shipped model
    python -m gpt2explore.training --smoke --out /tmp/tiny-smoke   # seconds, for CI

Seeded and deterministic on the CPU: the same seed and thread count give the same loss
curve. The corpus comes from Debian packages (see gpt2explore.training.corpus).
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import time
from pathlib import Path

from ..model.loading import load
from . import corpus
from .tokenizer_files import write_tokenizer

EOS = 50256
HELDOUT_EVERY = 40  # one document in 40 goes to the held-out split
SLICE_TOKENS = 16384  # held-out tokens shipped with the model for the loss check


def split_documents(docs: dict[str, list[str]], seed: int) -> tuple[list[str], list[str]]:
    """Seeded split into (train, heldout) documents, mixing every source."""
    all_docs = [d for name in sorted(docs) for d in docs[name]]
    order = list(range(len(all_docs)))
    random.Random(seed).shuffle(order)
    train = [all_docs[i] for k, i in enumerate(order) if k % HELDOUT_EVERY]
    heldout = [all_docs[i] for k, i in enumerate(order) if not k % HELDOUT_EVERY]
    return train, heldout


def encode_documents(tokenizer, docs: list[str]):
    """Documents -> one token stream, each document followed by <|endoftext|>."""
    import numpy as np

    ids = tokenizer(docs, add_special_tokens=False)["input_ids"]
    flat = [t for doc in ids for t in (*doc, EOS)]
    return np.asarray(flat, dtype=np.int64)


def unigram_loss(train_ids, heldout_ids, vocab: int) -> float:
    """Cross-entropy (nats/token) of the add-one-smoothed unigram of the train split."""
    import numpy as np

    counts = np.bincount(train_ids, minlength=vocab).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    return float(-logp[heldout_ids].mean())


def heldout_loss(model, ids, n_ctx: int, batch: int = 8) -> float:
    """Mean next-token cross-entropy over non-overlapping windows of n_ctx + 1 tokens."""
    import torch

    ids = torch.as_tensor(ids)
    n_ctx = min(n_ctx, len(ids) - 1)
    n = (len(ids) - 1) // n_ctx
    windows = torch.stack([ids[i * n_ctx: i * n_ctx + n_ctx + 1] for i in range(n)])  # (n, n_ctx+1)
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for b in range(0, n, batch):
            x = windows[b: b + batch]
            logits = model(input_ids=x[:, :-1]).logits  # (B, T, V)
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)).float(), x[:, 1:].reshape(-1), reduction="sum")
            total += float(loss)
            count += x[:, 1:].numel()
    return total / count


def make_model(n_ctx: int, n_embd: int, n_layer: int, n_head: int, seed: int):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=50257, n_positions=n_ctx, n_embd=n_embd, n_layer=n_layer,
                        n_head=n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        bos_token_id=EOS, eos_token_id=EOS)
    return GPT2LMHeadModel(config)


def lr_at(step: int, steps: int, peak: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(args) -> dict:
    import numpy as np
    import torch
    from transformers import GPT2TokenizerFast


    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    out = Path(args.out)
    write_tokenizer(out, model_max_length=args.n_ctx)
    tokenizer = GPT2TokenizerFast.from_pretrained(out)

    t0 = time.time()
    if args.corpus_text:
        text = Path(args.corpus_text).read_text(encoding="utf-8")
        docs = {"given": [d for d in text.split("<|endoftext|>") if d.strip()]}
    else:
        docs = corpus.fetch(args.workdir)
    train_docs, heldout_docs = split_documents(docs, args.seed)
    train_ids = encode_documents(tokenizer, train_docs)
    heldout_ids = encode_documents(tokenizer, heldout_docs)
    print(f"corpus: {len(train_ids):,} train tokens, {len(heldout_ids):,} held-out tokens "
          f"({time.time() - t0:.0f} s)", flush=True)

    model = make_model(args.n_ctx, args.n_embd, args.n_layer, args.n_head, args.seed)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    rng = np.random.default_rng(args.seed)
    data = torch.from_numpy(train_ids)
    # optional speed-up: a softmax over only the tokens that occur in the train split, for all
    # but the last `full_steps` steps, which use the full vocabulary (so that tokens never seen
    # in training are still pushed down in the shipped model)
    present = torch.unique(data) if args.subset_vocab else None
    if present is not None:
        compact = torch.full((model.config.vocab_size,), -1, dtype=torch.long)
        compact[present] = torch.arange(len(present))
        print(f"subset softmax over {len(present):,} of {model.config.vocab_size:,} tokens for "
              f"{args.steps - args.full_steps} steps, then {args.full_steps} full steps", flush=True)
    log = []
    model.train()
    t_train = time.time()
    for step in range(args.steps):
        # sample random windows of n_ctx + 1 tokens from the train stream
        starts = rng.integers(0, len(data) - args.n_ctx - 1, size=args.batch)
        x = torch.stack([data[s: s + args.n_ctx + 1] for s in starts])  # (B, T+1)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        targets = x[:, 1:].reshape(-1)
        if present is not None and step < args.steps - args.full_steps:
            hidden = model.transformer(input_ids=x[:, :-1]).last_hidden_state  # (B, T, d)
            logits = hidden @ model.transformer.wte.weight[present].T  # (B, T, V') tied weights
            targets = compact[targets]
        else:
            logits = model(input_ids=x[:, :-1]).logits  # (B, T, V)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        log.append((step, loss.item()))
        if step % args.log_every == 0 or step == args.steps - 1:
            rate = (step + 1) * args.batch * args.n_ctx / (time.time() - t_train)
            print(f"step {step:5d}  loss {float(loss):.4f}  {rate:,.0f} tok/s", flush=True)
    train_seconds = time.time() - t_train

    model.save_pretrained(out)
    if args.dtype == "float16":  # rewrite the weights at half precision to keep the folder small
        from safetensors.torch import save_file
        state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()
                 if k != "lm_head.weight"}  # tied to transformer.wte.weight
        save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
        config = json.loads((out / "config.json").read_text())
        config["dtype"] = "float16"
        (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    # every figure below is measured on the weights as stored, read back in float32
    from transformers import GPT2LMHeadModel
    stored = GPT2LMHeadModel.from_pretrained(out, dtype=torch.float32)
    heldout = heldout_loss(stored, heldout_ids, args.n_ctx)
    unigram = unigram_loss(train_ids, heldout_ids, model.config.vocab_size)
    final_train = float(np.mean([l for _, l in log[-20:]]))
    slice_ids = heldout_ids[: SLICE_TOKENS + 1]
    slice_loss = heldout_loss(stored, slice_ids, args.n_ctx)
    print(f"held-out loss {heldout:.4f}  unigram {unigram:.4f}  uniform {math.log(50257):.4f}  "
          f"slice {slice_loss:.4f}", flush=True)

    (out / "heldout_slice.json").write_text(json.dumps([int(t) for t in slice_ids]) + "\n")
    (out / "train_log.csv").write_text("step,loss\n" + "".join(f"{s},{l:.5f}\n" for s, l in log))
    import transformers
    facts = {
        "n_params": n_params, "n_ctx": args.n_ctx, "n_embd": args.n_embd, "n_layer": args.n_layer,
        "n_head": args.n_head, "steps": args.steps, "subset_vocab": args.subset_vocab,
        "full_steps": args.full_steps if args.subset_vocab else args.steps, "batch": args.batch, "lr": args.lr,
        "seed": args.seed, "threads": args.threads, "stored_dtype": args.dtype,
        "train_tokens": int(len(train_ids)), "heldout_tokens": int(len(heldout_ids)),
        "tokens_seen": args.steps * args.batch * args.n_ctx,
        "documents": {k: len(v) for k, v in docs.items()},
        "train_seconds": round(train_seconds, 1), "final_train_loss": round(final_train, 4),
        "heldout_loss": round(heldout, 4), "unigram_loss": round(unigram, 4),
        "uniform_loss": round(math.log(50257), 4), "slice_loss": round(slice_loss, 4),
        "slice_tokens": int(len(slice_ids)),
        "torch": torch.__version__, "transformers": transformers.__version__,
        "python": platform.python_version(), "command": " ".join(["python -m gpt2explore.training"] + sys.argv[1:]),
    }
    (out / "training.json").write_text(json.dumps(facts, indent=2) + "\n")
    write_model_card(out, facts)
    print(json.dumps(facts, indent=2))
    return facts


def write_model_card(out: Path, facts: dict) -> None:
    """README.md of the model folder: what it is, how it was made, how good it is, samples."""
    lm = load(str(out), device="cpu")
    top = lm.generate("Hi! My name is", length=1, seed=0, progress=False)[0].steps[0].top(10)
    n = min(40, lm.n_ctx // 2)
    samples = {t: lm.generate("Hi! My name is", nsamples=3, length=n, temperature=t, seed=1,
                              progress=False).texts for t in (0.7, 1.0)}
    unconditional = lm.generate(None, nsamples=2, length=n, temperature=0.7, seed=2, progress=False).texts
    minutes = facts["train_seconds"] / 60
    sources = "\n".join(f"- {k}: {facts['documents'].get(k, 0):,} documents. {v}"
                         for k, v in corpus.SOURCES.items() if k in facts["documents"])
    lines = [
        "# tiny: the offline default model of gpt2explore", "",
        "A small GPT-2 (`GPT2LMHeadModel`, GPT-2's own 50,257-token BPE vocabulary and "
        "`<|endoftext|>` = 50256) trained from scratch by `python -m gpt2explore.training`, so that "
        "the kit runs with no network. It is not OpenAI's GPT-2: its next-token distributions "
        "look like language, but its text is rough.", "",
        "## Architecture", "",
        f"{facts['n_layer']} layers, {facts['n_head']} heads, embedding width {facts['n_embd']}, context "
        f"{facts['n_ctx']} tokens (`n_positions` in config.json), tied input/output embeddings: "
        f"{facts['n_params']:,} parameters. Weights stored as {facts['stored_dtype']} "
        "(model.safetensors); gpt2explore loads them as float32.", "",
        "## Training data", "",
        "Fetched by `gpt2explore/training/corpus.py` from Debian packages with `apt-get download`, cleaned "
        "into documents separated by `<|endoftext|>`:", "", sources, "",
        f"One document in {HELDOUT_EVERY} (seeded shuffle) is held out: {facts['train_tokens']:,} train "
        f"tokens, {facts['heldout_tokens']:,} held-out tokens.", "",
        "## Training", "",
        f"`{facts['command']}`", "",
        f"{facts['steps']:,} steps of {facts['batch']} windows × {facts['n_ctx']} tokens "
        f"({facts['tokens_seen']:,} tokens seen), AdamW (lr {facts['lr']}, warm-up then cosine decay, "
        f"weight decay 0.1), seed {facts['seed']}, {facts['threads']} CPU threads, "
        f"{minutes:.0f} minutes. "
        + (f"The first {facts['steps'] - facts['full_steps']:,} steps use a softmax over only the tokens "
           f"that occur in the train split (faster); the last {facts['full_steps']} use the full vocabulary, "
           "so tokens never seen in training are pushed down too. " if facts.get("subset_vocab") else "")
        + f"torch {facts['torch']}, transformers {facts['transformers']}. Loss per step: train_log.csv.", "",
        "## Quality (held-out split, nats per token)", "",
        "| model | cross-entropy |", "|---|---|",
        f"| uniform over 50,257 tokens | {facts['uniform_loss']:.3f} |",
        f"| unigram of the train split (add-one) | {facts['unigram_loss']:.3f} |",
        f"| **tiny** | **{facts['heldout_loss']:.3f}** |",
        f"| tiny, last 20 train steps | {facts['final_train_loss']:.3f} |", "",
        f"heldout_slice.json holds the first {facts['slice_tokens']:,} held-out tokens; tiny scores "
        f"{facts['slice_loss']:.3f} on them (the tests check this).", "",
        "## Next token after \"Hi! My name is\"", "",
        "| rank | token | probability |", "|---|---|---|",
    ]
    lines += [f"| {t.rank} | `{t.text!r}` | {t.prob:.3f} |" for t in top]
    for t, texts in samples.items():
        lines += ["", f"## Samples at T={t} (\"Hi! My name is\", seed 1)", ""]
        lines += [f"- `Hi! My name is{x}`".replace("\n", " ") for x in texts]
    lines += ["", "## Unconditional samples at T=0.7 (seed 2)", ""]
    lines += [f"- `{x}`".replace("\n", " ") for x in unconditional]
    lines += ["", "## Licence", "", "The weights are released with gpt2explore under the MIT licence; the "
              "training texts are public domain (King James Bible, Jargon File) or BSD-licensed (fortunes)."]
    (out / "README.md").write_text("\n".join(lines) + "\n")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m gpt2explore.training", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="data/models/tiny", help="output model folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=900)
    p.add_argument("--batch", type=int, default=16, help="windows per step")
    p.add_argument("--n_ctx", type=int, default=256)
    p.add_argument("--n_embd", type=int, default=128)
    p.add_argument("--n_layer", type=int, default=6)
    p.add_argument("--n_head", type=int, default=4)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=60)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--log_every", type=int, default=25)
    p.add_argument("--dtype", choices=["float16", "float32"], default="float16",
                   help="precision of the stored weights (float16 keeps the folder small)")
    p.add_argument("--subset_vocab", action="store_true",
                   help="softmax over the train split's tokens only (faster), except the last --full_steps")
    p.add_argument("--full_steps", type=int, default=100, help="final steps with the full softmax")
    p.add_argument("--workdir", default=None, help="where the Debian packages are unpacked")
    p.add_argument("--corpus_text", default=None,
                   help="train on this text file (documents split by <|endoftext|>) instead of fetching")
    p.add_argument("--smoke", action="store_true",
                   help="a seconds-long run: a tiny model, a few steps")
    args = p.parse_args(argv)
    if args.smoke:
        args.steps, args.batch, args.n_ctx, args.n_embd = 4, 2, 32, 16
        args.n_layer, args.n_head, args.warmup, args.log_every = 1, 2, 2, 1
        args.full_steps = min(args.full_steps, 2)
    return args


def main(argv=None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
