"""Attention per step: what the position that produced a step's logits attended to equals
transformers' own eager attention, in generation (any batching) and in sessions (force, back,
fork), and the hooks never outlive their block."""
from __future__ import annotations

import pytest
import torch
from transformers import GPT2LMHeadModel

from gpt2explore.model.attention import AttentionError, capture_attention


@pytest.fixture(scope="module")
def eager(rnd_dir):
    """The same random GPT-2 with transformers' eager attention, which returns its weights."""
    return GPT2LMHeadModel.from_pretrained(rnd_dir, attn_implementation="eager").eval()


def reference(eager, context: list[int]) -> torch.Tensor:
    """(n_layer, n_head, n_context): eager attention of the last position of `context`."""
    with torch.inference_mode():
        out = eager(torch.tensor([context]), output_attentions=True)
    return torch.stack([a[0, :, -1, :] for a in out.attentions])


def check_step(eager, step) -> None:
    got = step.attention()
    want = reference(eager, step.context_tokens)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert torch.allclose(got.sum(-1), torch.ones(got.shape[:-1]), atol=1e-5)
    assert (got - want).abs().max() <= 1e-5, float((got - want).abs().max())


def test_generation_records_what_eager_attention_gives(lm, eager):
    run = lm.generate(["Hi! My name is Isamu", "Hi"], nsamples=2, length=10, seed=3, attention=True, batch_size=4)
    assert run.meta["attention"]
    for sample in run:
        for step in sample.steps[::3]:
            check_step(eager, step)
        assert sample.steps[4].attention().shape[-1] == len(sample.prompt_tokens) + 4


def test_the_padded_strategy_drops_the_left_padding(lm, eager):
    lm.batching = "padded"
    try:
        run = lm.generate(["Hi! My name is Isamu", "Hi"], length=6, seed=3, attention=True, batch_size=2)
    finally:
        lm.batching = "auto"
    assert run.meta["batching"] == "padded"
    for sample in run:
        for step in sample.steps:
            check_step(eager, step)


def test_sessions_keep_attention_through_force_back_and_fork(lm, eager):
    s = lm.session("Hi! My name is", seed=2, attention=True)
    assert s.next_step.attention().shape[-1] == len(s.tokens)
    s.step(3)
    s.force(" John")
    for step in s.steps:
        check_step(eager, step)
    check_step(eager, s.next_step)  # the preview: its context is everything so far
    s.back(2)
    check_step(eager, s.next_step)
    fork = s.fork()
    fork.step(2)
    s.force(" and")
    for step in fork.steps + s.steps:
        check_step(eager, step)
    plain = lm.session("Hi", seed=2)
    with pytest.raises(ValueError, match="attention=True"):
        plain.next_step.attention()


def test_the_hooks_are_removed_also_when_the_forward_fails(lm):
    model = lm.model
    count = lambda: sum(len(m._forward_hooks) for m in model.modules())  # noqa: E731
    before = count()
    with pytest.raises(IndexError):
        with capture_attention(model):
            assert count() == before + model.config.n_layer
            model(torch.tensor([[10 ** 6]]))  # an id beyond the vocabulary
    assert count() == before


def test_a_model_without_attention_the_table_knows_is_refused_in_one_line():
    with pytest.raises(AttentionError, match="attention=True reads the families gpt2, llama"):
        with capture_attention(torch.nn.Linear(2, 2)):
            pass


def test_the_attention_figures_carry_provenance_and_export(lm, tmp_path):
    import gpt2explore as gx

    run = lm.generate("Hi! My name is", length=5, seed=1, attention=True)
    step = run[0].steps[3]
    view = gx.attention_view(step)
    shaded = [s.fillcolor for s in view.layout.shapes]
    assert len(shaded) == len(step.context_tokens)
    top = max(range(len(shaded)), key=lambda i: float(shaded[i].rsplit(",", 1)[1].rstrip(")")))
    mean = step.attention()[-1].mean(0)
    assert top == int(mean.argmax())  # the deepest shade is where the mean of the heads looked most
    one = gx.attention_view(step, layer=0, head=1)
    assert one.layout.meta["layer"] == 0 and one.layout.meta["head"] == 1
    overview = gx.attention_overview(step)
    assert [len(r) for r in overview.data[0].z] == [step.attention().shape[1]] * step.attention().shape[0]
    for fig in (view, overview):
        assert "seed 1" in gx.caption(fig)
        assert gx.save(fig, tmp_path / "f.json").stat().st_size > 0
    with pytest.raises(ValueError, match="head must be"):
        gx.attention_view(step, head=99)


def test_the_why_panel_draws_when_open_and_explains_a_clicked_bar(lm):
    import gpt2explore as gx

    run = lm.generate("Hi! My name is", length=5, seed=1, attention=True)
    explorer = gx.explore(run)
    panel = explorer.why
    assert panel.attribution_fig is None  # closed: nothing computed
    panel.widget.selected_index = 0
    assert panel.attention_fig is not None and panel.attribution_fig is not None and panel.status.value == ""
    rival = explorer._ids[3]
    explorer.click.value = "why"
    explorer.view._on_msg(explorer.view, {"type": "click", "sample": 0, "step": 0, "token": rival}, [])  # the component's click
    assert panel.vs.value == rival and not explorer.forks
    assert panel.attribution_fig.layout.meta["attribution"]["vs"] == rival
    explorer.step_slider.value = 2
    assert panel.attention_fig.layout.meta["gpt2explore"]["step"] == 2
    # the head control: a value the browser shows (a Dropdown at None is an empty box), the mean first
    assert panel.head.value is not None and panel.head.label == "mean of the heads"
    assert panel.attention_fig.layout.meta["head"] is None
    panel.head.value = 1
    assert panel.attention_fig.layout.meta["head"] == 1
    panel.head.index = 0
    assert panel.attention_fig.layout.meta["head"] is None
    plain = gx.stepper(lm, "Hi", seed=1)
    plain.why.widget.selected_index = 0
    assert "attention=True" in plain.why.status.value and plain.why.attribution_fig is not None
