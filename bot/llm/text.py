"""Streamed text made safe to print and store, whichever backend sent it."""

from __future__ import annotations


class TextJoiner:
    """Joins streamed text whose emoji may arrive as two halves of a surrogate pair in two chunks."""

    def __init__(self) -> None:
        self._held = ""

    def add(self, piece: str) -> str:
        piece = self._held + piece
        self._held = ""
        if piece and "\ud800" <= piece[-1] <= "\udbff":
            piece, self._held = piece[:-1], piece[-1]
        return valid_text(piece)

    def rest(self) -> str:
        held, self._held = self._held, ""
        return valid_text(held)


def valid_text(text: str) -> str:
    """Pairs surrogates; any lone one becomes U+FFFD, so the text can be printed and stored."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
