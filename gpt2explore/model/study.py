"""Name studies: one template, many names, paired noise (`gx.study`).

Sample k of every name is drawn with the same noise (seed, sample index k), so the names'
samples are pairs — with the gumbel coupling, counterfactuals of each other: where two
names' samples part, the model's distributions made them part, not the dice. Each (name,
sample) is its own row of work with its own noise, so a study split across processes or
devices by sample (`first_sample=`) gives the same tokens.
"""
from __future__ import annotations

import re
from itertools import combinations

import torch

from ..core import extensions
from ..core.tokens import token_label
from .generation import check_count, generate, string_list

WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")  # a word: letters or digits, an inner apostrophe kept ("don't")
BOOTSTRAP = 1000  # paired bootstrap resamples for the word intervals


def prompt_for(template: str, name: str) -> str:
    if not isinstance(template, str):
        raise TypeError(f"template must be a string with {{name}} where each name goes (e.g. 'Hi! My name is "
                        f"{{name}}'), got {type(template).__name__}")
    if "{name}" not in template:
        raise ValueError(f"template must contain {{name}} where each name goes, got {template!r:.80}")
    return template.replace("{name}", name)


class Study:
    """The samples of one template under several names with paired noise. `frame`: one row per
    (name, sample, step); `agreement()`, `words()`: tidy tables; `agreement_figure()`,
    `words_figure()`: their figures (with provenance)."""

    def __init__(self, run, names: list[str], template: str, groups: dict | None = None):
        self.run, self.names, self.template, self.groups = run, names, template, groups or {}
        self.nsamples = run.meta["nsamples"]
        self._frame = None

    @property
    def frame(self):
        """One row per (name, sample, step): name, group, prompt, sample, step, token_id, token
        (as figures show it), text (its exact text), prob (under the settings)."""
        if self._frame is None:
            import pandas as pd

            rows = []
            for sample in self.run.samples:
                name = self.names[sample.prompt_index]
                for step in sample.steps:
                    rows.append((name, self.groups.get(name), sample.prompt, sample.index, step.index, step.token,
                                 token_label(step, step.token), step.text, step.prob))
            self._frame = pd.DataFrame(rows, columns=["name", "group", "prompt", "sample", "step", "token_id",
                                                      "token", "text", "prob"])
        return self._frame

    def tokens(self) -> torch.Tensor:
        """(names, samples, steps) token ids (-1 past a sample's end)."""
        length = max(len(s.steps) for s in self.run.samples)
        out = torch.full((len(self.names), self.nsamples, length), -1, dtype=torch.long)
        first = self.run.meta.get("first_sample", 0)
        for s in self.run.samples:
            out[s.prompt_index, s.index - first, :len(s.steps)] = torch.tensor(s.tokens, dtype=torch.long)
        return out

    def texts(self) -> list[list[str]]:
        """texts[name][sample]: the generated texts."""
        out = [[""] * self.nsamples for _ in self.names]
        first = self.run.meta.get("first_sample", 0)
        for s in self.run.samples:
            out[s.prompt_index][s.index - first] = s.text
        return out

    def agreement(self):
        """One row per (a, b, step): the fraction of paired samples of names a and b whose tokens
        agree at every step up to and including `step` (never rises with the step)."""
        import pandas as pd

        tokens = self.tokens()
        rows = []
        for i, j in combinations(range(len(self.names)), 2):
            same = (tokens[i] == tokens[j]).cumprod(dim=-1).double().mean(dim=0)  # (steps,)
            rows += [(self.names[i], self.names[j], t, float(v)) for t, v in enumerate(same.tolist())]
        return pd.DataFrame(rows, columns=["a", "b", "step", "same"])

    def words(self, min_samples: int = 5, level: float = 0.95, resamples: int = BOOTSTRAP, seed: int = 0):
        """Words over- and under-represented in each name's samples against the other names':
        one row per (name, word) with `rate` (the fraction of the name's samples containing the
        word), `others` (the mean of that fraction over the other names), `diff` = rate - others,
        and a paired bootstrap interval [lo, hi] at `level` (the samples are resampled by index,
        the same indices for every name, since sample k of every name shares its noise). Words in
        fewer than `min_samples` samples in all are left out; sorted by name, then diff."""
        import numpy as np
        import pandas as pd

        eos = getattr(self.run.tokenizer, "eos_token", None) or "<|endoftext|>"
        texts = [[t.replace(eos, " ") for t in row] for row in self.texts()]  # the end-of-text mark is no word
        found = [[set(w.lower() for w in WORD.findall(t)) for t in row] for row in texts]
        counts: dict[str, int] = {}
        for row in found:
            for words in row:
                for w in words:
                    counts[w] = counts.get(w, 0) + 1
        vocab = sorted(w for w, c in counts.items() if c >= min_samples)
        columns = ["name", "word", "rate", "others", "diff", "lo", "hi"]
        if not vocab or len(self.names) < 2:
            return pd.DataFrame([], columns=columns)
        index = {w: k for k, w in enumerate(vocab)}
        has = np.zeros((len(self.names), self.nsamples, len(vocab)), dtype=np.float64)
        for n, row in enumerate(found):
            for k, words in enumerate(row):
                for w in words:
                    if w in index:
                        has[n, k, index[w]] = 1.0

        def diffs(rates):  # (..., names, words) -> each name's rate minus the others' mean
            total = rates.sum(axis=-2, keepdims=True)
            return rates - (total - rates) / (len(self.names) - 1)

        rate = has.mean(axis=1)  # (names, words)
        diff = diffs(rate)
        rng = np.random.default_rng(seed)
        boot = np.empty((resamples, len(self.names), len(vocab)), dtype=np.float64)
        for b in range(resamples):
            pick = rng.integers(0, self.nsamples, self.nsamples)
            boot[b] = diffs(has[:, pick, :].mean(axis=1))
        lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2], axis=0)
        others = rate - diff
        rows = [(name, w, float(rate[n, k]), float(others[n, k]), float(diff[n, k]), float(lo[n, k]),
                 float(hi[n, k])) for n, name in enumerate(self.names) for k, w in enumerate(vocab)]
        out = pd.DataFrame(rows, columns=columns)
        return out.sort_values(["name", "diff"], ascending=[True, False], kind="stable").reset_index(drop=True)

    def agreement_figure(self):
        """The fraction of paired samples still identical after each step, one line per pair."""
        return extensions.call("Study", "agreement_figure", self)

    def words_figure(self, top: int = 3, **words):
        """Each name's most over-represented words with their paired bootstrap intervals."""
        return extensions.call("Study", "words_figure", self, top, **words)

    def __repr__(self) -> str:
        return (f"Study({len(self.names)} names × {self.nsamples} samples × {self.run.length} tokens, "
                f"template={self.template!r}, seed={self.run.seed}, coupling={self.run.meta['coupling']!r})")


def study(lm, template: str, names, nsamples: int = 100, length: int = 20, seed: int | None = None,
          coupling: str = "gumbel", batch_size: int = 8, progress: bool | None = True, first_sample: int = 0,
          **settings) -> Study:
    """Sample `template` (with "{name}" where each name goes) under every name in `names` (a list,
    or a dict {group: [names]}), `nsamples` samples of `length` tokens each, sample k of every
    name with the same noise (coupling="gumbel" by default: the names' samples are each other's
    counterfactuals). Logits are not kept (keep_logits="none"), so a study of thousands of
    samples fits in memory; `progress`: a progress bar over every token.

    On a CPU a study draws one row per forward (`lm.batching`'s default there, the bits every
    earlier version drew); `lm.batching = "padded"` puts the rows of a step in one forward, about
    3.5 times faster on two cores (bench figure 12b), each row's bits independent of its batch but
    from another kernel, so a near-tie may fall the other way."""
    groups = {}
    if isinstance(names, dict):
        for group, members in names.items():
            for name in string_list(members, f"names[{group!r}]"):
                groups[name] = group
        names = list(groups)
    names = string_list(names, "names")
    if len(set(names)) != len(names):
        raise ValueError(f"names must be different from each other, got {names!r:.120}")
    nsamples = check_count("nsamples", nsamples)
    prompts = [prompt_for(template, n) for n in names]
    run = generate(lm, prompts, nsamples=nsamples, length=length, seed=seed, coupling=coupling,
                   batch_size=batch_size, keep_logits="none", progress=progress, first_sample=first_sample,
                   **settings)
    run.meta.update(study={"template": template, "names": names, "groups": groups})
    return Study(run, names, template, groups)
