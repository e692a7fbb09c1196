"""Generation that computes each distinct prefix once (the `rows` strategy's fast path).

Under the `rows` batching strategy every sample is computed alone, one forward call per step,
so its logits are the bits of a batch of one. Samples of the same prompt begin with the same
forward call (the prompt), and two samples whose tokens so far are the same make the same next
call again. Here the samples of one prompt walk a prefix tree: each distinct prefix is forwarded
once, with exactly the call a sample alone would make (the same input, positions, mask and
cache contents), its distribution computed once, and every sample at that prefix draws its own
token with its own noise; samples whose tokens part continue from copies of the cache. Every
sample gets the tokens, probabilities and logits it would get alone; a name study's first steps
(hundreds of samples of one prompt) cost one forward instead of hundreds.
"""
from __future__ import annotations

import copy

import torch

from ..core import coupling as couplings
from ..core import guards, sampling
from ..core.trace import Step
from .capture import capture


def applies(strategy: str, jobs, layers: bool, attention: bool) -> bool:
    """Whether the prefix tree computes these jobs: the `rows` strategy (one row per forward),
    no per-step layers or attention recorded, and only prior noise (uniforms or Gumbel keys; an
    observed token's posterior needs the step's distribution first, `Job` by `Job`)."""
    if strategy != "rows" or layers or attention:
        return False
    return all(isinstance(n, (float, couplings.Gumbel)) for j in jobs for n in j.noise)


def pick_rows(probs: torch.Tensor, noises: list) -> list[int]:
    """One token per noise, all drawn from the one distribution `probs` (V,): a uniform by the
    inverse CDF (`sampling.pick`), a Gumbel key by the argmax of log p + g. The same arithmetic
    as `coupling.draw_rows` on a row of that distribution per noise (log p computed once)."""
    out, logp = [], None
    vocab = probs.shape[-1]
    for noise in noises:
        if isinstance(noise, couplings.Gumbel):
            if logp is None:
                logp = probs.double().log()
            g = noise.values(vocab).to(probs.device, torch.float64)
            out.append(int((logp + g).argmax(dim=-1)))
        else:
            u = torch.tensor([noise], dtype=torch.float64).to(probs.device, probs.dtype)  # as generation moves it
            out.append(int(sampling.pick(probs[None], u)[0]))
    return out


@torch.inference_mode()
def generate_tree(lm, jobs, samples, length: int, settings, stop_at_eos: bool, keep: str, bar, forward,
                  left_pad) -> None:
    """Each job's sample, the jobs of one prompt through one prefix tree (see the module).
    `forward`, `left_pad`: generation's own, so each call is the one a sample alone makes."""
    by_prompt: dict[tuple, list[int]] = {}
    for k, job in enumerate(jobs):
        by_prompt.setdefault(tuple(job.tokens), []).append(k)
    with capture(lm.model) as cap:
        for rows in by_prompt.values():
            _tree(lm, cap, jobs, samples, rows, length, settings, stop_at_eos, keep, bar, forward, left_pad)


def _tree(lm, cap, jobs, samples, rows, length, settings, stop_at_eos, keep, bar, forward, left_pad):
    model, device, eos = lm.model, lm.device, lm.eos_token_id
    prompt = list(jobs[rows[0]].tokens)
    ids, mask, pos = left_pad([prompt], lm.pad_token_id, device)
    context = prompt if settings.uses_context else None
    records = {k: [] for k in rows}  # job -> [(token, prob, kept logits)]
    stack = [(rows, 0, ids, mask, pos, None, context)]
    while stack:
        rows, t, ids, mask, pos, cache, context = stack.pop()
        _, cache = forward(model, ids, mask, pos, cache)
        logits = cap.logits.pop()  # (1, V) raw, newest position
        cap.logits.clear()
        if keep == "float16":
            logits = logits.to(torch.float16)  # drawn from exactly the values kept
        try:
            probs = sampling.distribution_under(logits, settings, None if context is None else [context])[0]
        except guards.StepError as err:
            job = jobs[rows[0]]
            raise err.at(f"step {t} of sample {job.index}"
                         f"{'' if job.prompt is None else f' (prompt {job.prompt[:40]!r})'}") from None
        tokens = pick_rows(probs, [jobs[k].noise[t] for k in rows])
        kept = None if keep == "none" else (logits[0].float() if keep == "float32" else logits[0].to(torch.float16))
        children: dict[int, list[int]] = {}
        for k, tok in zip(rows, tokens):
            children.setdefault(tok, []).append(k)
        chosen = probs[list(children)].tolist()
        for (tok, members), p in zip(children.items(), chosen):
            for k in members:
                records[k].append((tok, p, kept))
        if bar is not None:
            bar.update(len(rows))
        follow = [(tok, members) for tok, members in children.items()
                  if t + 1 < length and not (stop_at_eos and tok == eos)]
        for n, (tok, members) in enumerate(reversed(follow)):  # the first child is computed first
            own = cache if n == len(follow) - 1 else copy.deepcopy(cache)
            nxt = torch.tensor([[tok]], dtype=ids.dtype, device=device)
            stack.append((members, t + 1, nxt, torch.cat([mask, torch.ones_like(nxt)], dim=-1), pos[:, -1:] + 1,
                          own, None if context is None else context + [tok]))
    for k, steps in records.items():
        job, sample = jobs[k], samples[k]
        n_prompt = len(job.tokens)
        for t, (tok, p, kept) in enumerate(steps):
            sample.steps.append(Step(token=tok, u=None if isinstance(job.noise[t], couplings.Gumbel) else job.noise[t],
                                     noise=job.noise[t] if isinstance(job.noise[t], couplings.Gumbel) else None,
                                     position=n_prompt + t, settings=settings, logits=kept, index=t, prob=p,
                                     sample=sample))
