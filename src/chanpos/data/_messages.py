"""One-line error messages about data files, also when a DataLoader worker re-raises them."""

from __future__ import annotations

import re

from ..errors import ChanposError

__all__ = ["DataFileError", "one_line"]


def one_line(exc: BaseException, limit: int = 160) -> str:
    """`exc`'s message on one line, without C++ source locations, cut at a word near `limit`."""
    text = " ".join(str(exc).split())
    text = re.sub(r"^.*?\.(?:cpp|cc|h|hpp):\d+,?\s*", "", text) or type(exc).__name__
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + "..."
    return text


class DataFileError(ChanposError):
    """A ChanposError about one unreadable data file, raised while an item is loaded.

    A DataLoader worker re-raises it in the main process as `DataFileError(<"Caught ... in
    DataLoader worker" + traceback>)`; the constructor keeps only the original line, so the
    CLI still prints one line.
    """

    def __init__(self, message: str) -> None:
        marker = f"{type(self).__module__}.{type(self).__qualname__}: "
        if "\n" in message and marker in message:
            message = message.rsplit(marker, 1)[1].strip().splitlines()[0]
        super().__init__(message)
