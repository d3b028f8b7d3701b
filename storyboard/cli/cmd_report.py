"""``storyboard report FILE [--backend B] [--open] [--exports [--absolute-paths]]``: the HTML
report of a build.

Each backend builds into a folder of its own (``build/NAME/preview/``, ``build/NAME/runware/``);
the report is of the latest of them (the one whose ``build.json`` was written last), or of the
one ``--backend`` names. It reads that folder's ``build.json`` (the film record the build wrote)
and writes ``report.html`` with its thumbnails beside it; ``--exports`` also writes the timeline
exports and the contact sheet there (media paths in them relative to that folder, so it can
be moved or shared whole; ``--absolute-paths`` writes absolute ``file://`` URLs). The
storyboard itself is not read again: the report shows what was built, even if the file has
changed since.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storyboard.build.state.outputs import BackendOutputs, BuildFolder
    from storyboard.build.state.workspace import Workspace


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "report",
        help="write an HTML page of the last build (shots, takes, cost, graph)",
        description="Write report.html beside the film of the last build of FILE "
        "(build/NAME/BACKEND/): the film and each take in players, every shot with its first "
        "and last frame and prompt, what each take cost and whether it was cached, and the "
        "dependency graph. The page opens from disk; it needs no server and no network.",
    )
    parser.add_argument("file", metavar="FILE", help="storyboard file")
    parser.add_argument(
        "--backend", metavar="B",
        help="report this backend's build: preview, runware (the server RUNWARE_BASE_URL "
        "names), or a folder of build/NAME/ (runware@127.0.0.1-8787); default: the latest",
    )  # fmt: skip
    parser.add_argument("--build-dir", metavar="DIR", help="the build folder (default build/NAME)")
    parser.add_argument(
        "--exports", action="store_true",
        help="also write NAME.otio, NAME.edl, NAME.fcpxml (where the OTIO adapters are "
        "installed) and NAME.contact.png",
    )  # fmt: skip
    parser.add_argument(
        "--absolute-paths", action="store_true",
        help="with --exports: point at the media with absolute file:// URLs (default: paths "
        "relative to the build folder, so that it can be moved or shared)",
    )  # fmt: skip
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from storyboard.build.pipeline import refusing
    from storyboard.build.state.workspace import ProjectLock
    from storyboard.core.diagnostics import display_path, printable
    from storyboard.core.errors import InputError
    from storyboard.exports.record import read_record, record_path
    from storyboard.report import write_report

    workspace, outputs, others = find_build(args.file, args.backend, args.build_dir)
    folder = outputs.path
    if others:
        also = ", ".join(others)
        print(
            f"storyboard: the report of {printable(display_path(folder))}; also built: {also} "
            "(--backend B reports another)",
            file=sys.stderr,
        )
    if args.absolute_paths and not args.exports:
        raise InputError.at(None, "--absolute-paths is for the exports: add --exports")
    with ProjectLock(workspace), refusing():
        # through the project's tree: a build.json that is a symlink is refused, not followed
        record = read_record(record_path(folder), workspace.tree.read_bytes)
        if args.exports:
            from storyboard.exports.contact_sheet import contact_sheet
            from storyboard.exports.otio import export_all

            written = export_all(record, writer=outputs, absolute_paths=args.absolute_paths)
            for suffix, done in written.items():
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


def find_build(
    file: str, backend: str | None, build_dir: str | None
) -> tuple[Workspace, BackendOutputs | BuildFolder, list[str]]:
    """The build ``storyboard report FILE`` reports: the backend folder ``backend`` names,
    else the latest built; with the other backend folders that hold a build.

    Raises:
        InputError: ``file`` is missing or not built (on that backend) yet, or its build
            folder is not storyboard's.
    """
    from storyboard.build.pipeline import refusing
    from storyboard.build.state.workspace import Workspace
    from storyboard.core.diagnostics import display_path
    from storyboard.core.errors import InputError
    from storyboard.core.project import find_project_root
    from storyboard.exports.record import record_path
    from storyboard.language.load import check_storyboard_name

    storyboard = Path(file).absolute()
    named = check_storyboard_name(storyboard)
    if named is not None:
        raise InputError([named])
    folder_arg = Path(build_dir) if build_dir else None
    with refusing():
        workspace = Workspace.for_storyboard(storyboard, find_project_root(storyboard), folder_arg)
        state = workspace.outputs.inspect()  # written only if storyboard made it
        chosen = _choose(workspace.outputs, backend) if state in ("ours", "legacy") else None
    if chosen is None:
        if not storyboard.exists():
            raise InputError.at(None, f"{file}: no such storyboard file")
        if not backend:
            raise InputError.at(
                None,
                f"{file} has not been built yet (no folder of "
                f"{display_path(workspace.build_dir)} holds a build.json): run `storyboard "
                f"build {file}` first",
            )
        folder = _folder_named(workspace.outputs, backend).path
        how = f" --backend {backend}" if backend in ("preview", "runware") else ""
        raise InputError.at(
            None,
            f"{file} has not been built with --backend {backend} yet "
            f"({display_path(record_path(folder))} is missing): run `storyboard build "
            f"{file}{how}` first",
        )
    outputs, others = chosen
    return workspace, outputs, others


def _folder_named(root: BuildFolder, backend: str) -> BackendOutputs:
    """The backend folder ``--backend`` names: ``preview``, ``runware`` (as ``build
    --backend runware`` would build now: the server of ``RUNWARE_BASE_URL``), or a folder."""
    from storyboard.backends.namespaces import namespace
    from storyboard.build.state.outputs import BackendOutputs, backend_folder
    from storyboard.core.errors import InputError

    if backend in ("preview", "runware"):
        return root.backend(namespace(backend))
    try:
        folder = backend_folder(backend)
    except ValueError:
        folder = ""
    if folder != backend:
        raise InputError.at(
            None,
            f"--backend {backend}: name preview, runware or a backend folder of the build "
            "folder (runware@127.0.0.1-8787)",
        )
    return BackendOutputs(root, folder)


def _choose(
    root: BuildFolder, backend: str | None
) -> tuple[BackendOutputs | BuildFolder, list[str]] | None:
    """The outputs to report (the backend folder ``backend`` names, else the latest built)
    and the other backend folders that hold a build; ``None``: nothing built there yet.

    A build folder an older storyboard laid out (one ``build.json`` at its top, no backend
    folders) is reported as it is when it has no backend folder yet.
    """
    built = root.built()
    if backend:
        named = _folder_named(root, backend)
        if named.folder not in built:
            return None
        return named, [f for f in built if f != named.folder]
    if built:
        *others, latest = built
        return _folder_named(root, latest), others
    if root.exists("build.json"):
        return root, []
    return None
