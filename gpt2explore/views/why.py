"""What the "why this token" section shows, as plain data: the waterfall of a step's direct logit
attribution (model.attribution) and the attention its position gave the context
(views.attention). The live explorer and stepper ask the kernel for it; figures.why draws the
same rows as a plotly waterfall for write-ups."""
from __future__ import annotations

from ..core.pieces import step_label
from ..model.attribution import attribution
from .attention import attention_data

NO_ATTENTION = ("no attention recorded for this step: generate (or start the session) with attention=True "
                "to see what it attended to")
TOP = 12  # components named in the waterfall; the rest are summed


def waterfall_rows(df, top: int = TOP) -> list[tuple[str, float, str]]:
    """(label, value, measure) for the waterfall: the `top` largest |contribution| components in
    the model's order (embeddings first), the rest summed as "other components", then the total."""
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    named = set(df["contribution"].abs().nlargest(min(top, len(df))).index)
    rows = [(df.at[i, "component"], float(df.at[i, "contribution"]), "relative") for i in df.index if i in named]
    rest = df.loc[[i for i in df.index if i not in named], "contribution"]
    if len(rest):
        rows.append((f"other components ({len(rest)})", float(rest.sum()), "relative"))
    rows.append(("logit difference", float(df["contribution"].sum()), "total"))
    return rows


def why_data(step, vs=None, layer: int = -1, head=None, top: int = TOP) -> dict:
    """The step's token against `vs` (None = the likeliest other token): the waterfall's rows
    (None where there is no model to re-run, said in `notes`), and what its position attended to
    at `layer` for `head` (None = the mean of the heads; None where the run recorded no attention)."""
    notes, attributed, attended = [], None, None
    try:
        df = attribution(step, vs)
        attributed = {"vs": int(df.attrs["vs"]), "token_label": step_label(step, int(df.attrs["token"])),
                      "vs_label": step_label(step, int(df.attrs["vs"])), "logit_diff": float(df.attrs["logit_diff"]),
                      "rows": [list(r) for r in waterfall_rows(df, top)]}
    except ValueError as err:
        notes.append(str(err))
    if step.attention_weights is None:
        notes.append(NO_ATTENTION)
    else:
        attended = attention_data(step, layer, head)
    return {"step": int(step.index), "token": int(step.token), "attribution": attributed, "attention": attended,
            "notes": notes}
