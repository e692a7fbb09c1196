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
# # Why this token? Attention, attribution, and two caveats
#
# Notebook 04 showed *that* "Hi! My name is Isamu" and "Hi! My name is John" go different ways
# with the same random draws. This one asks *why*, in two readings of the model: **attention**,
# which earlier tokens the position that produced a step's logits looked at; and **direct logit
# attribution**, how much each part of the model (the embeddings, every attention head, every
# MLP) pushed the drawn token's logit above a rival's. Both are readings, not explanations: the
# two caveats at the end show, each with a figure, where they mislead.

# %% [markdown]
# The next cell holds the parameters. `MODEL = "tiny"` is the small GPT-2 that ships with gpt2explore and works offline; with network access, `MODEL = "gpt2"` (124M) or `"345M"` works unchanged. `DEVICE = "auto"` picks a GPU when there is one.

# %% tags=["parameters"]
MODEL = "tiny"   # or "gpt2", "345M", ... with network access
DEVICE = "auto"
SEED = 1

# %%
import gpt2explore as gx
from gpt2explore.teaching import why

lm = gx.load(MODEL, device=DEVICE)
pair = ["Hi! My name is Isamu", "Hi! My name is John"]
# the same draws for both; attention recorded
run = lm.generate(pair, length=20, seed=SEED, attention=True)
isamu, john = run[0].steps[0], run[1].steps[0]  # the first token after each name
print(f"the same u = {isamu.u:.3f} draws {isamu.text!r} after Isamu "
      f"and {john.text!r} after John")

# %% [markdown]
# ## The bars of the first step
#
# The same uniform `u` draws from two different distributions, so it lands on different tokens
# (each figure's title names its prompt):

# %%
for step, prompt in [(isamu, pair[0]), (john, pair[1])]:
    gx.next_token_bars(step, heading=f"The first token after {prompt!r}").show()

# %% [markdown]
# ## What each position looked at
#
# Each figure is the prompt, every token shaded by the attention the last position (boxed: the
# name's last token, whose output gave the logits) paid it in the last layer, averaged over the
# layer's heads; the subtitle names the three tokens with the most. On the bundled model the
# attention is spread out (no token gets much more than a quarter): after Isamu the position
# looks most at the name's own pieces, 'u' and 'am'; after John it looks most at 'Hi', then at
# ' name' and ' John'.

# %%
gx.attention_view(isamu).show()
gx.attention_view(john).show()

# %% [markdown]
# `layer=` and `head=` pick another layer or one head (`gx.attention_view(isamu, layer=2, head=0)`).
# The overview shows every head at once: each cell is the token that head looked at most, its
# colour the weight. After Isamu, no head of layers 0 and 1 looks hardest at the name; from
# layer 2 up, ' Is' or 'u' tops 9 of the 16 heads.

# %%
gx.attention_overview(isamu)

# %% [markdown]
# ## Which components pushed the token up
#
# The final residual stream is a sum: the embeddings, each head's output, each MLP's output.
# With the final layer norm's scale frozen, the logit difference between the drawn token and
# its rival (by default the likeliest other token) splits exactly into one term per component.
# The waterfall walks from 0 to that difference, the largest terms by name and the rest summed.
# On the bundled model, after Isamu the drawn '?"' trails '?' by half a logit; head L5H1 pushes
# hardest for it (+2.31) and layer 0's MLP hardest against it (−2.13).

# %%
gx.attribution_figure(isamu)

# %% [markdown]
# The heads alone, layer by layer: L5H1 stands out, and layer 0's heads write almost nothing
# onto this difference directly.

# %%
gx.attribution_heatmap(isamu)

# %% [markdown]
# ## What separates the two names
#
# Take each prompt's favourite (on the bundled model, '?' after Isamu and ',' after John),
# attribute logit('?') − logit(',') in both contexts, component by component, and sort by how
# much a component's term differs between them:

# %%
separating = why.separating_components(isamu, john, top=10)
gx.table(separating)

# %% [markdown]
# Layer 3's MLP separates them most: it pushes ',' over '?' far harder after John (−3.68) than
# after Isamu (−0.39). Head L4H1 comes next, for '?' after Isamu and (slightly) against it after
# John:

# %%
why.separating_figure(isamu, john)

# %% [markdown]
# ## Caveat 1: attention is not explanation
#
# A head can give a token much of its attention and still barely move the logits directly. On
# the bundled model, in the shaded corner, heads L0H0 and L0H3 give the first token 'Hi' about
# 38% of their attention, yet their direct effect is under 0.01; L3H0 looks even harder at 'Hi'
# (44%) and has the second-largest effect of all 24 heads. The weight alone does not tell which.

# %%
why.attention_vs_effect_figure(isamu)

# %% [markdown]
# ## Caveat 2: direct attribution ignores indirect paths
#
# Direct attribution counts only what a layer writes straight into the final residual stream;
# taking a layer's attention out (its output set to zero at every position, the model run
# again) also changes what every later layer reads. On the bundled model, layer 1's attention
# writes −2.07 against '?"' directly, yet without it the difference falls (total +0.22): its
# indirect effect outweighs its direct one, with the opposite sign. Layer 3 flips sign too, and
# even the last layer's two bars differ (+3.28, +2.83): that block's MLP reads its attention's
# output, and the final layer norm's scale moves with it.

# %%
why.direct_vs_total_figure(isamu)

# %% [markdown]
# ## In the widgets
#
# The explorer and the stepper have a **why this token** section under their text: open it to
# see the waterfall and the attention of the step on show, with a **vs** menu for the rival and
# an attention layer and head. To ask why the step's token and not another one, switch **click a
# bar** from "fork" to "why this token" and click that token's bar: the section opens on it. The kernel
# answers each (one forward pass over the context); the bars and sliders need none.

# %%
explorer = gx.explore(run)
explorer
