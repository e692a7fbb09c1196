"""Run / Sample / Step: what a generation recorded, and tidy tables of it.

Memory: a step keeps its raw logits over the whole vocabulary, on the model's device:
4 bytes x vocabulary (201,028 bytes for GPT-2's 50,257 tokens) in float32,
half that with ``keep_logits="float16"`` (the draw is then made from the float16 values, so
the bars still show exactly what the token came from), and nothing with
``keep_logits="none"`` (then only the token, its uniform and its probability are kept).
"""
from __future__ import annotations

import html
import math
from collections import namedtuple
from dataclasses import dataclass, field
from typing import Callable

import torch

from . import arguments, coupling, extensions, registry, sampling
from . import formatting as fmt
from .formatting import TopTable  # noqa: F401  (step.top()'s table)
from .pieces import sample_pieces, step_label
from .settings import Settings, describe
from .tokens import show_text, show_token, token_label  # noqa: F401  (their home is tokens.py)

KEEP_LOGITS = ("float32", "float16", "none")
OWN_REST_ZERO = 1e-12  # a top-N step's own probabilities summing to within this of 1 leave nothing to the tail
TokenProb = namedtuple("TokenProb", "rank id text prob logit label prob_raw", defaults=(None, None))
# rank: 1 = the likeliest; prob: under the settings; prob_raw: the model's own (softmax of the raw logits);
# label: the token as figures show it


def check_keep_logits(keep_logits) -> str:
    if keep_logits is True:
        return "float32"
    if keep_logits is False:
        return "none"
    if keep_logits not in KEEP_LOGITS:
        raise ValueError(f"keep_logits must be one of {', '.join(KEEP_LOGITS)} (or True/False), "
                         f"got {keep_logits!r}")
    return keep_logits


def _top_ids(logits: torch.Tensor, n: int) -> list[int]:
    """The n largest logits' ids, in descending order (ties: lower id first)."""
    values, ids = torch.topk(logits, min(n, logits.shape[-1]))
    pairs = sorted(zip(values.tolist(), ids.tolist()), key=lambda vi: (-vi[0], vi[1]))
    return [i for _, i in pairs]


def rank_of(logits: torch.Tensor, token: int) -> int:
    """0-based rank of `token` in descending logit order (ties: lower id first)."""
    value = logits[token]
    return int((logits > value).sum()) + int((logits[:token] == value).sum())


def step_rank(step) -> int:
    """The token's rank under the raw logits counted from 0 (stored for scored steps, computed
    otherwise); people read `step.rank1`."""
    if step.scored_rank0 is not None:
        return step.scored_rank0
    return rank_of(step.require_logits().float(), step.token)


def step_raw_prob(step) -> float:
    """The token's probability under the raw logits (stored for scored steps, computed otherwise)."""
    if step.raw_prob is not None:
        return step.raw_prob
    return float(step.require_logits().float().softmax(-1)[step.token])


@dataclass(eq=False)
class Truncation:
    """What a top-N run bundle kept of a step whose full logits were not saved.

    `ids` (W,): the stored tokens, the W largest raw logits (W >= N, widened so that every
    token ranked before the drawn one is stored). `own_probs` (W,): their probabilities under
    the step's own settings, exactly as the token was drawn from them (float64, so
    `resample()` replays exactly). `lse`: the log-normaliser of the raw logits over the whole
    vocabulary. The step's own token is always known too (its logit is stored even when it
    ranks below the W, as a scored text's tokens can). The logits of the other dropped tokens
    are not known: the step's `logits` hold the known values and, for every dropped token, one
    flat value below them that gives the dropped tail its true total probability at T=1.
    """

    ids: torch.Tensor  # (W,) long
    own_probs: torch.Tensor | None  # (W,) float64; None for bundles written before it was stored
    lse: float | None = None  # logsumexp of the raw logits over the whole vocabulary

    @property
    def width(self) -> int:
        return int(self.ids.shape[-1])


@dataclass(eq=False)
class Step:
    """One generated position: the raw logits it was drawn from, the noise, the token.

    `logits` are the model's raw output for this position over the full vocabulary, on the
    model's device (None when the run kept none). `u` is the uniform that picked `token` under
    the cdf coupling; `noise` names the Gumbel noise that picked it under the gumbel coupling
    (`coupling.Gumbel` or, for a hindsight sample, `coupling.Posterior`); both are None for a
    forced token. `position` is the index of `token` in the full sequence.
    """

    token: int
    u: float | None
    position: int
    settings: Settings
    logits: torch.Tensor | None = None  # (V,) raw
    index: int = 0  # step number within its sample
    prob: float | None = None  # probability of `token` under `settings`
    forced: bool = False
    sample: "Sample | None" = field(default=None, repr=False)
    truncation: Truncation | None = field(default=None, repr=False)  # set for top-N bundles
    scored_rank0: int | None = None  # scored text: the stored rank0 (see rank0 and rank1)
    raw_prob: float | None = None  # scored text: softmax of the raw logits at `token`
    residual: torch.Tensor | None = field(default=None, repr=False)  # (n_layer + 1, d) with layers=True
    attention_weights: torch.Tensor | None = field(default=None, repr=False)  # (n_layer, n_head, n_context)
    layer: int | None = None  # set on a lens view (step.at_layer): the layer its logits were read at
    draw_replays: bool = True  # False: a bundle of an earlier format whose data give back this
    # step's draw only within its precision (e.g. logits rounded to float16 after the draw)
    legacy: bool = False  # drawn by format 1's single-precision arithmetic (bundles of earlier versions)
    pending: bool = False  # a session's preview of its next step: `token` is what its u would draw
    noise: "coupling.Gumbel | coupling.Posterior | None" = field(default=None, repr=False)  # gumbel coupling

    # ---- rank ------------------------------------------------------------------------------
    @property
    def rank0(self) -> int:
        """The token's rank under the raw logits counted from 0 (the data; `rank1` is what people read)."""
        return step_rank(self)

    @property
    def rank1(self) -> int:
        """The token's rank under the raw logits as every table, figure and the command line
        show it: 1 = the likeliest (ties: the lower id first)."""
        return step_rank(self) + 1

    @property
    def rank(self):
        raise AttributeError("a step has rank1 (1 = the likeliest, as tables, figures and the command line show "
                             "ranks) and rank0 (counted from 0); say which")

    # ---- attention -------------------------------------------------------------------------
    def attention(self) -> torch.Tensor:
        """(n_layer, n_head, n_context): how much the position that produced this step's logits
        attended to each position before it (the prompt first; itself last), per layer and head;
        each row sums to 1. Recorded with attention=True (lm.generate, lm.session)."""
        if self.attention_weights is None:
            raise ValueError("this step has no attention recorded; generate with attention=True, e.g. "
                             "lm.generate(prompt, attention=True) or lm.session(prompt, attention=True)")
        return self.attention_weights

    # ---- the logit lens ------------------------------------------------------------------
    def layer_logits(self, layer: int) -> torch.Tensor:
        """Logits read at `layer` (0 = embeddings, n_layer = last block, -1 = last) through the
        model's final layer norm and LM head; needs layers=True (the model layer's lens)."""
        return extensions.call("Step", "layer_logits", self, layer)

    def layer_distribution(self, layer: int, temperature=None, top_k=None, top_p=None, semantics=None,
                           **more) -> torch.Tensor:
        """The distribution this step's settings (or the given ones) give at `layer`."""
        view = self.at_layer(layer)
        return view.distribution_under(view.settings_for(temperature, top_k, top_p, semantics, **more))

    def at_layer(self, layer: int) -> "Step":
        """A copy of this step whose logits are the lens logits at `layer`."""
        return extensions.call("Step", "at_layer", self, layer)

    def lens(self, top: int = 10, **settings):
        """A tidy DataFrame, one row per (layer, rank): layer, rank, token_id, token, logit,
        prob (under the settings), drawn_rank (the drawn token's rank at that layer)."""
        return extensions.call("Step", "lens", self, top, **settings)

    def attribution(self, vs=None):
        """Direct logit attribution: a DataFrame, one row per component of the final residual
        stream (embeddings, each head, each attention bias and MLP, ln_f's bias) with its direct
        effect on logit(token) - logit(vs), the final layer norm's scale frozen (the model
        layer's attribution; vs: a token id or string, None = the likeliest other token)."""
        return extensions.call("Step", "attribution", self, vs)

    @property
    def surprisal(self) -> float:
        """-log p(token) under the model's own distribution, in nats."""
        p = step_raw_prob(self)
        return -math.log(p) if p > 0 else math.inf

    # ---- the distribution -------------------------------------------------------------
    def distribution(self, temperature=None, top_k=None, top_p=None, semantics=None, stage_order=None,
                     **more) -> torch.Tensor:
        """Probabilities over the full vocabulary (None = this step's own settings).

        For a step loaded from a top-N bundle, `exact_for(...)` says whether the result is
        exact: always at the step's own settings, at T=1 for the stored tokens, and for any
        top_k <= N; elsewhere the dropped tail is estimated (see `Truncation`). More settings
        (min_p, typical_p, epsilon_cutoff, eta_cutoff, repetition_penalty, no_repeat_ngram_size)
        go by name; the last two read the step's context (prompt and earlier steps).
        `stage_order` runs the stages in another order (only the default is transformers')."""
        return self.distribution_under(self.settings_for(temperature, top_k, top_p, semantics, **more), stage_order)

    def distribution_under(self, settings: Settings, stage_order=None) -> torch.Tensor:
        """`distribution` for Settings already checked (a figure or widget that made them once)."""
        if settings == self.settings and stage_order is None:
            own = self.own_distribution()
            if own is not None:
                return own
        context = self.context_tokens if settings.uses_context else None
        return sampling.distribution_under(self.require_logits(), settings, context, stage_order, legacy=self.legacy)

    def own_distribution(self) -> torch.Tensor | None:
        """A top-N step's own-settings distribution, or None when the step has its full logits
        (or a bundle of an earlier format stored none): the stored tokens' probabilities exactly
        as its token was drawn from them, and the rest of the mass, if the settings left any to
        the dropped tokens, spread evenly over them (an estimate, below every token the draw
        could rank before its own, so the draw replays exactly)."""
        cut = self.truncation
        if cut is None or cut.own_probs is None:
            return None
        logits = self.require_logits()
        own = cut.own_probs.to(logits.device)
        rest, dropped = self._own_rest()
        out = torch.full((logits.shape[-1],), rest / dropped if rest > 0 else 0.0, dtype=own.dtype,
                         device=logits.device)
        return out.scatter(-1, cut.ids.to(logits.device), own)

    def _own_rest(self) -> tuple[float, int]:
        """(probability the own settings leave to the dropped tokens, how many there are)."""
        cut = self.truncation
        dropped = self.require_logits().shape[-1] - cut.width
        rest = 1.0 - float(cut.own_probs.sum())
        return (rest if rest > OWN_REST_ZERO and dropped > 0 else 0.0), max(dropped, 1)

    def exact_for(self, temperature=None, top_k=None, top_p=None, semantics=None, **more) -> bool:
        """Whether `distribution(...)` with these settings is exact: always for a step with its
        full logits; for a step of a top-N bundle, at its own settings, and wherever a top-k cut
        (or greedy decoding) provably keeps only stored tokens, even after the repetition
        penalty or no-repeat n-grams have moved them; nowhere else (the dropped tail's
        individual logits are not known)."""
        if self.truncation is None:
            return True
        return self.exact_under(self.settings_for(temperature, top_k, top_p, semantics, **more))

    def exact_under(self, settings: Settings) -> bool:
        """`exact_for` for Settings already checked."""
        cut = self.truncation
        if cut is None:
            return True
        if settings == self.settings and cut.own_probs is not None:
            return self._own_rest()[0] == 0.0  # exact unless part of the mass lies in the unknown tail
        k = 1 if settings.temperature == 0 else settings.top_k
        if not 0 < k <= cut.width:
            return False
        known, bound = self._known_after_context(settings)
        return float(torch.sort(known, descending=True).values[k - 1]) > bound

    def _known_after_context(self, settings) -> tuple[torch.Tensor, float]:
        """The stored tokens' logits after the context stages (repetition penalty, no-repeat
        n-grams), and an upper bound on every dropped token's logit after them."""
        logits = self.require_logits().double()
        ids = self.truncation.ids.to(logits.device)
        floor = float(logits[ids].min())  # every dropped token's raw logit is at most this
        row = logits
        if settings.uses_context:
            for stage in registry.active_stages(settings):
                if stage.sampler.reads_context:
                    row = stage.apply(row, self.context_tokens)
        bound = floor
        penalty = settings.repetition_penalty
        dropped_seen = set(self.context_tokens) - set(ids.tolist()) if penalty != 1.0 else set()
        if dropped_seen:  # a seen dropped token moves like the floor at most (the map is increasing)
            bound = max(floor, floor / penalty if floor > 0 else floor * penalty)
        return row[ids], bound

    def settings_for(self, temperature=None, top_k=None, top_p=None, semantics=None, **more) -> Settings:
        return self.settings.replace(temperature, top_k, top_p, semantics, **more)

    def require_logits(self) -> torch.Tensor:
        if self.logits is None:
            raise ValueError("this step kept no logits (keep_logits='none'); generate again with "
                             "keep_logits='float32' or 'float16' to explore its distribution")
        return self.logits

    def resample(self, temperature=None, top_k=None, top_p=None, semantics=None, **more) -> int:
        """The token the same noise picks under other settings (the step's own by default): the
        same uniform (cdf), or the argmax of log p + the same Gumbel noise (gumbel)."""
        return self.draw_from(self.distribution_under(self.settings_for(temperature, top_k, top_p, semantics, **more)))

    @property
    def coupling(self) -> str | None:
        """How the step's token was drawn: "cdf", "gumbel", "posterior" (hindsight), None (forced)."""
        if self.noise is not None:
            return self.noise.kind
        return None if self.u is None else "cdf"

    @property
    def drawn(self) -> bool:
        """Whether the step was drawn (it has noise), not forced."""
        return not self.forced and (self.u is not None or self.noise is not None)

    def draw_from(self, probs: torch.Tensor) -> int:
        """The token this step's noise draws from `probs` (V,): its coupling's rule."""
        if self.noise is not None:
            return int(coupling.gumbel_pick(probs, self.gumbels(probs.shape[-1])))
        if self.u is None:
            raise ValueError("a forced step has no noise to replay")
        return int(sampling.pick(probs, self.u))

    def gumbels(self, vocab: int | None = None) -> torch.Tensor:
        """The step's Gumbel noise (V,) float64, regenerated from its key (gumbel coupling only)."""
        if self.noise is None:
            raise ValueError("this step was drawn by the cdf coupling (one uniform u), not by Gumbel noise; "
                             "generate with coupling='gumbel'")
        if vocab is None:
            vocab = int(self.require_logits().shape[-1])
        return self.noise.values(vocab)

    @property
    def replays(self) -> bool:
        """Whether `resample()` at the step's own settings gives its token back, bit for bit
        (always, but for some steps of bundles of an earlier format: see `draw_replays`)."""
        return self.forced or self.draw_replays

    def top(self, n: int = 10, temperature=None, top_k=None, top_p=None, semantics=None, **more) -> TopTable:
        """The n most likely tokens (by raw logit) with their probability under the given
        settings: rows of (rank, id, text, prob, logit, label, prob_raw), rank 1 = the likeliest, prob_raw
        the model's own probability; shows as a table."""
        n = arguments.count("n", n)
        probs = self.distribution_under(self.settings_for(temperature, top_k, top_p, semantics, **more))
        logits = self.require_logits().float()
        values, ids = torch.topk(logits, min(n, logits.shape[-1]))
        ids, p, raw = ids.tolist(), probs[ids].tolist(), logits.softmax(-1)[ids].tolist()
        return TopTable(TokenProb(r + 1, i, self.decode(i), pr, v, step_label(self, i), q)
                        for r, (i, pr, v, q) in enumerate(zip(ids, p, values.tolist(), raw)))

    # ---- context --------------------------------------------------------------------
    @property
    def context_tokens(self) -> list[int]:
        """The tokens the model saw before this step (prompt and earlier steps)."""
        if self.sample is None:
            raise ValueError("this step is not attached to a sample")
        return self.sample.context_tokens[: self.position]

    def decode(self, token_id: int) -> str:
        return self.sample.decode([token_id]) if self.sample is not None else str(token_id)

    def token_piece(self, token_id: int) -> str | None:
        """The tokenizer's own string for a token (GPT-2: its bytes in the BPE alphabet),
        None when the step has no run with a tokenizer."""
        run = getattr(self.sample, "run", None)
        tokenizer = run.tokenizer if run is not None else None
        return None if tokenizer is None else tokenizer.convert_ids_to_tokens(int(token_id))

    @property
    def text(self) -> str:
        return self.decode(self.token)

    def __repr__(self) -> str:
        u = ("forced" if not self.drawn else f"{self.noise.kind} noise" if self.noise is not None
             else f"u={self.u:.4f}")
        p = "" if self.prob is None else f", p={fmt.prob(self.prob)}"
        label = step_label(self, self.token) if self.token >= 0 else show_token(self.text)
        return f"Step({self.index}: {label!r} id={self.token}, {u}{p})"


@dataclass(eq=False)
class Sample:
    """One generated sequence: its prompt, its tokens and a Step per generated token."""

    prompt: str | None
    prompt_tokens: list[int]
    index: int
    steps: list[Step] = field(default_factory=list)
    decode: Callable[[list[int]], str] = field(default=str, repr=False)
    prompt_index: int = 0
    run: "Run | None" = field(default=None, repr=False)

    @property
    def tokens(self) -> list[int]:
        """The generated token ids."""
        return [s.token for s in self.steps]

    @property
    def context_tokens(self) -> list[int]:
        return list(self.prompt_tokens) + self.tokens

    @property
    def text(self) -> str:
        """The generated text (without the prompt)."""
        return self.decode(self.tokens)

    @property
    def full_text(self) -> str:
        return (self.prompt or "") + self.text

    @property
    def pieces(self):
        """The generated tokens as pieces of the text (core.pieces.Piece): `text` holds whole
        characters only (a character split over tokens joins the token that completes it), so
        the texts concatenate to `text` (a session's text, still being written, holds back a last
        character not yet complete); `label` and `note` say which character a token that holds
        only part of one belongs to."""
        return sample_pieces(self)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i):
        return self.steps[i]

    def __iter__(self):
        return iter(self.steps)

    def __repr__(self) -> str:
        return f"Sample(prompt={self.prompt!r}, index={self.index}, {len(self.steps)} tokens: {self.text!r})"

    def _repr_html_(self) -> str:
        prompt = html.escape(self.prompt or "<|endoftext|>")
        return (f"<div style='font-family:monospace;white-space:pre-wrap'>"
                f"<span style='background:#e8eef7;color:#1f3b73;font-weight:bold'>{prompt}</span>"
                f"{html.escape(self.text)}</div>")


@dataclass(eq=False)
class Run:
    """Everything one `generate` call recorded: samples in prompt order, then sample order."""

    samples: list[Sample]
    settings: Settings
    seed: int
    model_name: str = ""
    length: int = 0
    keep_logits: str = "float32"
    meta: dict = field(default_factory=dict)  # device, nsamples, batch_size, weights_sha256, ...
    lm: object = field(default=None, repr=False)  # the LM that made it (None for a loaded bundle)

    def __post_init__(self):
        for sample in self.samples:
            sample.run = self

    @property
    def tokenizer(self):
        """The tokenizer of the model that made the run, or the one a loaded bundle carries."""
        return getattr(self.lm, "tokenizer", None) or self.meta.get("_tokenizer")

    @property
    def weights_sha256(self) -> str | None:
        """sha256 of the weights that made this run (computed once, from the model)."""
        if not self.meta.get("weights_sha256") and self.lm is not None:
            self.meta["weights_sha256"] = self.lm.weights_sha256
        return self.meta.get("weights_sha256")

    def save(self, folder, logits: str | None = None, top: int | None = None):
        """Write a run bundle: logits="full" (default) or "top" with `top` tokens per step (256);
        a run loaded from a top-N bundle saves as one (the files layer's bundle.save_run)."""
        return extensions.call("Run", "save", self, arguments.path("folder", folder), logits=logits, top=top)

    def save_table(self, path, top: int = 20):
        """`to_frame(top)` written as .csv or .parquet (format from the suffix)."""
        return extensions.call("Run", "save_table", self, arguments.path("path", path), top=arguments.count("top", top))

    def summary(self, **settings):
        """One row per sample: tokens, log-probabilities, perplexity, rank buckets, tokens the
        settings make impossible (the model layer's scoring.summary)."""
        return extensions.call("Run", "summary", self, **settings)

    def counterfactual(self, prompt=None, lm=None, **settings) -> "Run":
        """The same samples with the same noise under an intervention: another prompt (one, or one
        per sample), another model with the same vocabulary (lm=), other settings by name; with
        nothing changed, the run's own tokens (the model layer's counterfactual)."""
        return extensions.call("Run", "counterfactual", self, prompt, lm, **settings)

    def verify(self, lm, atol: float = 1e-4):
        """Re-run the model on the recorded tokens: do the logits and tokens match?"""
        return extensions.call("Run", "verify", self, lm, atol=atol)

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.samples]

    @property
    def prompts(self) -> list[str | None]:
        seen = []
        for s in self.samples:
            if s.prompt not in seen:
                seen.append(s.prompt)
        return seen

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i) -> Sample:
        return self.samples[i]

    def __iter__(self):
        return iter(self.samples)

    def to_frame(self, top: int = 20):
        """Tidy table: one row per (sample, step, rank) for the `top` most likely raw tokens,
        plus the chosen token's row when it ranks lower. Columns: prompt, sample, step, rank
        (1 = the likeliest under the raw logits, as `step.rank1`),
        token_id, token, logit, prob_raw (softmax of raw logits), prob (under the step's
        settings), chosen. `token` shows whitespace and control characters as the charts do
        ('␣John', '↵', '\\x1b'); `text` is the exact token text."""
        import pandas as pd

        top = arguments.count("top", top)
        rows = []
        for si, sample in enumerate(self.samples):
            for step in sample.steps:
                logits = step.require_logits().float()
                raw = logits.softmax(-1)
                probs = step.distribution()
                ids = _top_ids(logits, top)
                ranks = list(range(1, len(ids) + 1))
                if step.token not in ids:
                    ids.append(step.token)
                    ranks.append(rank_of(logits, step.token) + 1)
                lg, pr, pp = logits[ids].tolist(), raw[ids].tolist(), probs[ids].tolist()
                for k, tid in enumerate(ids):
                    text = sample.decode([tid])
                    rows.append((sample.prompt, si, step.index, ranks[k], tid, step_label(step, tid), text,
                                 lg[k], pr[k], pp[k], tid == step.token))
        return pd.DataFrame(rows, columns=["prompt", "sample", "step", "rank", "token_id", "token", "text",
                                           "logit", "prob_raw", "prob", "chosen"])

    def __repr__(self) -> str:
        s = self.settings
        more = "".join(f", {k}={v!r}" for k, v in s.changed().items()
                       if k not in ("temperature", "top_k", "top_p", "semantics"))
        head = (f"Run({fmt.count(len(self.samples), 'sample')} of {self.length} tokens, model={self.model_name!r}, "
                f"seed={self.seed}, temperature={s.temperature}, top_k={s.top_k}, top_p={s.top_p}, "
                f"semantics={s.semantics!r}{more}{self._coupling_note(', coupling={!r}')})")
        body = "\n".join(f"  [{i}] {(x.prompt or '')!r} + {x.text!r}" for i, x in enumerate(self.samples[:10]))
        more = f"\n  ... {len(self.samples) - 10} more" if len(self.samples) > 10 else ""
        return head + ("\n" + body if body else "") + more

    def _coupling_note(self, pattern: str) -> str:
        """`pattern` filled with the run's coupling when its tokens were not drawn by one uniform
        u a step (the default), else ""."""
        kind = self.meta.get("coupling") or next((st.coupling for x in self.samples for st in x.steps
                                                  if st.coupling is not None), "cdf")
        return "" if kind == "cdf" else pattern.format(kind)

    def _repr_html_(self) -> str:
        s = self.settings
        head = (f"<b>Run</b>: {fmt.count(len(self.samples), 'sample')} × {self.length} tokens · model "
                f"<code>{html.escape(self.model_name)}</code> · seed {self.seed} · {html.escape(describe(s))}"
                f"{self._coupling_note(' · coupling={!r} (Gumbel noise)')}")
        items = "".join(f"<li>{x._repr_html_()}</li>" for x in self.samples[:20])
        return f"<div>{head}<ol start='0'>{items}</ol></div>"


FLOAT32_SLACK = 1e-5  # cumulative shift single-precision stages can cause, batched or not


def within(step, probs: torch.Tensor, slack: float) -> bool:
    """The step's uniform lies in its token's interval of the cumulative distribution (pick
    order: descending probability, ties by lower id), widened by `slack`; greedy steps: the
    token's logit is within the slack of the top one."""
    if step.settings.temperature == 0:
        logits = step.require_logits().double()
        return float(logits.max() - logits[step.token]) <= 4 * slack * max(1.0, float(logits.abs().max()))
    ranked, order = torch.sort(probs.double(), descending=True, stable=True)
    position = int((order == step.token).nonzero()[0])
    start = float(ranked[:position].sum())
    end = start + float(ranked[position])
    return start - slack <= step.u < end + slack


def require_step(value, name: str = "step") -> Step:
    """`value` as a Step, or one TypeError line saying how to get one."""
    hint = "pick one step, e.g. run[0].steps[0]" if isinstance(value, (Run, Sample)) else ""
    return arguments.expect(name, value, Step, "a Step (e.g. run[0].steps[0])", hint)


def require_sample(value, name: str = "sample") -> Sample:
    hint = "pick one sample, e.g. run[0]" if isinstance(value, Run) else (
        "give its sample, step.sample" if isinstance(value, Step) else "")
    return arguments.expect(name, value, Sample, "a Sample (e.g. run[0])", hint)


def require_run(value, name: str = "run") -> Run:
    hint = "give the whole run (e.g. step.sample.run), from lm.generate(...)" if isinstance(value, (Step, Sample)) \
        else "make one with lm.generate(...) or gx.load_run(folder)"
    return arguments.expect(name, value, Run, "a Run", hint)
