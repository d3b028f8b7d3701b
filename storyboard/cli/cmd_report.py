"""``storyboard report FILE [--open] [--exports]``: the HTML report of the last build.

Reads ``build/NAME/build.json`` (the film record the build wrote) and writes
``build/NAME/report.html`` with its thumbnails; ``--exports`` also writes the timeline
exports and the contact sheet beside it. The storyboard itself is not read again: the
report shows what was built, even if the file has changed since.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "report",
        help="write an HTML page of the last build (shots, takes, cost, graph)",
        description="Write build/NAME/report.html from the last build of FILE: the film and "
        "each take in players, every shot with its first and last frame and prompt, what each "
        "take cost and whether it was cached, and the dependency graph. The page opens from "
        "disk; it needs no server and no network.",
    )
    parser.add_argument("file", metavar="FILE", help="storyboard file")
    parser.add_argument("--build-dir", metavar="DIR", help="the build folder (default build/NAME)")
    parser.add_argument(
        "--exports", action="store_true",
        help="also write NAME.otio, NAME.edl, NAME.fcpxml (where the OTIO adapters are "
        "installed) and NAME.contact.png",
    )  # fmt: skip
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from storyboard.build import refusing
    from storyboard.diagnostics import display_path
    from storyboard.errors import InputError
    from storyboard.exports.record import read_record, record_path
    from storyboard.load import check_storyboard_name, find_project_root
    from storyboard.report import write_report
    from storyboard.state.workspace import ProjectLock, Workspace

    storyboard = Path(args.file).absolute()
    named = check_storyboard_name(storyboard)
    if named is not None:
        raise InputError([named])
    build_dir = Path(args.build_dir) if args.build_dir else None
    with refusing():
        workspace = Workspace.for_storyboard(storyboard, find_project_root(storyboard), build_dir)
        state = workspace.outputs.inspect()  # written only if storyboard made it
    folder = workspace.build_dir
    if state not in ("ours", "legacy") or not record_path(folder).is_file():
        if not storyboard.exists():
            raise InputError.at(None, f"{args.file}: no such storyboard file")
        raise InputError.at(
            None,
            f"{args.file} has not been built yet ({display_path(record_path(folder))} is "
            f"missing): run `storyboard build {args.file}` first",
        )
    with ProjectLock(workspace), refusing():
        outputs = workspace.outputs
        record = read_record(record_path(folder))
        if args.exports:
            from storyboard.exports.contact_sheet import contact_sheet
            from storyboard.exports.otio import export_all

            for suffix, done in export_all(record, writer=outputs).items():
                if isinstance(done, Path):
                    print(f"storyboard: wrote {display_path(done)}", file=sys.stderr)
                else:
                    print(f"storyboard: skipped {suffix}: {done}", file=sys.stderr)
            sheet = folder / f"{record.name}.contact.png"
            contact_sheet(record, sheet, writer=outputs)
            print(f"storyboard: wrote {display_path(sheet)}", file=sys.stderr)
        page = write_report(record, writer=outputs)
    print(display_path(page))
    if args.open:
        import webbrowser

        if not webbrowser.open(page.resolve().as_uri()):
            print(f"storyboard: could not start a web browser; open {page}", file=sys.stderr)
    return 0
