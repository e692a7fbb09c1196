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


def _ask(widget, content):
    """A message of the widget's component, as the browser sends it; the kernel's reply."""
    sent = []
    widget.view.send = lambda msg, buffers=None: sent.append(msg)
    widget.view._on_msg(widget.view, dict(content, ask="a"), [])
    assert sent and sent[-1]["ask"] == "a"
    return sent[-1]


def test_the_why_section_is_the_kernels_attribution_and_attention(lm):
    """The live explorer's "why this token" section: the kernel answers {type: "why"} with the
    step's attribution against vs (the waterfall's rows sum to the logit difference) and the
    attention of its position at a layer and head; a click in "why" mode forks nothing."""
    import gpt2explore as gx
    from gpt2explore.model.attribution import attribution
    from gpt2explore.views.attention import attention_data

    run = lm.generate("Hi! My name is", length=5, seed=1, attention=True)
    explorer = gx.explore(run)
    assert explorer.view.data["why"]["up"] == gx.style.KEPT_COLOR  # the section's colours: the figures' own
    step = run[0].steps[2]
    rival = int(step.logits.argsort()[-4])
    got = _ask(explorer, {"type": "why", "key": "why:k", "sample": 0, "step": 2, "layer": None, "vs": rival,
                          "att_layer": 1, "head": None})
    df = attribution(step, rival)
    assert got["type"] == "why" and got["key"] == "why:k" and got["notes"] == [] and got["step"] == 2
    assert got["attribution"]["vs"] == rival and got["token"] == step.token
    rows = got["attribution"]["rows"]
    assert rows[-1][0] == "logit difference" and rows[-1][1] == pytest.approx(df["contribution"].sum())
    assert sum(r[1] for r in rows[:-1]) == pytest.approx(rows[-1][1]) == pytest.approx(df.attrs["logit_diff"], abs=1e-4)
    assert got["attention"]["weights"] == attention_data(step, 1, None)["weights"] and got["attention"]["layer"] == 1
    head = _ask(explorer, {"type": "why", "key": "why:h", "sample": 0, "step": 2, "layer": None, "vs": None,
                           "att_layer": -1, "head": 1})
    assert head["attention"]["head"] == 1 and head["attribution"]["vs"] == int(attribution(step).attrs["vs"])
    assert head["attention"]["weights"] == attention_data(step, -1, 1)["weights"]
    explorer.click.value = "why"
    explorer.view._on_msg(explorer.view, {"type": "click", "sample": 0, "step": 0, "token": rival}, [])
    assert not explorer.forks  # the why section answers that click in the browser
    bad = _ask(explorer, {"type": "why", "key": "why:bad", "sample": 0, "step": 2, "layer": None, "vs": None,
                          "att_layer": 99, "head": None})
    assert bad["type"] == "status" and bad["key"] == "why:bad" and "layer must be" in bad["text"]
    # a run without attention: the attribution, and one line saying how to get the attention
    plain = gx.stepper(lm, "Hi", seed=1)
    said = _ask(plain, {"type": "why", "key": "why:p", "sample": 0, "step": 0, "layer": None, "vs": None,
                        "att_layer": -1, "head": None})
    assert said["attention"] is None and "attention=True" in said["notes"][0] and said["attribution"]["rows"]
    assert said["token"] == plain.session.next_step.token  # the stepper's step on show: the session's next