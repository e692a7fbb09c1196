"""The capture hook: records each forward call's newest logits and always goes away."""
import pytest
import torch

import gpt2explore as gx
from gpt2explore.model.capture import lm_head


def _hooks(model):
    return sum(len(m._forward_hooks) for m in model.modules())


def test_hooks_removed_after_normal_exit(lm):
    before = _hooks(lm.model)
    with gx.capture(lm.model) as cap:
        assert _hooks(lm.model) == before + 1
        lm.model(torch.tensor([[1, 2, 3]]))
    assert _hooks(lm.model) == before
    assert len(cap) == 1 and cap.logits[0].shape == (1, lm.vocab_size)


def test_hooks_removed_after_exception(lm):
    before = _hooks(lm.model)
    with pytest.raises(RuntimeError, match="boom"):
        with gx.capture(lm):
            lm.model(torch.tensor([[1, 2]]))
            raise RuntimeError("boom")
    assert _hooks(lm.model) == before
    assert len(lm_head(lm.model)._forward_hooks) == 0


def test_capture_around_transformers_generate_matches_output_logits(lm):
    ids = torch.tensor([lm.encode("Hi! My name is John")])
    with gx.capture(lm.model) as cap:
        out = lm.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=6,
                                do_sample=False, output_logits=True, return_dict_in_generate=True,
                                pad_token_id=lm.eos_token_id)
    assert len(cap.logits) == 6 == len(out.logits)
    for mine, theirs in zip(cap.logits, out.logits):
        assert mine.shape == theirs.shape == (1, lm.vocab_size)
        assert torch.allclose(mine.float(), theirs.float(), atol=1e-5, rtol=0)
    # greedy tokens are the argmax of what was captured
    assert out.sequences[0, ids.shape[1]:].tolist() == [int(x.argmax()) for x in cap.logits]
