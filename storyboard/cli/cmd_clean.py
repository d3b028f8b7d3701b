"""``storyboard clean FILE [--previews] [--dry-run]``: remove what a build can make again."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from storyboard.cli.options import add_wait_option
from storyboard.core.diagnostics import printable


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "clean",
        help="remove the files a build wrote in a storyboard's build folder (never a paid result)",
        description="Remove the files storyboard wrote in build/NAME/ (takes, requests, the "
        "film, its exports, the report), then the folders it made if they are empty: the next "
        "build makes them again from the cache and the lock file, without paying. Files "
        "storyboard did not write stay, and are listed. Paid results in the cache, the lock "
        "file and the journal are never removed.",
    )
    parser.add_argument("file", metavar="FILE", help="storyboard file")
    parser.add_argument("--build-dir", metavar="DIR", help="the build folder (default build/NAME)")
    parser.add_argument(
        "--previews", action="store_true",
        help="also remove the project's cached previews and extracted hand-off frames "
        "(free to make again)",
    )  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="say what would go; remove nothing")
    add_wait_option(
        parser,
        "wait this long for a running build of the project to finish",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from storyboard.build.clean import clean
    from storyboard.core.diagnostics import display_path

    cleaned = clean(
        args.file,
        build_dir=Path(args.build_dir) if args.build_dir else None,
        previews=args.previews,
        dry_run=args.dry_run,
        wait=args.wait,
    )
    verb = "would remove" if args.dry_run else "removed"
    for path in cleaned.removed:
        print(f"{verb} {printable(display_path(path))}", file=sys.stderr)
    if cleaned.files and cleaned.build_dir is not None:
        count, folder = len(cleaned.files), printable(display_path(cleaned.build_dir))
        plural = "s" if count != 1 else ""
        print(f"{verb} {count} file{plural} storyboard wrote in {folder}", file=sys.stderr)
    for path in cleaned.kept:
        print(f"kept {printable(display_path(path))}: storyboard did not write it", file=sys.stderr)
    if not cleaned.removed and not cleaned.files:
        print("nothing to clean", file=sys.stderr)
    else:
        freed = "to free" if args.dry_run else "freed"
        print(f"{cleaned.freed / 1e6:.1f} MB {freed}", file=sys.stderr)
    return 0
