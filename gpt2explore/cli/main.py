"""The command line: `gpt2explore sample | interact | compare | score`, after OpenAI's GPT-2 scripts.

`sample` is generate_unconditional_samples.py, `interact` is interactive_conditional_samples.py,
with the same flags (model_name, seed, nsamples, batch_size, length, temperature, top_k) and
output, plus top_p, device, semantics and stop_at_eos. Samples go to stdout; progress goes to
stderr, only on a terminal. Bad flags or values: one line on stderr, exit 2. Failures at run
time (a model not available offline, ...): one line, exit 1. --debug shows tracebacks.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import textwrap

from ..core.tokens import whole_text
from .common import (  # noqa: F401
    Parser,
    UsageError,
    add_model_flags,
    add_settings_flags,
    check_settings_and_device,
    settings_of,
    undecodable,
)
from .score import add_score_parser, check_score_args

# Everything heavy (torch, transformers) is imported inside main(), under its Ctrl-C handler:
# an interrupt at any moment of start-up is exit 130 with no traceback.
EXIT_USAGE, EXIT_FAILURE, EXIT_INTERRUPTED = 2, 1, 130
RULE = "=" * 40

def _add_common(p: argparse.ArgumentParser, nsamples_default: int, nsamples_help: str) -> None:
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
    from ..core.version import __version__

    parser = Parser(prog="gpt2explore", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"gpt2explore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{sample,interact,compare,score}", parser_class=Parser)
    sub.required = True
    p = sub.add_parser("sample", help="unconditional samples (generate_unconditional_samples.py)",
                       description="Unconditional samples, each starting from <|endoftext|>.")
    _add_common(p, 0, "number of samples; 0 = keep generating until interrupted (default)")
    p = sub.add_parser("interact", help="samples for prompts typed at 'Model prompt >>> '",
                       description="Reads prompts from stdin ('Model prompt >>> '); Ctrl-D ends.")
    _add_common(p, 1, "samples per prompt (default 1)")
    p = sub.add_parser("compare", help="several prompts sampled with the same draws, side by side",
                       description="Samples several prompts with the same random draws and prints them "
                                   "side by side, with the most likely next tokens after each prompt.")
    _add_common(p, 1, "samples per prompt (default 1)")
    p.add_argument("--prompts", nargs="+", default=None, metavar="TEXT", help="the prompts")
    p.add_argument("--prompts_file", "--prompts-file", dest="prompts_file", default=None,
                   help="a file with one prompt per line")
    p.add_argument("--top", type=int, default=10, help="how many next tokens to list (default 10)")
    p.add_argument("--width", type=int, default=None, help="table width (default: the terminal's)")
    add_score_parser(sub)
    return parser


def check_args(args) -> None:
    """Every value checked before the model loads; UsageError names the bad one."""
    if args.command == "score":
        return check_score_args(args)

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
    check_settings_and_device(args)
    if args.command == "compare":
        if args.top < 1:
            raise UsageError(f"--top must be >= 1, got {args.top}")
        args.prompts = read_prompts(args.prompts, args.prompts_file)


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
    from ..core.settings import Settings
    from ..core.tokens import show_token

    width = args.width or shutil.get_terminal_size((120, 24)).columns
    run = lm.generate(args.prompts, nsamples=args.nsamples, **generation_kwargs(args, seed))
    per_prompt = [[s for s in run if s.prompt_index == i] for i in range(len(args.prompts))]
    print(f"{len(args.prompts)} prompts, {args.nsamples} sample(s) each, the same draws for every "
          f"prompt (seed {seed})", file=out)
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
        tops.append([f"{r + 1:>2}. {show_token(t.text)!s:<14} {t.prob:7.2%}"
                     for r, t in enumerate(step.top(args.top))])
    print(side_by_side([["\n".join(t)] for t in tops], args.prompts, width), file=out)
    out.flush()


class _CtrlC:
    """Remembers that Ctrl-C was pressed. A library may turn the KeyboardInterrupt into
    another error (transformers' lazy imports report an interrupted import as "Could not
    import module ..."); an interrupt is still an interrupt: exit 130, no message."""

    def __init__(self):
        self.pressed = False
        self.previous = None
        self.previous_hook = None

    def _handler(self, signum, frame):
        self.pressed = True
        raise KeyboardInterrupt

    def _unraisable(self, info):
        """Ctrl-C that lands inside a finaliser (`__del__`, e.g. of a regex module while an
        import runs) cannot propagate: Python would print it as "Exception ignored" with a
        traceback and go on. Say nothing; `check()` raises it once start-up is done."""
        if info.exc_type is not None and issubclass(info.exc_type, KeyboardInterrupt):
            self.pressed = True
            return
        self.previous_hook(info)

    def check(self) -> None:
        """Raise the KeyboardInterrupt a finaliser swallowed, if Ctrl-C was pressed."""
        if self.pressed:
            raise KeyboardInterrupt

    def __enter__(self):
        import signal

        try:
            self.previous = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread: leave signals alone
            self.previous = None
        self.previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        return self

    def __exit__(self, *exc):
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        sys.unraisablehook = self.previous_hook
        return False


def main(argv=None, out=None) -> int:
    with _CtrlC() as ctrl_c:
        return _main(argv, out, ctrl_c)


def _main(argv, out, ctrl_c) -> int:
    out = out or sys.stdout
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        check_args(args)
        from ..core import sampling
        from ..model import loading

        if args.command == "score":
            from .score import cmd_score

            lm = loading.load(args.model_name, device=args.device)
            ctrl_c.check()
            cmd_score(lm, args, out)
            return 0
        seed = sampling.make_seed() if args.seed is None else args.seed
        lm = loading.load(args.model_name, device=args.device)
        ctrl_c.check()
        if args.length is not None:  # a clear error before any output
            from ..model.generation import choose_length

            longest = max((len(lm.start_tokens(p)) for p in (args.prompts or [])), default=1) \
                if args.command == "compare" else 1
            choose_length(args.length, longest, lm.n_ctx, conditional=args.command != "sample")
        {"sample": cmd_sample, "interact": cmd_interact, "compare": cmd_compare}[args.command](lm, args, seed, out)
        return 0
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except UnicodeDecodeError as err:  # stdin that is not UTF-8
        print(f"error: the input is not UTF-8 text ({undecodable(err)}); convert it with iconv -t UTF-8",
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        out.flush()
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `gpt2explore sample | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as err:  # noqa: BLE001 - one line unless --debug
        if ctrl_c.pressed:
            out.flush()
            return EXIT_INTERRUPTED
        if debug:
            raise
        from ..model.loading import ModelUnavailableError

        bad_value = isinstance(err, ValueError) and not isinstance(err, ModelUnavailableError)
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE if bad_value else EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
