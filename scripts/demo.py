"""`make demo`: check every example storyboard, then show what building the film would do.

Run from the repository root with the project's virtualenv (the Makefile does both).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
FILM = EXAMPLES / "lighthouse" / "lighthouse.yaml"


def storyboard(*args: str) -> None:
    command = [sys.executable, "-m", "storyboard", *args]
    print("$ storyboard " + " ".join(args), flush=True)
    subprocess.run(command, cwd=ROOT, check=True)


def main() -> int:
    subprocess.run(
        [sys.executable, "scripts/make_example_assets.py", "--check"], cwd=ROOT, check=True
    )
    files = sorted(
        str(p.relative_to(ROOT)) for p in EXAMPLES.rglob("*.yaml") if "cast" not in p.parts
    )
    storyboard("check", *files)
    storyboard("plan", str(FILM.relative_to(ROOT)))
    print(f"\nchecked {len(files)} storyboards: " + ", ".join(Path(f).name for f in files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
