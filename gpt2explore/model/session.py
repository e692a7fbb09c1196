"""Step-through generation: step, back (crop the KV cache), force, fork.

The session always holds the logits of the NEXT position (`next_logits`), so its
distribution can be shown before a token is drawn. Step k of a session uses uniform k of
its (seed, sample index) stream (or, with coupling="gumbel", Gumbel noise k of it), so going
back and stepping again repeats the same tokens.
"""
from __future__ import annotations

import copy
import numbers

import torch

from ..core import coupling as couplings
from ..core import extensions, guards, sampling
from ..core.settings import Settings
from ..core.trace import Run, Sample, Step
from . import batching
from .attention import maybe_capture_attention
from .capture import capture
from .generation import check_count, check_flags, forward, normalize_prompts, require_lm
from .lens import maybe_capture_layers


class Session:
    """A single sample generated one step at a time, with the model's KV cache kept."""

    def __init__(self, lm, prompt=None, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                 seed: int | None = None, semantics: str = "hf", sample_index: int = 0, layers: bool = False,
                 attention: bool = False, coupling: str = "cdf", **samplers):
        check_flags(layers=layers, attention=attention)
        self.lm = require_lm(lm)
        self.coupling = couplings.check_coupling(coupling)  # how each step's noise picks its token
        self.layers = bool(layers)  # record the residual stream per step (the logit lens)
        self.next_residual = None  # (n_layer + 1, d) for the next position, with layers=True
        self.attention = bool(attention)  # record each step's attention (step.attention())
        self.next_attention = None  # (n_layer, n_head, n_context) for the next position, with attention=True
        self.settings = Settings(temperature, top_k, top_p, semantics, **samplers)
        if prompt is not None:
            normalize_prompts(prompt if isinstance(prompt, str) else [prompt])
        self.prompt = prompt
        self.seed = sampling.check_seed(seed)
        self.sample_index = check_count("sample_index", sample_index, minimum=0)
        tokens = lm.start_tokens(prompt)
        if not tokens:
            raise ValueError(f"prompt {prompt!r} encodes to no tokens; give some text")
        if len(tokens) > lm.n_ctx:
            raise ValueError(f"prompt is {len(tokens)} tokens, longer than the model's context of "
                             f"{lm.n_ctx} tokens; shorten the prompt")
        self.sample = Sample(prompt, tokens, sample_index, decode=lm.decode)
        self._attach_run()
        self._uniforms = sampling.uniforms(self.seed, sample_index, 64)
        self._cache = None
        self.forward_calls = 0
        self._listeners = []
        self._stepper = None
        self.next_logits = self._feed(tokens)  # (V,) raw logits for the next position

    # ---- state ------------------------------------------------------------------------
    @property
    def steps(self) -> list[Step]:
        return self.sample.steps

    @property
    def tokens(self) -> list[int]:
        """All tokens so far: prompt, then generated."""
        return self.sample.context_tokens

    @property
    def text(self) -> str:
        """The prompt followed by the generated text."""
        return self.sample.full_text

    @property
    def generated_text(self) -> str:
        return self.sample.text

    @property
    def next_step(self) -> Step:
        """A preview of the next step: its logits, its settings, and the token its uniform would
        draw (nothing is appended)."""
        u, noise = self._noise(len(self.steps))
        step = Step(token=-1, u=u, position=len(self.tokens), settings=self.settings,
                    logits=self.next_logits, index=len(self.steps), sample=self.sample,
                    residual=self.next_residual, attention_weights=self.next_attention, pending=True,
                    noise=noise)
        step.token = step.resample()
        return step

    def set(self, temperature=None, top_k=None, top_p=None, semantics=None, **more) -> "Session":
        """Change the settings for the next steps (None keeps a value); the newer samplers
        (min_p=, repetition_penalty=, ...) by name."""
        self.settings = self.settings.replace(temperature, top_k, top_p, semantics, **more)
        self.run.settings = self.settings  # captions and bundles name the settings now in force
        self._changed()
        return self

    # ---- moves ------------------------------------------------------------------------
    def step(self, n: int = 1) -> list[Step]:
        """Draw n tokens, each with its step's uniform; returns the new steps.

        n tokens that do not fit the context are refused before any is drawn. Each step is
        all-or-nothing: an interruption (Ctrl-C, an error in the model) leaves the session as
        it was before that step, with the steps already made kept and shown."""
        _check_n(n)
        room = self.room
        if n > room:
            if room == 0:
                raise ValueError(f"the context window of {self.lm.n_ctx} tokens is full; go back() or "
                                 f"start a new session")
            raise ValueError(f"{n} more tokens do not fit the context window of {self.lm.n_ctx} tokens "
                             f"(room for {room}); go back() or start a new session")
        n = int(n)
        new = []
        try:
            for _ in range(n):
                k = len(self.steps)
                u, noise = self._noise(k)
                try:
                    probs = self._next_probs()
                except guards.StepError as err:  # nothing is drawn from it, nothing appended
                    raise err.at(f"step {k} of the session") from None
                token = int(sampling.pick(probs, u)) if noise is None else int(couplings.gumbel_pick(
                    probs, noise.values(probs.shape[-1])))
                new.append(self._append(token, u, float(probs[token]), noise=noise))
        finally:
            if new:
                self._changed()
        return new

    @property
    def room(self) -> int:
        """How many more tokens the context window takes."""
        return max(self.lm.n_ctx - len(self.tokens), 0)

    def force(self, token: int | str) -> Step:
        """Append a chosen token (an id, or text that encodes to one token); its step records
        the distribution it was chosen against."""
        tid = self.lm.token_id(token)
        probs = self._next_probs()
        step = self._append(tid, None, float(probs[tid]), forced=True)
        self._changed()
        return step

    def back(self, n: int = 1) -> list[Step]:
        """Undo the last n steps: the KV cache is cropped, nothing is recomputed.

        Interrupt-safe: once the crop has begun it is completed (in `finally`), so the cache and
        the steps always agree, even after Ctrl-C."""
        _check_n(n)
        n = int(n)
        if n > len(self.steps):
            raise ValueError(f"cannot go back {n} steps: only {len(self.steps)} generated")
        target = len(self.tokens) - n  # positions the cache keeps
        removed = self.steps[-n:]
        try:
            truncate_cache(self._cache, target)
        finally:
            if cache_lengths(self._cache) != {len(self.tokens)}:  # the crop began: finish it, then commit
                truncate_cache(self._cache, target)
                del self.steps[-n:]
                # the first removed step was drawn from the logits that now come next again
                self.next_logits = removed[0].logits
                self.next_residual = removed[0].residual
                self.next_attention = removed[0].attention_weights
                self._changed()
        return removed

    def fork(self, seed: int | None = None) -> "Session":
        """An independent session with the same history (and the same draws unless `seed`)."""
        other = copy.copy(self)
        other.sample = Sample(self.prompt, list(self.sample.prompt_tokens), self.sample_index,
                              decode=self.lm.decode)
        other.sample.steps.extend(_copy_step(s, other.sample) for s in self.steps)
        other._cache = copy.deepcopy(self._cache)
        other._listeners, other._stepper = [], None
        other.forward_calls = 0
        if seed is not None:
            other.seed = sampling.check_seed(seed)
            other._uniforms = sampling.uniforms(other.seed, self.sample_index, len(self._uniforms))
        other._attach_run()  # after the seed: the fork's run, captions and bundles name its own seed
        return other

    def replay(self, steps) -> "Session":
        """Append copies of recorded steps (e.g. the first k steps of a generated sample),
        feeding their tokens one at a time as generation did: the session continues from there
        with the same history, logits and draws, bit for bit."""
        steps = list(steps)
        if not steps:
            return self
        if len(steps) > self.room:
            raise ValueError(f"{len(steps)} steps do not fit the context window of {self.lm.n_ctx} tokens")
        for s in steps:
            self.next_logits = self._feed([s.token])
            self.steps.append(_copy_step(s, self.sample))
        self._changed()
        return self

    def _attach_run(self) -> None:
        """A Run holding this session's one sample, for provenance, saving and plots."""
        self.run = Run([self.sample], self.settings, self.seed, model_name=self.lm.name,
                       meta={"device": str(self.lm.device), "source": self.lm.source, "session": True,
                             "coupling": self.coupling,
                             "batching": batching.strategy(self.lm)[0]},
                       lm=self.lm)

    def widget(self):
        """The stepper widget on this session: one per session, so calling this again shows
        the same widget (and adds no second listener)."""
        if self._stepper is None:
            self._stepper = extensions.call("Session", "stepper", self)  # the widgets layer's Stepper
        return self._stepper.widget

    # ---- internals --------------------------------------------------------------------
    def _next_probs(self) -> torch.Tensor:
        context = self.tokens if self.settings.uses_context else None
        return sampling.distribution_under(self.next_logits, self.settings, context)  # the model's logits

    def _append(self, token: int, u: float | None, prob: float, forced: bool = False, noise=None) -> Step:
        if len(self.tokens) >= self.lm.n_ctx:
            raise ValueError(f"the context window of {self.lm.n_ctx} tokens is full; go back() or "
                             f"start a new session")
        step = Step(token=token, u=u, position=len(self.tokens), settings=self.settings,
                    logits=self.next_logits, index=len(self.steps), prob=prob, forced=forced,
                    sample=self.sample, residual=self.next_residual, attention_weights=self.next_attention,
                    noise=noise)
        self.next_logits = self._feed([token])
        self.steps.append(step)
        return step

    def _feed(self, tokens: list[int]) -> torch.Tensor:
        """Run the model on new tokens (appending to the cache) -> next-position logits (V,)."""
        device = self.lm.device
        past = len(self.tokens) if self._cache is not None else 0
        ids = torch.tensor([tokens], dtype=torch.long, device=device)
        mask = torch.ones((1, past + len(tokens)), dtype=torch.long, device=device)
        pos = torch.arange(past, past + len(tokens), device=device)[None]
        try:
            with torch.inference_mode(), batching.forward_mode(self.lm), capture(self.lm.model) as cap, \
                    maybe_capture_layers(self.lm.model, self.layers) as lay, \
                    maybe_capture_attention(self.lm.model, self.attention) as att:
                _, self._cache = forward(self.lm.model, ids, mask, pos, self._cache)
                attn = att.weights(self._cache)[0] if att is not None else None
        except BaseException:
            # an interrupted forward may have grown some layers' cache and not others: undo it
            if self._cache is not None:
                truncate_cache(self._cache, past)
            raise
        self.forward_calls += 1
        if lay is not None:
            self.next_residual = lay.resid[-1][0]  # (L+1, d) at the newest position
        if att is not None:
            self.next_attention = attn  # (L, H, n_context) of the newest position
        return cap.logits[-1][0]

    def _noise(self, k: int):
        """(u, None) for step k under the cdf coupling, (None, its Gumbel key) under the gumbel one."""
        if self.coupling == "gumbel":
            return None, couplings.Gumbel(self.seed, self.sample_index, k)
        return float(self._uniform(k)), None

    def _uniform(self, k: int) -> torch.Tensor:
        if k >= len(self._uniforms):
            self._uniforms = sampling.uniforms(self.seed, self.sample_index, 2 * k + 64)
        return self._uniforms[k]

    def _changed(self):
        for fn in list(self._listeners):
            fn(self)

    def on_change(self, fn) -> None:
        """Call fn(session) after every step, back, force or set (used by widgets); a
        listener already registered is not added twice."""
        if fn not in self._listeners:
            self._listeners.append(fn)

    def off_change(self, fn) -> None:
        """Stop calling fn (a widget that is closed)."""
        if fn in self._listeners:
            self._listeners.remove(fn)

    def __repr__(self) -> str:
        s = self.settings
        return (f"Session({len(self.steps)} steps, T={s.temperature}, top_k={s.top_k}, top_p={s.top_p}, "
                f"seed={self.seed}): {self.text!r}")

    def _repr_html_(self) -> str:
        return self.sample._repr_html_()


def truncate_cache(cache, length: int) -> None:
    """Cut every layer of a KV cache back to `length` positions (layers may differ after an
    interrupted forward). Works with transformers 5 (`cache.layers`) and 4 (`key_cache`)."""
    if hasattr(cache, "layers"):
        for layer in cache.layers:
            extra = layer.get_seq_length() - length
            if extra > 0:
                layer.crop(-extra)
        return
    for i in range(len(cache.key_cache)):  # transformers 4
        cache.key_cache[i] = cache.key_cache[i][..., :length, :]
        cache.value_cache[i] = cache.value_cache[i][..., :length, :]


def cache_lengths(cache) -> set[int]:
    """The set of positions each layer of a KV cache holds (one value when they agree)."""
    if hasattr(cache, "layers"):
        return {layer.get_seq_length() for layer in cache.layers}
    return {k.shape[-2] for k in cache.key_cache}


def _copy_step(step: Step, sample: Sample) -> Step:
    new = copy.copy(step)
    new.sample = sample
    return new


def _check_n(n) -> None:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
