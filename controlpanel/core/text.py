"""Small helpers for the words the panel shows."""

from __future__ import annotations

TERMINAL = (".", "!", "?", "…", ".)", "!)", "?)", ".”", '."')


def sentence(text: object) -> str:
    """``text`` ending in exactly one full stop: vendors' messages often bring their own,
    and ``f"{reason}."`` would double it ("api-keys..")."""
    words = str(text or "").strip()
    if not words or words.endswith(TERMINAL):
        return words
    return words + "."


def clause(text: object) -> str:
    """``text`` without its closing full stop, to sit inside a longer sentence
    ("… (not possible while stopped)." rather than "(… stopped.).")."""
    words = str(text or "").strip()
    return words[:-1] if words.endswith(".") and not words.endswith("...") else words


def plain_int(text: object, *, digits: int = 18) -> int | None:
    """``text`` as a non-negative integer if it is one written in ASCII digits (at most
    ``digits`` of them), else ``None``. Not ``str.isdigit``: it says yes to "²" and to
    5,000-digit numbers, both of which ``int()`` then refuses with a ValueError."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text if 0 <= text < 10**digits else None
    if not isinstance(text, str) or not (0 < len(text) <= digits) or not text.isascii() or not text.isdigit():
        return None
    return int(text)
