"""``storyboard watch FILE``: check and build the preview on every save; serve its report.

Runs until Ctrl-C (exit status 0). The offline preview is built unless ``--backend runware``
is given, which needs ``--max-cost`` (every save may pay for the takes it changes).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "watch",
        help="check and build the preview on every save; serve the report, reloading it",
        description="Check FILE and build its offline preview, then again on every save of the "
        "storyboard, its includes, templates and assets; print the errors of a save that does "
        "not check and keep watching. The report of the latest build is served on 127.0.0.1 "
        "and the open page reloads when a build finishes. Runs until Ctrl-C.",
    )
    parser.add_argument("file", metavar="FILE", help="storyboard file")
    parser.add_argument(
        "--backend", choices=("preview", "runware"), default="preview",
        help="preview (default: offline, free, whatever RUNWARE_API_KEY says); runware pays "
        "for every take a save changes, and needs --max-cost",
    )  # fmt: skip
    parser.add_argument(
        "--max-cost", type=float, metavar="USD",
        help="with --backend runware: refuse a build whose new charges may be above it",
    )  # fmt: skip
    parser.add_argument(
        "--preview-scale", type=float, default=0.25, metavar="F",
        help="render previews at this fraction of the size (default 0.25)",
    )  # fmt: skip
    parser.add_argument("-j", "--jobs", type=int, default=4, metavar="N", help="takes at once")
    parser.add_argument("--build-dir", metavar="DIR", help="where outputs go (default build/NAME)")
    parser.add_argument(
        "--port", type=int, default=0, metavar="N", help="serve on this port (default: a free one)"
    )
    parser.add_argument(
        "--no-serve", action="store_true", help="build on every save; serve nothing"
    )
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from storyboard.cli.console import Console
    from storyboard.cli.interrupt import CtrlC
    from storyboard.core.diagnostics import printable
    from storyboard.core.errors import InputError
    from storyboard.live.browser import OpenedPage
    from storyboard.live.server import LocalServer, new_token
    from storyboard.live.watch import Watch, make_app

    if args.backend == "runware" and args.max_cost is None:
        raise InputError.at(
            None,
            "--backend runware: every save may pay for the takes it changes; give --max-cost "
            "USD, the most one build may charge",
        )
    if args.max_cost is not None and not args.max_cost >= 0:  # NaN too, as for build
        raise InputError.at(None, "--max-cost must be 0 or more")
    if args.jobs < 1:
        raise InputError.at(None, "--jobs must be at least 1")
    if not 0 < args.preview_scale <= 1:
        raise InputError.at(None, "--preview-scale must be in (0, 1]")
    if not 0 <= args.port <= 65535:
        raise InputError.at(None, "--port must be from 0 to 65535")
    storyboard = Path(args.file)
    if not storyboard.is_file():
        raise InputError.at(None, f"{args.file}: no such storyboard file")
    watch = Watch(
        storyboard,
        backend=args.backend,
        preview_scale=args.preview_scale,
        max_cost=args.max_cost,
        jobs=args.jobs,
        build_dir=Path(args.build_dir) if args.build_dir else None,
        sink=Console,
    )
    server = None
    if not args.no_serve:
        try:
            # with a token, as review's: another user of this machine cannot read the build
            server = LocalServer(make_app(watch), port=args.port, token=new_token()).start()
        except OSError as exc:
            raise InputError.at(None, f"--port {args.port}: cannot listen there: {exc}") from exc
    paid = (
        f" (PAID: runware, at most ${args.max_cost:.4f} a build)"
        if args.backend == "runware"
        else ""
    )
    where = f"; the report at {server.url}" if server else ""
    opened = None
    stop = threading.Event()
    with CtrlC("watch") as ctrl_c:  # stops every time, with status 0 (see its module)
        try:
            print(
                f"storyboard: watching {printable(args.file)} and the files it reads{paid}"
                f"{where} (Ctrl-C stops)",
                file=sys.stderr,
                flush=True,
            )
            if server is not None and args.open:
                # the browser is given a private redirect file: its arguments are public (ps)
                opened = OpenedPage(server.url)
            watch.run(stop)
        except KeyboardInterrupt:
            ctrl_c.stopped()
        except BaseException as exc:  # (an asyncio.CancelledError is not an Exception)
            if not ctrl_c.pressed or isinstance(exc, SystemExit):
                raise
            ctrl_c.stopped(because=exc)  # the build, interrupted, failed in its clean-up
        finally:
            stop.set()
            if opened is not None:
                opened.close()
            if server is not None:
                server.stop()
    return 0
