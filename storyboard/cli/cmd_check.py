"""``storyboard check FILE...``: report every mistake in storyboards, or say they are fine."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from storyboard.diagnostics import Diagnostic, printable
from storyboard.errors import InputError


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "check",
        help="check storyboards for mistakes",
        description="Load, validate and compile storyboards (sending nothing, writing nothing); "
        "print every problem as FILE:LINE:COL.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="storyboard files")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only problems")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from storyboard import api

    problems: list[Diagnostic] = []
    for file in args.files:
        try:
            # compiling checks the model's limits too; nothing is written or sent
            compiled = api.compile_storyboard(file)
        except InputError as exc:
            problems.extend(exc.diagnostics)
            continue
        if not args.quiet:
            shots, takes = len(compiled.checked.shots), len(compiled.takes)
            print(
                f"{printable(file)}: ok ({shots} shot{'s' if shots != 1 else ''}, "
                f"{takes} request{'s' if takes != 1 else ''})",
                file=sys.stderr,
            )
    if problems:
        raise InputError(problems)
    return 0
