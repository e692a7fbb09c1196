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
# # Quickstart: from a prompt to the bars
#
# GPT-2 writes one token at a time. At each step the model gives a score, a **logit**, to every
# one of its 50,257 tokens; the sampling settings (temperature, top-k, top-p) turn those scores
# into probabilities; one token is drawn. gpt2explore records every step so you can look at it.

# %% [markdown]
# The next cell holds the parameters. `MODEL = "tiny"` is the small GPT-2 that ships with gpt2explore and works offline; with network access, `MODEL = "gpt2"` (124M) or `"345M"` works unchanged. `DEVICE = "auto"` picks a GPU when there is one.

# %% tags=["parameters"]
MODEL = "tiny"  # the bundled GPT-2; with network access "gpt2", "gpt2-medium", OpenAI's
# "124M", "345M", ... and today's small open models (downloaded once from the hub):
# "HuggingFaceTB/SmolLM2-135M" (Llama family), "EleutherAI/pythia-70m" (GPT-NeoX),
# "Qwen/Qwen2.5-0.5B" (Qwen2), "meta-llama/Llama-3.2-1B" (Llama)
DEVICE = "auto"
SEED = 1

# %%
import gpt2explore as gx

lm = gx.load(MODEL, device=DEVICE)
lm

# %% [markdown]
# Generate three samples. `seed` makes them reproducible; `top_k=40` keeps the 40 likeliest tokens at each step.

# %%
run = lm.generate("Hi! My name is", nsamples=3, length=20, seed=SEED, top_k=40)
run

# %% [markdown]
# Each sample is a list of steps. A step holds the raw logits, the uniform random number `u`
# that picked the token, and the token. Here are the ten likeliest tokens of the first step,
# each with its probability under the run's own settings (`prob`) beside the model's own
# (`model p`, the explorer's light bars): after top-k=40 the 40 kept tokens share all of the
# probability, so each `prob` is above its `model p`:

# %%
step = run[0].steps[0]
step.top(10)

# %% [markdown]
# The whole run as a tidy table (one row per step and rank); `gx.table` shows it with whitespace
# made visible (`␣` a space, `↵` a newline) and the probabilities in one format. GPT-2's tokens
# are bytes: a character such as “ or é can take two tokens, and a token that holds only part of
# one shows its bytes in hexadecimal, `‹e2 80›`; texts always show the whole character, and
# hovering such a token names the character it belongs to:

# %%
gx.table(run.to_frame(top=3).head(9))

# %% [markdown]
# ## The explorer
#
# Pick a sample and a step, then move the sliders. The light bars are the model's own
# distribution (softmax of the raw logits); the dark bars are what a token is drawn from
# under the settings; a grey cross marks each token the settings cut, and the dashed line is
# the cut-off. The orange bar is the token this step's random number `u` draws under the
# settings the sliders show: at the run's own settings that is the token the run drew; move a
# slider and it can become another token (the title then says "u=… draws … under these
# settings", and a ▼ marks the token the run drew). The explorer is drawn in the browser, so
# a slider move redraws at once, without running the model; when you pick a step, the kernel
# sends its full logits, so the numbers are exact at every setting. Samplers the run did not
# use (min-p and the newer ones) wait under "more samplers". "rules" picks whose arithmetic the sliders follow:
# transformers' (hf, the default, which every title names) or OpenAI's original sample.py
# (openai), which differ in which token top-p keeps at the edge (notebook 02 shows where).
# Tick "log scale" when the bars get too small to see, and
# click any bar to open a stepper forked at this step with that token forced, going on at the
# sliders' settings. Under the text, "why this token" opens the direct logit attribution of
# the step's token against a rival you choose (switch "click a bar" to "why this token" and click one),
# and, for a run made with `attention=True`, what the step attended to: notebook 09 tells the
# story.

# %%
gx.explore(run)
