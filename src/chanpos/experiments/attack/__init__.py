"""Figures 4-6 of Islam et al. (ICCV 2021): find the position-encoding channels of trained
segmentation networks and attack them; `study` varies one factor per arm.

Modules as in every experiment package (`config`, `rows`, `prepare`, `cells`, `claims`,
`report`, `experiment`, `profiles.yaml`), plus `train` (pretraining and segmentation
training), `measure` (rank and attack one model), `plots`, and the study (`study_config`,
`study`, `study_profiles.yaml`).
"""
