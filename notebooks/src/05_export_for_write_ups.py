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
run = lm.generate(["Hi! My name is Isamu", "Hi! My name is John"], nsamples=2, length=20, seed=SEED, top_k=40)

# %%
fig = gx.next_token_bars(run[0].steps[3], temperature=0.7)
for suffix in [".png", ".svg", ".pdf", ".html", ".json"]:
    print(gx.save(fig, out / f"next_token{suffix}", width=900, height=500))
print(gx.caption(fig))

# %%
print(open(out / 'next_token.png.json').read()[:600])

# %% [markdown]
# The other figures export the same way:

# %%
gx.save(gx.temperature_sweep(run[0].steps[0]), out / "temperature_sweep.png", width=1200, height=420)
gx.save(gx.generation_overview(run[0]), out / "overview.svg")
gx.save(gx.compare_next_token([run[0], run[2]], ["Isamu", "John"]), out / "names.pdf")
sorted(p.name for p in out.iterdir())

# %% [markdown]
# A widget saves what it shows at the moment:

# %%
ex = gx.explore(run)
ex.controls["temperature"].value = 1.5
gx.save(ex, out / "explorer_view.html")

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
