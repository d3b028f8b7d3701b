"""``python -m storyboard.emulator``: the emulator in the foreground, as ``storyboard emulator``."""

from storyboard.emulator.server import main

raise SystemExit(main())
