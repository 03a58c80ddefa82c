"""`python -m chanpos` (also what torchrun launches: `torchrun ... -m chanpos table1 ...`)."""

from .cli import main

main()
