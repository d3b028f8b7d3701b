"""``storyboard check FILE...``: report every mistake in storyboards, or say they are fine.

Warnings (what a writer should know before paying: :mod:`storyboard.compiler.advice`) are printed on
standard error as ``FILE:LINE:COL: warning: ...`` and never change the exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from storyboard.core.diagnostics import Diagnostic, printable
from storyboard.core.errors import InputError


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "check",
        help="check storyboards for mistakes",
        description="Load, validate and compile storyboards (sending nothing, writing nothing); "
        "print every problem as FILE:LINE:COL.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="storyboard files")
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="print only problems and warnings"
    )
    parser.add_argument(
        "--json", action="store_true", help="also print each file's result as JSON on stdout"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from storyboard import api
    from storyboard.compiler.compile import dumps

    problems: list[Diagnostic] = []
    results: list[dict[str, Any]] = []
    for file in args.files:
        try:
            # compiling checks the model's limits and the cut too; nothing is written or sent
            compiled = api.compile_storyboard(file)
        except InputError as exc:
            problems.extend(exc.diagnostics)
            results.append(_result(file, None, exc.diagnostics, ()))
            continue
        for warning in compiled.warnings:
            print(warning.render(), file=sys.stderr)
        shots, takes = len(compiled.checked.shots), len(compiled.takes)
        results.append(_result(file, (shots, takes), (), compiled.warnings))
        if not args.quiet:
            count = len(compiled.warnings)
            warned = f", {count} warning{'s' if count != 1 else ''}" if count else ""
            print(
                f"{printable(file)}: ok ({shots} shot{'s' if shots != 1 else ''}, "
                f"{takes} request{'s' if takes != 1 else ''}{warned})",
                file=sys.stderr,
            )
    if args.json:
        sys.stdout.write(dumps({"ok": not problems, "storyboards": results}))
    if problems:
        raise InputError(problems)
    return 0


def _result(
    file: str,
    counts: tuple[int, int] | None,
    errors: Sequence[Diagnostic],
    warnings: Sequence[Diagnostic],
) -> dict[str, Any]:
    """One storyboard's entry in ``--json``."""
    return {
        "file": file,
        "ok": counts is not None,
        "shots": counts[0] if counts else None,
        "requests": counts[1] if counts else None,
        "errors": [d.to_json() for d in errors],
        "warnings": [d.to_json() for d in warnings],
    }
