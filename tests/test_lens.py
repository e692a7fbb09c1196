"""The logit lens: residuals per layer through the model's own ln_f and LM head."""
import pytest
import torch

import gpt2explore as gx
from gpt2explore import lens


def test_last_layer_equals_the_captured_logits_batched_and_padded(lm):
    prompts = ["Hi! My name is John", "Hello"]  # different lengths: left padding in a batch
    batched = lm.generate(prompts, nsamples=2, batch_size=4, length=5, seed=1, layers=True)
    alone = lm.generate(prompts, nsamples=2, batch_size=1, length=5, seed=1, layers=True)
    n_layer = lm.model.config.n_layer
    for a, b in zip(batched, alone):
        assert a.tokens == b.tokens
        for sa, sb in zip(a.steps, b.steps):
            assert sa.residual.shape == (n_layer + 1, lm.model.config.n_embd)
            assert (sa.layer_logits(-1) - sa.logits).abs().max() <= 1e-4
            assert (sa.layer_logits(n_layer) - sa.logits).abs().max() <= 1e-4
            assert (sa.layer_logits(1) - sb.layer_logits(1)).abs().max() <= 1e-4


def test_session_lens_equals_generate_lens(lm):
    run = lm.generate("Hi! My name is", length=4, seed=2, layers=True)
    session = lm.session("Hi! My name is", seed=2, layers=True)
    session.step(4)
    for a, b in zip(session.steps, run[0].steps):
        for layer in range(lm.model.config.n_layer + 1):
            assert torch.allclose(a.layer_logits(layer), b.layer_logits(layer), atol=1e-4)
    session.back(2)
    assert torch.equal(session.next_step.residual, run[0].steps[2].residual)


def test_scored_text_has_layers(lm):
    run = lm.score(" John and I went home", prompt="Hi! My name is", layers=True)
    for step in run[0].steps:
        assert (step.layer_logits(-1) - step.logits).abs().max() <= 1e-4


def test_layer_distribution_and_lens_table(lm):
    step = lm.generate("Hello there", length=3, seed=1, layers=True, top_k=20)[0].steps[1]
    logits1 = step.layer_logits(1)
    expected = gx.probabilities(logits1, temperature=0.7, top_k=20)
    assert torch.allclose(step.layer_distribution(1, temperature=0.7), expected, atol=1e-7)
    table = step.lens(top=5, temperature=0.7)
    assert list(table.columns) == ["layer", "rank", "token_id", "token", "logit", "prob", "drawn_rank"]
    assert len(table) == 5 * (lm.model.config.n_layer + 1)
    row = table[(table.layer == 1) & (table["rank"] == 1)].iloc[0]  # ranks shown to people start at 1
    assert row.token_id == int(logits1.argmax()) and row.prob == pytest.approx(float(expected[row.token_id]))
    value = logits1[step.token]
    assert table[table.layer == 1].drawn_rank.iloc[0] == int((logits1 > value).sum()) + 1


def test_ln_f_is_applied_once_through_the_models_own_module():
    tiny = gx.load("tiny", device="cpu")  # trained: its ln_f has a learned scale and bias
    step = tiny.generate("Hello", length=2, seed=1, layers=True)[0].steps[0]
    model = tiny.model
    last = step.residual[-1]
    with torch.inference_mode():
        once = model.lm_head(model.transformer.ln_f(last))
        twice = model.lm_head(model.transformer.ln_f(model.transformer.ln_f(last)))
    assert torch.allclose(step.layer_logits(-1), once, atol=1e-5)
    assert not torch.allclose(step.layer_logits(-1), twice, atol=1e-3)


def test_without_layers_or_model_clear_errors(lm, tmp_path):
    step = lm.generate("Hello", length=2, seed=1)[0].steps[0]
    with pytest.raises(ValueError, match="layers=True"):
        step.layer_logits(0)
    with_layers = lm.generate("Hello", length=2, seed=1, layers=True)[0].steps[0]
    with pytest.raises(ValueError, match="layer must be an integer in 0..2"):
        with_layers.layer_logits(7)

    class NotGPT2(torch.nn.Module):
        def get_output_embeddings(self):
            return torch.nn.Linear(2, 2)

    with pytest.raises(lens.LensError, match="GPT-2 family"):
        with gx.capture_layers(NotGPT2()):
            pass


def test_hooks_are_removed_even_when_generation_raises(lm):
    blocks = lm.model.transformer.h
    before = [len(b._forward_hooks) + len(b._forward_pre_hooks) for b in blocks]
    calls = {"n": 0}

    def boom(module, args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    handle = blocks[-1].register_forward_pre_hook(boom)
    try:
        with pytest.raises(KeyboardInterrupt):
            lm.generate("Hello", length=6, seed=1, layers=True)
    finally:
        handle.remove()
    after = [len(b._forward_hooks) + len(b._forward_pre_hooks) for b in blocks]
    assert after == before


def test_figures_show_layer_distribution(lm):
    run = lm.generate("Hi! My name is John", length=4, seed=1, layers=True)
    step = run[0].steps[1]
    fig = gx.lens_heatmap(step, n=5, temperature=0.8)
    z = fig.data[0].z
    ids = torch.topk(step.logits, 5).indices.tolist()
    for layer in (0, 1, 2):
        probs = step.layer_distribution(layer, temperature=0.8)
        assert list(z[layer][:5]) == pytest.approx([float(probs[i]) for i in ids], abs=1e-7)
    grid = gx.lens_grid(run[0])
    assert len(grid.data[0].z) == lm.model.config.n_layer + 1 and len(grid.data[0].z[0]) == 4
    top = step.layer_distribution(1).max()
    assert grid.data[0].z[1][1] == pytest.approx(float(top), abs=1e-7)


def test_widget_layer_slider_changes_the_bars_to_that_layer(lm):
    run = lm.generate("Hi! My name is John", length=3, seed=1, layers=True)
    ex = gx.explore(run, n=10)
    assert ex.layer.value == ex.layer.max == lm.model.config.n_layer
    ex.layer.value = 1
    ex.controls["temperature"].value = 0.6
    step = run[0].steps[0]
    from helpers import shown_ids

    ids = shown_ids(step.at_layer(1), 10, temperature=0.6)
    assert list(ex.fig.data[1].y) == pytest.approx(step.layer_distribution(1, temperature=0.6)[ids].tolist(),
                                                   abs=1e-7)
    st = gx.stepper(lm, "Hi", layers=True, n=10)
    st.layer.value = 0
    preview = st.session.next_step
    ids = shown_ids(preview.at_layer(0), 10)
    assert list(st.fig.data[1].y) == pytest.approx(preview.layer_distribution(0)[ids].tolist(), abs=1e-7)
    assert gx.explore(lm.generate("Hi", length=2, seed=1)).layer is None  # no layers: no slider
