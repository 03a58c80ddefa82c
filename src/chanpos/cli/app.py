"""The typer application and what every command shares: commands built from config
dataclasses, explicit-flag detection for `--resume`, one-line errors, Ctrl-C/SIGTERM/SIGHUP.

Nothing here imports torch or Lightning: `chanpos --help` and `chanpos <command> --help` stay
fast; each command imports its experiment when it runs.
"""

from __future__ import annotations

import errno
import functools
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ..errors import ChanposError
from ..runs.registry import Entry, entries
from ..runs.settings import info_of, parse_text, setting_fields
from .derive import option_parameters, overrides_from, profile_only_epilog

__all__ = ["app", "build_app", "settings_command", "user_errors", "say", "print_report"]


class OneLineErrors(TyperGroup):
    """The command group: a usage mistake (unknown option, a value of the wrong type) ends with
    one line on stderr and exit code 2, like every other user mistake."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except Exception as exc:  # click's usage errors carry format_message and exit_code
            if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
                raise
            if type(exc).__name__ == "NoArgsIsHelpError":  # bare `chanpos`: show the help
                typer.echo(exc.format_message())
                rv = 0
            else:
                ctx = getattr(exc, "ctx", None)
                hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
                text = " ".join(exc.format_message().split())
                typer.echo(f"error: {text}{hint}", err=True)
                rv = exc.exit_code
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    name="chanpos",
    cls=OneLineErrors,
    help=("Position information encoded channel-wise in CNNs (Islam et al., ICCV 2021): "
          "reproduce the paper's tables and run the same probes on your own models and data."),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def say(text: str) -> None:
    """Print on rank 0 only (DDP children stay quiet)."""
    from ..runs.folders import is_rank_zero

    if is_rank_zero():
        typer.echo(text)


def print_report(report: str, folder: Path) -> None:
    """Print a report's tables (not its image links), where the run folder is and its size."""
    from ..runs.folders import human_size, is_rank_zero, quote

    if not is_rank_zero():
        return
    typer.echo("\n" + report)
    size = sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
    typer.echo(f"run folder: {quote(folder)} ({human_size(size)})")


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """One stderr line and exit 2 for user mistakes; 130/143/129 after Ctrl-C/SIGTERM/SIGHUP
    (with how to resume); 0 for a resume of a finished run."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .. import interrupts
        from ..runs.folders import quote
        from ..runs.lifecycle import AlreadyFinished, Interrupted, completed, new_command

        interrupts.install()
        new_command()
        try:
            return fn(*args, **kwargs)
        except (Interrupted, KeyboardInterrupt):
            done = completed()
            if done is None:
                return _interrupted(sys.exc_info()[1])
            typer.echo(f"{interrupts.stopped_by()} after the run had finished: {quote(done)} "
                       "is complete (results.json written)", err=True)
            raise typer.Exit(0) from None
        except ChanposError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except AlreadyFinished as exc:
            typer.echo(str(exc))
            raise typer.Exit(0) from None
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
                where = f" writing {exc.filename}" if exc.filename else ""
                typer.echo(f"error: {exc.strerror}{where}; free space or fix permissions, then "
                           "resume the run with --resume", err=True)
                raise typer.Exit(2) from None
            raise

    return wrapper


def _interrupted(exc: BaseException | None) -> None:
    """One line (how to resume, when there is something to resume) and 128 + the signal."""
    from .. import interrupts
    from ..runs.lifecycle import Interrupted

    text = str(exc) if isinstance(exc, Interrupted) else interrupts.stopped_by()
    typer.echo(text, err=True)
    raise typer.Exit(interrupts.exit_code()) from None


def _given(ctx: typer.Context) -> set[str]:
    """Names of the options the user typed (not defaults)."""
    return {p.name for p in ctx.command.params
            if getattr(ctx.get_parameter_source(p.name), "name", None)
            in ("COMMANDLINE", "ENVIRONMENT")}


Out = Annotated[Path, typer.Option(help="Parent folder of the run folder "
                                        "(<out>/<command>-<timestamp>/).",
                                   rich_help_panel="Run folder")]
Resume = Annotated[Path | None, typer.Option(
    help="Continue an interrupted run folder of this command: its saved settings win (a flag "
         "that differs is an error), finished cells are kept, an unfinished one continues from "
         "where it stopped.", rich_help_panel="Run folder")]


def _param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)


def _variant_parameters(variant: Entry, parent: type) -> list[inspect.Parameter]:
    """The `--<flag>` switch of a variant of a command, and the variant's own settings (those
    the command's config does not have), shown in a panel of their own."""
    panel = variant.flag.capitalize() if variant.flag else "Variant"
    flag = _param(variant.flag, Annotated[bool, typer.Option(
        help=variant.help, rich_help_panel=panel)], False)
    own = {f.name for f in setting_fields(parent)}
    cls = variant.config_class()
    extra = [p for p in option_parameters(cls, None)
             if p.name not in own and p.name != "profile"]
    return [flag, *[p.replace(annotation=Annotated[str | None, typer.Option(
        f"--{p.name.replace('_', '-')}", help=f"With --{variant.flag}: "
        + info_of(next(f for f in setting_fields(cls) if f.name == p.name)).help,
        show_default=False, metavar="LIST", rich_help_panel=panel)]) for p in extra]]


def settings_command(e: Entry, target: typer.Typer | None = None) -> None:
    """Register `chanpos <e.name>`: one option per setting of its config class, plus `--out`
    (and `--resume`), running its experiment through the run lifecycle; with the `--<flag>`
    of a variant entry (e.g. `attack --study`) the variant's experiment runs instead."""
    cls = e.config_class()
    fields = option_parameters(cls, e.name if e.profiles else None)
    variants = [v for v in entries() if v.variant_of == e.name]
    extra = [p for v in variants for p in _variant_parameters(v, cls)]
    tail = [_param("out", Out, Path("runs"))]
    if e.resumable:
        tail.append(_param("resume", Resume, None))
    params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                annotation=typer.Context), *fields, *extra, *tail]

    def command(ctx: typer.Context, **values: Any) -> None:
        out, resume = values.pop("out"), values.pop("resume", None)
        extras = {p.name: values.pop(p.name) for p in extra}
        given = _given(ctx)
        overrides = overrides_from(cls, values)
        if "progress" in {f.name for f in fields} and "progress" not in given:
            overrides["progress"] = sys.stderr.isatty()  # bars only on a terminal
        chosen = _choose(e, variants, extras)
        run_command(chosen, overrides, given, out=out, resume=resume, extras=extras)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__doc__ = e.help
    (target or app).command(e.name, help=e.help, epilog=profile_only_epilog(cls))(
        user_errors(command))


def _choose(e: Entry, variants: list[Entry], extras: dict[str, Any]) -> Entry:
    """The entry a command line runs: a variant whose flag is on (its own settings parsed
    from their text), else `e` (a variant's settings without its flag are an error)."""
    for v in variants:
        if extras.pop(v.flag, False):
            cls = v.config_class()
            for name, text in list(extras.items()):
                extras[name] = None if text is None else parse_text(cls, name, text)
            return v
    for v in variants:
        extras.pop(v.flag, None)
    given = [k for k, val in extras.items() if val is not None]
    if given:
        owner = next(v for v in variants if given[0] in {f.name for f in setting_fields(
            v.config_class())})
        raise ChanposError(f"--{given[0].replace('_', '-')} needs --{owner.flag}")
    extras.clear()
    return e


def run_command(e: Entry, overrides: dict[str, Any], given: set[str], *, out: Path,
                resume: Path | None, extras: dict[str, Any]) -> None:
    """Resolve (or reload with --resume) the config of entry `e`, run it, print it."""
    from ..runs.lifecycle import execute, resume_run

    over = {**overrides, **{k: v for k, v in extras.items() if v is not None}}
    if resume is None:
        base = over.pop("profile", "quick")
        cfg = e.config_function()(base, over)  # settings first: torch is not loaded yet
        experiment = e.experiment()
        folder = None
    else:
        experiment = e.experiment()
        explicit = {k: v for k, v in over.items() if k in given or k in extras}
        cfg, folder = resume_run(experiment, resume, explicit)
    path, report, _ = execute(experiment, cfg, out, folder=folder, log=say)
    print_report(report.render(figures=False), path)


def build_app() -> typer.Typer:
    """A fresh application with one command per registered entry (variants as flags)."""
    fresh = typer.Typer(name="chanpos", cls=OneLineErrors, help=app.info.help,
                        no_args_is_help=True, add_completion=False,
                        pretty_exceptions_enable=False)
    for e in entries():
        if e.variant_of is None:
            settings_command(e, fresh)
    return fresh
