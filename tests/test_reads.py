"""Reads right the first time (#34): every text view shows whole characters where byte-level BPE
or SentencePiece byte fallback splits them over tokens; one rank convention (1 = the likeliest)
in prose, tables, the command line and step.top()."""
from __future__ import annotations

import csv
import html
import io
import re
import subprocess
import sys
from pathlib import Path

import plotly.graph_objects as go
import pytest

import gpt2explore as gx
from gpt2explore.core.pieces import token_bytes, whole_pieces
from gpt2explore.views import page as page_view
from gpt2explore.widgets.controls import text_html
from gpt2explore.widgets.stepper import LiveStepper

TEXT = "To pass “That's just” café, 日本 and 🙂 here."
WHOLE = ["“", "”", "é", "日", "本", "🙂"]
ROOT = Path(__file__).resolve().parents[1]


def _visible(markup: str) -> str:
    """What a reader sees of an HTML text view: the tags dropped, the entities read."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def _stepper_text(stepper) -> str:
    """The text a stepper's component shows: its prompt and the pieces of the steps so far."""
    sample = stepper.view.data["samples"][0]
    return sample["prompt"] + "".join(sample["pieces"])


def test_gpt2_pieces_join_to_the_text_with_every_character_whole(lm):
    tok = lm.tokenizer
    ids = tok.encode(" " + TEXT)
    pieces = whole_pieces(token_bytes(tok, ids))
    assert len(pieces) == len(ids)
    assert "".join(p.text for p in pieces) == tok.decode(ids) == " " + TEXT
    assert not any("\ufffd" in p.text or "\ufffd" in p.label for p in pieces)
    shared = {c for p in pieces for c in p.part_of}
    assert {"“", "”", "日", "本"} <= shared  # GPT-2 splits each of these over two or three tokens
    partial = [p for p in pieces if p.partial]
    assert partial, "no token holds only part of a character: the test text no longer splits one"
    for p in partial:
        assert p.text == "" and re.fullmatch(r"‹[0-9a-f]{2}( [0-9a-f]{2})*› of .", p.label), p.label
        assert p.begins in p.note and f"U+{ord(p.begins):04X}" in p.note
    for p in pieces:  # the token that completes a character shows it whole and says so
        if p.completes:
            assert p.text.startswith(p.completes) and "completes" in p.note


def test_sentencepiece_byte_fallback_pieces_keep_every_character_whole():
    from test_families import _sentencepiece_tokenizer

    tok = _sentencepiece_tokenizer()
    text = "the cat é 日本 🙂 “the”"
    ids = tok.encode(text, add_special_tokens=False)
    assert sum(p.startswith("<0x") for p in tok.convert_ids_to_tokens(ids)) >= 14  # bytes, one token each
    pieces = whole_pieces(token_bytes(tok, ids))
    assert "".join(p.text for p in pieces).lstrip(" ") == tok.decode(ids) == text
    assert not any("\ufffd" in p.text for p in pieces)
    texts = [p.text for p in pieces]
    for char in ("é", "日", "本", "🙂", "“", "”"):
        assert any(t.startswith(char) for t in texts), char  # whole, in the token that completes it
    four = [p for p in pieces if p.begins == "🙂"]
    assert [p.label for p in four] == ["‹f0› of 🙂", "‹9f› of 🙂", "‹99› of 🙂"]  # then '🙂' itself


def test_a_byte_that_never_completes_still_shows_as_a_decoder_shows_it():
    pieces = whole_pieces([b"a", b"\xe2\x80", b"b"])  # an unfinished character before 'b'
    assert "".join(p.text for p in pieces) == b"a\xe2\x80b".decode("utf-8", errors="replace")
    last = whole_pieces([b"a", b"\xe2\x80"])  # cut at the end: '�' where it stops, as decode gives
    assert [p.text for p in last] == ["a", "\ufffd"]


@pytest.fixture(scope="module")
def scored(lm):
    return lm.score(TEXT)


def test_every_text_view_shows_the_characters_whole(lm, scored):
    sample = scored[0]
    assert sample.text == TEXT and "".join(p.text for p in sample.pieces) == TEXT
    # the explorer's text and the shared text view of the comparer and stepper
    explorer = gx.explore(scored)
    shown = _visible(explorer.text.value)
    assert TEXT in shown and "\ufffd" not in shown
    assert _visible(text_html(sample)).endswith(TEXT)
    marks = re.findall(r"title='([^']*)'", explorer.text.value)
    assert any("of “" in m and "U+201C" in m for m in (html.unescape(t) for t in marks))
    # the stepper, forced token by token through the same text
    session = lm.session(None)
    for t in sample.tokens:
        session.force(t)
    stepper = LiveStepper(session)
    assert TEXT in _stepper_text(stepper) and "\ufffd" not in _stepper_text(stepper)
    # inspect's coloured text: the figure's pieces and hover
    ins = gx.inspect(lm, TEXT)
    trace = ins.figure().data[0]
    assert "".join(trace.text) == TEXT and "\ufffd" not in "".join(trace.hovertext)
    assert any("U+201D" in h for h in trace.hovertext)
    # a saved page's data (what its script renders as it is)
    data = page_view.page_data(scored, kind="inspect")
    assert "".join(data["samples"][0]["pieces"]) == TEXT
    assert any("U+65E5" in n for n in data["samples"][0]["notes"])
    # an exported table: the drawn tokens name the character they hold part of; none shows '�'
    frame = scored.to_frame(top=3)
    chosen = frame[frame.chosen]
    assert not chosen.token.str.contains("\ufffd").any()
    assert chosen.token.str.contains(" of 日").any() and chosen.token.str.contains(" of ”").any()


def test_the_bars_name_a_candidate_by_the_character_it_completes(scored):
    from gpt2explore.views.bars import bars_data

    sample = scored[0]
    after = next(i for i, p in enumerate(sample.pieces) if p.completes == "”")
    data = bars_data(sample.steps[after])
    at = data["ids"].index(sample.steps[after].token)
    assert data["labels"][at].startswith("”")  # not '‹9d›': the context already holds its first bytes
    assert "\ufffd" not in "".join(data["labels"])
    top = sample.steps[after].top(5)
    assert all("\ufffd" not in t.label for t in top)


def test_the_command_line_scores_with_whole_characters(rnd_dir):
    base = [sys.executable, "-m", "gpt2explore", "score", f"--model_name={rnd_dir}", "-"]
    out = subprocess.run(base, input=TEXT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "\ufffd" not in out.stdout
    for char in ("“", "”", "日", "本"):
        assert char in out.stdout
    assert re.search(r"‹[0-9a-f ]+› of 日", out.stdout), out.stdout
    table = subprocess.run(base + ["--format=csv"], input=TEXT, capture_output=True, text=True, timeout=120)
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert "".join(r["token"] for r in rows) == TEXT
    assert {c for r in rows for c in r["character"]} >= {"“", "”", "日", "本"}


@pytest.mark.browser
def test_a_saved_page_shows_the_characters_whole_in_chromium(lm, tmp_path):
    from lab import CHROME_FLAGS, require_chromium
    from playwright.sync_api import sync_playwright

    path = gx.save(gx.inspect(lm, TEXT), tmp_path / "whole.html")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require_chromium(), args=CHROME_FLAGS)
        try:
            page = browser.new_page()
            page.goto(path.as_uri())
            page.wait_for_function("document.querySelector('.gx-page') && document.querySelector('.gx-page').gx")
            tokens = page.eval_on_selector_all(".gx-text .gx-token", "els => els.map(e => [e.textContent, e.title])")
            assert "".join(t for t, _ in tokens) == TEXT
            parts = [title for text, title in tokens if text == ""]
            assert parts and all("U+" in title for title in parts)  # a part of a character names it on hover
            heading = page.evaluate("async () => (await document.querySelector('.gx-page').gx.set({step: %d}),"
                                    " document.querySelector('.gx-figure').textContent)" % tokens.index(
                                        next(t for t in tokens if t[0] == "")))
            assert "\ufffd" not in heading and " of " in heading
        finally:
            browser.close()


# ---- one rank convention ---------------------------------------------------------------------
def test_ranks_agree_between_notebook_06_the_command_line_and_step_top(rnd_dir, lm):
    prose = (ROOT / "notebooks" / "src" / "06_score_a_text.py").read_text()
    said = re.search(r"Under `top_k=(\d+)` every token ranked (\d+) or beyond is impossible", prose)
    assert said, "notebook 06 no longer says which ranks top_k forbids"
    offset = int(said.group(2)) - int(said.group(1))  # the first forbidden rank, past k
    text = "The river ran on to the sea, and the town slept by its banks all the long summer."
    steps = lm.score(text)[0].steps
    k = sorted(s.rank1 for s in steps)[len(steps) // 2]  # a rank some token of the text has
    # step.top(): the k-th row is rank k, and top_k=k keeps it and cuts the next
    step = next(s for s in steps if s.rank1 == k)
    rows = step.top(k + 1, top_k=k)
    assert rows[k - 1].rank == k == step.rank1 == step.rank0 + 1 and rows[k - 1].prob > 0 and rows[k].prob == 0
    out = subprocess.run([sys.executable, "-m", "gpt2explore", "score", f"--model_name={rnd_dir}", "-",
                          f"--top_k={k}"], input=text, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines()[1:-1]]
    assert len(lines) == len(steps)
    for line, s in zip(lines, steps):
        rank = int(line[26:33])
        assert rank == s.rank1
        assert ("forbid" in line) == (rank >= k + offset), (line, k, offset)
    with pytest.raises(AttributeError, match="rank1"):
        step.rank  # noqa: B018  (which way it counts must be said)


# ---- what is exact says so -------------------------------------------------------------------
@pytest.mark.browser
def test_a_page_readout_says_what_is_exact_and_each_estimate_says_so(tmp_path):
    import random

    from lab import CHROME_FLAGS, require_chromium
    from playwright.sync_api import sync_playwright
    from test_pages import Opened

    tiny = gx.load("tiny", device="cpu")
    run = tiny.generate("Hi! My name is Isamu", length=12, seed=1)
    path = gx.save(gx.explore(run), tmp_path / "exact.html")
    rng = random.Random(3)
    seen = {"exact": 0, "approximate": 0, "estimate": 0}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require_chromium(), args=CHROME_FLAGS)
        try:
            opened = Opened(browser, path)
            for i in range(24):
                settings = dict(run[0].steps[0].settings.as_dict(), step=i % 12,
                                temperature=rng.choice([1.0, 0.7, 1.3, 2.0]), top_k=rng.choice([0, 5, 40]),
                                top_p=rng.choice([1.0, 0.9]))
                shown = opened.set(settings)
                readout = opened.page.inner_text(".gx-readout")
                title = opened.page.inner_text(".gx-figure")
                for text in (readout, title):
                    # "exact" only ever about the probabilities, and only when they are
                    assert all(m == "probabilities exact" for m in re.findall(r"\w* ?exact", text)), text
                    assert ("probabilities exact" in text) == bool(shown["exact"]), (text, shown["exact"])
                    for phrase in text.split(" · "):  # an estimated figure says so in its own phrase
                        if "≈" in phrase:
                            assert "(estimated" in phrase, phrase
                            seen["estimate"] += 1
                seen["exact" if shown["exact"] else "approximate"] += 1
            opened.close()
        finally:
            browser.close()
    assert all(seen.values()), seen  # each kind of answer was read


# ---- notebook 03's fork ----------------------------------------------------------------------
def test_notebook_03_compares_the_branches_at_the_fork_then_shows_where_they_part(lm):
    source = (ROOT / "notebooks" / "src" / "03_step_through.py").read_text()
    fork = source[source.index("branch = session.fork()"):]
    figure = fork.index("gx.compare_next_token([session.next_step, branch.next_step]")
    assert figure < fork.index("session.step(") and figure < fork.index("branch.step(")  # before either moves
    # what that figure then compares: one step, the same context and the same u, two temperatures
    session = lm.session("Hi! My name is", seed=1, top_k=40)
    session.step(3)
    at = len(session.steps)
    branch = session.fork()
    branch.set(temperature=1.5)
    a, b = session.next_step, branch.next_step
    assert a.context_tokens == b.context_tokens and a.u == b.u and a.index == b.index
    assert a.settings.temperature == 1 and b.settings.temperature == 1.5
    session.step(6)
    branch.step(6)
    table = gx.teaching.branches_table(session, branch, at, ("T=1", "T=1.5"))
    assert list(table.step) == list(range(at, at + 6)) and table.u.notna().all()
    same = [x.token == y.token for x, y in zip(session.steps[at:], branch.steps[at:])]
    assert list(table["same token"]) == same


# ---- notebooks 01, 02 and 08 say what their cells show ----------------------------------------
def test_notebook_06_names_the_colour_the_allowed_view_draws_impossible_tokens_in():
    """The prose before `text_view(..., color='allowed')` names the colour of its impossible tokens
    (a grey, as the bars grey a cut token), and no other: red is GLTR's ranks 101-1000."""
    from gpt2explore.figures.textview import GLTR, IMPOSSIBLE

    prose = (ROOT / "notebooks" / "src" / "06_score_a_text.py").read_text()
    before = prose[: prose.index("color='allowed'")].rsplit("# %%", 1)[0].rsplit("# %% [markdown]", 1)[-1]
    r, g, b = (int(IMPOSSIBLE[i:i + 2], 16) for i in (1, 3, 5))
    assert r == g == b and IMPOSSIBLE not in GLTR  # a grey, none of GLTR's colours
    assert "Grey tokens below are the ones these settings forbid" in before
    assert "Red tokens" not in prose


def test_notebook_01s_top_table_shows_the_models_own_p_its_prose_compares_with(lm):
    prose = (ROOT / "notebooks" / "src" / "01_quickstart.py").read_text()
    assert "`model p`" in prose
    step = lm.generate("Hi! My name is", length=2, seed=1, top_k=40)[0].steps[0]
    rows = step.top(10)
    frame = rows.frame()
    assert "model p" in frame.columns and "model p" in repr(rows)
    raw = step.logits.float().softmax(-1)
    for r in rows:
        assert r.prob_raw == pytest.approx(float(raw[r.id]), rel=1e-6)
        assert r.prob > r.prob_raw  # what the prose says: the kept tokens share all of the probability


def test_notebook_02_names_the_greedy_token(lm):
    assert "divide_by_zero(step)" in (ROOT / "notebooks" / "src" / "02_temperature_and_top_k.py").read_text()
    step = lm.generate("Hi! My name is", length=1, seed=1)[0].steps[0]
    greedy = int(step.logits.argmax())
    said = gx.teaching.divide_by_zero(step)["greedy token (argmax)"]
    assert said == f"{gx.tokens.token_label(step, greedy)} (id {greedy})"


def test_notebook_08_says_where_the_newer_samplers_sit_and_which_widget_follows(lm):
    source = (ROOT / "notebooks" / "src" / "08_modern_samplers.py").read_text()
    assert "explorer below" not in source or "gx.explore(" in source.split("explorer below", 1)[1]
    call = re.search(r"gx\.stepper\(lm, PROMPT, (.*)\)", source).group(1)
    settings = dict(kv.split("=") for kv in call.replace(" ", "").split(",") if "=" in kv and "seed" not in kv)
    stepper = gx.stepper(lm, "Hi! My name is", **{k: float(v) if "." in v else int(v) for k, v in settings.items()})

    more = {s["name"]: s.get("more", False) for s in stepper.view.data["samplers"]}
    newer = [k for k in settings if k not in ("temperature", "top_k", "top_p")]
    assert newer and not any(more[k] for k in newer)  # set in the notebook's call: beside the classic controls
    assert any(more.values())  # the others wait in the collapsed section
    assert "sits beside them" in source and "min_p=0.05" in source


# ---- exports that describe themselves --------------------------------------------------------
@pytest.fixture(scope="module")
def bars(lm):
    run = lm.generate("Hi! My name is", length=3, seed=1, top_k=40)
    return gx.next_token_bars(run[0].steps[2])


def test_caption_burns_the_provenance_in_under_the_figure(bars, tmp_path):
    from gpt2explore.files import export

    svg = gx.save(bars, tmp_path / "c.svg", caption=True).read_text()
    words = " ".join(html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S))
    words = " ".join(re.sub(r"<[^>]+>", " ", words).split())
    for fact in ("'Hi! My name is'", "seed 1", "top-k=40", "T=1", f"gpt2explore {gx.__version__}"):
        assert fact in words, (fact, words[-400:])
    plain = gx.save(bars, tmp_path / "p.svg").read_text()
    assert "seed 1" not in plain  # only asked for
    png = gx.save(bars, tmp_path / "c.png", caption=True, preset="blog").read_bytes()
    bare = gx.save(bars, tmp_path / "b.png", preset="blog").read_bytes()
    size = lambda data: (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"))  # noqa: E731
    assert size(bare)[0] == size(png)[0] == 1440  # the blog preset: 720 px at scale 2
    assert size(png)[1] > size(bare)[1]  # the caption has room of its own under the figure
    lines = export.with_caption(go.Figure(bars), export.facts_of(bars), 400).layout.annotations[-1]
    assert max(len(x) for x in html.unescape(lines.text).split("<br>")) <= (400 - 20) / (12 * 0.56)  # wrapped
    with pytest.raises(ValueError, match="preset 'poster'"):
        gx.save(bars, tmp_path / "x.png", preset="poster")


def test_a_pdf_holds_one_title_the_figures(bars, tmp_path):
    from gpt2explore.files import export

    pdf = gx.save(bars, tmp_path / "t.pdf").read_bytes()
    titles = re.findall(rb"/Title\s*(\((?:\\.|[^\\)])*\)|<[^>]*>)", pdf)
    want = export.document_title(go.Figure(bars), tmp_path / "t.pdf")
    assert titles == [("<FEFF" + want.encode("utf-16-be").hex().upper() + ">").encode()]
    # the writer's own title is blanked in place: every offset of the original cross-reference holds
    data = b"%PDF-1.4\n1 0 obj\n<</Title (Kal\\)eido)\n/Creator (x)>>\nendobj\ntrailer\n<</Size 2\n/Root 1 0 R\n" \
           b"/Info 1 0 R>>\nstartxref\n9\n%%EOF\n"
    out = export.pdf_with_title(data, "Mine")
    blank = export._blank_title(data, 1, 0)
    assert len(blank) == len(data) and blank.replace(b" ", b"") == data.replace(b" ", b"").replace(b"/Title(Kal\\)eido)", b"")
    assert out.startswith(blank) and b"Kal" not in out and out.count(b"/Title") == 1


def test_the_comparer_columns_show_the_characters_whole(lm, monkeypatch):
    from gpt2explore.core.trace import Run

    prompts = ["Hi! My name is Isamu", "Hi! My name is John"]
    scored = [lm.score(TEXT, prompt=p)[0] for p in prompts]
    for i, sample in enumerate(scored):
        sample.prompt_index = i
    run = Run(scored, scored[0].run.settings, 0, model_name=lm.name, length=len(scored[0].steps),
              meta=dict(scored[0].run.meta), lm=lm)
    monkeypatch.setattr(lm, "generate", lambda *args, **kwargs: run)  # columns whose text is known
    comparer = gx.compare(lm, prompts)
    for i, sample in enumerate(comparer.view.data["samples"]):  # the text under each column of the component
        shown = sample["prompt"] + "".join(sample["pieces"])
        assert shown == prompts[i] + TEXT and "\ufffd" not in shown


def test_a_figure_of_a_top_n_bundle_says_what_is_approximate(lm, tmp_path):
    run = gx.load_run(lm.generate("Hello", length=3, seed=1, top_k=5).save(tmp_path / "top", logits="top", top=8))
    step = run[0].steps[1]
    assert step.exact_for()  # its own top-k 5 keeps only stored tokens
    exact = gx.next_token_bars(step).layout.title.text
    assert "approximate" not in exact and "≈" not in exact and "estimated" not in exact
    assert not step.exact_for(temperature=2.0, top_k=0)
    loose = gx.next_token_bars(step, temperature=2.0, top_k=0).layout.title.text
    assert "probabilities approximate" in loose and re.search(r"entropy ≈ [\d.]+ nats \(estimated\)", loose)


def test_the_stepper_holds_back_a_character_its_next_token_will_complete(lm, scored):
    sample = scored[0]
    cut = next(i for i, p in enumerate(sample.pieces) if p.partial)  # a token holding only part of one
    session = lm.session(None)
    for t in sample.tokens[:cut + 1]:
        session.force(t)
    stepper = LiveStepper(session)
    shown = _stepper_text(stepper)
    assert "\ufffd" not in shown and shown.endswith("".join(p.text for p in sample.pieces[:cut]))
    last = session.sample.pieces[-1]
    assert last.partial and last.label.startswith("‹") and "yet" in last.note
    session.force(sample.tokens[cut + 1])
    completed = sample.pieces[cut + 1].text
    assert _stepper_text(stepper).endswith(completed) and session.sample.pieces[-2].begins == completed[0]



def test_bytes_that_no_token_completes_name_no_character():
    """A character's first bytes followed by a token that does not continue it (a sampled byte
    sequence that is not UTF-8) are labelled by their bytes alone, never 'of \ufffd'."""
    from gpt2explore.core.pieces import whole_pieces

    first, after = whole_pieces(["日".encode()[:2], b" the"])
    assert first.label == "‹e6 97›" and "\ufffd" not in first.label
    assert "no token completes" in first.note
    good = whole_pieces(["日".encode()[:2], "日".encode()[2:]])  # completed: the character is named
    assert good[0].label == "‹e6 97› of 日" and good[1].text == "日"


def test_the_stage_table_ranks_tokens_as_every_table_does(lm):
    """sampling_stages' `rank1` is the token's rank under the raw logits (1 = the likeliest), as
    step.top() counts; its place in the table is `row`, never called a rank."""
    step = lm.generate("Hi! My name is", length=2, seed=1)[0].steps[0]  # T=1, nothing cut: top() is the raw order
    table = gx.sampling_stages(step, n=5, top_k=40, temperature=3.0)
    assert "rank" not in table.columns and {"row", "rank1"} <= set(table.columns)
    tops = {t.id: t.rank for t in step.top(200)}
    raw = step.logits.double()
    for r in table[table.stage_index == 0].itertuples():
        assert r.rank1 == int((raw > raw[r.token_id]).sum()) + int((raw[:r.token_id] == raw[r.token_id]).sum()) + 1
        if r.token_id in tops:
            assert r.rank1 == tops[r.token_id]
    assert list(table[table.stage_index == 0].row) == list(range(1, len(table[table.stage_index == 0]) + 1))


def test_score_reads_a_file_and_stdin_alike(rnd_dir, tmp_path, monkeypatch):
    from gpt2explore.cli import parse

    for content, text in [("the river\n", "the river"), ("the river\r\n", "the river"),
                          ("the river", "the river"), ("two\n\n", "two\n")]:  # one newline, no more
        path = tmp_path / "t.txt"
        path.write_bytes(content.encode())
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(content.encode())))
        assert parse.read_text(str(path)) == parse.read_text("-") == text, content
    path.write_text("the river runs\n")
    base = [sys.executable, "-m", "gpt2explore", "score", f"--model_name={rnd_dir}", "--format=csv"]
    by_file = subprocess.run(base + [str(path)], capture_output=True, text=True, timeout=120)
    by_stdin = subprocess.run(base + ["-"], input="the river runs\n", capture_output=True, text=True, timeout=120)
    assert by_file.returncode == by_stdin.returncode == 0, by_file.stderr + by_stdin.stderr
    assert by_file.stdout == by_stdin.stdout and len(by_file.stdout.splitlines()) == 1 + 3


def test_each_rank_band_is_named_by_the_ranks_it_holds(lm):
    from gpt2explore.model.scoring import RANK_BUCKETS, rank_bucket

    low = 1
    for i, (_, label) in enumerate(RANK_BUCKETS):  # ranks counted from 1, rank0 = rank - 1
        m = re.fullmatch(r"rank (\d+)-(\d+)", label) or re.fullmatch(r"rank > (\d+)", label)
        assert m, label
        first, last = (int(m[1]), int(m[2])) if m.lastindex == 2 else (int(m[1]) + 1, None)
        assert first == low and rank_bucket(first - 1) == i, label  # no band is named for a top it only ends
        if last is not None:
            assert rank_bucket(last - 1) == i and rank_bucket(last) == i + 1, label
            low = last + 1
    run = lm.score("the river runs to the sea")
    sample = run[0]
    names = [label for _, label in RANK_BUCKETS]
    assert list(gx.rank_histogram([sample]).data[0].x) == names
    assert [t.name.split(" (")[0] for t in gx.text_view(sample).data if t.showlegend] == names
    assert [c for c in run.summary().columns if c.startswith("share")] == [f"share {n}" for n in names]
    prose = (ROOT / "notebooks" / "src" / "06_score_a_text.py").read_text()
    assert "top 100" not in prose and "top 1000" not in prose


def test_notebook_09s_two_bar_charts_each_name_their_prompt(monkeypatch):
    import jupytext

    nb = jupytext.reads((ROOT / "notebooks" / "src" / "09_why_this_token.py").read_text(), fmt="py:percent")
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    upto = next(i for i, c in enumerate(cells) if "next_token_bars" in c)
    shown = []
    monkeypatch.setattr(go.Figure, "show", lambda fig, *a, **k: shown.append(fig))
    scope: dict = {}
    for source in cells[:upto + 1]:
        exec(compile(source, "09_why_this_token", "exec"), scope)
    titles = [fig.layout.title.text.split("<br>")[0] for fig in shown]
    assert len(titles) == 2 and titles[0] != titles[1], titles
    for title, prompt in zip(titles, scope["pair"]):
        assert html.escape(repr(prompt)) in title


def test_compare_next_token_marks_a_token_cut_in_one_column(lm):
    from gpt2explore.figures.plots import _group_offset

    a = lm.session("Hi! My name is", seed=1, top_k=3)
    b = a.fork()
    b.set(top_k=0)
    fig = gx.compare_next_token([a.next_step, b.next_step], ["top-k 3", "no top-k"])
    bars = [t for t in fig.data if t.type == "bar"]
    cut = next(t for t in fig.data if t.name == "cut by the settings")
    expected = [x + _group_offset(j, 2) for j, t in enumerate(bars) for x, y in zip(t.x, t.y) if y == 0]
    assert len(expected) == len(bars[0].x) - 3 and len(expected) > 0  # top-k 3 cuts all but 3; no top-k none
    assert list(cut.x) == pytest.approx(expected) and set(cut.y) == {0.0} and cut.showlegend
    assert all(text.endswith("(top-k 3)") for text in cut.text)
    assert all(max(t.y[x] for t in bars) > 0 for x in range(len(bars[0].x)))  # no token cut in every column
    assert bars[0].width is None and fig.layout.bargap == 0.15  # the offsets assume the figure's own bargap
    none = next(t for t in gx.compare_next_token([b.next_step, b.next_step]).data if t.name == "cut by the settings")
    assert not none.x and not none.showlegend  # nothing cut: no mark and no legend entry


def test_probabilities_read_alike_in_step_top_the_cli_and_the_compare_figure(lm):
    from gpt2explore.core import formatting as fmt
    from gpt2explore.files.tables import table

    step = lm.generate("Hi! My name is", length=2, seed=1, top_k=40)[0].steps[0]
    rows = step.top(8)
    frame = rows.frame()
    markup = table(frame).to_html()
    body = re.findall(r"<tr>(.*?)</tr>", markup, re.S)[1:]  # the header row first
    cells = [[html.unescape(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)] for tr in body]
    columns = list(frame.columns)
    for col, attr in (("prob", "prob"), ("model p", "prob_raw")):  # both columns under the one rule
        assert [row[columns.index(col)] for row in cells] == [fmt.prob(getattr(r, attr)) for r in rows], col
    text = repr(rows)
    for r in rows:
        assert fmt.prob(r.prob) in text and fmt.prob(r.prob_raw) in text
    for p, s in [(0.087, "0.0870"), (0.04, "0.0400"), (0.0237, "0.0237")]:  # three digits each, zeros kept
        assert fmt.prob(p) == s
    fig = gx.compare_next_token([step, step])
    assert list(fig.data[0].customdata) == [fmt.prob(v) for v in fig.data[0].y]


def test_the_attention_and_attribution_figures_name_context_tokens_by_whole_characters(lm):
    from gpt2explore.figures.why import _labels
    from gpt2explore.views.attention import attention_data, attention_overview_data

    run = lm.generate(TEXT, length=3, seed=1, attention=True)
    step = run[0].steps[2]
    d = attention_data(step)
    n_prompt = len(run[0].prompt_tokens)
    assert "".join(d["pieces"][:n_prompt]) == TEXT  # the prompt as it was written, every character whole
    assert not any("\ufffd" in t for t in d["pieces"] + d["labels"])
    assert any(re.fullmatch(r"‹[0-9a-f ]+› of 日", label) for label in d["labels"]), d["labels"]
    fig = gx.attention_view(step)
    assert "".join(fig.data[0].text[:n_prompt]) == TEXT
    assert not any("\ufffd" in h for h in fig.data[0].hovertext)
    cells = {t for row in attention_overview_data(step)["token"] for t in row}
    assert cells <= set(d["labels"])
    df = type("Attributed", (), {"attrs": {"token": step.token, "vs": int(step.logits.argsort()[-2])}})()
    from gpt2explore.core.pieces import step_label
    assert _labels(step, df) == (step_label(step, step.token), step_label(step, df.attrs["vs"]))


def test_notebook_code_fits_a_notebook_column():
    import jupytext

    for path in sorted((ROOT / "notebooks" / "src").glob("*.py")):  # JupyterLab clips longer lines at 1280 px
        nb = jupytext.reads(path.read_text(), fmt="py:percent")
        for cell in nb.cells:
            if cell.cell_type == "code":
                long = [line for line in cell.source.splitlines() if len(line) > 88]
                assert not long, f"{path.name}: {long}"


def test_the_staircase_legend_shows_each_bar_colour_and_the_rules_label_clears_the_run_marker(lm):
    from gpt2explore import teaching
    from gpt2explore.figures.style import CHOSEN_COLOR, KEPT_COLOR

    step = lm.generate("Hi! My name is", length=2, seed=1, top_k=40)[0].steps[0]
    fig = gx.draw_figure(step, temperature=0.5)
    bars = fig.data[0]
    assert bars.showlegend is False  # its own swatch would take the first bar's colour
    swatches = {t.name: t.marker.color for t in fig.data if t.type == "scatter" and t.x == (None,)}
    assert swatches == {"each token's p": KEPT_COLOR, "the drawn token's p": CHOSEN_COLOR}
    assert set(bars.marker.color) == {KEPT_COLOR, CHOSEN_COLOR}
    tiny = gx.load("tiny", device="cpu")  # notebook 02's model and run
    demo = teaching.rules_demo(tiny.generate("Hi! My name is", nsamples=2, length=30, seed=1))
    for fig in teaching.rules_figures(demo):
        note = fig.layout.annotations[-1]
        run_mark = fig.data[5]
        if run_mark.x and abs(run_mark.x[0] - note.x) < 0.5:  # the ▼ over the annotated token
            assert note.y >= max(run_mark.y) and note.ay < 0, (note.y, run_mark.y)
            break
    else:
        pytest.fail("no rules figure marks the run's token where the label points; the check saw nothing")


def test_the_temperature_sweep_reads_in_a_blog_column_and_its_caption_names_the_swept_range(lm, tmp_path):
    step = lm.generate("Hi! My name is", length=2, seed=1, top_k=40)[0].steps[0]
    fig = gx.temperature_sweep(step)
    said = gx.caption(fig)
    assert "T swept from 0.05 to " in said and "T=1" not in said, said
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.y < 0  # under the panels, not beside them
    svg = gx.save(fig, tmp_path / "sweep.svg", preset="blog").read_text()
    assert 'width="720"' in svg
    ticks = re.findall(r'<g class="xtick">(.*?)</g>', svg, re.S)
    assert ticks and not any("rotate(" in t for t in ticks)  # upright tick labels at 720 px
    titles = re.findall(r'class="annotation-text"[^>]*>(.*?)</text>', svg, re.S)
    assert "tokens holding 90% of p" in [html.unescape(t) for t in titles]


def test_n_is_the_most_bars_when_the_bars_need_not_reach_the_cut(lm):
    import torch

    run = lm.generate("Hi! My name is", length=6, seed=3, top_k=40)
    for step in run[0].steps:
        reached = gx.next_token_bars(step, n=20)
        assert len(reached.data[0].x) >= 41  # top_k=40 keeps 40: the bars go on to the first cut token
        fig = gx.next_token_bars(step, n=20, reach_cut=False)
        ids = [row[0] for row in fig.data[0].customdata]
        top = torch.topk(step.logits.float(), 20).indices.tolist()
        assert ids[:20] == top
        marked = {fig.data[2].customdata[0][0]} if len(fig.data[2].x) else set()
        ran = {ids[int(round(x - 0.2125))] for x in fig.data[5].x}
        assert set(ids[20:]) <= marked | ran  # beyond n: only the marked token and the run's, each marked
        gx.plots.redraw_bars(fig, step, step.settings_for(temperature=0.8), n=20)  # a redraw keeps the figure's choice
        assert len(fig.data[0].x) <= 22
