"""The Runware client: submit, upload, poll and download, over one ``httpx.AsyncClient``.

Its place: the backend (a later issue) turns a compiled take into calls on
:class:`RunwareClient`; the client speaks the protocol (:mod:`.wire`), retries what is
safe to retry, and raises the typed errors of :mod:`.errors`.

Idempotency is by construction. The caller mints a task's UUID and writes it down (the
build journal) before :meth:`RunwareClient.submit`; every retry re-sends the same UUID, and
a ``conflictTaskUUID`` answer to a retry (or to a first send on resume) means "already
accepted", so the client goes on to polling. It never submits a task under a new UUID::

    submit(request, uuid) --POST [videoInference uuid]--> ACK ------------------+
        | timeout, reset, 408/429/5xx, malformed body: same body again,          |
        | after 1, 2, 4, 8, 16 s (+ jitter)                                      |
        +--> conflictTaskUUID on a retry: accepted earlier -------------------->-+
    wait(uuid) --shared Poller: POST [getResponse uuid, ...]--> [VideoResult, ...]
    download(result, path) --GET videoURL, no key--> Download(path, sha256, size)

The API key comes from the caller or ``RUNWARE_API_KEY``; it is sent only as the
``Authorization: Bearer`` header of requests to the API URL (``RUNWARE_BASE_URL``, default
``https://api.runware.ai/v1``) and scrubbed from every message, repr and log record.
Tests inject ``transport=`` (``httpx.MockTransport``) and fake ``sleep``/``clock``/``rng``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

import storyboard.backends.runware.wire as wire
from storyboard.backends.runware.download import (
    DEFAULT_MAX_BYTES,
    Destinations,
    Download,
    Resolver,
    fetch_video,
    network_reason,
)
from storyboard.backends.runware.errors import (
    RETRYABLE_STATUSES,
    RunwareAuthError,
    RunwareConnectionError,
    RunwareDownloadError,
    RunwareError,
    RunwareServerError,
    RunwareTimeoutError,
    RunwareValidationError,
    error_class_for,
    error_from_api,
)
from storyboard.backends.runware.media import (
    FileSpec,
    JsonPath,
    data_uri,
    find_local_files,
    guess_mime,
    replace_values,
)
from storyboard.backends.runware.poll import Poller, PollPolicy
from storyboard.backends.runware.redact import (
    install_log_filter,
    redact_url,
    register_secret,
    register_url_secrets,
)
from storyboard.backends.runware.wire import Envelope, MalformedBody, VideoResult
from storyboard.core import settings

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_DOWNLOAD_DEADLINE",
    "DEFAULT_REQUEST_DEADLINE",
    "DOWNLOAD_DEADLINE_ENV",
    "REQUEST_DEADLINE_ENV",
    "RetryPolicy",
    "RunwareClient",
    "Submission",
]

logger = logging.getLogger("storyboard.backends.runware")

API_KEY_ENV = "RUNWARE_API_KEY"
BASE_URL_ENV = "RUNWARE_BASE_URL"
DEFAULT_BASE_URL = "https://api.runware.ai/v1"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=15.0)
#: Seconds one POST to the API may take in all, connection and whole answer included
#: (httpx's timeouts are per read: an answer trickling a byte at a time never trips them).
REQUEST_DEADLINE_ENV = settings.REQUEST_DEADLINE.name
DEFAULT_REQUEST_DEADLINE = settings.REQUEST_DEADLINE.default
#: Seconds one download attempt of a result may take in all (a 15 s 1080p clip is tens of MB).
DOWNLOAD_DEADLINE_ENV = settings.DOWNLOAD_DEADLINE.name
DEFAULT_DOWNLOAD_DEADLINE = settings.DOWNLOAD_DEADLINE.default
_CONFLICT = "conflicttaskuuid"
_USER_AGENT = "storyboard-runware-client"

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How a request that failed in a retryable way is sent again (same task UUID).

    The n-th retry waits ``min(max_delay, base_delay * multiplier ** (n - 1))`` plus a
    random ``0..jitter`` seconds, or the server's ``Retry-After`` if longer (capped at
    ``max_retry_after``).

    A request that could not even connect (refused, the name not resolved: nothing of it
    was written) is tried at most ``connect_attempts`` times while no attempt got further:
    a closed port or a wrong ``RUNWARE_BASE_URL`` fails in seconds, not after every retry.

    Attributes:
        max_attempts: sends in all, the first included.
        connect_attempts: sends in all while every one failed to connect.
        base_delay: seconds before the first retry.
        multiplier: growth of the delay per retry.
        max_delay: the delay's cap before jitter.
        jitter: the most random seconds added to each delay.
        max_retry_after: the most a ``Retry-After`` header can make the client wait.
    """

    max_attempts: int = 6
    connect_attempts: int = 3
    base_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 30.0
    jitter: float = 1.0
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.connect_attempts < 1:
            raise ValueError("max_attempts and connect_attempts must be >= 1")

    def delay(self, retry: int, random_unit: float, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based); ``random_unit`` in [0, 1)."""
        backoff = min(self.max_delay, self.base_delay * self.multiplier ** (retry - 1))
        backoff += self.jitter * random_unit
        if retry_after is not None:
            backoff = max(backoff, min(retry_after, self.max_retry_after))
        return backoff


@dataclass(frozen=True)
class Submission:
    """A task the service holds.

    Attributes:
        task_uuid: its UUID.
        attempts: how many sends it took.
        already_accepted: the service answered ``conflictTaskUUID``: an earlier send (a
            retry's predecessor, or a previous run on resume) had been accepted.
    """

    task_uuid: str
    attempts: int
    already_accepted: bool


class RunwareClient:
    """An async client of the Runware API for ``videoInference`` tasks.

    Use it as ``async with RunwareClient() as client:`` (or call :meth:`aclose`).

    Args:
        api_key: the API key; default ``RUNWARE_API_KEY`` from ``env``.
        base_url: the URL every task is POSTed to; default ``RUNWARE_BASE_URL`` from
            ``env``, else ``https://api.runware.ai/v1``.
        transport: an ``httpx.AsyncBaseTransport`` (``httpx.MockTransport`` in tests).
        timeout: httpx's timeouts (connect, and each read: not the whole request).
        request_deadline: seconds one POST may take in all; default
            ``RUNWARE_REQUEST_DEADLINE`` from ``env``, else 120.
        download_deadline: seconds one download attempt may take in all; default
            ``RUNWARE_DOWNLOAD_DEADLINE`` from ``env``, else 600.
        resolver: ``async (host, port) -> [address, ...]``, the name resolver downloads
            check addresses with (see :class:`.Destinations`); the system's by default.
        retry: how submits, uploads and downloads are retried.
        poll: how accepted tasks are polled.
        upload_cache: a mapping ``sha256 hex -> uploaded UUID`` the caller keeps (and may
            persist); read before uploading and filled after. Keep one per account/URL.
        sleep, clock, rng: ``asyncio.sleep``, ``time.monotonic`` and ``random.random``, or
            fakes for tests.
        env: where to read the variables (default ``os.environ``).

    Raises:
        RunwareAuthError: no API key, or one with whitespace or control characters inside.
        ValueError: the base URL is not an http(s) URL, or a deadline is not a positive
            number of seconds.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        request_deadline: float | None = None,
        download_deadline: float | None = None,
        resolver: Resolver | None = None,
        upload_cache: MutableMapping[str, str] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        env: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if env is None else env
        self._api_key = _checked_key(api_key if api_key is not None else env.get(API_KEY_ENV))
        register_secret(self._api_key)
        install_log_filter()
        self.base_url = (base_url or env.get(BASE_URL_ENV) or DEFAULT_BASE_URL).strip()
        register_url_secrets(self.base_url)  # a key in its query or userinfo is a secret too
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError(
                f"{BASE_URL_ENV} must be an http(s) URL, not {redact_url(self.base_url)!r}"
            )
        self.request_deadline = _deadline(request_deadline, env, settings.REQUEST_DEADLINE)
        self.download_deadline = _deadline(download_deadline, env, settings.DOWNLOAD_DEADLINE)
        self.destinations = Destinations.for_base_url(self.base_url, resolver)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)
        self._poller = Poller(self._post, poll, sleep=sleep, clock=clock)
        self._uploads: dict[str, str] = {}
        self._upload_cache = upload_cache
        self._upload_locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"RunwareClient(base_url={redact_url(self.base_url)!r}, api_key=[REDACTED])"

    async def __aenter__(self) -> RunwareClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop polling (pending waits fail, ``may_be_running``) and close the connections."""
        await self._poller.aclose()
        await self._http.aclose()

    @property
    def poll_policy(self) -> PollPolicy:
        """The polling cadence and deadline in use."""
        return self._poller.policy

    # -- tasks -----------------------------------------------------------------------------

    async def submit(
        self, request: Mapping[str, Any], task_uuid: str, *, resumed: bool = False
    ) -> Submission:
        """Send a ``videoInference`` task; return once the service holds it.

        The request is sent with ``deliveryMethod: "async"`` and ``includeCost: true``.
        Timeouts, dropped connections, 408/429/5xx and malformed answers are retried with
        the same UUID; ``conflictTaskUUID`` on a retry means an earlier send was accepted.

        Args:
            request: the task's fields as JSON (local files already replaced by uploads).
            task_uuid: a UUID the caller minted and recorded before this call.
            resumed: the task may have been sent before (a resumed build): a
                ``conflictTaskUUID`` answer to the first send then means "accepted" too.

        Raises:
            RunwareError: the typed failure. ``may_be_running`` is True when an earlier
                send may have been accepted: poll the UUID (``resumed=True``), never
                resubmit under a new one. ``not_sent`` is True when no attempt of this call
                connected (nothing of it was written; ``may_be_running`` is then
                ``resumed``).
            ValueError: ``task_uuid`` is not a UUID, or the request is not JSON.
        """
        _check_uuid(task_uuid)
        body = wire.encode([wire.video_task(request, task_uuid)])
        ambiguous = resumed  # the service may hold the task
        reached = False  # some byte of some attempt was written

        async def attempt(number: int) -> Submission:
            nonlocal ambiguous, reached
            try:
                envelope = await self._post(body, "submit")
                return self._read_submission(envelope, task_uuid, number, ambiguous)
            except RunwareError as exc:
                if not exc.not_sent:
                    reached = True
                    ambiguous = ambiguous or exc.retryable
                raise

        try:
            submission = await self._retrying(attempt, f"submit of task {task_uuid}")
        except RunwareError as exc:
            if not reached:  # nothing of it left this machine, this time
                raise exc.evolve(
                    task_uuid=task_uuid, not_sent=True, may_be_running=resumed
                ) from exc
            # a refusal of the request itself is final; one raised for a 408/429/5xx status
            # (retryable: the status says so) is not, after a send that may have been accepted
            if not ambiguous or (isinstance(exc, RunwareValidationError) and not exc.retryable):
                raise exc.evolve(task_uuid=task_uuid, not_sent=False) from exc
            raise exc.evolve(
                f"{exc.message}; task {task_uuid} may have reached Runware and may be billed: "
                "the next build asks for it again by this task UUID and never pays for it "
                "twice",
                task_uuid=task_uuid,
                may_be_running=True,
                not_sent=False,
            ) from exc
        logger.info(
            "task %s accepted after %d attempt(s)%s",
            task_uuid,
            submission.attempts,
            " (conflictTaskUUID: sent before)" if submission.already_accepted else "",
        )
        return submission

    def _read_submission(
        self, envelope: Envelope, task_uuid: str, attempt: int, sent_before: bool
    ) -> Submission:
        status = envelope.status_code
        errors = envelope.errors_for(task_uuid)
        if not errors:  # a conflict that names no task is about the one task sent
            errors = [
                e for e in envelope.unattributed_errors() if (e.code or "").lower() == _CONFLICT
            ]
        for error in errors:
            if (error.code or "").lower() == _CONFLICT:
                if sent_before or attempt > 1:
                    return Submission(task_uuid, attempt, already_accepted=True)
                raise RunwareValidationError(
                    f"task UUID {task_uuid} was already used by another request "
                    "(conflictTaskUUID); this request was refused and not charged, and the "
                    "next build sends it under a new task UUID",
                    task_uuid=task_uuid,
                    code=error.code,
                    status_code=status,
                    parameter=error.parameter or "taskUUID",
                )
            raise error.to_exception(status, "submit")
        if envelope.items_for(task_uuid) or (status < 400 and not envelope.errors):
            return Submission(task_uuid, attempt, already_accepted=False)  # ACK, or {"data": []}
        stray = envelope.unattributed_errors() or list(envelope.errors)
        if stray:
            raise stray[0].to_exception(status, "submit").evolve(task_uuid=task_uuid)
        raise error_class_for(None, status)(
            f"Runware submit failed for task {task_uuid}: HTTP {status} without details",
            task_uuid=task_uuid,
            status_code=status,
        )

    async def wait(
        self,
        task_uuid: str,
        *,
        number_results: int = 1,
        deadline: float | None = None,
        on_progress: Callable[[str, float | None], None] | None = None,
        duration: float | None = None,
    ) -> list[VideoResult]:
        """Poll an accepted task until its videos are ready (see :class:`.Poller`);
        ``on_progress`` is told how far it is when an answer says.

        Concurrent waits share one poll loop: each round is one POST for all of them.
        ``duration`` (seconds of video the task makes) helps schedule the polls.

        Raises:
            RunwareError: a generation failed (``may_be_running`` False), or polling failed
                in a way it cannot outlive (``may_be_running`` True).
            RunwareTimeoutError: the deadline passed; the task may still run and be billed.
        """
        return await self._poller.wait(
            task_uuid,
            number_results=number_results,
            deadline=deadline,
            on_progress=on_progress,
            duration=duration,
        )

    async def run(
        self,
        request: Mapping[str, Any],
        task_uuid: str,
        *,
        resumed: bool = False,
        deadline: float | None = None,
    ) -> list[VideoResult]:
        """:meth:`submit` then :meth:`wait` for the request's ``numberResults`` videos."""
        await self.submit(request, task_uuid, resumed=resumed)
        number = request.get("numberResults", 1)
        return await self.wait(
            task_uuid, number_results=number if isinstance(number, int) else 1, deadline=deadline
        )

    # -- uploads ---------------------------------------------------------------------------

    async def upload(self, source: bytes | Path, *, mime: str | None = None) -> str:
        """Upload an image (``imageUpload``) or other media (``mediaStorage``); return its UUID.

        The same bytes are uploaded once: their sha256 maps to the UUID in memory and in
        the caller's ``upload_cache``. A file larger than the model takes (images 10 MB,
        videos 200 MB) is refused before it is read.

        Args:
            source: the bytes, or a local file.
            mime: the media type; default: sniffed from the bytes, then the file name.
        """
        name = source.name if isinstance(source, Path) else None
        if isinstance(source, Path):
            await asyncio.to_thread(_check_upload_size, source, mime)
        data = await asyncio.to_thread(source.read_bytes) if isinstance(source, Path) else source
        digest = hashlib.sha256(data).hexdigest()
        lock = self._upload_locks.setdefault(digest, asyncio.Lock())
        async with lock:  # two takes sharing a picture upload it once
            known = self._uploads.get(digest)
            if known is None and self._upload_cache is not None:
                known = self._upload_cache.get(digest)
            if known is None:
                kind = mime or guess_mime(data, name)
                uri = data_uri(data, kind)
                label = f"upload of {name or 'data'} (sha256 {digest[:12]})"
                task_uuids = [str(uuid.uuid4())]  # retries re-send it; a conflict adds one
                known = await self._retrying(
                    lambda _: self._upload_once(uri, kind, task_uuids), label
                )
                logger.info("uploaded %s as %s", name or f"sha256 {digest[:12]}", known)
            self._uploads[digest] = known
            if self._upload_cache is not None:
                self._upload_cache[digest] = known
            return known

    async def _upload_once(self, uri: str, mime: str, task_uuids: list[str]) -> str:
        """Send one upload under ``task_uuids[-1]``. A ``conflictTaskUUID`` answer means
        the UUID was taken (perhaps by a lost earlier send, whose media UUID cannot be
        recovered): uploads are not billed, so it is sent again under a new UUID."""
        image = mime.startswith("image/")
        for _ in range(2):
            task_uuid = task_uuids[-1]
            if image:
                task = wire.image_upload_task(task_uuid, uri)
            else:
                task = wire.media_upload_task(task_uuid, uri)
            envelope = await self._post(wire.encode([task]), "upload")
            errors = envelope.errors_for(task_uuid) or envelope.unattributed_errors()
            if errors and (errors[0].code or "").lower() == _CONFLICT:
                task_uuids.append(str(uuid.uuid4()))
                continue
            if errors:
                raise errors[0].to_exception(envelope.status_code, "upload")
            # ours, or an item naming no task; never one that names another task (its image
            # would go into this paid request)
            mine = envelope.items_for(task_uuid) or [
                i for i in envelope.data if "taskUUID" not in i
            ]
            for item in mine:
                found = item.get("imageUUID") or item.get("mediaUUID")
                if isinstance(found, str) and found:
                    return found
            raise RunwareServerError(
                f"Runware upload answer names no {'imageUUID' if image else 'mediaUUID'}",
                status_code=envelope.status_code,
            )
        raise RunwareServerError("Runware upload kept answering conflictTaskUUID")

    async def upload_inputs(self, request: Mapping[str, Any], files: FileSpec) -> dict[str, Any]:
        """A copy of ``request`` whose local files are replaced by uploaded UUIDs.

        Args:
            request: the request as JSON.
            files: which values are local files: ``{json path: Path}`` (paths as tuples or
                ``"inputs.frameImages[0].image"``), or a callback ``(path, value)`` returning
                the file a value stands for, or ``None``.
        """
        local = find_local_files(request, files)
        uploaded = await asyncio.gather(*(self.upload(path) for path in local.values()))
        replaced: dict[JsonPath, Any] = dict(zip(local, uploaded, strict=True))
        return replace_values(request, replaced)

    # -- downloads -------------------------------------------------------------------------

    async def download(
        self, video: VideoResult | str, dest: Path, *, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> Download:
        """Stream a result to ``dest`` (temp file + rename) and check it is a video.

        Transient failures (timeouts, resets, 408/429/5xx) are retried from the start. Each
        attempt has :attr:`download_deadline` seconds in all. The URL and every redirect
        are checked before anything connects (:class:`.Destinations`).

        Raises:
            RunwareDownloadError: no URL, a URL or redirect to a place not allowed, bad
                status, over ``max_bytes``, or not a video.
                For a :class:`VideoResult`, every failure has ``may_be_running`` set: the
                task was billed, so resume it (poll, download again), never resubmit it.
        """
        task = video.task_uuid if isinstance(video, VideoResult) else None
        url = video.video_url if isinstance(video, VideoResult) else video
        try:
            if not url:
                raise RunwareDownloadError("result has no videoURL to download")
            shown = redact_url(url)

            async def attempt(_: int) -> Download:
                try:
                    async with asyncio.timeout(self.download_deadline):
                        return await fetch_video(
                            self._http,
                            url,
                            Path(dest),
                            max_bytes=max_bytes,
                            destinations=self.destinations,
                        )
                except TimeoutError:
                    raise RunwareTimeoutError(
                        f"download of {shown} did not complete within "
                        f"{self.download_deadline:g} s ({DOWNLOAD_DEADLINE_ENV})"
                    ) from None

            return await self._retrying(attempt, f"download of {shown}")
        except RunwareError as exc:
            if task is None:
                raise
            raise exc.evolve(
                f"{exc.message}; task {task} finished and was billed: the next build "
                "downloads its video again by this task UUID, and does not pay for it again",
                task_uuid=task,
                may_be_running=True,
            ) from exc

    # -- HTTP ------------------------------------------------------------------------------

    async def _post(self, body: bytes, context: str) -> Envelope:
        """POST one body to the API; the answer, or a RunwareError with ``retryable`` set.

        Answers with a 4xx status are returned for the caller to read (per-task errors);
        408/429/5xx, network failures and malformed bodies raise a retryable error.
        """
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        try:
            async with asyncio.timeout(self.request_deadline):
                response = await self._http.post(self.base_url, content=body, headers=headers)
        except TimeoutError:
            raise RunwareTimeoutError(
                f"Runware {context}: no complete answer within {self.request_deadline:g} s "
                f"({REQUEST_DEADLINE_ENV})"
            ) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Raised while connecting (refused, name not resolved, unreachable, TLS
            # handshake): before a byte of the request was written.
            raise RunwareConnectionError(
                f"Runware {context}: cannot connect to {redact_url(self.base_url)} "
                f"({network_reason(exc)})",
                not_sent=True,
            ) from exc
        except httpx.TimeoutException as exc:
            raise RunwareTimeoutError(
                f"Runware {context}: no answer in time ({type(exc).__name__})"
            ) from exc
        except httpx.RequestError as exc:
            raise RunwareConnectionError(
                f"Runware {context}: connection failed ({network_reason(exc)})"
            ) from exc
        status = response.status_code
        retry_after = _retry_after(response)
        try:
            envelope = wire.parse_envelope(response.content, status)
        except MalformedBody as exc:
            cls = error_class_for(None, status) if status >= 400 else RunwareServerError
            raise cls(
                f"Runware {context}: malformed answer: {exc}",
                status_code=status,
                # any 5xx, a proxy's page (520-524) too: the request may have been accepted
                retryable=status < 400 or status in RETRYABLE_STATUSES or status >= 500,
                retry_after=retry_after,
            ) from exc
        if status in RETRYABLE_STATUSES or status >= 500:
            first = envelope.errors[0] if envelope.errors else None
            raise error_from_api(
                code=first.code if first else None,
                message=first.message if first else None,
                status_code=status,
                parameter=first.parameter if first else None,
                context=context,
            ).evolve(retryable=True, retry_after=retry_after)
        return envelope

    async def _retrying(self, attempt: Callable[[int], Awaitable[T]], what: str) -> T:
        """Run ``attempt(1)``, ``attempt(2)``... while it fails in a retryable way.

        While no attempt got as far as connecting, at most ``retry.connect_attempts`` are
        made, and the last error then says what a writer checks (see :meth:`_unreachable`).
        """
        number = 0
        reached = False
        while True:
            number += 1
            try:
                return await attempt(number)
            except RunwareError as exc:
                reached = reached or not exc.not_sent
                limit = self.retry.max_attempts if reached else self.retry.connect_attempts
                if not reached and (not exc.retryable or number >= limit):
                    raise self._unreachable(exc, number) from exc
                if not exc.retryable or number >= limit:
                    raise
                delay = self.retry.delay(number, self._rng(), exc.retry_after)
                logger.warning(
                    "%s failed (%s); attempt %d of %d in %.1f s",
                    what,
                    exc,
                    number + 1,
                    limit,
                    delay,
                )
                await self._sleep(delay)

    def _unreachable(self, exc: RunwareError, attempts: int) -> RunwareError:
        """A request none of whose ``attempts`` connected, with what to check, in words."""
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if self.base_url.rstrip("/") == DEFAULT_BASE_URL:
            check = "Check the network connection (and the proxy settings, if any)"
        else:
            check = (
                f"Check that {BASE_URL_ENV} ({redact_url(self.base_url)}) names the right "
                "server and that it is running, and check the network"
            )
        return exc.evolve(
            f"{exc.message}, {tries}: nothing was sent. {check}; then build again",
            not_sent=True,
        )


#: The largest input the model takes, by kind (images 10 MB, videos 200 MB): a file over it
#: is refused before it is read into memory and sent.
MAX_UPLOAD_BYTES = {"image": 10 * 1024 * 1024, "video": 200 * 1024 * 1024}


def _check_upload_size(path: Path, mime: str | None) -> None:
    """Refuse a local file the model would refuse for its size, without reading it whole."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        raise RunwareValidationError(
            f"cannot read {path.name} to upload it: {exc.strerror or exc}"
        ) from exc
    kind = (mime or guess_mime(head, path.name)).split("/")[0]
    limit = MAX_UPLOAD_BYTES.get(kind)
    if limit is not None and size > limit:
        raise RunwareValidationError(
            f"{path.name} is {size:,} bytes; the model takes {kind}s of at most "
            f"{limit // (1024 * 1024)} MB, so it was not uploaded",
            parameter=path.name,
        )


def _deadline(given: float | None, env: Mapping[str, str], setting: settings.Setting) -> float:
    """A deadline in seconds: the caller's, else the environment's, else the default.

    Raises:
        InputError: the environment's is no number of seconds (see :mod:`storyboard.core.settings`).
        ValueError: the caller's is not.
    """
    if given is None:
        return settings.value(setting, env)
    if not (given > 0 and given != float("inf")):
        raise ValueError(f"{setting.name} must be a positive number of seconds, not {given!r}")
    return given


def _checked_key(key: str | None) -> str:
    key = (key or "").strip()
    if not key:
        raise RunwareAuthError(
            f"no Runware API key: set {API_KEY_ENV} in the environment", code="missingApiKey"
        )
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in key):
        raise RunwareAuthError(
            f"{API_KEY_ENV} contains whitespace or control characters", code="invalidApiKey"
        )
    return key


def _check_uuid(task_uuid: str) -> None:
    try:
        uuid.UUID(task_uuid)
    except (TypeError, ValueError, AttributeError):
        raise ValueError(f"task_uuid must be a UUID string, not {task_uuid!r}") from None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None  # absent, or an HTTP date (rare here): our own back-off applies
    return seconds if seconds >= 0 else None
