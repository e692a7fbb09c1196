"""The "why this token" section of the live explorer and stepper. The front end draws it
(gpt2explore/frontend: a collapsed section under the text; "click a bar: why" sets the clicked
token against the step's own) from the kernel's answer to {type: "why"} (widgets/front.py,
views/why.py): the step's direct logit attribution as a waterfall and the attention its position
gave the context. This module gives the section its colours, the static figures' own."""
from __future__ import annotations

from ..figures.attention import SHADE
from ..figures.style import CHOSEN_COLOR, KEPT_COLOR
from ..figures.why import TOTAL_COLOR

PROMPT_COLOR = "#1f3b73"  # the prompt's text, as the text views show it


def why_spec() -> dict:
    """The section's colours: a component that raises the token (blue), lowers it (orange), the
    total; the attention's shade and the prompt's text colour."""
    return {"up": KEPT_COLOR, "down": CHOSEN_COLOR, "total": TOTAL_COLOR, "shade": list(SHADE),
            "prompt": PROMPT_COLOR}
