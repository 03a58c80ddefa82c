"""Shared test settings: CPU only, quiet, deterministic."""

import os

import pytest
import torch

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
