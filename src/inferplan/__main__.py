"""`python -m inferplan`."""

from inferplan.cli import main

main()
