"""Waiting for accepted tasks: one shared poller batches every task in flight.

Many coroutines call :meth:`Poller.wait` at once (one per take); a single background loop
sends, each round, ONE POST holding a ``getResponse`` object for every task in flight, so
the number of polling requests per second does not grow with the number of tasks::

    wait(A) --+                       +--> A's results (or its error)
    wait(B) --+--> [ round: POST [getResponse A, getResponse B, ...] ] --+--> B's ...
    wait(C) --+     when some task is due (at least round_gap apart)     +--> C's ...

Each task keeps its own schedule, from what is known of how long it takes:

- the ``progress`` the service reports (a task at 20% after 2 s is done at about 10 s; from
  two reports, the rate between them, which a wait in a queue does not skew);
- else how long the tasks this client saw finish took, per second of video asked for
  (``wait(..., duration=)``): the takes of one build take about as long as each other;
- else nothing: first poll ``first_delay`` after it joined, then gaps growing by
  ``multiplier`` up to ``max_interval``.

A task with an expected end is polled after ``lead`` of the time left to it (never more than
``max_interval`` later), so that each answer makes the next estimate closer, then just
after its end; past it, at gaps growing from ``round_gap``. A round happens when some task
is due, and it carries every task in flight; a task without an estimate that was due within
half its gap counts as polled (so staggered arrivals share rounds). Rounds are at least
``round_gap`` apart, so the requests per second stay flat however many tasks are in flight.
Answers are cumulative and deduplicated by ``videoUUID``; a wait ends when
``number_results`` generations succeeded, on the first failed generation, or at its
deadline.

Nothing in an answer is trusted as sent: a finished item whose fields are not of the
protocol's types and shapes (:func:`.wire.video_result`), or more distinct results than the
task's ``numberResults``, ends the wait with a :class:`RunwareProviderError` before anything
is downloaded. The task was accepted and billed, so the error says so
(``may_be_running``): it is resumed under its UUID, never sent again as a new task.

What keeps a task waiting: any non-terminal status (``processing``, ``pending``,
``queued``...), an empty ``data``, a "not found" answer (a task the service does not list
yet), and a failed round (timeout, reset, 5xx, a malformed body). What ends it: a failed
generation (its typed error), an error that polling cannot outlive (a revoked key), or
the deadline (:class:`RunwareTimeoutError`, ``may_be_running=True``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import statistics
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import storyboard.backends.runware.wire as wire
from storyboard.backends.runware.errors import (
    RunwareConnectionError,
    RunwareError,
    RunwareNotFoundError,
    RunwareProviderError,
    RunwareRateLimitError,
    RunwareServerError,
    RunwareTimeoutError,
)
from storyboard.backends.runware.wire import Envelope, VideoResult

__all__ = ["PollPolicy", "Poller"]

#: Errors about answering a request (rate limits, the service's 5xx, its timeouts, the
#: network), not about the work a task asked for: in a poll's answer they are the poll's.
_THE_POLLS_OWN = (
    RunwareRateLimitError,
    RunwareServerError,
    RunwareTimeoutError,
    RunwareConnectionError,
)

logger = logging.getLogger("storyboard.backends.runware")

#: Sends one request body and returns the answer; raises RunwareError (``retryable`` set).
PostFn = Callable[[bytes, str], Awaitable[Envelope]]

# "Not found" codes that mean the task is over rather than not listed yet.
_FINAL_NOT_FOUND = frozenset({"taskcancelled", "taskcanceled"})


@dataclass(frozen=True)
class PollPolicy:
    """How often to poll and for how long.

    Attributes:
        first_delay: seconds between a task joining and its first poll.
        multiplier: growth of the gap between two polls of one task.
        max_interval: the gap's cap, in seconds.
        deadline: seconds a :meth:`Poller.wait` lasts at most (default 30 min; Kling O3 Pro
            jobs take minutes and may queue).
        max_batch: ``getResponse`` objects per POST; a round with more tasks sends several
            POSTs at once. ``1`` polls each task alone, as the official SDKs do.
        round_gap: seconds between two rounds at least (or ``first_delay``, if less); also
            the first gap after a task's expected end passed.
        lead: the fraction of a task's expected time left after which it is polled again.
    """

    first_delay: float = 1.0
    multiplier: float = 1.5
    max_interval: float = 10.0
    deadline: float = 1800.0
    max_batch: int = 50
    round_gap: float = 0.25
    lead: float = 0.8

    def __post_init__(self) -> None:
        if self.first_delay <= 0 or self.max_interval <= 0 or self.deadline <= 0:
            raise ValueError("poll delays and deadline must be positive")
        if self.multiplier < 1 or self.max_batch < 1:
            raise ValueError("multiplier must be >= 1 and max_batch >= 1")
        if self.round_gap <= 0 or not 0 < self.lead <= 1:
            raise ValueError("round_gap must be positive and lead in (0, 1]")

    @property
    def least_gap(self) -> float:
        """The least time between two rounds."""
        return min(self.round_gap, self.first_delay, self.max_interval)


@dataclass(eq=False)
class _Waiter:
    """One pending wait: its schedule, what it has collected, and its future."""

    task_uuid: str
    number_results: int
    future: asyncio.Future[list[VideoResult]]
    due: float
    gap: float
    deadline_at: float
    deadline: float
    joined: float = 0.0
    weight: float = 1.0
    results: dict[str, VideoResult] = field(default_factory=dict)
    polls: int = 0
    last_answer: str = "no answer yet"
    last_code: str | None = None
    on_progress: ProgressSink | None = None
    """Told ``(status, fraction)`` when an answer says how far the generation is."""
    progress: list[tuple[float, float]] = field(default_factory=list)
    """``(seconds since joined, percent)`` of the last two progress reports."""
    late_gap: float | None = None
    """The gap between polls once the expected end has passed."""

    def finish(self, results: list[VideoResult]) -> None:
        if not self.future.done():
            self.future.set_result(results)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


ProgressSink = Callable[[str, float | None], None]
"""Told a task's status and how far it is (0..1), when an answer says."""


def _tell(waiter: _Waiter, status: Any, progress: Any) -> None:
    """Pass a task's reported progress on (a number 0..100; anything else is no figure)."""
    if waiter.on_progress is None:
        return
    known = isinstance(progress, int | float) and not isinstance(progress, bool)
    fraction = min(1.0, max(0.0, float(progress) / 100)) if known else None
    if fraction is not None and fraction != fraction:  # NaN: no figure
        fraction = None
    waiter.on_progress(str(status) if isinstance(status, str) else "processing", fraction)


class Poller:
    """Waits for many accepted tasks, polling them together (see the module docstring).

    Args:
        post: sends a body (``context`` names the operation for messages) and returns the
            parsed answer; raises :class:`RunwareError` with ``retryable`` set.
        policy: cadence, deadline and batch size.
        sleep: ``asyncio.sleep`` or a test's fake.
        clock: a monotonic clock in seconds, or a test's fake.
    """

    def __init__(
        self,
        post: PostFn,
        policy: PollPolicy | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float],
    ) -> None:
        self._post = post
        self.policy = policy or PollPolicy()
        self._sleep = sleep
        self._clock = clock
        self._waiters: list[_Waiter] = []
        self._seconds_per_weight: list[float] = []
        """How long each task that finished took, per second of video (the last 50)."""
        self._last_round: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def in_flight(self) -> int:
        """How many waits are pending."""
        return len(self._waiters)

    async def wait(
        self,
        task_uuid: str,
        *,
        number_results: int = 1,
        deadline: float | None = None,
        on_progress: ProgressSink | None = None,
        duration: float | None = None,
    ) -> list[VideoResult]:
        """Wait for the task ``task_uuid`` to yield ``number_results`` videos.

        Args:
            task_uuid: the UUID the task was submitted under.
            number_results: how many generations the task makes (its ``numberResults``).
            deadline: seconds to wait at most (default: the policy's).
            on_progress: told ``(status, fraction)`` when an answer gives the task's
                ``progress`` (0..100, as a fraction 0..1; ``None`` when it gives none).
            duration: seconds of video it makes, if known: tasks that make more take
                longer, and the schedule expects it (see the module docstring).

        Returns:
            The videos, in the order they were first seen.

        Raises:
            RunwareError: the typed failure of a generation (``may_be_running`` is False),
                or of polling itself (``may_be_running`` is True).
            RunwareTimeoutError: the deadline passed; the task may still run and be billed.
        """
        if number_results < 1:
            raise ValueError("number_results must be >= 1")
        loop = asyncio.get_running_loop()
        now = self._clock()
        limit = self.policy.deadline if deadline is None else deadline
        waiter = _Waiter(
            task_uuid=task_uuid,
            number_results=number_results,
            future=loop.create_future(),
            due=now + self.policy.first_delay,
            gap=self.policy.first_delay,
            deadline_at=now + limit,
            deadline=limit,
            on_progress=on_progress,
            joined=now,
            weight=duration if duration is not None and duration > 0 else 1.0,
        )
        expected = self._expected(waiter)
        if expected is not None:  # earlier tasks say when to look first
            waiter.due = now + self._wait_for(waiter, expected, now)
        self._waiters.append(waiter)
        self._ensure_running(loop)
        try:
            return await waiter.future
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def aclose(self) -> None:
        """Stop polling; pending waits fail with a :class:`RunwareError` that says their
        tasks may still be running."""
        for waiter in self._waiters:
            waiter.fail(
                RunwareError(
                    f"the client was closed while waiting for task {waiter.task_uuid}; it may "
                    "still be running and billed: the next build asks for it again by this "
                    "task UUID, and never pays for it twice",
                    task_uuid=waiter.task_uuid,
                    may_be_running=True,
                    retryable=True,
                )
            )
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    # -- the loop --------------------------------------------------------------------------

    def _ensure_running(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is not loop:  # first use, or a new event loop (asyncio.run again)
            self._loop, self._wakeup, self._task = loop, asyncio.Event(), None
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="runware-poller")
        else:
            assert self._wakeup is not None
            self._wakeup.set()  # a newcomer may be due before the current nap ends

    async def _run(self) -> None:
        try:
            while self._prune():
                now = self._clock()
                wake_at = min(w.due for w in self._waiters)
                if self._last_round is not None:  # the rate stays flat: rounds are apart
                    wake_at = max(wake_at, self._last_round + self.policy.least_gap)
                wake_at = min(wake_at, min(w.deadline_at for w in self._waiters))
                if wake_at > now:
                    await self._nap(wake_at - now)
                    continue
                await self._round(list(self._waiters))
                self._expire()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a bug: never leave a wait hanging
            for waiter in self._waiters:
                waiter.fail(exc)
            raise

    def _prune(self) -> bool:
        """Forget finished waits (their callers may not have resumed yet); any left?"""
        self._waiters = [w for w in self._waiters if not w.future.done()]
        return bool(self._waiters)

    async def _nap(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if a new task joins."""
        assert self._wakeup is not None
        self._wakeup.clear()
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        waker = asyncio.ensure_future(self._wakeup.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)

    async def _round(self, waiters: Sequence[_Waiter]) -> None:
        """Poll every task in flight: one POST per ``max_batch`` distinct UUIDs."""
        started = self._clock()
        uuids = list(dict.fromkeys(w.task_uuid for w in waiters))
        size = self.policy.max_batch
        batches = [uuids[i : i + size] for i in range(0, len(uuids), size)]
        answers = await asyncio.gather(*(self._poll(batch) for batch in batches))
        ended = self._clock()
        self._last_round = ended
        for batch, answer in zip(batches, answers, strict=True):
            members = set(batch)
            for waiter in waiters:
                if waiter.task_uuid in members:
                    waiter.polls += 1
                    self._absorb(waiter, answer, ended)
        for waiter in waiters:
            if waiter.future.done():
                continue
            expected = self._expected(waiter)
            if expected is not None:
                waiter.due = ended + self._wait_for(waiter, expected, ended)
            elif waiter.due - started <= waiter.gap / 2:
                waiter.gap = min(self.policy.max_interval, waiter.gap * self.policy.multiplier)
                waiter.due = ended + waiter.gap

    def _expected(self, waiter: _Waiter) -> float | None:
        """When ``waiter``'s task should be done (clock time), or None if nothing says."""
        reports = waiter.progress
        if reports:
            (e1, p1), (e2, p2) = reports[0], reports[-1]
            if p2 > p1 and e2 > e1:  # the rate between two reports: a queue does not skew it
                return waiter.joined + e2 + (100 - p2) * (e2 - e1) / (p2 - p1)
            return waiter.joined + e2 * 100 / p2
        if self._seconds_per_weight:
            per = statistics.median(self._seconds_per_weight)
            return waiter.joined + per * waiter.weight
        return None

    def _wait_for(self, waiter: _Waiter, expected: float, now: float) -> float:
        """Seconds until ``waiter``'s next poll, its task expected done at ``expected``."""
        policy = self.policy
        left = expected - now
        if left > 2 * policy.least_gap:  # look again when most of it has passed
            waiter.late_gap = None
            return min(policy.max_interval, max(policy.least_gap, policy.lead * left))
        if left > 0:  # just after it should be done
            return left + _JUST_AFTER
        gap = policy.least_gap if waiter.late_gap is None else waiter.late_gap * policy.multiplier
        waiter.late_gap = min(policy.max_interval, gap)  # later than expected: back off
        return waiter.late_gap

    async def _poll(self, uuids: list[str]) -> Envelope | RunwareError:
        body = wire.encode(wire.get_response_task(uuid) for uuid in uuids)
        logger.debug("polling %d task(s): %s", len(uuids), ", ".join(uuids))
        try:
            return await self._post(body, "poll")
        except RunwareError as exc:
            if exc.retryable:
                logger.warning("poll of %d task(s) failed, will poll again: %s", len(uuids), exc)
            return exc

    def _absorb(self, waiter: _Waiter, answer: Envelope | RunwareError, now: float) -> None:
        """Update one wait with a round's answer; finish or fail it if it is over."""
        if isinstance(answer, RunwareError):
            self._round_failed(waiter, answer)
            return
        status = answer.status_code if answer.status_code >= 400 else None
        items = answer.items_for(waiter.task_uuid)
        failure: RunwareError | None = None
        trouble: RunwareError | None = None
        for error in answer.errors_for(waiter.task_uuid):
            exc = error.to_exception(status, "generation")
            if isinstance(exc, RunwareNotFoundError) and (
                (error.code or "").lower() not in _FINAL_NOT_FOUND
            ):
                waiter.last_answer, waiter.last_code = f"not found ({error.code})", error.code
                continue
            if isinstance(exc, _THE_POLLS_OWN):
                # The service's own trouble answering (busy, 5xx, timed out), named with the
                # task it was asked about: not the generation's failure. Taken as a failed
                # poll (waited on), since a new task would pay again while it may still run.
                trouble = trouble or exc
                continue
            failure = exc
            break
        if failure is not None and not any(wire.is_success(item) for item in items):
            waiter.fail(failure)
            return
        if trouble is not None and not items:
            self._round_failed(waiter, trouble)
            return
        # A failure reported beside delivered (billed) results: they are read first, and if
        # they are all the task makes, the wait ends with them (failing it would lose them,
        # and a new attempt would pay for them again).
        if not items:
            stray = answer.unattributed_errors()
            if stray and not answer.data:
                self._round_failed(waiter, stray[0].to_exception(answer.status_code, "poll"))
                return
            if not answer.errors_for(waiter.task_uuid):
                waiter.last_answer = "task not listed (empty data)"
        for item in items:
            if wire.is_success(item):
                try:
                    result = wire.video_result(item)
                except wire.BadResult as exc:
                    waiter.fail(_refused(waiter, f"a result it sent is malformed: {exc}"))
                    return
                waiter.results.setdefault(_result_key(result), result)
            else:
                progress = item.get("progress")
                waiter.last_answer = f"status {item.get('status')!r}" + (
                    f", progress {progress}" if progress is not None else ""
                )
                _tell(waiter, item.get("status"), progress)
                _note_progress(waiter, progress, now)
        if len(waiter.results) > waiter.number_results:
            waiter.fail(
                _refused(
                    waiter,
                    f"it sent {len(waiter.results)} results for numberResults "
                    f"{waiter.number_results}",
                )
            )
        elif len(waiter.results) == waiter.number_results:
            waiter.finish(list(waiter.results.values()))
            self._seconds_per_weight.append((now - waiter.joined) / waiter.weight)
            del self._seconds_per_weight[:-50]
        elif failure is not None:  # some of its results, then the failure: they are kept
            waiter.fail(failure.evolve(delivered=tuple(waiter.results.values())))

    def _round_failed(self, waiter: _Waiter, exc: RunwareError) -> None:
        """A poll that failed as a whole: transient ones keep the task waiting."""
        if exc.retryable:
            waiter.last_answer, waiter.last_code = f"poll failed: {exc}", exc.code
            return
        waiter.fail(
            exc.evolve(
                f"{exc.message}; task {waiter.task_uuid} was accepted and may still be "
                "running and billed: the next build asks for it again by this task UUID, and "
                "never pays for it twice",
                task_uuid=waiter.task_uuid,
                may_be_running=True,
            )
        )

    def _expire(self) -> None:
        now = self._clock()
        for waiter in self._waiters:
            if now >= waiter.deadline_at and not waiter.future.done():
                waiter.fail(
                    RunwareTimeoutError(
                        f"task {waiter.task_uuid} did not finish within {waiter.deadline:g} s "
                        f"({waiter.polls} polls, {len(waiter.results)} of "
                        f"{waiter.number_results} results; last answer: {waiter.last_answer}). "
                        "It may still be running and billed: build again later, and the build "
                        "asks for it by this task UUID (it never pays for it twice)",
                        task_uuid=waiter.task_uuid,
                        code=waiter.last_code,
                        may_be_running=True,
                    )
                )


_JUST_AFTER = 0.05
"""Seconds after a task's expected end that it is polled (its answer is then ready)."""


def _note_progress(waiter: _Waiter, progress: object, now: float) -> None:
    """Keep the first and the latest of a task's progress reports (a percentage strictly
    between 0 and 100, rising; anything else is not a report to plan by)."""
    if isinstance(progress, bool) or not isinstance(progress, int | float):
        return
    if not 0 < progress < 100 or not math.isfinite(progress):
        return
    reports = waiter.progress
    if reports and progress <= reports[-1][1]:
        return
    reports[1:] = [(now - waiter.joined, float(progress))]


def _refused(waiter: _Waiter, why: str) -> RunwareProviderError:
    """The error for an answer about a finished (billed) task that is not to be trusted."""
    return RunwareProviderError(
        f"Runware's answer for task {waiter.task_uuid} was refused: {why}. Nothing of it was "
        "downloaded. The task was accepted and may be billed: it stays pending under its "
        "UUID and the next build asks for it again (no new task is paid for); if the answer "
        "stays wrong, report the task UUID to Runware",
        task_uuid=waiter.task_uuid,
        code="invalidProviderResponse",
        retryable=False,
        may_be_running=True,
    )


def _result_key(result: VideoResult) -> str:
    """Cumulative answers repeat results: one key per generation."""
    index = result.raw.get("resultIndex")
    return (
        result.video_uuid
        or (f"#{index}" if index is not None else None)
        or result.video_url
        or json.dumps(dict(result.raw), sort_keys=True, default=str)
    )
