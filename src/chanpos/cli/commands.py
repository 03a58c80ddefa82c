"""Every `chanpos` command, one per registry entry: each one's options are its experiment's
config fields (a variant entry, such as the attack study, is a flag of its parent command)."""

from __future__ import annotations

from ..runs.registry import entries
from .app import settings_command

__all__: list[str] = []

for _entry in entries():
    if _entry.variant_of is None:
        settings_command(_entry)
