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
# # Today's samplers, stage by stage
#
# Besides temperature, top-k and top-p, transformers' `generate` knows **min-p**, **typical**
# sampling, **epsilon** and **eta** cut-offs, the **repetition penalty** and **no-repeat
# n-grams**. Each reshapes the same logits, one after another, in a fixed order: the two that
# look at the text so far (repetition penalty, no-repeat n-grams), then temperature, top-k,
# top-p, min-p, typical, epsilon, eta. gpt2explore applies them in exactly that order, so the
# bars still show what each token is drawn from.

# %% [markdown]
# The next cell holds the parameters. `MODEL = "tiny"` is the small GPT-2 that ships with gpt2explore and works offline; with network access, `MODEL = "gpt2"` (124M) or `"345M"` works unchanged. `DEVICE = "auto"` picks a GPU when there is one.

# %% tags=["parameters"]
MODEL = "tiny"   # or "gpt2", "345M", ... with network access
DEVICE = "auto"
SEED = 1
PROMPT = "Hi! My name is"

# %%
import gpt2explore as gx
from gpt2explore import teaching

lm = gx.load(MODEL, device=DEVICE)
run = lm.generate(PROMPT, nsamples=2, length=30, seed=SEED)
peaked, flat = teaching.peaked_and_flat(run)
print(f"peaked: step {peaked.index}, flat: step {flat.index}")

# %% [markdown]
# ## Min-p against top-p
#
# Top-p keeps the likeliest tokens until they hold p of the probability. Min-p keeps every token
# whose probability is at least min_p times the top token's. On a **peaked** step (the model's
# top token holds 40-80% of the probability) min-p keeps the few tokens near the top one, while
# top-p=0.9 still has to collect the last tenth of the probability from the tail, often a hundred
# tokens or more (the first table counts them); on a **flat** step top-p=0.9 reaches deeper
# still, while min-p scales its bar with the model's confidence:

# %%
compare = [dict(top_p=0.9), dict(min_p=0.1), dict(top_p=0.5), dict(min_p=0.3)]
gx.table(teaching.kept_counts(peaked, compare))

# %%
gx.table(teaching.kept_counts(flat, compare))

# %%
gx.next_token_bars(flat, top_p=0.9, n=25).show()
gx.next_token_bars(flat, min_p=0.1, n=25).show()

# %% [markdown]
# ## Every stage on one picture
#
# `gx.pipeline_figure` draws one small panel per active stage, with the same tokens on every
# panel: a grey cross marks the tokens each stage removes. `gx.sampling_stages` gives the same
# as a table.

# %%
settings = dict(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05,
                repetition_penalty=1.2)
gx.pipeline_figure(peaked, **settings)

# %%
gx.table(gx.sampling_stages(peaked, n=5, **settings))

# %% [markdown]
# ## The order matters: min-p before or after temperature
#
# transformers applies temperature first, then min-p. Some samplers (llama.cpp's debate in its
# issues #3841 and #4091) apply min-p to the model's own distribution first, then temperature:
# at a high temperature that keeps fewer tokens, because min-p has not yet seen the flattening.
# `stage_order=` runs the stages in another order on the same logits (only the default order is
# transformers'):

# %%
hot = dict(temperature=2.0, min_p=0.1)
after = flat.distribution(**hot)
before = flat.distribution(**hot, stage_order=["min_p", "temperature"])
print("min-p after temperature (transformers):", int((after > 0).sum()), "tokens kept")
print("min-p before temperature:              ", int((before > 0).sum()), "tokens kept")
gx.pipeline_figure(flat, stage_order=["min_p", "temperature"], **hot)

# %% [markdown]
# ## A sample that loops, and what breaks the loop
#
# Greedy decoding (T=0) often falls into a loop. The repetition penalty divides the logits of
# tokens already in the text; no-repeat n-grams forbid any 3-gram that already occurred.
# Same prompt, same draws:

# %%
gx.table(teaching.loop_texts(lm, "And the LORD said", length=60, seed=SEED))

# %% [markdown]
# ## Your own sampler
#
# Every sampler above is declared once, in one registry, and the settings, the sliders, the
# titles, the stage-by-stage view and the saved bundles are all made from it. Yours joins the
# same way: a function from one row of logits and a value to the same logits with the cut
# tokens at -inf, its "off" value, a slider range and a label. Top-a keeps the tokens whose
# probability is at least a × (the top token's probability)². (`replace=True` lets this cell
# run again.)

# %%
def top_a(logits, a):
    p = logits.softmax(-1)
    cut = p < a * p.max(-1, keepdim=True).values ** 2
    return logits.masked_fill(cut, float("-inf"))


gx.register_sampler("top_a", top_a, off=0.0, range=(0.0, 1.0), label="top-a",
                    replace=True)
own = lm.generate(PROMPT, length=12, seed=SEED, top_a=0.2)
print(own[0].text)
print("every step re-draws its token:",
      all(s.resample() == s.token for s in own[0].steps))
gx.pipeline_figure(own[0].steps[0])

# %% [markdown]
# The figure's last panel is top-a's cut, named in the title like a built-in. The stepper
# below lists top-a in its **more samplers** section too (as would `gx.explore` of a run).

# %% [markdown]
# ## In the widgets
#
# The stepper and the explorer keep the newer samplers they do not use in a collapsed **more
# samplers** section under the four classic controls; one that is set sits beside them: below,
# min-p does, since `min_p=0.05` is. The readout says how many tokens the settings keep; which
# stage cut each rival is the pipeline figure's and `gx.sampling_stages`' job (above).

# %%
gx.stepper(lm, PROMPT, seed=SEED, top_k=40, min_p=0.05)
