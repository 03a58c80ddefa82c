"""Table 1 (PAPER.md Claim 1): GAPNet vs PermuteNet, location and object tasks, every padding.

`run_table1(cfg)` trains one model per cell {model x padding x grid size x task} and returns
rows; `format_table1` and `plot_table1` turn rows into the report and the bar chart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from ..data import TASKS, GridPlacer, ImageSet, TileDataset, load_source
from ..errors import ChanposError
from ..models import PADDING_MODES, channels_last_ok, create_model, save_model_checkpoint
from ..training import ClassifierSystem, OptimConfig, TrainerOptions, evaluate, fit
from .parallel import map_runs, resolve_jobs
from .profiles import load_profile
from .runs import RunFolder, machine_description

__all__ = ["TaskBudget", "Table1Config", "Table1Row", "table1_config", "run_table1",
           "format_table1", "plot_table1", "TABLE1_MODELS"]

TABLE1_MODELS = ("gapnet", "permutenet")
PAPER_STATEMENTS = {
    "gapnet_location": "GAPNet reaches 100 % location accuracy at every grid size (zero padding)",
    "permutenet_location": "PermuteNet on the location task collapses toward chance",
    "object": "On the object task PermuteNet comes close to GAPNet",
}


@dataclass(frozen=True)
class TaskBudget:
    """Training budget of one task: epochs, learning rate, training tiles (None = all)."""

    epochs: int
    lr: float
    train_samples: int | None


@dataclass(frozen=True)
class Table1Config:
    """Everything a Table 1 run needs, resolved from a profile and command-line overrides."""

    profile: str
    source: str
    models: tuple[str, ...]
    paddings: tuple[str, ...]
    object_paddings: tuple[str, ...]
    grid_sizes: tuple[int, ...]
    object_grid_sizes: tuple[int, ...]
    tasks: tuple[str, ...]
    width: int
    batch_size: int
    test_samples: int | None
    bn_batches: int
    location: TaskBudget
    object: TaskBudget
    seed: int = 0
    data_root: str | None = None
    download: bool = False
    num_workers: int = 0
    jobs: int | str = "auto"
    trainer: TrainerOptions = field(default_factory=TrainerOptions)

    def budget(self, task: str) -> TaskBudget:
        """The budget of `task`."""
        return self.location if task == "location" else self.object

    def cells(self) -> list[tuple[str, int, str, str]]:
        """(task, grid_size, padding, model) for every cell, in table order."""
        out = []
        for task in self.tasks:
            paddings = self.paddings if task == "location" else self.object_paddings
            sizes = self.grid_sizes if task == "location" else self.object_grid_sizes
            for k in sizes:
                for pad in paddings:
                    for model in self.models:
                        out.append((task, k, pad, model))
        return out


@dataclass(frozen=True)
class Table1Row:
    """One cell's result (the results.json row schema of issue 2)."""

    model: str
    padding: str
    grid_size: int
    task: str
    accuracy_pct: float
    chance_pct: float
    epochs: int
    train_samples: int
    seconds: float
    seed: int
    lr: float


def _check_names(values: tuple[Any, ...], valid: tuple[Any, ...], what: str, option: str) -> None:
    for v in values:
        if v not in valid:
            raise ChanposError(
                f"unknown {what} {v!r} in {option}; choose from: {', '.join(map(str, valid))}"
            )


def table1_config(profile: str = "quick", **overrides: Any) -> Table1Config:
    """Resolve profile YAML + overrides (None = keep the profile's value) into a config.

    Overrides `epochs`, `lr` and `train_samples` apply to both tasks.
    """
    p = load_profile("table1", profile)
    task_over = {k: overrides.pop(k) for k in ("epochs", "lr", "train_samples") if k in overrides}
    budgets = {}
    for task in TASKS:
        b = dict(p[task])
        b.update({k: v for k, v in task_over.items() if v is not None})
        budgets[task] = TaskBudget(int(b["epochs"]), float(b["lr"]), b["train_samples"])
    values: dict[str, Any] = {k: v for k, v in p.items() if k not in TASKS}
    values.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("models", "paddings", "object_paddings", "grid_sizes", "object_grid_sizes",
                "tasks"):
        values[key] = tuple(values[key])
    # a --paddings / --grid-sizes override also narrows the object task's lists, unless
    # those are overridden themselves
    for key, obj_key in (("paddings", "object_paddings"), ("grid_sizes", "object_grid_sizes")):
        if overrides.get(key) is not None and overrides.get(obj_key) is None:
            values[obj_key] = tuple(
                v for v in values[obj_key] if v in values[key]
            ) or values[key][:1]
    cfg = Table1Config(profile=profile, location=budgets["location"], object=budgets["object"],
                       **values)
    _validate(cfg)
    return cfg


def _validate(cfg: Table1Config) -> None:
    _check_names(cfg.models, TABLE1_MODELS, "model", "--models")
    _check_names(cfg.paddings, PADDING_MODES, "padding", "--paddings")
    _check_names(cfg.object_paddings, PADDING_MODES, "padding", "--object-paddings")
    _check_names(cfg.tasks, TASKS, "task", "--tasks")
    for k in cfg.grid_sizes + cfg.object_grid_sizes:
        if k < 1:
            raise ChanposError(f"grid size must be >= 1, got {k} in --grid-sizes")
    for name, value in (("--width", cfg.width), ("--batch-size", cfg.batch_size)):
        if value < 1:
            raise ChanposError(f"{name} must be >= 1, got {value}")
    for task in cfg.tasks:
        b = cfg.budget(task)
        if b.epochs < 1:
            raise ChanposError(f"--epochs must be >= 1, got {b.epochs}")
        if b.lr <= 0:
            raise ChanposError(f"--lr must be > 0, got {b.lr}")
        if b.train_samples is not None and b.train_samples < 1:
            raise ChanposError(f"--train-samples must be >= 1, got {b.train_samples}")
    for task, paddings, sizes in (("location", cfg.paddings, cfg.grid_sizes),
                                  ("object", cfg.object_paddings, cfg.object_grid_sizes)):
        if task in cfg.tasks and "valid" in paddings and min(sizes) * 32 < VALID_MIN_CANVAS:
            raise ChanposError(
                f"padding 'valid' shrinks feature maps: it needs canvases of at least "
                f"{VALID_MIN_CANVAS} px, but grid size {min(sizes)} of 32 px tiles gives "
                f"{min(sizes) * 32} px; use --grid-sizes {-(-VALID_MIN_CANVAS // 32)} or larger"
            )
    resolve_jobs(cfg.jobs, cfg.trainer, len(cfg.cells()))


# smallest square input the paper ResNet-18 + GAPNet head survives with unpadded convs
VALID_MIN_CANVAS = 251


def _loaders(cfg: Table1Config, task: str, k: int, train: ImageSet, test: ImageSet):
    pin = torch.cuda.is_available()
    dl_train = DataLoader(
        TileDataset(train.subset(cfg.budget(task).train_samples), grid_size=k, seed=cfg.seed),
        batch_size=cfg.batch_size, shuffle=True, collate_fn=TileDataset.collate,
        num_workers=cfg.num_workers, pin_memory=pin, drop_last=False,
    )
    dl_test = DataLoader(
        TileDataset(test, grid_size=k, seed=cfg.seed + 7919),
        batch_size=max(cfg.batch_size, 100), shuffle=False, collate_fn=TileDataset.collate,
        num_workers=cfg.num_workers, pin_memory=pin,
    )
    return dl_train, dl_test


def cell_id(task: str, k: int, padding: str, model: str) -> str:
    """Stable folder name of one cell."""
    return f"{task}-k{k}-{padding}-{model}"


def run_cell(
    cfg: Table1Config, cell: tuple[str, int, str, str], train: ImageSet, test: ImageSet,
    folder: RunFolder,
) -> Table1Row:
    """Train and evaluate one Table 1 cell."""
    task, k, padding, model_name = cell
    budget = cfg.budget(task)
    num_outputs = k * k if task == "location" else train.num_classes
    spec = {"name": model_name, "kwargs": {"num_outputs": num_outputs, "padding": padding,
                                            "width": cfg.width, "backbone": "paper_resnet18"}}
    L.seed_everything(cfg.seed, workers=True, verbose=False)  # model init is part of the seed
    model = create_model(spec["name"], **spec["kwargs"])
    channels_last = cfg.trainer.channels_last and channels_last_ok(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    placer = GridPlacer(k, task, train.mean, train.std)
    system = ClassifierSystem(
        model, num_classes=num_outputs, optim=OptimConfig(lr=budget.lr),
        batch_transform=lambda b, is_train: placer(b[0], b[1], b[2], train=is_train),
        model_spec=spec, channels_last=channels_last,
    )
    dl_train, dl_test = _loaders(cfg, task, k, train, test)
    root = folder.cell_dir(cell_id(*cell))
    last = root / "checkpoints" / "last.ckpt"
    start = time.perf_counter()
    trainer = fit(system, dl_train, epochs=budget.epochs, options=cfg.trainer, root_dir=root,
                  resume=last if last.is_file() else None, bn_batches=cfg.bn_batches)
    acc = evaluate(trainer, system, dl_test)
    if folder.owned:
        save_model_checkpoint(system.model, spec, root / "model.pt")
    seconds = time.perf_counter() - start
    return Table1Row(
        model=model_name, padding=padding, grid_size=k, task=task,
        accuracy_pct=round(acc, 2), chance_pct=round(100.0 / num_outputs, 2),
        epochs=budget.epochs, train_samples=len(dl_train.dataset), seconds=round(seconds, 1),
        seed=cfg.seed, lr=budget.lr,
    )


def load_table1_data(cfg: Table1Config) -> tuple[ImageSet, ImageSet]:
    """The source's train and test sets (errors here come before any run folder exists)."""
    train = load_source(cfg.source, split="train", data_root=cfg.data_root,
                        download=cfg.download, seed=cfg.seed)
    test = load_source(cfg.source, split="test", data_root=cfg.data_root,
                       num_samples=cfg.test_samples, seed=cfg.seed)
    return train, test


def run_table1(cfg: Table1Config, folder: RunFolder, *, log=print,
               data: tuple[ImageSet, ImageSet] | None = None) -> list[Table1Row]:
    """Run every cell of `cfg` (skipping cells an interrupted run already finished)."""
    train, test = data or load_table1_data(cfg)
    done = {cell_id(r["task"], r["grid_size"], r["padding"], r["model"]): Table1Row(**r)
            for r in folder.finished_rows()}
    cells = cfg.cells()
    by_id: dict[str, Table1Row] = {}
    for cid in (cell_id(*c) for c in cells):
        if cid in done:
            by_id[cid] = done[cid]
            log(f"[{len(by_id)}/{len(cells)}] {cid}: finished earlier, "
                f"{done[cid].accuracy_pct:.1f} %")
    todo = [c for c in cells if cell_id(*c) not in done]
    jobs = resolve_jobs(cfg.jobs, cfg.trainer, len(todo))
    if jobs > 1:
        log(f"training {len(todo)} cells, {jobs} at a time in separate processes")
    worker_cfg = replace(cfg, trainer=replace(cfg.trainer, progress=False)) if jobs > 1 else cfg
    for i, row in map_runs(_table1_cell, todo, (worker_cfg, train, test, folder), jobs):
        cid = cell_id(*todo[i])
        folder.append_row(row.__dict__)
        by_id[cid] = row
        log(f"[{len(by_id)}/{len(cells)}] {cid}: accuracy {row.accuracy_pct:.1f} % "
            f"(chance {row.chance_pct:.1f} %), {row.seconds:.0f} s")
    return [by_id[cell_id(*c)] for c in cells]


def _table1_cell(cell: tuple[str, int, str, str], cfg: Table1Config, train: ImageSet,
                 test: ImageSet, folder: RunFolder) -> Table1Row:
    """One cell (module level, so worker processes can call it)."""
    return run_cell(cfg, cell, train, test, folder)


def _acc(rows: list[Table1Row], **match: Any) -> list[Table1Row]:
    return [r for r in rows if all(getattr(r, k) == v for k, v in match.items())]


def verdicts(rows: list[Table1Row]) -> dict[str, Any]:
    """Machine-readable checks of the paper's statements on our rows (None = not measured)."""
    out: dict[str, Any] = {}
    gap = _acc(rows, model="gapnet", padding="zeros", task="location")
    perm = {r.grid_size: r for r in _acc(rows, model="permutenet", padding="zeros", task="location")}
    out["gapnet_location_min_pct"] = min((r.accuracy_pct for r in gap), default=None)
    out["gapnet_location_ge_95"] = (
        all(r.accuracy_pct >= 95 for r in gap) if gap else None
    )
    gaps = [r.accuracy_pct - perm[r.grid_size].accuracy_pct for r in gap if r.grid_size in perm]
    out["permutenet_gap_min_points"] = min(gaps, default=None)
    out["permutenet_50_points_below"] = all(g >= 50 for g in gaps) if gaps else None
    obj_gap = _acc(rows, model="gapnet", task="object", padding="zeros")
    out["object_gapnet_max_pct"] = max((r.accuracy_pct for r in obj_gap), default=None)
    return out


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def _padding_note(rows: list[Table1Row], padding: str) -> str | None:
    sel = _acc(rows, padding=padding, task="location")
    if not sel:
        return None
    parts = ", ".join(
        f"{r.model} k={r.grid_size}: {r.accuracy_pct:.1f} % (chance {r.chance_pct:.1f} %)"
        for r in sel
    )
    near_chance = all(r.accuracy_pct <= r.chance_pct + 10 for r in sel if r.model == "gapnet")
    why = {
        "circular": (
            "With circular padding and cells that move the feature map by whole positions "
            "(32 px tiles, total stride 16), the network is exactly shift-equivariant, so the "
            "pooled vector cannot depend on the cell. "
            + ("GAPNet is at chance, as that argument predicts."
               if near_chance else
               "GAPNet is above chance here, which the argument does not predict: "
               "look at the cell counts and the canvas size before trusting it.")
        ),
        "none": (
            "The authors' 'no padding' resizes every conv input instead of padding it. "
            + ("GAPNet still localises: the image border is still visible to the convs "
               "(resizing treats border pixels differently from interior ones), so absolute "
               "position leaks without any zero padding."
               if not near_chance else
               "GAPNet is near chance: without padding this budget found no border signal.")
        ),
        "partial": (
            "Partial-convolution padding re-weights border outputs instead of mixing in zeros. "
            + ("GAPNet still localises: the border re-weighting itself marks where the image "
               "ends." if not near_chance else "GAPNet is near chance with it.")
        ),
        "valid": (
            "Valid (unpadded) convs shrink the maps; tiles near the border are seen by fewer "
            "output positions, which can still reveal position. "
            + ("GAPNet localises." if not near_chance else "GAPNet is near chance.")
        ),
        "reflect": "Reflect padding copies image content into the border.",
        "replicate": "Replicate padding repeats the outermost pixels into the border.",
    }.get(padding)
    return f"- **{padding}** — {parts}. {why}" if why else None


def format_table1(rows: list[Table1Row], cfg: Table1Config, seconds: float) -> str:
    """report.md: our tables by task, the paper's statements beside our numbers, padding notes."""
    v = verdicts(rows)
    lines = [
        "# Table 1 — position information through global average pooling (PAPER.md Claim 1)",
        "",
        f"Profile `{cfg.profile}` · source `{cfg.source}` · width {cfg.width} · seed {cfg.seed} · "
        f"batch {cfg.batch_size} · Adam betas (0.5, 0.999) · {len(rows)} cells in {seconds:.0f} s "
        f"({resolve_jobs(cfg.jobs, cfg.trainer, len(rows))} at a time)",
        f"Machine: {machine_description()}",
        "",
    ]
    for task in cfg.tasks:
        b = cfg.budget(task)
        sel = _acc(rows, task=task)
        if not sel:
            continue
        label = "cell index" if task == "location" else "source class"
        lines += [
            f"## {task.capitalize()} task (label = {label}; {b.epochs} epochs, lr {b.lr}, "
            f"{sel[0].train_samples} training tiles)",
            "",
            "| grid | padding | " + " | ".join(f"{m} acc %" for m in cfg.models) + " | chance % |",
            "|---|---|" + "---|" * len(cfg.models) + "---|",
        ]
        keys = sorted({(r.grid_size, r.padding) for r in sel},
                      key=lambda t: (t[0], PADDING_MODES.index(t[1])))
        for k, pad in keys:
            accs = []
            for m in cfg.models:
                hit = _acc(sel, grid_size=k, padding=pad, model=m)
                accs.append(_fmt(hit[0].accuracy_pct) if hit else "–")
            chance = _acc(sel, grid_size=k, padding=pad)[0].chance_pct
            lines.append(f"| {k}x{k} | {pad} | " + " | ".join(accs) + f" | {chance:.1f} |")
        lines.append("")
    obj_rows = _acc(rows, task="object", padding="zeros")
    obj_text = "; ".join(f"k={r.grid_size} {r.model} {r.accuracy_pct:.1f} %" for r in obj_rows)

    def yes(flag: bool | None) -> str:
        return "not measured" if flag is None else ("yes" if flag else "**no**")

    lines += [
        "## The paper's statements beside ours",
        "",
        "| paper (Table 1) | ours | reproduced? |",
        "|---|---|---|",
        f"| {PAPER_STATEMENTS['gapnet_location']} | lowest GAPNet/zeros location accuracy: "
        f"{_fmt(v['gapnet_location_min_pct'])} % | {yes(v['gapnet_location_ge_95'])} (≥ 95 %) |",
        f"| {PAPER_STATEMENTS['permutenet_location']} | smallest GAPNet − PermuteNet gap: "
        f"{_fmt(v['permutenet_gap_min_points'])} points | {yes(v['permutenet_50_points_below'])} "
        "(≥ 50 points) |",
        f"| {PAPER_STATEMENTS['object']} | {obj_text or '–'} | see the object table |",
        "",
        "## Paddings other than zeros",
        "",
    ]
    notes = [n for n in (_padding_note(rows, p) for p in PADDING_MODES if p != "zeros") if n]
    lines += notes or ["(only zero padding was run)"]
    lines += [
        "",
        "PermuteNet draws a new channel permutation at every forward pass, so its linear layer "
        "can only use order-free statistics of the pooled vector; any accuracy above chance "
        "comes from those.",
        "",
        "![Table 1 bar chart](table1.png)",
        "",
    ]
    return "\n".join(lines)


def plot_table1(rows: list[Table1Row], path: Path) -> Path:
    """Bar chart: accuracy per (grid, padding), one bar per model, chance as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in TASKS if _acc(rows, task=t)]
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=False):
        sel = _acc(rows, task=task)
        keys = sorted({(r.grid_size, r.padding) for r in sel},
                      key=lambda t: (t[0], PADDING_MODES.index(t[1])))
        models = sorted({r.model for r in sel})
        width = 0.8 / len(models)
        for j, m in enumerate(models):
            ys = [(_acc(sel, grid_size=k, padding=p, model=m) or [None])[0] for k, p in keys]
            ax.bar([i + j * width for i in range(len(keys))],
                   [y.accuracy_pct if y else 0 for y in ys], width, label=m)
        for i, (k, p) in enumerate(keys):
            chance = _acc(sel, grid_size=k, padding=p)[0].chance_pct
            ax.hlines(chance, i - 0.1, i + 0.8, colors="k", linestyles="dashed", linewidth=1)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(keys))])
        ax.set_xticklabels([f"{k}x{k}\n{p}" for k, p in keys], fontsize=8)
        ax.set_ylim(0, 122)  # headroom so the legend never covers a 100 % bar
        ax.set_yticks(range(0, 101, 20))
        ax.set_ylabel("test accuracy %")
        ax.set_title(f"{task} task (dashed: chance)")
        ax.legend(loc="upper center", ncol=2)
    fig.tight_layout()
    from .reporting import save_figure

    return save_figure(fig, path)


def table1_results(rows: list[Table1Row], cfg: Table1Config, seconds: float) -> dict[str, Any]:
    """The results.json document."""
    return {
        "experiment": "table1",
        "profile": cfg.profile,
        "config": cfg,
        "machine": machine_description(),
        "seconds": round(seconds, 1),
        "rows": [r.__dict__ for r in rows],
        "verdicts": verdicts(rows),
    }


def with_trainer(cfg: Table1Config, trainer: TrainerOptions) -> Table1Config:
    """A copy of `cfg` with other Trainer options."""
    return replace(cfg, trainer=trainer)


def table1_main(cfg: Table1Config, out: Path, *, resume: Path | None = None,
                log=print) -> tuple[Path, str, dict[str, Any]]:
    """Create (or resume) a run folder, run Table 1, write its files; -> (folder, report, results)."""
    data = load_table1_data(cfg)
    if resume is not None:
        folder = RunFolder.reopen(resume)
    else:
        folder = RunFolder.create(out, "table1")
    with folder.guard():
        folder.write_config(cfg)
        start = time.perf_counter()
        rows = run_table1(cfg, folder, log=log, data=data)
        seconds = time.perf_counter() - start
        report = format_table1(rows, cfg, seconds)
        results = table1_results(rows, cfg, seconds)
        from .reporting import finish_run

        finish_run(folder, results, report, [lambda p: plot_table1(rows, p / "table1.png")])
    return folder.path, report, results
