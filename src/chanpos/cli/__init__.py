"""`chanpos` command line: thin commands that parse options and run one experiment through
the run lifecycle. User mistakes end with one line on stderr and exit code 2."""

from . import attack as _attack  # noqa: F401  (registers commands)
from . import audit as _audit  # noqa: F401
from . import tables as _tables  # noqa: F401
from .app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
