"""Helpers only the notebooks use: worked examples (`gx.teaching.softmax_table`, ...) and the
gallery's cases."""
from .demos import (  # noqa: F401
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
