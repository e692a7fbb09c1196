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
# # Step through generation, cell by cell
#
# A **session** generates one token per call and keeps the model's cache, so you can go back,
# force a token of your choice, or fork a second branch.

# %% [markdown]
# The next cell holds the parameters. `MODEL = "tiny"` is the small GPT-2 that ships with gpt2explore and works offline; with network access, `MODEL = "gpt2"` (124M) or `"345M"` works unchanged. `DEVICE = "auto"` picks a GPU when there is one.

# %% tags=["parameters"]
MODEL = "tiny"   # or "gpt2", "345M", ... with network access
DEVICE = "auto"
SEED = 1
PROMPT = "Hi! My name is"

# %%
import gpt2explore as gx

lm = gx.load(MODEL, device=DEVICE)
session = lm.session(PROMPT, seed=SEED, top_k=40)

# %% [markdown]
# Before anything is drawn, the session already knows the next step's distribution, and the
# uniform `u` that will draw from it: the orange bar is the token that `u` would draw ("next u
# draws"), nothing has been drawn yet.

# %%
gx.next_token_bars(session.next_step)

# %% [markdown]
# Each run of the next cell draws one token. Run it a few times.

# %%
step = session.step()[0]
print(repr(session.text))
gx.next_token_bars(step)

# %%
step = session.step()[0]
print(repr(session.text))
gx.next_token_bars(step)

# %%
session.step(3)
session.text

# %% [markdown]
# **Back** undoes steps (the cache is cropped, nothing is recomputed). Stepping again uses the same random draws, so the same tokens come back:

# %%
before = session.text
session.back(2)
print(repr(session.text))
session.step(2)
print(repr(session.text), session.text == before)

# %% [markdown]
# **Force** a token of your choice; its step records the distribution it was chosen against.
# Under top-k 40, ' John' may be a token the settings would never draw (p = 0): forcing goes
# around them.

# %%
forced = session.force(" John")
p = gx.formatting.prob(forced.prob)
print(repr(session.text), f"p({forced.text!r}) = {p} under the session's settings")

# %% [markdown]
# **Fork** a second branch and change only its temperature. At the fork the two branches share
# everything but that: the same context, and the same uniform `u` for the next draw. So the
# figure below is one step, the same logits and the same `u`, under T=1 and under T=1.5:

# %%
fork_at = len(session.steps)
branch = session.fork()
branch.set(temperature=1.5)
gx.compare_next_token([session.next_step, branch.next_step],
                      ["original (T=1)", "branch (T=1.5)"])

# %% [markdown]
# Each branch is shown under its own settings, named in the title. The title also reads the
# divergence for you: Jensen–Shannon is 0 for the same distribution and ln 2 ≈ 0.693 nats when
# the two share no token; KL is ∞ when a token possible in one is impossible in the other.
#
# Now let both run on 8 steps. They draw with the same `u` at every step, so they write the same
# tokens until a `u` lands on different tokens under the two temperatures (a `u` near 1 reaches
# into the tail, which T=1.5 has fattened, so it parts them soonest), and that can be the very
# first step. The first row whose tokens differ is where they part; from there each continues its
# own context, so the rows after it compare two different texts:

# %%
session.step(8)
branch.step(8)
print("original:", repr(session.text))
print("branch:  ", repr(branch.text))
names = ("original (T=1)", "branch (T=1.5)")
gx.table(gx.teaching.branches_table(session, branch, fork_at, names))

# %% [markdown]
# ## The stepper widget
#
# The same moves as buttons. The bars always show the next token's distribution; a
# `st.session.step()` in another cell updates this view too.

# %%
st = gx.stepper(lm, PROMPT, seed=SEED, top_k=40)
st

# %%
st.session.step(2); st.session.text
