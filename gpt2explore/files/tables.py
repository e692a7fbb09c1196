"""Tables for people: `gx.table(frame)` shows a pandas frame under the one formatting rule
(gpt2explore.core.formatting), and `step.top()` shows as such a table in a notebook."""
from __future__ import annotations

from pandas.api.types import is_object_dtype, is_string_dtype

from ..core import extensions
from ..core.formatting import number, prob, value
from ..core.tokens import show_text

PROB_COLUMNS = ("prob", "prob_raw", "p", "p_a", "p_b", "raw_prob", "probability", "token_prob")
SETTING_COLUMNS = ("temperature", "top_k", "top_p", "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff",
                   "repetition_penalty", "no_repeat_ngram_size")


def is_prob_column(name: str) -> bool:
    """A column of probabilities by its name: 'p(...)', 'p after ...', 'model p', 'raw p'."""
    return "p(" in name or name.startswith("p ") or name.endswith(" p")


def visible_text(cell):
    """A table cell's text: whole (never cut), newlines shown as '↵' and kept as line breaks,
    control characters as escapes (the charts' rule); other values unchanged."""
    if not isinstance(cell, str):
        return cell
    return show_text(cell).replace("\n", "↵\n")


MISSING = "–"  # how a table shows a missing value


def table(frame, prob_columns=None, number_columns=None):
    """A pandas Styler that shows `frame` under the one rule (probability columns by `prob`,
    other float columns by `number`), with whole texts wrapped and whitespace made visible, and
    a missing value (None, NaN: an MLP row's head) as "–"; the frame itself is unchanged. `gx.table(frame)` in a notebook."""
    if not hasattr(frame, "columns") or not hasattr(frame, "style"):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    prob_columns = [c for c in (prob_columns or PROB_COLUMNS) if c in frame.columns] + [
        c for c in frame.columns if isinstance(c, str) and c not in PROB_COLUMNS and is_prob_column(c)]
    settings = [c for c in SETTING_COLUMNS if c in frame.columns]
    floats = [c for c in frame.columns if frame[c].dtype.kind == "f" and c not in prob_columns + settings]
    number_columns = [c for c in (number_columns or floats) if c in frame.columns]
    texts = [c for c in frame.columns if (is_string_dtype(frame[c]) or is_object_dtype(frame[c]))
             and c not in prob_columns + number_columns + settings]
    fmt = {c: prob for c in prob_columns}
    fmt.update({c: (lambda v: "" if v == "" else value(v)) for c in settings})
    fmt.update({c: number for c in number_columns})
    fmt.update({c: visible_text for c in texts})
    return (frame.style.format(fmt, na_rep=MISSING).hide(axis="index")
            .set_properties(**{"white-space": "pre-wrap", "text-align": "left", "font-family": "monospace",
                               "max-width": "48em", "vertical-align": "top"})
            .set_table_styles([{"selector": "th", "props": [("text-align", "left")]}], overwrite=False))  # over its column


extensions.register("TopTable", "html", lambda top: table(top.frame()).to_html())  # step.top() in a notebook
