"""Every public function, walked with a table of bad values (#32, item 6): each call is one
ValueError or TypeError line that names the argument, never a torch error, an AttributeError or
a silent acceptance."""
import math

import pytest
import torch

import gpt2explore as gx


@pytest.fixture(scope="module")
def things(lm):
    run = lm.generate("Hi! My name is", length=3, seed=1)
    return {"lm": lm, "run": run, "sample": run[0], "step": run[0].steps[0]}


def _probs():
    return torch.softmax(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), -1)


# public name -> [(a bad call on the fixtures, the argument its message must name)]
BAD = {
    "Settings": [(lambda t: gx.Settings(temperature=-1), "temperature"), (lambda t: gx.Settings(top_k=-1), "top_k"),
                 (lambda t: gx.Settings(top_p="a"), "top_p"), (lambda t: gx.Settings(semantics="x"), "semantics")],
    "register_sampler": [(lambda t: gx.register_sampler(5, lambda l, v: l), "name"),
                         (lambda t: gx.register_sampler("x_b", "f"), "stage"),
                         (lambda t: gx.register_sampler("x_b", lambda l, v: l, after="nope"), "after")],
    "filter_logits": [(lambda t: gx.filter_logits("x"), "logits"),
                      (lambda t: gx.filter_logits(torch.zeros(3), temperature=-1), "temperature"),
                      (lambda t: gx.filter_logits(torch.zeros(3), repetition_penalty=1.2, context=[-1]), "context"),
                      (lambda t: gx.filter_logits(torch.zeros(3), repetition_penalty=1.2, context=[7]), "context")],
    "pick": [(lambda t: gx.pick(torch.tensor([0.5, math.nan, 0.5], dtype=torch.float64), 0.3), "probs"),
             (lambda t: gx.pick(_probs(), 1.5), "u"), (lambda t: gx.pick(_probs(), -0.1), "u"),
             (lambda t: gx.pick(_probs(), math.nan), "u"), (lambda t: gx.pick("x", 0.1), "probs"),
             (lambda t: gx.pick(torch.tensor([0.5, -0.5, 1.0], dtype=torch.float64), 0.3), "probs")],
    "probabilities": [(lambda t: gx.probabilities(torch.full((4,), -math.inf)), "logits"),
                      (lambda t: gx.probabilities(torch.full((4,), math.nan)), "logits"),
                      (lambda t: gx.probabilities(torch.tensor([math.inf, 1.0])), "logits"),
                      (lambda t: gx.probabilities([1.0, 2.0]), "logits")],
    "uniforms": [(lambda t: gx.uniforms(-1, 0, 3), "seed"), (lambda t: gx.uniforms(1, -1, 3), "sample_index"),
                 (lambda t: gx.uniforms(1, 0, -3), "n"), (lambda t: gx.uniforms(1, 0, "3"), "n")],
    "Run": [(lambda t: t["run"].to_frame(top=-1), "top"), (lambda t: t["run"].save(None), "folder"),
            (lambda t: t["run"].save_table(None), "path"), (lambda t: t["run"].verify(None), "lm")],
    "Step": [(lambda t: t["step"].top(-3), "n"), (lambda t: t["step"].lens(top=-1), "top"),
             (lambda t: t["step"].distribution(temperature=-1), "temperature"),
             (lambda t: t["step"].resample(top_k=1.5), "top_k"),
             (lambda t: t["step"].layer_logits(99), "layer")],
    "table": [(lambda t: gx.table("x"), "frame")],
    "data_path": [(lambda t: gx.data_path(5), "parts")],
    "load": [(lambda t: gx.load(None), "model"), (lambda t: gx.load(5), "model"),
             (lambda t: gx.load("tiny", device="gpu9"), "device")],
    "generate": [(lambda t: gx.generate(None, "Hi"), "lm"),
                 (lambda t: t["lm"].generate("Hi", length=2, attention="no"), "attention"),
                 (lambda t: t["lm"].generate("Hi", length=2, layers="yes"), "layers"),
                 (lambda t: t["lm"].generate("Hi", length=2, stop_at_eos="yes"), "stop_at_eos"),
                 (lambda t: t["lm"].generate("Hi", length=2, progress="yes"), "progress"),
                 (lambda t: t["lm"].generate("Hi", length=0), "length"),
                 (lambda t: t["lm"].generate("Hi", length=2, nsamples=-1), "nsamples"),
                 (lambda t: t["lm"].generate("Hi", length=2, seed=-1), "seed"),
                 (lambda t: t["lm"].generate("Hi", length=2, keep_logits="x"), "keep_logits"),
                 (lambda t: t["lm"].generate(5, length=2), "prompt"),
                 (lambda t: t["lm"].generate("Hi", length=2, coupling="x"), "coupling")],
    "Session": [(lambda t: gx.Session(None, "Hi"), "lm"), (lambda t: gx.Session(t["lm"], "Hi", seed=-1), "seed"),
                (lambda t: gx.Session(t["lm"], "Hi", layers="yes"), "layers"),
                (lambda t: gx.Session(t["lm"], "Hi", attention="no"), "attention"),
                (lambda t: gx.Session(t["lm"], "Hi", sample_index=-1), "sample_index"),
                (lambda t: gx.Session(t["lm"], "Hi").step(-1), "n")],
    "capture": [(lambda t: gx.capture(None).__enter__(), "model")],
    "capture_layers": [(lambda t: gx.capture_layers(None).__enter__(), "model")],
    "load_run": [(lambda t: gx.load_run(None), "folder"), (lambda t: gx.load_run(5), "folder")],
    "save": [(lambda t: gx.save(None, "x.png"), "obj"),
             (lambda t: gx.save(gx.next_token_bars(t["step"]), None), "path"),
             (lambda t: gx.save(gx.next_token_bars(t["step"]), "x.png", width=-5), "width")],
    "caption": [(lambda t: gx.caption(None), "obj")],
    "page": [(lambda t: gx.page(t["run"], n=0), "n"), (lambda t: gx.page(None), "obj")],
    "next_token_bars": [(lambda t: gx.next_token_bars(None), "step"), (lambda t: gx.next_token_bars(t["run"]), "step"),
                        (lambda t: gx.next_token_bars(t["step"], n=-5), "n"),
                        (lambda t: gx.next_token_bars(t["step"], log="yes"), "log")],
    "temperature_sweep": [(lambda t: gx.temperature_sweep(None), "step"),
                          (lambda t: gx.temperature_sweep(t["step"], n=0), "n"),
                          (lambda t: gx.temperature_sweep(t["step"], temperatures=[-1.0]), "temperature")],
    "generation_overview": [(lambda t: gx.generation_overview(None), "sample"),
                            (lambda t: gx.generation_overview(t["step"]), "sample")],
    "compare_next_token": [(lambda t: gx.compare_next_token(None), "items"),
                           (lambda t: gx.compare_next_token([t["step"]], n=0), "n")],
    "log_ratio_table": [(lambda t: gx.log_ratio_table(None, None), "step_a"),
                        (lambda t: gx.log_ratio_table(t["step"], t["step"], n=0), "n")],
    "draw_figure": [(lambda t: gx.draw_figure(None), "step"), (lambda t: gx.draw_figure(t["run"]), "step")],
    "sampling_stages": [(lambda t: gx.sampling_stages(None), "step"), (lambda t: gx.sampling_stages(t["step"], n=0), "n")],
    "pipeline_figure": [(lambda t: gx.pipeline_figure(None), "step"), (lambda t: gx.pipeline_figure(t["step"], n=0), "n"),
                        (lambda t: gx.pipeline_figure(t["step"], columns=0), "columns")],
    "text_view": [(lambda t: gx.text_view(None), "sample"), (lambda t: gx.text_view(t["sample"], color="x"), "color")],
    "rank_histogram": [(lambda t: gx.rank_histogram(None), "items")],
    "lens_heatmap": [(lambda t: gx.lens_heatmap(None), "step"), (lambda t: gx.lens_heatmap(t["step"], n=0), "n")],
    "lens_grid": [(lambda t: gx.lens_grid(None), "sample"), (lambda t: gx.lens_grid(t["sample"], color="x"), "color")],
    "attention_view": [(lambda t: gx.attention_view(None), "step")],
    "attention_overview": [(lambda t: gx.attention_overview(None), "step")],
    "attribution_figure": [(lambda t: gx.attribution_figure(None), "step"),
                           (lambda t: gx.attribution_figure(t["step"], top=0), "top")],
    "attribution_heatmap": [(lambda t: gx.attribution_heatmap(None), "step")],
    "attribution_by_layer": [(lambda t: gx.attribution_by_layer(None), "df")],
    "explore": [(lambda t: gx.explore(None), "run"), (lambda t: gx.explore(t["step"]), "run"),
                (lambda t: gx.explore(t["run"], n=-1), "n")],
    "stepper": [(lambda t: gx.stepper(None), "lm"), (lambda t: gx.stepper(t["lm"], "Hi", n=-1), "n")],
    "compare": [(lambda t: gx.compare(None, ["Hi"]), "lm"), (lambda t: gx.compare(t["lm"], ["Hi"], nsamples=0), "nsamples"),
                (lambda t: gx.compare(t["lm"], None), "prompts")],
    "counterfactual_view": [(lambda t: gx.counterfactual_view(None, t["run"]), "run"),
                            (lambda t: gx.counterfactual_view(t["run"], t["step"]), "cf"),
                            (lambda t: gx.counterfactual_view(t["run"], t["run"], top=0), "top")],
    "coupling_figure": [(lambda t: gx.coupling_figure(None, t["step"]), "step_a"),
                        (lambda t: gx.coupling_figure(t["step"], t["run"]), "step_b")],
    "study": [(lambda t: gx.study(None, "Hi {name}", ["A", "B"], nsamples=1, length=2, seed=1), "lm"),
              (lambda t: gx.study(t["lm"], 5, ["A", "B"], nsamples=1, length=2, seed=1), "template"),
              (lambda t: gx.study(t["lm"], "Hi {name}", None, nsamples=1, length=2, seed=1), "names"),
              (lambda t: gx.study(t["lm"], "Hi {name}", ["A", "B"], nsamples=0, length=2, seed=1), "nsamples"),
              (lambda t: gx.study(t["lm"], "Hi {name}", ["A", "B"], nsamples=1, length=2, seed=1, coupling="x"),
               "coupling")],
    "inspect": [(lambda t: gx.inspect(None, "Hi"), "lm"), (lambda t: gx.inspect(t["lm"], "Hi there", n=0), "n"),
                (lambda t: gx.inspect(t["lm"], "Hi there", color="x"), "color")],
}
# names with nothing to refuse: the version, error types, a function of no arguments, and types
# whose constructors are the package's own plumbing (the public methods of Run and Step are in
# BAD above; a Sample is indexed as a list is, with IndexError past its end)
NOTHING_TO_REFUSE = {"__version__", "ModelUnavailableError", "BundleError", "PageError", "samplers", "LM", "Sample"}


def test_the_table_covers_every_public_name():
    assert set(gx.__all__) == set(BAD) | NOTHING_TO_REFUSE


CASES = [(name, k) for name in BAD for k in range(len(BAD[name]))]


@pytest.mark.parametrize("name, k", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_a_bad_value_is_one_line_naming_the_argument(things, name, k, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    call, argument = BAD[name][k]
    with pytest.raises((ValueError, TypeError)) as err:
        call(things)
    message = str(err.value)
    assert type(err.value).__module__.split(".")[0] in ("builtins", "gpt2explore"), repr(err.value)
    assert "\n" not in message.strip() and argument in message, message
