"""One formatting rule for every number a person reads: titles, readouts, hover text, tables.

- probabilities: 0 -> "0"; >= 0.001 -> three significant digits ("0.404", "0.0123", "1");
  below 0.001 -> scientific notation ("3.5e-04"). Never "-0".
- other quantities (entropy, logits, divergences): three decimals, never "-0.000".
- counts: thousands separators and the right plural ("1 token kept", "50,257 tokens").
"""
from __future__ import annotations

import math

SMALL = 1e-3


def prob(p) -> str:
    """A probability under the one rule."""
    p = float(p)
    if math.isnan(p):
        return "nan"
    if p == 0:
        return "0"
    if abs(p) < SMALL:
        return f"{p:.1e}"
    text = f"{p:.3g}"
    if "e" in text:  # .3g switches to e-notation only below 1e-4, already handled above
        text = f"{p:.4f}"
    return text


def number(x, decimals: int = 3) -> str:
    """A quantity with a fixed number of decimals; -0.000 reads 0.000; inf reads ∞."""
    x = float(x)
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if math.isnan(x):
        return "nan"
    text = f"{x:.{decimals}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 token', '2 tokens', '50,257 tokens'."""
    n = int(n)
    word = noun if n == 1 else (plural or noun + "s")
    return f"{n:,} {word}"


PROB_COLUMNS = ("prob", "prob_raw", "p", "p_a", "p_b", "raw_prob", "probability", "token_prob")


def visible_text(value):
    """A table cell's text: whole (never cut), newlines shown as '↵' and kept as line breaks,
    control characters as escapes (the charts' rule); other values unchanged."""
    if not isinstance(value, str):
        return value
    from .tokens import show_text

    return show_text(value).replace("\n", "↵\n")


def table(frame, prob_columns=None, number_columns=None):
    """A pandas Styler that shows `frame` under the one rule (probability columns by `prob`,
    other float columns by `number`), with whole texts wrapped and whitespace made visible;
    the frame itself is unchanged. `gx.table(frame)` in a notebook."""
    prob_columns = [c for c in (prob_columns or PROB_COLUMNS) if c in frame.columns]
    floats = [c for c in frame.columns if frame[c].dtype.kind == "f" and c not in prob_columns]
    number_columns = [c for c in (number_columns or floats) if c in frame.columns]
    from pandas.api.types import is_object_dtype, is_string_dtype

    texts = [c for c in frame.columns if (is_string_dtype(frame[c]) or is_object_dtype(frame[c]))
             and c not in prob_columns + number_columns]
    fmt = {c: prob for c in prob_columns}
    fmt.update({c: number for c in number_columns})
    fmt.update({c: visible_text for c in texts})
    return (frame.style.format(fmt).hide(axis="index")
            .set_properties(**{"white-space": "pre-wrap", "text-align": "left", "font-family": "monospace",
                               "max-width": "48em", "vertical-align": "top"}))
