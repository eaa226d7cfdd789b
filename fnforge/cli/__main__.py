"""`python -m fnforge.cli` runs the command line."""

from fnforge.cli import main

main()
