"""The options of ``storyboard emulator`` (and ``python -m storyboard.emulator``).

Kept apart from the server so that building the command line stays cheap: every command's
parser registers these options, so the settings and the fault-spec parser are imported only
when the emulator is started, and uvicorn, Starlette, Pillow and PyAV never here.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storyboard.emulator.config import EmulatorConfig

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``storyboard emulator``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8787, help="port (default: 8787; 0 = any free port)"
    )
    parser.add_argument(
        "--latency",
        default="3-8",
        metavar="SECONDS|MIN-MAX",
        help="time a job stays processing (default: 3-8)",
    )
    parser.add_argument(
        "--stagger", type=float, default=1.0, metavar="SECONDS", help="between results of one job"
    )
    parser.add_argument(
        "--faults", default="", metavar="SPEC", help="fault rules, e.g. 'submit-503@0.1,seed=7'"
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="rendered size relative to the requested size"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of latencies, fault dice and result seeds"
    )
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help="the only key accepted (default: any non-empty key is accepted)",
    )
    parser.add_argument(
        "--literal-rules", action="store_true", help="read §3.5 rules 5 and 8 literally"
    )
    parser.add_argument(
        "--no-kling-limits", action="store_true", help="skip Kling's input media limits"
    )
    parser.add_argument(
        "--unknown-task",
        choices=("empty", "error"),
        default="empty",
        help="getResponse for an unknown taskUUID",
    )


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """The settings the options ask for.

    Raises:
        ValueError: a bad latency, scale or fault spec.
    """
    from storyboard.emulator.config import EmulatorConfig, parse_latency
    from storyboard.emulator.faults import parse_spec

    parse_spec(args.faults)  # fail early on a bad spec
    return EmulatorConfig(
        api_keys=None if args.api_key is None else frozenset([args.api_key]),
        latency_s=parse_latency(args.latency),
        stagger_s=args.stagger,
        scale=args.scale,
        seed=args.seed,
        literal_rules=args.literal_rules,
        kling_limits=not args.no_kling_limits,
        unknown_task=args.unknown_task,
        faults=args.faults,
    )


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    return host in LOOPBACK or host.startswith("127.")
