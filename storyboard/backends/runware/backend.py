"""The ``runware`` backend: compiled takes sent to the Runware API (or its emulator).

Upstream inputs arrive as local files (assets, exact frames of other takes) or as provider
UUIDs (the video of a generated take, for an edit): files are uploaded once each (the client
de-duplicates by content hash), UUIDs are passed as they are. The task UUID comes from the
executor, which journaled it before calling :meth:`submit`; a resumed job tells the client
that ``conflictTaskUUID`` means "already accepted". Results are streamed to disk. An input
that cannot be uploaded means the request itself was never sent: the error says so
(``not_sent``), as does one whose every attempt failed to connect.

What the service reports is checked against the request: the client refuses malformed
results and extra ones (:mod:`.poll`); here, a reported cost over the job's
``cost_limit`` is refused before anything is downloaded. Result URLs leave the backend
redacted (their query may be a token): only the client, in memory, uses them whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storyboard.backends.base import Job, Output, PartlyDelivered, Ticket
from storyboard.backends.runware.errors import RunwareError, RunwareProviderError
from storyboard.backends.runware.media import JsonPath
from storyboard.backends.runware.redact import redact_url, strip_redaction
from storyboard.backends.runware.wire import VideoResult
from storyboard.core.money import usd

if TYPE_CHECKING:
    from storyboard.backends.runware.client import RunwareClient


class RunwareBackend:
    """Generates takes on Runware with :class:`RunwareClient`.

    Made from the environment, it makes its client (httpx, a TLS context) only when a build
    has something to send (:meth:`open`, or the first request): a build with nothing to do
    makes none.
    """

    name = "runware"
    paid = True

    def __init__(
        self,
        client: RunwareClient | None = None,
        *,
        make_client: Callable[[], RunwareClient] | None = None,
        base_url: str | None = None,
    ) -> None:
        from storyboard.backends.namespaces import namespace

        if client is None and (make_client is None or base_url is None):
            raise ValueError("a client, or make_client and the base_url it will use")
        self._client = client
        self._make_client = make_client
        url = client.base_url if client is not None else str(base_url)
        self.endpoint = redact_url(url)  # journaled: nothing secret in it
        self.namespace = namespace("runware", base_url=url)

    @classmethod
    def from_environment(
        cls, *, upload_cache: MutableMapping[str, str] | None = None
    ) -> RunwareBackend:
        """A backend whose key and URL come from ``RUNWARE_API_KEY`` / ``RUNWARE_BASE_URL``
        (read by the client, when :meth:`open` makes it)."""
        from storyboard.backends.namespaces import RUNWARE_URL
        from storyboard.core import settings

        settings.check(settings.RUNWARE)  # a wrong deadline is refused now, not when opened

        def make() -> RunwareClient:
            from storyboard.backends.runware.client import RunwareClient

            return RunwareClient(upload_cache=upload_cache)

        # the URL the client will read (RunwareClient: RUNWARE_BASE_URL, else the service's)
        base_url = (os.environ.get("RUNWARE_BASE_URL") or RUNWARE_URL).strip()
        return cls(make_client=make, base_url=base_url)

    def open(self) -> None:
        """Make the client, if not made yet: a missing or malformed key or URL fails here,
        before the build sends anything."""
        if self._client is None:
            assert self._make_client is not None
            self._client = self._make_client()

    @property
    def client(self) -> RunwareClient:
        self.open()
        assert self._client is not None
        return self._client

    async def submit(self, job: Job) -> Ticket:
        request = _substitute(job.request, job.provider_ids)
        if job.upload is not None and "uploadEndpoint" not in request:
            # the provider PUTs the result into the remote's bucket (the writer's own
            # delivery.upload_endpoint, when set, is left as it is)
            request = {**request, "uploadEndpoint": job.upload.url}

        def local(_path: JsonPath, value: Any) -> Path | None:
            return job.files.get(value) if isinstance(value, str) else None

        try:
            request = await self.client.upload_inputs(request, local)
        except RunwareError as exc:  # the request itself was not sent
            message = exc.message
            if not exc.not_sent:
                message += "; an input could not be uploaded, so the request was not sent"
            raise exc.evolve(
                message, task_uuid=job.task_uuid, not_sent=True, may_be_running=job.resumed
            ) from exc
        await self.client.submit(request, job.task_uuid, resumed=job.resumed)
        return Ticket(job, request)

    async def collect(self, ticket: Ticket, folder: Path) -> list[Output]:
        job = ticket.job
        count = job.request.get("numberResults", 1)
        seconds = job.request.get("duration")
        try:
            results = await self.client.wait(
                job.task_uuid,
                number_results=count if isinstance(count, int) else 1,
                on_progress=job.progress,
                duration=float(seconds) if isinstance(seconds, int | float) else None,
            )
        except RunwareError as exc:
            if not exc.delivered:
                raise
            # some of its results, then a failure: those delivered were billed; fetched here
            # (a failed download leaves the task pending, to be fetched again by its UUID)
            _check_cost(job, list(exc.delivered))
            delivered = await self._download(job, list(exc.delivered), folder)
            raise PartlyDelivered(exc.evolve(delivered=()), delivered) from exc
        _check_cost(job, results)
        return await self._download(job, results, folder)

    async def _download(self, job: Job, results: list[VideoResult], folder: Path) -> list[Output]:
        outputs = []
        for index, result in enumerate(results):
            path = folder / f"{job.take}-{index}.mp4"
            try:
                path = (await self.client.download(result, path)).path
            except RunwareError as exc:
                # the provider no longer serves it: the copy it PUT into the remote, if any
                if job.upload is None or exc.status_code not in _GONE or len(results) != 1:
                    raise
                await job.upload.fetch(path)
            url = redact_url(result.video_url) if result.video_url else None
            outputs.append(Output(path, result.video_uuid, url, result.cost, result.seed))
        return outputs

    async def fetch(self, url: str, dest: Path) -> None:
        await self.client.download(strip_redaction(url), dest)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


#: HTTP statuses of a result URL that has expired or been deleted.
_GONE = (403, 404, 410)


def _check_cost(job: Job, results: list[VideoResult]) -> None:
    """Refuse a reported cost over the job's limit (the plan's estimate, with a margin)."""
    total = sum(r.cost for r in results if r.cost is not None)
    if job.cost_limit is None or total <= job.cost_limit:
        return
    raise RunwareProviderError(
        f"Runware's answer for task {job.task_uuid} was refused: it reports a cost of "
        f"{usd(total)}, over {usd(job.cost_limit)}, the most this take can cost (the plan's "
        "estimate with its margin). Nothing of it was downloaded. The task was accepted and "
        "may be billed: it stays pending under its UUID and the next build asks for it "
        "again (no new task is paid for); check your Runware account and report the task "
        "UUID to Runware",
        task_uuid=job.task_uuid,
        code="invalidProviderResponse",
        retryable=False,
        may_be_running=True,
    )


def _substitute(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        return replacements.get(value, value)
    if isinstance(value, list):
        return [_substitute(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, replacements) for k, v in value.items()}
    return value
