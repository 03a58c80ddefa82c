"""One run lifecycle for every command: resolve -> validate -> open the folder -> run -> finish.

An experiment is four functions (`Experiment`): `config` turns a profile (or a saved
configuration) plus command-line overrides into one validated frozen config; `prepare` loads
data and models and raises every user error before any folder exists; `run` trains and
measures cell by cell, appending finished rows to `rows.partial.jsonl`; the `Outcome` it
returns is written by `finish_run` (plots, report.md, then results.json last).

`--resume DIR` reopens a folder: its saved configuration wins, a flag that differs from it is
a one-line error naming the flag, a finished folder is left untouched ("already finished"),
finished cells are kept and an interrupted cell continues from its last completed epoch.
Ctrl-C keeps the folder whenever something in it can be resumed and says how to resume.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from ..errors import ChanposError
from .runs import RunFolder, is_rank_zero, to_plain, writable_parent

__all__ = [
    "Experiment",
    "Outcome",
    "AlreadyFinished",
    "Interrupted",
    "execute",
    "from_plain",
    "resume_config",
    "finish_run",
]

Log = Callable[[str], None]

# options that change how a run looks, never what it computes: may differ on --resume
RUNTIME_ONLY = ("progress", "workers")


@dataclass
class Outcome:
    """What a finished run writes: results.json, report.md and its plots."""

    results: dict[str, Any]
    report: str
    plots: list[Callable[[Path], Path]] = field(default_factory=list)


@dataclass(frozen=True)
class Experiment:
    """A command's experiment: how to configure, prepare and run it."""

    name: str
    config: Callable[[str | Mapping[str, Any], Mapping[str, Any]], Any]
    prepare: Callable[[Any], Any]
    run: Callable[[Any, Any, RunFolder, Log], Outcome]


class AlreadyFinished(Exception):
    """`--resume` of a folder whose results.json exists: nothing to do."""

    def __init__(self, folder: Path) -> None:
        super().__init__(f"already finished: {folder}")
        self.folder = folder


class Interrupted(Exception):
    """Ctrl-C: `folder` is kept (resumable) or None (nothing could be resumed, removed)."""

    def __init__(self, command: str, folder: Path | None) -> None:
        text = (f"interrupted; resume with: chanpos {command} --resume {folder}" if folder
                else "interrupted before anything could be resumed; the run folder was removed")
        super().__init__(text)
        self.command, self.folder = command, folder


def from_plain(cls: type, data: Mapping[str, Any], *, where: str = "config") -> Any:
    """Rebuild the frozen dataclass `cls` from plain data (lists -> tuples, nested dataclasses)."""
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ChanposError(f"{where}: unknown setting {unknown[0]!r} (written by another version "
                           "of chanpos?)")
    values = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ChanposError(f"{where}: {exc}") from None


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if value is None:
        return None
    if is_dataclass(hint) and isinstance(value, Mapping):
        return from_plain(hint, value, where=where)
    origin = get_origin(hint)
    if origin is tuple and isinstance(value, (list, tuple)):
        return tuple(value)
    args = [a for a in get_args(hint) if a is not type(None)]
    for arg in args:  # unions: the first alternative that fits
        if is_dataclass(arg) and isinstance(value, Mapping):
            return from_plain(arg, value, where=where)
        if get_origin(arg) is tuple and isinstance(value, (list, tuple)):
            return tuple(value)
    return value


def resume_config(experiment: Experiment, folder: Path, explicit: Mapping[str, Any],
                  flags: Mapping[str, str], runtime: Mapping[str, Any]) -> Any:
    """The saved config of `folder`; `explicit` overrides (given on the command line) that would
    change it are a one-line error naming their `flags`. `runtime` options (progress, workers)
    replace the saved ones."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ChanposError(f"--resume {folder}: no such run folder")
    saved = RunFolder(folder, owned=False).read_config()
    command = saved.pop("command", None)
    if command != experiment.name:
        raise ChanposError(f"--resume {folder} is a {command or 'foreign'} run folder, not a "
                           f"{experiment.name} one; use chanpos {command} --resume" if command
                           else f"--resume {folder}: config.yaml names no chanpos command")
    base = experiment.config(saved, {})
    differ = [flags.get(k, k) for k, v in explicit.items()
              if k not in RUNTIME_ONLY and experiment.config(saved, {k: v}) != base]
    if differ:
        raise ChanposError(
            f"--resume {folder}: {', '.join(differ)} differ{'s' if len(differ) == 1 else ''} from "
            "the saved configuration (the saved one wins); drop the flag or start a new run")
    return experiment.config(saved, dict(runtime))


def finish_run(folder: RunFolder, outcome: Outcome) -> Path:
    """Write plots, then report.md, then results.json last (its presence marks a finished run)."""
    if folder.owned:
        for plot in outcome.plots:
            plot(folder.path)
        folder.write_text("report.md", outcome.report)
        folder.write_json("results.json", outcome.results)
    return folder.path


def execute(experiment: Experiment, cfg: Any, out: Path, *, resume: Path | None = None,
            log: Log = print, name: str | None = None) -> tuple[Path, str, dict[str, Any]]:
    """Prepare, open (create or reopen) the run folder, run, finish -> (folder, report, results).

    `name` creates `out/<name>` instead of a timestamped folder (reproduce's sub-runs).
    """
    if resume is not None and is_rank_zero() and (Path(resume) / "results.json").is_file():
        raise AlreadyFinished(Path(resume))
    if resume is None and name is None and is_rank_zero():
        writable_parent(out)  # a bad --out fails before any data is loaded
    prepared = experiment.prepare(cfg)  # every user error surfaces here, before any folder
    folder = (RunFolder.reopen(Path(resume)) if resume is not None
              else RunFolder.create(out, experiment.name, name=name))
    try:
        if resume is None:
            folder.write_config(experiment.name, cfg)
        outcome = experiment.run(cfg, prepared, folder, log)
        outcome.results.setdefault("config", to_plain(cfg))
        finish_run(folder, outcome)
    except KeyboardInterrupt:
        keep = folder.owned and folder.has_progress()
        if folder.owned and not keep:
            folder.discard()
        raise Interrupted(experiment.name, folder.path if keep else None) from None
    except BaseException:
        if folder.owned and not folder.has_progress():
            folder.discard()
        raise
    finally:
        folder.cleanup_temp()
    return folder.path, outcome.report, outcome.results
