"""LightningModules that wrap plain classifiers (models never import Lightning)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from ..errors import ChanposError
from ..models.spec import ModelSpec
from ..ops.flips import draw_flips, flip_where
from ..ops.normalise import Normalise
from .averaging import WeightAverage
from .batchnorm import recalibrate_batchnorm, training_inputs
from .callbacks import MONITOR
from .options import OptimConfig

__all__ = [
    "ClassifierSystem", "BatchTransform", "build_optimizer", "flip_transform", "foreach_ok",
]

# (batch from the loader, train?) -> (inputs, targets), run on the batch's device
BatchTransform = Callable[[Any, bool], tuple[Tensor, Tensor]]


def _default_transform(batch: Any, train: bool) -> tuple[Tensor, Tensor]:
    return batch[0], batch[1]


def flip_transform(mean: Any, std: Any, flip: bool = True) -> BatchTransform:
    """uint8 images -> normalised, flipped horizontally with probability 1/2 in training
    (when `flip`); labels as long (a plain classifier's batch transform)."""
    normalise = Normalise(mean, std)

    def transform(batch: Any, is_train: bool) -> tuple[Tensor, Tensor]:
        x = normalise(batch[0])
        if is_train and flip:
            x = flip_where(x, draw_flips(x.shape[0], device=x.device))
        return x, batch[1].long()

    return transform


def foreach_ok(params: list[Any]) -> bool:
    """Whether Adam can update `params` (floating tensors on CPU or CUDA) with its multi-tensor
    ops: a few ops per step instead of about ten per tensor, which on a narrow CPU model is a
    few % of a training step (benchmarks/run.py, optimizer_step). Not the fused kernel: on CPU
    its results depend on the thread count (its vector and scalar paths round differently),
    and chanpos' rows must not."""
    return bool(params) and all(
        isinstance(p, torch.Tensor) and p.is_floating_point()
        and p.device.type in ("cpu", "cuda") for p in params)


def build_optimizer(
    params: Any, cfg: OptimConfig, total_steps: int
) -> tuple[torch.optim.Optimizer, Any]:
    """The optimiser of `cfg` and its per-step LR scheduler (or None for a constant LR)."""
    params = list(params)
    if cfg.optimizer in ("adam", "adamw"):
        cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
        opt = cls(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay,
                  foreach=foreach_ok(params) or None)
    elif cfg.optimizer == "sgd":
        opt = torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=True
        )
    else:
        raise ChanposError(f"unknown optimizer {cfg.optimizer!r}; use adam, adamw or sgd")
    if cfg.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total_steps))
        return opt, sched
    if cfg.schedule != "constant":
        raise ChanposError(f"unknown schedule {cfg.schedule!r}; use constant or cosine")
    return opt, None


class ClassifierSystem(L.LightningModule):
    """Trains `model` with cross-entropy; accuracy is a DDP-synced torchmetrics metric.

    `batch_transform` turns a loader batch into (inputs, targets) on the device (e.g. grid
    placement); `model_spec` (a `ModelSpec`) is stored in checkpoints so
    `load_model_checkpoint` can rebuild the architecture.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        num_classes: int,
        optim: OptimConfig | None = None,
        batch_transform: BatchTransform | None = None,
        model_spec: ModelSpec | None = None,
        channels_last: bool = False,
        average_bn_batches: int = 8,
    ) -> None:
        super().__init__()
        self.model = model
        self.average_bn_batches = average_bn_batches
        self.optim = optim or OptimConfig()
        self.batch_transform = batch_transform or _default_transform
        self.model_spec = model_spec
        self.channels_last = channels_last
        self.train_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        # the moving average of the weights, when asked for, is what is validated and kept
        self.averaged = WeightAverage(model, self.optim.average) if self.optim.average else None

    @property
    def evaluated(self) -> nn.Module:
        """The network validation scores: the weight average if there is one."""
        return self.averaged.module if self.averaged is not None else self.model

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.averaged is not None:
            self.averaged.update(self.model)

    def on_validation_epoch_start(self) -> None:
        # Averaged weights with averaged BN statistics can score at chance (seen with
        # PermuteNet at lr 0.01, while the same weights with their own statistics score 30 %):
        # the average is validated with statistics of its own, from training batches.
        if self.averaged is None or self.average_bn_batches <= 0 or self._trainer is None:
            return
        loader = self.trainer.train_dataloader
        if loader is None:
            return
        recalibrate_batchnorm(self.averaged.module,
                              training_inputs(loader, self.prepare, self.device),
                              self.average_bn_batches)

    def finish_training(self) -> None:
        """Make `model` the network training produced: the weight average, if any."""
        if self.averaged is not None and int(self.averaged.updates) > 0:
            self.averaged.copy_to(self.model)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the wrapped model, (B, num_classes)."""
        return self.model(x)

    def prepare(self, batch: Any, train: bool) -> tuple[Tensor, Tensor]:
        """Apply the batch transform (and channels_last) to a batch already on the device."""
        x, y = self.batch_transform(batch, train)
        if x.dim() == 4:  # the format chosen for the model, whatever the transform made
            x = x.contiguous(memory_format=torch.channels_last if self.channels_last
                             else torch.contiguous_format)
        return x, y

    def check_finite(self, loss: Tensor) -> None:
        """Stop with a user-facing error when the loss is NaN/inf (usually too high an LR)."""
        if not math.isfinite(float(loss.detach())):
            raise ChanposError(
                f"training loss became {float(loss)} at epoch {self.current_epoch}, step "
                f"{self.global_step}: lower --lr or use --precision 32-true"
            )

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x, y = self.prepare(batch, True)
        logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        self.check_finite(loss)
        self.train_acc(logits.detach(), y)
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True)
        self.log("train_acc", self.train_acc, prog_bar=True, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Accuracy (percent) on the validation split: the metric the plateau rule watches."""
        x, y = self.prepare(batch, False)
        self.val_acc.update(self.evaluated(x), y)

    def on_validation_epoch_end(self) -> None:
        self.log(MONITOR, 100.0 * self.val_acc.compute(), prog_bar=True, sync_dist=True)
        self.val_acc.reset()

    def configure_optimizers(self) -> Any:
        total = int(self.trainer.estimated_stepping_batches) if self._trainer else 1
        opt, sched = build_optimizer(self.model.parameters(), self.optim, total)
        if sched is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.model_spec is not None:
            checkpoint["chanpos_model"] = self.model_spec.to_plain()
