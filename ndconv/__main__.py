"""``python -m ndconv``: the ``ndconv`` command."""
import sys

from ._cli import main

sys.exit(main())
