"""What the commands share: one-line usage errors, the model and sampling flags, and their checks."""
from __future__ import annotations

import argparse


class UsageError(Exception):
    """A bad flag or value: reported in one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage and more by default)
        raise UsageError(f"{self.prog}: {message}")


def add_model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model_name", "--model-name", "--model", dest="model_name", default="tiny",
                   help="tiny (bundled, offline), 124M/117M, 355M/345M, 774M, 1558M, a hub id such as "
                        "gpt2-medium, or a local model folder (default: tiny)")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, mps")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


def add_settings_flags(p: argparse.ArgumentParser) -> None:
    """One flag per registered sampler (gpt2explore.core.registry), spelled with _ or -: the three
    OpenAI's scripts know first, then the newer ones, then the rule set."""
    from ..core import registry

    newer = p.add_argument_group("newer samplers (transformers' order; semantics hf only)")
    for s in registry.samplers():
        group = p if s.openai else newer
        spellings = [s.flag] + ([s.flag.replace("_", "-")] if "_" in s.name else [])
        group.add_argument(*spellings, dest=s.name, type=int if s.integer else float, default=s.off, help=s.help)
    p.add_argument("--semantics", choices=list(registry.SEMANTICS), default="hf",
                   help="top-k/top-p rules: transformers' (hf, default) or OpenAI's sample.py")


def check_settings_and_device(args) -> None:
    """The sampling flags and --device, before the model loads (UsageError names the value)."""
    from ..core.settings import Settings
    from ..model.loading import pick_device

    try:
        Settings(**settings_of(args))
    except ValueError as err:
        raise UsageError(f"--{err}") from None
    try:
        pick_device(args.device)
    except ValueError as err:
        raise UsageError(f"--device: {err}") from None


def undecodable(err: UnicodeDecodeError) -> str:
    """Where the first byte that is not UTF-8 sits, in words."""
    return f"byte 0x{err.object[err.start]:02x} at offset {err.start}"


def settings_of(args) -> dict:
    """The sampling flags as Settings keywords."""
    from ..core import registry

    return {name: getattr(args, name) for name in ["semantics", *registry.names()] if hasattr(args, name)}


