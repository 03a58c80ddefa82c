"""Pure tensor operations shared by data, training and probes (imports torch only)."""

from .normalise import Normalise
from .shifts import SHIFT_MODES, check_shift, draw_shifts, random_shift, translate

__all__ = ["SHIFT_MODES", "Normalise", "check_shift", "draw_shifts", "random_shift", "translate"]
