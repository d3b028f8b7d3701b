"""Trust nothing the provider sends: results, answers, URLs and redirects that lie.

The real client and executor build a small film against the emulator over loopback while
the emulator sends what a broken or hostile service could: a result that is an ``ftyp`` box
and noise, answers and downloads trickling a byte at a time, result URLs carrying a token,
more results than asked for, costs of NaN, Infinity, -1000, ``"1e308"`` or a thousand
dollars, and redirects to another loopback port or to inner addresses.

Each case must end cleanly: the take fails with a message that names what went wrong (and
the paid task's UUID), nothing bad is cached or locked, the paid task stays pending in the
journal (never sent again as a new paid task), nothing hangs, and no secret is written.
Names are resolved by a stub resolver: nothing connects anywhere but loopback.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

import storyboard.build.execute
from storyboard.backends.namespaces import namespace
from storyboard.backends.runware.backend import RunwareBackend
from storyboard.backends.runware.client import RetryPolicy, RunwareClient
from storyboard.backends.runware.poll import PollPolicy
from storyboard.build.pipeline import BuildResult, build
from storyboard.build.state.cache import Cache
from storyboard.build.state.journal import read_pending
from storyboard.core.events import Event, TakeDone, TakeFailed
from storyboard.emulator.server import EmulatorServer
from tests.backends.runware.fakes import StubResolver
from tests.faults.conftest import Figures
from tests.faults.films import double_charges
from tests.faults.runner import FILM_SCALE
from tests.faults.test_secrets import search

Project = Callable[[dict[str, str | bytes]], Path]

FILM = """\
storyboard: 1
title: Untrusted
defaults: {duration: 3}
shots:
  - {id: one, prompt: '[one] a lighthouse at dusk'}
  - {id: two, prompt: '[two] waves on the rocks below'}
"""
#: No build of this suite may take longer; one that does is a hang.
HANG_LIMIT = 60.0
BASE_SECRET = "sig-BASE-URL-SECRET-4e1f77a2c9d0"
RESULT_TOKEN = "tok-RESULT-URL-SECRET-93b0d1e6f245"


@dataclass
class Run:
    """One build and everything it left: outcome, events, time, the journal's pending."""

    result: BuildResult | None
    events: list[Event]
    seconds: float
    hung: bool
    pending: dict[str, str] = field(default_factory=dict)

    def failed(self, take: str) -> str:
        assert self.result is not None
        outcome = self.result.outcomes[take]
        assert outcome.status == "failed", (take, outcome.status, outcome.message)
        return outcome.message


class Bench:
    """A project of two takes, built against the emulator with a quick, strict client."""

    def __init__(self, root: Path, emulator: EmulatorServer, base_url: str) -> None:
        self.root = root
        self.film = root / "film.yaml"
        self.emulator = emulator
        self.base_url = base_url
        self.resolver = StubResolver({"metadata.test": ["169.254.169.254"]})

    def backend(self, **options: Any) -> RunwareBackend:
        options.setdefault("request_deadline", 5.0)
        options.setdefault("download_deadline", 10.0)
        client = RunwareClient(
            self.emulator.api_key,
            base_url=self.base_url,
            timeout=10.0,  # per read: a trickle never trips it, only the deadlines can
            poll=PollPolicy(first_delay=0.1, multiplier=1.2, max_interval=0.3, deadline=30),
            retry=RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.2, jitter=0.05),
            resolver=self.resolver,
            **options,
        )
        return RunwareBackend(client)

    def build(self, **options: Any) -> Run:
        """One build (takes one at a time: the first job is take 'one'), in a thread that
        is given :data:`HANG_LIMIT` seconds."""
        events: list[Event] = []
        box: dict[str, Any] = {}
        backend = self.backend(**options)

        def run() -> None:
            try:
                box["result"] = build(
                    self.film, backend=backend, jobs=1, keep_going=True,
                    film_scale=FILM_SCALE, emit=events.append,
                )  # fmt: skip
            except BaseException as exc:  # reported below, in the test's thread
                box["error"] = exc

        started = time.monotonic()
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        thread.join(HANG_LIMIT)
        seconds = time.monotonic() - started
        if "error" in box:
            raise box["error"]
        journal = self.root / ".storyboard" / "journal" / "film.jsonl"
        pending = read_pending(journal, backend=namespace("runware", base_url=self.base_url))
        return Run(
            box.get("result"), events, seconds, thread.is_alive(),
            {p.take: p.task_uuid for p in pending.values()},
        )  # fmt: skip

    def cached(self, run: Run, take: str) -> bool:
        assert run.result is not None
        key = run.result.prepared.keys[take]
        ns = namespace("runware", base_url=self.base_url)
        return Cache(self.root / ".storyboard" / "cache").get(ns, key) is not None

    def locked(self) -> dict[str, Any]:
        """The lock's takes, read as strict JSON (NaN or Infinity in it is an error)."""
        path = self.film.with_suffix(".lock")
        if not path.exists():
            return {}
        header, *lines = path.read_text(encoding="utf-8").splitlines()
        json.loads(header, parse_constant=_refuse_constant)
        entries = [
            json.loads(line, parse_constant=_refuse_constant)
            for line in lines
            if line.startswith("{")  # version 2: `# TAKE`, the entry's JSON line, a blank line
        ]
        return {entry["take"]: entry for entry in entries}

    def billed_tasks(self) -> list[str]:
        return [e.task_uuid for e in self.emulator.ledger() if e.cost > 0 and not e.dry_run]

    def downloads(self) -> dict[str, int]:
        return dict(self.emulator.stats()["downloads"])


def _refuse_constant(name: str) -> float:
    raise ValueError(f"the lock holds {name}, which is not JSON")


@pytest.fixture
def bench(
    project: Project, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Bench]:
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    root = project({"film.yaml": FILM})
    yield Bench(root, emulator, emulator.base_url)


def _figures(
    figures: Figures, tried: int, clean: int, runs: list[Run], bench: Bench,
    double: int | None = None,
) -> None:  # fmt: skip
    figures.add("provider faults tried", tried)
    figures.add("refused cleanly", clean)
    figures.add("hangs", sum(r.hung for r in runs))
    figures.add("double charges", double_charges(bench.emulator) if double is None else double)
    figures.add("longest build (s)", round(max(r.seconds for r in runs), 2))


# -- item 8: a result that is not a video ------------------------------------------------------


def test_a_corrupt_result_is_never_cached_locked_or_bought_again(
    bench: Bench, figures: Figures
) -> None:
    bench.emulator.add_fault("corrupt-result", times=1)  # the first job: take 'one'
    first = bench.build()
    message = first.failed("one")
    task = first.pending.get("one")
    # the take names the paid task, says the money was spent and what happens next
    assert task is not None and task in message, (message, first.pending)
    assert "not a usable video" in message and "paid for" in message
    assert "next build" in message and "no charge" in message
    assert "ftyp" not in message and "\\x" not in message  # no bytes of the body
    assert not bench.cached(first, "one") and "one" not in bench.locked()
    assert bench.cached(first, "two") and "two" in bench.locked()
    # the next build asks for the same (paid) task again, gets the same broken file, refuses
    # it again, and pays for nothing new
    second = bench.build()
    assert task in second.failed("one") and second.pending.get("one") == task
    assert not bench.cached(second, "one") and "one" not in bench.locked()
    assert sorted(bench.billed_tasks()).count(task) == 1 and len(bench.billed_tasks()) == 2
    runs = [first, second]
    _figures(figures, 1, 1, runs, bench)
    figures.add("bad results cached or locked", int(bench.cached(second, "one")))
    assert not any(r.hung for r in runs) and double_charges(bench.emulator) == 0


def test_a_locked_result_that_is_not_a_video_leaves_the_lock(
    bench: Bench, figures: Figures
) -> None:
    """A result an older version locked as good: downloaded from the lock, its bytes match
    the lock's sha256, and it is still refused (and its entry leaves the lock)."""
    good = bench.build()
    assert good.result is not None and good.result.ok
    # a corrupt paid result on the emulator: a job of its own, sent by the client
    bench.emulator.add_fault("corrupt-result", times=1)
    request = good.result.prepared.compiled.takes[0].request

    async def corrupt_result() -> str:
        async with bench.backend().client as client:
            task = str(uuid.uuid4())
            await client.submit(request, task)
            (video,) = await client.wait(task)
            assert video.video_url is not None
            return video.video_url

    url = asyncio.run(corrupt_result())
    data = httpx.get(url, timeout=10).content  # loopback: the emulator
    lock_path = bench.film.with_suffix(".lock")
    lines = lock_path.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):  # version 2: one JSON line per take
        entry = json.loads(line) if line.startswith("{") else None
        if entry is not None and entry.get("take") == "one":
            entry["results"][0].update(
                url=url, sha256=hashlib.sha256(data).hexdigest(), bytes=len(data)
            )
            lines[index] = json.dumps(entry)
    lock_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ns = namespace("runware", base_url=bench.base_url)
    shutil.rmtree(
        Cache(bench.root / ".storyboard" / "cache").folder(ns, good.result.prepared.keys["one"])
    )
    billed = len(bench.billed_tasks())

    again = bench.build()
    message = again.failed("one")
    assert "not a usable video" in message and "leaves the lock" in message, message
    assert "one" not in bench.locked() and not bench.cached(again, "one")
    assert len(bench.billed_tasks()) == billed  # nothing was sent for it
    # (the test itself paid a second job of take 'one', to have a corrupt file to lock)
    _figures(figures, 1, 1, [good, again], bench, double=len(bench.billed_tasks()) - billed)
    figures.add("bad results cached or locked", int("one" in bench.locked()))


# -- item 9: answers and downloads that trickle ------------------------------------------------


def test_trickling_answers_and_downloads_end_at_their_deadline(
    bench: Bench, figures: Figures
) -> None:
    # A byte every 0.25 s: httpx's read timeout (10 s) restarts with each one, forever.
    bench.emulator.set_faults("trickle*1:delay=0.25,poll-trickle*2:delay=0.25")
    options = {"request_deadline": 1.0, "download_deadline": 1.5}
    answers = bench.build(**options)
    assert not answers.hung and answers.result is not None
    # the trickled ACK ran out its deadline; the retry found the task accepted
    # (conflictTaskUUID) and the build went on: one charge per take
    assert answers.result.ok, [o.message for o in answers.result.failed]
    assert answers.seconds < 20 and len(bench.billed_tasks()) == 2
    fired = bench.emulator.stats()["faults"]
    assert fired.get("trickle") == 1 and fired.get("poll-trickle") == 2, fired

    # A download that trickles: the take fails, naming what it waited on, and stays pending.
    bench.emulator.reset()
    shutil.rmtree(bench.root / ".storyboard")
    bench.film.with_suffix(".lock").unlink()
    bench.emulator.add_fault("download-trickle", times=1, delay=0.25)
    stalled = bench.build(**options)
    assert not stalled.hung
    message = stalled.failed("one")
    assert "download of" in message and "did not complete within 1.5 s" in message, message
    assert "RUNWARE_DOWNLOAD_DEADLINE" in message
    failed = [e for e in stalled.events if isinstance(e, TakeFailed)]
    assert [e.take for e in failed] == ["one"]
    task = stalled.pending["one"]
    assert task in message and not bench.cached(stalled, "one")
    # the CDN is well again: the next build fetches the paid result, pays nothing more
    for job in bench.emulator.emulator.jobs.values():
        job.faults.clear()
    healed = bench.build(**options)
    assert healed.result is not None and healed.result.ok
    assert healed.pending == {} and bench.billed_tasks().count(task) == 1
    assert len(bench.billed_tasks()) == 2
    runs = [answers, stalled, healed]
    _figures(figures, 4, 4, runs, bench)
    assert max(r.seconds for r in runs) < 30


def test_a_submit_that_never_completes_stays_pending_and_is_resumed(
    bench: Bench, figures: Figures
) -> None:
    """Every answer to the submit trickles (the retries' conflicts too): the deadline makes
    it ambiguous (the service holds the task), so it stays pending under its UUID and the
    next build resumes it, never sending it anew."""
    bench.emulator.set_faults("trickle:delay=0.5")
    cut_off = bench.build(request_deadline=0.8)
    assert not cut_off.hung
    message = cut_off.failed("one")
    assert "within 0.8 s" in message and "RUNWARE_REQUEST_DEADLINE" in message, message
    assert "may have reached Runware" in message
    task = cut_off.pending["one"]  # (take 'two' went the same way: --keep-going)
    assert task in message and sorted(bench.billed_tasks()) == sorted(cut_off.pending.values())
    bench.emulator.clear_faults()
    resumed = bench.build()
    assert resumed.result is not None and resumed.result.ok
    assert resumed.pending == {} and bench.billed_tasks().count(task) == 1
    assert len(bench.billed_tasks()) == 2 and double_charges(bench.emulator) == 0
    _figures(figures, 1, 1, [cut_off, resumed], bench)


# -- item 10: secrets in URLs ----------------------------------------------------------------


def test_tokens_of_result_urls_and_of_the_base_url_are_never_written(
    project: Project, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, figures: Figures,
) -> None:  # fmt: skip
    base_url = f"{emulator.base_url}?sig={BASE_SECRET}"
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", base_url)
    bench = Bench(project({"film.yaml": FILM}), emulator, base_url)
    emulator.set_faults(f"token-url:token={RESULT_TOKEN}")
    emulator.add_fault("download-trickle", times=1, delay=0.25)  # take 'one': a message
    caplog.set_level(logging.DEBUG)
    first = bench.build(download_deadline=1.0)
    message = first.failed("one")
    assert "download of" in message and "?[REDACTED]" in message, message
    healed = [job.faults.remove(r) for job in emulator.emulator.jobs.values()
              for r in list(job.faults) if r.kind == "download-trickle"]  # fmt: skip
    assert healed
    second = bench.build()
    assert second.result is not None and second.result.ok
    # the downloads needed the token (the emulator answers 403 without it): it was used
    assert emulator.stats()["downloads"].get("forbidden") is None
    lock = bench.locked()
    urls = [r["url"] for take in lock.values() for r in take["results"]]
    assert len(urls) == 2 and all(u.endswith("?[REDACTED]") for u in urls), urls
    printed = {
        "log records": "\n".join(
            f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records
        ).encode(),
        "events": "\n".join(repr(e) for r in (first, second) for e in r.events).encode(),
        "outcome messages": message.encode(),
    }
    found: list[str] = []
    count = 0
    for secret in (BASE_SECRET, RESULT_TOKEN):
        count, hits = search([bench.root], printed, secret)
        found += hits
    figures.add("files searched", count)
    figures.add("log records searched", len(caplog.records))
    figures.add("secrets persisted", len(found))
    _figures(figures, 2, 2, [first, second], bench)
    assert "HTTP Request" in printed["log records"].decode()  # httpx did log its URLs
    assert found == []


# -- item 11: counts and costs ----------------------------------------------------------------

ANSWERS: list[tuple[str, dict[str, Any], str]] = [
    ("extra-results", {"count": 25}, "25 results for numberResults 1"),
    ("bad-cost", {"cost": "NaN"}, "cost is nan"),
    ("bad-cost", {"cost": "Infinity"}, "cost is inf"),
    ("bad-cost", {"cost": "-1000"}, "cost is -1000"),
    ("bad-cost", {"cost": '"1e308"'}, "cost is a string"),
    ("bad-cost", {"cost": "1000"}, "reports a cost of $1,000"),
]


@pytest.mark.parametrize(("kind", "options", "said"), ANSWERS, ids=[a[2] for a in ANSWERS])
def test_counts_and_costs_are_checked_against_the_request(
    bench: Bench, figures: Figures, kind: str, options: dict[str, Any], said: str
) -> None:
    bench.emulator.add_fault(kind, times=1, **options)  # take 'one'
    first = bench.build()
    message = first.failed("one")
    assert "was refused" in message and said in message, message
    assert "Nothing of it was downloaded" in message and "pending" in message
    task = first.pending["one"]
    assert task in message
    # only take 'two' was downloaded; the lock is strict JSON and names only 'two'
    assert bench.downloads() == {"served": 1}
    assert list(bench.locked()) == ["two"] and not bench.cached(first, "one")
    done = {e.take: e.cost for e in first.events if isinstance(e, TakeDone)}
    assert list(done) == ["two"] and all(c is not None and 0 < c < 1 for c in done.values())
    # the next build asks the same paid task again: refused again, nothing new is paid
    second = bench.build()
    assert said in second.failed("one") and second.pending["one"] == task
    assert len(bench.billed_tasks()) == 2 and bench.downloads() == {"served": 1}
    _figures(figures, 1, 1, [first, second], bench)
    figures.add("bad results cached or locked", int("one" in bench.locked()))
    figures.add("extra results downloaded", bench.downloads().get("served", 0) - 1)


# -- item 12: redirects and inner addresses ----------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that records whether anything connected to it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def _connections(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def test_redirects_to_another_port_or_an_inner_address_are_refused_before_connecting(
    bench: Bench, figures: Figures, listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = listener.getsockname()[1]
    targets = [{"port": port}, {"host": "metadata.test"}]  # take 'one', take 'two'

    def uuid4() -> uuid.UUID:  # each task UUID the executor mints gets its redirect
        value = uuid.uuid4()
        if targets:
            bench.emulator.add_fault("redirect", task=str(value), **targets.pop(0))
        return value

    monkeypatch.setattr(storyboard.build.execute, "uuid", SimpleNamespace(uuid4=uuid4))
    first = bench.build()
    to_port, to_metadata = first.failed("one"), first.failed("two")
    assert f"loopback port {port}, not the emulator's ({bench.emulator.port})" in to_port
    assert "169.254.169.254" in to_metadata and "inner address" in to_metadata
    assert _connections(listener) == 0  # refused before connecting
    assert "metadata.test" in bench.resolver.asked  # resolved (by the stub), then refused
    for message in (to_port, to_metadata):
        assert "ftyp" not in message and "\\x" not in message
    assert bench.downloads() == {"redirected": 2}  # refusals are final: no retry, no file
    assert bench.locked() == {} and set(first.pending) == {"one", "two"}
    # a redirect on the emulator itself is followed; the paid tasks are resumed, not resent
    for job in bench.emulator.emulator.jobs.values():
        job.faults.clear()
    bench.emulator.set_faults("redirect")
    second = bench.build()
    assert second.result is not None and second.result.ok
    assert second.pending == {} and len(bench.billed_tasks()) == 2
    assert bench.downloads()["served"] == 2
    _figures(figures, 3, 3, [first, second], bench)
