"""Every claim chanpos judges is declared by its experiment, with a positive min_effect and a
reason; reproduce's verdict table finds each one."""

from chanpos.runs.registry import entries


def _claims() -> dict:
    out = {}
    for e in entries():
        if e.reproduce:
            out.update(e.experiment().claims)
    return out


def test_every_claim_of_the_issue_is_defined_with_a_positive_min_effect() -> None:
    claims = _claims()
    assert set(claims) == {"table1.location", "table1.object", "table2.consistency",
                           "table2.vs_equal_compute", "figure4", "figure6",
                           "audit.pooled_position", "audit.order_carries_position"}
    for c in claims.values():
        assert c.min_effect > 0 and c.min_effect_reason and c.statement and c.paper


