"""``python -m storyboard``: the same as the ``storyboard`` command."""

import sys

from storyboard.cli.main import main

sys.exit(main())
