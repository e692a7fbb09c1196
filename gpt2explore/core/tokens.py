"""Tokens as a person reads them: visible whitespace, escapes for control characters, and
`step.top()`'s rows as a table."""
from __future__ import annotations

import functools
import re
import unicodedata

SP_SPACE = "\u2581"  # SentencePiece's visible space, '▁', at the start of a word's piece
SP_BYTE = re.compile(r"<0x([0-9A-Fa-f]{2})>")  # a SentencePiece byte-fallback piece, e.g. '<0xE2>'


def show_token(text: str) -> str:
    """A token's text with whitespace made visible: leading space as '␣', newline as '↵', tab
    as '⇥'; other control and format characters as escapes ('\\x1b'), never as a box glyph."""
    out = text.replace("\n", "↵").replace("\t", "⇥").replace("\r", "␍")
    out = "".join(c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co")
                  else c for c in out)
    if out.startswith(" "):
        out = "␣" + out[1:]
    return out if out else "∅"


def show_text(text: str) -> str:
    """A whole text with the same visible rule for control characters (newlines kept as line
    breaks, so a table cell wraps like the text)."""
    return "".join(c.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") and c not in "\n\t" else c
                   for c in text)


@functools.lru_cache(maxsize=1)
def byte_decoder() -> dict:
    """GPT-2's byte-level BPE alphabet back to bytes (the inverse of its bytes_to_unicode)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def sentencepiece_bytes(piece) -> bytes | None:
    """A SentencePiece token's own string as its bytes: '▁the' -> b' the', the byte-fallback
    '<0xE2>' -> b'\\xe2'; None for a piece with neither (it may be a byte-level BPE one)."""
    if not isinstance(piece, str):
        return None
    byte = SP_BYTE.fullmatch(piece)
    if byte:
        return bytes([int(byte.group(1), 16)])
    return piece.replace(SP_SPACE, " ").encode("utf-8") if SP_SPACE in piece else None


def piece_bytes(piece) -> bytes | None:
    """A token's own string as its bytes: a byte-level BPE one (e.g. 'Ġthe'), or a SentencePiece
    one ('▁the', '<0xE2>', which no byte-level BPE string spells: '▁' is not in its alphabet and
    GPT-2 has no '<0xNN>' token); None if it is neither."""
    sp = sentencepiece_bytes(piece)
    return sp if sp is not None else byte_level_bytes(piece)


def byte_level_bytes(piece) -> bytes | None:
    """A byte-level BPE token's own string (e.g. 'Ġthe') as its bytes, None if it is not one."""
    table = byte_decoder()
    if not isinstance(piece, str) or any(ch not in table for ch in piece):
        return None
    return bytes(table[ch] for ch in piece)


def incomplete_tail(data: bytes) -> int:
    """How many bytes at the end of `data` begin a UTF-8 character that is not finished (0-3)."""
    for back in range(1, min(4, len(data)) + 1):
        b = data[-back]
        if b & 0xC0 != 0x80:  # a lead byte (or ASCII): how long is its character?
            need = 1 if b < 0x80 else 2 if b >> 5 == 0b110 else 3 if b >> 4 == 0b1110 else 4 if b >> 3 == 0b11110 else 1
            return back if back < need else 0
    return 0


def whole_text(tokenizer, tokens) -> str:
    """The tokens' text with a last character that a token cut in half held back (its bytes
    would show as '�'); the rest decodes as usual. A tokenizer that is not byte-level: its own
    decode."""
    tokens = list(tokens)
    pieces = [byte_level_bytes(p) for p in tokenizer.convert_ids_to_tokens(tokens)] if tokens else []
    if any(p is None for p in pieces):
        return tokenizer.decode(tokens, clean_up_tokenization_spaces=False)
    data = b"".join(pieces)
    cut = incomplete_tail(data)
    return (data[:-cut] if cut else data).decode("utf-8", errors="replace")


def token_label(step_or_decode, token_id: int) -> str:
    """A token as a label: visible whitespace, and a token that is only part of a UTF-8
    character (it decodes to U+FFFD) as its bytes in hex, e.g. '‹e2 80›', never a box glyph."""
    decode = step_or_decode.decode if hasattr(step_or_decode, "decode") else step_or_decode
    text = decode(token_id)
    sp = sentencepiece_bytes(_token_piece(step_or_decode, token_id))
    if sp is not None:  # SentencePiece decodes '▁the' alone as 'the': its piece says there is a space
        text = sp.decode("utf-8", errors="replace")
    if "\ufffd" in text:
        raw = _token_bytes(step_or_decode, token_id)
        if raw is not None:
            lead = "␣" if raw.startswith(b" ") else ""
            return lead + "‹" + " ".join(f"{b:02x}" for b in raw.lstrip(b" ")) + "›" if raw.strip() else show_token(text)
    return show_token(text)


def _token_piece(step, token_id: int) -> str | None:
    return step.token_piece(token_id) if hasattr(step, "token_piece") else None


def _token_bytes(step, token_id: int) -> bytes | None:
    return piece_bytes(_token_piece(step, token_id))
