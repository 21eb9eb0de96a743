"""`python -m sync.hub ARGS` is `checkpoint hub ARGS` (handy for running the hub alone)."""

import sys

from scanner.cli import main

sys.exit(main(["hub", *sys.argv[1:]]))
