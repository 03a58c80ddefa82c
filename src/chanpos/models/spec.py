"""A typed model spec, saved in every chanpos model file: which registered builder, its
keyword arguments, and what the model was trained on (`ModelMeta`: data source, input size,
normalisation, class names), so a command given only the file can default its data settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from torch import nn

from ..errors import ChanposError

__all__ = ["ModelMeta", "ModelSpec"]


@dataclass(frozen=True)
class ModelMeta:
    """What a model was trained on (empty fields: not known, e.g. a file of an older chanpos).

    `grid_size`: the k of Table 1's k x k canvases, for models trained on them."""

    source: str | None = None
    image_size: tuple[int, int] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    class_names: tuple[str, ...] | None = None
    grid_size: int | None = None

    @classmethod
    def from_plain(cls, data: Any) -> ModelMeta:
        """From a saved mapping (unknown keys ignored: a newer chanpos may add some)."""
        if not isinstance(data, Mapping):
            return cls()
        known = {f: data[f] for f in cls.__dataclass_fields__ if data.get(f) is not None}
        for key in ("image_size", "mean", "std", "class_names"):
            if key in known:
                if not isinstance(known[key], (list, tuple)):
                    raise ValueError(f"meta {key} must be a list")
                known[key] = tuple(known[key])
        return cls(**known)


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: `build()` makes it (fresh weights) from `name` and `kwargs`."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    meta: ModelMeta = field(default_factory=ModelMeta)

    def build(self) -> nn.Module:
        """A fresh model; builder errors are one-line user errors. Saved pretrained-weight
        flags are ignored (a file holds every weight: chanpos never downloads for it)."""
        from .registry import create_model

        kwargs = dict(self.kwargs)
        if kwargs.get("pretrained_backbone"):
            kwargs["pretrained_backbone"] = False
        try:
            return create_model(self.name, **kwargs)
        except (ValueError, TypeError) as exc:
            raise ChanposError(f"cannot build {self.name} {self.kwargs}: {exc}") from None

    def with_meta(self, **values: Any) -> ModelSpec:
        """The same spec with some `meta` fields set."""
        return replace(self, meta=replace(self.meta, **values))

    def to_plain(self) -> dict[str, Any]:
        """The `chanpos_model` entry of a model file."""
        meta = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.meta).items()
                if v is not None}
        return {"name": self.name, "kwargs": dict(self.kwargs), "meta": meta}

    @classmethod
    def from_plain(cls, data: Any, where: str = "the model file") -> ModelSpec:
        """From a saved `chanpos_model` entry, or a one-line error naming `where`."""
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
            raise ChanposError(f"{where} has no valid 'chanpos_model' entry (a name and builder "
                               "arguments); pass a model.pt written by chanpos")
        kwargs = data.get("kwargs", {})
        if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
            raise ChanposError(f"{where}: its 'chanpos_model' kwargs are not a mapping of "
                               "argument names")
        try:
            meta = ModelMeta.from_plain(data.get("meta"))
        except (TypeError, ValueError) as exc:
            raise ChanposError(f"{where}: its model metadata is damaged ({exc})") from None
        return cls(data["name"], dict(kwargs), meta)

    def describe(self) -> str:
        """'gapnet (num_classes=4, padding=zeros, width=8)'."""
        args = ", ".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.name} ({args})" if args else self.name
