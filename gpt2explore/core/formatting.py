"""One formatting rule for every number a person reads: titles, readouts, hover text, tables.

- probabilities: 0 -> "0"; >= 0.001 -> three significant digits ("0.404", "0.0123", "1");
  below 0.001 -> scientific notation ("3.5e-04"). Never "-0".
- other quantities (entropy, logits, divergences): three decimals, never "-0.000".
- counts: thousands separators and the right plural ("1 token kept", "50,257 tokens").
- settings (temperature, top-p, ...): as a person types them, up to six significant digits
  ("0.96", "1", "100", "1e-06"), never a float's last bits ("0.9599999999999999").
- ranks shown to people count from 1 (the likeliest); `step.rank` is the 0-based data.
"""
from __future__ import annotations

import math

from .tokens import show_text, show_token

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


def value(x) -> str:
    """A setting as a person types it: '0.96', '1', '100', '1e-06', 'hf'."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return str(x)
    return f"{x:.6g}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 token', '2 tokens', '50,257 tokens'."""
    n = int(n)
    word = noun if n == 1 else (plural or noun + "s")
    return f"{n:,} {word}"


PROB_COLUMNS = ("prob", "prob_raw", "p", "p_a", "p_b", "raw_prob", "probability", "token_prob")
SETTING_COLUMNS = ("temperature", "top_k", "top_p", "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff",
                   "repetition_penalty", "no_repeat_ngram_size")


def visible_text(value):
    """A table cell's text: whole (never cut), newlines shown as '↵' and kept as line breaks,
    control characters as escapes (the charts' rule); other values unchanged."""
    if not isinstance(value, str):
        return value
    return show_text(value).replace("\n", "↵\n")


MISSING = "–"  # how a table shows a missing value


def table(frame, prob_columns=None, number_columns=None):
    """A pandas Styler that shows `frame` under the one rule (probability columns by `prob`,
    other float columns by `number`), with whole texts wrapped and whitespace made visible, and
    a missing value (None, NaN: an MLP row's head) as "–"; the frame itself is unchanged. `gx.table(frame)` in a notebook."""
    if not hasattr(frame, "columns") or not hasattr(frame, "style"):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    prob_columns = [c for c in (prob_columns or PROB_COLUMNS) if c in frame.columns] + [
        c for c in frame.columns if isinstance(c, str) and c not in PROB_COLUMNS and ("p(" in c or c.startswith("p "))]
    settings = [c for c in SETTING_COLUMNS if c in frame.columns]
    floats = [c for c in frame.columns if frame[c].dtype.kind == "f" and c not in prob_columns + settings]
    number_columns = [c for c in (number_columns or floats) if c in frame.columns]
    from pandas.api.types import is_object_dtype, is_string_dtype

    texts = [c for c in frame.columns if (is_string_dtype(frame[c]) or is_object_dtype(frame[c]))
             and c not in prob_columns + number_columns + settings]
    fmt = {c: prob for c in prob_columns}
    fmt.update({c: (lambda v: "" if v == "" else value(v)) for c in settings})
    fmt.update({c: number for c in number_columns})
    fmt.update({c: visible_text for c in texts})
    return (frame.style.format(fmt, na_rep=MISSING).hide(axis="index")
            .set_properties(**{"white-space": "pre-wrap", "text-align": "left", "font-family": "monospace",
                               "max-width": "48em", "vertical-align": "top"}))


class TopTable(list):
    """`step.top(n)`: a list of TokenProb rows that shows as a table in a notebook."""

    def frame(self):
        import pandas as pd

        return pd.DataFrame([{"rank": r.rank, "token": r.label or show_token(r.text), "id": r.id, "prob": r.prob,
                              "logit": r.logit} for r in self])

    def __repr__(self) -> str:
        lines = [f"{'rank':>4}  {'token':<16} {'id':>6}  {'prob':>8}  {'logit':>8}"]
        lines += [f"{r.rank:>4}  {(r.label or show_token(r.text)):<16} {r.id:>6}  {prob(r.prob):>8}  "
                  f"{number(r.logit):>8}" for r in self]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return table(self.frame()).to_html()
