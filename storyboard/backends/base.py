"""The whole backend interface: submit a resolved request, collect its videos, close.

The executor knows only this module. A backend receives a :class:`Job` (the compiled request
with every upstream input already made: local files by placeholder, provider UUIDs where the
provider already has the input) and returns a :class:`Ticket`; ``collect`` waits for the
videos and writes them into a folder. The journal is written by the executor between
``submit`` and ``collect``, which is how "never pay twice" stays out of every backend.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from storyboard.core.errors import ProviderError


@dataclass(frozen=True)
class Segment:
    """A shot of a take, for backends that draw (the preview).

    ``lines`` are its lines of dialogue as ``(start, end, words)``, in seconds from the
    shot's start, timed as the film's subtitles time them without detected speech
    (:func:`storyboard.cut.cues.time_lines`).
    """

    shot: str
    prompt: str
    seconds: int
    lines: tuple[tuple[float, float, str], ...] = ()


@dataclass(frozen=True)
class Upload:
    """Where the provider may PUT a job's single result (``uploadEndpoint``), and how to get
    it back from there when the provider's own URL of it is gone.

    ``url`` is a presigned URL: its query is a credential, never persisted nor shown."""

    url: str = field(repr=False)
    path: str
    """The object's path in the remote (``uploads/TASK``), for messages and the push."""
    fetch: Callable[[Path], Awaitable[None]] = field(repr=False)


@dataclass(frozen=True)
class Job:
    """One request, ready to send.

    Attributes:
        take: the take's id.
        key: the take's key.
        task_uuid: minted once and journaled before the first send; every retry re-uses it.
        request: the compiled request (placeholders included, no ``taskUUID``).
        files: local files by placeholder (assets, extracted frames, upstream videos).
        provider_ids: provider UUIDs by placeholder, where the provider already has the input.
        resumed: the journal says this task may have been sent before.
        segments: the shots of the take, in order.
        source_seconds: the length of the video an edit starts from, when known.
        cost_limit: the most, in USD, the provider may say the whole job cost before its
            answer is refused as not to be trusted (the plan's estimate times a margin, see
            :data:`storyboard.build.execute.COST_MARGIN`); ``None``: no limit known.
        upload: where the provider may PUT the result (a single-result job, a remote that
            signs URLs), for backends that can ask it to; ``None``: nowhere.
        retake: which attempt at the request this is (``retake`` in the storyboard; 0 the
            first). Not sent: the request is the same; the preview writes it on its cards.
        progress: told ``(status, fraction)`` when the provider says how far the job is
            (``fraction`` 0..1, ``None`` when it gives no figure); ``None``: nobody asks.
    """

    take: str
    key: str
    task_uuid: str
    request: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    provider_ids: dict[str, str] = field(default_factory=dict)
    resumed: bool = False
    segments: tuple[Segment, ...] = ()
    source_seconds: float | None = None
    cost_limit: float | None = None
    upload: Upload | None = None
    retake: int = 0
    progress: Callable[[str, float | None], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Ticket:
    """What ``submit`` hands back; ``collect`` takes it."""

    job: Job
    handle: Any = None


@dataclass(frozen=True)
class Output:
    """One finished video of a job.

    ``url`` may be persisted (cache entry, lock file): a backend gives it without anything
    secret (its query and userinfo redacted, see
    :func:`storyboard.backends.runware.redact.redact_url`)."""

    path: Path
    video_uuid: str | None = None
    url: str | None = None
    cost: float | None = None
    seed: int | None = None


class PartlyDelivered(ProviderError):
    """A job of several results (``numberResults``) failed after some were delivered, and
    billed: ``failure`` is why, ``outputs`` the delivered videos, downloaded into ``collect``'s
    folder. The executor keeps them, and asks only for the rest (never for them again)."""

    def __init__(self, failure: ProviderError, outputs: list[Output]) -> None:
        super().__init__(str(failure))
        self.failure = failure
        self.outputs = outputs


class Backend(Protocol):
    """A way to turn requests into videos."""

    name: str
    """``preview`` or ``runware``: what made the results, as the build record shows it."""
    namespace: str
    """Whose results these are: the cache, the lock file, the journal and the records keep
    each namespace apart, so that a preview never stands in for a paid result, a preview at
    another scale is made again, and an emulator's result never stands in for Runware's
    (see :func:`storyboard.backends.namespaces.namespace`)."""
    endpoint: str
    """Where requests go (``""`` for local backends); the journal is scoped by it."""
    paid: bool
    """Whether results cost money (and so go into the lock file)."""

    async def submit(self, job: Job) -> Ticket: ...

    async def collect(self, ticket: Ticket, folder: Path) -> list[Output]: ...

    async def fetch(self, url: str, dest: Path) -> None:
        """Download a result named in the lock file (paid backends only); ``url`` is as
        the lock keeps it (redacted)."""
        ...

    async def aclose(self) -> None: ...
