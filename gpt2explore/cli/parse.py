"""The command line's words: the parser, built from the sampler registry, and every check of a
flag's value that needs no model. Nothing here imports torch, so `gpt2explore --help` and a bad
flag answer at once; the commands themselves live in commands.py.
"""
from __future__ import annotations

import argparse
import sys

from ..core import registry
from ..core.settings import Settings
from ..core.version import __version__

COMMANDS = ("sample", "interact", "compare", "score")
DESCRIPTION = """\
The command line: `gpt2explore sample | interact | compare | score`, after OpenAI's GPT-2 scripts.

`sample` is generate_unconditional_samples.py, `interact` is interactive_conditional_samples.py,
with the same flags (model_name, seed, nsamples, batch_size, length, temperature, top_k) and
output, plus top_p, device, semantics and stop_at_eos. Samples go to stdout; progress goes to
stderr, only on a terminal. Bad flags or values: one line on stderr, exit 2. Failures at run
time (a model not available offline, ...): one line, exit 1. --debug shows tracebacks.
"""


class UsageError(Exception):
    """A bad flag or value: reported in one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage and more by default)
        raise UsageError(f"{self.prog}: {message}")


# ---- the flags -----------------------------------------------------------------------------------

def add_model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model_name", "--model-name", "--model", dest="model_name", default="tiny",
                   help="tiny (bundled, offline), 124M/117M, 355M/345M, 774M, 1558M, a hub id such as "
                        "gpt2-medium, or a local model folder (default: tiny)")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, mps")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


def add_settings_flags(p: argparse.ArgumentParser) -> None:
    """One flag per registered sampler (gpt2explore.core.registry), spelled with _ or -: the three
    OpenAI's scripts know first, then the newer ones, then the rule set."""
    newer = p.add_argument_group("newer samplers (transformers' order; semantics hf only)")
    for s in registry.samplers():
        group = p if s.openai else newer
        spellings = [s.flag] + ([s.flag.replace("_", "-")] if "_" in s.name else [])
        group.add_argument(*spellings, dest=s.name, type=int if s.integer else float, default=s.off, help=s.help)
    p.add_argument("--semantics", choices=list(registry.SEMANTICS), default="hf",
                   help="top-k/top-p rules: transformers' (hf, default) or OpenAI's sample.py")


def _add_sampling(p: argparse.ArgumentParser, nsamples_default: int, nsamples_help: str) -> None:
    p.add_argument("--seed", type=int, default=None, help="integer seed: the same seed gives the same output")
    p.add_argument("--coupling", choices=("cdf", "gumbel"), default="cdf",
                   help="how the seed's noise picks each token: cdf (one uniform a step; default) or gumbel "
                        "(one Gumbel per token: prompts compared part only where the model demands it)")
    p.add_argument("--nsamples", type=int, default=nsamples_default, help=nsamples_help)
    p.add_argument("--batch_size", "--batch-size", dest="batch_size", type=int, default=1,
                   help="samples generated together (any nsamples works; default 1)")
    p.add_argument("--length", type=int, default=None,
                   help="tokens per sample (default: half the context with a prompt, the whole without)")
    p.add_argument("--stop_at_eos", "--stop-at-eos", dest="stop_at_eos", action="store_true",
                   help="end a sample at <|endoftext|> (the original always prints `length` tokens)")
    add_model_flags(p)
    add_settings_flags(p)


def build_parser() -> Parser:
    parser = Parser(prog="gpt2explore", description=DESCRIPTION,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"gpt2explore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}", parser_class=Parser)
    sub.required = True
    p = sub.add_parser("sample", help="unconditional samples (generate_unconditional_samples.py)",
                       description="Unconditional samples, each starting from <|endoftext|>.")
    _add_sampling(p, 0, "number of samples; 0 = keep generating until interrupted (default)")
    p = sub.add_parser("interact", help="samples for prompts typed at 'Model prompt >>> '",
                       description="Reads prompts from stdin ('Model prompt >>> '); Ctrl-D ends.")
    _add_sampling(p, 1, "samples per prompt (default 1)")
    p = sub.add_parser("compare", help="several prompts sampled with the same draws, side by side",
                       description="Samples several prompts with the same random draws and prints them "
                                   "side by side, with the most likely next tokens after each prompt.")
    _add_sampling(p, 1, "samples per prompt (default 1)")
    p.add_argument("--prompts", nargs="+", default=None, metavar="TEXT", help="the prompts")
    p.add_argument("--prompts_file", "--prompts-file", dest="prompts_file", default=None,
                   help="a file with one prompt per line")
    p.add_argument("--top", type=int, default=10, help="how many next tokens to list (default 10)")
    p.add_argument("--width", type=int, default=None, help="table width (default: the terminal's)")
    p = sub.add_parser("score", help="score a text token by token (rank, probability, surprisal)",
                       description="Scores every token of a text (a file, or - for stdin): its rank under the "
                                   "model (1 = likeliest), its probability, its surprisal, and whether the given "
                                   "settings allow it. Long texts use a sliding window.")
    p.add_argument("file", help="a UTF-8 text file, or - for standard input (either way one trailing "
                                "newline, as editors and echo add, is not scored)")
    p.add_argument("--prompt", default=None, help="context before the text (not scored)")
    p.add_argument("--format", choices=["text", "csv"], default="text", help="lines for people (default) or CSV")
    add_model_flags(p)
    add_settings_flags(p)
    return parser


# ---- the checks ----------------------------------------------------------------------------------

def parse(argv=None):
    """The parsed flags, every value checked that can be without the model (UsageError names
    the bad one); the device, which asks torch, is checked by the commands."""
    args = build_parser().parse_args(argv)
    check_args(args)
    return args


def check_args(args) -> None:
    """Every value checked before the model loads; UsageError names the bad one."""
    check_settings(args)
    if args.command == "score":
        if args.prompt is not None and not args.prompt.strip():
            raise UsageError("--prompt is empty; give some text or leave it out")
        args.text = read_text(args.file)
        return
    if args.nsamples < 0 or (args.nsamples == 0 and args.command == "compare"):
        least = 1 if args.command == "compare" else 0
        raise UsageError(f"--nsamples must be >= {least}, got {args.nsamples}")
    if args.command == "interact" and args.nsamples == 0:
        raise UsageError("--nsamples must be >= 1 for interact, got 0")
    if args.batch_size < 1:
        raise UsageError(f"--batch_size must be >= 1, got {args.batch_size}")
    if args.length is not None and args.length < 1:
        raise UsageError(f"--length must be >= 1, got {args.length}")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if args.command == "compare":
        if args.top < 1:
            raise UsageError(f"--top must be >= 1, got {args.top}")
        args.prompts = read_prompts(args.prompts, args.prompts_file)


def check_settings(args) -> None:
    """The sampling flags, as Settings check them (UsageError names the value)."""
    try:
        Settings(**settings_of(args))
    except ValueError as err:
        raise UsageError(f"--{err}") from None


def settings_of(args) -> dict:
    """The sampling flags as Settings keywords."""
    return {name: getattr(args, name) for name in ["semantics", *registry.names()] if hasattr(args, name)}


def undecodable(err: UnicodeDecodeError) -> str:
    """Where the first byte that is not UTF-8 sits, in words."""
    return f"byte 0x{err.object[err.start]:02x} at offset {err.start}"


def read_prompts(prompts, path) -> list[str]:
    found = list(prompts or [])
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                found += [line.rstrip("\n") for line in fh if line.strip()]
        except OSError as err:
            raise UsageError(f"--prompts_file {path!r}: {err.strerror}") from None
        except UnicodeDecodeError as err:
            raise UsageError(f"--prompts_file {path!r} is not UTF-8 text ({undecodable(err)}); give a "
                             f"text file, or convert it with iconv -t UTF-8") from None
    if len(found) < 1:
        raise UsageError("compare needs prompts: --prompts \"Hi! My name is Isamu\" \"Hi! My name is John\" "
                         "or --prompts_file FILE")
    for p in found:
        if not p.strip():
            raise UsageError("a prompt is empty; give some text")
    return found


def read_text(path: str) -> str:
    """The text to score, as UTF-8, with one trailing newline (``\\n`` or ``\\r\\n``) removed, from a file
    and from stdin alike (editors end a file with one, echo adds one; neither is the text's), so
    ``score FILE`` and ``score - < FILE`` score the same tokens; a missing, binary or empty input
    is a UsageError."""
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
    if text.endswith("\n"):  # the newline an editor or echo adds is not the text's
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    if not text:
        raise UsageError(f"{name} is empty; give some text to score")
    return text
