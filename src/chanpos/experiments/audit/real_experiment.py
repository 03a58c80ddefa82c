"""`chanpos audit-real`: the audit of a real pretrained classifier as it is, the audit
experiment with its own profiles (`real_profiles.yaml`)."""

from .experiment import REAL_EXPERIMENT as EXPERIMENT

__all__ = ["EXPERIMENT"]
