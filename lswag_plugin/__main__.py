"""``python -m lswag_plugin`` runs the ``lswag`` command line."""

import sys

from lswag_plugin.cli import main

sys.exit(main())
