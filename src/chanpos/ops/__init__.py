"""Pure tensor operations shared by data, training and probes (imports torch only)."""

from .devices import eval_device
from .flips import draw_flips, flip_where
from .normalise import Normalise
from .shifts import SHIFT_MODES, check_shift, draw_shifts, random_shift, translate

__all__ = ["SHIFT_MODES", "Normalise", "check_shift", "eval_device", "draw_flips", "draw_shifts",
           "flip_where", "random_shift", "translate"]
