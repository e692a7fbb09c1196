"""Write notebooks/*.ipynb (without outputs) from the cells below: python scripts/build_notebooks.py"""
from pathlib import Path

import nbformat

NB = Path(__file__).resolve().parent.parent / "notebooks"
PARAMS_NOTE = ("The next cell holds the parameters. `MODEL = \"tiny\"` is the small GPT-2 that ships "
               "with gpt2explore and works offline; with network access, `MODEL = \"gpt2\"` (124M) or "
               "`\"345M\"` works unchanged. `DEVICE = \"auto\"` picks a GPU when there is one.")


def md(text):
    return nbformat.v4.new_markdown_cell(text.strip())


def code(text, params=False):
    cell = nbformat.v4.new_code_cell(text.strip())
    if params:
        cell.metadata["tags"] = ["parameters"]
    return cell


def params(extra=""):
    return code('MODEL = "tiny"   # or "gpt2", "345M", ... with network access\nDEVICE = "auto"\nSEED = 1'
                + ("\n" + extra if extra else ""), params=True)


def write(name, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, str(NB / name))


write("01_quickstart.ipynb", [
    md("""
# Quickstart: from a prompt to the bars

GPT-2 writes one token at a time. At each step the model gives a score, a **logit**, to every
one of its 50,257 tokens; the sampling settings (temperature, top-k, top-p) turn those scores
into probabilities; one token is drawn. gpt2explore records every step so you can look at it.
"""),
    md(PARAMS_NOTE),
    params(),
    code("""
import gpt2explore as gx

lm = gx.load(MODEL, device=DEVICE)
lm
"""),
    md("Generate three samples. `seed` makes them reproducible; `top_k=40` keeps the 40 likeliest tokens at each step."),
    code("""
run = lm.generate("Hi! My name is", nsamples=3, length=20, seed=SEED, top_k=40)
run
"""),
    md("""
Each sample is a list of steps. A step holds the raw logits, the uniform random number `u`
that picked the token, and the token. Here are the ten likeliest tokens of the first step:
"""),
    code("""
step = run[0].steps[0]
step.top(10)
"""),
    md("The whole run as a tidy table (one row per step and rank); `gx.table` shows it with whitespace made visible (`␣` a space, `↵` a newline) and the probabilities in one format:"),
    code("gx.table(run.to_frame(top=3).head(9))"),
    md("""
## The explorer

Pick a sample and a step, then move the sliders. The light bars are the model's own
distribution (softmax of the raw logits); the dark bars are what the token is drawn from
under the settings; a grey cross marks each token the settings cut, and the dashed line is
the cut-off; the orange bar is the token that was drawn. Moving a slider re-draws from the
stored logits, without running the model. Tick "log scale" when the bars get too small to
see, and click any bar to open a stepper forked at this step with that token forced.
"""),
    code("gx.explore(run)"),
])

write("02_temperature_and_top_k.ipynb", [
    md("""
# Temperature, top-k and top-p

This notebook retraces the classic walk through OpenAI's GPT-2 scripts: what the model
outputs, how `logits / temperature` and a random draw turn that into text, and what top-k
and top-p change.
"""),
    md(PARAMS_NOTE),
    params('PROMPT = "Hi! My name is"'),
    code("""
import gpt2explore as gx
from gpt2explore import teaching

lm = gx.load(MODEL, device=DEVICE)
"""),
    md("""
## Logits are unnormalised log-probabilities

The model's output for the next token is one number per token. They are not probabilities:
they can be negative and they do not sum to one. **Softmax** turns them into probabilities:
exponentiate each one, add them up, divide each by the sum. Dividing the logits by a
**temperature** T first sharpens (T < 1) or flattens (T > 1) the result. Four made-up logits:
"""),
    code("""
logits = [2.0, 1.0, 0.5, -1.0]
words = [" cat", " dog", " bird", " fish"]
teaching.softmax_table(logits, temperature=1.0, labels=words)
"""),
    code("teaching.softmax_table(logits, temperature=0.5, labels=words)"),
    code("teaching.softmax_table(logits, temperature=2.0, labels=words)"),
    md("""
At T = 0.5 the gaps between logits double, so the likeliest token takes more of the mass; at
T = 2 they halve and the distribution flattens. A **multinomial draw** then picks a token with
those probabilities: here, a uniform number `u` in [0, 1) walks down the tokens from the
likeliest and stops where the running total passes `u`.

## The temperature tour

One sample at each temperature, all with the same random draws, so the only difference is
the temperature:
"""),
    code("""
gx.table(teaching.temperature_samples(lm, PROMPT, [0, 0.5, 1.0, 1.1, 1.2, 1.3, 100], length=30, seed=SEED))
"""),
    md("""
Low temperatures repeat the likeliest phrases; around 1.0 the text follows the model's own
distribution; at 100 every token is nearly equally likely and the text is noise.
The bars at the first step, for a few temperatures:
"""),
    code("""
run = lm.generate(PROMPT, length=5, seed=SEED)
step = run[0].steps[0]
for t in [0.5, 1.0, 1.3]:
    gx.next_token_bars(step, temperature=t, n=15).show()
"""),
    md("""
At T = 100 the distribution is nearly flat: every bar is close to 1/50,257 ≈ 0.00002, too
small to see on a linear axis. A **log scale** (`log=True`, or the "log scale" box in the
widgets) shows them: the dark bars are all about the same height, far below the light bars
of the model's own distribution.
"""),
    code("gx.next_token_bars(step, temperature=100, n=15, log=True)"),
    md("How the top tokens, the entropy and the number of tokens it takes to hold 90% of the probability move with temperature (from the stored logits; no model call). Look at the crossing points: below them one token dominates; the third panel counts how many tokens are really in play at each temperature:"),
    code("gx.temperature_sweep(step)"),
    md("""
## Top-k and top-p

**Top-k** keeps only the k likeliest tokens and renormalises. **Top-p** (nucleus sampling)
keeps the smallest set of likeliest tokens whose probabilities add up to p. Both cut the long
tail of unlikely tokens that, drawn now and then, derail a text.
"""),
    code("gx.next_token_bars(step, top_k=10, n=20)"),
    code("gx.next_token_bars(step, top_p=0.5, n=20)"),
    md("""
### Two rule sets

transformers (`semantics="hf"`, the default) and OpenAI's `sample.py` (`semantics="openai"`)
agree on top-k but not on top-p: transformers keeps the token whose probability carries the
total past p; OpenAI's code drops it (keeping at least one token). Same logits, both rules:
"""),
    code("""
gx.table(teaching.rules_table(step, [dict(top_k=10), dict(top_p=0.3), dict(top_p=0.5), dict(top_p=0.9),
                                     dict(temperature=0.7, top_p=0.9)]))
"""),
    md("""
Usually the two rules differ by one token deep in the tail, where no bar shows it. Here is a
step and a p where the token they disagree on is one you can see: transformers keeps it,
OpenAI's rule drops it (the grey cross).
"""),
    code("""
demo = teaching.rules_demo(lm.generate(PROMPT, nsamples=2, length=30, seed=SEED))
print(f"step {demo['step'].index}, top_p={demo['top_p']}: hf keeps {demo['hf_kept']} tokens, openai {demo['openai_kept']}")
for fig in teaching.rules_figures(demo):
    fig.show()
"""),
    md("""
## Temperature 0

The original scripts compute `logits / temperature`. At temperature 0 that divides by zero:
every positive logit becomes +inf, every negative one -inf, and softmax of infinities is
NaN. Nothing is left to sample from:
"""),
    code("""
broken = teaching.divide_by_zero(step.logits.cpu())
{k: v for k, v in broken.items() if not hasattr(v, "shape")}
"""),
    md("""
What a sampler does with NaN is an accident of its code. OpenAI's TensorFlow multinomial on a
GPU returned the highest token id, 50256, which is `<|endoftext|>`: that is why a run at
temperature 0 printed a string of `<|endoftext|>`. It is not greedy decoding.

Here `temperature=0` means greedy decoding: always the likeliest token (the lowest id on a tie).
"""),
    code("""
greedy = lm.generate(PROMPT, length=20, temperature=0)
greedy.texts[0]
"""),
])

write("03_step_through.ipynb", [
    md("""
# Step through generation, cell by cell

A **session** generates one token per call and keeps the model's cache, so you can go back,
force a token of your choice, or fork a second branch.
"""),
    md(PARAMS_NOTE),
    params('PROMPT = "Hi! My name is"'),
    code("""
import gpt2explore as gx

lm = gx.load(MODEL, device=DEVICE)
session = lm.session(PROMPT, seed=SEED, top_k=40)
"""),
    md("Before anything is drawn, the session already knows the next step's distribution:"),
    code("gx.next_token_bars(session.next_step)"),
    md("Each run of the next cell draws one token. Run it a few times."),
    code("""
step = session.step()[0]
print(repr(session.text))
gx.next_token_bars(step)
"""),
    code("""
step = session.step()[0]
print(repr(session.text))
gx.next_token_bars(step)
"""),
    code("""
session.step(3)
session.text
"""),
    md("**Back** undoes steps (the cache is cropped, nothing is recomputed). Stepping again uses the same random draws, so the same tokens come back:"),
    code("""
before = session.text
session.back(2)
print(repr(session.text))
session.step(2)
print(repr(session.text), session.text == before)
"""),
    md("**Force** a token of your choice; its step records the distribution it was chosen against:"),
    code("""
forced = session.force(" John")
print(repr(session.text), f"p({forced.text!r}) = {forced.prob:.4f}")
"""),
    md("**Fork** a second branch, change its temperature, and let both run on:"),
    code("""
branch = session.fork()
branch.set(temperature=1.5)
session.step(8)
branch.step(8)
print("original:", repr(session.text))
print("branch:  ", repr(branch.text))
"""),
    code("""
gx.compare_next_token([session.next_step, branch.next_step], ["original", "branch (T=1.5)"])
"""),
    md("The title reads the divergence for you: Jensen–Shannon is 0 for the same distribution and ln 2 ≈ 0.693 nats when the two share no token; KL is ∞ when a token possible in one is impossible in the other."),
    md("""
## The stepper widget

The same moves as buttons. The bars always show the next token's distribution; a
`st.session.step()` in another cell updates this view too.
"""),
    code("""
st = gx.stepper(lm, PROMPT, seed=SEED, top_k=40)
st
"""),
    code("st.session.step(2); st.session.text"),
])

write("04_name_prompts.ipynb", [
    md("""
# "Hi! My name is Isamu" vs "Hi! My name is John"

Change one word of a prompt and see what the model does with it. Every prompt is sampled
with the **same random draws**, so differences come from the model, not from the dice.
"""),
    md(PARAMS_NOTE),
    params(),
    code("""
import pandas as pd

import gpt2explore as gx
from gpt2explore import plots

lm = gx.load(MODEL, device=DEVICE)
names = pd.read_csv(gx.data_path("names.csv"))
names
"""),
    code("""
pair = ["Hi! My name is Isamu", "Hi! My name is John"]

def side_by_side(run):
    return gx.table(pd.DataFrame({p: [s.text for s in run if s.prompt == p] for p in run.prompts}))

side_by_side(lm.generate(pair, nsamples=3, length=20, seed=SEED, temperature=1.0))
"""),
    md("At temperature 0.5 the texts follow the likeliest continuations more closely:"),
    code("side_by_side(lm.generate(pair, nsamples=3, length=20, seed=SEED, temperature=0.5))"),
    md("The next-token distributions right after each prompt, on one figure, with their divergence (Jensen–Shannon, in nats: 0 = identical, ln 2 ≈ 0.69 = nothing in common):"),
    code("""
run = lm.generate(pair, length=5, seed=SEED)
gx.compare_next_token([run[0], run[1]], ["Isamu", "John"])
"""),
    md("Which tokens does each name make likelier? Ranked by log(p_A / p_B):"),
    code("gx.table(gx.log_ratio_table(run[0].steps[0], run[1].steps[0], n=10))"),
    code("gx.table(gx.log_ratio_table(run[1].steps[0], run[0].steps[0], n=10))"),
    md("All the names against John:"),
    code("""
prompts = [f"Hi! My name is {n}" for n in names.name]
first = lm.generate(prompts, length=1, seed=SEED)
john = next(s for s in first if s.prompt.endswith("John")).steps[0].distribution()
gx.table(pd.DataFrame([{"prompt": s.prompt, **plots.divergences(s.steps[0].distribution(), john)}
                       for s in first]))
"""),
    md("## The comparison widget\nOne column per prompt; move the step slider to compare later steps, or draw more samples."),
    code("gx.compare(lm, pair, nsamples=1, length=20, seed=SEED)"),
])

write("05_export_for_write_ups.ipynb", [
    md("""
# Export for write-ups

Figures to PNG, SVG, PDF and self-contained HTML, each with a caption and a sidecar
`<file>.json` that records where it came from; tables to CSV and Parquet; and a run bundle
that reloads without the model and replays exactly. PNG, SVG and PDF need Chrome or Chromium.
"""),
    md(PARAMS_NOTE),
    params('EXPORT_DIR = "exports"'),
    code("""
from pathlib import Path

import gpt2explore as gx

lm = gx.load(MODEL, device=DEVICE)
out = Path(EXPORT_DIR)
out.mkdir(exist_ok=True)
run = lm.generate(["Hi! My name is Isamu", "Hi! My name is John"], nsamples=2, length=20, seed=SEED, top_k=40)
"""),
    code("""
fig = gx.next_token_bars(run[0].steps[3], temperature=0.7)
for suffix in [".png", ".svg", ".pdf", ".html", ".json"]:
    print(gx.save(fig, out / f"next_token{suffix}", width=900, height=500))
print(gx.caption(fig))
"""),
    code("print(open(out / 'next_token.png.json').read()[:600])"),
    md("The other figures export the same way:"),
    code("""
gx.save(gx.temperature_sweep(run[0].steps[0]), out / "temperature_sweep.png", width=1200, height=420)
gx.save(gx.generation_overview(run[0]), out / "overview.svg")
gx.save(gx.compare_next_token([run[0], run[2]], ["Isamu", "John"]), out / "names.pdf")
sorted(p.name for p in out.iterdir())
"""),
    md("A widget saves what it shows at the moment:"),
    code("""
ex = gx.explore(run)
ex.controls["temperature"].value = 1.5
gx.save(ex, out / "explorer_view.html")
"""),
    md("## Tables"),
    code("""
run.save_table(out / "steps.csv")
run.save_table(out / "steps.parquet")
gx.table(run.to_frame(top=5).head(10))
"""),
    md("## Run bundles\nA bundle holds the logits, tokens, uniforms, settings and provenance. It reloads with no model; sampling again from it gives the same tokens, and `verify` re-runs the model to check."),
    code("""
run.save(out / "bundle")
loaded = gx.load_run(out / "bundle")
print(loaded.texts == run.texts)
loaded.verify(lm)
"""),
    code("gx.explore(loaded)"),
])
write("06_score_a_text.ipynb", [
    md("""
# Score a text, token by token

Bring any text and ask: how surprised is GPT-2 by each token? Which tokens sit outside the
top 40, so that `top_k=40` could never have written this text? The colours follow GLTR
(Strobelt et al. 2019): a token among the model's 10 likeliest is green, top 100 yellow,
top 1000 red, beyond that purple.

The paragraph is the opening of chapter 1 of Mark Twain's *Life on the Mississippi* (1883,
public domain), from `data/texts/mississippi.txt`. The bundled model never saw it: it was
trained on the King James Bible, the BSD fortune files and the Jargon File.
"""),
    md(PARAMS_NOTE),
    params(),
    code("""
import gpt2explore as gx

lm = gx.load(MODEL, device=DEVICE)
text = gx.data_path("texts", "mississippi.txt").read_text()
scored = lm.score(text)
gx.text_view(scored[0])
"""),
    md("Hover over a token for its rank, its probability and the five tokens the model expected instead. The same text by surprisal (−log p, in nats):"),
    code("gx.text_view(scored[0], color='surprisal')"),
    md("""
## The paragraph beside samples

Two samples of the same length from the model itself: one at T=1 (its own distribution),
one at T=0.7 with top-k 40. Sampled text sits in the top ranks far more than human prose;
with top-k 40 no token can rank beyond 40.
"""),
    code("""
n = len(scored[0])
t1 = lm.generate(None, length=n, seed=SEED)
t07 = lm.generate(None, length=n, seed=SEED, temperature=0.7, top_k=40)
gx.rank_histogram([scored, lm.score(t1.texts[0]), lm.score(t07.texts[0])],
                  ["Twain", "sample, T=1", "sample, T=0.7, top-k 40"])
"""),
    code("""
summary = scored.summary()
gx.table(summary)
"""),
    md("""
## Which tokens would these settings never write?

Under `top_k=40` every token ranked 40 or beyond is impossible; under `top_p=0.9` every
token outside the 90% nucleus. Red tokens below are the ones these settings forbid:
"""),
    code("gx.text_view(scored[0], color='allowed', top_k=40)"),
    code("""
for settings in [dict(top_k=40), dict(top_p=0.9), dict(temperature=0.7, top_k=40)]:
    row = scored.summary(**settings).iloc[0]
    print(f"{settings}: {row.impossible} of {row.tokens} tokens impossible")
"""),
    md("""
## Explore it

`gx.inspect` scores the text once; the sliders then recolour the forbidden tokens and update
the totals from the stored logits, with no model call. Click a token (or move the position
slider) for the bars at that position; the text's actual token is orange.
"""),
    code("gx.inspect(lm, text, top_k=40)"),
    md("From the command line: `gpt2explore score data/texts/mississippi.txt --top_k=40` (or `--format csv`)."),
])

write("07_logit_lens.ipynb", [
    md("""
# The logit lens: watch the next token form, layer by layer

GPT-2 passes each position through a stack of blocks; after the last one, a final layer
norm and the LM head turn the residual stream into logits. The **logit lens**
(nostalgebraist, 2020) applies that same final layer norm and LM head to the residual stream
after *every* block, as if the model stopped there. gpt2explore records the residual stream
when you pass `layers=True`, and reads each layer under the same sampling settings as the
final one: what would T=0.7, top-k 40 draw if the model stopped at layer 3?
"""),
    md(PARAMS_NOTE),
    params('PROMPT = "Hi! My name is John"'),
    code("""
import gpt2explore as gx

lm = gx.load(MODEL, device=DEVICE)
run = lm.generate(PROMPT, length=12, seed=SEED, layers=True)
step = run[0].steps[0]
print(f"{lm.model.config.n_layer} blocks; the next token after {PROMPT!r} was {step.text!r}")
gx.lens_heatmap(step)
"""),
    md("""
Rows are layers (0 = the embeddings, at the bottom), columns are the final top tokens. Where
does the drawn token (outlined) take over? The side panel gives its rank at each layer.
The same numbers as a table:
"""),
    code("gx.table(step.lens(top=3))"),
    md("## Every position at once\nnostalgebraist's grid: each cell is a layer's top token at a position; colour is its probability. Hover for the top five."),
    code("gx.lens_grid(run[0])"),
    md("""
## Temperature at an early layer

The lens reads an early layer under any settings. At T=0.5 an early layer's favourite
becomes sharper; at T=1.5 the layer's doubt shows:
"""),
    code("""
early = 2
for t in [0.5, 1.0, 1.5]:
    gx.next_token_bars(step.at_layer(early), temperature=t, n=12).show()
"""),
    md("""
## The name prompts

Where in the stack does each name's continuation emerge?
"""),
    code("""
names = lm.generate(["Hi! My name is Isamu", "Hi! My name is John"], length=6, seed=SEED, layers=True)
gx.lens_heatmap(names[0].steps[0]).show()
gx.lens_heatmap(names[1].steps[0]).show()
"""),
    md("""
## In the widgets

With `layers=True`, the explorer and the stepper get a **layer** slider: the bars become that
layer's distribution under the current settings (the last layer is the default).
"""),
    code("gx.explore(run)"),
    md("""
## An honest caveat

The lens reads every layer through the *final* layer norm and LM head, which were trained
only on the last block's output. Early layers' residual streams are not shaped for them, so
early rows look noisier, and less like the final answer, than what the model "knows" there.
Tuned lenses (Belrose et al., 2023) learn a small translation per layer to correct for this;
the plain logit lens here is the simple, widely used reading.
"""),
])

write("08_modern_samplers.ipynb", [
    md("""
# Today's samplers, stage by stage

Besides temperature, top-k and top-p, transformers' `generate` knows **min-p**, **typical**
sampling, **epsilon** and **eta** cut-offs, the **repetition penalty** and **no-repeat
n-grams**. Each reshapes the same logits, one after another, in a fixed order: the two that
look at the text so far (repetition penalty, no-repeat n-grams), then temperature, top-k,
top-p, min-p, typical, epsilon, eta. gpt2explore applies them in exactly that order, so the
bars still show what each token is drawn from.
"""),
    md(PARAMS_NOTE),
    params('PROMPT = "Hi! My name is"'),
    code("""
import gpt2explore as gx
from gpt2explore import teaching

lm = gx.load(MODEL, device=DEVICE)
run = lm.generate(PROMPT, nsamples=2, length=30, seed=SEED)
peaked, flat = teaching.peaked_and_flat(run)
print(f"peaked: step {peaked.index}, flat: step {flat.index}")
"""),
    md("""
## Min-p against top-p

Top-p keeps the likeliest tokens until they hold p of the probability. Min-p keeps every token
whose probability is at least min_p times the top token's. On a **peaked** step (the model is
sure) both keep few tokens; on a **flat** step top-p=0.9 has to reach deep into the tail,
while min-p scales its bar with the model's confidence:
"""),
    code("""
compare = [dict(top_p=0.9), dict(min_p=0.1), dict(top_p=0.5), dict(min_p=0.3)]
gx.table(teaching.kept_counts(peaked, compare))
"""),
    code("gx.table(teaching.kept_counts(flat, compare))"),
    code("""
gx.next_token_bars(flat, top_p=0.9, n=25).show()
gx.next_token_bars(flat, min_p=0.1, n=25).show()
"""),
    md("""
## Every stage on one picture

`gx.pipeline_figure` draws one small panel per active stage, with the same tokens on every
panel: a grey cross marks the tokens each stage removes. `gx.sampling_stages` gives the same
as a table.
"""),
    code("""
settings = dict(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05, repetition_penalty=1.2)
gx.pipeline_figure(peaked, **settings)
"""),
    code("gx.table(gx.sampling_stages(peaked, n=5, **settings))"),
    md("""
## The order matters: min-p before or after temperature

transformers applies temperature first, then min-p. Some samplers (llama.cpp's debate in its
issues #3841 and #4091) apply min-p to the model's own distribution first, then temperature:
at a high temperature that keeps fewer tokens, because min-p has not yet seen the flattening.
`stage_order=` runs the stages in another order on the same logits (only the default order is
transformers'):
"""),
    code("""
hot = dict(temperature=2.0, min_p=0.1)
after = flat.distribution(**hot)
before = flat.distribution(**hot, stage_order=["min_p", "temperature"])
print("min-p after temperature (transformers):", int((after > 0).sum()), "tokens kept")
print("min-p before temperature:              ", int((before > 0).sum()), "tokens kept")
gx.pipeline_figure(flat, stage_order=["min_p", "temperature"], **hot)
"""),
    md("""
## A sample that loops, and what breaks the loop

Greedy decoding (T=0) often falls into a loop. The repetition penalty divides the logits of
tokens already in the text; no-repeat n-grams forbid any 3-gram that already occurred.
Same prompt, same draws:
"""),
    code("gx.table(teaching.loop_texts(lm, \"And the LORD said\", length=60, seed=SEED))"),
    md("""
## In the widgets

The stepper and the explorer have a collapsed **more samplers** section under the four
classic controls; the readout names the stages that cut the drawn token's rivals.
"""),
    code("gx.stepper(lm, PROMPT, seed=SEED, top_k=40, min_p=0.05)"),
])

print("wrote", sorted(p.name for p in NB.glob("*.ipynb")))
