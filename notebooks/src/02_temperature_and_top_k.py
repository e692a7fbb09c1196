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
# # Temperature, top-k and top-p
#
# This notebook retraces the classic walk through OpenAI's GPT-2 scripts: what the model
# outputs, how `logits / temperature` and a random draw turn that into text, and what top-k
# and top-p change.

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

# %% [markdown]
# ## Logits are unnormalised log-probabilities
#
# The model's output for the next token is one number per token. They are not probabilities:
# they can be negative and they do not sum to one. **Softmax** turns them into probabilities:
# exponentiate each one, add them up, divide each by the sum. Dividing the logits by a
# **temperature** T first sharpens (T < 1) or flattens (T > 1) the result. Four made-up logits:

# %%
logits = [2.0, 1.0, 0.5, -1.0]
words = [" cat", " dog", " bird", " fish"]
gx.table(teaching.softmax_table(logits, temperature=1.0, labels=words))

# %%
gx.table(teaching.softmax_table(logits, temperature=0.5, labels=words))

# %%
gx.table(teaching.softmax_table(logits, temperature=2.0, labels=words))

# %% [markdown]
# At T = 0.5 the gaps between logits double, so the likeliest token takes more of the mass; at
# T = 2 they halve and the distribution flattens. A **multinomial draw** then picks a token with
# those probabilities: here, a uniform number `u` in [0, 1) walks down the tokens from the
# likeliest and stops where the running total passes `u`.
#
# ## The temperature tour
#
# One sample at each temperature, all with the same random draws, so the only difference is
# the temperature:

# %%
temperatures = [0, 0.5, 1.0, 1.1, 1.2, 1.3, 100]
gx.table(teaching.temperature_samples(lm, PROMPT, temperatures, length=30, seed=SEED))

# %% [markdown]
# Low temperatures repeat the likeliest phrases; around 1.0 the text follows the model's own
# distribution; at 100 every token is nearly equally likely and the text is noise.
# The bars at the first step, for a few temperatures:

# %%
run = lm.generate(PROMPT, length=5, seed=SEED)
step = run[0].steps[0]
for t in [0.5, 1.0, 1.3]:
    gx.next_token_bars(step, temperature=t, n=15).show()

# %% [markdown]
# ## How `u` picks the token
#
# Every step has its own uniform random number `u`, recorded with the step. The draw walks
# down the tokens the settings keep, from the likeliest, adding up their probabilities; the
# token where the running total first passes `u` is drawn. The staircase is that running total,
# the dashed line is `u`:

# %%
gx.draw_figure(step)

# %% [markdown]
# The same `u` under other settings can land on another token. At T = 0.5 the likeliest token
# takes more of the total, so the staircase rises faster and passes `u` sooner:

# %%
gx.draw_figure(step, temperature=0.5)

# %% [markdown]
# At T = 100 the distribution is nearly flat: every bar is close to 1/50,257 ≈ 0.00002, too
# small to see on a linear axis. A **log scale** (`log=True`, or the "log scale" box in the
# widgets) shows them: the dark bars are all about the same height, far below the light bars
# of the model's own distribution.

# %%
gx.next_token_bars(step, temperature=100, n=15, log=True)

# %% [markdown]
# How the top tokens, the entropy and the number of tokens it takes to hold 90% of the
# probability move with temperature (from the stored logits; no model call). Dividing every
# logit by the same T never changes their order, so the curves in the first panel never
# cross: the likeliest token stays the likeliest at every temperature. What T changes is how
# much of the probability the leaders keep. At low T the first token holds nearly all of it;
# the runners-up gain as T rises, up to a point, and then every top token fades as the mass
# spreads over the tail, which the third panel counts:

# %%
gx.temperature_sweep(step)

# %% [markdown]
# The same, as numbers:

# %%
gx.table(teaching.sweep_table(step))

# %% [markdown]
# ## Top-k and top-p
#
# **Top-k** keeps only the k likeliest tokens and renormalises. **Top-p** (nucleus sampling)
# keeps the smallest set of likeliest tokens whose probabilities add up to p. Both cut the long
# tail of unlikely tokens that, drawn now and then, derail a text.

# %%
gx.next_token_bars(step, top_k=10, n=20)

# %%
gx.next_token_bars(step, top_p=0.5, n=20)

# %% [markdown]
# ### Two rule sets
#
# transformers (`semantics="hf"`, the default) and OpenAI's `sample.py` (`semantics="openai"`)
# agree on top-k but not on top-p: transformers keeps the token whose probability carries the
# total past p; OpenAI's code drops it (keeping at least one token). Same logits, both rules:

# %%
rules = [dict(top_k=10), dict(top_p=0.3), dict(top_p=0.5), dict(top_p=0.9),
         dict(temperature=0.7, top_p=0.9)]
gx.table(teaching.rules_table(step, rules))

# %% [markdown]
# The top-k 10 bars above and this table agree: both name the token this step's `u` draws
# under each setting, which need not be the token the run drew (the ▼ in the bars marks that
# one).
#
# Usually the two rules differ by one token deep in the tail, where no bar shows it. Here is a
# step and a p where the token they disagree on is one you can see: transformers keeps it,
# OpenAI's rule drops it (the grey cross).

# %%
demo = teaching.rules_demo(lm.generate(PROMPT, nsamples=2, length=30, seed=SEED))
print(f"step {demo['step'].index}, top_p={demo['top_p']}: "
      f"hf keeps {demo['hf_kept']} tokens, openai {demo['openai_kept']}")
for fig in teaching.rules_figures(demo):
    fig.show()

# %% [markdown]
# ## Temperature 0
#
# The original scripts compute `logits / temperature`. At temperature 0 that divides by zero:
# every positive logit becomes +inf, every negative one -inf, and softmax of infinities is
# NaN. Nothing is left to sample from:

# %%
broken = teaching.divide_by_zero(step)
{k: v for k, v in broken.items() if not hasattr(v, "shape")}

# %% [markdown]
# What a sampler does with NaN is an accident of its code. OpenAI's TensorFlow multinomial on a
# GPU returned the highest token id, 50256, which is `<|endoftext|>`: that is why a run at
# temperature 0 printed a string of `<|endoftext|>`. It is not greedy decoding.
#
# Here `temperature=0` means greedy decoding: always the likeliest token (the lowest id on a tie).

# %%
greedy = lm.generate(PROMPT, length=20, temperature=0)
greedy.texts[0]
