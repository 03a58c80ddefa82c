"""The audit's typed records: the model trained here (its one cell), each probe replicate,
each readout, each stage's flip scores, the top-k readouts."""

from __future__ import annotations

from dataclasses import dataclass

from ...training.options import FitResult

__all__ = ["AuditModelRow", "ProbeReplicate", "ReadoutRow", "ChannelStage", "TopKRow"]


@dataclass(frozen=True)
class AuditModelRow:
    """The classifier trained here (the audit's one cell) and how its training ended."""

    seed: int
    test_top1_pct: float
    training: FitResult

    @property
    def key(self) -> str:
        """The cell id."""
        return "model"


@dataclass(frozen=True)
class ProbeReplicate:
    """One replicate's probe accuracies (%): the cell and the class from the pooled vector,
    as is and shuffled; the cell for the two network controls; whether every probe's L-BFGS
    fit reached its tolerance (`probes_fitted`); the class, as is and shuffled, from the
    positive control of order-free semantics (a network trained with the shuffle), if given."""

    replicate: int
    seed: int
    location: float
    location_shuffled: float
    objects: float
    objects_shuffled: float
    random_weights_location: float
    circular_location: float
    probes_fitted: bool
    control_objects: float | None = None
    control_objects_shuffled: float | None = None


@dataclass(frozen=True)
class ReadoutRow:
    """The readout of one map from one control's stage (or all stages: 'all')."""

    control: str
    stage: str
    map: str
    spc: float | None
    mae: float
    spc_images: int


@dataclass(frozen=True)
class ChannelStage:
    """One stage's flip scores: how many channels, the fraction holding half of the total
    score, the top channels and their scores."""

    stage: str
    channels: int
    half_mass_fraction: float
    top: tuple[int, ...]
    top_scores: tuple[float, ...]
    top_overlap: int | None = None  # of `top`, how many the two halves of the images share


@dataclass(frozen=True)
class TopKRow:
    """The readout on k channels of one stage: the top-k flip-ranked ones, or a random draw."""

    stage: str
    kind: str
    draw: int
    map: str
    spc: float | None
    mae: float
