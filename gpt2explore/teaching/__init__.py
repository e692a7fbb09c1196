"""Helpers only the notebooks use: worked examples (`gx.teaching.softmax_table`, ...), why this
token (`gx.teaching.why`: what separates two prompts, and two caveats), and the gallery's cases."""
from . import why  # noqa: F401
from .demos import (  # noqa: F401
                    branches_table,
                    divide_by_zero,
                    entropy_bits,
                    kept_counts,
                    loop_texts,
                    peaked_and_flat,
                    rules_demo,
                    rules_figures,
                    rules_table,
                    softmax_table,
                    sweep_table,
                    temperature_samples,
)
from .why import (  # noqa: F401
                  attention_vs_effect,
                  attention_vs_effect_figure,
                  direct_vs_total,
                  direct_vs_total_figure,
                  separating_components,
                  separating_figure,
)
