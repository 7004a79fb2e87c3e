"""``python -m tvframe``: the same as the ``tvframe`` command."""

import sys

from tvframe.cli import main

if __name__ == "__main__":  # imported (by doctest collection, say), it does nothing
    sys.exit(main())
