"""Money safety (issue 13, items 4 and 5): the plan says whose money it counts, what may be
charged anew and what the provider already accepted; ``--max-cost`` counts only the former;
a request that never left this machine is journaled ``unsent``, planned as ``generate``, and
sent again under its task UUID.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard.backends.base import Job, Output, Ticket
from storyboard.backends.runware.errors import RunwareConnectionError, RunwareTimeoutError
from storyboard.build.pipeline import RESUME_ACCEPTED, RESUME_SUBMITTED, UNSENT, build, prepare
from storyboard.build.state.journal import Journal, read_pending
from storyboard.compiler.plan import Pricing, render_plan
from storyboard.core.errors import BuildError
from tests.build.fakes import FakePaidBackend
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]

FILM = """\
storyboard: 1
title: Money
shots:
  - {id: a, duration: 4, prompt: first shot}
  - {id: b, duration: 5, prompt: second shot}
  - {id: c, duration: 3, prompt: third shot}
"""
RATE = 0.112  # silent
A, B = "6f0c58a8-58a4-4d4b-9a4e-6f3b7a0c6f11", "0d1f6b7e-2f1c-4d0b-8f59-3e4f0a1b2c3d"


class Scripted(FakePaidBackend):
    """The fake paid backend; ``submit`` and ``collect`` raise what is scripted for a take."""

    def __init__(
        self,
        *,
        on_submit: dict[str, list[Exception]] | None = None,
        on_collect: dict[str, list[Exception]] | None = None,
    ) -> None:
        super().__init__()
        self.on_submit = on_submit or {}
        self.on_collect = on_collect or {}

    async def submit(self, job: Job) -> Ticket:
        self.submitted.append(job)
        queue = self.on_submit.get(job.take)
        if queue:
            raise queue.pop(0)
        return Ticket(job)

    async def collect(self, ticket: Ticket, folder: Path) -> list[Output]:
        queue = self.on_collect.get(ticket.job.take)
        if queue:
            raise queue.pop(0)
        return await super().collect(ticket, folder)


def refused() -> RunwareConnectionError:
    """What the client raises when every attempt's connection was refused."""
    return RunwareConnectionError(
        "Runware submit: cannot connect to http://127.0.0.1:9/v1 (ConnectError), 3 attempts: "
        "nothing was sent",
        not_sent=True,
    )


def records(root: Path) -> list[dict[str, Any]]:
    path = root / ".storyboard" / "journal" / "film.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line]


@pytest.fixture
def film(project: Project) -> Path:
    return project({"film.yaml": FILM}) / "film.yaml"


# -- item 4: whose money ----------------------------------------------------------------------


def test_the_plan_names_whose_money_it_counts(
    film: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNWARE_API_KEY", raising=False)
    monkeypatch.delenv("RUNWARE_BASE_URL", raising=False)
    free = run_cli("plan", str(film))
    assert free.status == 0, free.err
    assert free.out.splitlines()[0] == (
        "pricing against preview@0.25 (offline previews): free; each cost is what Runware "
        "would charge"
    )
    assert "may be charged anew: $0.0000 (offline previews are free)" in free.out

    monkeypatch.setenv("RUNWARE_API_KEY", "a-key-that-is-never-used")
    real = run_cli("plan", str(film))
    assert real.out.splitlines()[0] == (
        "pricing against runware (https://api.runware.ai/v1): real money, charged to your "
        "Runware account"
    )
    assert "total: $1.3440\nmay be charged anew: $1.3440\n" in real.out
    document = json.loads(run_cli("plan", str(film), "--json").out)
    assert document["backend"] == {
        "name": "runware", "namespace": "runware", "endpoint": "https://api.runware.ai/v1",
        "paid": True, "real_money": True,
    }  # fmt: skip
    assert document["total"] == document["chargeable"] == pytest.approx(12 * RATE)
    assert all(take["chargeable"] for take in document["takes"])

    # another server: its URL, and not said to be real money; a secret in the URL not shown
    monkeypatch.setenv("RUNWARE_BASE_URL", "http://127.0.0.1:8787/v1?sig=SECRET-SIG-123")
    other = run_cli("plan", str(film), "--json")
    backend = json.loads(other.out)["backend"]
    assert backend["namespace"] == "runware@127.0.0.1:8787"
    assert backend["paid"] and not backend["real_money"]
    assert "SECRET-SIG-123" not in other.out
    text = run_cli("plan", str(film)).out.splitlines()[0]
    assert text.startswith("pricing against runware@127.0.0.1:8787 (http://127.0.0.1:8787/v1?")
    assert "not Runware's own" in text and "SECRET-SIG-123" not in text

    preview = json.loads(run_cli("plan", str(film), "--json", "--backend", "preview").out)
    assert preview["backend"]["paid"] is False and preview["chargeable"] == 0


def test_a_task_the_provider_accepted_is_not_charged_anew(film: Path) -> None:
    space = "runware@127.0.0.1:9"
    before = prepare(film, backend_name=space)
    keys = before.keys
    journal = Journal(before.workspace.journal, backend=space, endpoint="http://127.0.0.1:9/v1")
    journal.submit("a", keys["a"], A)
    journal.accepted(keys["a"], A)  # the service answered: it holds task A
    journal.submit("b", keys["b"], B)  # journaled, maybe sent

    plan = prepare(film, backend_name=space).plan
    standing = {i.take.id: (i.status, i.reason, i.chargeable) for i in plan.items}
    assert standing == {
        "a": ("resume", RESUME_ACCEPTED, False),
        "b": ("resume", RESUME_SUBMITTED, True),
        "c": ("generate", "new", True),
    }
    assert plan.total == pytest.approx(12 * RATE)
    assert plan.chargeable == pytest.approx(8 * RATE)  # all but a's 4 s
    table = render_plan(plan)
    assert "total: $1.3440\n" in table
    assert (
        "may be charged anew: $0.8960 (the provider already accepted a: resuming is no new "
        "charge)\n"
    ) in table
    document = plan.to_json()
    assert document["chargeable"] == pytest.approx(0.896)
    assert [t["chargeable"] for t in document["takes"]] == [False, True, True]


def test_max_cost_counts_only_what_may_be_charged_anew(film: Path) -> None:
    first = prepare(film, backend_name="fake")
    journal = Journal(first.workspace.journal, backend="fake", endpoint="fake://")
    journal.submit("a", first.keys["a"], A)
    journal.accepted(first.keys["a"], A)
    # 12 s in all ($1.344), 8 s of it new ($0.896): a budget of $1 is enough
    backend = FakePaidBackend()
    result = build(film, backend=backend, max_cost=1)
    assert result.ok
    resumed = [job for job in backend.submitted if job.take == "a"]
    assert [(job.task_uuid, job.resumed) for job in resumed] == [(A, True)]

    # two takes changed, one of them accepted already: 3 s of 7 may be charged anew
    film.write_text(FILM.replace("first shot", "first shot again").replace("third", "3rd"))
    changed = prepare(film, backend_name="fake")
    journal = Journal(changed.workspace.journal, backend="fake", endpoint="fake://")
    journal.submit("a", changed.keys["a"], B)
    journal.accepted(changed.keys["a"], B)
    with pytest.raises(BuildError) as refused_budget:
        build(film, backend=FakePaidBackend(), max_cost=0.3)
    message = str(refused_budget.value)
    assert message.startswith("the estimate of what may be charged anew (fake) is $0.3360")
    assert "($0.7840 in all, less a, which the provider already accepted)" in message
    assert message.endswith("over --max-cost $0.3000; nothing was sent")


def test_the_journal_says_when_the_provider_accepted_a_task(film: Path) -> None:
    # b: accepted, then its result was lost (may still run); c: its submit's answer was lost
    lost = RunwareTimeoutError("no answer in time", may_be_running=True)
    backend = Scripted(on_submit={"c": [lost]}, on_collect={"b": [lost]})
    result = build(film, backend=backend, keep_going=True)
    assert {k: o.status for k, o in result.outcomes.items()} == {
        "a": "generated", "b": "failed", "c": "failed",
    }  # fmt: skip
    events = [(r["event"], r.get("take", "")) for r in records(film.parent)]
    assert events == [("submit", "b"), ("accepted", ""), ("submit", "c")]  # compacted
    plan = prepare(film, backend_name="fake").plan
    assert {i.take.id: (i.status, i.accepted) for i in plan.items} == {
        "a": ("cached", False), "b": ("resume", True), "c": ("resume", False),
    }  # fmt: skip
    assert plan.total == pytest.approx(8 * RATE) and plan.chargeable == pytest.approx(3 * RATE)


# -- item 5: a request that never left this machine --------------------------------------------


def test_a_request_never_sent_is_planned_as_new_and_sent_under_its_uuid(film: Path) -> None:
    backend = Scripted(on_submit={"a": [refused()]})
    result = build(film, backend=backend, select=["a"])
    assert result.outcomes["a"].status == "failed"
    assert "nothing was sent" in result.outcomes["a"].message
    (job,) = backend.submitted
    pending = read_pending(film.parent / ".storyboard" / "journal" / "film.jsonl", backend="fake")
    assert [(p.task_uuid, p.state) for p in pending.values()] == [(job.task_uuid, "unsent")]
    plan = prepare(film, backend_name="fake").plan
    item = plan.items[0]
    assert (item.status, item.reason, item.chargeable) == ("generate", UNSENT, True)
    assert "generate (not sent: a build could not reach the provider" in render_plan(plan)

    # the next build sends it as new (generating, not resuming) under the same UUID; the
    # backend is told the UUID may be known, so a conflictTaskUUID would mean "accepted"
    started: list[Any] = []
    again = Scripted()
    assert build(film, backend=again, select=["a"], emit=started.append).ok
    (job_again,) = again.submitted
    assert job_again.task_uuid == job.task_uuid and job_again.resumed
    (event,) = [e for e in started if type(e).__name__ == "TakeStarted"]
    assert not event.resumed


def test_a_request_an_earlier_build_sent_stays_to_resume_when_refused(film: Path) -> None:
    first = prepare(film, backend_name="fake")
    Journal(first.workspace.journal, backend="fake", endpoint="fake://").submit(
        "a", first.keys["a"], A
    )
    backend = Scripted(on_submit={"a": [refused()]})
    result = build(film, backend=backend, select=["a"])
    message = result.outcomes["a"].message
    assert f"the provider may hold task {A} from an earlier build" in message
    assert [r["event"] for r in records(film.parent)] == ["submit"]  # not called unsent
    plan = prepare(film, backend_name="fake").plan
    assert (plan.items[0].status, plan.items[0].reason) == ("resume", RESUME_SUBMITTED)


def test_pricing_of_a_namespace() -> None:
    assert Pricing.for_namespace("runware").real_money
    assert not Pricing.for_namespace("runware@127.0.0.1:8787").real_money
    assert not Pricing.for_namespace("preview@0.25").paid


def test_the_journal_keeps_what_the_provider_said_through_compaction(tmp_path: Path) -> None:
    path = tmp_path / "film.jsonl"
    journal = Journal(path, backend="x", endpoint="e")
    journal.submit("a", "ka", A)
    journal.accepted("ka", A)
    journal.unsent("ka", A, "refused")  # what the service said it holds, it holds
    journal.submit("b", "kb", B)
    journal.unsent("kb", B, "refused")
    journal.submit("c", "kc", "c-uuid")
    journal.done("kc", "c-uuid")
    journal.compact()
    kept = [json.loads(line)["event"] for line in path.read_text().splitlines()]
    assert kept == ["submit", "accepted", "submit", "unsent"]
    states = {p.take: p.state for p in read_pending(path, backend="x").values()}
    assert states == {"a": "accepted", "b": "unsent"}
    # a build that sends b again writes its submit anew: b is "maybe sent" again
    Journal(path, backend="x", endpoint="e").submit("b", "kb", B)
    assert read_pending(path, backend="x")["kb"].state == "submitted"


def test_an_acceptance_cut_short_leaves_the_request_to_resume(tmp_path: Path) -> None:
    path = tmp_path / "film.jsonl"
    Journal(path, backend="x", endpoint="e").submit("a", "ka", A)
    with path.open("a") as handle:
        handle.write('{"backend": "x", "endpoint": "e", "event": "accepted", "key": "ka", "ta')
    (pending,) = read_pending(path, backend="x").values()
    assert (pending.task_uuid, pending.state) == (A, "submitted")  # counted as a new charge


def test_a_task_accepted_before_and_refused_when_sent_again_stays_to_resume(film: Path) -> None:
    from storyboard.backends.runware.errors import RunwareValidationError

    first = prepare(film, backend_name="fake")
    journal = Journal(first.workspace.journal, backend="fake", endpoint="fake://")
    journal.submit("a", first.keys["a"], A)
    journal.accepted(first.keys["a"], A)
    expired = RunwareValidationError("invalidImageUUID: the uploaded image expired")
    result = build(film, backend=Scripted(on_submit={"a": [expired]}), select=["a"])
    assert result.outcomes["a"].status == "failed"
    assert f"accepted task {A} in an earlier build: it stays pending" in (
        result.outcomes["a"].message
    )
    # pending before this build too: the failure names the way to give it up
    assert "film.yaml --abandon a` gives it up" in result.outcomes["a"].message
    (pending,) = read_pending(first.workspace.journal, backend="fake").values()
    assert (pending.task_uuid, pending.state) == (A, "accepted")  # never a new UUID for it


# -- item 6, with a scripted backend (the emulator's case is in tests/e2e) ---------------------

REFUSALS = """\
storyboard: 1
title: Refusals
shots:
  - {id: pic, start: still.jpg, duration: 3, prompt: from a picture}
  - {id: plain, duration: 3, prompt: a plain prompt}
"""


def test_a_refused_image_is_pointed_at_and_a_refusal_of_no_value_is_not(
    project: Project,
) -> None:
    from storyboard.backends.runware.errors import RunwareSafetyError, RunwareValidationError
    from tests.conftest import tiny_jpeg

    root = project({"film.yaml": REFUSALS, "still.jpg": tiny_jpeg(640, 360)})
    film = root / "film.yaml"
    flagged = RunwareSafetyError(
        "imageBlocked: flagged", parameter="inputs.frameImages[0].image", may_be_running=False
    )
    used = RunwareValidationError("conflictTaskUUID: already used", parameter="taskUUID")
    backend = Scripted(on_collect={"pic": [flagged]}, on_submit={"plain": [used]})
    result = build(film, backend=backend, keep_going=True)
    pic, plain = result.outcomes["pic"], result.outcomes["plain"]
    assert pic.diagnostic is not None and pic.diagnostic.position is not None
    line = REFUSALS.splitlines()[3]
    assert (pic.diagnostic.position.line, pic.diagnostic.position.col) == (
        4,
        line.index("still.jpg") + 1,
    )
    assert "the start image of shot 'pic'" in pic.message
    assert "change or replace the start image of shot 'pic', then build again" in pic.message
    assert plain.status == "failed" and plain.diagnostic is None  # nothing of the storyboard


def test_a_content_refusal_that_names_nothing_points_at_the_take(film: Path) -> None:
    from storyboard.backends.runware.errors import RunwareSafetyError

    backend = Scripted(on_collect={"b": [RunwareSafetyError("moderationFailed: refused")]})
    result = build(film, backend=backend, select=["b"])
    outcome = result.outcomes["b"]
    assert outcome.diagnostic is not None and outcome.diagnostic.position is not None
    assert outcome.diagnostic.position.line == 5  # the shot 'b'
    assert "an input of take 'b' (the provider did not say which)" in outcome.message
    assert "change its prompt or its inputs, then build again" in outcome.message
