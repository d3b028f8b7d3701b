"""``storyboard review FILE``: a local page to compare each take's variations and pick one,
keep a take or ask for a retake; each click writes one line of the storyboard.

The page is served on ``127.0.0.1`` at an address with a random token, printed on standard
output; it runs until Ctrl-C. It reviews the latest build (``--backend`` names another), as
``storyboard report`` does, and plans against that build's backend.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "review",
        help="serve a local page to compare variations and pick, keep or retake takes",
        description="Serve a page on 127.0.0.1 (at an address with a random token) that shows "
        "each take's variations of the last build side by side, playing, with their price, "
        "and buttons that write `pick: N`, `keep: true` or `retake: N` into FILE (one line "
        "each, comments kept; never over a change saved in your editor), then show the new "
        "plan. Nothing is built or sent. Runs until Ctrl-C.",
    )
    parser.add_argument("file", metavar="FILE", help="storyboard file")
    parser.add_argument(
        "--backend", metavar="B",
        help="review this backend's build (as for `storyboard report`); default: the latest",
    )  # fmt: skip
    parser.add_argument("--build-dir", metavar="DIR", help="the build folder (default build/NAME)")
    parser.add_argument(
        "--preview-scale", type=float, default=None, metavar="F",
        help="plan against previews rendered at this fraction of the size (default 0.25)",
    )  # fmt: skip
    parser.add_argument(
        "--port", type=int, default=0, metavar="N", help="serve on this port (default: a free one)"
    )
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from storyboard.backends.factory import DEFAULT_PREVIEW_SCALE
    from storyboard.cli.cmd_report import find_build
    from storyboard.cli.interrupt import CtrlC
    from storyboard.core.diagnostics import display_path, printable
    from storyboard.core.errors import InputError
    from storyboard.exports.record import read_record, record_path
    from storyboard.language.load import check_inside_project
    from storyboard.live.browser import OpenedPage
    from storyboard.live.review import Review, make_app
    from storyboard.live.server import LocalServer, new_token

    scale = DEFAULT_PREVIEW_SCALE if args.preview_scale is None else args.preview_scale
    if not 0 < scale <= 1:
        raise InputError.at(None, "--preview-scale must be in (0, 1]")
    if not 0 <= args.port <= 65535:
        raise InputError.at(None, "--port must be from 0 to 65535")
    storyboard = Path(args.file).absolute()
    check_inside_project(storyboard)  # its clicks are written there
    workspace, outputs, _ = find_build(args.file, args.backend, args.build_dir)
    folder = outputs.path
    record = read_record(record_path(folder), workspace.tree.read_bytes)
    review = Review(storyboard, folder, backend=record.backend, preview_scale=scale)
    try:
        server = LocalServer(make_app(review), port=args.port, token=new_token())
    except OSError as exc:
        raise InputError.at(None, f"--port {args.port}: cannot listen there: {exc}") from exc
    with server, CtrlC("review") as ctrl_c:  # stops every time, with status 0
        opened = None
        try:
            print(
                f"storyboard: reviewing the {record.backend} build of {printable(args.file)} "
                f"({printable(display_path(folder))}); Ctrl-C stops",
                file=sys.stderr,
            )
            print(server.url, flush=True)
            if args.open:
                # the browser is given a private redirect file: its arguments are public (ps)
                opened = OpenedPage(server.url)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            ctrl_c.stopped()
        finally:
            if opened is not None:
                opened.close()
    return 0
