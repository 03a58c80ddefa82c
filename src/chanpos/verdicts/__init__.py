"""Verdict statistics: intervals over independent replicates, the rule, claims, the validity
checks, the verdict table and figure. Torch-free; imports nothing of chanpos but `errors`."""

from __future__ import annotations

from .rule import INTERVAL_METHOD, VERDICTS, Check, Claim, Verdict, claim_of, decide, judge
from .stats import mean_sd, mean_var, replicates_to_decide, t_interval, welch_interval
from .table import ci_text, verdict_figure, verdict_table
from .validity import TrainingEnd, check, converged_check

__all__ = ["INTERVAL_METHOD", "VERDICTS", "Check", "Claim", "TrainingEnd", "Verdict", "check",
           "ci_text", "claim_of", "converged_check", "decide", "judge", "mean_sd", "mean_var",
           "replicates_to_decide", "t_interval", "verdict_figure", "verdict_table",
           "welch_interval"]
