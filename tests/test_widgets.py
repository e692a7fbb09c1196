"""Widgets driven without a browser: every control changes the figure to what Step gives."""
import pytest
from helpers import bars_expected

import gpt2explore as gx
from gpt2explore import plots, sampling


@pytest.fixture()
def run(lm):
    return lm.generate(["Hi! My name is Isamu", "Hello"], nsamples=2, length=5, seed=2)


def test_explore_every_control_redraws_from_the_step(run):
    e = gx.explore(run, n=15)
    cases = [("temperature", 0.4), ("top_k", 7), ("top_p", 0.3), ("semantics", "openai"), ("temperature", 2.5)]
    for name, value in cases:
        e.controls[name].value = value
        assert list(e.fig.data[1].y) == pytest.approx(bars_expected(e.step, 15, **e.settings), abs=1e-7)
    e.step_slider.value = 3
    assert list(e.fig.data[1].y) == pytest.approx(bars_expected(run[0].steps[3], 15, **e.settings), abs=1e-7)
    e.sample_select.value = 3
    assert e.step is run[3].steps[3]
    assert list(e.fig.data[1].y) == pytest.approx(bars_expected(run[3].steps[3], 15, **e.settings), abs=1e-7)
    probs = e.step.distribution(**e.settings)
    assert f"{float(sampling.entropy(probs)):.3f}" in e.readout.value
    assert f"{int(sampling.nucleus_size(probs)):,} token" in e.readout.value
    assert "Hello" in e.text.value
    assert "application/vnd.jupyter.widget-view+json" in e._repr_mimebundle_()


def _click(w, content):
    """A click message of a widget's component, as the browser sends it; the kernel's answers."""
    sent = []
    w.view.send = lambda msg, buffers=None: sent.append(msg)
    w.view._on_msg(w.view, dict(content, type="click", ask="m"), [])
    assert sent and sent[-1]["ask"] == "m"
    return sent[-1]


def test_compare_uses_the_same_draws_and_draws_more(lm):
    from gpt2explore.widgets.front import decode

    prompts = ["Hi! My name is Isamu", "Hi! My name is John"]
    c = gx.compare(lm, prompts, length=6, seed=5, top_k=40)
    a, b = c.sample_of(0), c.sample_of(1)
    assert [s.u for s in a.steps] == [s.u for s in b.steps] == sampling.uniforms(5, 0, 6).tolist()
    data = c.view.data
    assert data["kind"] == "compare" and [s["prompt"] for s in data["samples"]] == prompts
    # each column's row, whole, from the kernel: the component's bars are exact at every setting
    c.step_slider.value = 2
    assert c.view.state["step"] == 2  # a control set in Python moves the component
    for i in range(2):
        place = c.run.samples.index(c.sample_of(i))
        msg, (ids, logits, own) = _reply(c, {"type": "row", "key": f"{place}:2:null", "sample": place, "step": 2})
        ids, step = decode(ids, "i4").copy(), c.step_of(i)
        assert sorted(ids.tolist()) == list(range(step.logits.shape[-1]))
        assert decode(logits, "f8").tolist() == step.logits.double()[ids].tolist()
        assert decode(own, "f8").tolist() == step.distribution().double()[ids].tolist()
    # the component moved its controls: the Python object follows, its summary and figure too
    c.view.state = dict(c.view.state, settings=dict(c.view.state["settings"], temperature=0.5))
    assert c.settings["temperature"] == 0.5 and c.step_slider.value == 2
    js = plots.divergences(c.step_of(0).distribution(**c.settings), c.step_of(1).distribution(**c.settings))["js"]
    assert f"{js:.3f}" in c.summary.value and "step 2" in c.summary.value
    fig = c.figure()  # gx.save's static figure: what the columns show now
    assert [t.name for t in fig.data if t.type == "bar"] == prompts
    assert max(fig.data[1].y) == pytest.approx(float(c.step_of(1).distribution(**c.settings).max()), abs=1e-9)
    # the summary line the component shows is the kernel's, for the state it asks about
    asked = _click(c, {"action": "summary", "key": "k", "sample": 0, "step": 3, "settings": dict(c.settings, top_k=5)})
    js = plots.divergences(c.sample_of(0).steps[3].distribution(**dict(c.settings, top_k=5)),
                           c.sample_of(1).steps[3].distribution(**dict(c.settings, top_k=5)))["js"]
    assert asked["type"] == "summary" and asked["key"] == "k" and f"{js:.3f}" in asked["html"]
    assert "step 3" in asked["html"] and "the same draws for every prompt" in asked["html"]
    # "More samples" in the component: the kernel draws them, the view's data and selector follow
    moved = _click(c, {"action": "more"})
    assert moved["type"] == "moved" and moved["error"] is None
    assert c.sample_select.value == 1 and len(c.run) == 4 and c.view.state["sample"] == 1
    assert [s["index"] for s in c.view.data["samples"]] == [0, 1, 0, 1]
    assert [s.u for s in c.sample_of(1).steps] == sampling.uniforms(5, 1, 6).tolist()
    # the new samples are the ones a single call with nsamples=2 would give; more() from Python too
    again = lm.generate(prompts, nsamples=2, length=6, seed=5, top_k=40)
    assert sorted(s.text for s in c.run) == sorted(again.texts)
    c.more_btn.click()
    assert c.sample_select.value == 2 and len(c.view.data["samples"]) == 6 and c.view.state["sample"] == 2
    thrice = lm.generate(prompts, nsamples=3, length=6, seed=5, top_k=40)
    assert [s.tokens for s in c.run] == [s.tokens for s in thrice]
    # the component chose sample #0 again: the object follows
    c.view.state = dict(c.view.state, sample=0)
    assert c.sample_select.value == 0 and c.sample_of(1).index == 0


def test_compare_and_readouts_name_the_gumbel_coupling(lm):
    import random

    prompts = ["Hi! My name is Isamu", "Hi! My name is John"]
    c = gx.compare(lm, prompts, length=4, seed=5, coupling="gumbel")
    # the page's component, as for the cdf coupling: no plotly columns left
    assert c.view.data["kind"] == "compare" and c.view.data["coupling"] == "gumbel"
    assert all(t["u"] is None for s in c.view.data["samples"] for t in s["steps"])  # the kernel's draw, not a u
    assert "FigureWidget" not in repr(c.widget) and not hasattr(c, "figs")
    assert "the same Gumbel noise for every prompt" in c.summary.value and "same draws" not in c.summary.value
    # each column asks the kernel what its step's Gumbel noise draws under the settings shown
    rng = random.Random(3)
    for _ in range(6):
        settings = {"temperature": round(rng.uniform(0.2, 2.5), 3), "top_k": rng.choice([0, rng.randint(1, 60)]),
                    "top_p": rng.choice([1.0, round(rng.uniform(0.05, 0.99), 3)])}
        index = rng.randrange(4)
        for i in range(2):
            place = c.run.samples.index(c.sample_of(i))
            msg, _ = _reply(c, {"type": "drawn", "key": "k", "sample": place, "step": index, "layer": None,
                                "settings": settings})
            step = c.sample_of(i).steps[index]
            assert msg["type"] == "drawn" and msg["drawn"] == step.resample(**settings), (i, settings)
        asked = _click(c, {"action": "summary", "key": "s", "sample": 0, "step": index, "settings": settings})
        text = asked["html"]
        assert "the same Gumbel noise for every prompt" in text and f"step {index}" in text
        assert " u " not in text and "u=" not in text and "same draws" not in text
    # the columns' marks part where the noise says so: at T=0 both take their own argmax
    cold = {"temperature": 0.0}
    for i in range(2):
        place = c.run.samples.index(c.sample_of(i))
        msg, _ = _reply(c, {"type": "drawn", "key": "k", "sample": place, "step": 1, "settings": cold})
        assert msg["drawn"] == int(c.sample_of(i).steps[1].logits.argmax())
    e = gx.explore(c.run, n=10)
    e.controls["temperature"].value = 0.5  # not the run's settings: the readout names what the noise draws
    assert "p(the token its Gumbel noise draws here)" in e.readout.value and " u " not in e.readout.value
    cdf = gx.compare(lm, prompts, length=4, seed=5)  # the default coupling keeps its words
    assert "the same draws for every prompt" in cdf.summary.value
    assert cdf.view.data["kind"] == "compare" and cdf.view.data["coupling"] == "cdf"
    e = gx.explore(cdf.run, n=10)
    e.controls["temperature"].value = 0.5
    assert "p(the token u draws here)" in e.readout.value
    # the page's component for both: a gumbel run's says so, and its kernel says what the noise draws
    assert gx.explore(c.run).view.data["coupling"] == "gumbel" and gx.explore(cdf.run).view.data["coupling"] == "cdf"
    st = gx.stepper(lm, "Hi! My name is", seed=4, n=10)
    assert st.view.data["kind"] == "stepper" and st.view.data["coupling"] == "cdf"
    st = gx.stepper(lm, "Hi! My name is", seed=4, n=10, coupling="gumbel")
    assert st.view.data["kind"] == "stepper" and st.view.data["coupling"] == "gumbel"
    assert st.view.data["samples"][0]["steps"][-1]["u"] is None  # no u to redraw from: the kernel's draw


def test_explorer_says_why_settings_cannot_go_together_and_keeps_what_it_drew(run):
    e = gx.explore(run, n=15)
    e.controls["min_p"].value = 0.1
    drawn = (e.readout.value, e.text.value, list(e._ids), list(e.fig.data[1].y), e.last_update_ms)
    e.controls["semantics"].value = "openai"  # OpenAI's rules know no min-p: a message, not a redraw
    assert "OpenAI" in e.status.value and "min_p" in e.status.value
    assert (e.readout.value, e.text.value, list(e._ids), list(e.fig.data[1].y), e.last_update_ms) == drawn
    e.controls["min_p"].value = 0.0  # a redraw that works clears the message
    assert e.status.value == "" and e.readout.value != drawn[0]
    assert list(e.fig.data[1].y) == pytest.approx(bars_expected(e.step, 15, **e.settings), abs=1e-7)


def _reply(ex, content):
    sent = []
    ex.view.send = lambda msg, buffers=None: sent.append((msg, buffers))
    ex.view._on_msg(ex.view, dict(content, ask="a"), [])
    return sent[-1]


def test_the_live_explorer_gets_full_rows_and_follows_its_component(run):
    from gpt2explore.widgets.front import decode

    e = gx.explore(run, n=15)
    assert e.view.data["kind"] == "explorer" and e.view.data["samples"][1]["index"] == run[1].index
    msg, (ids, logits, own) = _reply(e, {"type": "row", "key": "1:2:null", "sample": 1, "step": 2, "layer": None})
    step = run[1].steps[2]
    ids, logits, own = decode(ids, "i4"), decode(logits, "f8"), decode(own, "f8")
    assert msg["ask"] == "a" and sorted(ids.tolist()) == list(range(step.logits.shape[-1]))  # the whole row
    assert logits.tolist() == step.logits.double()[ids].tolist() and list(logits) == sorted(logits, reverse=True)
    assert own.tolist() == step.distribution().double()[ids].tolist()
    assert msg["labels"][str(int(ids[0]))] == gx.next_token_bars(step, n=1).layout.xaxis.ticktext[0]
    # the component moved its controls: the Python object follows, and its figure (for gx.save) too
    e.view.state = dict(e.view.state, sample=1, step=3, settings=dict(e.view.state["settings"], top_k=4))
    assert e.step is run[1].steps[3] and e.settings["top_k"] == 4
    assert list(e.fig.data[1].y) == pytest.approx(bars_expected(e.step, 15, **e.settings), abs=1e-7)
    # a control set in Python moves the component
    e.controls["temperature"].value = 0.3
    assert e.view.state["settings"]["temperature"] == 0.3 and e.view.state["step"] == 3
    e.close()
    assert e.view._steps is None


def test_a_registered_sampler_is_computed_by_the_kernel(run):
    from gpt2explore import registry
    from gpt2explore.widgets.front import decode

    def top_a(logits, a):
        probs = logits.softmax(-1)
        return logits.masked_fill(probs < a * probs.max() ** 2, float("-inf"))

    registry.register_sampler("top_a", top_a, off=0.0, range=(0.0, 1.0), label="top-a")
    try:
        e = gx.explore(run, n=15)
        spec = next(s for s in e.view.data["samplers"] if s["name"] == "top_a")
        assert spec["kernel"] and spec["more"]  # under "more samplers", answered by the kernel
        settings = dict(e.view.state["settings"], top_a=0.5, temperature=0.8)
        _, (ids, _, _) = _reply(e, {"type": "row", "key": "0:1:null", "sample": 0, "step": 1})
        msg, (probs,) = _reply(e, {"type": "dist", "key": "k", "sample": 0, "step": 1, "settings": settings})
        step = run[0].steps[1]
        ids = decode(ids, "i4")
        assert decode(probs, "f8").tolist() == step.distribution(**settings).double()[ids].tolist()
        assert msg["drawn"] == step.resample(**settings)
    finally:
        registry.unregister_sampler("top_a")


def _move(st, content):
    """A message of the stepper's component, as the browser sends it; the kernel's answer."""
    sent = []
    st.view.send = lambda msg, buffers=None: sent.append(msg)
    st.view._on_msg(st.view, dict(content, type="click", ask="m"), [])
    assert sent and sent[-1]["type"] == "moved" and sent[-1]["ask"] == "m"
    return sent[-1]


def test_the_live_stepper_moves_its_session_by_messages_and_its_view_follows(lm):
    from gpt2explore.widgets.front import decode

    st = gx.stepper(lm, "Hi! My name is", seed=4, n=10)
    s = st.session
    assert st.view.data["kind"] == "stepper" and len(st.view.data["samples"][0]["steps"]) == 1
    preview = s.next_step
    assert _move(st, {"action": "next"})["error"] is None
    assert [x.token for x in s.steps] == [preview.token]
    data = st.view.data["samples"][0]
    assert [x["token"] for x in data["steps"][:-1]] == [preview.token] and len(data["pieces"]) == 1
    assert data["steps"][-1]["token"] == s.next_step.token and st.view.state["step"] == 1
    _move(st, {"action": "next", "n": 3})
    assert len(s.steps) == 4
    _move(st, {"action": "back"})
    assert len(s.steps) == 3
    done = _move(st, {"action": "force", "text": " John"})
    assert s.steps[-1].forced and s.text.endswith(" John")
    assert done["error"] is None and done["said"] == "forced '␣John' at step 3"  # a force says what it did
    assert done["steps"] == len(s.steps) == 4  # the data it belongs to: the component keeps the line when it comes
    bad = _move(st, {"action": "force", "text": "two tokens here"})
    # the error is said once, on the component's status line: not again under it
    assert "not one" in bad["error"] and st.status.value == "" and len(s.steps) == 4
    # a click on a bar forces that token; the settings a move carries are the component's
    token = int(s.next_step.distribution().argsort()[-3])
    _move(st, {"action": "bar", "token": token, "sample": 0, "step": 4})
    assert s.steps[-1].token == token and s.steps[-1].forced
    settings = dict(st.view.state["settings"], temperature=0.5, top_k=7)
    _move(st, {"action": "next", "settings": settings})
    assert s.settings.temperature == 0.5 and s.settings.top_k == 7 and s.steps[-1].settings.top_k == 7
    # the row the component asks for is the next step's, whole
    sent = []
    st.view.send = lambda msg, buffers=None: sent.append((msg, buffers))
    st.view._on_msg(st.view, {"type": "row", "key": "0:6:null", "sample": 0, "step": 6, "ask": "r"}, [])
    msg, (ids, logits, own) = sent[-1]
    ids = decode(ids, "i4").copy()
    assert decode(own, "f8").tolist() == s.next_step.distribution().double()[ids].tolist()
    # a slider moved in the browser sets the session's settings
    st.view.state = dict(st.view.state, settings=dict(st.view.state["settings"], top_p=0.4))
    assert s.settings.top_p == 0.4 and st.view.data["samples"][0]["steps"][-1]["settings"]["top_p"] == 0.4
    child = _move(st, {"action": "fork"}) and st.forks[-1]
    child.next()
    assert len(child.session.steps) == 7 and len(s.steps) == 6 and len(st.forks_box.children) == 1
    # a session.step() in another cell updates the same view
    s.step(2)
    assert len(st.view.data["samples"][0]["steps"]) == 9 and st.view.state["step"] == 8
    assert list(st.fig.data[1].y) == pytest.approx(bars_expected(s.next_step, 10), abs=1e-7)
    # a control set in Python sets that one setting and moves the view
    st.controls["temperature"].value = 0.0
    assert s.settings.temperature == 0.0 and s.settings.top_p == 0.4 and st.view.state["settings"]["temperature"] == 0.0
    assert sum(1 for y in st.fig.data[1].y if y > 0) == 1
    st.close()
    assert st.view._steps is None and st._on_session not in s._listeners


@pytest.mark.parametrize("kind", ["explorer", "stepper", "compare"])
def test_a_widget_whose_last_view_is_gone_closes_and_lets_go_of_its_run(lm, kind):
    """Re-running a cell removes the old widget's views; the component then says so ("gone") and
    the widget closes, so that its run (or session) is freed: runs do not pile up."""
    import gc
    import weakref

    def make():
        if kind == "explorer":
            w = gx.explore(lm.generate("Hi! My name is", length=3, seed=2), n=10)
            return w, weakref.ref(w.run)
        if kind == "compare":
            w = gx.compare(lm, ["Hi! My name is Isamu", "Hi! My name is John"], length=3, seed=2)
            return w, weakref.ref(w.run)
        w = gx.stepper(lm, "Hi! My name is", seed=4, n=10)
        return w, weakref.ref(w.session)

    kept, kept_ref = make()  # no message: ipywidgets keeps the widget, and with it the run
    kept_view = weakref.ref(kept.view)
    del kept
    gc.collect()
    assert kept_ref() is not None
    gone, gone_ref = make()
    view = gone.view
    del gone
    view._on_msg(view, {"type": "gone"}, [])
    del view
    gc.collect()
    assert gone_ref() is None, gc.get_referrers(gone_ref())
    # the widget kept without the message is still open; it closes the same way
    view = kept_view()
    view._on_msg(view, {"type": "gone"}, [])
    del view
    gc.collect()
    assert kept_ref() is None and kept_view() is None


def _settings(rng) -> dict:
    """Random settings as the component sends them (every offered sampler, semantics too)."""
    return {"temperature": rng.choice([0.0, round(rng.uniform(0.2, 2.5), 3)]), "top_k": rng.choice([0, rng.randint(1, 50)]),
            "top_p": rng.choice([1.0, round(rng.uniform(0.1, 0.99), 3)]), "min_p": rng.choice([0.0, 0.05]),
            "semantics": "hf"}


def test_the_kernel_says_what_gumbel_noise_draws_in_the_explorer_and_the_stepper(lm, tmp_path):
    import random

    rng = random.Random(11)
    run = lm.generate(["Hi! My name is", "Hello"], length=4, seed=6, coupling="gumbel")
    e = gx.explore(run, n=10)
    moved = 0
    for _ in range(12):
        settings, sample, index = _settings(rng), rng.randrange(2), rng.randrange(4)
        step = run[sample].steps[index]
        msg, buffers = _reply(e, {"type": "drawn", "key": "k", "sample": sample, "step": index, "layer": None,
                                  "settings": settings})
        assert msg["type"] == "drawn" and msg["ask"] == "a" and buffers == []
        assert msg["drawn"] == step.resample(**settings), settings
        moved += msg["drawn"] != step.token
    assert moved  # the noise draws another token somewhere: the answer is not the run's token
    with pytest.raises(gx.PageError, match="Gumbel noise") as err:  # a saved page has no kernel to ask
        gx.save(e, tmp_path / "gumbel.html")
    assert "\n" not in str(err.value)
    # the stepper of a gumbel session: the kernel's draw at the settings shown, and Next draws it
    st = gx.stepper(lm, "Hi! My name is", seed=4, n=10, coupling="gumbel")
    twin = lm.session("Hi! My name is", seed=4, coupling="gumbel")
    st.view.send = lambda msg, buffers=None: None
    for _ in range(4):
        settings = _settings(rng)
        msg, _ = _reply(st, {"type": "drawn", "key": "k", "sample": 0, "step": len(st.session.steps), "layer": None,
                             "settings": settings})
        twin.set(**{k: v for k, v in settings.items() if k != "semantics"})
        assert msg["drawn"] == twin.next_step.token == st.session.next_step.resample(**settings)
        st.view._on_msg(st.view, {"type": "click", "action": "next", "ask": "m", "settings": settings}, [])
        (drawn,) = twin.step()
        assert st.session.tokens == twin.tokens and drawn.token == msg["drawn"]
    st.back()  # Back and Force as for a cdf session; the view's data follows the session
    twin.back()
    st.force(" John")
    twin.force(" John")
    assert st.session.tokens == twin.tokens and st.view.data["samples"][0]["steps"][-2]["forced"]
    assert st.view.data["samples"][0]["steps"][-1]["token"] == twin.next_step.token


def test_the_explorer_refuses_a_top_n_bundle_in_one_line(lm, tmp_path):
    run = lm.generate("Hi! My name is", length=3, seed=1)
    loaded = gx.load_run(run.save(tmp_path / "top", logits="top", top=16))
    with pytest.raises(ValueError, match="top-N bundle") as err:
        gx.explore(loaded)
    assert "\n" not in str(err.value) and "logits='full'" in str(err.value) and "next_token_bars" in str(err.value)
    assert gx.next_token_bars(loaded[0].steps[1]).data  # the remedy it names draws the step
    assert gx.explore(gx.load_run(run.save(tmp_path / "full"))).view.data["kind"] == "explorer"  # a full bundle
