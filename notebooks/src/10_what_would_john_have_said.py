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
# # What would John have said?
#
# Notebook 4 samples "Hi! My name is Isamu" and "Hi! My name is John" with the same seed. This
# one asks a sharper question about a single sample: **how would this very text have read had
# the name been John?** Generation is a chain of random draws; keep the draws, change the name,
# and generate again. That is a *counterfactual* (Chatzi et al. 2024; Ravfogel et al. 2025).
#
# How much of a sample survives depends on how the draws turn into tokens (the *coupling*):
#
# - `coupling="cdf"` (the default): one uniform number `u` per step, and the token where the
#   cumulative probability first passes `u`.
# - `coupling="gumbel"`: one Gumbel number `g` per vocabulary token per step, and the token with
#   the highest `log p + g`. Both draw exactly from the distribution the bars show; they differ
#   in what "the same draws" means under another prompt.

# %% [markdown]
# The next cell holds the parameters. `MODEL = "tiny"` is the small GPT-2 that ships with gpt2explore and works offline; with network access, `MODEL = "gpt2"` works unchanged. The study at the end draws `NSAMPLES` samples per name.

# %% tags=["parameters"]
MODEL = "tiny"   # or "gpt2", "345M", ... with network access
DEVICE = "auto"
SEED = 1
NSAMPLES = 8     # per name in the study (200 for a closer look: minutes on a laptop)
LENGTH = 16

# %%
import pandas as pd

import gpt2explore as gx

lm = gx.load(MODEL, device=DEVICE)
A, B = "Hi! My name is Isamu", "Hi! My name is John"

# %% [markdown]
# ## The weak and the strong coupling
#
# Right after the two names the model's next-token distributions differ: their total variation
# (TV) is the share of probability that would have to move to turn one into the other. **No**
# way of sharing the draws can make the two samples agree more often than 1 − TV. The figure
# gives the exact probability that one draw of noise picks the same first token after both
# names, for each coupling.

# %%
first_a = lm.generate(A, length=1, seed=SEED)[0][0]
first_b = lm.generate(B, length=1, seed=SEED)[0][0]
gx.coupling_figure(first_a, first_b)

# %% [markdown]
# On the bundled model, TV is about 0.62, so no coupling can agree more than 38% of the time.
# The uniform `u` agrees in only about 7% of draws: a small change at the top of the
# distribution shifts the whole cumulative order. Shared Gumbel noise agrees in about 32%,
# close to the ceiling and above its guaranteed floor (1 − TV)/(1 + TV) ≈ 0.23 (the dashed
# line). The numbers for the model you loaded:

# %%
from gpt2explore.core import coupling

p, q = first_a.distribution(), first_b.distribution()
pd.Series({"total variation": coupling.agreement_bounds(p, q)["tv"],
           "cdf: P(same first token)": coupling.cdf_agreement(p, q),
           "gumbel: P(same first token)": coupling.gumbel_agreement(p, q),
           "ceiling 1 − TV": coupling.agreement_bounds(p, q)["ceiling"]}).round(3)

# %% [markdown]
# ## A sample and its counterfactual
#
# `run.counterfactual(B)` gives the run's samples again, each with the noise it was drawn with,
# after prompt B instead. It is exactly what `lm.generate(B, seed=SEED, coupling=...)` draws; it
# also takes other settings (`temperature=0.7`), one prompt per sample, or another model with the
# same vocabulary (`lm=`). Over 40 samples of 8 tokens, how much of each sample survives the
# change of name, with each coupling:


# %%
def agreed(a, b):
    """How many tokens two paired samples share before they first differ."""
    pairs = enumerate(zip(a.tokens, b.tokens))
    return next((t for t, (x, y) in pairs if x != y), len(a.tokens))


rows = {}
for kind in ("cdf", "gumbel"):
    drawn = lm.generate(A, nsamples=40, length=8, seed=SEED, coupling=kind,
                        keep_logits="none")
    drawn_b = drawn.counterfactual(B)
    common = [agreed(a, b) for a, b in zip(drawn, drawn_b)]
    rows[kind] = {"first token the same": sum(c > 0 for c in common) / len(common),
                  "mean tokens in common at the start": sum(common) / len(common)}
# one row per coupling
gx.table(pd.DataFrame(rows).T.rename_axis("coupling").reset_index().round(2))

# %% [markdown]
# On the bundled model, in these 40 samples, the shared Gumbel noise keeps the first token more
# than twice as often as the uniform (the exact probabilities above: 0.32 against 0.07), and keeps
# several times as many tokens at the start. Here is the first of the Gumbel samples whose
# counterfactual keeps its first token, at full length, beside its counterfactual; after they
# part, the shared noise can bring them back to the same tokens, as it does here:

# %%
# the Gumbel samples and their counterfactuals
keeps = [a.tokens[0] == b.tokens[0] for a, b in zip(drawn, drawn_b)]
k = keeps.index(True) if True in keeps else 0
run = lm.generate(A, nsamples=1, length=LENGTH, seed=SEED, coupling="gumbel",
                  first_sample=k)
cf = run.counterfactual(B)
gx.table(pd.DataFrame({"Isamu (as drawn)": run.texts, "John (counterfactual)": cf.texts,
                       "tokens in common at the start": [agreed(run[0], cf[0])]}))

# %% [markdown]
# The figure lines the two texts up token by token (orange where they differ) and shows, at the
# step where they first part, both distributions with the token the shared noise drew from each.

# %%
gx.counterfactual_view(run, cf, sample=0)

# %% [markdown]
# ## The counterfactual of a text nobody sampled
#
# A sentence from `data/texts` did not come from the model, so it has no recorded noise. But
# the noise that *would* have written it can be sampled: `lm.hindsight(prompt, text, n=)` draws
# n samples of the Gumbel noise given that the model wrote exactly `text` after `prompt` (at
# each step, the observed token's score is the highest; every other token's score is drawn
# below it). Every sample writes the text again; their counterfactuals say what that noise
# writes after another prompt.

# %%
sentence = " " + open(gx.data_path("texts/mississippi.txt")).read().split(". ")[0] + "."
seen = lm.hindsight(A + ".", sentence, n=5, seed=SEED)
print(seen.texts[0] == sentence, "- every sample re-draws the sentence:",
      set(seen.texts) == {sentence})
gx.table(pd.DataFrame({
    "after 'Isamu.' (observed)": seen.texts,
    "after 'John.' (hindsight counterfactual)": seen.counterfactual(B + ".").texts}))

# %% [markdown]
# How the posterior noise draws the sentence's second token: its perturbed score is the highest,
# whatever its probability.

# %%
gx.draw_figure(seen[0][1])

# %% [markdown]
# ## A study over many names
#
# `gx.study` samples one template under every name in `data/names.csv`, sample k of every name
# with the same Gumbel noise. `study.agreement()` gives, for each pair of names and each step,
# the fraction of paired samples still identical through that step; it can only fall.

# %%
names = pd.read_csv(gx.data_path("names.csv"))["name"].tolist()
study = gx.study(lm, "Hi! My name is {name}.", names, nsamples=NSAMPLES, length=LENGTH,
                 seed=SEED)
study.agreement_figure()

# %%
agreement = study.agreement()
shown = agreement[agreement.step.isin([0, 4, LENGTH - 1])]
shown.groupby("step")["same"].describe()[["mean", "min", "max"]].round(2)

# %% [markdown]
# `study.words()` compares, for each name, the fraction of its samples that contain a word with
# the other names' mean, with a paired bootstrap interval (samples resampled by index, the
# same indices for every name). With the eight samples per name drawn here the intervals are wide and
# many include 0 (blue in the figure): they are leads to check with more samples, not findings.

# %%
study.words_figure(top=2)

# %% [markdown]
# ## Caveats
#
# - A counterfactual is defined by the noise model. The cdf and the Gumbel couplings both draw
#   exactly from the model's distribution, yet they give different counterfactuals of the same
#   sample; neither is "what the model would really have said". The Gumbel coupling is the one
#   that keeps as much of the sample as the change of distribution allows.
# - Agreement through a step counts a sample as parted from its first different token; what
#   follows is then conditioned on different texts.
# - The bundled model is small and trained on a narrow corpus (the King James Bible, fortune
#   files, the Jargon File): what it does with names says little about GPT-2. Load `"gpt2"` for that.
