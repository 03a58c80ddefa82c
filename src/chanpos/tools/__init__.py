"""One-shot commands on a user's model (`chanpos rank`, `chanpos consistency`): each a package
with a torch-free `config` and an `experiment` (its `EXPERIMENT`, run through the same
lifecycle as the experiments, but never resumed). They import the run framework, probes,
data and models, never an experiment."""
