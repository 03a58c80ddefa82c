"""`chanpos` command line: thin commands whose options are derived from each experiment's
config dataclass, running one experiment through the run lifecycle. User mistakes end with
one line on stderr and exit code 2."""

from . import commands as _commands  # noqa: F401  (registers the commands)
from .app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
