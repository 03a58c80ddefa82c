"""The run framework: settings as config fields and their composition, profiles, input
validation, run folders and their lock, the run lifecycle (resume, Ctrl-C/SIGTERM), cells in
parallel worker processes, reports, and the one experiment registry. It knows no experiment
by name (`registry.CATALOGUE` is where the experiments register themselves).

Submodules are imported on first use (`chanpos --help` must not load torch).
"""

from __future__ import annotations

from .._lazy import lazy_attributes

_WHERE = {
    "Entry": "registry",
    "register": "registry",
    "entries": "registry",
    "entry": "registry",
    "Experiment": "lifecycle",
    "Outcome": "lifecycle",
    "execute": "lifecycle",
    "resume_run": "lifecycle",
    "RunFolder": "folders",
    "is_rank_zero": "folders",
    "setting": "settings",
    "resolve": "compose",
    "sub_config": "compose",
    "load_profile": "profiles",
    "list_profiles": "profiles",
    "Report": "reporting",
    "run_cells": "cells",
    "RunSettings": "shared",
    "PlateauSettings": "plateau",
}
__all__ = sorted(_WHERE)

__getattr__ = lazy_attributes(__name__, _WHERE)
