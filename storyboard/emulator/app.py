"""The emulator's HTTP face: a Starlette ASGI app.

Routes:

- ``POST /v1``: the Runware task API (:mod:`dispatch`); other methods answer 405.
- ``GET /video/...``, ``/image/...``, ``/media/...``: the files behind result and upload URLs.
- ``/_emulator/...``: control for tests and CI (no auth; the server binds to loopback):
  ``GET ledger``, ``GET stats``, ``GET deliveries``, ``POST reset``,
  ``GET|POST|DELETE faults`` (POST ``{"spec": "...", "seed": 7, "mode": "replace"|"add"}``),
  ``POST remote?url=URL`` (raw body = the bytes of that remote URL),
  ``GET|POST config`` (POST a JSON object of settings to change).

A dropped connection is emulated by starting a response whose body never comes and closing
the connection: the client gets no answer (httpx raises ``RemoteProtocolError``). A trickled
answer or file is streamed one byte at a time. Result files obey their job's faults
(``token-url``, ``redirect``, ``download-trickle``; ``corrupt-result`` changed the file itself).
Answers are JSON as Python writes it: a ``bad-cost`` fault's ``NaN`` goes out as ``NaN``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from storyboard.emulator.config import config_from_json, config_to_json
from storyboard.emulator.core import Emulator
from storyboard.emulator.dispatch import handle
from storyboard.emulator.faults import parse_spec
from storyboard.emulator.wire import ApiError


class ConnectionDropped(ConnectionResetError):
    """Raised inside the app to make the server close a connection without an answer."""


class _Dropped(Response):
    """Sends the status line and headers of a body that never comes, then breaks off."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        raise ConnectionDropped("emulated dropped connection")


class _LaxJSON(JSONResponse):
    """JSON as Python's ``json`` writes it, ``NaN`` and ``Infinity`` included (a faulty
    service's answer; the normal answers never hold them)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def _one_byte_at_a_time(data: bytes, delay: float) -> AsyncIterator[bytes]:
    for index in range(len(data)):
        await asyncio.sleep(delay)
        yield data[index : index + 1]


def _trickled(data: bytes, status: int, media_type: str, delay: float) -> Response:
    return StreamingResponse(
        _one_byte_at_a_time(data, delay),
        status,
        headers={"content-length": str(len(data))},
        media_type=media_type,
    )


def create_app(emulator: Emulator) -> Starlette:
    """The ASGI app serving ``emulator``."""

    def base_url(request: Request) -> str:
        public = emulator.config.public_url
        return public.rstrip("/") if public else f"{request.url.scheme}://{request.url.netloc}"

    async def v1(request: Request) -> Response:
        if request.method != "POST":
            error = ApiError(
                "methodNotAllowed", f"{request.method} is not allowed; use POST", status=405
            )
            return JSONResponse({"errors": [error.to_json()]}, 405, headers={"Allow": "POST"})
        try:
            body = await request.body()
        except ClientDisconnect:  # the client went away mid-request (killed): nothing to do
            return Response(status_code=400)
        reply = await handle(emulator, body, request.headers, base_url(request))
        if reply.delay > 0:
            await asyncio.sleep(reply.delay)
        if reply.drop:
            return _Dropped()
        if reply.trickle > 0:
            raw = reply.raw if reply.raw is not None else _LaxJSON(reply.body).body
            return _trickled(bytes(raw), reply.status, "application/json", reply.trickle)
        if reply.raw is not None:
            return Response(reply.raw, reply.status, media_type="application/json")
        return _LaxJSON(reply.body, reply.status)

    def served(outcome: str) -> None:
        emulator.counters.count("downloads", outcome)

    async def files(request: Request) -> Response:
        media = emulator.store.by_route(request.url.path)
        if media is None or (media.expires_at is not None and time.time() > media.expires_at):
            served("missing")
            return JSONResponse({"error": "not found"}, 404)
        if not media.path.exists():
            served("missing")
            return JSONResponse({"error": "not found"}, 404)
        job = emulator.job_of_result(media.uuid)
        if job is not None:
            if job.token is not None and request.query_params.get("token") != job.token:
                served("forbidden")
                return JSONResponse({"error": "a valid token is required"}, 403)
            redirect = job.rule("redirect")
            if redirect is not None and request.query_params.get("hop") != "1":
                served("redirected")
                return RedirectResponse(
                    _redirect_target(request, redirect.port, redirect.host), 302
                )
            trickle = job.rule("download-trickle")
            if trickle is not None:
                served("served")
                data = await asyncio.to_thread(Path(media.path).read_bytes)
                return _trickled(data, 200, media.content_type, trickle.delay)
        served("served")
        return FileResponse(media.path, media_type=media.content_type)

    async def ledger(request: Request) -> Response:
        return JSONResponse(emulator.ledger_json())

    async def stats(request: Request) -> Response:
        return JSONResponse(emulator.stats())

    async def deliveries(request: Request) -> Response:
        return JSONResponse({"attempts": emulator.deliveries()})

    async def reset(request: Request) -> Response:
        emulator.reset()
        return JSONResponse({"reset": True})

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            emulator.clear_faults()
        elif request.method == "POST":
            try:
                body = await request.json()
                rules, seed = parse_spec(str(body.get("spec", "")))
                seed = body.get("seed", seed)
                if body.get("mode", "replace") == "add":
                    for rule in rules:
                        emulator.faults.add(rule)
                else:
                    emulator.set_faults(rules, seed=seed)
            except (ValueError, TypeError, AttributeError) as exc:
                return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse({"rules": [rule.to_json() for rule in emulator.faults.rules()]})

    async def remote(request: Request) -> Response:
        url = request.query_params.get("url")
        if not url:
            return JSONResponse({"error": "give the remote URL as ?url=..."}, 400)
        data = await request.body()
        emulator.register_remote(url, data)
        return JSONResponse({"url": url, "bytes": len(data)})

    async def config(request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = await request.json()
                if not isinstance(changes, dict):
                    raise ValueError("send a JSON object of settings")
                config_from_json(emulator.config, changes)  # check before applying
                emulator.configure(**changes)
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(config_to_json(emulator.config))

    async def index(request: Request) -> Response:
        root = base_url(request)
        return JSONResponse(
            {
                "service": "storyboard Runware emulator",
                "RUNWARE_BASE_URL": f"{root}/v1",
                "control": [f"{root}/_emulator/{name}" for name in _CONTROL],
            }
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await emulator.cancel_tasks()

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    routes = [
        Route("/v1", v1, methods=methods),
        Route("/v1/", v1, methods=methods),
        Route("/video/{rest:path}", files, methods=["GET", "HEAD"]),
        Route("/image/{rest:path}", files, methods=["GET", "HEAD"]),
        Route("/media/{rest:path}", files, methods=["GET", "HEAD"]),
        Route("/_emulator", index, methods=["GET"]),
        Route("/_emulator/ledger", ledger, methods=["GET"]),
        Route("/_emulator/stats", stats, methods=["GET"]),
        Route("/_emulator/deliveries", deliveries, methods=["GET"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/remote", remote, methods=["POST"]),
        Route("/_emulator/config", config, methods=["GET", "POST"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _redirect_target(request: Request, port: int | None, host: str | None) -> str:
    """Where a ``redirect`` fault sends a result URL (the same path, query kept)."""
    query = request.url.query
    if port is not None:
        return f"http://127.0.0.1:{port}{request.url.path}" + (f"?{query}" if query else "")
    if host is not None:
        return f"https://{host}{request.url.path}" + (f"?{query}" if query else "")
    return str(request.url.include_query_params(hop="1"))


_CONTROL = ("ledger", "stats", "deliveries", "reset", "faults", "remote", "config")
