"""CUDA checks of the core (acceptance 1, 2, 4, 5 on the GPU); skipped, saying so, without CUDA."""
import pytest
import torch

from gpt2explore import sampling

pytestmark = pytest.mark.gpu
PROMPTS = ["Hi! My name is Isamu", "Hello", "The quick brown fox jumps over the"]


def test_model_and_captured_logits_stay_on_cuda(cuda_lm):
    run = cuda_lm.generate(PROMPTS, nsamples=2, batch_size=3, length=8, seed=1, top_k=20)
    assert next(cuda_lm.model.parameters()).device.type == "cuda"
    assert all(step.logits.device.type == "cuda" for s in run for step in s.steps)


def test_capture_parity_on_cuda(cuda_lm):
    run = cuda_lm.generate(PROMPTS, nsamples=1, batch_size=3, length=8, seed=2)
    for sample in run:
        with torch.no_grad():
            full = cuda_lm.model(torch.tensor([sample.context_tokens[:-1]], device="cuda")).logits[0]
        for step in sample.steps:
            assert (step.logits - full[step.position - 1]).abs().max() <= 1e-4


def test_batched_equals_unbatched_on_cuda(cuda_lm):
    together = cuda_lm.generate(PROMPTS, batch_size=3, length=8, seed=3)
    for i, p in enumerate(PROMPTS):
        assert cuda_lm.generate(p, length=8, seed=3)[0].tokens == together[i].tokens


def test_same_tokens_on_cuda_as_on_cpu_and_sampler_matches(cuda_lm, lm):
    gpu = cuda_lm.generate("Hello", nsamples=3, batch_size=3, length=8, seed=4, top_k=40)
    cpu = lm.generate("Hello", nsamples=3, batch_size=1, length=8, seed=4, top_k=40)
    assert gpu.texts == cpu.texts
    step = gpu[0].steps[3]
    probs = step.distribution(temperature=0.7)
    draws = sampling.pick(probs, torch.rand(20_000, dtype=torch.float64))
    assert draws.device.type == "cuda" and bool((probs[draws] > 0).all())
    assert cuda_lm.generate("Hello", length=6, temperature=0, seed=0)[0].tokens == \
        lm.generate("Hello", length=6, temperature=0, seed=0)[0].tokens
