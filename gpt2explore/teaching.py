"""Small worked examples for the notebooks: softmax by hand, division by zero, rule sets."""
from __future__ import annotations

import math

import torch

from . import sampling


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
    """What the original scripts did at temperature 0: logits / 0.

    Positive logits become +inf, negative ones -inf, zeros NaN; softmax of that is NaN
    everywhere there is an inf. There is no distribution left to draw from; what a sampler
    does with NaN is an accident of its implementation (OpenAI's TensorFlow multinomial on a GPU
    returned the highest token id, 50256 = <|endoftext|>), not greedy decoding."""
    x = torch.as_tensor(logits, dtype=torch.float32)
    with torch.no_grad():
        scaled = x / 0.0
        probs = torch.softmax(scaled, dim=-1)
    return {"logits / 0": scaled, "softmax": probs,
            "+inf": int(torch.isposinf(scaled).sum()), "-inf": int(torch.isneginf(scaled).sum()),
            "nan logits": int(torch.isnan(scaled).sum()), "nan probabilities": int(torch.isnan(probs).sum()),
            "greedy token (argmax)": int(x.argmax())}


def temperature_samples(lm, prompt, temperatures, length: int = 30, seed: int = 0, **settings):
    """One sample per temperature, all with the same draws: a table of temperature and text."""
    import pandas as pd

    rows = []
    for t in temperatures:
        run = lm.generate(prompt, length=length, temperature=t, seed=seed, progress=False, **settings)
        rows.append({"temperature": t, "text": run.texts[0], "mean p(chosen)":
                     sum(s.prob for s in run[0].steps) / max(len(run[0].steps), 1)})
    return pd.DataFrame(rows)


def rules_table(step, settings_list):
    """hf and openai rules side by side: tokens kept and the drawn token, per setting."""
    import pandas as pd

    rows = []
    for kw in settings_list:
        row = {k: kw.get(k, "") for k in ("temperature", "top_k", "top_p")}
        for sem in sampling.SEMANTICS:
            probs = step.distribution(semantics=sem, **kw)
            row[f"kept ({sem})"] = int(sampling.nucleus_size(probs))
            row[f"max p ({sem})"] = float(probs.max())
            if step.u is not None:
                row[f"drawn ({sem})"] = step.decode(int(sampling.pick(probs, step.u)))
        rows.append(row)
    return pd.DataFrame(rows)


def entropy_bits(probs) -> float:
    """Entropy in bits (for prose: 'as uncertain as a fair choice among 2^H tokens')."""
    return float(sampling.entropy(probs)) / math.log(2)
