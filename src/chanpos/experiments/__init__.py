"""Experiments: one package per paper artefact (table1, table2, attack), each an `Experiment`
that the run lifecycle (`lifecycle.execute`) turns into a run folder; `reproduce` runs them all.

Submodules are imported on first use (`chanpos --help` must not load torch).
"""

from __future__ import annotations

from .._lazy import lazy_attributes

_WHERE = {
    "Experiment": "lifecycle",
    "Outcome": "lifecycle",
    "execute": "lifecycle",
    "resume_config": "lifecycle",
    "RunFolder": "runs",
    "is_rank_zero": "runs",
    "list_profiles": "profiles",
    "load_profile": "profiles",
    "Verdict": "verdicts",
    "CLAIMS": "claims",
}
__all__ = sorted(_WHERE)


__getattr__ = lazy_attributes(__name__, _WHERE)
