"""Tokens as a person reads them: visible whitespace, escapes for control characters, and
`step.top()`'s rows as a table."""
from __future__ import annotations

import unicodedata


def show_token(text: str) -> str:
    """A token's text with whitespace made visible: leading space as '␣', newline as '↵', tab
    as '⇥'; other control and format characters as escapes ('\\x1b'), never as a box glyph."""
    out = text.replace("\n", "↵").replace("\t", "⇥").replace("\r", "␍")
    out = "".join(c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co")
                  else c for c in out)
    if out.startswith(" "):
        out = "␣" + out[1:]
    return out if out else "∅"


def show_text(text: str) -> str:
    """A whole text with the same visible rule for control characters (newlines kept as line
    breaks, so a table cell wraps like the text)."""
    return "".join(c.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") and c not in "\n\t" else c
                   for c in text)


class TopTable(list):
    """`step.top(n)`: a list of TokenProb rows that shows as a table in a notebook."""

    def frame(self):
        import pandas as pd

        return pd.DataFrame([{"rank": r.rank, "token": show_token(r.text), "id": r.id, "prob": r.prob,
                              "logit": r.logit} for r in self])

    def __repr__(self) -> str:
        from . import formatting as fmt

        lines = [f"{'rank':>4}  {'token':<16} {'id':>6}  {'prob':>8}  {'logit':>8}"]
        lines += [f"{r.rank:>4}  {show_token(r.text):<16} {r.id:>6}  {fmt.prob(r.prob):>8}  "
                  f"{fmt.number(r.logit):>8}" for r in self]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from . import formatting as fmt

        return fmt.table(self.frame()).to_html()
