"""`chanpos reproduce`: every experiment registered for it, with one profile, in one run folder
with one combined report. Modules: `config`, `experiment`."""
