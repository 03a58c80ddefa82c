"""The one experiment registry: command name -> experiment package, config class, what it
needs from other experiments. The command line, `--resume`'s command table, `reproduce` and
the tests' command lists are all derived from it.

The framework knows no experiment by name: `chanpos.experiments` (its `__init__`) declares one
`register(Entry(...))` line per experiment, and `entries()` imports that catalogue the first
time it is asked. Everything here is torch-free, so `chanpos --help` stays fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from ..errors import ChanposError

__all__ = ["Entry", "register", "unregister", "entries", "entry", "CATALOGUE"]

# the package whose import registers the experiments chanpos ships
CATALOGUE = "chanpos.experiments"
_ENTRIES: dict[str, Entry] = {}
_loaded = False


@dataclass(frozen=True)
class Entry:
    """One registered experiment (or one-shot tool).

    `package` holds `<config_module>.py` (the torch-free config class `config`), `<module>.py`
    (its `EXPERIMENT`) and its profiles file. `reproduce`: part of `chanpos reproduce`, after
    the experiments it `needs` (whose products it takes). A `variant_of` entry has no command
    of its own: it runs as `chanpos <variant_of> --<flag>` (e.g. the attack study).
    """

    name: str
    package: str
    config: str
    help: str
    config_module: str = "config"
    module: str = "experiment"
    profiles: str | None = "profiles.yaml"
    resumable: bool = True
    reproduce: bool = False
    needs: tuple[str, ...] = ()
    variant_of: str | None = None
    flag: str | None = None
    configure: str | None = None  # the config function in `config_module` (default:
                                  # `<name>_config`)

    @property
    def command_line(self) -> str:
        """How a user runs it: `table1`, or `attack --study` for a variant."""
        return f"{self.variant_of} --{self.flag}" if self.variant_of else self.name

    def config_class(self) -> type:
        """The frozen config dataclass of this experiment (imports only its config module)."""
        return getattr(importlib.import_module(f"{self.package}.{self.config_module}"),
                       self.config)

    def config_function(self) -> Any:
        """The torch-free function that turns a profile and overrides into a validated
        config (the CLI calls it before importing the experiment, so a setting that is wrong
        is one line at once)."""
        module = importlib.import_module(f"{self.package}.{self.config_module}")
        return getattr(module, self.configure or f"{self.name.replace('-', '_')}_config")

    def experiment(self) -> Any:
        """Its `EXPERIMENT` (imports the experiment, and with it torch)."""
        return importlib.import_module(f"{self.package}.{self.module}").EXPERIMENT


def register(e: Entry) -> Entry:
    """Add an experiment to the registry; a second entry of the same name is an error."""
    if e.name in _ENTRIES and _ENTRIES[e.name] != e:
        raise ValueError(f"experiment {e.name!r} is already registered")
    if (e.variant_of is None) != (e.flag is None):
        raise ValueError(f"{e.name}: a variant needs both variant_of and flag")
    _ENTRIES[e.name] = e
    return e


def unregister(name: str) -> None:
    """Remove an entry (tests that register a tiny experiment)."""
    _ENTRIES.pop(name, None)


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        importlib.import_module(CATALOGUE)


def entries() -> list[Entry]:
    """Every registered experiment, in registration order (reproduce's order too)."""
    _load()
    return list(_ENTRIES.values())


def entry(name: str) -> Entry:
    """The entry of experiment `name`, or a one-line error listing the known ones."""
    _load()
    if name not in _ENTRIES:
        raise ChanposError(f"unknown experiment {name!r}; known: {', '.join(_ENTRIES)}")
    return _ENTRIES[name]
