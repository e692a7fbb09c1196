"""Tokens as pieces of a whole text: every character whole, every token boundary kept.

Byte-level BPE (GPT-2) and SentencePiece byte fallback (Llama) split a character such as “ é 日
or 🙂 over several tokens; decoded one by one, each part shows as '�'. `whole_pieces` gives
each token the text it adds to the whole: the bytes of a character cut between tokens join the
token that completes it, and a token that holds only a part adds nothing ("" -- its boundary
is still a token, and its piece says which character it is part of). The pieces' texts
concatenate to the decoded text.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Sequence

from .tokens import incomplete_tail, piece_bytes, show_token, token_label


@dataclass(frozen=True)
class Piece:
    """One token as a text shows it. `text`: what it adds to the whole text (only whole
    characters). `raw`: the token's own bytes. `completes`: the character whose first bytes an
    earlier token holds and this token finishes ("" if none). `begins`: the character this token
    starts and a later token finishes ("" if none). `carry`: those unfinished bytes."""

    text: str
    raw: bytes
    completes: str = ""
    begins: str = ""
    carry: bytes = b""

    @property
    def part_of(self) -> str:
        """The characters whose bytes this token shares with a neighbouring token ("" if none)."""
        return self.completes + (self.begins if self.begins != self.completes else "")

    @property
    def partial(self) -> bool:
        """The token holds only part of a character: it adds no text of its own."""
        return self.text == "" and bool(self.carry)

    @property
    def label(self) -> str:
        """The token as a table or hover names it: its text with whitespace made visible (a
        character it completes shows whole), then the bytes of a character it only begins, and
        that character: '“', '␣‹e2 80› of “' (a space, then two of the quote's three bytes),
        '‹97› of 日'."""
        if not self.carry:
            return show_token(self.text)
        own = self.raw[len(self.raw) - min(len(self.carry), len(self.raw)):]
        head = show_token(self.text) if self.text else ""
        return head + bytes_label(own) + (f" of {self.begins}" if self.begins else "")

    @property
    def note(self) -> str:
        """One line for a hover or a table: which character this token shares, and how."""
        if self.partial:
            return (f"part of {describe_char(self.begins)}; the token that completes it shows "
                    f"it whole" if self.begins else "the first bytes of a character that no token completes yet")
        notes = []
        if self.completes:
            notes.append(f"completes {describe_char(self.completes)}, begun by an earlier token")
        if self.begins:
            notes.append(f"begins {describe_char(self.begins)}, which a later token completes")
        return "; ".join(notes)


def bytes_label(raw: bytes) -> str:
    """Bytes spelled in hex: '‹e2 80›'."""
    return "‹" + " ".join(f"{b:02x}" for b in raw) + "›"


def describe_char(char: str) -> str:
    """'“ (U+201C LEFT DOUBLE QUOTATION MARK)': a character with its code point and name."""
    name = unicodedata.name(char, "")
    return f"{char} (U+{ord(char):04X}{' ' + name if name else ''})"


def whole_pieces(chunks: Sequence[bytes], carry: bytes = b"", final: bool = True) -> list[Piece]:
    """Each token's bytes (`chunks`) as a Piece; `carry`: unfinished bytes the context ends with
    (they join the first token's text). Bytes that are not UTF-8 show as '�', as a decoder
    shows them; a character still unfinished after the last token shows as '�' there, so the
    texts concatenate to exactly what decoding all the bytes at once gives -- unless `final` is
    False (a text still being written): then its last token holds them back, as a part."""
    texts, carries, completes = [], [], []
    pending = bytes(carry)
    for i, raw in enumerate(chunks):
        data = pending + bytes(raw)
        cut = incomplete_tail(data) if i < len(chunks) - 1 or not final else 0
        text = data[:len(data) - cut].decode("utf-8", errors="replace")
        texts.append(text)
        completes.append(text[0] if pending and text else "")
        pending = data[len(data) - cut:]
        carries.append(pending)
    pieces = []
    for i, raw in enumerate(chunks):
        begins = ""
        if carries[i]:  # the character it began: the first one of the next text that is not empty
            begins = next((texts[j][0] for j in range(i + 1, len(texts)) if texts[j]), "")
            begins = "" if begins == "\ufffd" else begins  # bytes no token completes into a character name none
        pieces.append(Piece(texts[i], bytes(raw), completes[i], begins, carries[i]))
    return pieces


def label_after(carry: bytes, raw: bytes, text: str) -> str:
    """A candidate next token's label after a context that ends with the unfinished bytes
    `carry`: the whole character(s) where the token completes them ('“That'), its own label
    (`text`, as tokens.token_label gives it) otherwise."""
    if not carry:
        return text
    data = carry + raw
    cut = incomplete_tail(data)
    try:
        whole = data[:len(data) - cut].decode("utf-8")
    except UnicodeDecodeError:
        return text
    return show_token(whole) if whole and not cut else text


def token_bytes(tokenizer, ids: Sequence[int]) -> list[bytes]:
    """Each token's own bytes: read from the tokenizer's own string for a byte-level BPE or
    SentencePiece token (where it agrees with the token's decoded text), else the UTF-8 of its
    decoded text."""
    ids = [int(i) for i in ids]
    pieces = tokenizer.convert_ids_to_tokens(ids) if ids else []
    out = []
    for i, piece in zip(ids, pieces):
        text = tokenizer.decode([i], clean_up_tokenization_spaces=False)
        raw = piece_bytes(piece)
        if raw is not None:
            own = raw.decode("utf-8", errors="replace")
            if own == text or own.lstrip(" ") == text or ("\ufffd" in text and "\ufffd" in own):
                out.append(raw)
                continue
        out.append(text.encode("utf-8"))
    return out


def sample_pieces(sample) -> list[Piece]:
    """The pieces of a sample's generated tokens, the prompt's unfinished bytes (if any) joining
    the first; without a tokenizer (a bundle that lacks one), each token's decoded text."""
    return _pieces_and_carry(sample)[0]


def carry_before(sample, index: int) -> bytes:
    """The unfinished bytes the context of a sample's step `index` ends with (b"" if none)."""
    pieces, carry = _pieces_and_carry(sample)
    if index <= 0:
        return carry
    return pieces[index - 1].carry if index - 1 < len(pieces) else b""


def _pieces_and_carry(sample) -> tuple[list[Piece], bytes]:
    """(the sample's pieces, the unfinished bytes its prompt ends with), computed once per
    sequence of tokens (a session's sample grows: then again)."""
    run = getattr(sample, "run", None)
    tokenizer = getattr(run, "tokenizer", None) if run is not None else None
    tokens = sample.tokens
    if tokenizer is None or not hasattr(tokenizer, "convert_ids_to_tokens"):
        return [Piece(sample.decode([t]), sample.decode([t]).encode("utf-8")) for t in tokens], b""
    key = (id(tokenizer), id(run), tuple(sample.prompt_tokens), tuple(tokens))
    cached = getattr(sample, "_pieces_cache", None)
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    tail = b"".join(token_bytes(tokenizer, sample.prompt_tokens))
    carry = tail[len(tail) - incomplete_tail(tail):] if tail else b""
    live = bool(getattr(run, "meta", {}).get("session"))  # a session's text is still being written
    pieces = whole_pieces(token_bytes(tokenizer, tokens), carry, final=not live)
    try:
        sample._pieces_cache = (key, pieces, carry)
    except AttributeError:  # a sample-like object that takes no new attributes: computed each time
        pass
    return pieces, carry


def step_label(step, token_id: int) -> str:
    """A token as a step's bars and tables name it: the step's own token as its piece of the
    sample's text names it ('␣‹e2 80› of “'); another token after a context that ends inside a
    character, with the character it would complete ('“That'); else tokens.token_label."""
    sample = getattr(step, "sample", None)
    own = token_label(step, token_id)
    if sample is None or getattr(sample, "run", None) is None or getattr(sample.run, "tokenizer", None) is None:
        return own
    if token_id == step.token and not getattr(step, "pending", False) and step.index < len(sample.steps) \
            and sample.steps[step.index].token == token_id:
        return sample_pieces(sample)[step.index].label
    carry = carry_before(sample, min(step.index, len(sample.steps)))
    if not carry:
        return own
    return label_after(carry, token_bytes(sample.run.tokenizer, [token_id])[0], own)


def context_pieces(step) -> list[Piece]:
    """The step's context tokens (the prompt, then the tokens before the step) as pieces of the
    sample's whole text: a character split over context tokens shows whole in the token that
    completes it, and a token holding only part of one names it (its `label`), as every text
    view shows them. Without a tokenizer (a bundle that lacks one), each token's decoded text."""
    context = [int(t) for t in step.context_tokens]
    sample = getattr(step, "sample", None)
    run = getattr(sample, "run", None) if sample is not None else None
    tokenizer = getattr(run, "tokenizer", None) if run is not None else None
    if tokenizer is None or not hasattr(tokenizer, "convert_ids_to_tokens"):
        return [Piece(step.decode(t), step.decode(t).encode("utf-8")) for t in context]
    full = [int(t) for t in sample.prompt_tokens] + [int(t) for t in sample.tokens]
    ids = full if full[:len(context)] == context else context  # a sliding window: its own tokens only
    return whole_pieces(token_bytes(tokenizer, ids), final=False)[:len(context)]  # later tokens may complete one
