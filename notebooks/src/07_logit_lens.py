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
# # The logit lens: watch the next token form, layer by layer
#
# GPT-2 passes each position through a stack of blocks; after the last one, a final layer
# norm and the LM head turn the residual stream into logits. The **logit lens**
# (nostalgebraist, 2020) applies that same final layer norm and LM head to the residual stream
# after *every* block, as if the model stopped there. gpt2explore records the residual stream
# when you pass `layers=True`, and reads each layer under the same sampling settings as the
# final one: what would T=0.5 or T=1.5 draw if the model stopped at layer 2?

# %% [markdown]
# The next cell holds the parameters. `MODEL = "tiny"` is the small GPT-2 that ships with gpt2explore and works offline; with network access, `MODEL = "gpt2"` (124M) or `"345M"` works unchanged. `DEVICE = "auto"` picks a GPU when there is one.

# %% tags=["parameters"]
MODEL = "tiny"   # or "gpt2", "345M", ... with network access
DEVICE = "auto"
SEED = 1
PROMPT = "And it came to"

# %%
import gpt2explore as gx

lm = gx.load(MODEL, device=DEVICE)
# greedy: each token is the favourite
run = lm.generate(PROMPT, length=12, seed=SEED, temperature=0, layers=True)
step = run[0].steps[0]
n_layer = lm.model.config.n_layer
print(f"{n_layer} blocks; the next token after {PROMPT!r} is {step.text!r}")
gx.lens_heatmap(step, temperature=1.0)  # each layer's own probabilities (T=1)

# %% [markdown]
# Rows are layers (0 = the embeddings, at the bottom), columns are the final top tokens, the
# colour each layer's probability (read at T=1, the model's own). On the bundled model, ' pass'
# is nowhere at the embeddings and barely there through layer 3, where the lens still reads
# ' the'; at layer 4 it takes over: its outlined column turns dark and its rank in the side
# panel drops to 1. The same numbers as a table (ranks from 1):

# %%
gx.table(step.lens(top=3, temperature=1.0))

# %% [markdown]
# ## Every position at once
# nostalgebraist's grid: each cell is a layer's top token at a position; colour is its probability. Hover for the top five.

# %%
gx.lens_grid(run[0], temperature=1.0)  # each layer's own probabilities

# %% [markdown]
# ## Temperature at an early layer
#
# The lens reads an early layer under any settings. At T=0.5 an early layer's favourite
# becomes sharper; at T=1.5 the layer's doubt shows:

# %%
early = 2
for t in [0.5, 1.0, 1.5]:
    gx.next_token_bars(step.at_layer(early), temperature=t, n=12).show()

# %% [markdown]
# The legend and the title name the layer: these are layer 2's probabilities read through the
# final layer norm and LM head, not the model's output.

# %% [markdown]
# ## The name prompts
#
# Where in the stack does each name's continuation emerge?

# %%
names = lm.generate(["Hi! My name is Isamu", "Hi! My name is John"], length=6,
                    seed=SEED, layers=True)
gx.lens_heatmap(names[0].steps[0]).show()
gx.lens_heatmap(names[1].steps[0]).show()

# %% [markdown]
# After a name the model is unsure what comes next: on the bundled model neither drawn token
# (outlined) takes over at any layer, its rank stays above 1, and the leading tokens change
# from layer to layer. Compare ' pass' above, which one layer settles. The lens shows
# confidence forming only where there is some to form.

# %% [markdown]
# ## In the widgets
#
# With `layers=True`, the explorer and the stepper get a **layer** slider: the bars become that
# layer's distribution under the current settings (the last layer is the default).

# %%
gx.explore(run)

# %% [markdown]
# ## An honest caveat
#
# The lens reads every layer through the *final* layer norm and LM head, which were trained
# only on the last block's output. Early layers' residual streams are not shaped for them, so
# early rows look noisier, and less like the final answer, than what the model "knows" there.
# Tuned lenses (Belrose et al., 2023) learn a small translation per layer to correct for this;
# the plain logit lens here is the simple, widely used reading.
