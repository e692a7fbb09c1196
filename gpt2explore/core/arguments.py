"""Checks of the arguments where they enter a public call: one ValueError or TypeError line that
names the argument, what it got and what to give instead."""
from __future__ import annotations

import math
import numbers
import os


def _got(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{type(value).__name__}: {text[:57]}..."


def count(name: str, value, minimum: int = 1) -> int:
    """An integer of any integral type (int, NumPy) >= minimum, as a plain int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {_got(value)}")
    return int(value)


def flag(name: str, value, none: bool = False) -> bool | None:
    """True or False (NumPy's bools too; None where `none`): a string such as "no" is refused
    rather than read as true."""
    if value is None and none:
        return None
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise TypeError(f"{name} must be True or False{' (or None)' if none else ''}, got {_got(value)}")


def expect(name: str, value, kind, what: str, hint: str = ""):
    """`value` must be an instance of `kind` (a type or tuple); `what` says it for people
    ("a Step (e.g. run[0].steps[0])"), `hint` how to get one from what was given."""
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}{'; ' + hint if hint else ''}")
    return value


def path(name: str, value):
    """A file or folder path: a string or an os.PathLike."""
    if not isinstance(value, (str, os.PathLike)) or (isinstance(value, str) and not value):
        raise TypeError(f"{name} must be a path (a string or pathlib.Path), got {_got(value)}")
    return value


def choice(name: str, value, options) -> object:
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}, got {_got(value)}")
    return value


def unit_interval(name: str, value) -> float:
    """A uniform draw: a finite number in [0, 1] (1.0 itself draws the last token with mass)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)) \
            or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1] (a uniform draw), got {_got(value)}")
    return float(value)
