"""``storyboard watch``: check and build the preview on every save, and serve its report.

Place in the pipeline: it runs the whole pipeline again each time an input changes. On every
save of the storyboard, of a file it includes, of a prompt template or of a local asset it
names (the files :func:`storyboard.build.depfile.dependencies` lists, as ``storyboard deps`` writes
them for make), it checks the storyboard first and prints its errors (and keeps watching: the
next save is checked again), then builds it (the offline preview unless the paid backend was
asked for by name) and writes the report. The folders of those files are watched with
``watchfiles`` (inotify on Linux, FSEvents on macOS), one level deep, so an editor that saves
by renaming a new file over the old one is seen too; other files there (swap files, the build
folder) are ignored. An editor that saves in place empties the file first: a check that read
it in between is not reported when the file changes soon after (:meth:`Watch._mid_save`).
While the storyboard does not check, a new ``.yaml`` or template file beside it is looked at
too (the include that was missing may just have been written).

The report is served on ``127.0.0.1`` (:class:`storyboard.live.server.LocalServer`), at an
address with a token (as review's: another user of this machine cannot read the build), with
a few lines of script that reload the page when a build finishes (server-sent events,
``__storyboard/events``, below the page's address), and, while the storyboard does not check,
its errors over the last report. Only what storyboard wrote is served: the files the build
folder's marker lists in the backend's folder, each opened through the project's
:class:`~storyboard.build.state.safe.Tree` (no symlink followed on the way or at the end,
a regular file only) and answered from that descriptor. A ``report.html`` storyboard did not
write is neither served nor written over: the page says so.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from markupsafe import escape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from storyboard.core.diagnostics import display_path, printable
from storyboard.live.server import open_file_response, open_listed

if TYPE_CHECKING:
    from storyboard.build.pipeline import BuildResult
    from storyboard.build.state.safe import Tree
    from storyboard.build.state.workspace import Workspace
    from storyboard.core.events import Event


SETTLE = 0.5
"""Seconds a round that found an empty input waits for the rest of the save before it says
the storyboard is wrong (see :meth:`Watch._mid_save`)."""


class Sink(Protocol):
    """Where one build's progress goes (the CLI's console): events in, then closed."""

    def __call__(self, event: Event) -> None: ...

    def close(self) -> None: ...


class _Quiet:
    """The sink of a watch given none: the build's events are dropped."""

    def __call__(self, event: Event) -> None:
        pass

    def close(self) -> None:
        pass


LOOKED_AT_WHILE_BROKEN = (".yaml", ".yml", ".j2", ".jinja", ".jinja2", ".txt", ".md")
"""Suffixes of new files that may be the missing include or template of a broken storyboard."""

Stat = tuple[int, int, int] | None

PAGE_LIMIT = 64 << 20
"""The largest ``report.html`` the page serves (bytes): more is not a report storyboard wrote."""


@dataclass(frozen=True)
class Served:
    """What the page serves of the last build: the backend's folder, the project's tree it is
    reached through (no symlink followed) and the files storyboard wrote there (their names
    inside the folder, from the build folder's marker)."""

    tree: Tree
    folder: Path
    names: frozenset[str]

    @classmethod
    def of(cls, workspace: Workspace) -> Served:
        from storyboard.build.state.safe import UnsafePath

        try:
            names = frozenset(workspace.out.owned())
        except (UnsafePath, OSError, ValueError):
            names = frozenset()  # the marker cannot be read now: nothing is served
        return cls(workspace.tree, workspace.output_dir, names)


class Watch:
    """Checks and builds a storyboard, again on each change of its inputs.

    Args:
        storyboard: the storyboard file.
        backend: ``preview`` or ``runware``.
        preview_scale: the previews' size, as a fraction of the film's.
        max_cost: refuse a paid build whose new charges would be above it (USD).
        jobs: takes built at once.
        build_dir: the build folder (default ``build/NAME``).
        stream: where messages go (standard error).
        sink: makes the sink of one build's progress on ``stream`` (the CLI passes its
            console; this package sits below the CLI and does not import it); default: none.
    """

    def __init__(
        self,
        storyboard: Path,
        *,
        backend: str = "preview",
        preview_scale: float = 0.25,
        max_cost: float | None = None,
        jobs: int = 4,
        build_dir: Path | None = None,
        stream: TextIO | None = None,
        sink: Callable[[TextIO], Sink] | None = None,
    ) -> None:
        self.storyboard = storyboard.absolute()
        self.backend = backend
        self.preview_scale = preview_scale
        self.max_cost = max_cost
        self.jobs = jobs
        self.build_dir = build_dir
        self.stream = stream or sys.stderr
        self.sink = sink or (lambda _stream: _Quiet())
        self.inputs: set[str] = {_real(self.storyboard)}
        self.seen: dict[str, Stat] = {}
        self.errors: list[str] = []
        self.refused = ""  # why the report of the last build is not shown
        self.folder: Path | None = None
        self.served: Served | None = None
        self.generation = 0
        self.builds = 0

    def say(self, text: str) -> None:
        self.stream.write(printable(text) + "\n")
        self.stream.flush()

    # -- one round ----------------------------------------------------------------------------

    def once(self) -> bool:
        """Check, then build and write the report; ``False`` when the storyboard has errors or
        the build failed (said on the stream)."""
        from storyboard import api
        from storyboard.build.depfile import dependencies
        from storyboard.core.errors import InputError, LateInputError, StoryboardError

        started = time.monotonic()
        self.seen = {path: _stat(path) for path in self.inputs}
        try:
            compiled = api.compile_storyboard(self.storyboard)
        except InputError as exc:
            if self._mid_save():
                return False  # what was read is gone: the loop checks the save again
            self.errors = [d.render() for d in exc.diagnostics]
            for line in self.errors:
                self.say(line)
            count = len(self.errors)
            self.say(
                f"{count} error{'s' if count != 1 else ''}: not built; watching for the next "
                "save (Ctrl-C stops)"
            )
            self._finished()
            return False
        # and the templates a prompt asked for that are not there (`ignore missing`, the
        # first of a list): one written there is read by the next round
        checked = compiled.checked
        inputs = {_real(p) for p in (*dependencies(checked), *checked.templates_named)}
        self.seen.update({p: _stat(p) for p in inputs - set(self.seen)})
        self.inputs = inputs | {_real(self.storyboard)}
        try:
            result = self._build()
        except LateInputError as exc:
            self.errors = [d.render() for d in exc.diagnostics] + [str(exc)]
        except InputError as exc:
            self.errors = [d.render() for d in exc.diagnostics]
        except StoryboardError as exc:
            self.errors = [f"storyboard: error: {exc}"]
        else:
            self.errors = []
            self.refused = self._write_report(result)
            if self.refused:
                self.say(self.refused)
            self.served = Served.of(result.workspace)
            self.folder = self.served.folder
            film = f"; film: {display_path(result.film)}" if result.film else ""
            state = "built" if result.ok else "built with failures"
            self.say(f"{state} in {time.monotonic() - started:.1f} s{film}")
            self._finished()
            return result.ok
        for line in self.errors:
            self.say(line)
        self.say("not built; watching for the next save (Ctrl-C stops)")
        self._finished()
        return False

    def _mid_save(self) -> bool:
        """Whether the files a round found wrong were a save in progress: an input has changed
        since the round read it, or one is empty and changes within :data:`SETTLE` seconds
        (an editor that writes a file in place empties it first, then writes it; read in
        between, it is an empty storyboard). A file left empty is reported after that wait."""
        deadline = time.monotonic() + SETTLE
        while not self.changed_since():
            empty = any((_stat(p) or (1,))[0] == 0 for p in self.inputs)
            if not empty or time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def _finished(self) -> None:
        self.builds += 1
        self.generation += 1  # the page reloads

    def _build(self) -> BuildResult:
        from storyboard.backends.factory import make_backend
        from storyboard.build.pipeline import build

        console = self.sink(self.stream)
        try:
            return build(
                self.storyboard,
                backend=make_backend(self.backend, preview_scale=self.preview_scale),
                jobs=self.jobs,
                max_cost=self.max_cost,
                build_dir=self.build_dir,
                wait=30.0,
                emit=console,
            )
        finally:
            console.close()

    def _write_report(self, result: BuildResult) -> str:
        """The report of this build, when the build did not write it again itself (the
        first build, or one that had nothing to do); why it was not written, or ``""``.

        A ``report.html`` storyboard wrote (the build folder's marker lists it) and that is
        still a regular file is left; any other file of that name, or a symlink, is not
        storyboard's: it is never written over (:meth:`BuildFolder.own` refuses it)."""
        from storyboard.build.state.safe import UnsafePath
        from storyboard.build.state.workspace import ProjectLock
        from storyboard.core.errors import StoryboardError
        from storyboard.exports.record import read_record, record_path
        from storyboard.report import REPORT_NAME, write_report

        workspace = result.workspace
        page = workspace.output_dir / REPORT_NAME
        try:
            if REPORT_NAME in workspace.out.owned(REPORT_NAME):
                found = workspace.tree.lstat(page)
                if found is not None and stat.S_ISREG(found.st_mode):
                    return ""
            with ProjectLock(workspace, wait=30.0):
                record = read_record(record_path(workspace.output_dir), workspace.tree.read_bytes)
                write_report(record, writer=workspace.out)
        except (UnsafePath, StoryboardError, OSError, ValueError) as exc:
            return f"{display_path(page)} was not written, and is not shown: {exc}"
        return ""

    # -- watching -----------------------------------------------------------------------------

    def changed_since(self) -> list[str]:
        """The inputs that are not as the last round found them."""
        return sorted(p for p in self.inputs if _stat(p) != self.seen.get(p))

    def wanted(self, path: str) -> bool:
        real = _real(Path(path))
        if real in self.inputs:
            return True
        return bool(self.errors) and Path(real).suffix.lower() in LOOKED_AT_WHILE_BROKEN

    def run(self, stop: threading.Event) -> None:
        """Build, then build again on every change until ``stop`` is set (or Ctrl-C)."""
        import watchfiles

        self.once()
        while not stop.is_set():
            changed = self.changed_since()  # while building, or before this watch began
            if changed:
                self._again(changed)
                continue
            watched = set(self.inputs)
            folders = sorted(
                {os.path.dirname(p) for p in watched if os.path.isdir(os.path.dirname(p))}
            )
            for changes in watchfiles.watch(
                *folders,
                watch_filter=lambda _change, path: self.wanted(path),
                stop_event=stop,
                recursive=False,
                debounce=800,
                step=80,
                rust_timeout=1000,
                yield_on_timeout=True,
            ):
                if not changes:  # a second without events: a save made before the watch
                    if self.changed_since():  # began (as the last build ended) is seen here
                        break
                    continue
                self._again(sorted({_real(Path(p)) for _, p in changes}))
                if self.inputs != watched or self.changed_since():
                    break  # other files to watch now, or a save came during the build

    def _again(self, changed: list[str]) -> None:
        names = ", ".join(display_path(Path(p)) for p in changed[:3])
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        self.say(f"{time.strftime('%H:%M:%S')} {names}{more} changed: checking")
        self.once()


def _real(path: Path | str) -> str:
    return os.path.realpath(path)


def _stat(path: str) -> Stat:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ino)


# -- the page -------------------------------------------------------------------------------

LIVE_JS = """// storyboard watch: reload this page when a build finishes.
(function () {
  var since = document.currentScript.getAttribute("data-since");
  var events = new EventSource("__storyboard/events?since=" + encodeURIComponent(since));
  events.addEventListener("build", function () { events.close(); location.reload(); });
})();
"""

WAITING = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>storyboard watch</title></head>
<body><p>The first build of {name} is not finished yet: this page reloads when it is.</p>
</body></html>
"""

NO_REPORT = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>storyboard watch</title></head>
<body><p>storyboard has no report of {name} it wrote to show.</p>
</body></html>
"""

BANNER = (
    '<div id="storyboard-errors" style="position:sticky;top:0;z-index:9;margin:0;'
    "padding:10px 16px;background:#fbe3e3;border-bottom:2px solid #b03a3a;"
    'font:13px/1.4 ui-monospace,monospace;white-space:pre-wrap">'
    "<strong>The storyboard does not build now; below is the last build.</strong>\n{errors}"
    "</div>"
)

REFUSED = (
    '<div id="storyboard-refused" style="position:sticky;top:0;z-index:9;margin:0;'
    "padding:10px 16px;background:#fbe3e3;border-bottom:2px solid #b03a3a;"
    'font:13px/1.4 ui-monospace,monospace;white-space:pre-wrap">'
    "<strong>The report of this build was not written, and no other is shown.</strong>\n{problem}"
    "</div>"
)


def make_app(watch: Watch) -> Starlette:
    """The report of the latest build, reloading itself, and the build folder's files."""

    async def page(request: Request) -> Response:
        html = await run_in_threadpool(_page, watch)
        return HTMLResponse(html)

    async def script(request: Request) -> Response:
        return Response(LIVE_JS, media_type="text/javascript")

    async def events(request: Request) -> Response:
        try:
            since = int(request.query_params.get("since", "-1"))
        except ValueError:
            since = -1

        async def stream() -> AsyncIterator[str]:
            yield "retry: 1000\n\n"
            waited = 0.0
            while True:
                if watch.generation != since:
                    yield f"event: build\ndata: {watch.generation}\n\n"
                    return
                await asyncio.sleep(0.2)
                waited += 0.2
                if waited >= 15:  # a comment now and then: a dead connection is noticed
                    waited = 0.0
                    yield ": waiting\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def files(request: Request) -> Response:
        served = watch.served
        if served is None:
            return Response("not built yet\n", status_code=404)
        name = request.path_params["name"]
        fd = await run_in_threadpool(_open, served, name)
        if fd is None:
            return Response("not a file of the build\n", status_code=404)
        return open_file_response(fd, request, name=name)

    return Starlette(
        routes=[
            Route("/", page),
            Route("/__storyboard/live.js", script),
            Route("/__storyboard/events", events),
            Route("/{name:path}", files),
        ]
    )


def _page(watch: Watch) -> str:
    """The page: the report of the last build (only one storyboard wrote, read without
    following a link), the errors of the storyboard now over it, and the reloading script."""
    from storyboard.report import REPORT_NAME

    # relative: the page is at the address storyboard printed, /TOKEN/
    tag = f'<script src="__storyboard/live.js" data-since="{watch.generation}"></script>'
    served = watch.served
    html = _open_text(served, REPORT_NAME) if served is not None else None
    if html is None:
        html = (WAITING if served is None else NO_REPORT).format(name=escape(watch.storyboard.name))
    banners = ""
    if watch.errors:
        banners += BANNER.format(errors=escape("\n".join(watch.errors)))
    if watch.refused:
        banners += REFUSED.format(problem=escape(watch.refused))
    if banners:
        at = html.find(">", html.find("<body")) + 1
        html = html[:at] + banners + html[at:]
    at = html.rfind("</body>")
    return html[:at] + tag + html[at:] if at >= 0 else html + tag


def _open(served: Served, name: str) -> int | None:
    """A descriptor of the file ``name`` of the served folder, open for reading, or ``None``
    when it is not a regular file storyboard wrote there (a symlink anywhere from the project
    down to it, a name the marker does not list, a hidden name, a NUL...)."""
    if any(part.startswith(".") for part in name.split("/")):
        return None  # storyboard's bookkeeping (the marker, the no-op note): never served
    return open_listed(served.tree, served.folder, name, served.names)


def _open_text(served: Served, name: str) -> str | None:
    """The UTF-8 text of the file ``name`` (as :func:`_open`), at most :data:`PAGE_LIMIT`
    bytes; ``None`` otherwise."""
    fd = _open(served, name)
    if fd is None:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(PAGE_LIMIT + 1)
        if len(data) > PAGE_LIMIT:
            return None
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
