"""The gallery's cases: one figure per builder and widget on fixed prompts and seeds (used by
scripts/gallery.py and by the tests that check the figures' layout)."""
from __future__ import annotations

import gpt2explore as gx

from ..model.loading import data_path
from . import why

NAMES = ["Hi! My name is Isamu", "Hi! My name is John"]


def figures(lm) -> dict:
    run = lm.generate("Hi! My name is", nsamples=1, length=24, seed=1, temperature=0.8, top_k=10)
    step = run[0].steps[3]
    both = lm.generate(NAMES, nsamples=1, length=12, seed=1, top_k=40)
    figs = {
        "next_token_bars": gx.next_token_bars(step),
        "next_token_bars_other_settings": gx.next_token_bars(step, temperature=0.5, top_k=3),
        "draw_figure": gx.draw_figure(step),
        "next_token_bars_top_p": gx.next_token_bars(run[0].steps[1], temperature=1.0, top_k=0, top_p=0.5),
        "next_token_bars_log": gx.next_token_bars(step, temperature=100, top_k=0, log=True),
        "temperature_sweep": gx.temperature_sweep(step),
        "generation_overview": gx.generation_overview(run[0]),
        "compare_next_token": gx.compare_next_token([both[0], both[1]], NAMES),
        "explore": gx.explore(run).figure(),
        "stepper": gx.stepper(lm, "Hi! My name is", seed=1, top_k=40).figure(),
    }
    modern = lm.generate("Hi! My name is", nsamples=1, length=12, seed=1, temperature=0.8, top_k=40, min_p=0.05,
                         repetition_penalty=1.3)
    figs["pipeline_figure"] = gx.pipeline_figure(modern[0].steps[4], top_p=0.9, typical_p=0.95)
    scored = lm.score(data_path("texts", "mississippi.txt").read_text())
    figs["text_view_rank"] = gx.text_view(scored[0])
    figs["text_view_allowed"] = gx.text_view(scored[0], color="allowed", top_k=40)
    n = min(len(scored[0]), lm.n_ctx)
    figs["rank_histogram"] = gx.rank_histogram(
        [scored, lm.generate(None, length=n, seed=1), lm.generate(None, length=n, seed=1, temperature=0.7, top_k=40)],
        ["Twain", "sample, T=1", "sample, T=0.7, top-k 40"])
    lensed = lm.generate("Hi! My name is John", length=12, seed=1, layers=True)
    figs["lens_heatmap"] = gx.lens_heatmap(lensed[0].steps[0])
    figs["lens_grid"] = gx.lens_grid(lensed[0])
    # why this token (notebook 09): the two names' first steps, with their attention
    named = lm.generate(NAMES, nsamples=1, length=12, seed=1, attention=True)
    isamu, john = named[0].steps[0], named[1].steps[0]
    figs["attention_view"] = gx.attention_view(isamu)
    figs["attention_overview"] = gx.attention_overview(isamu)
    figs["attribution_figure"] = gx.attribution_figure(isamu)
    figs["attribution_heatmap"] = gx.attribution_heatmap(isamu)
    figs["separating_figure"] = why.separating_figure(isamu, john)
    figs["attention_vs_effect_figure"] = why.attention_vs_effect_figure(isamu)
    figs["direct_vs_total_figure"] = why.direct_vs_total_figure(isamu)
    return figs
