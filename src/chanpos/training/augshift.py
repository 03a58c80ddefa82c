"""AugShift training (Islam et al., ICCV 2021, Table 2) as a LightningModule around a GAP classifier.

`AugShiftSystem` is a `ClassifierSystem` whose training step draws two random shifts of
every (transformed) training image and minimises the library's `AugShiftLoss`,
CE(S(z1), y) + CE(S(z2), y) + lambda * MSE(z1, z2), with z = the model's `encode(x)` and
S = its `classify(z)` (`GAPClassifier` has both). Evaluation is the plain classifier's.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..ops.shifts import check_shift, random_shift
from .losses import AugShiftLoss
from .systems import ClassifierSystem

__all__ = ["AugShiftSystem"]


class AugShiftSystem(ClassifierSystem):
    """Trains `model` (with `encode`/`classify`) with the AugShift loss on two shifted views.

    The batch transform should give the *unshifted* augmented images (normalise, flip);
    the two views are `random_shift(x, max_shift, shift_mode)` drawn independently.
    Both views run through the encoder as one 2B batch. `prepare(batch, train=True)`
    returns a single shifted view, so BatchNorm re-estimation sees the training distribution.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        num_classes: int,
        lam: float = 10.0,
        max_shift: int = 4,
        shift_mode: str = "zeros",
        **kwargs: Any,
    ) -> None:
        for part in ("encode", "classify"):
            if not callable(getattr(model, part, None)):
                raise ValueError(
                    f"AugShift needs a model with encode() and classify() (e.g. the 'classifier' "
                    f"model), {type(model).__name__} has no {part}()"
                )
        check_shift(max_shift, shift_mode)
        super().__init__(model, num_classes=num_classes, **kwargs)
        self.loss_fn = AugShiftLoss(lam)
        self.max_shift, self.shift_mode = int(max_shift), shift_mode

    def _view(self, x: Tensor) -> Tensor:
        v = random_shift(x, self.max_shift, self.shift_mode)
        if self.channels_last:
            v = v.contiguous(memory_format=torch.channels_last)
        return v

    def prepare(self, batch: Any, train: bool) -> tuple[Tensor, Tensor]:
        """Transformed batch; in training one randomly shifted view (as the loss sees them)."""
        x, y = super().prepare(batch, train)
        return (self._view(x), y) if train else (x, y)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x, y = ClassifierSystem.prepare(self, batch, True)
        parts, logits1 = self.loss_fn.from_model(
            self.model.encode, self.model.classify, self._view(x), self._view(x), y
        )
        self.check_finite(parts.loss)
        self.train_acc(logits1.detach(), y)
        self.log("train_loss", parts.loss, prog_bar=True, on_step=True, on_epoch=True)
        self.log("train_ce", (parts.ce1 + parts.ce2) / 2, on_step=False, on_epoch=True)
        self.log("train_mse", parts.mse, prog_bar=True, on_step=False, on_epoch=True)
        self.log("train_acc", self.train_acc, prog_bar=True, on_step=False, on_epoch=True)
        return parts.loss
