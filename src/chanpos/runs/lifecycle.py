"""One run lifecycle for every command: resolve -> validate -> open the folder -> run -> finish.

An experiment is a few functions (`Experiment`): `config` turns a profile (or a saved
configuration) plus command-line overrides into one validated frozen config; `prepare` loads
data and models and raises every user error before any folder exists; `run` trains and
measures cell by cell, appending finished rows (`row` type) to `rows.partial.jsonl`; the
`Outcome` it returns is written by `finish_run` (plots, report.md, then results.json last).

`--resume DIR` reopens a folder: it is locked (one writer at a time) and validated first
(config.yaml against the config, every recorded row against the row type, sub-runs), its
saved configuration wins, a flag that differs from it is a one-line error naming the flag, a
finished folder is left untouched ("already finished"), finished cells are kept and an
interrupted cell continues from its last completed epoch. Ctrl-C, SIGTERM and SIGHUP keep
the folder whenever something in it can be resumed and say how to resume.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import interrupts
from ..errors import ChanposError
from .folders import RunFolder, is_rank_zero, quote, to_plain, writable_parent
from .registry import entries
from .reporting import Report
from .settings import flag_of, info_of, setting_fields

__all__ = [
    "Experiment",
    "Outcome",
    "AlreadyFinished",
    "Interrupted",
    "execute",
    "resume_run",
    "validate_reopened",
    "validate_subrun",
    "read_results",
    "finish_run",
    "read_report",
    "completed",
    "new_command",
    "resume_commands",
    "rows_run",
]

Log = Callable[[str], None]
_current: Path | None = None  # the run folder of this command (not of its sub-runs)


def new_command() -> None:
    """Forget an earlier command's run folder (several commands in one process)."""
    global _current
    _current = None


def completed() -> Path | None:
    """The folder of this command's run if it finished (its results.json, written last, is on
    disk), else None: a signal that arrives after that point interrupts nothing."""
    if _current is not None and (_current / "results.json").is_file():
        return _current
    return None


def resume_commands() -> dict[str, str]:
    """Experiment name -> the command line that resumes its folders (from the registry)."""
    return {e.name: e.command_line for e in entries() if e.resumable}


@dataclass
class Outcome:
    """What a finished run writes: results.json, report.md (from `report`) and its plots."""

    results: dict[str, Any]
    report: Report
    plots: list[Callable[[Path], Path]] = field(default_factory=list)


@dataclass(frozen=True)
class Experiment:
    """A command's experiment: how to configure, prepare and run it.

    `row`: the type of its rows.partial.jsonl lines (validated when a folder is reopened);
    `validate_folder(cfg, folder)`: more validation of a reopened folder (sub-runs);
    `prepare_reopened(cfg, folder)`: what `prepare` does for a reopened folder (sub-runs that
    started earlier keep their saved settings); `claims`: the claims its verdicts judge (id ->
    `chanpos.verdicts.Claim`). Composite runs (`reproduce`) connect experiments through
    `products(cfg, folder)` (what a finished run of it offers others, e.g. a trained model's
    file; `folder` None: only what its settings say) and `from_needs({name: products})`
    (the overrides an experiment takes from the experiments it needs); `expected_claims(cfg)`:
    the claims a finished run of `cfg` always judges (default: all of `claims`).
    Whether it resumes is its registry entry's `resumable`.
    """

    name: str
    config: Callable[[str | Mapping[str, Any], Mapping[str, Any]], Any]
    prepare: Callable[[Any], Any]
    run: Callable[[Any, Any, RunFolder, Log], Outcome]
    row: type | None = None
    validate_folder: Callable[[Any, RunFolder], None] | None = None
    prepare_reopened: Callable[[Any, RunFolder], Any] | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)
    products: Callable[[Any, Path | None], dict[str, Any]] | None = None
    from_needs: Callable[[dict[str, dict[str, Any]]], dict[str, Any]] | None = None
    expected_claims: Callable[[Any], set[str]] | None = None

    def claims_of(self, cfg: Any) -> set[str]:
        """The claims a finished run of `cfg` always has a verdict on (a results.json
        without one of them is damaged)."""
        if self.expected_claims is not None:
            return self.expected_claims(cfg)
        return set(self.claims)


class AlreadyFinished(Exception):
    """`--resume` of a folder whose results.json exists: nothing to do."""

    def __init__(self, folder: Path) -> None:
        super().__init__(f"already finished: {quote(folder)}")
        self.folder = folder


class Interrupted(Exception):
    """Ctrl-C, SIGTERM or SIGHUP: `folder` is kept (resumable) or None (removed)."""

    def __init__(self, command: str, folder: Path | None) -> None:
        what = interrupts.stopped_by()
        text = (f"{what}; resume with: chanpos {resume_commands().get(command, command)} --resume "
                f"{quote(folder)}" if folder
                else f"{what} before anything could be resumed; the run folder was removed")
        super().__init__(text)
        self.command, self.folder = command, folder


def _saved_config(experiment: Experiment, folder: RunFolder) -> dict[str, Any]:
    """config.yaml of `folder` (`RunFolder.read_saved`), whose command must be `experiment`'s."""
    command = folder.read_config().get("command")
    if command != experiment.name:
        if not command:
            raise ChanposError(f"--resume {quote(folder.path)}: config.yaml names no chanpos "
                               "command")
        table = resume_commands()
        hint = (f"resume it with: chanpos {table[command]} --resume {quote(folder.path)}"
                if command in table else f"`chanpos {command}` runs do not resume")
        raise ChanposError(f"--resume {quote(folder.path)} is a {command} run folder, not a "
                           f"{experiment.name} one; {hint}")
    return folder.read_saved()


def validate_reopened(experiment: Experiment, folder: RunFolder) -> Any:
    """The saved config of a reopened `folder`, checked (command, every key and type, every
    recorded row, sub-runs); a damaged folder is a one-line error and stays untouched."""
    saved = _saved_config(experiment, folder)
    cfg = experiment.config(saved, {})
    folder.finished_rows(experiment.row)
    if experiment.validate_folder is not None:
        experiment.validate_folder(cfg, folder)
    return cfg


def read_results(folder: Path) -> dict[str, Any]:
    """A finished (sub-)run's results.json, or a one-line error naming the damaged file."""
    import json

    path = Path(folder) / "results.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ChanposError(f"{path} is damaged ({type(exc).__name__}); delete it to rebuild "
                           "that run's report from its finished cells") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("verdicts", []), list):
        raise ChanposError(f"{path} is not a chanpos results file; delete it to rebuild that "
                           "run's report from its finished cells")
    return doc


def validate_subrun(experiment: Experiment, path: Path) -> None:
    """A sub-run folder of a reopened composite run (reproduce, the study): its results.json
    if finished, else its config.yaml and rows; absent folders are fine (not started)."""
    if not path.is_dir():
        return
    if (path / "results.json").is_file():
        read_results(path)
        return
    if (path / "config.yaml").is_file():
        validate_reopened(experiment, RunFolder(path, owned=False))


def resume_run(experiment: Experiment, path: Path, explicit: Mapping[str, Any]
               ) -> tuple[Any, RunFolder]:
    """(saved config, the locked folder) of `--resume path`. `explicit` (settings given on the
    command line) that would change the saved config are a one-line error naming their flags;
    runtime settings (progress, workers, keep_checkpoints) replace the saved ones."""
    path = Path(path)
    if not path.is_dir():
        raise ChanposError(f"--resume {quote(path)}: no such run folder")
    _saved_config(experiment, RunFolder(path, owned=False))  # the right command's folder?
    if is_rank_zero() and (path / "results.json").is_file():
        raise AlreadyFinished(path)
    folder = RunFolder.reopen(path)
    try:
        base = validate_reopened(experiment, folder) if folder.owned else None
        if base is None:  # another rank: read what rank 0 checks
            base = experiment.config(RunFolder(path, owned=False).read_saved(), {})
        runtime = {f.name for f in setting_fields(type(base)) if info_of(f).runtime}
        saved = to_plain(base)
        differ = [flag_of(k) for k, v in sorted(explicit.items())
                  if k not in runtime and experiment.config(saved, {k: v}) != base]
        if differ:
            raise ChanposError(
                f"--resume {quote(path)}: {', '.join(differ)} differ"
                f"{'s' if len(differ) == 1 else ''} from the saved configuration (the saved "
                "one wins); drop the flag or start a new run")
        changes = {k: v for k, v in explicit.items() if k in runtime}
        return (experiment.config(saved, changes) if changes else base), folder
    except BaseException:
        folder.release()
        raise


def rows_run(run_rows: Callable[..., list[Any]], verdicts: Callable[[list[Any], Any], list[Any]],
             results: Callable[..., dict[str, Any]], report: Callable[..., str],
             plots: Callable[[list[Any]], list[Callable[[Path], Path]]]
             ) -> Callable[[Any, Any, RunFolder, Log], Outcome]:
    """An experiment's `run` for a table of rows: run the cells, judge the claims, then the
    results document, the report and the plots, each from (rows, cfg, verdicts, seconds)."""
    import time

    def run(cfg: Any, data: Any, folder: RunFolder, log: Log) -> Outcome:
        start = time.perf_counter()
        rows = run_rows(cfg, data, folder, log=log)
        seconds = time.perf_counter() - start
        judged = verdicts(rows, cfg)
        return Outcome(results(rows, cfg, judged, seconds), report(rows, cfg, judged, seconds),
                       plots(rows))

    return run


def finish_run(folder: RunFolder, outcome: Outcome) -> Path:
    """Write plots, then the report (report.json: its structure, which composite runs nest;
    report.md), then results.json last (its presence marks a finished run)."""
    if folder.owned:
        for plot in outcome.plots:
            plot(folder.path)
        folder.write_json("report.json", outcome.report.to_plain())
        folder.write_text("report.md", outcome.report.render())
        folder.write_json("results.json", outcome.results)
    return folder.path


def read_report(folder: Path) -> Report | None:
    """A finished (sub-)run's report structure (None if it has no readable report.json)."""
    import json

    try:
        doc = json.loads((Path(folder) / "report.json").read_text(encoding="utf-8"))
        return Report.from_plain(doc)
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError):
        return None


def execute(experiment: Experiment, cfg: Any, out: Path, *, resume: Path | None = None,
            folder: RunFolder | None = None, log: Log = print, name: str | None = None,
            prepared: Any = None) -> tuple[Path, Report, dict[str, Any]]:
    """Prepare, open (create or reopen) the run folder, run, finish -> (folder, report, results).

    `folder`: an already reopened (locked) folder (`resume_run`); `resume`: a folder path to
    reopen here (reproduce's and the study's sub-runs); `name` creates `out/<name>` instead of
    a timestamped folder; `prepared`: what `experiment.prepare(cfg)` returned, if done already.
    """
    if folder is None and resume is not None:
        if is_rank_zero() and (Path(resume) / "results.json").is_file():
            raise AlreadyFinished(Path(resume))
        folder = RunFolder.reopen(Path(resume))
        try:
            if folder.owned:
                validate_reopened(experiment, folder)
        except BaseException:
            folder.release()
            raise
    try:
        if folder is None and name is None and is_rank_zero():
            writable_parent(out)  # a bad --out fails before any data is loaded
        if prepared is None and folder is not None and experiment.prepare_reopened is not None:
            prepared = experiment.prepare_reopened(cfg, folder)
        elif prepared is None:
            prepared = experiment.prepare(cfg)  # every user error surfaces here
    except BaseException:
        if folder is not None:
            folder.release()
        raise
    if folder is None:
        folder = RunFolder.create(out, experiment.name, name=name)
    folder.claim()  # validated and prepared: from here on this process writes the folder
    if name is None and folder.owned:  # the command's own run, not a sub-run
        global _current
        _current = folder.path
    try:
        if folder.created:
            folder.write_config(experiment.name, cfg)
        outcome = experiment.run(cfg, prepared, folder, log)
        outcome.results.setdefault("config", to_plain(cfg))
        finish_run(folder, outcome)
    except KeyboardInterrupt:
        keep = not folder.created or folder.has_progress()
        if folder.owned and not keep:
            folder.discard()
        raise Interrupted(experiment.name, folder.path if keep and folder.owned else None
                          ) from None
    except BaseException:
        if folder.owned and folder.created and not folder.has_progress():
            folder.discard()
        raise
    finally:
        folder.cleanup_temp()
        folder.release()
    return folder.path, outcome.report, outcome.results
