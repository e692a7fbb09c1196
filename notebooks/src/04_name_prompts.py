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
# # "Hi! My name is Isamu" vs "Hi! My name is John"
#
# Change one word of a prompt and see what the model does with it. Every prompt is sampled
# with the **same random draws**, so differences come from the model, not from the dice.

# %% [markdown]
# The next cell holds the parameters. `MODEL = "tiny"` is the small GPT-2 that ships with gpt2explore and works offline; with network access, `MODEL = "gpt2"` (124M) or `"345M"` works unchanged. `DEVICE = "auto"` picks a GPU when there is one.

# %% tags=["parameters"]
MODEL = "tiny"   # or "gpt2", "345M", ... with network access
DEVICE = "auto"
SEED = 1

# %%
import pandas as pd

import gpt2explore as gx
from gpt2explore import plots

lm = gx.load(MODEL, device=DEVICE)
names = pd.read_csv(gx.data_path("names.csv"))
names

# %%
pair = ["Hi! My name is Isamu", "Hi! My name is John"]

def side_by_side(run):
    columns = {p: [s.text for s in run if s.prompt == p] for p in run.prompts}
    return gx.table(pd.DataFrame(columns))

side_by_side(lm.generate(pair, nsamples=3, length=20, seed=SEED, temperature=1.0))

# %% [markdown]
# At temperature 0.5 the texts follow the likeliest continuations more closely:

# %%
side_by_side(lm.generate(pair, nsamples=3, length=20, seed=SEED, temperature=0.5))

# %% [markdown]
# The next-token distributions right after each prompt, on one figure, with their divergence (Jensen–Shannon, in nats: 0 = identical, ln 2 ≈ 0.69 = nothing in common):

# %%
run = lm.generate(pair, length=5, seed=SEED)
gx.compare_next_token([run[0], run[1]], ["Isamu", "John"])

# %% [markdown]
# Which tokens does each name make likelier? Ranked by log(p_A / p_B):

# %%
gx.table(gx.log_ratio_table(run[0].steps[0], run[1].steps[0], n=10))

# %%
gx.table(gx.log_ratio_table(run[1].steps[0], run[0].steps[0], n=10))

# %% [markdown]
# All the names against John: how far each name's next-token distribution p lies from John's q,
# in nats: `kl_pq` = KL(p‖q) (the extra surprise, per token, of expecting John's q when this name's p
# draws), `kl_qp` = KL(q‖p) (the other way round; the two differ), `js` = Jensen–Shannon (symmetric, at most
# ln 2 ≈ 0.69). John's own row is 0 in all three.

# %%
prompts = [f"Hi! My name is {n}" for n in names.name]
first = lm.generate(prompts, length=1, seed=SEED)
john = next(s for s in first if s.prompt.endswith("John")).steps[0].distribution()
gx.table(pd.DataFrame([{"prompt": s.prompt,
                        **plots.divergences(s.steps[0].distribution(), john)}
                       for s in first]))

# %% [markdown]
# ## The comparison widget
# One column per prompt, drawn with the same draws: its prompt, the next-token bars, the text. The
# sliders are the saved page's, and every column is exact at every setting (the kernel sends each
# shown step's whole row). Move the step slider to compare later steps; the line above the columns
# gives their Jensen–Shannon divergence at the step and settings shown. **More samples** draws the
# next sample of every prompt (the same seed) and shows it; the sample selector goes back.

# %%
c = gx.compare(lm, pair, nsamples=1, length=20, seed=SEED)
c

# %% [markdown]
# The widget is a Python object too: its controls follow the sliders, and setting one moves the view.
# `c.more()` draws more samples from Python, and `c.figure()` is what the columns show now as one
# static figure, for `gx.save`.

# %%
c.step_slider.value = 3
c.figure()
