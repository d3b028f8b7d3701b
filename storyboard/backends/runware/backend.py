"""The ``runware`` backend: compiled takes sent to the Runware API (or its emulator).

Upstream inputs arrive as local files (assets, exact frames of other takes) or as provider
UUIDs (the video of a generated take, for an edit): files are uploaded once each (the client
de-duplicates by content hash), UUIDs are passed as they are. The task UUID comes from the
executor, which journaled it before calling :meth:`submit`; a resumed job tells the client
that ``conflictTaskUUID`` means "already accepted". Results are streamed to disk.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from storyboard.backends.base import Job, Output, Ticket
from storyboard.backends.runware.client import RunwareClient
from storyboard.backends.runware.media import JsonPath


class RunwareBackend:
    """Generates takes on Runware with :class:`RunwareClient`."""

    name = "runware"
    paid = True

    def __init__(self, client: RunwareClient) -> None:
        from storyboard.backends.factory import namespace

        self.client = client
        self.endpoint = client.base_url
        self.namespace = namespace("runware", base_url=client.base_url)

    @classmethod
    def from_environment(
        cls, *, upload_cache: MutableMapping[str, str] | None = None
    ) -> RunwareBackend:
        """A backend whose key and URL come from ``RUNWARE_API_KEY`` / ``RUNWARE_BASE_URL``."""
        return cls(RunwareClient(upload_cache=upload_cache))

    async def submit(self, job: Job) -> Ticket:
        request = _substitute(job.request, job.provider_ids)

        def local(_path: JsonPath, value: Any) -> Path | None:
            return job.files.get(value) if isinstance(value, str) else None

        request = await self.client.upload_inputs(request, local)
        await self.client.submit(request, job.task_uuid, resumed=job.resumed)
        return Ticket(job, request)

    async def collect(self, ticket: Ticket, folder: Path) -> list[Output]:
        job = ticket.job
        count = job.request.get("numberResults", 1)
        results = await self.client.wait(
            job.task_uuid, number_results=count if isinstance(count, int) else 1
        )
        outputs = []
        for index, result in enumerate(results):
            download = await self.client.download(result, folder / f"{job.take}-{index}.mp4")
            outputs.append(
                Output(download.path, result.video_uuid, result.video_url, result.cost, result.seed)
            )
        return outputs

    async def fetch(self, url: str, dest: Path) -> None:
        await self.client.download(url, dest)

    async def aclose(self) -> None:
        await self.client.aclose()


def _substitute(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        return replacements.get(value, value)
    if isinstance(value, list):
        return [_substitute(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, replacements) for k, v in value.items()}
    return value
