"""The typer application and what every command shares: option types, the device option
group, explicit-flag detection for `--resume`, one-line errors and Ctrl-C handling.

Nothing here imports torch or Lightning: `chanpos --help` and `chanpos <command> --help` stay
fast; each command imports its experiment when it runs.
"""

import errno
import functools
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ..errors import ChanposError


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

# ---- options shared by the experiment commands (one spelling per concept) ----
Profile = Annotated[str, typer.Option(help="Settings preset: 'quick' (offline data, CPU, minutes) "
                                           "or 'paper' (the paper's datasets and budgets; GPU).")]
DataRoot = Annotated[Path | None, typer.Option(help="Folder holding the real dataset "
                                                    "(e.g. the folder with cifar-10-batches-py/).")]
Download = Annotated[bool, typer.Option(help="Download the dataset into --data-root if missing "
                                             "(needs internet).")]
Out = Annotated[Path, typer.Option(help="Parent folder of the run folder "
                                        "(<out>/<command>-<timestamp>/).")]
Seed = Annotated[int | None, typer.Option(help="Random seed (data order, init, augmentation).")]
Resume = Annotated[Path | None, typer.Option(
    help="Continue an interrupted run folder of this command: its saved settings win (a flag "
         "that differs is an error), finished cells are kept, an unfinished one continues from "
         "its last completed epoch.")]


@dataclass(frozen=True)
class DeviceArgs:
    """The device option group of every training command, as given on the command line."""

    jobs: str | None
    workers: int
    accelerator: str
    devices: str
    strategy: str
    num_nodes: int
    precision: str
    compile: bool
    channels_last: bool
    progress: bool


def _opt(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)


DEVICE_PARAMS = [
    _opt("jobs", Annotated[str | None, typer.Option(
        help="Training runs at once, each in its own CPU process with cores/jobs threads: auto "
             "(default) = one per CPU core when training on the CPU, 1 on a GPU or under "
             "DDP/torchrun; 1 = one after another with every thread.")], None),
    _opt("workers", Annotated[int, typer.Option(help="DataLoader worker processes.")], 0),
    _opt("accelerator", Annotated[str, typer.Option(
        help="Lightning accelerator: auto, cpu, gpu, cuda, mps.")], "auto"),
    _opt("devices", Annotated[str, typer.Option(
        help="Devices per node: a count (2), a list (0,1) or auto.")], "auto"),
    _opt("strategy", Annotated[str, typer.Option(
        help="Lightning strategy: auto, ddp, ddp_spawn, ... (under torchrun, ddp is chosen for "
             "you).")], "auto"),
    _opt("num_nodes", Annotated[int, typer.Option(help="Number of nodes for multi-node DDP.")], 1),
    _opt("precision", Annotated[str, typer.Option(
        help="Numeric precision: 32-true, 16-mixed, bf16-mixed, bf16-true, 64-true.")], "32-true"),
    _opt("compile", Annotated[bool, typer.Option(
        help="torch.compile the model before training.")], False),
    _opt("channels_last", Annotated[bool, typer.Option(
        help="channels_last memory format (faster on CPUs and tensor-core GPUs).")], True),
    _opt("progress", Annotated[bool, typer.Option(help="Show progress bars.")], True),
]


def with_device_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the device option group to a command; it receives them as `device: DeviceArgs`."""
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if p.name != "device"] + DEVICE_PARAMS

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        device = DeviceArgs(**{p.name: kwargs.pop(p.name) for p in DEVICE_PARAMS})
        return fn(*args, device=device, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    return wrapper


def device_overrides(device: DeviceArgs) -> dict[str, Any]:
    """Config override keys of the device options (progress only on a terminal)."""
    return {"jobs": device.jobs, "num_workers": device.workers,
            "accelerator": device.accelerator, "devices": device.devices,
            "strategy": device.strategy, "num_nodes": device.num_nodes,
            "precision": device.precision, "compile": device.compile,
            "channels_last": device.channels_last,
            "progress": device.progress and sys.stderr.isatty()}


# command-line parameter name -> config key where they differ
_RENAMED = {"workers": "num_workers", "lam": "lam"}


def given_on_command_line(ctx: typer.Context) -> dict[str, str]:
    """{config key: flag as typed} for every option the user gave (not a default)."""
    out = {}
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        if getattr(source, "name", None) in ("COMMANDLINE", "ENVIRONMENT"):
            out[_RENAMED.get(param.name, param.name)] = param.opts[0]
    return out


def say(text: str) -> None:
    """Print on rank 0 only (DDP children stay quiet)."""
    from ..experiments.runs import is_rank_zero

    if is_rank_zero():
        typer.echo(text)


def print_report(report: str, folder: Path) -> None:
    """Print a report's tables (not its image links) and where the run folder is."""
    from ..experiments.runs import is_rank_zero

    if not is_rank_zero():
        return
    body = "\n".join(line for line in report.splitlines() if not line.startswith("!["))
    typer.echo("\n" + body)
    typer.echo(f"run folder: {folder}")


def run_command(ctx: typer.Context, module: str, overrides: dict[str, Any], *, profile: str,
                out: Path, resume: Path | None, rename: dict[str, str] | None = None) -> None:
    """Resolve (or reload with --resume) the config of experiment `module`, run it, print it."""
    import importlib

    from ..experiments.lifecycle import execute, resume_config

    experiment = importlib.import_module(f"chanpos.experiments.{module}").EXPERIMENT
    rename = rename or {}
    over = {rename.get(k, k): v for k, v in overrides.items()}
    given = {rename.get(k, k): flag for k, flag in given_on_command_line(ctx).items()}
    if resume is None:
        cfg = experiment.config(profile, over)
    else:
        skip = {"resume", "out", "profile"}
        explicit = {k: over[k] for k in given if k in over and k not in skip}
        runtime = {k: over[k] for k in ("progress", "num_workers") if k in over}
        cfg = resume_config(experiment, resume, explicit, given, runtime)
    folder, report, _ = execute(experiment, cfg, out, resume=resume, log=say)
    print_report(report, folder)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """One stderr line and exit 2 for user mistakes; 130 after Ctrl-C; 0 for a finished resume."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..experiments.lifecycle import AlreadyFinished, Interrupted

        try:
            return fn(*args, **kwargs)
        except ChanposError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except AlreadyFinished as exc:
            typer.echo(str(exc))
            raise typer.Exit(0) from None
        except Interrupted as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(130) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
                where = f" writing {exc.filename}" if exc.filename else ""
                typer.echo(f"error: {exc.strerror}{where}; free space or fix permissions, then "
                           "resume the run with --resume", err=True)
                raise typer.Exit(2) from None
            raise

    return wrapper


def parse_list(text: str | None, kind: type = str, *, option: str = "") -> list[Any] | None:
    """'a,b,c' -> ['a', 'b', 'c'] converted with `kind`; None stays None (use the profile)."""
    if text is None:
        return None
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ChanposError(f"{option or 'list option'} is empty; give comma-separated values")
    try:
        return [kind(t) for t in items]
    except ValueError:
        raise ChanposError(f"{option or 'list option'}: cannot read {text!r} as a comma list of "
                           f"{kind.__name__} values") from None
