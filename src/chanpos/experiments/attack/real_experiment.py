"""`chanpos attack-real`: Figures 4-6 on a real pretrained network, the attack experiment
with its own profiles (`real_profiles.yaml`)."""

from .experiment import REAL_EXPERIMENT as EXPERIMENT

__all__ = ["EXPERIMENT"]
