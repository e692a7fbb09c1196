"""Beyond GPT-2 (#26): the kit on random Llama, Qwen2 and GPT-NeoX models (GPT-2's vocabulary and
BPE, so no hub and no SentencePiece): generation replays, scores, the lens, attribution,
sessions, batching, bundles and the explorer; a model that is not a causal LM is one line."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from helpers import bars_expected, make_random_causal

import gpt2explore as gx
from gpt2explore.files import page as pages
from gpt2explore.model import batching, family
from gpt2explore.model.attribution import AttributionError, attribution_by_layer
from gpt2explore.model.lens import LensError, blocks_of
from gpt2explore.views import page as page_view

FAMILIES = ("llama", "qwen2", "gpt_neox")
PROMPTS = ["Hi! My name is Isamu", "The cat"]


@pytest.fixture(scope="session")
def family_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    return {name: make_random_causal(root / name, name) for name in FAMILIES}


@pytest.fixture(scope="session", params=FAMILIES)
def flm(request, family_dirs):
    return gx.load(str(family_dirs[request.param]), device="cpu")


def test_the_family_table_names_the_parts(flm):
    fam = family.family_of(flm.model)
    assert fam.name == flm.family == flm.model.config.model_type
    blocks, norm, head = blocks_of(flm.model)
    assert len(blocks) == 2 and head is flm.model.get_output_embeddings()
    assert ("RMSNorm" in type(norm).__name__) == (fam.norm_kind == "rms")
    assert flm.n_ctx == 64 and flm.vocab_size == 50257 and flm.eos_token_id == flm.bos_token_id == 50256


def test_llama_prepends_bos_the_others_do_not(flm):
    run = flm.generate(PROMPTS[0], length=2, seed=1)
    ids = flm.encode(PROMPTS[0])
    want = [50256] + ids if flm.family == "llama" else ids
    assert run.samples[0].prompt_tokens == want
    assert run.samples[0].full_text.startswith(PROMPTS[0])
    assert flm.generate(None, length=2, seed=1).samples[0].prompt_tokens == [flm.bos_token_id]


@pytest.mark.parametrize("settings", [dict(), dict(temperature=0.7, top_k=40), dict(top_p=0.9, min_p=0.02),
                                      dict(repetition_penalty=1.3, no_repeat_ngram_size=2),
                                      dict(semantics="openai", top_k=5, top_p=0.8, temperature=0.9)])
def test_generation_replays_every_step(flm, settings):
    run = flm.generate(PROMPTS, nsamples=2, length=10, seed=5, **settings)
    run.samples += flm.generate(None, nsamples=1, length=10, seed=5, **settings).samples
    steps = [s for x in run.samples for s in x.steps]
    assert len(steps) == len(run.samples) * 10
    assert all(s.resample() == s.token for s in steps)


def test_the_same_seed_gives_the_same_tokens_whatever_the_batch(flm):
    one = flm.generate(PROMPTS, nsamples=3, length=8, seed=2, batch_size=1)
    many = flm.generate(PROMPTS, nsamples=3, length=8, seed=2, batch_size=3)
    assert [x.tokens for x in one.samples] == [x.tokens for x in many.samples]
    assert one.meta["batching"] == "rows"


def test_the_padded_strategy_where_it_is_supported(flm):
    if not batching.supports_padded(flm.model) or batching.calibrate(str(flm.device), str(flm.dtype)) is None:
        pytest.skip("no padded strategy for this model or device")
    flm.batching = "padded"
    try:
        runs = [flm.generate(PROMPTS, nsamples=2, length=8, seed=4, batch_size=b) for b in (1, 4)]
    finally:
        flm.batching = "auto"
    assert runs[0].meta["batching"] == "padded"
    assert [x.tokens for x in runs[0].samples] == [x.tokens for x in runs[1].samples]
    for a, b in zip(runs[0].samples, runs[1].samples):
        assert all(torch.equal(s.logits, t.logits) for s, t in zip(a.steps, b.steps))


def test_score_equals_a_plain_forward(flm):
    text = " and then the dog barked at the moon, twice."
    run = flm.score(text, prompt=PROMPTS[0])
    context = run.samples[0].context_tokens
    with torch.inference_mode():
        logp = flm.model(torch.tensor([context[:-1]])).logits[0].float().log_softmax(-1)  # (T, V)
    for step in run.samples[0].steps:
        mine = step.logits.float().log_softmax(-1)
        assert (mine - logp[step.position - 1]).abs().max() <= 1e-4
        assert abs(step.raw_prob - float(logp[step.position - 1, step.token].exp())) <= 1e-4
    assert [s.token for s in run.samples[0].steps] == flm.encode(text)


def test_the_lens_last_layer_equals_the_final_logits(flm):
    run = flm.generate(PROMPTS, length=5, seed=3, layers=True)
    for step in run.samples[1].steps:
        assert step.residual.shape == (3, 32)
        assert (step.layer_logits(-1) - step.logits).abs().max() <= 1e-4
    scored = flm.score("the moon", layers=True)
    last = scored.samples[0].steps[-1]
    assert (last.layer_logits(2) - last.logits).abs().max() <= 1e-4
    assert not torch.allclose(last.layer_logits(0), last.logits)  # the embeddings read otherwise


def test_attribution_sums_to_the_logit_difference(flm):
    run = flm.generate(PROMPTS[0], length=4, seed=7)
    for step in run.samples[0].steps:
        df = step.attribution()
        assert abs(df.attrs["sum"] - df.attrs["logit_diff"]) <= 1e-3
        assert abs(df.attrs["recomputed_logit_diff"] - df.attrs["logit_diff"]) <= 1e-3
    heads = df[df.kind == "head"]
    assert len(heads) == 2 * flm.model.config.num_attention_heads
    has_bias = flm.family == "gpt_neox"  # NeoX's dense and final LayerNorm have biases; Llama/Qwen2 none
    assert (df.kind == "attn_bias").any() == has_bias and (df.kind == "ln_bias").any() == has_bias
    by_layer = attribution_by_layer(df)
    outside = df.loc[df.layer.isna(), "contribution"].sum()
    assert abs(by_layer.total.sum() + outside - df.attrs["sum"]) <= 1e-6
    with pytest.raises(AttributionError, match="vs must differ"):
        step.attribution(vs=step.token)


def test_a_session_steps_back_forces_and_forks(flm):
    s = flm.session(PROMPTS[1], seed=11, top_k=50)
    first = [st.token for st in s.step(4)]
    s.back(2)
    assert [st.token for st in s.step(2)] == first[2:]
    fork = s.fork()
    s.force(" the")
    assert s.steps[-1].forced and s.steps[-1].token == flm.token_id(" the")
    more, forked = s.step(2), fork.step(2)
    assert all(st.resample() == st.token for st in s.steps if not st.forced)
    assert all(st.resample() == st.token for st in fork.steps)
    assert len(more) == len(forked) == 2
    assert flm.generate(PROMPTS[1], length=4, seed=11, top_k=50).samples[0].tokens == first  # the same draws


def test_a_bundle_saves_loads_without_the_model_and_verifies(flm, tmp_path):
    run = flm.generate(PROMPTS, nsamples=2, length=6, seed=9, top_p=0.9)
    run.save(tmp_path / "bundle")
    back = gx.load_run(tmp_path / "bundle")
    assert back.lm is None
    assert [x.text for x in back.samples] == [x.text for x in run.samples]
    assert all(s.resample() == s.token for x in back.samples for s in x.steps)
    verdict = back.verify(flm)
    assert verdict.ok and verdict.weights_match, verdict
    assert run.verify(flm).ok


def test_the_explorer_builds_and_its_page_holds_each_steps_token(flm):
    run = flm.generate(PROMPTS[0], nsamples=2, length=5, seed=1, layers=True)
    explorer = gx.explore(run)
    assert explorer.fig.data[1].y is not None and len(explorer.fig.data[1].y) >= 20
    data = pages.data_of(explorer)
    for sample, stored in zip(run, data["samples"]):
        for step, kept in zip(sample.steps, stored["steps"]):
            ids = page_view.unb64(kept["ids"], "int32").tolist()
            own = page_view.unb64(kept["own"], "float64")
            assert step.token in ids and abs(float(own[ids.index(step.token)]) - step.prob) < 1e-12


def test_the_stepper_moves_its_session_and_draws_the_next_stepsbars_expected(flm):
    st = gx.stepper(flm, PROMPTS[0], seed=4, n=10)
    s = st.session
    preview = s.next_step
    st.next()
    assert [x.token for x in s.steps] == [preview.token]
    st.next(3)
    st.back()
    assert len(s.steps) == 3
    st.force(" John")
    assert s.steps[-1].forced and s.text.endswith(" John")
    st.controls["top_k"].value = 5
    assert s.settings.top_k == 5
    assert list(st.fig.data[1].y) == pytest.approx(bars_expected(s.next_step, 10, top_k=5), abs=1e-7)
    assert sum(1 for y in st.fig.data[1].y if y > 0) == 5
    child = st.fork()
    child.next()
    assert len(child.session.steps) == 5 and len(s.steps) == 4


def test_compare_columns_share_their_draws_and_show_each_stepsbars_expected(flm):
    from gpt2explore.widgets.front import answer, decode

    c = gx.compare(flm, PROMPTS, length=4, seed=5, top_k=40)
    a, b = c.sample_of(0), c.sample_of(1)
    assert [x.u for x in a.steps] == [x.u for x in b.steps]
    c.step_slider.value = 2
    c.controls["temperature"].value = 0.5
    assert c.view.state["step"] == 2 and c.view.state["settings"]["temperature"] == 0.5
    for i in range(2):  # each column's bars come from its whole row, which the kernel sends
        place = c.run.samples.index(c.sample_of(i))
        _, (ids, logits, own) = answer({"type": "row", "sample": place, "step": 2}, c._view_step)
        ids, step = torch.from_numpy(decode(ids, "i4").astype("int64")), c.step_of(i)
        assert decode(logits, "f8").tolist() == step.logits.double()[ids].tolist()
        assert decode(own, "f8").tolist() == step.distribution().double()[ids].tolist()


def test_the_inspector_recolours_the_text_by_the_settings(flm):
    from gpt2explore.figures.textview import IMPOSSIBLE

    ins = gx.inspect(flm, "Hi! My name is Isamu and I like the cat")
    ins.controls["top_k"].value = 3
    bad = sum(1 for shape in ins.figure().layout.shapes if shape.fillcolor == IMPOSSIBLE)
    assert bad == sum(1 for x in ins.sample.steps if x.rank0 >= 3) > 0
    assert f"<b>{bad} token" in ins.totals.value


def test_the_command_line_samples_from_a_folder_of_the_family(flm):
    folder = flm.source
    out = subprocess.run([sys.executable, "-m", "gpt2explore", "sample", "--model_name", str(folder), "--nsamples=2",
                          "--length=4", "--seed=1"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    headers = [line for line in out.stdout.splitlines() if line.startswith("=" * 40)]
    assert headers == [f"{'=' * 40} SAMPLE {i} {'=' * 40}" for i in (1, 2)], out.stdout


def test_attention_is_what_eager_attention_gives_and_leaves_the_tokens_alone(flm):
    """The queries after the rotary embedding, read from the model's own call of its attention
    function; grouped-query key heads shared as the model shares them (Llama and Qwen2 here have 2
    key heads for 4 query heads)."""
    from transformers import AutoModelForCausalLM
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    eager = AutoModelForCausalLM.from_pretrained(flm.source, attn_implementation="eager").eval()

    def check(step):
        with torch.inference_mode():
            out = eager(torch.tensor([step.context_tokens]), output_attentions=True)
        want = torch.stack([a[0, :, -1, :] for a in out.attentions])
        got = step.attention()
        assert got.shape == want.shape and (got - want).abs().max() <= 1e-5, (flm.family, got.shape, want.shape)

    run = flm.generate(PROMPTS, nsamples=2, length=6, seed=3, attention=True, batch_size=4)
    assert [x.tokens for x in run] == [x.tokens for x in flm.generate(PROMPTS, nsamples=2, length=6, seed=3)]
    flm.batching = "padded"  # rows batched for real, left padding dropped from the weights
    try:
        padded = flm.generate(PROMPTS, length=4, seed=3, attention=True, batch_size=2)
    finally:
        flm.batching = "auto"
    assert padded.meta["batching"] == "padded"
    for sample in list(run) + list(padded):
        for step in sample.steps[::2]:
            check(step)
    s = flm.session(PROMPTS[0], seed=2, attention=True)
    s.step(2)
    s.force(" John")
    s.back(1)
    for step in s.steps + [s.next_step]:
        check(step)
    assert "get_interface" not in vars(ALL_ATTENTION_FUNCTIONS)  # the wrapper is gone with its block
    with pytest.raises(IndexError):  # a forward that fails inside the block: the wrapper goes too
        _forward_beyond_vocabulary(flm)
    assert "get_interface" not in vars(ALL_ATTENTION_FUNCTIONS)


def test_the_why_section_shows_attention_and_attribution(flm):
    from test_attention import _ask

    run = flm.generate(PROMPTS[0], length=4, seed=1, attention=True)
    explorer = gx.explore(run)
    got = _ask(explorer, {"type": "why", "key": "why:k", "sample": 0, "step": 2, "layer": None, "vs": None,
                          "att_layer": -1, "head": None})
    assert got["notes"] == [] and got["step"] == 2 and got["attention"] is not None
    rows = got["attribution"]["rows"]
    assert sum(r[1] for r in rows[:-1]) == pytest.approx(rows[-1][1])


def _forward_beyond_vocabulary(flm):
    from gpt2explore.model.attention import capture_attention

    with capture_attention(flm.model):
        flm.model(torch.tensor([[10 ** 6]]))


def _bert_folder(folder, masked: bool):
    from transformers import BertConfig, BertForMaskedLM, BertModel

    config = BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32)
    (BertForMaskedLM if masked else BertModel)(config).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("masked", [True, False], ids=["BertForMaskedLM", "BertModel"])
def test_an_encoder_is_a_one_line_error(tmp_path, masked):
    folder = _bert_folder(tmp_path / "bert", masked)
    with pytest.raises(ValueError) as caught:
        gx.load(str(folder), device="cpu")
    msg = str(caught.value)
    assert "\n" not in msg and "not a causal LM" in msg
    assert ("BertForMaskedLM" if masked else "BertModel") in msg


def test_a_seq2seq_model_is_a_one_line_error(tmp_path):
    from transformers import T5Config, T5ForConditionalGeneration

    config = T5Config(vocab_size=100, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2)
    T5ForConditionalGeneration(config).save_pretrained(tmp_path / "t5")
    with pytest.raises(ValueError) as caught:
        gx.load(str(tmp_path / "t5"), device="cpu")
    msg = str(caught.value)
    assert "\n" not in msg and "sequence-to-sequence" in msg and "T5ForConditionalGeneration" in msg


def test_a_family_the_table_does_not_know_is_named(flm):
    class Other(torch.nn.Module):
        config = type("Config", (), {"model_type": "mamba"})()

        def get_output_embeddings(self):
            return torch.nn.Linear(2, 2)

    with pytest.raises(LensError, match="model_type 'mamba'") as caught:
        blocks_of(Other())
    assert "\n" not in str(caught.value)
    with pytest.raises(family.FamilyError, match="mamba"):
        family.family_of(Other())


def _sentencepiece_tokenizer():
    """A small Llama-style tokenizer built offline: BPE over '▁'-marked words with byte fallback."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{f"<0x{b:02X}>": 3 + b for b in range(256)}}
    for piece in ["▁", "t", "h", "e", "c", "a", "▁t", "▁th", "▁the", "▁c", "▁ca", "▁cat"]:
        vocab[piece] = len(vocab)
    merges = [("▁", "t"), ("▁t", "h"), ("▁th", "e"), ("▁", "c"), ("▁c", "a"), ("▁ca", "t")]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def test_sentencepiece_pieces_show_their_spaces_and_bytes():
    from gpt2explore.core.tokens import piece_bytes, token_label

    tok = _sentencepiece_tokenizer()
    ids = tok.encode("the cat é", add_special_tokens=False)
    pieces = tok.convert_ids_to_tokens(ids)
    assert pieces[:2] == ["▁the", "▁cat"] and "<0xC3>" in pieces  # 'é' falls back to its two bytes

    class Step:  # what token_label reads of a step: decode and the tokenizer's own piece
        decode = staticmethod(lambda i: tok.decode([i]))
        token_piece = staticmethod(tok.convert_ids_to_tokens)

    labels = [token_label(Step, i) for i in ids]
    assert labels[:2] == ["␣the", "␣cat"]  # SentencePiece alone decodes '▁the' as 'the'
    assert "‹c3›" in labels and "‹a9›" in labels and "\ufffd" not in "".join(labels)
    assert b"".join(piece_bytes(p) for p in pieces) == " the cat é".encode()
    assert token_label(Step, tok.convert_tokens_to_ids("t")) == "t"
