"""SIGTERM and SIGHUP handled like Ctrl-C: the run stops cleanly and can be resumed.

`timeout`, `kill`, SLURM at its time limit and container stops send SIGTERM; a closed
terminal sends SIGHUP. `install()` makes both raise `KeyboardInterrupt` in the main thread
(once: later signals during the clean-up are ignored), so every command stops them where it
stops Ctrl-C: worker processes are ended, the run folder is kept resumable, one line says how
to resume, and the exit code is 128 + the signal number (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
Torch-free: the CLI installs it before anything heavy is imported.
"""

from __future__ import annotations

import signal
from types import FrameType

__all__ = ["install", "received", "exit_code", "stopped_by"]

_HANDLED = ("SIGTERM", "SIGHUP")
_received: int | None = None


def _handler(signum: int, frame: FrameType | None) -> None:
    global _received
    if _received is not None:
        return  # already stopping: let the clean-up finish
    _received = signum
    raise KeyboardInterrupt


def install() -> None:
    """Turn SIGTERM and SIGHUP (where the platform has them) into KeyboardInterrupt."""
    global _received
    _received = None
    for name in _HANDLED:
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, _handler)


def received() -> int:
    """The signal that stopped the run (SIGINT unless SIGTERM/SIGHUP arrived)."""
    return _received if _received is not None else int(signal.SIGINT)


def exit_code() -> int:
    """128 + the signal number, as a shell reports a process stopped by that signal."""
    return 128 + int(received())


def stopped_by() -> str:
    """'interrupted' after Ctrl-C, 'terminated' after SIGTERM or SIGHUP."""
    return "interrupted" if received() == signal.SIGINT else "terminated"
