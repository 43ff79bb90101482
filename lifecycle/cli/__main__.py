"""`python -m lifecycle.cli`: the same program as `lifecycle`."""

from lifecycle.cli import main

main()
