"""``storyboard doctor FILE [--fix] [--abandon TAKE]``: report damaged state and pending
requests, repair what loses nothing paid, give up a pending request at the writer's word."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from storyboard.cli.options import add_wait_option


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "doctor",
        help="check a storyboard's lock file, journal and build folder; repair with --fix",
        description="Read the state a build of FILE uses (the lock file NAME.lock, the journal "
        ".storyboard/journal/NAME.jsonl, the state folders and the build folder) and report "
        "every problem at its place. With --fix, repair what can be repaired without losing "
        "a paid result: git merge conflicts in the lock file (both sides kept), lock entries "
        "this machine's cache can restore, journal lines that cannot be read. With --abandon, "
        "give up a request the journal holds as pending, so that the next build sends the "
        "take anew (and pays for it again).",
    )
    parser.add_argument("file", metavar="FILE", help="storyboard file")
    parser.add_argument("--build-dir", metavar="DIR", help="the build folder (default build/NAME)")
    parser.add_argument("--fix", action="store_true", help="repair what can be repaired safely")
    parser.add_argument(
        "--abandon", action="append", default=[], metavar="TAKE",
        help="give up the pending request of TAKE (a take id or a task UUID; repeatable): "
        "the next build pays for the take again",
    )  # fmt: skip
    add_wait_option(
        parser,
        "with --fix or --abandon: wait this long for a running build of the project to finish",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from storyboard.build.doctor import examine

    found = examine(
        args.file,
        build_dir=Path(args.build_dir) if args.build_dir else None,
        fix=args.fix,
        wait=args.wait,
        abandon=args.abandon,
    )
    for finding in found.findings:
        print(finding.diagnostic.render(), file=sys.stderr)
        if finding.repaired:
            print(f"  repaired: {finding.repair}", file=sys.stderr)
        elif finding.repair is not None:
            print(f"  --fix would {finding.repair}", file=sys.stderr)
    for note in found.notes:
        print(f"storyboard: {note}", file=sys.stderr)
    left = found.unresolved
    if left:
        print(f"{len(left)} problem{'s' if len(left) != 1 else ''} left", file=sys.stderr)
    elif found.abandoned:
        count = len(found.abandoned)
        print(f"{args.file}: gave up {count} pending request{'s' if count != 1 else ''}",
              file=sys.stderr)  # fmt: skip
    elif found.findings:
        print(f"{args.file}: repaired", file=sys.stderr)
    else:
        print(f"{args.file}: the state is sound", file=sys.stderr)
    return 2 if left else 0
