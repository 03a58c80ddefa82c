"""User-facing errors: one line saying what is wrong and how to fix it (the CLI exits 2)."""

from __future__ import annotations

__all__ = ["ChanposError"]


class ChanposError(ValueError):
    """A mistake in the user's input (names, paths, sizes); the CLI prints it on one line."""
