"""The live explorer (the page's own component as the notebook's widget) in a real JupyterLab,
driven through Chromium with the same `el.gx` handle as a saved page."""
import random
from pathlib import Path

import pytest
from lab import browser_page, lab_server, open_and_run_all, require_chromium, write_notebook

import gpt2explore as gx
from gpt2explore.core.pieces import step_label
from gpt2explore.core.tokens import token_label

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).parent / "artifacts"
ROOT = ".jp-OutputArea-output .gx-live.gx-explorer"
LABELS = """(sel) => Array.from(document.querySelector(sel).querySelectorAll('label'))
    .filter(l => !l.closest('.gx-more') && !l.classList.contains('gx-kernel'))
    .map(l => (l.querySelector('.gx-name') || l).textContent.trim())"""
SIZE = """(sel) => { const r = document.querySelector(sel); r.scrollIntoView({block: 'start'}); const b = r.getBoundingClientRect();
    const svg = r.querySelector('svg.gx-bars').getBoundingClientRect(), c = r.querySelector('.gx-controls').getBoundingClientRect();
    return {height: b.height, width: b.width, scroll: r.scrollWidth, client: r.clientWidth, top: b.top,
            svgBottom: svg.bottom, svgTop: svg.top, controlsTop: c.top, controlsBottom: c.bottom,
            output: r.closest('.jp-OutputArea-output').getBoundingClientRect().width,
            files: (document.querySelector('#filebrowser') || {getBoundingClientRect: () => ({width: 0})}).getBoundingClientRect().width}; }"""


def call(page, method: str, arg=None, sel: str = ROOT, timeout: int = 60_000):
    """`el.gx[method](arg)` in the page, waited for (a Promise that never settles fails the test)."""
    page.evaluate("([sel, m, a]) => { window.__gx = undefined; Promise.resolve(document.querySelector(sel).gx[m](a))"
                  ".then(r => { window.__gx = {ok: r}; }, e => { window.__gx = {err: String(e)}; }); }", [sel, method, arg])
    page.wait_for_function("() => window.__gx !== undefined", timeout=timeout)
    out = page.evaluate("() => window.__gx")
    assert "err" not in out, out
    return out["ok"]


def random_settings(rng) -> dict:
    s = {"temperature": round(rng.uniform(0.2, 2.5), 3), "top_k": rng.choice([0, 0, rng.randint(1, 200)]),
         "top_p": rng.choice([1.0, round(rng.uniform(0.05, 0.99), 3)])}
    if rng.random() < 0.5:
        s["min_p"] = round(rng.uniform(0, 0.3), 3)
    if rng.random() < 0.5:
        s["typical_p"] = round(rng.uniform(0.2, 0.99), 3)
    return s


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    require_chromium()
    root = tmp_path_factory.mktemp("lab")
    with lab_server(root, root) as url:
        yield root, url


def test_live_explorer_is_exact_everywhere_and_fits_beside_the_file_browser(lab, rnd_dir, tmp_path):
    root, url = lab
    ARTIFACTS.mkdir(exist_ok=True)
    code = f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')\n" \
           "run = lm.generate(['Hi! My name is', 'Hello'], length=5, seed=7)\nex = gx.explore(run, n=12)\nex"
    write_notebook(root / "live.ipynb", [code])
    lm = gx.load(str(rnd_dir), device="cpu")
    run = lm.generate(["Hi! My name is", "Hello"], length=5, seed=7)
    saved = gx.save(gx.explore(run, n=12), tmp_path / "explorer.html")
    rng = random.Random(3)
    with browser_page(width=1280, height=800) as page:
        open_and_run_all(page, url, "live.ipynb")
        page.wait_for_function(f"() => {{ const r = document.querySelector('{ROOT}'); return r && r.gx; }}",
                               timeout=120_000)
        first = call(page, "ready")
        assert first["live"] and first["exact"] and first["own"]
        tried = []
        for i in range(8):
            settings = random_settings(rng)
            sample, index = i % 2, rng.randrange(5)
            shown = call(page, "set", dict(settings, sample=sample, step=index))
            step = run[sample].steps[index]
            full = shown["settings"]
            probs = step.distribution(**full)
            assert shown["error"] is None and shown["exact"] and shown["bound"] == 0, (settings, shown["bound"])
            ids = [t["id"] for t in shown["tokens"]]
            assert [t["p"] for t in shown["tokens"]] == pytest.approx(probs[ids].tolist(), abs=1e-6), settings
            assert shown["drawn"] == step.resample(**full), settings
            assert shown["labels"] == [token_label(step, t) for t in ids]
            tried.append({k: v for k, v in dict(settings, sample=sample, step=index).items() if k != "typical_p"})
        # the layout: controls and bars on screen together, nothing wider than the output area
        call(page, "set", {"step": 0, "sample": 0})
        size = page.evaluate(SIZE, ROOT)
        page.locator(ROOT).screenshot(path=str(ARTIFACTS / "live_explorer.png"))
        page.screenshot(path=str(ARTIFACTS / "live_explorer_lab.png"))
        live_labels = page.evaluate(LABELS, ROOT)
        other = page.context.browser.new_page()
        other.goto(saved.as_uri())
        other.wait_for_function("document.querySelector('.gx-explorer').gx")
        page_labels = other.evaluate(LABELS, ".gx-explorer")
        # the saved page, at the same settings, only approximates some of them: its stored tokens do not decide
        approximate = sum(not call(other, "set", o, ".gx-explorer")["exact"] for o in tried)
    assert live_labels == page_labels
    assert approximate >= 1
    assert size["files"] > 150  # the file browser is open
    assert size["scroll"] <= size["client"] + 1 and size["width"] <= size["output"] + 1, size
    assert size["height"] <= 720, size
    assert size["svgBottom"] <= 800 and size["controlsTop"] >= 0, size  # controls and bars on screen together


TOP_A = """
def top_a(logits, a):
    probs = logits.softmax(-1)
    return logits.masked_fill(probs < a * probs.max(-1, keepdim=True).values ** 2, float('-inf'))
"""


def test_a_registered_samplers_slider_gives_the_kernels_numbers(lab, rnd_dir):
    from gpt2explore.core import registry

    root, url = lab
    write_notebook(root / "top_a.ipynb", [
        f"import gpt2explore as gx\nfrom gpt2explore.core import registry\n{TOP_A}\n"
        "registry.register_sampler('top_a', top_a, off=0.0, range=(0.0, 1.0), label='top-a')\n"
        f"lm = gx.load(r'{rnd_dir}', device='cpu')\nrun = lm.generate('Hi! My name is', length=3, seed=2)\n"
        "ex = gx.explore(run, n=12)\nex"])
    space = {}
    exec(TOP_A, space)
    registry.register_sampler("top_a", space["top_a"], off=0.0, range=(0.0, 1.0), label="top-a")
    try:
        run = gx.load(str(rnd_dir), device="cpu").generate("Hi! My name is", length=3, seed=2)
        with browser_page(width=1280, height=800) as page:
            open_and_run_all(page, url, "top_a.ipynb")
            page.wait_for_function(f"() => {{ const r = document.querySelector('{ROOT}'); return r && r.gx; }}",
                                   timeout=120_000)
            names = page.evaluate(f"() => Array.from(document.querySelectorAll('{ROOT} .gx-more .gx-name'))"
                                  ".map(n => n.textContent)")
            assert "top-a" in names  # under "more samplers"
            for a, t, index in ((0.3, 1.0, 1), (0.05, 0.7, 2)):
                shown = call(page, "set", {"top_a": a, "temperature": t, "step": index})
                step = run[0].steps[index]
                probs = step.distribution(**shown["settings"])
                ids = [x["id"] for x in shown["tokens"]]
                assert shown["exact"] and shown["error"] is None
                assert [x["p"] for x in shown["tokens"]] == pytest.approx(probs[ids].tolist(), abs=1e-9)
                assert shown["drawn"] == step.resample(**shown["settings"])
                assert shown["n_kept"] == int((probs > 0).sum())
    finally:
        registry.unregister_sampler("top_a")


STEPPER = ".jp-OutputArea-output .gx-live.gx-stepper"


def test_live_stepper_draws_what_a_session_draws_and_shows_its_exact_next_step(lab, rnd_dir):
    root, url = lab
    ARTIFACTS.mkdir(exist_ok=True)
    write_notebook(root / "stepper.ipynb", [
        f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')\n"
        "st = gx.stepper(lm, 'Hi! My name is', seed=3, n=10)\nst"])
    lm = gx.load(str(rnd_dir), device="cpu")
    twin = lm.session("Hi! My name is", seed=3)
    rng = random.Random(5)
    with browser_page(width=1280, height=800) as page:
        open_and_run_all(page, url, "stepper.ipynb")
        page.wait_for_function(f"() => {{ const r = document.querySelector('{STEPPER}'); return r && r.gx && r.gx.next; }}",
                               timeout=120_000)
        first = call(page, "ready", sel=STEPPER)
        assert first["kind"] == "stepper" and first["exact"] and first["own"] and first["generated"] == []
        assert first["next"] == twin.next_step.token and first["drawn"] == first["next"]
        for i in range(4):
            settings = random_settings(rng)
            shown = call(page, "set", settings, sel=STEPPER)
            full = shown["settings"]
            twin.set(**{k: v for k, v in full.items() if k != "semantics"})
            probs = twin.next_step.distribution(**full)
            ids = [t["id"] for t in shown["tokens"]]
            assert shown["error"] is None and shown["exact"] and shown["bound"] == 0, settings
            assert [t["p"] for t in shown["tokens"]] == pytest.approx(probs[ids].tolist(), abs=1e-6), settings
            assert shown["drawn"] == twin.next_step.token, settings
            # Next: the kernel draws at the settings shown, the same token as a session's step()
            after = call(page, "next", sel=STEPPER)
            (drawn,) = twin.step()
            assert after["generated"] == twin.tokens[len(twin.sample.prompt_tokens):], (i, settings)
            assert after["generated"][-1] == drawn.token and after["text"] == twin.text
            assert after["next"] == twin.next_step.token and after["own"] and after["exact"]
        call(page, "set", {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "typical_p": 1.0}, sel=STEPPER)
        # the session follows the sliders: its next step, drawn at them, comes back as the view's own
        page.wait_for_function(f"() => document.querySelector('{STEPPER}').gx.shown().own", timeout=60_000)
        size = page.evaluate(SIZE, STEPPER)
        page.locator(STEPPER).screenshot(path=str(ARTIFACTS / "live_stepper.png"))
        page.screenshot(path=str(ARTIFACTS / "live_stepper_lab.png"))
    assert size["files"] > 150  # the file browser is open
    assert size["scroll"] <= size["client"] + 1 and size["width"] <= size["output"] + 1, size
    assert size["height"] <= 720, size
    assert size["svgBottom"] <= 800 and size["controlsTop"] >= 0, size  # controls and bars on screen together


def test_re_running_a_cell_frees_the_explorer_it_replaced(lab, rnd_dir):
    """Re-running a cell removes its old explorer's view: the component tells the kernel, the old
    widget closes and its run is freed (runs do not pile up); the new one is live."""
    import time

    from lab import PROMPTS

    root, url = lab
    write_notebook(root / "rerun.ipynb", [
        f"import gc, weakref\nimport gpt2explore as gx\nif 'lm' not in globals():\n"
        f"    lm = gx.load(r'{rnd_dir}', device='cpu')\n    refs = []",
        "w = gx.explore(lm.generate('Hi! My name is', length=3, seed=len(refs)), n=10)\n"
        "refs.append(weakref.ref(w.run))\ndisplay(w)\ndel w",
        "gc.collect()\nprint('freed', [r() is None for r in refs])"])
    with browser_page(width=1280, height=800) as page:
        open_and_run_all(page, url, "rerun.ipynb", wait=True)
        for runs in (2, 3):
            time.sleep(3)  # the old view's "gone" reaches the kernel after a second's grace
            page.click("text=Run")
            page.click("li[data-command='runmenu:run-all']")
            page.wait_for_function(f"() => ({PROMPTS})().map(p => p.replace(/[^0-9]/g, '')).join(',') === "
                                   f"'{','.join(str(3 * (runs - 1) + i) for i in (1, 2, 3))}'", timeout=120_000)
        page.wait_for_function("() => document.querySelector('.gx-live.gx-explorer')?.gx", timeout=60_000)
        out = page.locator(".jp-CodeCell").nth(2).locator(".jp-OutputArea-output").inner_text()
        assert page.locator(".gx-live.gx-explorer").count() == 1
        shown = call(page, "ready", sel=".gx-live.gx-explorer")
    # the first explorer (replaced by the second run) was freed; the third is the live one
    assert out.strip().startswith("freed [True, ") and out.strip().endswith("False]"), out
    assert shown["exact"] and shown["error"] is None


def wait_for(page, sel: str, timeout: int = 120_000) -> None:
    page.wait_for_function(f"() => {{ const r = document.querySelector('{sel}'); return r && r.gx; }}", timeout=timeout)





def test_a_fork_from_the_explorer_is_a_live_stepper_that_draws_what_a_session_draws(lab, rnd_dir):
    root, url = lab
    write_notebook(root / "fork.ipynb", [
        f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')\n"
        "run = lm.generate('Hi! My name is', length=5, seed=7, top_k=40)\nex = gx.explore(run, n=10)\nex"])
    lm = gx.load(str(rnd_dir), device="cpu")
    run = lm.generate("Hi! My name is", length=5, seed=7, top_k=40)
    with browser_page(width=1280, height=800) as page:
        open_and_run_all(page, url, "fork.ipynb")
        wait_for(page, ROOT)
        shown = call(page, "set", {"step": 2, "temperature": 0.8})
        token = shown["tokens"][3]["id"]
        page.evaluate("([sel, id]) => document.querySelector(sel).querySelector(`.gx-bar[data-id=\"${id}\"]`)"
                      ".dispatchEvent(new MouseEvent('click', {bubbles: true}))", [ROOT, token])
        wait_for(page, STEPPER)  # the fork: the page's own component, under the explorer
        caption = page.evaluate(f"() => document.querySelector('{STEPPER}').closest('.jp-OutputArea-output')"
                                ".textContent")
        first = call(page, "ready", sel=STEPPER)
        twin = lm.session("Hi! My name is", seed=7, sample_index=run[0].index,
                          **dict(run[0].steps[0].settings.as_dict(), temperature=0.8)).replay(run[0].steps[:2])
        twin.force(token)
        label = repr(step_label(twin.steps[-1], token))  # as the caption names it, the fork just made
        assert first["kind"] == "stepper" and first["generated"] == twin.tokens[len(twin.sample.prompt_tokens):]
        assert first["next"] == twin.next_step.token and first["exact"]
        after = call(page, "next", sel=STEPPER)
        (drawn,) = twin.step()
        assert after["generated"][-1] == drawn.token and after["text"] == twin.text
        # the stepper's Force says what it did on its status line; a bad one says why, once
        page.fill(f"{STEPPER} .gx-force-text", " John")
        page.click(f"{STEPPER} .gx-force")
        page.wait_for_function(f"() => document.querySelector('{STEPPER} .gx-status').textContent.includes('forced')")
        said = page.evaluate(f"() => document.querySelector('{STEPPER} .gx-status').textContent")
        # the forced tokens are marked in the text (the fork's at step 2 and ' John' at 4); the box is free again
        page.wait_for_function(f"() => document.querySelectorAll('{STEPPER} .gx-text .gx-forced').length === 2")
        marked = page.evaluate(f"() => Array.from(document.querySelectorAll('{STEPPER} .gx-text .gx-forced'))"
                               ".map(s => [s.dataset.step, s.title])")
        box = page.evaluate(f"() => document.querySelector('{STEPPER} .gx-force-text').value")
        still = page.evaluate(f"() => document.querySelector('{STEPPER} .gx-status').textContent")  # after its data came
        page.fill(f"{STEPPER} .gx-force-text", "two tokens here")
        page.click(f"{STEPPER} .gx-force")
        page.wait_for_function(f"() => document.querySelector('{STEPPER} .gx-status').textContent.includes('not one')")
        output = page.evaluate(f"() => document.querySelector('{STEPPER}').closest('.jp-OutputArea-output').textContent")
    assert "fork 1" in caption and f"step 2 forced to {label}" in caption and "T=0.8" in caption, caption
    assert "fork 1 opened below" in output  # under the explorer, once the fork is made
    assert said.startswith("forced '") and "John" in said and said.endswith(" at step 4"), said
    assert [m[0] for m in marked] == ["2", "4"] and all("(forced)" in m[1] for m in marked) and box == "", (marked, box)
    assert still == said  # the force's message outlives the data its move sent
    assert output.count("not one") == 1, output


def test_a_gumbel_sessions_live_stepper_marks_and_draws_what_its_noise_draws(lab, rnd_dir):
    root, url = lab
    write_notebook(root / "gumbel_stepper.ipynb", [
        f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')\n"
        "st = gx.stepper(lm, 'Hi! My name is', seed=4, n=10, coupling='gumbel')\nst"])
    lm = gx.load(str(rnd_dir), device="cpu")
    twin = lm.session("Hi! My name is", seed=4, coupling="gumbel")
    rng, moved = random.Random(8), 0
    with browser_page(width=1280, height=800) as page:
        open_and_run_all(page, url, "gumbel_stepper.ipynb")
        page.wait_for_function(f"() => {{ const r = document.querySelector('{STEPPER}'); return r && r.gx && r.gx.next; }}",
                               timeout=120_000)
        first = call(page, "ready", sel=STEPPER)
        assert first["drawn"] == first["next"] == twin.next_step.token and first["own"]
        for i in range(4):
            settings = random_settings(rng)
            preview = twin.next_step  # the step the settings are shown on, before the session follows them
            shown = call(page, "set", settings, sel=STEPPER)
            full = shown["settings"]
            assert shown["drawn"] == preview.resample(**full), settings  # what its Gumbel noise draws there
            moved += shown["drawn"] != preview.token
            words = page.evaluate(f"() => {{ const r = document.querySelector('{STEPPER}');"
                                  "return r.querySelector('.gx-readout').textContent + ' | ' + r.querySelector('.gx-figure').textContent; }")
            assert "Gumbel noise" in words and "u=" not in words and "u draws" not in words, words
            twin.set(**{k: v for k, v in full.items() if k != "semantics"})
            after = call(page, "next", sel=STEPPER)
            (drawn,) = twin.step()
            assert after["generated"] == twin.tokens[len(twin.sample.prompt_tokens):], (i, settings)
            assert after["generated"][-1] == drawn.token and after["next"] == twin.next_step.token
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(STEPPER).screenshot(path=str(ARTIFACTS / "live_stepper_gumbel.png"))
    assert moved  # the settings moved the mark somewhere: the kernel's answer is not the session's token


def test_the_live_explorer_of_a_gumbel_run_marks_what_its_noise_draws(lab, rnd_dir):
    root, url = lab
    write_notebook(root / "gumbel_explorer.ipynb", [
        f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')\n"
        "run = lm.generate(['Hi! My name is', 'Hello'], length=5, seed=9, coupling='gumbel')\nex = gx.explore(run, n=12)\nex"])
    run = gx.load(str(rnd_dir), device="cpu").generate(["Hi! My name is", "Hello"], length=5, seed=9, coupling="gumbel")
    rng, moved = random.Random(12), 0
    with browser_page(width=1280, height=800) as page:
        open_and_run_all(page, url, "gumbel_explorer.ipynb")
        wait_for(page, ROOT)
        first = call(page, "ready")
        assert first["own"] and first["drawn"] == run[0].steps[0].token and first["drawn_kind"] == "drawn"
        for i in range(6):
            settings = random_settings(rng)
            sample, index = i % 2, rng.randrange(5)
            shown = call(page, "set", dict(settings, sample=sample, step=index))
            step = run[sample].steps[index]
            assert shown["exact"] and shown["drawn"] == step.resample(**shown["settings"]), settings
            moved += shown["drawn"] != step.token
        words = page.evaluate(f"() => document.querySelector('{ROOT}').querySelector('.gx-readout').textContent")
    assert moved and "Gumbel noise" in words and "u=" not in words


def test_a_live_widget_never_speaks_of_stored_tokens_and_the_stepper_of_its_next_token_not_the_runs(lab, rnd_dir):
    """Before the kernel's row arrives, a live explorer does not say where its u falls among the
    tokens a saved page stores ("u=… draws a token beyond the 256 stored tokens"): "…" until the
    row is there. The stepper's next step is not drawn yet: its legend never says "drawn in the run"."""
    root, url = lab
    write_notebook(root / "words.ipynb", [
        f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')\n"
        "ex = gx.explore(lm.generate('Hi! My name is', length=5, seed=2), n=10)\nex",
        "st = gx.stepper(lm, 'Hi! My name is', seed=2, n=10, layers=True)\nst"])
    with browser_page(width=1280, height=800) as page:
        open_and_run_all(page, url, "words.ipynb")
        wait_for(page, ROOT)
        call(page, "ready")
        # a step not shown yet: its row is asked for; what shows at once is read before any reply
        at_once = page.evaluate(f"() => {{ const r = document.querySelector('{ROOT}'); r.gx.set({{step: 4, temperature: 1.7}});"
                                "return r.querySelector('.gx-readout').textContent + ' | ' + r.querySelector('.gx-figure').textContent; }")
        later = call(page, "set", {"step": 4, "temperature": 1.7})
        words = page.evaluate(f"() => document.querySelector('{ROOT}').querySelector('.gx-figure').textContent")
        page.wait_for_function(f"() => {{ const r = document.querySelector('{STEPPER}'); return r && r.gx && r.gx.next; }}",
                               timeout=120_000)
        own = call(page, "ready", sel=STEPPER)
        legends = [page.evaluate(f"() => document.querySelector('{STEPPER}').querySelector('.gx-figure').textContent")]
        lens = []
        for layer in (0, 1):  # the logit lens of a layer: its u may draw another token there than next
            lens.append(call(page, "set", {"layer": layer}, sel=STEPPER))
            legends.append(page.evaluate(f"() => document.querySelector('{STEPPER}').querySelector('.gx-figure').textContent"))
    assert "beyond the" not in at_once and "not decided" not in at_once and "…" in at_once, at_once
    assert later["live"] and later["exact"] and "u=" in words and "draws" in words
    assert own["drawn_kind"] == "drawn" and "the token its u draws next" in legends[0] and "next (p=" in legends[0]
    assert not any("drawn in the run" in t for t in legends), legends
    moved = [t for s, t in zip(lens, legends[1:]) if s["drawn"] != own["next"]]
    assert moved and all("the token its u draws next" in t and "next it draws" in t for t in moved), legends


def test_a_focused_slider_takes_the_arrow_keys_from_jupyterlab(lab, rnd_dir):
    """JupyterLab's notebook handles keydown (command mode: arrows move between cells); a focused
    slider of the live explorer keeps its keys, so ArrowRight and ArrowDown move it, as in a page."""
    root, url = lab
    write_notebook(root / "keys.ipynb", [
        f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')\n"
        "run = lm.generate('Hi! My name is', length=3, seed=2)\nex = gx.explore(run, n=12)\nex", "1 + 1"])
    slider = f"{ROOT} input[type=range][data-name=temperature]"
    shown = ("(sel) => { const i = document.querySelector(sel);"
             " return [i.value, i.closest('label').querySelector('.gx-value').textContent]; }")
    with browser_page(width=1280, height=800) as page:
        open_and_run_all(page, url, "keys.ipynb", wait=True)
        page.wait_for_function(f"() => {{ const r = document.querySelector('{ROOT}'); return r && r.gx; }}",
                               timeout=120_000)
        start = page.evaluate(shown, slider)
        page.focus(slider)
        for key in ("ArrowRight", "ArrowDown"):  # up one slider step, then back down
            before = page.evaluate(shown, slider)
            page.keyboard.press(key)
            page.wait_for_function(f"([sel, v]) => ({shown})(sel)[1] !== v", arg=[slider, before[1]],
                                   timeout=30_000)  # the readout shows the new temperature
            after = page.evaluate(shown, slider)
            moved = float(after[0]) - float(before[0])
            assert moved > 0 if key == "ArrowRight" else moved < 0, (key, before, after)
            assert call(page, "shown")["settings"]["temperature"] == pytest.approx(float(after[0]))
        assert page.evaluate(shown, slider) == start
        step = f"{ROOT} input.gx-step"  # the step slider too
        page.focus(step)
        page.keyboard.press("End")
        page.wait_for_function("(sel) => document.querySelector(sel).value === document.querySelector(sel).max",
                               arg=step, timeout=30_000)
        last = int(page.evaluate("(sel) => document.querySelector(sel).max", step))
        assert last > 0 and call(page, "shown")["step"] == last


def test_the_why_section_draws_the_kernels_attribution_and_follows_a_clicked_bar(lab, rnd_dir):
    """"why this token" in the live explorer: el.gx.why() opens the section; its waterfall is the
    kernel's attribution (the rows sum to the logit difference), its attention the step's; in
    "why" mode a click on a bar sets that token against the step's own."""
    from gpt2explore.model.attribution import attribution

    root, url = lab
    write_notebook(root / "why.ipynb", [
        f"import gpt2explore as gx\nlm = gx.load(r'{rnd_dir}', device='cpu')\n"
        "run = lm.generate('Hi! My name is', length=5, seed=7, attention=True)\nex = gx.explore(run, n=10)\nex"])
    run = gx.load(str(rnd_dir), device="cpu").generate("Hi! My name is", length=5, seed=7, attention=True)
    with browser_page(width=1280, height=800) as page:
        open_and_run_all(page, url, "why.ipynb")
        wait_for(page, ROOT)
        call(page, "set", {"step": 2})
        got = call(page, "why", {})
        step = run[0].steps[2]
        df = attribution(step)
        assert got["open"] and got["step"] == 2 and got["token"] == step.token and got["notes"] == []
        rows = got["attribution"]["rows"]
        assert got["attribution"]["vs"] == int(df.attrs["vs"]) and got["drawn"] == len(rows)
        assert rows[-1][1] == pytest.approx(df.attrs["logit_diff"], abs=1e-4)
        assert got["attention"]["weights"] == pytest.approx(step.attention()[-1].mean(0).tolist(), abs=1e-6)
        heads = call(page, "why", {"head": 1, "layer": 0})
        assert heads["attention"]["head"] == 1 and heads["attention"]["layer"] == 0
        assert heads["attention"]["weights"] == pytest.approx(step.attention()[0, 1].tolist(), abs=1e-6)
        shown = call(page, "shown")
        rival = [t["id"] for t in shown["tokens"] if t["id"] != step.token][3]
        page.select_option(f"{ROOT} select.gx-click", "why")
        page.evaluate("([sel, id]) => document.querySelector(sel).querySelector(`.gx-bar[data-id=\"${id}\"]`)"
                      ".dispatchEvent(new MouseEvent('click', {bubbles: true}))", [ROOT, rival])
        page.wait_for_function(f"() => document.querySelector('{ROOT} select.gx-why-vs').value === '{rival}'")
        against = call(page, "why", {})
        outlined = page.evaluate(f"() => Array.from(document.querySelectorAll('{ROOT} .gx-bar.gx-vs')).map(b => b.dataset.id)")
        said = page.evaluate(f"() => document.querySelector('{ROOT} .gx-why-status').textContent")
        page.locator(f"{ROOT} details.gx-why").screenshot(path=str(ARTIFACTS / "live_why.png"))
        forks = page.evaluate(f"() => document.querySelectorAll('{STEPPER}').length")
    assert against["attribution"]["vs"] == rival and rival in against["vs_options"]
    assert outlined == [str(rival)] and "dashed outline" in said, (outlined, said)  # the rival marked in the bars
    assert against["attribution"]["rows"][-1][1] == pytest.approx(attribution(step, rival).attrs["logit_diff"], abs=1e-4)
    assert forks == 0  # a click in "why" mode explains; it does not fork
