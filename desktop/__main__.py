"""`python -m desktop`, same as the `robocoach` command."""

import sys

from desktop.cli import main

if __name__ == "__main__":
    sys.exit(main())
