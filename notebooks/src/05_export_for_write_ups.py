# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Export for write-ups
#
# Figures to PNG, SVG, PDF and self-contained HTML, each with a caption and a sidecar
# `<file>.json` that records where it came from; tables to CSV and Parquet; and a run bundle
# that reloads without the model and replays exactly. PNG, SVG and PDF need Chrome or Chromium.

# %% [markdown]
# The next cell holds the parameters. `MODEL = "tiny"` is the small GPT-2 that ships with gpt2explore and works offline; with network access, `MODEL = "gpt2"` (124M) or `"345M"` works unchanged. `DEVICE = "auto"` picks a GPU when there is one.

# %% tags=["parameters"]
MODEL = "tiny"   # or "gpt2", "345M", ... with network access
DEVICE = "auto"
SEED = 1
EXPORT_DIR = "exports"

# %%
from pathlib import Path

import gpt2explore as gx

lm = gx.load(MODEL, device=DEVICE)
out = Path(EXPORT_DIR)
out.mkdir(exist_ok=True)
prompts = ["Hi! My name is Isamu", "Hi! My name is John"]
run = lm.generate(prompts, nsamples=2, length=20, seed=SEED, top_k=40)

# %%
fig = gx.next_token_bars(run[0].steps[3], temperature=0.7)
for suffix in [".png", ".svg", ".pdf", ".html", ".json"]:
    print(gx.save(fig, out / f"next_token{suffix}", width=900, height=500))
print(gx.caption(fig))

# %%
print(open(out / 'next_token.png.json').read()[:600])

# %% [markdown]
# A picture pasted into a post travels without its sidecar. `caption=True` burns the same
# facts in under the figure (prompt, model, seed, settings, versions), wrapped to its width;
# `preset="blog"` draws it 720 px wide at 2x, the size of a blog's column:

# %%
gx.save(fig, out / "next_token_for_a_post.png", caption=True, preset="blog")

# %% [markdown]
# The other figures export the same way:

# %%
gx.save(gx.temperature_sweep(run[0].steps[0]), out / "temperature_sweep.png",
        width=1200, height=420)
gx.save(gx.generation_overview(run[0]), out / "overview.svg")
gx.save(gx.compare_next_token([run[0], run[2]], ["Isamu", "John"]), out / "names.pdf")
sorted(p.name for p in out.iterdir())

# %% [markdown]
# ## Living pages: an explorer your readers can play with
#
# An explorer saved as `.html` is a **page**: one file that works offline in any browser, with
# no Python, whose sliders reshape the bars as the notebook does (the notebook's explorer is
# this same page, with the kernel there to send each step's full logits). It carries each step's 256
# likeliest tokens and a summary of the rest of the vocabulary, and recomputes every
# distribution in the browser with the package's own arithmetic. Where the stored tokens decide
# the answer (any top-k up to 200, T=1, the run's own settings) the page's numbers are exact and
# it says "exact"; elsewhere (say T=0.5 with no top-k: the rest of the vocabulary matters) it
# shows each probability with the interval it can prove, and says "approximate". The page starts
# at the widget's current settings:

# %%
ex = gx.explore(run)
ex.controls["temperature"].value = 1.5
page = gx.save(ex, out / "explorer.html")
print(page, f"{page.stat().st_size / 2**20:.2f} MiB")

# %% [markdown]
# Here is the page itself, inside this notebook (it is the same HTML a browser opens from the
# file). Move its sliders, click a token of the text to jump to its step, or press
# "draw 100 times": the outlines show where 100 fresh draws from the distribution shown land.

# %%
gx.page(ex)

# %% [markdown]
# For a blog post, `embed=True` writes a fragment (no `<html>` or `<head>`) to paste into the
# post; several fragments on one page keep their own state. Each page's root element has the
# class `gx-explorer` (`gx-compare`, `gx-inspect`) and a small JavaScript handle, so a sentence
# in the post can set the figure:
#
# ```js
# const el = document.querySelector(".gx-explorer");
# await el.gx.set({step: 3, temperature: 0.5});   // resolves once the figure is redrawn
# el.gx.shown();    // {step, exact, bound, drawn, tokens: [{id, p, lo, hi}, ...]}: what it shows now
# await el.gx.draw(100);                           // 100 fresh draws, overlaid on the bars
# ```

# %%
fragment = gx.save(ex, out / "explorer_fragment.html", embed=True)
print(fragment.read_text()[:90], "...")

# %% [markdown]
# `gx.compare(...)` and `gx.inspect(...)` save as pages too (columns with the same draws; the
# scored text recoloured by the settings, the alternatives on hover). The figure the explorer
# shows right now, as a static plotly file, is `gx.save(ex.figure(), ...)`:

# %%
comparer = gx.compare(lm, prompts, length=20, seed=SEED)
gx.save(comparer, out / "compare.html")
gx.save(ex.figure(), out / "explorer_view.html")

# %% [markdown]
# **Readers without a kernel.** An explorer, comparison or inspected text carries its page as
# its HTML representation, so a notebook converted to HTML keeps working explorers. For a
# notebook saved from JupyterLab: `jupyter nbconvert --to html 01_quickstart.ipynb`. When
# nbconvert runs the notebook itself, ask it not to store the widgets' state (else it draws them
# with an online widget manager, which an offline reader cannot load):
#
# ```bash
# jupyter nbconvert --to html --execute --ExecutePreprocessor.store_widget_state=False 01_quickstart.ipynb
# ```

# %% [markdown]
# ## Tables

# %%
run.save_table(out / "steps.csv")
run.save_table(out / "steps.parquet")
gx.table(run.to_frame(top=5).head(10))

# %% [markdown]
# ## Run bundles
# A bundle holds the logits, tokens, uniforms, settings and provenance. It reloads with no model; sampling again from it gives the same tokens, and `verify` re-runs the model to check.

# %%
run.save(out / "bundle")
loaded = gx.load_run(out / "bundle")
print(loaded.texts == run.texts)
loaded.verify(lm)

# %%
gx.explore(loaded)
