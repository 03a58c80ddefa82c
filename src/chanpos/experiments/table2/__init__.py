"""Table 2 of Islam et al. (ICCV 2021): AugShift vs the baseline, BlurPool and equal compute.

Modules as in every experiment package: `config`, `rows`, `prepare`, `cells`, `claims`,
`report`, `experiment`, `profiles.yaml`.
"""
