"""``python -m tvframe``: the same as the ``tvframe`` command."""

import sys

from tvframe.cli import main

sys.exit(main())
