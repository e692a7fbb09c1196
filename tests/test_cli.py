"""The console script, run for real in subprocesses on a small random GPT-2."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from gpt2explore.core import formatting as fmt

EXE = shutil.which("gpt2explore", path=os.path.dirname(sys.executable)) or "gpt2explore"
HEADER = "=" * 40 + " SAMPLE {} " + "=" * 40


def cli(*args, stdin=None, env=None, timeout=180):
    return subprocess.run([EXE, *args], input=stdin, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def test_sample_numbering_and_reproducibility(rnd_dir, lm):
    args = ["sample", f"--model_name={rnd_dir}", "--nsamples=3", "--batch_size=2", "--length=8", "--seed=1"]
    first, second = cli(*args), cli(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    expected = lm.generate(None, nsamples=3, length=8, seed=1).texts  # 8 tokens each
    lines = first.stdout.split("\n")
    headers = [line for line in lines if line.startswith("=" * 40)]
    assert headers == [HEADER.format(n) for n in (1, 2, 3)]
    body = first.stdout
    for n, text in enumerate(expected, start=1):
        assert HEADER.format(n) + "\n" + text + "\n" in body
    assert first.stderr == ""  # no progress bar when stderr is not a terminal


def test_flag_spellings(rnd_dir):
    a = cli("sample", "--model-name", str(rnd_dir), "--nsamples", "2", "--batch-size", "2",
            "--length", "5", "--seed", "4", "--top-k", "10")
    b = cli("sample", f"--model={rnd_dir}", "--nsamples=2", "--batch_size=1", "--length=5", "--seed=4",
            "--top_k=10")
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout and "SAMPLE 2" in a.stdout


def test_python_dash_m(rnd_dir):
    out = subprocess.run([sys.executable, "-m", "gpt2explore", "sample", f"--model={rnd_dir}",
                          "--nsamples=1", "--length=3", "--seed=1"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and HEADER.format(1) in out.stdout


def test_interact_empty_prompt_then_samples_then_eof(rnd_dir, lm):
    out = cli("interact", f"--model_name={rnd_dir}", "--length=6", "--seed=3", "--nsamples=2",
              stdin="\nHi! My name is John\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("Prompt should not be empty!") == 1
    expected = lm.generate("Hi! My name is John", nsamples=2, length=6, seed=3).texts
    for n, text in enumerate(expected, start=1):
        assert HEADER.format(n) + "\n" + text + "\n" in out.stdout
    assert "=" * 80 + "\n" in out.stdout
    assert out.stdout.count("Model prompt >>> ") == 3
    assert "Traceback" not in out.stderr


def test_sample_streams_until_interrupted(rnd_dir):
    proc = subprocess.Popen([EXE, "sample", f"--model_name={rnd_dir}", "--nsamples=0", "--length=4",
                             "--seed=1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        deadline = time.time() + 120
        while len(seen) < 3 and time.time() < deadline:
            line = proc.stdout.readline()
            if line.startswith("=" * 40):
                seen.append(line.strip())
        assert seen[:3] == [HEADER.format(n) for n in (1, 2, 3)]
        proc.send_signal(signal.SIGINT)
        # keep reading: a child that filled the pipe is blocked writing until someone does
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err


def test_compare_prints_both_columns_and_top_tokens(rnd_dir, lm):
    prompts = ["Hi! My name is Isamu", "Hi! My name is John"]
    out = cli("compare", f"--model={rnd_dir}", "--prompts", *prompts, "--length=6", "--seed=2",
              "--top=4", "--width=100")
    assert out.returncode == 0, out.stderr
    head = out.stdout.split("\n")[1]
    assert prompts[0] in head and prompts[1] in head and "│" in head
    run = lm.generate(prompts, length=6, seed=2)
    tops = [run[i].steps[0].top(4) for i in (0, 1)]
    for top in tops:
        for t in top:  # the product's one probability format (0.0873), never a percentage
            assert f"{t.rank:>2}. {t.label!s:<14} {fmt.prob(t.prob):>7}" in out.stdout
    assert "%" not in out.stdout.split("Most likely")[1]
    assert out.stdout.count(" 4. ") == 2
    assert max(len(line) for line in out.stdout.split("\n")) <= 100


def test_compare_header_names_the_coupling(rnd_dir):
    args = ["compare", f"--model={rnd_dir}", "--prompts", "Hi! My name is Isamu", "Hi! My name is John",
            "--length=3", "--seed=2"]
    gumbel, cdf = cli(*args, "--coupling=gumbel"), cli(*args)
    assert gumbel.returncode == 0 and cdf.returncode == 0, gumbel.stderr + cdf.stderr
    assert "1 sample(s) each, the same Gumbel noise for every prompt (seed 2)" in gumbel.stdout.split("\n")[0]
    assert "1 sample(s) each, the same draws for every prompt (seed 2)" in cdf.stdout.split("\n")[0]


def test_compare_reads_prompts_file(rnd_dir, tmp_path):
    f = tmp_path / "prompts.txt"
    f.write_text("Hi! My name is Isamu\nHi! My name is John\n\n")
    out = cli("compare", f"--model={rnd_dir}", f"--prompts_file={f}", "--length=4", "--seed=2")
    assert out.returncode == 0 and "Isamu" in out.stdout and "John" in out.stdout


def test_help_explains_temperature_zero():
    out = cli("sample", "--help")
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    assert "0 = greedy" in text and "divided the logits by zero" in text


@pytest.mark.parametrize("args, fragment", [
    (["sample", "--temperature=-1"], "-1"),
    (["sample", "--temperature=nan"], "nan"),
    (["sample", "--top_k=-2"], "-2"),
    (["sample", "--top_k=abc"], "abc"),
    (["sample", "--top_p=1.5"], "1.5"),
    (["sample", "--nsamples=-1"], "-1"),
    (["sample", "--batch_size=0"], "0"),
    (["sample", "--length=0"], "0"),
    (["sample", "--seed=-3"], "-3"),
    (["sample", "--semantics=tf"], "tf"),
    (["sample", "--length=500"], "500"),
    (["sample", "--model_name=nope-model"], "nope-model"),
    (["interact", "--nsamples=0"], "0"),
    (["compare"], "needs prompts"),
    (["compare", "--prompts", ""], "empty"),
    (["compare", "--prompts_file=/no/such/file"], "/no/such/file"),
    (["frobnicate"], "frobnicate"),
])
def test_bad_input_exit_2_one_line(rnd_dir, args, fragment):
    if "--model_name=nope-model" not in args and args[0] != "frobnicate":
        args = args + [f"--model={rnd_dir}"]
    out = cli(*args)
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = out.stderr.strip().split("\n")
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in out.stderr
    assert out.stdout == ""


def test_model_unavailable_offline_exit_1(tmp_path):
    out = cli("sample", "--model=gpt2", "--nsamples=1", env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)})
    assert out.returncode == 1
    lines = out.stderr.strip().split("\n")
    assert len(lines) == 1 and "'gpt2'" in lines[0] and "tiny" in lines[0]


def test_interact_too_long_prompt_reports_and_continues(rnd_dir):
    out = cli("interact", f"--model={rnd_dir}", "--length=4", "--seed=1",
              stdin=" ".join(["word"] * 80) + "\nHello\n")
    assert out.returncode == 0
    assert "longer than the model's context" in out.stderr and HEADER.format(1) in out.stdout


def test_ctrl_c_inside_a_finaliser_is_still_an_interrupt_and_prints_nothing(capsys):
    """A KeyboardInterrupt raised in a __del__ (an import's regex module being collected) cannot
    propagate: Python would print "Exception ignored" with a traceback and go on."""
    from gpt2explore.cli.main import _CtrlC

    class Finalised:
        def __del__(self):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        with _CtrlC() as ctrl_c:
            item = Finalised()
            del item
            ctrl_c.check()
    assert ctrl_c.pressed
    assert "Traceback" not in capsys.readouterr().err


# the console script's own code, then whether torch and transformers were imported
WITHOUT_TORCH = ("import sys\nfrom gpt2explore.cli import main\ntry:\n    code = main(sys.argv[1:])\n"
                 "except SystemExit as done:\n    code = done.code\n"
                 "print('torch' in sys.modules, 'transformers' in sys.modules)\nsys.exit(code)")


@pytest.mark.parametrize("args, code", [
    (["--help"], 0), (["sample", "--help"], 0), (["--version"], 0),
    (["sample", "--temperature=-1"], 2), (["compare", "--top_p=1.5", "--prompts", "Hi"], 2),
    (["interact", "--nsamples=0"], 2), (["score", "--min_p=nan", "-"], 2), (["frobnicate"], 2),
])
def test_help_and_a_bad_flag_answer_without_importing_torch(args, code):
    out = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == code, out.stderr
    assert out.stdout.strip().split("\n")[-1] == "False False", out.stdout
    if code:
        assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: ")


def test_a_command_that_runs_does_import_torch(rnd_dir):
    """The check above can fail: a command that samples imports torch, and the probe says so."""
    out = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, "sample", f"--model={rnd_dir}", "--nsamples=1",
                          "--length=2", "--seed=1"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().split("\n")[-1] == "True True"
