"""`python -m chatwatch.cli` runs the `chatwatch` command (the demo and tests start processes this way)."""

from chatwatch.cli import main

main()
