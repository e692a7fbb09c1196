"""Promises kept under stress: no data loss on save, what you see is what was drawn in every
mode, and a clean error at every edge (one test per numbered item of the stress report)."""
import json
import os
import shutil
import stat
import subprocess
import sys
import time

import pytest
import torch
from helpers import make_random_gpt2

import gpt2explore as gx
from gpt2explore import bundle, export, sampling


@pytest.fixture(scope="module")
def run(lm):
    return lm.generate(["Hello there", "Hi! My name is"], nsamples=2, length=12, seed=3, temperature=1.3)


# ---- 1-4: data loss and security ----------------------------------------------------------
def test_1_save_refuses_a_folder_that_is_not_a_bundle(tmp_path, run):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "manifest.json").write_text('{"name": "my project"}')
    (project / "src" / "code.py").write_text("print('mine')")
    with pytest.raises(ValueError, match="not a run bundle"):
        run.save(project)
    assert (project / "src" / "code.py").read_text() == "print('mine')"
    assert sorted(p.name for p in project.iterdir()) == ["manifest.json", "src"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]  # no temporary folder left


def test_1_resaving_a_bundle_keeps_the_users_files(tmp_path, run):
    folder = run.save(tmp_path / "b")
    (folder / "notes.md").write_text("my notes")
    (folder / "figs").mkdir()
    (folder / "figs" / "a.png").write_bytes(b"png")
    run.save(folder)
    assert (folder / "notes.md").read_text() == "my notes" and (folder / "figs" / "a.png").exists()
    assert gx.load_run(folder).texts == run.texts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_1_an_empty_folder_takes_a_bundle(tmp_path, run):
    (tmp_path / "empty").mkdir()
    assert gx.load_run(run.save(tmp_path / "empty")).texts == run.texts


def test_2_an_interrupted_replace_is_repaired(tmp_path, run):
    folder = run.save(tmp_path / "b")
    (folder / "notes.md").write_text("mine")
    # interrupted between the two renames: only `.b.old` is left
    os.replace(folder, tmp_path / ".b.old")
    loaded = gx.load_run(folder)  # load restores it
    assert loaded.texts == run.texts and (folder / "notes.md").exists()
    # interrupted after the new bundle went in: both exist; the next save finishes the job
    shutil.copytree(folder, tmp_path / ".b.old")
    (tmp_path / ".b.old" / "extra.txt").write_text("also mine")
    (folder / "extra.txt").unlink(missing_ok=True)
    run.save(folder)
    assert not (tmp_path / ".b.old").exists()
    assert (folder / "extra.txt").read_text() == "also mine" and (folder / "notes.md").exists()


def test_2_interrupt_during_swap_then_save_again(tmp_path, run, monkeypatch):
    folder = run.save(tmp_path / "b")
    real = os.replace
    calls = []

    def second_rename_interrupted(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(bundle.os, "replace", second_rename_interrupted)
    with pytest.raises(KeyboardInterrupt):
        run.save(folder)
    monkeypatch.setattr(bundle.os, "replace", real)
    assert not folder.exists() and (tmp_path / ".b.old").is_dir()
    run.save(folder)  # no "Directory not empty": the leftover is repaired first
    assert gx.load_run(folder).texts == run.texts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


@pytest.mark.parametrize("target", ["/dev/zero", "fifo"])
def test_3_only_regular_files_are_read(tmp_path, run, target):
    for name in ("logits.safetensors", "manifest.json"):
        folder = run.save(tmp_path / f"b-{name}")
        path = folder / name
        path.unlink()
        if target == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to(target)
        started = time.monotonic()
        with pytest.raises(bundle.BundleError, match="not a regular file"):
            gx.load_run(folder)
        assert time.monotonic() - started < 10


def test_3_an_oversized_manifest_is_refused(tmp_path, run, monkeypatch):
    folder = run.save(tmp_path / "b")
    monkeypatch.setattr(bundle, "MANIFEST_MAX", 100)
    with pytest.raises(bundle.BundleError, match="over the limit"):
        gx.load_run(folder)


def test_4_bundles_honour_the_umask(tmp_path, run):
    old = os.umask(0o022)
    try:
        folder = run.save(tmp_path / "b")
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "logits.safetensors").stat().st_mode) == 0o644
    assert stat.S_IMODE((folder / "manifest.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((folder / "tokenizer").stat().st_mode) == 0o755


# ---- 5-8: the one promise in every mode ---------------------------------------------------
def test_5_float16_runs_draw_from_what_they_keep(lm):
    run = lm.generate("Hello there", nsamples=4, length=40, seed=3, keep_logits="float16")
    steps = [s for x in run for s in x.steps]
    assert all(s.logits.dtype == torch.float16 for s in steps)
    assert all(s.resample() == s.token for s in steps)
    assert all(float(s.distribution()[s.token]) == pytest.approx(s.prob, abs=1e-7) for s in steps)
    assert run.verify(lm).ok


def test_5_float16_bundles_replay_and_verify(tmp_path, lm):
    run = lm.generate("Hello there", nsamples=2, length=20, seed=4, keep_logits="float16", top_p=0.9)
    loaded = gx.load_run(run.save(tmp_path / "b"))
    assert loaded.keep_logits == "float16"
    assert all(s.resample() == s.token for x in loaded for s in x.steps)
    assert loaded.verify(lm).ok


def test_6_top_n_bundles_keep_exact_probabilities(tmp_path, run, lm):
    loaded = gx.load_run(run.save(tmp_path / "top", logits="top", top=8))
    for a, b in zip(run, loaded):
        for sa, sb in zip(a.steps, b.steps):
            assert sb.resample() == sb.token  # replay at the run's own T=1.3, no top-k
            assert float(sb.distribution()[sb.token]) == float(sa.distribution()[sa.token])
            # the run's own T=1.3 cuts nothing: the draw replays, the tail's own probabilities are estimated
            assert not sb.exact_for() and not sb.exact_for(temperature=0.7)
            ids = sb.truncation.ids
            assert torch.equal(sb.distribution()[ids], sa.distribution()[ids])
            ids = sb.truncation.ids
            raw_a, raw_b = sa.distribution(temperature=1.0)[ids], sb.distribution(temperature=1.0)[ids]
            assert torch.allclose(raw_a, raw_b, rtol=1e-4, atol=1e-9)  # raw (T=1) via the normaliser
            assert sb.exact_for(top_k=5, temperature=0.5)
            assert torch.allclose(sa.distribution(top_k=5, temperature=0.5),
                                  sb.distribution(top_k=5, temperature=0.5), atol=1e-6)
    assert loaded.verify(lm).ok


@pytest.mark.parametrize("top", [0, -1, True, 2.5])
def test_6_top_below_one_is_refused(tmp_path, run, top):
    with pytest.raises(ValueError, match="top must be an integer >= 1"):
        run.save(tmp_path / "x", logits="top", top=top)
    assert not (tmp_path / "x").exists()


def test_7_explorer_starts_at_the_runs_own_settings(lm):
    run = lm.generate("Hi", length=3, seed=1, temperature=100, top_k=500, top_p=0.005)
    ex = gx.explore(run)
    assert ex.settings["temperature"] == 100 and ex.settings["top_k"] == 500
    assert ex.settings["top_p"] == 0.005
    step = run[0].steps[0]
    ids = torch.topk(step.logits, ex.n).indices
    assert list(ex.fig.data[1].y) == pytest.approx(step.distribution()[ids].tolist(), abs=1e-9)


def test_7_touching_one_control_changes_only_that_setting(lm):
    st = gx.stepper(lm, "Hi", temperature=5, top_k=500, top_p=0.004)
    st.controls["semantics"].value = "openai"
    s = st.session.settings
    assert (s.temperature, s.top_k, s.top_p, s.semantics) == (5, 500, 0.004, "openai")
    st.controls["top_k"].value = 7
    s = st.session.settings
    assert (s.temperature, s.top_k, s.top_p) == (5, 7, 0.004)


def test_8_tiny_temperatures_are_greedy_not_nan(lm):
    step = lm.generate("Hello", length=2, seed=1)[0].steps[0]
    for t in (1e-38, 1e-40, 1e-45):
        probs = step.distribution(temperature=t)
        assert not probs.isnan().any() and float(probs.max()) == 1.0
        assert int(probs.argmax()) == int(step.logits.argmax())
        assert step.resample(temperature=t) == int(step.logits.argmax())
    run = lm.generate("Hello", length=4, seed=2, temperature=1e-40)
    greedy = lm.generate("Hello", length=4, seed=2, temperature=0)
    assert run[0].tokens == greedy[0].tokens
    assert sampling.probabilities(torch.tensor([1.0, 3.0, -2.0]), temperature=1e-39).tolist() == [0, 1, 0]


# ---- 9-17: clean failures ----------------------------------------------------------------
def test_9_an_interrupted_step_leaves_the_session_as_it_was(lm):
    reference = lm.session("Hello there", seed=5)
    reference.step(4)
    session = lm.session("Hello there", seed=5)
    session.step(2)
    block = lm.model.transformer.h[1]

    def interrupt(module, args):
        raise KeyboardInterrupt

    handle = block.register_forward_pre_hook(interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            session.step()
    finally:
        handle.remove()
    assert len(session.steps) == 2
    lengths = {layer.get_seq_length() for layer in session._cache.layers}
    assert lengths == {len(session.tokens)}
    session.step(2)
    assert session.sample.tokens == reference.sample.tokens
    session.back(1)
    session.step(1)
    assert session.sample.tokens == reference.sample.tokens


def test_10_a_folder_without_tokenizer_files_is_an_error(tmp_path, rnd_dir):
    folder = tmp_path / "no-tokenizer"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(rnd_dir / name, folder / name)
    with pytest.raises(ValueError, match="lacks vocab.json, merges.txt, tokenizer.json"):
        gx.load(str(folder))
    out = subprocess.run([sys.executable, "-m", "gpt2explore", "sample", f"--model_name={folder}",
                          "--nsamples=1", "--length=3"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "cannot encode" in out.stderr


def test_10_a_bundle_with_a_broken_tokenizer_is_an_error(tmp_path, run):
    folder = run.save(tmp_path / "b")
    for entry in (folder / "tokenizer").iterdir():
        if entry.name != "tokenizer_config.json":
            entry.unlink()
    with pytest.raises(bundle.BundleError, match="tokenizer"):
        gx.load_run(folder)


def test_11_weights_that_do_not_match_the_config_are_an_error(tmp_path, rnd_dir):
    folder = tmp_path / "mismatch"
    shutil.copytree(rnd_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["n_embd"] = 64
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="do not match its config.json"):
        gx.load(str(folder))
    from safetensors.torch import load_file, save_file

    missing = tmp_path / "missing"
    shutil.copytree(rnd_dir, missing)
    weights = load_file(missing / "model.safetensors")
    del weights["transformer.h.1.mlp.c_fc.weight"]
    save_file(weights, missing / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match="lacks weights: transformer.h.1.mlp.c_fc.weight"):
        gx.load(str(missing))
    out = subprocess.run([sys.executable, "-m", "gpt2explore", "sample", f"--model_name={folder}",
                          "--nsamples=1", "--length=3"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == "" and out.stderr.count("\n") == 1
    assert "LOAD REPORT" not in out.stderr


@pytest.mark.parametrize("change", [dict(n_positions=16), dict(vocab_size=1000), dict(vocab_size=50304)])
def test_12_verify_reports_another_model_shape(tmp_path, lm, change):
    run = lm.generate("Hello there", length=20, seed=1)
    kwargs = dict(n_positions=64, seed=7) | {k: v for k, v in change.items() if k == "n_positions"}
    folder = make_random_gpt2(tmp_path / "other", **kwargs)
    if "vocab_size" in change:
        from transformers import GPT2Config, GPT2LMHeadModel

        cfg = GPT2Config(vocab_size=change["vocab_size"], n_positions=64, n_embd=32, n_layer=2, n_head=2)
        GPT2LMHeadModel(cfg).save_pretrained(folder)
    other = gx.load(str(folder))
    report = run.verify(other)
    assert not report.ok and report.problem and "DOES NOT match" in repr(report)
    word = "vocabulary" if "vocab_size" in change else "context"
    assert word in report.problem


def test_13_compare_takes_one_string_as_one_prompt(lm):
    c = gx.compare(lm, "Hello", length=3, seed=1)
    assert c.prompts == ["Hello"] and len(c.view.data["samples"]) == 1  # one column
    for bad in (None, 3, [], ["Hi", ""], ["Hi", None]):
        with pytest.raises(ValueError, match="prompt"):
            gx.compare(lm, bad, length=3, seed=1)


def test_14_the_stepper_view_matches_the_session_at_the_context_limit(lm):
    from gpt2explore.core.tokens import show_text

    st = gx.stepper(lm, "Hello there", seed=1)
    sent = []
    st.view.send = lambda msg, buffers=None: sent.append(msg)  # the component's status line says it
    room = st.session.room
    st.next(room + 5)
    assert "do not fit" in sent[-1]["error"]
    assert len(st.session.steps) == 0  # refused whole, nothing half-done
    st.next(room)
    assert len(st.session.steps) == room and sent[-1]["error"] is None
    data = st.view.data
    assert data["room"] == 0 and len(data["samples"][0]["steps"]) == room + 1  # the steps and the next one
    assert "".join(data["samples"][0]["pieces"]) == show_text(st.session.generated_text)
    st.next()  # full: a message, and the view still shows the session
    assert "full" in sent[-1]["error"] or "fit" in sent[-1]["error"]
    st.back()
    assert sent[-1]["error"] is None and len(st.session.steps) == room - 1


def test_15_export_edges(tmp_path, run):
    fig = gx.next_token_bars(run[0].steps[0])
    (tmp_path / "x.html").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        gx.save(fig, tmp_path / "x.html")
    with pytest.raises(ValueError, match="scale"):
        gx.save(fig, tmp_path / "a.png", scale=40)
    name = "n" * 250 + ".html"  # a legal 255-character name
    path = gx.save(fig, tmp_path / name)
    assert path.exists() and export.sidecar_path(path).exists()
    with pytest.raises(export.ExportError, match="cannot write /proc/f.html"):
        gx.save(fig, "/proc/f.html")  # a folder nobody can write to, root included
    leftovers = [p.name for p in tmp_path.rglob(".*")]
    assert leftovers == []


def test_15_broken_browser_output_is_not_written(tmp_path, run, monkeypatch):
    fig = gx.next_token_bars(run[0].steps[0])
    monkeypatch.setattr(export, "_static", lambda *a, **k: b"\x89PN")
    with pytest.raises(export.ExportError, match="broken PNG"):
        gx.save(fig, tmp_path / "a.png")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(export, "_static", lambda *a, **k: _png(10, 10))
    with pytest.raises(export.ExportError, match="broken PNG"):
        gx.save(fig, tmp_path / "a.png", width=640, height=400)  # the wrong size
    gx.save(fig, tmp_path / "a.png", width=10, height=10, scale=1)
    assert (tmp_path / "a.png").exists()
    monkeypatch.setattr(export, "_static", lambda *a, **k: _png(20, 20))  # a PNG's default scale is 2
    gx.save(fig, tmp_path / "b.png", width=10, height=10)
    assert (tmp_path / "b.png").exists()


def _png(w, h) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR" + w.to_bytes(4, "big") + \
        h.to_bytes(4, "big") + b"\x08\x02\x00\x00\x00" + b"\x00" * 40


def test_15_a_browser_path_that_is_no_browser_fails_at_once(tmp_path, rnd_dir):
    code = (f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}')\n"
            "fig = gx.next_token_bars(lm.generate('Hi', length=2, seed=1)[0].steps[0])\n"
            f"try:\n    gx.save(fig, r'{tmp_path / 'x.png'}', timeout=60)\n"
            "except gx.export.ExportError as e:\n    print('ERR', e)\n")
    env = dict(os.environ, BROWSER_PATH="/bin/true")
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 45
    assert out.stdout.startswith("ERR") and "not Chrome or Chromium" in out.stdout, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "x.png").exists()


# `python -m gpt2explore sample ...`, saying "up" on stdout once the interpreter's own start-up
# (site, .pth files: Python's, before any line of ours can run) is over
MAIN_AFTER_UP = ("import runpy, sys; print('up', flush=True); sys.argv = ['gpt2explore', *sys.argv[1:]]; "
                 "runpy.run_module('gpt2explore', run_name='__main__', alter_sys=True)")


@pytest.mark.parametrize("delay", [0.05, 0.3, 1.0])
def test_16_ctrl_c_at_start_up_is_exit_130_without_traceback(delay):
    """Ctrl-C `delay` seconds into the program's start-up (counted from when the interpreter is
    up, so that a slow machine does not move the signal into Python's own initialisation)."""
    import signal

    proc = subprocess.Popen([sys.executable, "-c", MAIN_AFTER_UP, "sample", "--nsamples=1", "--length=5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "up\n"
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (130, 0), err  # 0 only if it finished before the signal
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_16_an_interrupt_a_library_reports_as_another_error_is_still_exit_130(monkeypatch, capsys):
    import signal

    from gpt2explore import cli, loading

    def load(*args, **kwargs):  # what transformers' lazy import does to a Ctrl-C mid-import
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            raise RuntimeError("Could not import module 'GPT2LMHeadModel'") from None
        raise AssertionError("the interrupt did not arrive")

    monkeypatch.setattr(loading, "load", load)
    before = signal.getsignal(signal.SIGINT)
    assert cli.main(["sample", "--length=2"]) == 130
    assert "error" not in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back
    monkeypatch.setattr(loading, "load", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no model here")))
    assert cli.main(["sample", "--length=2"]) == 1  # without Ctrl-C the same error is an error
    assert "error: no model here" in capsys.readouterr().err


def test_16_only_real_devices_and_named_files(tmp_path):
    out = subprocess.run([sys.executable, "-m", "gpt2explore", "sample", "--device=meta", "--nsamples=1"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "meta" in out.stderr and out.stderr.count("\n") == 1
    binary = tmp_path / "prompts.bin"
    binary.write_bytes(b"Hi\n\xff\xfe\x00\x81 there\n")
    out = subprocess.run([sys.executable, "-m", "gpt2explore", "compare", f"--prompts_file={binary}"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and str(binary) in out.stderr and "UTF-8" in out.stderr
    assert out.stderr.count("\n") == 1


def test_17_session_widget_adds_one_listener(lm):
    session = lm.session("Hi", seed=1)
    widgets = [session.widget() for _ in range(5)]
    assert len(session._listeners) == 1 and all(w is widgets[0] for w in widgets)
    st = gx.stepper(lm, "Hi")
    st.close()
    assert st.session._listeners == []


def test_17_load_run_names_a_missing_device(tmp_path, run):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the error is for machines without it")
    folder = run.save(tmp_path / "b")
    with pytest.raises(ValueError, match="'cuda'.*CUDA is not available"):
        gx.load_run(folder, device="cuda")
