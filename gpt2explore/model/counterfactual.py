"""Counterfactual samples: the same noise under an intervention (`run.counterfactual`), and the
noise an observed text implies (`lm.hindsight`).

Generation is a structural causal model: each token is a function of the context, the settings,
the model and the step's noise. Keeping the noise and changing one of the others (the prompt,
the settings, the model) answers "what would this very sample have read had the name been
John?". With the gumbel coupling the answer changes a token only where the distributions
demand it; with the cdf coupling (one uniform a step) the same question has another, weaker
answer. For a text nobody sampled, `lm.hindsight` draws the noise from its posterior given
that text (Ravfogel et al., 2025), and the counterfactuals of those samples show what the
text's noise writes elsewhere.
"""
from __future__ import annotations

from ..core import coupling as couplings
from ..core import extensions, sampling
from ..core.settings import Settings, describe
from ..core.trace import Run
from .generation import Job, check_count, choose_length, generate_jobs, normalize_prompts, prior_noise


def _vocab(run: Run) -> int | None:
    for sample in run.samples:
        for step in sample.steps:
            if step.logits is not None:
                return int(step.logits.shape[-1])
    return None


def _prompts_for(run: Run, prompt) -> list:
    """One prompt per sample: its own (None), one for all (a string), or one each (a list)."""
    if prompt is None:
        return [s.prompt for s in run.samples]
    if isinstance(prompt, str):
        normalize_prompts(prompt)
        return [prompt] * len(run.samples)
    prompts = normalize_prompts(list(prompt)) if isinstance(prompt, (list, tuple)) else None
    if prompts is None or len(prompts) != len(run.samples):
        raise ValueError(f"prompt must be a string (one for every sample) or a list of one prompt per sample "
                         f"({len(run.samples)}), got {prompt!r:.80}")
    return prompts


def _noise_of(run: Run, sample, length: int) -> list:
    """The noise each step of `sample` was drawn with; steps it does not have (a sample that
    stopped at <|endoftext|>, a forced token) get the prior noise of the run's key."""
    kind = run.meta.get("coupling", "cdf")
    prior = prior_noise("cdf" if kind == "cdf" else "gumbel", run.seed, sample.index, length)
    noise = []
    for t in range(length):
        step = sample.steps[t] if t < len(sample.steps) else None
        if step is not None and step.drawn:
            noise.append(step.noise if step.noise is not None else float(step.u))
        else:
            noise.append(prior[t])
    return noise


def _another_model(run: Run, lm) -> bool:
    """Whether `lm` is not the model that made the run (by name, then by the recorded weights)."""
    if lm.name != run.model_name:
        return True
    recorded = run.meta.get("weights_sha256")
    return bool(recorded) and recorded != lm.weights_sha256


def counterfactual(run: Run, prompt=None, lm=None, progress=None, **settings) -> Run:
    """The run's samples again, each with the noise it was drawn with, under an intervention:
    another `prompt` (one string for every sample, or a list of one per sample), another model
    `lm` with the same vocabulary (gpt2 vs distilgpt2, two checkpoints), other settings by name
    (temperature=, top_k=, ...). Nothing changed gives the run's own tokens back. Works for
    either coupling (cdf: the same uniforms; gumbel: the same Gumbel noise) and for hindsight
    runs (their posterior noise). The result's `meta["counterfactual"]` records what changed."""
    model = lm if lm is not None else run.lm
    if model is None:
        raise ValueError("this run has no model attached (it was loaded from a bundle): pass lm=, e.g. "
                         "run.counterfactual(prompt, lm=gx.load(...))")
    vocab = _vocab(run)
    if vocab is not None and vocab != model.vocab_size:
        raise ValueError(f"the run's vocabulary has {vocab} tokens, the model {model.name!r} has {model.vocab_size}: "
                         f"a counterfactual needs a model with the same vocabulary (the noise is one per token)")
    if run.seed is None or not any(s.drawn for x in run.samples for s in x.steps):
        raise ValueError("this run has no drawn tokens (a scored text): make its noise with lm.hindsight(prompt, "
                         "text) and take the counterfactual of that")
    new_settings = run.settings.replace(**settings)
    prompts = _prompts_for(run, prompt)
    encoded = [model.start_tokens(p) for p in prompts]
    length = max(len(s.steps) for s in run.samples)
    choose_length(length, max(map(len, encoded)), model.n_ctx, conditional=True)
    order = []
    for p in prompts:
        if p not in order:
            order.append(p)
    jobs = [Job(p, order.index(p), toks, s.index, _noise_of(run, s, length))
            for p, toks, s in zip(prompts, encoded, run.samples)]
    changed = {}
    if prompt is not None:
        changed["prompt"] = prompts if isinstance(prompt, (list, tuple)) else prompt
    if new_settings != run.settings:
        changed["settings"] = {k: v for k, v in new_settings.as_dict().items() if run.settings.as_dict()[k] != v}
    if lm is not None and lm is not run.lm and _another_model(run, lm):
        changed["model"] = model.name
    of = {"model": run.model_name, "weights_sha256": run.meta.get("weights_sha256"), "seed": run.seed,
          "prompts": [s.prompt for s in run.samples], "samples": [s.index for s in run.samples],
          "settings": run.settings.as_dict(), "coupling": run.meta.get("coupling", "cdf"),
          "texts": run.texts}
    meta = {"coupling": run.meta.get("coupling", "cdf"), "counterfactual": {"of": of, "changed": changed},
            "first_sample": min(s.index for s in run.samples)}
    if run.meta.get("hindsight"):
        meta["hindsight_of"] = run.meta["hindsight"]
    out = generate_jobs(model, jobs, new_settings, run.seed, length, batch_size=run.meta.get("batch_size", 1),
                        stop_at_eos=bool(run.meta.get("stop_at_eos")), progress=progress,
                        keep=run.keep_logits, meta=meta)
    out.meta["_of"] = run  # the factual run, for views that pair them (not saved)
    return out


def hindsight(lm, prompt, text: str, n: int = 1, seed: int | None = None, temperature: float = 1.0, top_k: int = 0,
              top_p: float = 1.0, semantics: str = "hf", progress=None, **samplers) -> Run:
    """n samples of the noise given that `lm`, at these settings, wrote exactly `text` after
    `prompt` (None: unconditional): per step, the observed token's perturbed score is the
    maximum, a Gumbel of location log Z, and every other token's is a Gumbel truncated below it
    (hindsight Gumbel sampling). Returns a gumbel Run of n samples, each drawing `text` again;
    `run.counterfactual(...)` then gives n counterfactual texts. A token the settings make
    impossible is a ValueError naming it and its position."""
    settings_obj = Settings(temperature, top_k, top_p, semantics, **samplers)
    n = check_count("n", n)
    seed = sampling.check_seed(seed)
    if not isinstance(text, str) or not text:
        raise ValueError(f"text must be a non-empty string, got {text!r:.80}")
    (prompt_value,) = normalize_prompts(prompt)
    start = lm.start_tokens(prompt_value)
    observed = lm.encode(text)
    if not observed:
        raise ValueError(f"text {text!r:.80} encodes to no tokens")
    length = choose_length(len(observed), len(start), lm.n_ctx, conditional=True)
    jobs = [Job(prompt_value, 0, start, k, [couplings.Observed(seed, k, t, tok) for t, tok in enumerate(observed)])
            for k in range(n)]
    meta = {"coupling": "gumbel", "hindsight": {"text": text, "tokens": observed}, "nsamples": n, "first_sample": 0}
    try:
        return generate_jobs(lm, jobs, settings_obj, seed, length, progress=progress, meta=meta)
    except couplings.ImpossibleToken as err:
        piece = lm.decode([err.token])
        raise ValueError(f"the text's token {piece!r} (id {err.token}) at position {err.step} has probability 0 "
                         f"under these settings ({describe(settings_obj)}): no noise draws it; loosen the settings "
                         f"(e.g. top_k=0, top_p=1)") from None


extensions.register("Run", "counterfactual", counterfactual)  # run.counterfactual(...)
