"""Table 1 of Islam et al. (ICCV 2021): GAPNet vs PermuteNet on the grid setting.

Modules (the same in every experiment package): `config` (settings, torch-free), `rows` (the
typed row of one cell), `prepare` (data, before any folder exists), `cells` (train and
evaluate one cell), `claims` (the claims and their verdicts), `report` (report.md,
results.json, plots), `experiment` (its `EXPERIMENT`), `profiles.yaml`.
"""
