"""A small model registry (torchvision style): names map to typed keyword-only builders."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import TypeVar

from torch import nn

__all__ = ["register_model", "create_model", "list_models"]

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
F = TypeVar("F", bound=Callable[..., nn.Module])


def register_model(name: str) -> Callable[[F], F]:
    """Decorator registering a builder under `name`; a duplicate name is an error."""

    def wrap(fn: F) -> F:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn

    return wrap


def create_model(name: str, **kwargs: object) -> nn.Module:
    """Build a registered model; unknown names raise ValueError listing the known ones."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _REGISTRY[name](**kwargs)


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style `pattern`, sorted."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))
