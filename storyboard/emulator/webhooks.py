"""Outbound deliveries: webhook POSTs and ``uploadEndpoint`` PUTs of finished results (§5).

Both are asynchronous to the job and retried on a non-2xx answer or a connection error, with a
doubling back-off, up to ``webhook_attempts`` tries. Every attempt is reported to ``record``
(for ``/_emulator/deliveries`` and the stats); URLs are logged without their query string,
where webhook and presigned-upload credentials live.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

DeliveryKind = Literal["webhook", "upload"]


@dataclass(frozen=True)
class Attempt:
    """One try at a delivery."""

    kind: DeliveryKind
    url: str  # without query string
    task_uuid: str
    attempt: int
    status: int | None  # HTTP status, or None when the connection failed
    ok: bool
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "url": self.url,
            "taskUUID": self.task_uuid,
            "attempt": self.attempt,
            "status": self.status,
            "ok": self.ok,
            "error": self.error,
        }


def public_url(url: str) -> str:
    """``url`` without its query string and fragment (they may hold credentials)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


async def deliver(
    kind: DeliveryKind,
    url: str,
    *,
    task_uuid: str,
    body: bytes,
    content_type: str,
    attempts: int,
    backoff_s: float,
    timeout_s: float,
    record: Callable[[Attempt], None],
) -> bool:
    """POST (webhook) or PUT (upload) ``body`` to ``url`` until a 2xx answer; True on success."""
    method = "POST" if kind == "webhook" else "PUT"
    headers = {"Content-Type": content_type, "User-Agent": "storyboard-emulator"}
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        for attempt in range(1, attempts + 1):
            try:
                response = await client.request(method, url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                record(
                    Attempt(
                        kind, public_url(url), task_uuid, attempt, None, False, type(exc).__name__
                    )
                )
            else:
                ok = 200 <= response.status_code < 300
                record(Attempt(kind, public_url(url), task_uuid, attempt, response.status_code, ok))
                if ok:
                    return True
            if attempt < attempts:
                await asyncio.sleep(backoff_s * 2 ** (attempt - 1))
    return False
