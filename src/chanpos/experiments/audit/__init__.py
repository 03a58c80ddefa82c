"""`chanpos audit`: the paper's question asked of one trained classification CNN (pooled-vector
probes, the PosENet readout per stage, flip scores, with controls).

Modules as in every experiment package (`config`, `rows`, `prepare`, `cells`, `claims`,
`report`, `experiment`, `profiles.yaml`), plus `probing` (the probes, readouts and controls).
"""
