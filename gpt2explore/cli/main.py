"""The command line's entry point: `gpt2explore sample | interact | compare | score`.

The flags are parsed and checked first (parse.py, no torch: --help and a bad flag answer at
once); then the commands (commands.py, which imports torch and transformers) are imported
once, inside the Ctrl-C guard, so that an interrupt at any moment of start-up is exit 130 with
no traceback.
"""
from __future__ import annotations

import os
import signal
import sys

from .parse import UsageError, parse, undecodable

EXIT_USAGE, EXIT_FAILURE, EXIT_INTERRUPTED = 2, 1, 130


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
        try:
            self.previous = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread: leave signals alone
            self.previous = None
        self.previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        return self

    def __exit__(self, *exc):
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
    commands = None
    try:
        args = parse(argv)
        from . import commands  # torch and transformers: the one import made late, under the guard

        return commands.run(args, out, ctrl_c)
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
        unavailable = commands is not None and isinstance(err, commands.ModelUnavailableError)
        bad_value = isinstance(err, ValueError) and not unavailable
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE if bad_value else EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
