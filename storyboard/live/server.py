"""A local page server: uvicorn on ``127.0.0.1`` in a thread, behind a guard.

Place in the pipeline: none; ``storyboard watch`` and ``storyboard review`` serve their pages
through it. It binds the loopback address only (never a name a resolver could answer with
another address), on a free port unless one is asked for.

The guard (:class:`Guard`, an ASGI middleware) refuses, with ``403`` and before the page's
code runs, every request that is not the page's own:

- a ``Host`` other than ``127.0.0.1:PORT`` or ``localhost:PORT`` (a DNS rebinding attack
  reaches a loopback server under another site's name);
- an ``Origin`` other than the page's (``http://127.0.0.1:PORT``), and a request that changes
  anything (any method but ``GET`` and ``HEAD``) without one;
- a ``Sec-Fetch-Site`` other than ``same-origin`` or ``none`` (what a browser says of a
  request another site, even another port of this machine, makes), but for a top-level
  ``GET`` of the page's own tokened address (:meth:`Guard.entry`: the redirect that
  ``--open`` gives the browser, :mod:`storyboard.live.browser`);
- with a token (``review``), a path that does not start with ``/TOKEN/`` (compared in constant
  time): the page's address is printed once, in the terminal that started it.

Every answer says ``Cache-Control: no-store``, ``Referrer-Policy: no-referrer`` and that the
page may not be framed by another (``frame-ancestors 'none'``), so no other site can put its
buttons under a reader's click.

A file of a build is answered from the descriptor its page opened it with
(:func:`open_file_response`): through the project's
:class:`~storyboard.build.state.safe.Tree`, no symlink followed, only a regular file; no path
is opened again after those checks.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Collection
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import uvicorn
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from storyboard.build.state.safe import Tree

HOST = "127.0.0.1"
SAFE_METHODS = frozenset({"GET", "HEAD"})
SAME_SITE = frozenset({"same-origin", "none"})


def new_token() -> str:
    """A random token for a page's address (128 bits)."""
    return secrets.token_urlsafe(16)


class Guard:
    """Refuses the requests that are not the page's own (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, port: int, token: str | None = None) -> None:
        self.app = app
        self.port = port
        self.token = token
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        self.origins = {f"http://{host}" for host in self.hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = self.problem(scope, headers)
        if problem is not None:
            await _refuse(send, problem)
            return
        if self.token is not None:
            prefix = f"/{self.token}"
            scope = dict(scope)
            scope["path"] = scope["path"][len(prefix) :] or "/"
            scope["root_path"] = scope.get("root_path", "") + prefix
        await self.app(scope, receive, _with_headers(send))

    def problem(self, scope: Scope, headers: dict[str, str]) -> str | None:
        """Why a request is refused, or ``None``."""
        if headers.get("host", "") not in self.hosts:
            return "refused: this server answers only to 127.0.0.1 and localhost"
        origin = headers.get("origin")
        method = str(scope.get("method", "GET")).upper()
        if origin is not None and origin not in self.origins:
            return "refused: a request from another origin"
        if origin is None and method not in SAFE_METHODS:
            return "refused: a change must come from the page itself (no Origin)"
        site = headers.get("sec-fetch-site")
        if site is not None and site not in SAME_SITE and not self.entry(scope, headers):
            return f"refused: a request from another site (Sec-Fetch-Site: {site})"
        if self.token is not None:
            path = str(scope.get("path", ""))
            given = path[1:].split("/", 1)[0] if path.startswith("/") else ""
            if not secrets.compare_digest(given.encode(), self.token.encode()):
                return "refused: this address needs the token storyboard printed"
            if path == f"/{given}":
                return "refused: the page is at the address storyboard printed, with a final /"
        return None

    def entry(self, scope: Scope, headers: dict[str, str]) -> bool:
        """Whether the request is a browser's top-level ``GET`` of the page's own tokened
        address (``/TOKEN/``), as a link or a redirect from another site makes it: the one
        request from another site let through, since the redirect file ``--open`` writes
        (:mod:`storyboard.live.browser`) is a ``file:`` page, another site to the browser.
        It needs the token, as every request does; only the page's first document is
        answered (its own requests are same-origin), and never in a frame of another site."""
        if self.token is None or str(scope.get("method", "")).upper() != "GET":
            return False
        if headers.get("sec-fetch-mode") != "navigate":
            return False
        if headers.get("sec-fetch-dest") != "document":
            return False
        return secrets.compare_digest(
            str(scope.get("path", "")).encode(), f"/{self.token}/".encode()
        )


async def _refuse(send: Send, message: str) -> None:
    body = (message + "\n").encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *_SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


_SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
]


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in _SECURITY_HEADERS if k not in names]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


# -- serving a file storyboard opened -------------------------------------------------------

_RANGE = re.compile(r"\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*", re.IGNORECASE)
CHUNK = 1 << 16


def open_file_response(
    fd: int, request: Request, *, name: str, media_type: str | None = None
) -> Response:
    """The answer with the regular file open at ``fd`` (which it closes): served from that
    descriptor, so no path is opened again between the checks that opened it and the answer.

    Whole, or the one byte range a ``Range`` header asks (``206``, what a ``<video>`` seeks
    with); a range past the end is ``416``; several ranges, or a header that cannot be read,
    are answered with the whole file (as a server may). ``name`` gives the media type.
    """
    try:
        size = os.fstat(fd).st_size
        headers = {"accept-ranges": "bytes"}
        status, (start, end) = 200, (0, size)
        if "if-range" not in request.headers:  # no validators are sent: the whole file
            wanted = _byte_range(request.headers.get("range", ""), size)
            if wanted is not None and wanted[0] >= size:
                os.close(fd)
                return Response(
                    "range not satisfiable\n", status_code=416,
                    headers={"content-range": f"bytes */{size}"}, media_type="text/plain",
                )  # fmt: skip
            if wanted is not None:
                status, (start, end) = 206, wanted
                headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
        headers["content-length"] = str(end - start)
        kind = media_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    except BaseException:
        os.close(fd)
        raise
    body = _nothing() if request.method == "HEAD" else _chunks(fd, start, end)
    return _OpenFile(fd, body, status_code=status, headers=headers, media_type=kind)


def open_listed(tree: Tree, folder: Path, name: str, listed: Collection[str]) -> int | None:
    """A descriptor of the file ``name`` (``/``-separated) in ``folder``, open for reading,
    or ``None`` unless ``name`` is in ``listed`` and a regular file reached through ``tree``
    with no symlink anywhere on the way (an empty, ``.`` or ``..`` part, or a NUL, is no
    name)."""
    from storyboard.build.state.safe import UnsafePath

    parts = name.split("/")
    if "\x00" in name or any(p in ("", ".", "..") for p in parts) or name not in listed:
        return None
    try:
        return tree.open(folder.joinpath(*parts), os.O_RDONLY)
    except (UnsafePath, OSError, ValueError):
        return None


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """``(start, end)`` (end excluded) of the one range ``header`` asks of a file of ``size``
    bytes (a start at or past ``size``: none of it can be given); ``None``: the whole file."""
    found = _RANGE.fullmatch(header)
    if found is None or not (found[1] or found[2]):
        return None
    first, last = found[1], found[2]
    try:
        if not first:  # the last N bytes
            count = int(last)
            return (max(0, size - count), size) if count else (size, size)
        start = int(first)
        if last and int(last) < start:
            return None  # not a range: ignored
        return start, min(size, int(last) + 1) if last else size
    except ValueError:  # more digits than int() reads (4300): a header that cannot be read
        return None


class _OpenFile(StreamingResponse):
    """A streamed answer that closes its file's descriptor once it is sent (or abandoned)."""

    def __init__(
        self, fd: int, body: AsyncIterator[bytes], *, status_code: int, headers: dict[str, str],
        media_type: str,
    ) -> None:  # fmt: skip
        self.fd = fd
        super().__init__(body, status_code=status_code, headers=headers, media_type=media_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            os.close(self.fd)


async def _chunks(fd: int, start: int, end: int) -> AsyncIterator[bytes]:
    while start < end:
        chunk = await run_in_threadpool(os.pread, fd, min(CHUNK, end - start), start)
        if not chunk:
            return  # the file shrank meanwhile: the answer ends short
        start += len(chunk)
        yield chunk


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(64)
    return sock


class LocalServer:
    """An ASGI app served on ``127.0.0.1`` from a daemon thread, behind a :class:`Guard`.

    Args:
        make_app: given the port bound, the app to serve (the guard goes around it).
        port: the port (0: a free one).
        token: the path prefix every request needs (``None``: none).

    Raises:
        OSError: the port cannot be bound (in use...).
    """

    def __init__(self, app: ASGIApp, *, port: int = 0, token: str | None = None) -> None:
        self._sock = _bind(port)
        self.port = int(self._sock.getsockname()[1])
        self.token = token
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        config = uvicorn.Config(
            Guard(app, port=self.port, token=token),
            http="h11",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address (with its token)."""
        return f"http://{HOST}:{self.port}/" + (f"{self.token}/" if self.token else "")

    def start(self, timeout: float = 10.0) -> LocalServer:
        """Start serving; return once the server accepts connections."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True,
            name="storyboard-page",
        )  # fmt: skip
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the page server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
