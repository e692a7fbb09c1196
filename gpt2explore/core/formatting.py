"""One formatting rule for every number a person reads: titles, readouts, hover text, tables.

- probabilities: exactly 0 -> "0", exactly 1 -> "1"; >= 0.001 -> three significant digits,
  trailing zeros kept, so a column reads alike ("0.404", "0.0870", "0.0400", "0.0237");
  below 0.001 -> scientific notation ("3.5e-04"). Never "-0". Pages use the same rule.
- other quantities (entropy, logits, divergences): three decimals, never "-0.000".
- counts: thousands separators and the right plural ("1 token kept", "50,257 tokens").
- settings (temperature, top-p, ...): as a person types them, up to six significant digits
  ("0.96", "1", "100", "1e-06"), never a float's last bits ("0.9599999999999999").
- ranks count from 1 (the likeliest) wherever a person reads them: tables, figures, the command line,
  prose; in code `step.rank1` says so, and `step.rank0` is the same rank counted from 0.

Tables of these (`gx.table`, a pandas Styler) are made a floor up, in gpt2explore.files.tables.
"""
from __future__ import annotations

import math

from . import extensions
from .tokens import show_token

SMALL = 1e-3


def prob(p) -> str:
    """A probability under the one rule."""
    p = float(p)
    if math.isnan(p):
        return "nan"
    if p == 0:
        return "0"
    if p == 1:
        return "1"
    if abs(p) < SMALL:
        return f"{p:.1e}"
    return f"{p:#.3g}"  # '#': the zeros of the three digits stay (0.0400, not 0.04)


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


class TopTable(list):
    """`step.top(n)`: a list of TokenProb rows that shows as a table in a notebook."""

    def frame(self):
        import pandas as pd

        return pd.DataFrame([{"rank": r.rank, "token": r.label or show_token(r.text), "id": r.id, "prob": r.prob,
                              "model p": r.prob_raw, "logit": r.logit} for r in self])

    def __repr__(self) -> str:
        lines = [f"{'rank':>4}  {'token':<16} {'id':>6}  {'prob':>8}  {'model p':>8}  {'logit':>8}"]
        lines += [f"{r.rank:>4}  {(r.label or show_token(r.text)):<16} {r.id:>6}  {prob(r.prob):>8}  "
                  f"{'' if r.prob_raw is None else prob(r.prob_raw):>8}  {number(r.logit):>8}" for r in self]
        return "\n".join(lines)

    def _repr_html_(self) -> str:  # the table's styling belongs to files/tables.py
        return extensions.call("TopTable", "html", self)


def short_names(texts, width: int = 28) -> list[str]:
    """Names for texts that differ in a part (prompts "Hi! My name is Isamu" and "Hi! My name is
    John"): each text's own words with "…" where the shared start and end were left out ("…Isamu",
    "…John"); the texts quoted when they are short or share nothing, cut to `width` characters."""
    texts = [str(t) for t in texts]
    words = [t.split(" ") for t in texts]
    head = 0  # words every text starts with (leaving each at least one of its own)
    while all(len(w) > head + 1 for w in words) and len({w[head] for w in words}) == 1:
        head += 1
    tail = 0
    while all(len(w) > head + tail + 1 for w in words) and len({w[len(w) - 1 - tail] for w in words}) == 1:
        tail += 1
    if len(texts) < 2 or len(set(texts)) < len(texts) or all(len(t) <= width for t in texts) or not head + tail:
        return [repr(t) if len(repr(t)) <= width else repr(t)[: width - 2] + "…'" for t in texts]
    names = []
    for w in words:
        own = " ".join(w[head: len(w) - tail])
        own = own if len(own) <= width - 2 else own[: width - 3] + "…"
        names.append(("…" if head else "") + own + ("…" if tail else ""))
    return names if len(set(names)) == len(names) else [repr(t)[: width] for t in texts]
