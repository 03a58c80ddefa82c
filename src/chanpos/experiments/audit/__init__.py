"""`chanpos audit`: how much position a trained CNN encodes, in which layers and channels.

Names are imported on first use (`chanpos audit --help` reads only `config`).
"""

from __future__ import annotations

from ..._lazy import lazy_attributes

_WHERE = {
    "EXPERIMENT": "experiment",
    "AuditConfig": "config",
    "audit_config": "config",
    "run_audit": "experiment",
}
__all__ = sorted(_WHERE)

__getattr__ = lazy_attributes(__name__, _WHERE)
