"""The commands, once their flags are parsed and checked (parse.py): load the model, then
`sample`, `interact`, `compare` or `score`. Importing this module imports torch and
transformers; main.py does so once, under its Ctrl-C guard."""
from __future__ import annotations

import csv
import shutil
import sys
import textwrap

from ..core import formatting as fmt
from ..core import sampling
from ..core.coupling import shared_noise
from ..core.settings import Settings
from ..core.tokens import whole_text
from ..model import loading
from ..model.generation import choose_length
from ..model.loading import ModelUnavailableError  # noqa: F401  (main.py tells it from a bad value)
from .parse import UsageError, settings_of

RULE = "=" * 40


def run(args, out, ctrl_c) -> int:
    """Check the device, load the model, run the command; 0 when done."""
    try:
        loading.pick_device(args.device)
    except ValueError as err:
        raise UsageError(f"--device: {err}") from None
    lm = loading.load(args.model_name, device=args.device)
    ctrl_c.check()
    if args.command == "score":
        cmd_score(lm, args, out)
        return 0
    seed = sampling.make_seed() if args.seed is None else args.seed
    if args.length is not None:  # a clear error before any output
        longest = max((len(lm.start_tokens(p)) for p in (args.prompts or [])), default=1) \
            if args.command == "compare" else 1
        choose_length(args.length, longest, lm.n_ctx, conditional=args.command != "sample")
    {"sample": cmd_sample, "interact": cmd_interact, "compare": cmd_compare}[args.command](lm, args, seed, out)
    return 0


# ---- sample, interact: OpenAI's two scripts ------------------------------------------------------

def sample_header(n: int) -> str:
    return f"{RULE} SAMPLE {n} {RULE}"


def generation_kwargs(args, seed: int) -> dict:
    return dict(length=args.length, seed=seed, stop_at_eos=args.stop_at_eos, progress=sys.stderr.isatty(),
                batch_size=args.batch_size, coupling=args.coupling, **settings_of(args))


def cmd_sample(lm, args, seed: int, out) -> None:
    """Unconditional samples, streamed batch by batch; nsamples=0 never stops."""
    done = 0
    while args.nsamples == 0 or done < args.nsamples:
        n = args.batch_size if args.nsamples == 0 else min(args.batch_size, args.nsamples - done)
        run = lm.generate(None, nsamples=n, first_sample=done, keep_logits="none",
                          **generation_kwargs(args, seed))
        for sample in run:
            done += 1
            print(sample_header(done), file=out)
            print(whole_text(lm.tokenizer, sample.tokens), file=out, flush=True)


def cmd_interact(lm, args, seed: int, out, read=input) -> None:
    """Prompts from stdin (UTF-8; other bytes end the run with one line, exit 2); samples for
    each; end of input exits."""
    if read is input and hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(encoding="utf-8", errors="strict")  # never surrogate-escaped bytes
    while True:
        try:
            text = read("Model prompt >>> ")
            while not text:
                print("Prompt should not be empty!", file=out, flush=True)
                text = read("Model prompt >>> ")
        except EOFError:
            print(file=out)
            return
        try:
            run = lm.generate(text, nsamples=args.nsamples, keep_logits="none", **generation_kwargs(args, seed))
        except ValueError as err:  # e.g. a prompt longer than the context: say so, ask again
            print(f"error: {err}", file=sys.stderr, flush=True)
            continue
        for n, sample in enumerate(run, start=1):
            print(sample_header(n), file=out)
            print(whole_text(lm.tokenizer, sample.tokens), file=out)
        print("=" * 80, file=out, flush=True)


# ---- compare: prompts side by side ---------------------------------------------------------------

def _wrap(cell: str, col: int) -> list[str]:
    """A cell's lines: each paragraph wrapped to `col` characters."""
    return [w for part in cell.split("\n") for w in (textwrap.wrap(part, col) or [""])]


def side_by_side(columns: list[list[str]], headers: list[str], width: int) -> str:
    """A text table: one column per header, one row per entry, cells wrapped to fit `width`."""
    col = max(12, (width - 3 * (len(headers) - 1)) // len(headers))
    rule = "─┼─".join("─" * col for _ in headers)

    def row(cells):
        wrapped = [_wrap(c, col) for c in cells]
        height = max(len(w) for w in wrapped)
        return [" │ ".join((w[i] if i < len(w) else "").ljust(col) for w in wrapped).rstrip()
                for i in range(height)]

    lines = row(headers)
    for cells in zip(*columns):
        lines += [rule] + row(list(cells))
    return "\n".join(lines)


def cmd_compare(lm, args, seed: int, out) -> None:
    width = args.width or shutil.get_terminal_size((120, 24)).columns
    run = lm.generate(args.prompts, nsamples=args.nsamples, **generation_kwargs(args, seed))
    per_prompt = [[s for s in run if s.prompt_index == i] for i in range(len(args.prompts))]
    print(f"{len(args.prompts)} prompts, {args.nsamples} sample(s) each, "
          f"{shared_noise(run.meta['coupling'])} for every prompt (seed {seed})", file=out)
    columns = [[s.text.strip() for s in samples] for samples in per_prompt]
    print(side_by_side(columns, args.prompts, width), file=out)
    print(file=out)
    more = "".join(f", {k}={v}" for k, v in Settings(**settings_of(args)).changed().items()
                   if k not in ("temperature", "top_k", "top_p", "semantics"))
    print(f"Most likely next tokens after each prompt (T={args.temperature}, top_k={args.top_k}, "
          f"top_p={args.top_p}{more}, {args.semantics}):", file=out)
    tops = []
    for samples in per_prompt:
        step = samples[0].steps[0]
        tops.append([f"{t.rank:>2}. {t.label[:24]!s:<14} {fmt.prob(t.prob):>7}"
                     for t in step.top(args.top)])
    print(side_by_side([["\n".join(t)] for t in tops], args.prompts, width), file=out)
    out.flush()


# ---- score: how likely was each token of a text --------------------------------------------------

def cmd_score(lm, args, out) -> None:
    """One line per token and a summary, or `--format csv`."""
    run = lm.score(args.text, prompt=args.prompt, progress=sys.stderr.isatty(), keep_logits="none",
                   **settings_of(args))
    sample = run[0]
    if args.format == "csv":
        writer = csv.writer(out)
        writer.writerow(["position", "token_id", "token", "rank", "raw_prob", "prob", "surprisal", "allowed",
                         "character"])  # token: its whole characters (they join to the text); character: one it shares
        for s, piece in zip(sample.steps, sample.pieces):
            writer.writerow([s.position, s.token, piece.text, s.rank1, f"{s.raw_prob:.6g}", f"{s.prob:.6g}",
                             f"{s.surprisal:.4f}", int(s.prob > 0), piece.part_of])
    else:
        print(f"{'pos':>5}  {'token':<18} {'rank':>7}  {'p':>8}  {'surprisal':>9}   (rank 1 = the likeliest; p and "
              f"surprisal under the model)", file=out)
        for s, piece in zip(sample.steps, sample.pieces):
            cut = "   ✗ the settings forbid it" if s.prob == 0 else ""
            print(f"{s.position:>5}  {piece.label[:18]:<18} {s.rank1:>7}  {fmt.prob(s.raw_prob):>8}  "
                  f"{fmt.number(s.surprisal, 2):>9}{cut}", file=out)
    row = run.summary().iloc[0]
    shares = ", ".join(f"{k[6:]} {v:.0%}" for k, v in row.items() if str(k).startswith("share "))
    print(f"# {fmt.count(row.tokens, 'token')}; perplexity {fmt.number(row.perplexity, 2)}; log-prob "
          f"{fmt.number(row.logprob_raw, 2)} nats ({fmt.number(row.logprob, 2)} under the settings); ranks: {shares}; "
          f"{fmt.count(row.impossible, 'token')} impossible under the settings", file=sys.stderr if args.format == "csv"
          else out)
    out.flush()
