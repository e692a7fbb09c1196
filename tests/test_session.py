"""Session: step / back / force / fork, with the KV cache cropped rather than rebuilt."""
import pytest
import torch


def test_session_steps_match_generate(lm):
    session = lm.session("Hi! My name is", seed=3, top_k=20)
    session.step(6)
    run = lm.generate("Hi! My name is", length=6, seed=3, top_k=20)
    assert session.sample.tokens == run[0].tokens
    for a, b in zip(session.steps, run[0].steps):
        assert (a.logits - b.logits).abs().max() <= 1e-4
    assert session.text == "Hi! My name is" + run[0].text


def test_back_then_step_repeats_tokens_without_recomputing(lm):
    session = lm.session("Hello there", seed=5)
    session.step(5)
    tokens = session.sample.tokens
    calls = session.forward_calls  # 1 prefill + 5 steps
    assert calls == 6
    removed = session.back(3)
    assert [s.token for s in removed] == tokens[2:]
    assert session.forward_calls == calls  # no forward call to go back
    assert session._cache.get_seq_length() == len(session.tokens)
    session.step(3)
    assert session.sample.tokens == tokens
    assert session.forward_calls == calls + 3  # only the three new tokens were fed


def test_next_step_preview_is_what_step_draws(lm):
    session = lm.session("Hello", seed=8, temperature=0.7)
    preview = session.next_step
    drawn = session.step()[0]
    assert preview.token == drawn.token and torch.equal(preview.logits, drawn.logits)


def test_force_records_the_distribution_it_was_chosen_against(lm):
    session = lm.session("Hi! My name is", seed=1)
    logits_before = session.next_logits
    step = session.force(" John")
    assert step.forced and step.u is None and step.token == lm.encode(" John")[0]
    assert torch.equal(step.logits, logits_before)
    assert step.prob == pytest.approx(float(step.distribution()[step.token]))
    assert session.text == "Hi! My name is John"
    session.force(lm.eos_token_id)
    with pytest.raises(ValueError, match="not one"):
        session.force(" Johnathan Smithers")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        session.force(10**6)


def test_fork_is_independent_and_shares_history(lm):
    session = lm.session("Hello", seed=2)
    session.step(3)
    other = session.fork()
    assert other.text == session.text
    other.force(" cat")
    other.step(2)
    assert session.text != other.text and len(session.steps) == 3
    session.step(2)
    # with the same draws and the same history, the original continues as it would have
    fresh = lm.session("Hello", seed=2)
    fresh.step(5)
    assert session.sample.tokens == fresh.sample.tokens
    # the fork's cache matches its own tokens: its logits equal a full forward pass
    with torch.no_grad():
        full = lm.model(torch.tensor([other.tokens])).logits[0, -1]
    assert (other.next_logits - full).abs().max() <= 1e-4


def test_set_changes_settings_for_next_steps(lm):
    session = lm.session("Hello", seed=2)
    session.step()
    session.set(temperature=0, top_k=5)
    step = session.step()[0]
    assert step.settings.temperature == 0 and session.steps[0].settings.temperature == 1.0
    assert step.token == int(step.logits.argmax())
    with pytest.raises(ValueError, match="top_p"):
        session.set(top_p=2.0)


def test_stepping_past_the_context_is_a_clear_error(lm):
    session = lm.session(" ".join(["word"] * 30), seed=1)
    room = lm.n_ctx - len(session.tokens)
    session.step(room)
    assert len(session.tokens) == lm.n_ctx
    with pytest.raises(ValueError, match="context window of 64 tokens is full"):
        session.step()
    session.back(1)
    session.step()


def test_session_bad_inputs(lm):
    with pytest.raises(ValueError, match="empty"):
        lm.session("")
    with pytest.raises(ValueError, match="n must be"):
        lm.session("Hi").step(0)
    with pytest.raises(ValueError, match="only 0 generated"):
        lm.session("Hi").back()
    with pytest.raises(ValueError, match="temperature"):
        lm.session("Hi", temperature=-2)
