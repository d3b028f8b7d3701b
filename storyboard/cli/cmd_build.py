"""``storyboard build FILE``: generate every take that is not cached, and write the outputs."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from storyboard.cli.cmd_remote import add_remote_options
from storyboard.cli.options import add_wait_option


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "build",
        help="build a storyboard (offline preview unless RUNWARE_API_KEY is set)",
        description="Generate the takes that changed, in dependency order, and write them and "
        "the film to build/NAME/BACKEND/ (preview, runware, ...: a preview never replaces a "
        "paid film). Never pays twice for a take.",
    )
    parser.add_argument("file", metavar="FILE", help="storyboard file")
    parser.add_argument(
        "--backend",
        choices=("auto", "preview", "runware"),
        default="auto",
        help="auto: runware when RUNWARE_API_KEY is set, else preview",
    )
    parser.add_argument("-j", "--jobs", type=int, default=4, metavar="N", help="takes at once")
    parser.add_argument("--keep-going", action="store_true", help="finish every take that can")
    parser.add_argument("--max-cost", type=float, metavar="USD", help="refuse to start above it")
    parser.add_argument(
        "--select", action="append", default=[], metavar="SEL",
        help="only these takes: SHOT, +SHOT (and what it needs), SHOT+ (and what needs it)",
    )  # fmt: skip
    parser.add_argument(
        "--preview-scale", type=float, default=0.25, metavar="F",
        help="render previews at this fraction of the size (default 0.25)",
    )  # fmt: skip
    parser.add_argument(
        "--film-scale", type=float, metavar="F",
        help="cut the film at this fraction of the output size (default 1, or the preview "
        "scale for previews): the scale of an emulator started with --scale F copies its "
        "small takes instead of scaling every frame up",
    )  # fmt: skip
    parser.add_argument("--build-dir", metavar="DIR", help="where outputs go (default build/NAME)")
    add_wait_option(
        parser,
        "wait this long for another build of the project to finish",
    )
    add_remote_options(parser)
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from storyboard.backends.factory import make_backend, resolve_name
    from storyboard.cli.cmd_remote import remote_of
    from storyboard.cli.interrupt import CtrlC
    from storyboard.core.errors import InputError

    if args.jobs < 1:
        raise InputError.at(None, "--jobs must be at least 1")
    if not 0 < args.preview_scale <= 1:
        raise InputError.at(None, "--preview-scale must be in (0, 1]")
    if args.max_cost is not None and not args.max_cost >= 0:  # NaN too: over it is nothing
        raise InputError.at(None, "--max-cost must be 0 or more")
    if args.film_scale is not None and not 0 < args.film_scale <= 1:
        raise InputError.at(None, "--film-scale must be in (0, 1]")
    remote = remote_of(args, Path(args.file))  # a wrong setting: refused before anything
    name = resolve_name(args.backend)
    if args.backend == "auto" and name == "preview":
        print(
            "storyboard: RUNWARE_API_KEY is not set: building offline previews (free)",
            file=sys.stderr,
        )
    backend = make_backend(name, preview_scale=args.preview_scale)
    build_dir = Path(args.build_dir) if args.build_dir else None
    # Ctrl-C: status 130 every time, within the grace period, however the interrupt ends
    with CtrlC("build", status=130, said="storyboard: interrupted") as ctrl_c:
        try:
            return _build(args, backend, build_dir, remote)
        except KeyboardInterrupt:
            if not ctrl_c.pressed:  # raised by a caller's code, not by Ctrl-C: as it was
                raise
            ctrl_c.stopped()
        except BaseException as exc:  # (an asyncio.CancelledError is not an Exception)
            if not ctrl_c.pressed or isinstance(exc, SystemExit):
                raise
            ctrl_c.stopped(because=exc)  # the build, interrupted, failed in its clean-up
    return 130


def _build(args: argparse.Namespace, backend: Any, build_dir: Any, remote: Any) -> int:
    from storyboard.build.noop import film_scale, unchanged_inputs
    from storyboard.cli.console import Console
    from storyboard.core.diagnostics import display_path, printable
    from storyboard.core.money import usd

    console = Console()
    try:
        # nothing to do, known before the storyboard is read: the compiler is not imported
        result = None
        if not args.select:
            result = unchanged_inputs(
                args.file, backend, film_scale(backend, args.film_scale), build_dir, None, console,
                lambda: _prepared(args.file, backend, build_dir),
            )  # fmt: skip
        if result is None:
            from storyboard.build.pipeline import build

            result = build(
                args.file,
                backend=backend,
                jobs=args.jobs,
                keep_going=args.keep_going,
                max_cost=args.max_cost,
                select=args.select,
                build_dir=build_dir,
                wait=args.wait,
                film_scale=args.film_scale,
                emit=console,
                remote=remote,
            )
    finally:
        console.close()
    if args.json:
        from storyboard.compiler.compile import dumps

        sys.stdout.write(dumps(result.to_json()))
    done = sum(1 for o in result.outcomes.values() if o.status != "failed" and o.entry)
    print(
        f"{done} of {len(result.outcomes)} takes ready in "
        f"{result.workspace.output_dir} (spent {usd(result.spent)})",
        file=sys.stderr,
    )
    if result.film is not None:  # the last line: where this backend's film is
        print(f"film: {printable(display_path(result.film))}", file=sys.stderr)
    return 0 if result.ok else 1


def _prepared(path: str, backend: Any, build_dir: Any) -> Any:
    """What a build with nothing to do prepared, made when asked for (``--json``)."""
    from storyboard.build.pipeline import prepared_as_done

    return prepared_as_done(path, backend, build_dir, None)
