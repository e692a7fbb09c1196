"""`gpt2explore score FILE`: how likely was each token of a text, and which tokens would the
given settings never have produced. One line per token and a summary, or `--format csv`."""
from __future__ import annotations

import csv
import sys

from .common import UsageError, add_model_flags, add_settings_flags, check_settings_and_device, settings_of, undecodable


def add_score_parser(sub) -> None:
    p = sub.add_parser("score", help="score a text token by token (rank, probability, surprisal)",
                       description="Scores every token of a text (a file, or - for stdin): its rank under the "
                                   "model (1 = likeliest), its probability, its surprisal, and whether the given "
                                   "settings allow it. Long texts use a sliding window.")
    p.add_argument("file", help="a UTF-8 text file, or - for standard input (one trailing newline, as echo "
                                "adds, is not scored)")
    p.add_argument("--prompt", default=None, help="context before the text (not scored)")
    p.add_argument("--format", choices=["text", "csv"], default="text", help="lines for people (default) or CSV")
    add_model_flags(p)
    add_settings_flags(p)


def check_score_args(args) -> None:
    check_settings_and_device(args)
    if args.prompt is not None and not args.prompt.strip():
        raise UsageError("--prompt is empty; give some text or leave it out")
    args.text = read_text(args.file)


def read_text(path: str) -> str:
    """The text to score, as UTF-8; a missing, binary or empty input is a UsageError."""
    name = "standard input" if path == "-" else repr(path)
    if path == "-" and getattr(sys.stdin, "buffer", None) is None:
        raise UsageError("standard input is closed; give a text file, or pipe text in: echo 'Hi!' | gpt2explore score -")
    try:
        data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    except OSError as err:
        raise UsageError(f"cannot read {name}: {err.strerror}") from None
    if b"\x00" in data:
        raise UsageError(f"{name} is binary data (it holds NUL bytes), not text; give a UTF-8 text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UsageError(f"{name} is not UTF-8 text ({undecodable(err)}); convert it with iconv -t UTF-8") from None
    if path == "-" and text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]  # the newline echo adds is not the text's
    if not text:
        raise UsageError(f"{name} is empty; give some text to score")
    return text


def cmd_score(lm, args, out) -> None:
    from ..core import formatting as fmt

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
