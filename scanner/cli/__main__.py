"""`python -m scanner.cli ARGS` is `checkpoint ARGS`."""

import sys

from scanner.cli import main

sys.exit(main())
