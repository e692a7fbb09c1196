"""Exports: figures to files with provenance, tables, and run bundles that replay exactly."""
import io
import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import torch
from lab import require_chromium

import gpt2explore as gx
from gpt2explore import bundle, export


@pytest.fixture(scope="module")
def run(lm):
    return lm.generate(["Hi! My name is Isamu", "Hi! My name is John"], nsamples=2, length=6, seed=1, top_k=40)


@pytest.fixture(scope="module")
def fig(run):
    return gx.next_token_bars(run[0].steps[1], temperature=0.7)


def check_facts(facts, run):
    assert facts["model"] == run.model_name and len(facts["weights_sha256"]) == 64
    assert facts["prompt"] == "Hi! My name is Isamu" and facts["seed"] == 1 and facts["step"] == 1
    assert facts["settings"]["temperature"] == 0.7 and facts["sampled_with"]["top_k"] == 40
    assert facts["device"] == "cpu" and {"gpt2explore", "torch", "transformers"} <= set(facts["versions"])


def test_html_is_self_contained_with_provenance(tmp_path, fig, run):
    path = gx.save(fig, tmp_path / "bars.html")
    text = path.read_text()
    assert "<script src=\"http" not in text and "src='http" not in text
    assert len(text) > 1_000_000 and "Plotly" in text  # plotly.js is inlined
    blob = text.split('id="gpt2explore-provenance">')[1].split("</script>")[0]
    check_facts(json.loads(blob), run)
    sidecar = json.loads((tmp_path / "bars.html.json").read_text())
    check_facts(sidecar["provenance"], run)
    assert sidecar["caption"] == gx.caption(fig)


def test_json_carries_provenance(tmp_path, fig, run):
    path = gx.save(fig, tmp_path / "bars.json")
    data = json.loads(path.read_text())
    check_facts(data["layout"]["meta"]["gpt2explore"], run)
    assert data["data"][1]["y"] == pytest.approx(list(fig.data[1].y))


def test_caption_names_the_facts(fig, run):
    text = gx.caption(fig)
    for part in ["step 1", "'Hi! My name is Isamu'", "seed 1", "T=0.7", "top-k=40", run.weights_sha256[:12]]:
        assert part in text
    from gpt2explore.core.settings import describe

    shown = describe(run.settings.replace(temperature=0.7))  # the figure's settings, in its title's words
    assert shown in text and shown in fig.layout.title.text
    assert "\n" not in text


def test_saving_a_widget_saves_what_it_shows(tmp_path, run):
    ex = gx.explore(run, n=10)
    ex.controls["temperature"].value = 1.7
    ex.step_slider.value = 4
    data = json.loads(gx.save(ex, tmp_path / "explore.json").read_text())
    from helpers import shown_ids

    ids = shown_ids(run[0].steps[4], 10, **ex.settings)
    assert data["data"][1]["y"] == pytest.approx(run[0].steps[4].distribution(**ex.settings)[ids].tolist())
    # the widget's own plotly FigureWidget (not a go.Figure subclass) saves the same
    alone = json.loads(gx.save(ex.fig, tmp_path / "explore_fig.json").read_text())
    assert alone["data"][1]["y"] == data["data"][1]["y"]
    c = gx.compare(run.lm, ["Hi! My name is Isamu", "Hi! My name is John"], length=3, seed=1)
    data = json.loads(gx.save(c, tmp_path / "compare.json").read_text())
    assert [t["name"] for t in data["data"] if t["type"] == "bar"] == ["Hi! My name is Isamu", "Hi! My name is John"]


def test_bad_export_requests(tmp_path, fig):
    with pytest.raises(ValueError, match=r"\.gif"):
        gx.save(fig, tmp_path / "x.gif")
    with pytest.raises(ValueError, match="does not exist"):
        gx.save(fig, tmp_path / "nope" / "x.html")
    with pytest.raises(TypeError, match="int"):
        gx.save(3, tmp_path / "x.html")


@pytest.mark.browser
def test_static_formats_are_valid_and_not_blank(tmp_path, fig, run):
    require_chromium()
    from PIL import Image, ImageStat

    png = gx.save(fig, tmp_path / "bars.png", width=640, height=400, scale=2)
    image = Image.open(io.BytesIO(png.read_bytes()))
    assert image.size == (1280, 800)
    variance = ImageStat.Stat(image.convert("L")).var[0]
    assert variance > 100  # not a blank page
    check_facts(json.loads((tmp_path / "bars.png.json").read_text())["provenance"], run)
    svg = gx.save(fig, tmp_path / "bars.svg").read_text()
    assert svg.lstrip().startswith("<svg") and svg.count("<text") > 10 and "gpt2explore-provenance" in svg
    pdf = gx.save(fig, tmp_path / "bars.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000 and b"%%EOF" in pdf[-64:]
    # the document title is the figure's, not the renderer's
    title = export.document_title(fig, tmp_path / "bars.pdf")
    assert title.startswith("Next token at step 1")
    assert ("/Title <FEFF" + title.encode("utf-16-be").hex().upper() + ">").encode() in pdf
    assert b"/Info" in pdf[-400:] and f"<title>{title}</title>" in svg
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(tmp_path / "bars.pdf")], capture_output=True, text=True).stdout
        assert f"Title:           {title}" in info


def test_no_browser_is_a_clear_error_not_a_hang(tmp_path, rnd_dir):
    code = (f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}')\n"
            "fig = gx.next_token_bars(lm.generate('Hi', length=2, seed=1)[0].steps[0])\n"
            f"try:\n    gx.save(fig, r'{tmp_path / 'x.png'}')\n"
            "except gx.export.ExportError as e:\n    print('ERR', e)\n")
    env = dict(os.environ, BROWSER_PATH=str(tmp_path / "no-such-chrome"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("ERR"), out.stderr[-2000:]
    assert "apt-get install chromium" in out.stdout and ".html" in out.stdout
    assert not (tmp_path / "x.png").exists()


def test_tables_round_trip(tmp_path, run):
    frame = run.to_frame(top=5)
    csv = pd.read_csv(run.save_table(tmp_path / "t.csv", top=5), keep_default_na=False)
    pd.testing.assert_frame_equal(csv, frame, check_dtype=False)
    parquet = pd.read_parquet(run.save_table(tmp_path / "t.parquet", top=5))
    pd.testing.assert_frame_equal(parquet, frame)
    with pytest.raises(ValueError, match="xlsx"):
        run.save_table(tmp_path / "t.xlsx")


def test_bundle_round_trip_replays_exactly(tmp_path, run, lm):
    folder = run.save(tmp_path / "bundle")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["weights_sha256"] == lm.weights_sha256
    assert manifest["prompts"] == run.prompts and manifest["logits"]["mode"] == "full"
    loaded = gx.load_run(folder)
    assert loaded.lm is None and loaded.texts == run.texts
    for a, b in zip(run, loaded):
        assert a.tokens == b.tokens and [s.u for s in a.steps] == [s.u for s in b.steps]
        for sa, sb in zip(a.steps, b.steps):
            assert torch.equal(sa.logits, sb.logits)
            assert sb.resample() == sb.token  # replay from stored logits and uniforms
    f1 = gx.next_token_bars(run[1].steps[3], top_p=0.5)
    f2 = gx.next_token_bars(loaded[1].steps[3], top_p=0.5)
    assert list(f1.data[1].y) == list(f2.data[1].y) and list(f1.layout.xaxis.ticktext) == list(f2.layout.xaxis.ticktext)
    ex = gx.explore(loaded)
    ex.controls["top_k"].value = 3
    assert sum(1 for y in ex.fig.data[1].y if y > 0) == 3
    report = loaded.verify(lm)
    assert report.ok and report.weights_match and report.steps == 24
    again = loaded.save(tmp_path / "bundle2")  # a loaded run saves again
    assert gx.load_run(again).texts == run.texts


def test_verify_reports_a_different_model(tmp_path, run):
    from helpers import make_random_gpt2

    other = gx.load(str(make_random_gpt2(tmp_path / "other", seed=99)))
    report = run.verify(other)
    assert not report.logits_match and not report.weights_match and "DOES NOT" in repr(report)


def test_top_n_bundle_is_smaller_and_exact_within_top_k(tmp_path, run):
    folder = run.save(tmp_path / "top", logits="top", top=64)
    full = run.save(tmp_path / "full")
    assert (folder / "logits.safetensors").stat().st_size * 10 < (full / "logits.safetensors").stat().st_size
    loaded = gx.load_run(folder)
    step, orig = loaded[0].steps[2], run[0].steps[2]
    assert torch.allclose(step.distribution(), orig.distribution(), atol=1e-6)  # the run used top_k=40
    assert step.resample() == step.token
    assert json.loads((folder / "manifest.json").read_text())["logits"] == {
        "mode": "top", "top": 64, "dtype": "float32", "vocab_size": 50257}


def test_corrupt_or_missing_bundle_files_are_named(tmp_path, run):
    folder = run.save(tmp_path / "b")
    data = (folder / "logits.safetensors").read_bytes()
    (folder / "logits.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(bundle.BundleError, match="logits.safetensors"):
        gx.load_run(folder)
    (folder / "logits.safetensors").unlink()
    with pytest.raises(bundle.BundleError, match="missing logits.safetensors"):
        gx.load_run(folder)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(bundle.BundleError, match="manifest.json is corrupt"):
        gx.load_run(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(bundle.BundleError, match="missing manifest.json"):
        gx.load_run(folder)
    with pytest.raises(bundle.BundleError, match="not a folder"):
        gx.load_run(tmp_path / "nothing")


def test_failed_save_leaves_no_bundle(tmp_path, run, monkeypatch):
    import safetensors.torch

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        run.save(tmp_path / "half")
    assert not (tmp_path / "half").exists()
    assert [p.name for p in tmp_path.iterdir()] == []
    with pytest.raises(bundle.BundleError):
        gx.load_run(tmp_path / "half")


def test_runs_without_logits_cannot_be_bundled(tmp_path, lm):
    with pytest.raises(ValueError, match="keep_logits"):
        lm.generate("Hi", length=2, keep_logits="none").save(tmp_path / "x")
