"""A scriptable backend for executor tests: records calls, fails on demand, costs money."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from storyboard.backends.base import Job, Output, Ticket
from storyboard.backends.preview import PreviewBackend
from storyboard.core.errors import ProviderError


class FakeProviderError(ProviderError):
    definitive = True


class FakeGone(ProviderError):
    """A result URL the provider no longer serves (expired, deleted)."""

    status_code = 404


class FakePaidBackend:
    """Renders like the preview, but is 'paid': 1 USD per second, and counts everything."""

    name = "fake"
    namespace = "fake"
    endpoint = "fake://"
    paid = True
    scale = 1 / 12  # the film is cut at this fraction of the output size

    def __init__(self, *, delay: float = 0.0, fail: set[str] | None = None) -> None:
        self.preview = PreviewBackend(scale=1 / 12)
        self.delay = delay
        self.fail = fail or set()
        self.submitted: list[Job] = []
        self.running = 0
        self.most_running = 0
        self.served: dict[str, Path] = {}
        self.fetched: list[str] = []
        self.store = Path(tempfile.mkdtemp(prefix="fake-provider-"))

    async def submit(self, job: Job) -> Ticket:
        self.submitted.append(job)
        if job.take in self.fail:
            raise FakeProviderError(f"the provider refused take {job.take}")
        return Ticket(job)

    async def collect(self, ticket: Ticket, folder: Path) -> list[Output]:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(self.delay)
            outputs = await self.preview.collect(ticket, folder)
        finally:
            self.running -= 1
        seconds = float(ticket.job.request.get("duration") or 0)
        result = []
        for i, out in enumerate(outputs):
            url = f"https://fake.invalid/{ticket.job.task_uuid}/{i}.mp4"
            keep = self.store / f"{ticket.job.task_uuid}-{i}.mp4"
            shutil.copyfile(out.path, keep)
            self.served[url] = keep
            result.append(Output(out.path, f"video-{ticket.job.task_uuid}-{i}", url, seconds))
        return result

    async def fetch(self, url: str, dest: Path) -> None:
        self.fetched.append(url)
        if url not in self.served:  # as a provider answers a URL it no longer serves
            raise FakeGone(f"404 Not Found: {url}")
        shutil.copyfile(self.served[url], dest)

    async def aclose(self) -> None:
        return None
