"""`make demo`: check every example, then build the example film offline, with its report.

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
    assets = [sys.executable, "scripts/make_example_assets.py", "--check"]
    subprocess.run(assets, cwd=ROOT, check=True)
    files = sorted(
        str(p.relative_to(ROOT)) for p in EXAMPLES.rglob("*.yaml") if "cast" not in p.parts
    )
    film = str(FILM.relative_to(ROOT))
    storyboard("check", *files)
    storyboard("plan", film, "--backend", "preview")
    storyboard("build", film, "--backend", "preview")
    storyboard("report", film, "--backend", "preview")
    out = FILM.parent / "build" / FILM.stem / "preview"  # each backend builds in its own folder
    print(f"\nchecked {len(files)} storyboards; built {film} offline:")
    shown = ("skerry-point.mp4", "lighthouse.srt", "lighthouse.contact.png", "report.html")
    for name in (*shown, "lighthouse.otio"):
        print(f"  {(out / name).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
