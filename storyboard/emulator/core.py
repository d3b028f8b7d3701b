"""The emulator's state and its Python API: one :class:`Emulator` per server.

It owns the media store, the job table, used taskUUIDs and created elements (per API key),
the ledger, the stats, the fault plan and the render threads. :mod:`dispatch` reads and
changes it while answering ``/v1``; tests and the control endpoints use the public methods
(``ledger()``, ``stats()``, ``set_faults()``, ``register_remote()``, ``reset()``, ...), which
are safe to call from any thread. API keys are kept only as a fingerprint.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import shutil
import tempfile
import threading
import time
import uuid as uuidlib
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from storyboard.emulator.config import EmulatorConfig, config_from_json
from storyboard.emulator.faults import FaultPlan, FaultRule, parse_spec
from storyboard.emulator.jobs import (
    Job,
    Result,
    corrupt,
    deliver_failure,
    deliver_result,
    make_specs,
    run_job,
)
from storyboard.emulator.ledger import Ledger, LedgerEntry, Stats
from storyboard.emulator.store import MediaStore
from storyboard.emulator.validate import VideoRequest
from storyboard.emulator.webhooks import Attempt
from storyboard.emulator.wire import ApiError
from storyboard.media.animatic import render


def key_id(api_key: str) -> str:
    """A stable fingerprint of an API key (the key itself is never stored or logged)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


class Emulator:
    """A Runware service in a box. See the package docstring for the whole picture.

    Args:
        config: the settings (default: :class:`EmulatorConfig` defaults).
        root: where media and rendered videos are kept (default: a private temp folder,
            removed by :meth:`close`).
    """

    def __init__(self, config: EmulatorConfig | None = None, *, root: Path | None = None) -> None:
        self._config = config or EmulatorConfig()
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="storyboard-emulator-")) if root is None else root
        self.store = MediaStore(self.root / "media")
        self._ledger = Ledger()
        self._stats = Stats()
        self.faults = FaultPlan(seed=self._config.seed)
        self.lock = threading.RLock()
        self.jobs: dict[tuple[str, str], Job] = {}
        self.result_jobs: dict[str, Job] = {}  # videoUUID -> the job that made it
        self.used: set[tuple[str, str]] = set()
        self.elements: dict[str, set[str]] = {}
        self._attempts: list[Attempt] = []
        self.epoch = 0
        self.executor = ThreadPoolExecutor(
            self._config.render_workers, thread_name_prefix="emulator-render"
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._install_faults(self._config)

    # --- settings -------------------------------------------------------------------------

    @property
    def config(self) -> EmulatorConfig:
        return self._config

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change settings at run time (field names of :class:`EmulatorConfig`)."""
        with self.lock:
            self._config = config_from_json(self._config, changes)
            if "faults" in changes or "seed" in changes:
                self._install_faults(self._config)
            return self._config

    def accepts(self, api_key: str) -> bool:
        keys = self._config.api_keys
        return bool(api_key) and (keys is None or api_key in keys)

    # --- accounting -----------------------------------------------------------------------

    def ledger(self) -> list[LedgerEntry]:
        """Every billed job and dry run, oldest first."""
        return self._ledger.entries()

    def total_cost(self) -> float:
        """USD charged so far."""
        return self._ledger.total()

    def ledger_json(self) -> dict[str, Any]:
        return self._ledger.to_json()

    @property
    def counters(self) -> Stats:
        return self._stats

    def stats(self) -> dict[str, Any]:
        """Requests by task type, statuses, error codes, faults fired, delivery outcomes."""
        return self._stats.to_json()

    def deliveries(self) -> list[dict[str, Any]]:
        """Every webhook and upload attempt, oldest first."""
        with self.lock:
            return [a.to_json() for a in self._attempts]

    def record_attempt(self, attempt: Attempt) -> None:
        with self.lock:
            self._attempts.append(attempt)
        self._stats.count("deliveries", f"{attempt.kind}:{'ok' if attempt.ok else 'failed'}")

    # --- faults ---------------------------------------------------------------------------

    def _install_faults(self, config: EmulatorConfig) -> None:
        rules, seed = parse_spec(config.faults)
        self.faults.replace(rules, seed if seed is not None else config.seed)

    def set_faults(
        self, spec: str | list[FaultRule] | None = None, *, seed: int | None = None
    ) -> None:
        """Replace the fault rules with ``spec`` (a spec string or rules); None clears them."""
        if isinstance(spec, str):
            rules, spec_seed = parse_spec(spec)
            seed = seed if seed is not None else spec_seed
        else:
            rules = list(spec or [])
        self.faults.replace(rules, seed)

    def add_fault(self, kind: str, **options: Any) -> FaultRule:
        """Add one rule, e.g. ``add_fault("submit-503", times=1)``."""
        rule = FaultRule(kind=kind, **options)
        self.faults.add(rule)
        return rule

    def clear_faults(self) -> None:
        self.faults.replace([])

    # --- media ----------------------------------------------------------------------------

    def register_remote(self, url: str, data: bytes | str | Path) -> None:
        """Give the remote ``url`` these bytes (or the bytes of this file)."""
        payload = data if isinstance(data, bytes) else Path(data).read_bytes()
        self.store.register_remote(url, payload)

    # --- jobs -----------------------------------------------------------------------------

    def known_elements(self, owner: str) -> frozenset[str]:
        with self.lock:
            return frozenset(self.elements.get(owner, ()))

    def find_job(self, owner: str, task_uuid: str, *, retained: bool = True) -> Job | None:
        """The owner's job, if it exists (and, with ``retained``, is still within retention)."""
        with self.lock:
            job = self.jobs.get((owner, task_uuid.lower()))
        if job is None or not retained or job.finished_wall is None:
            return job
        return job if time.time() - job.finished_wall <= self._config.retention_s else None

    def start_job(
        self, owner: str, request: VideoRequest, base_url: str, faults: list[FaultRule]
    ) -> Job:
        """Create, bill and start a job for a valid request (its taskUUID already reserved)."""
        config = self._config
        rng = random.Random(f"{config.seed}:{request.task_uuid}")
        latency = rng.uniform(*config.latency_s)
        created = time.monotonic()
        results_dir = self.root / "results"
        results = []
        for index, spec in enumerate(make_specs(request, config.scale)):
            video_uuid = str(uuidlib.uuid4())  # unique, like the service's; the seed is not
            results.append(
                Result(
                    index=index,
                    video_uuid=video_uuid,
                    seed=rng.randrange(1, 2**31),
                    ready_at=created + latency + index * config.stagger_s,
                    spec=spec,
                    path=results_dir / f"{video_uuid}.{spec.extension}",
                )
            )
        job = Job(
            owner=owner,
            request=request,
            base_url=base_url,
            created=created,
            finish_at=results[-1].ready_at,
            results=results,
            faults=faults,
            epoch=self.epoch,
        )
        job.renders = [self.executor.submit(render, r.spec, r.path) for r in results]
        price = request.price
        with self.lock:
            self.jobs[(owner, request.task_uuid.lower())] = job
            self.elements.setdefault(owner, set()).update(request.new_elements)
        self._ledger.add(
            LedgerEntry(
                task_uuid=request.task_uuid,
                status="billed",
                cost=price.total,
                would_cost=price.total,
                per_result=price.per_result,
                seconds=price.seconds,
                rate=price.rate,
                number_results=price.number_results,
                dry_run=False,
                time=time.time(),
                owner=owner,
            )
        )
        self.spawn(run_job(self, job))
        return job

    def record_dry_run(
        self, task_uuid: str, request: VideoRequest | None, error: ApiError | None
    ) -> None:
        """Note a dry run in the ledger (nothing charged)."""
        price = None if request is None else request.price
        self._ledger.add(
            LedgerEntry(
                task_uuid=task_uuid,
                status="dryRun",
                cost=0.0,
                would_cost=0.0 if price is None else price.total,
                per_result=0.0 if price is None else price.per_result,
                seconds=0 if price is None else price.seconds,
                rate=0.0 if price is None else price.rate,
                number_results=0 if price is None else price.number_results,
                dry_run=True,
                time=time.time(),
                error=None if error is None else error.code,
            )
        )

    def complete(self, job: Job, result: Result) -> None:
        """Result ``result`` of ``job`` is ready: publish it and deliver it."""
        request = job.request
        expires = None if request.ttl is None else time.time() + request.ttl
        if job.rule("corrupt-result") is not None:
            corrupt(result.path, result.video_uuid)
        self.store.add_result(
            result.video_uuid,
            result.path,
            request.output_format.lower(),
            job.owner,
            expires,
            nominal=(request.width, request.height),
        )
        result.done = True
        with self.lock:
            self.result_jobs[result.video_uuid] = job
        if job.finished:
            job.finished_wall = time.time()
        if request.webhook_url is not None:
            self.spawn(deliver_result(self, job, result))

    def fail_job(self, job: Job, error: ApiError) -> None:
        """``job`` failed: record it, refund what it did not deliver, tell its webhook."""
        if job.failure is not None:
            return
        error.for_task("videoInference", job.task_uuid)
        error.extra.setdefault("status", "error")
        job.failure = error
        job.finished_wall = time.time()
        self._ledger.settle_failure(
            job.owner, job.task_uuid, job.delivered, error.code, self._config.bill_failed
        )
        if job.request.webhook_url is not None:
            self.spawn(deliver_failure(self, job))

    def job_of_result(self, video_uuid: str) -> Job | None:
        """The job that made the result ``video_uuid``, if it is known."""
        with self.lock:
            return self.result_jobs.get(video_uuid.lower())

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the current event loop, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        with self.lock:
            self._tasks.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        with self.lock:
            self._tasks.discard(task)

    async def cancel_tasks(self) -> None:
        """Cancel background work of the calling loop (the server's shutdown)."""
        loop = asyncio.get_running_loop()
        with self.lock:
            tasks = [t for t in self._tasks if t.get_loop() is loop]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- lifecycle ------------------------------------------------------------------------

    def reset(self, config: EmulatorConfig | None = None) -> None:
        """Forget everything: jobs, media, elements, ledger, stats, deliveries, faults.

        Running jobs stop reporting. Settings return to ``config`` if given, else stay.
        """
        with self.lock:
            self.epoch += 1
            if config is not None:
                self._config = config
            for job in self.jobs.values():
                for future in job.renders:
                    future.cancel()  # renders not started yet are not needed any more
            self.jobs.clear()
            self.result_jobs.clear()
            self.used.clear()
            self.elements.clear()
            self._attempts.clear()
        self.store.clear()
        self._ledger.clear()
        self._stats.clear()
        self._install_faults(self._config)

    def close(self) -> None:
        """Stop the render threads and remove the private folder."""
        self.executor.shutdown(wait=True, cancel_futures=True)
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
