"""Small worked examples for the notebooks: softmax by hand, division by zero, rule sets."""
from __future__ import annotations

import math

import torch

from ..core import sampling
from ..core.pieces import step_label
from ..core.tokens import token_label
from ..figures import plots


def softmax_table(logits, temperature: float = 1.0, labels=None):
    """Softmax step by step for a few logits: divide by T, exponentiate, sum, divide.

    The largest scaled logit is subtracted before exponentiating (it cancels in the division
    and keeps exp from overflowing)."""
    import pandas as pd

    x = torch.as_tensor(logits, dtype=torch.float64)
    if temperature <= 0:
        raise ValueError(f"softmax_table needs temperature > 0, got {temperature}; T=0 is greedy (argmax)")
    scaled = x / temperature
    e = torch.exp(scaled - scaled.max())
    probs = e / e.sum()
    return pd.DataFrame({"token": labels or [f"t{i}" for i in range(len(x))], "logit": x.tolist(),
                         f"logit / {temperature:g}": scaled.tolist(), "exp(· − max)": e.tolist(),
                         "probability": probs.tolist()})


def divide_by_zero(logits) -> dict:
    """What the original scripts did at temperature 0: logits / 0 (`logits`: a tensor, or a step,
    whose greedy token is then named, not only numbered).

    Positive logits become +inf, negative ones -inf, zeros NaN; softmax of that is NaN
    everywhere there is an inf. There is no distribution left to draw from; what a sampler
    does with NaN is an accident of its implementation (OpenAI's TensorFlow multinomial on a GPU
    returned the highest token id, 50256 = <|endoftext|>), not greedy decoding."""
    step = logits if hasattr(logits, "require_logits") else None  # a step: its greedy token by name too
    x = torch.as_tensor(step.require_logits().cpu() if step is not None else logits, dtype=torch.float32)
    with torch.no_grad():
        scaled = x / 0.0
        probs = torch.softmax(scaled, dim=-1)
    return {"logits / 0": scaled, "softmax": probs,
            "+inf": int(torch.isposinf(scaled).sum()), "-inf": int(torch.isneginf(scaled).sum()),
            "nan logits": int(torch.isnan(scaled).sum()), "nan probabilities": int(torch.isnan(probs).sum()),
            "greedy token (argmax)": int(x.argmax()) if step is None else
            f"{token_label(step, int(x.argmax()))} (id {int(x.argmax())})"}


def temperature_samples(lm, prompt, temperatures, length: int = 30, seed: int = 0, **settings):
    """One sample per temperature, all with the same draws: a table of temperature and text."""
    import pandas as pd

    rows = []
    for t in temperatures:
        run = lm.generate(prompt, length=length, temperature=t, seed=seed, progress=False, **settings)
        rows.append({"temperature": t, "text": run.texts[0], "mean p(chosen)":
                     sum(s.prob for s in run[0].steps) / max(len(run[0].steps), 1)})
    return pd.DataFrame(rows)


def sweep_table(step, temperatures=(0.1, 0.5, 1.0, 2.0), share: float = 0.9):
    """What the temperature sweep shows, as numbers: at each temperature the likeliest token and
    its probability, the entropy, and how many of the likeliest tokens hold `share` of it."""
    import pandas as pd

    rows = []
    for t in temperatures:
        probs = step.distribution(temperature=t, top_k=0, top_p=1.0)
        ranked, order = torch.sort(probs, descending=True, stable=True)
        rows.append({"temperature": t, "likeliest": token_label(step, int(order[0])), "p": float(ranked[0]),
                     "entropy (nats)": float(sampling.entropy(probs)),
                     f"tokens holding {share:.0%}": int((ranked.cumsum(-1) < share).sum()) + 1})
    return pd.DataFrame(rows)


def rules_table(step, settings_list):
    """hf and openai rules side by side, per setting: tokens kept, the largest probability, and
    the token the step's own u draws under that setting."""
    import pandas as pd

    rows = []
    for kw in settings_list:
        row = {k: kw.get(k, "") for k in ("temperature", "top_k", "top_p")}
        for sem in sampling.SEMANTICS:
            probs = step.distribution(semantics=sem, **kw)
            row[f"kept ({sem})"] = int(sampling.nucleus_size(probs))
            row[f"max p ({sem})"] = float(probs.max())
            if step.u is not None:
                row[f"u draws ({sem})"] = step.decode(int(sampling.pick(probs, step.u)))
        rows.append(row)
    return pd.DataFrame(rows)


def entropy_bits(probs) -> float:
    """Entropy in bits (for prose: 'as uncertain as a fair choice among 2^H tokens')."""
    return float(sampling.entropy(probs)) / math.log(2)


def rules_demo(run, n: int = 12, ps=None) -> dict:
    """A step and a top-p where transformers' rule and OpenAI's visibly differ: the token that
    carries the total past p is among the `n` bars shown and has a probability you can see.
    Returns step, top_p, token (kept by hf, dropped by openai) and both counts."""
    ps = ps or [round(0.3 + 0.05 * i, 2) for i in range(14)]  # 0.3 .. 0.95
    candidates = []
    for sample in run:
        for step in sample.steps:
            # both rules from one sort: openai keeps the tokens whose running total is <= p, hf
            # those whose total before them is < p (it keeps the token that crosses p)
            ranked, order = torch.sort(step.distribution(temperature=1.0, top_k=0, top_p=1.0), descending=True,
                                       stable=True)
            total = ranked.cumsum(-1)
            for p in ps:
                openai = max(int((total <= p).sum()), 1)
                hf = max(int((total - ranked < p).sum()), 1)
                if hf - openai == 1 and hf <= n - 2:
                    candidates.append((float(ranked[openai]), step, p, int(order[openai])))
    candidates.sort(key=lambda c: -c[0])
    for score, step, p, token in candidates:  # the clearest first, checked with the rules themselves
        hf = step.distribution(temperature=1.0, top_k=0, top_p=p, semantics="hf")
        oa = step.distribution(temperature=1.0, top_k=0, top_p=p, semantics="openai")
        if ((hf > 0) & (oa == 0)).nonzero().flatten().tolist() == [token]:
            return {"step": step, "top_p": p, "token": token, "p_token": score,
                    "hf_kept": int(sampling.nucleus_size(hf)), "openai_kept": int(sampling.nucleus_size(oa))}
    raise ValueError("no step of this run shows the two top-p rules apart within the bars shown; "
                     "generate a longer run")


def rules_figures(demo: dict, n: int = 12) -> list:
    """The demo's step under both rules, with the token the two rules disagree on marked."""
    figs = []
    for sem, verdict in (("hf", "kept by hf"), ("openai", "dropped by openai")):
        fig = plots.next_token_bars(demo["step"], temperature=1.0, top_k=0, top_p=demo["top_p"],
                                    semantics=sem, n=n)
        label = token_label(demo["step"], demo["token"])
        plots.annotate_token(fig, demo["token"], f"{verdict}: {label}")
        figs.append(fig)
    return figs


def peaked_and_flat(run, peak=(0.4, 0.8)):
    """A confident step (the model's top token has a probability within `peak`, the likeliest
    such) and the least confident step (highest entropy): where min-p and top-p part ways."""
    steps = [s for sample in run for s in sample.steps if s.logits is not None]
    if not steps:
        raise ValueError("this run kept no logits; generate with keep_logits='float32'")

    def top(s):
        return float(s.logits.float().softmax(-1).max())

    confident = [s for s in steps if peak[0] <= top(s) <= peak[1]] or steps
    peaked = max(confident, key=top)
    flat = max(steps, key=lambda s: float(sampling.entropy(s.logits.float().softmax(-1))))
    return peaked, flat


def kept_counts(step, settings_list):
    """How many tokens each setting keeps at this step (a DataFrame)."""
    import pandas as pd

    rows = []
    for kw in settings_list:
        probs = step.distribution(**kw)
        rows.append({"settings": ", ".join(f"{k}={v}" for k, v in kw.items()),
                     "tokens kept": int(sampling.nucleus_size(probs)), "p of the top token": float(probs.max())})
    return pd.DataFrame(rows)


def loop_texts(lm, prompt, length: int = 60, seed: int = 0, settings_list=None):
    """The same prompt and draws under several settings (a DataFrame of settings and text):
    greedy decoding loops; the repetition penalty and no-repeat n-grams break the loop."""
    import pandas as pd

    settings_list = settings_list or [dict(temperature=0), dict(temperature=0, repetition_penalty=1.3),
                                      dict(temperature=0, no_repeat_ngram_size=3)]
    rows = []
    for kw in settings_list:
        run = lm.generate(prompt, length=length, seed=seed, progress=False, **kw)
        tokens = run[0].tokens
        grams = [tuple(tokens[i:i + 3]) for i in range(len(tokens) - 2)]
        rows.append({"settings": ", ".join(f"{k}={v}" for k, v in kw.items()), "text": run.texts[0],
                     "repeated 3-grams": len(grams) - len(set(grams))})
    return pd.DataFrame(rows)


def branches_table(a, b, since: int, names=("original", "branch")):
    """Two sessions forked at step `since`, side by side from there: each step's uniform (the
    same in both while their seeds agree), the token each branch drew and whether they agree.
    The first row where they differ is where the branches part; after it their contexts differ."""
    import pandas as pd

    rows = []
    for sa, sb in zip(a.steps[since:], b.steps[since:]):
        rows.append({"step": sa.index, "u": sa.u if sa.u == sb.u else None, names[0]: step_label(sa, sa.token),
                     names[1]: step_label(sb, sb.token), "same token": sa.token == sb.token})
    return pd.DataFrame(rows)
