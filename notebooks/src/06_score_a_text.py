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
# # Score a text, token by token
#
# Bring any text and ask: how surprised is GPT-2 by each token? Which tokens sit outside the
# top 40, so that `top_k=40` could never have written this text? The colours follow GLTR
# (Strobelt et al. 2019): a token among the model's 10 likeliest is green, ranks 11-100
# yellow, ranks 101-1000 red, beyond that purple.
#
# The paragraph is the opening of chapter 1 of Mark Twain's *Life on the Mississippi* (1883,
# public domain), from `data/texts/mississippi.txt`. The bundled model never saw it: it was
# trained on the King James Bible, the BSD fortune files and the Jargon File.

# %% [markdown]
# The next cell holds the parameters. `MODEL = "tiny"` is the small GPT-2 that ships with gpt2explore and works offline; with network access, `MODEL = "gpt2"` (124M) or `"345M"` works unchanged. `DEVICE = "auto"` picks a GPU when there is one.

# %% tags=["parameters"]
MODEL = "tiny"   # or "gpt2", "345M", ... with network access
DEVICE = "auto"
SEED = 1

# %%
import gpt2explore as gx

lm = gx.load(MODEL, device=DEVICE)
text = gx.data_path("texts", "mississippi.txt").read_text()
scored = lm.score(text)
gx.text_view(scored[0])

# %% [markdown]
# Hover over a token for its rank, its probability and the five tokens the model expected instead. The same text by surprisal (−log p, in nats):

# %%
gx.text_view(scored[0], color='surprisal')

# %% [markdown]
# ## The paragraph beside samples
#
# Two samples of the same length from the model itself, scored as they were drawn
# (`lm.score(run)` takes the sampled token ids as they are, without turning them into text and
# tokenizing it again): one at T=1, the model's own distribution, and one at T=0.7 with top-k 40.

# %%
n = len(scored[0])
t1 = lm.generate(None, length=n, seed=SEED)
t07 = lm.generate(None, length=n, seed=SEED, temperature=0.7, top_k=40)
samples = [scored, lm.score(t1), lm.score(t07)]
names = ["Twain", "sample, T=1", "sample, T=0.7, top-k 40"]
gx.rank_histogram(samples, names)

# %% [markdown]
# At T=1 the sample's ranks look much like the human paragraph's: the model's own distribution
# has a long tail, and a draw from it lands there about as often as the model itself predicts.
# Truncation is what sets sampled text apart: at T=0.7 with top-k 40 nearly every token is in
# the top 10, and none can rank beyond 40 (the "worst rank" column below). That gap is what
# GLTR-style detectors look for.

# %%
import pandas as pd

summaries = [s.summary().assign(text=name) for s, name in zip(samples, names)]
gx.table(pd.concat(summaries, ignore_index=True)
         [["text", "tokens", "perplexity", "worst rank", "share rank 1-10",
           "share rank 11-100", "share rank 101-1000", "share rank > 1000"]])

# %% [markdown]
# ## Which tokens would these settings never write?
#
# Ranks count from 1, the likeliest, here as in every table, figure and the command line.
# Under `top_k=40` every token ranked 41 or beyond is impossible; under `top_p=0.9` every
# token outside the 90% nucleus. Grey tokens below are the ones these settings forbid (grey, as
# the bars grey what the settings cut; red is GLTR's ranks 101-1000 above):

# %%
gx.text_view(scored[0], color='allowed', top_k=40)

# %%
for settings in [dict(top_k=40), dict(top_p=0.9), dict(temperature=0.7, top_k=40)]:
    row = scored.summary(**settings).iloc[0]
    print(f"{settings}: {row.impossible} of {row.tokens} tokens impossible")

# %% [markdown]
# ## Explore it
#
# `gx.inspect` scores the text once and shows it above the bars of one position, with the same
# controls as the explorer. Moving a slider recolours the tokens those settings forbid and
# updates the totals (how many tokens are impossible, the log-probability under the settings)
# from the stored logits, with no model call: the browser colours at once what it can decide,
# and the kernel answers the rest, so every colour and number is exact. Click a token (or move
# the position slider) for the bars at that position; the text's actual token is orange. The
# colour menu switches to GLTR's rank buckets or to surprisal.

# %%
gx.inspect(lm, text, top_k=40)

# %% [markdown]
# From the command line: `gpt2explore score data/texts/mississippi.txt --top_k=40` (or `--format csv`).
