"""gx.inspect on the page's own component, driven without a browser: the kernel's answers are
Python's numbers, and the Python object follows the component's controls."""
import gc
import math
import random
import weakref

import pytest
from helpers import bars_expected

import gpt2explore as gx
from gpt2explore.widgets.front import decode

TEXT = "Hi! My name is Isamu and I like the cat. It sleeps on the mat all day long, and then it eats."


@pytest.fixture(scope="module")
def tiny():
    return gx.load("tiny", device="cpu")


def _ask(ins, content):
    """A message of the component, as the browser sends it; the kernel's reply and buffers."""
    sent = []
    ins.view.send = lambda msg, buffers=None: sent.append((msg, buffers))
    ins.view._on_msg(ins.view, dict(content, ask="a"), [])
    assert sent and sent[-1][0]["ask"] == "a"
    return sent[-1]


def _random_settings(rng, start: dict) -> dict:
    s = dict(start, temperature=round(rng.uniform(0.2, 2.5), 3), top_k=rng.choice([0, rng.randint(1, 60)]),
             top_p=rng.choice([1.0, round(rng.uniform(0.05, 0.99), 3)]))
    if rng.random() < 0.5:
        s["min_p"] = round(rng.uniform(0, 0.3), 3)
    if rng.random() < 0.5:
        s["typical_p"] = round(rng.uniform(0.2, 0.99), 3)
    return s


def test_the_kernels_allowed_answer_is_pythons_at_random_settings(tiny):
    ins = gx.inspect(tiny, TEXT)
    assert ins.view.data["kind"] == "inspect" and ins.view.data["scored"]
    rng = random.Random(11)
    some_cut = some_kept = 0
    for _ in range(6):
        settings = _random_settings(rng, ins.view.state["settings"])
        msg, (buffer,) = _ask(ins, {"type": "allowed", "key": "k", "settings": settings})
        probs = decode(buffer, "f8").tolist()
        want = [float(s.distribution(**settings)[s.token]) for s in ins.sample.steps]
        assert probs == want, settings  # exactly: the browser shows these numbers
        summary = ins.run.summary(**settings).iloc[0]
        assert msg["type"] == "allowed" and msg["impossible"] == summary.impossible == sum(p == 0 for p in want)
        if math.isfinite(summary.logprob):
            assert msg["logprob"] == summary.logprob
        else:
            assert msg["logprob"] is None
        some_cut += msg["impossible"] > 0
        some_kept += msg["impossible"] < len(want)
    assert some_cut and some_kept  # the settings tried both cut and kept tokens of the text
    bad = _ask(ins, {"type": "allowed", "key": "k", "settings": dict(ins.view.state["settings"], top_p=0)})[0]
    assert bad["type"] == "status" and "top_p" in bad["text"]


def test_the_position_row_is_whole_and_the_controls_follow_the_component(tiny):
    ins = gx.inspect(tiny, TEXT, n=12)
    msg, (ids, logits, own) = _ask(ins, {"type": "row", "key": "0:5:null", "sample": 0, "step": 5, "layer": None})
    step = ins.sample.steps[5]
    ids = decode(ids, "i4")
    assert sorted(ids.tolist()) == list(range(step.logits.shape[-1]))
    assert decode(logits, "f8").tolist() == step.logits.double()[ids.copy()].tolist()
    assert decode(own, "f8").tolist() == step.distribution().double()[ids.copy()].tolist()
    # the reader moved the component: position, colour and settings follow; the bars (for gx.save) too
    settings = dict(ins.view.state["settings"], top_k=4, temperature=0.7)
    ins.view.state = dict(ins.view.state, step=5, colour="surprisal", settings=settings)
    assert ins.position.value == 5 and ins.color.value == "surprisal" and ins.settings == settings
    assert list(ins.fig.data[1].y) == pytest.approx(bars_expected(step, 12, **settings), abs=1e-7)
    assert ins.totals.value == ""  # these settings' totals wait for the component's own question
    _ask(ins, {"type": "allowed", "key": "k", "settings": settings})
    bad = sum(1 for s in ins.sample.steps if float(s.distribution(**settings)[s.token]) == 0)
    assert f"<b>{bad} token" in ins.totals.value
    assert ins.figure().layout.title.text.startswith(f"{len(ins.sample)} tokens coloured by surprisal")
    # a control set in Python moves the component, and its totals come at once
    ins.controls["top_p"].value = 0.5
    ins.position.value = 2
    ins.color.value = "rank"
    state = ins.view.state
    assert state["settings"]["top_p"] == 0.5 and state["step"] == 2 and state["colour"] == "rank"
    probs = ins.allowed()
    assert f"<b>{sum(p == 0 for p in probs)} token" in ins.totals.value
    # the colour modes the component paints are the text view's own
    fig = gx.text_view(ins.sample, "rank")
    fills = [s.fillcolor for s in fig.layout.shapes]
    assert ins.view.data["colours"]["rank"]["fills"] == fills
    assert [name for _, name in ins.view.data["colours"]["rank"]["legend"]] == [t.name for t in fig.data[-4:]]


def test_closing_the_inspector_frees_its_run(tiny):
    ins = gx.inspect(tiny, TEXT)
    ins.allowed(dict(ins.settings, top_k=3))
    ref = weakref.ref(ins.run)
    view = ins.view
    ins.close()
    assert view._steps is None and view._answers == {}
    del ins
    gc.collect()
    assert ref() is None


def test_an_inspector_whose_last_view_is_gone_closes_and_lets_go_of_its_run(tiny):
    """Re-running the cell removes its view; the component says so ("gone"), the inspector closes
    and its run is freed."""
    ins = gx.inspect(tiny, TEXT)
    ref, view = weakref.ref(ins.run), ins.view
    view._on_msg(view, {"type": "gone"}, [])
    ins.close()  # closed already: nothing more to do
    del ins, view
    gc.collect()
    assert ref() is None
