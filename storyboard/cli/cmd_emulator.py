"""``storyboard emulator``: serve the local Runware emulator until interrupted.

Prints ``RUNWARE_BASE_URL=http://HOST:PORT/v1`` on stdout (ready to ``export``), and what it
serves on stderr. Binds to loopback unless ``--host`` says otherwise. The API key, if one is
given, is never printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from storyboard.core.errors import InputError


def register(sub: Any) -> None:
    from storyboard.emulator.options import add_arguments

    parser = sub.add_parser(
        "emulator",
        help="serve a local emulator of the Runware API",
        description=(
            "Serve a local emulator of the Runware API for Kling VIDEO O3 Pro: it validates, "
            "bills and answers like the service, renders animatic videos, and injects faults "
            "on request. Point RUNWARE_BASE_URL at the URL it prints."
        ),
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from storyboard.emulator.options import config_from_args, is_loopback
    from storyboard.emulator.server import serve_forever

    try:
        config = config_from_args(args)
    except ValueError as exc:
        raise InputError.at(None, f"emulator: {exc}") from exc
    if not is_loopback(args.host):
        print(
            f"storyboard: warning: binding {args.host}: other machines can reach the emulator "
            "and its control endpoints",
            file=sys.stderr,
        )

    def ready(url: str) -> None:
        print(f"RUNWARE_BASE_URL={url}", flush=True)
        keys = "the key given with --api-key" if args.api_key else "any non-empty API key"
        print(
            f"storyboard: emulator serving {url} (accepts {keys}; control at "
            f"{url.removesuffix('/v1')}/_emulator); Ctrl-C stops it",
            file=sys.stderr,
            flush=True,
        )

    try:
        serve_forever(config, args.host, args.port, ready)
    except OSError as exc:
        raise InputError.at(
            None, f"emulator: cannot listen on {args.host}:{args.port}: {exc}"
        ) from exc
    return 0
