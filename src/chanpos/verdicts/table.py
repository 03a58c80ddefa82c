"""The verdict table every report opens with, and the verdict figure (effects with intervals)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .rule import INTERVAL_METHOD, Claim, Verdict, claim_of, plural

__all__ = ["verdict_table", "verdict_figure", "ci_text"]


def ci_text(v: Verdict) -> str:
    """'[+1.20, +3.40]', or 'no interval' for fewer than two replicates."""
    lo, hi = v.ci95
    return "no interval" if lo is None else f"[{lo:+.2f}, {hi:+.2f}]"


def verdict_table(verdicts: Sequence[Verdict], claims: Mapping[str, Claim]) -> list[str]:
    """Markdown lines: claim, paper, ours as effect [95 % CI] with n, verdict; then the checks,
    the planning estimates and each claim's min_effect reason."""
    lines = ["| claim | paper | ours: effect [95 % CI] (n) | min effect | checks | verdict |",
             "|---|---|---|---|---|---|"]
    for v in verdicts:
        c = claim_of(claims, v.claim)
        marks = ", ".join(f"{k.check} {'✓' if k.passed else '✗'}" for k in v.checks) or "–"
        lines.append(
            f"| `{v.claim}`: {v.statement} | {c.paper if c else '–'} | {v.effect:+.2f} "
            f"{v.unit} {ci_text(v)} (n = {v.n} {plural(v.replicate)}) | {v.min_effect:g} | "
            f"{marks} | **{v.verdict}** |")
    lines += ["", INTERVAL_METHOD, ""]
    for v in verdicts:
        for k in v.checks:
            lines.append(f"- `{v.claim}` check **{k.check}** "
                         f"{'passed' if k.passed else 'FAILED'}: {k.detail}")
        if v.planning:
            lines.append(f"- `{v.claim}` is inconclusive; {v.planning}.")
    lines.append("")
    for v in verdicts:
        c = claim_of(claims, v.claim)
        if c:
            lines.append(f"- `{v.claim}`: effect = {c.unit}, positive = the paper's direction; "
                         f"min_effect {c.min_effect:g}: {c.min_effect_reason}")
    return lines


def verdict_figure(verdicts: Sequence[Verdict]) -> Any:
    """A matplotlib figure (Agg): one row per claim, its effect with the 95 % interval, the
    zero and min_effect lines. The caller saves it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(verdicts), 1, figsize=(7.5, 1.1 + 0.9 * len(verdicts)),
                             squeeze=False)
    colours = {"reproduced": "tab:green", "contradicted": "tab:red", "inconclusive": "tab:gray"}
    for ax, v in zip(axes[:, 0], verdicts, strict=True):
        lo, hi = v.ci95
        err = None if lo is None else [[v.effect - lo], [hi - v.effect]]
        ax.errorbar([v.effect], [0], xerr=err, fmt="o", color=colours[v.verdict], capsize=4)
        ax.axvline(0, color="k", lw=0.8)
        ax.axvline(v.min_effect, color="tab:blue", lw=0.8, ls="--")
        ax.set_yticks([])
        ax.set_title(f"{v.claim}: {v.verdict} (n = {v.n} {plural(v.replicate)})", fontsize=8,
                     loc="left")
        ax.set_xlabel(v.unit, fontsize=7)
        ax.tick_params(labelsize=7)
        xs = [0, v.min_effect, v.effect] + ([lo, hi] if lo is not None else [])
        pad = 0.1 * (max(xs) - min(xs) or 1)
        ax.set_xlim(min(xs) - pad, max(xs) + pad)
    fig.suptitle("Effects (positive = the paper's direction), 95 % intervals; dashed: min effect",
                 fontsize=8)
    fig.tight_layout()
    return fig
