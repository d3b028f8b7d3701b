"""``storyboard plan FILE [--json]``: every take, its cost and the critical path.

The storyboard's warnings (:mod:`storyboard.compiler.advice`) go to standard error first, and into
``--json`` as ``warnings``."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "plan",
        help="show what a build would generate and cost (sends nothing)",
        description="List every take with its shots, dependencies and estimated cost.",
    )
    parser.add_argument("file", metavar="FILE", help="storyboard file")
    parser.add_argument(
        "--backend", choices=("auto", "preview", "runware"), default="auto",
        help="whose cache to compare with (auto: runware when RUNWARE_API_KEY is set)",
    )  # fmt: skip
    parser.add_argument(
        "--select", action="append", default=[], metavar="SEL",
        help="only these takes: SHOT, +SHOT (and what it needs), SHOT+ (and what needs it)",
    )  # fmt: skip
    parser.add_argument(
        "--preview-scale", type=float, default=None, metavar="F",
        help="compare with previews rendered at this fraction of the size (default 0.25)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from storyboard import api
    from storyboard.compiler.compile import dumps
    from storyboard.compiler.plan import render_plan
    from storyboard.core.errors import InputError

    if args.preview_scale is not None and not 0 < args.preview_scale <= 1:
        raise InputError.at(None, "--preview-scale must be in (0, 1]")
    plan = api.plan(
        args.file, backend=args.backend, select=args.select, preview_scale=args.preview_scale
    )
    warnings = plan.compiled.warnings
    for warning in warnings:
        print(warning.render(), file=sys.stderr)
    if args.json:
        sys.stdout.write(dumps({**plan.to_json(), "warnings": [w.to_json() for w in warnings]}))
    else:
        print(render_plan(plan))
    return 0
