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
