"""The journal: a write-ahead log of requests sent, so a killed build never pays twice.

Place in the pipeline: execute writes it around every paid request; plan and build read it
(a take sent before a build stopped is ``resume``).

Before a request is sent, its task UUID and take key are appended to
``.storyboard/journal/NAME.jsonl`` and synced to disk (``submit``); when the service has
answered that it holds the task, ``accepted`` follows; when the result is safely in the
cache, ``done``. A build that finds a ``submit`` without an outcome re-uses that task UUID:
the client re-sends it, the service answers ``conflictTaskUUID`` if it had accepted it, and
the build polls for the result it already paid for. Only a definitive refusal or failure
from the service (``failed``) lets a later build mint a new UUID.

A request that never left this machine (the connection was refused, or the name did not
resolve, before a byte of it was written; or an input could not be uploaded) gets
``unsent``: it stays in the journal under its UUID, and the next build sends it as new (the
plan says ``generate``, and counts its cost as a new charge) under the same UUID, so that
even a wrong ``unsent`` can never pay twice. What a pending request is, for the plan and
``--max-cost``, is its :attr:`Pending.state`.

A journal that cannot be read is an error, never an empty journal: it may be the only record
of a request that was paid for. Each line is checked (:func:`parse`); a record cut short (a
crash mid-write, or a file truncated) is recovered when its task UUID survived, and ignored
when it was a ``done`` or ``failed`` (the request stays pending: asking again under its UUID
never pays twice). Anything else, a ``submit`` whose UUID is lost, a record without its
``task_uuid``, a line that is no record, stops ``plan`` and ``build`` with its
``FILE:LINE:COL`` before anything is sent; ``storyboard doctor --fix`` repairs it. A journal
that is not UTF-8 text stops them too, at its first byte that cannot be read; the doctor
leaves that one for a person to mend (the line may hold a paid request's task UUID).
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from storyboard.backends.namespaces import endpoint_form
from storyboard.build.state.safe import NotText, Tree, cannot_read, load_json
from storyboard.core.diagnostics import Diagnostic, Position, display_path
from storyboard.core.errors import BuildError, InputError
from storyboard.core.files import disk_error, write_all

EVENTS = ("submit", "accepted", "unsent", "done", "failed")
#: What a pending request is known to be: ``submitted`` (journaled, maybe sent: the service
#: may hold it or not), ``accepted`` (the service answered that it holds it: paid for, or
#: about to be) or ``unsent`` (no byte of it left this machine: nothing was paid).
State = Literal["submitted", "accepted", "unsent"]


@dataclass(frozen=True)
class Pending:
    """A request that was (or may have been) sent and has no outcome yet."""

    key: str
    task_uuid: str
    take: str
    state: State = "submitted"
    endpoint: str = ""
    """The URL it was sent to (redacted), as the journal names it."""
    backend: str = ""
    """The backend's namespace it was sent by, as the journal names it."""

    @property
    def accepted(self) -> bool:
        """The service said it holds this task: resuming it is not a new charge."""
        return self.state == "accepted"

    @property
    def unsent(self) -> bool:
        """No byte of it was sent: the next build sends it as a new request."""
        return self.state == "unsent"


@dataclass(frozen=True)
class JournalProblem:
    """A line of a journal that cannot be used as it is."""

    line: int
    message: str
    fatal: bool
    """Whether a build must stop (a paid request may hang on it) or may go on."""
    salvaged: dict[str, Any] | None = None
    """The record recovered from a line cut short, when its task UUID survived."""


def parse(text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[JournalProblem]]:
    """The journal's records ``(line, record)`` in order, and every problem found.

    A recovered record (see the module docstring) is among the records as well as among
    the problems (not fatal), so that a repair writes it whole.
    """
    records: list[tuple[int, dict[str, Any]]] = []
    problems: list[JournalProblem] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            event = load_json(line)
        except ValueError:
            problem = _cut_short(line, number)
            problems.append(problem)
            if problem.salvaged is not None:
                records.append((number, problem.salvaged))
            continue
        why = _invalid(event)
        if why is not None:
            problems.append(JournalProblem(number, why, fatal=True))
            continue
        records.append((number, event))
    return records, problems


def _invalid(event: Any) -> str | None:
    """Why a whole JSON line is not a usable record, or ``None``."""
    if not isinstance(event, dict):
        return "not a journal record (not a JSON object)"
    kind = event.get("event")
    if kind not in EVENTS:
        return f"not a journal record (event {kind!r})"
    for name in ("backend", "endpoint", "key", "task_uuid"):
        if not isinstance(event.get(name), str) or not (event[name] or name == "endpoint"):
            take = event.get("take")
            what = f" of take '{take}'" if isinstance(take, str) else ""
            lost = (
                ": a request that may have been paid for cannot be resumed without it"
                if kind == "submit" and name == "task_uuid"
                else ""
            )
            return f"a '{kind}' record{what} without its {name}{lost}"
    return None


_FIELD = re.compile(r'"(backend|endpoint|event|key|take|task_uuid)": "((?:[^"\\]|\\.)*)"')


def _cut_short(line: str, number: int) -> JournalProblem:
    """What to make of a line that is not whole JSON."""
    if not line.startswith('{"'):
        return JournalProblem(number, "not a journal record", fatal=True)
    fields: dict[str, Any] = {}
    for name, value in _FIELD.findall(line):
        try:
            fields[name] = json.loads(f'"{value}"')
        except ValueError:
            break
    kind = fields.get("event")
    if kind in ("done", "failed", "accepted", "unsent"):
        return JournalProblem(
            number,
            f"a '{kind}' record cut short (ignored: the request stays pending, and the next "
            "build asks for it again under its task UUID)",
            fatal=False,
        )
    whole = all(isinstance(fields.get(n), str) for n in ("backend", "endpoint", "key"))
    if kind == "submit" and whole and _UUID.fullmatch(str(fields.get("task_uuid", ""))):
        fields.setdefault("take", "?")
        return JournalProblem(
            number, "a 'submit' record cut short, recovered whole", fatal=False, salvaged=fields
        )
    take = fields.get("take")
    what = f" of take '{take}'" if isinstance(take, str) else ""
    return JournalProblem(
        number,
        f"a record{what} cut short, whose task UUID is lost: it may be a request that was "
        "sent and paid for, which no build can resume",
        fatal=True,
    )


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def pending_of(
    records: list[tuple[int, dict[str, Any]]], *, backend: str, endpoint: str | None = None
) -> dict[str, Pending]:
    """The requests of ``backend`` (at ``endpoint``, if given: the same endpoint by
    :func:`~storyboard.backends.namespaces.endpoint_form`) with no outcome, by key."""
    wanted = endpoint_form(endpoint) if endpoint is not None else None
    pending: dict[str, Pending] = {}
    for _, event in records:
        if event.get("backend") != backend:
            continue
        at = str(event.get("endpoint", ""))
        if wanted is not None and endpoint_form(at) != wanted:
            continue
        key = str(event["key"])
        kind = event["event"]
        if kind == "submit":
            take = str(event.get("take", "?"))
            pending[key] = Pending(key, str(event["task_uuid"]), take, endpoint=at, backend=backend)
            continue
        found = pending.get(key)
        if found is None or found.task_uuid != event.get("task_uuid"):
            continue
        if kind == "accepted":
            pending[key] = replace(found, state="accepted")
        elif kind == "unsent":
            if found.state != "accepted":  # what the service said it holds, it holds
                pending[key] = replace(found, state="unsent")
        else:
            del pending[key]
    return pending


ABANDONED = "given up by the writer (storyboard doctor --abandon)"
"""The reason of the ``failed`` record of a request given up."""

_AGAIN = 0.05
"""How long a reader waits before reading again a journal whose last line is being written."""


def read_records(
    path: Path, *, tree: Tree | None = None, hint: str = ""
) -> list[tuple[int, dict[str, Any]]]:
    """Every usable record of the journal at ``path`` (none when it is missing).

    Raises:
        InputError: a line cannot be read and a paid request may hang on it (or the journal
            is not UTF-8 text), with its ``FILE:LINE:COL`` and ``hint`` (how to repair it);
            nothing may be sent.
        UnsafePath: the journal, or a folder on its way, is a symlink.
    """
    name = display_path(path)
    for attempt in range(2):
        try:
            text = (tree or Tree.around(path)).read_text(path)
        except NotText as exc:  # (records are written in ASCII: no write half done makes it)
            message = (
                f"the journal is {exc.what}: that line may record a request that was sent and "
                "paid for"
            )
            where = Position(name, exc.line, exc.col)
            raise InputError([Diagnostic(where, message + (f"; {hint}" if hint else ""))]) from None
        except OSError as exc:  # there, but not readable: never an empty journal
            message = f"the journal {cannot_read(path, exc)}; nothing was sent"
            raise InputError([Diagnostic(Position(name, 1, 1), message)]) from None
        if text is None:
            return []
        records, problems = parse(text)
        fatal = [p for p in problems if p.fatal]
        last = text.count("\n") + 1  # the number of a last line with no line break yet
        if attempt == 0 and fatal and not text.endswith("\n") and {p.line for p in fatal} == {last}:
            # Another build may be appending that line right now (plan and a build's own plan
            # read the journal without the project's lock): a reader can see part of a write
            # that spans two pages. Read once more; a line a killed build cut short stays so.
            time.sleep(_AGAIN)
            continue
        break
    if fatal:
        raise InputError(
            Diagnostic(Position(name, p.line, 1), p.message + (f"; {hint}" if hint else ""))
            for p in fatal
        )
    return records


def read_pending(
    path: Path,
    *,
    backend: str,
    endpoint: str | None = None,
    tree: Tree | None = None,
    hint: str = "",
) -> dict[str, Pending]:
    """The requests of ``backend`` (at ``endpoint``, if given) that a journal records as
    sent, or about to be, with no outcome yet, by take key. Raises as :func:`read_records`."""
    records = read_records(path, tree=tree, hint=hint)
    return pending_of(records, backend=backend, endpoint=endpoint)


def give_up(
    path: Path, requests: list[Pending], *, tree: Tree, staging: Path | None = None
) -> None:
    """Give up pending requests at the writer's word (``storyboard doctor --abandon``, under
    the project lock): a ``failed`` record for each, so the next build sends their takes as
    new requests, under new task UUIDs, and pays for them again. Never done by a build on its
    own. All or none: the journal is written whole with the new records and renamed into
    place (a full disk leaves it as it was).

    Raises:
        BuildError: it could not be written (nothing was given up).
        UnsafePath: the journal, or a folder on its way, is a symlink.
    """
    now = time.time()
    lines = "".join(
        json.dumps(
            {"event": "failed", "key": r.key, "task_uuid": r.task_uuid, "reason": ABANDONED,
             "backend": r.backend, "endpoint": r.endpoint, "time": now},
            sort_keys=True,
        ) + "\n"
        for r in requests
    )  # fmt: skip
    text = tree.read_text(path) or ""
    if text and not text.endswith("\n"):
        text += "\n"  # end a torn last line, or the first record is lost with it
    tree.write_atomic(path, (text + lines).encode(), staging=staging)


class Journal:
    """Append-only, fsync'd JSON lines, scoped to one backend endpoint.

    Raises (on construction) as :func:`read_records`.
    """

    def __init__(
        self,
        path: Path,
        *,
        backend: str,
        endpoint: str,
        tree: Tree | None = None,
        staging: Path | None = None,
        hint: str = "",
    ) -> None:
        self.path = path
        self.backend = backend
        self.endpoint = endpoint
        self.tree = tree or Tree.around(path)
        self.staging = staging
        records = read_records(path, tree=self.tree, hint=hint)
        self._pending = pending_of(records, backend=backend, endpoint=endpoint)
        self.elsewhere = self._elsewhere(records)
        """The requests of this backend's namespace pending at another endpoint (another
        path on the same server), by key: this build cannot resume them there, and must not
        send them anew (see :meth:`refuse_elsewhere`), not even one that is unsent here. An
        unsent one was never sent: it may be sent again here."""

    def _elsewhere(self, records: list[tuple[int, dict[str, Any]]]) -> dict[str, Pending]:
        """:attr:`elsewhere`, read endpoint by endpoint: a key's request pending at another
        endpoint counts whatever was written for the key after it, elsewhere or here."""
        endpoints = [
            str(e.get("endpoint", "")) for _, e in records if e.get("backend") == self.backend
        ]
        others = {endpoint_form(at): at for at in endpoints}
        others.pop(endpoint_form(self.endpoint), None)
        found: dict[str, Pending] = {}
        for other in others.values():
            for key, there in pending_of(records, backend=self.backend, endpoint=other).items():
                mine = self._pending.get(key)
                if not there.unsent and (mine is None or mine.unsent):
                    found.setdefault(key, there)
        return found

    def refuse_elsewhere(self, keys: list[str]) -> None:
        """Refuse to go on if a request for one of ``keys`` is pending at another endpoint.

        Raises:
            BuildError: naming the takes and the endpoint: sending them here could pay for a
                result the other endpoint already made.
        """
        stranded = [self.elsewhere[k] for k in dict.fromkeys(keys) if k in self.elsewhere]
        if not stranded:
            return
        takes = ", ".join(f"'{p.take}'" for p in stranded)
        where = sorted({p.endpoint or "an unnamed endpoint" for p in stranded})
        raise BuildError(
            f"take {takes}: a request is pending at {' and '.join(where)}, which this build "
            f"(at {self.endpoint}) cannot resume; build with RUNWARE_BASE_URL set to it to "
            "resume without paying again, or `storyboard doctor` to see the journal; "
            "nothing was sent"
        )

    def pending(self, key: str) -> Pending | None:
        """The request already sent for ``key`` with no outcome yet, if any."""
        return self._pending.get(key)

    def submit(self, take: str, key: str, task_uuid: str) -> None:
        """Record a request about to be sent (durably, before it is sent)."""
        self._append({"event": "submit", "take": take, "key": key, "task_uuid": task_uuid})
        self._pending[key] = Pending(key, task_uuid, take)

    def accepted(self, key: str, task_uuid: str) -> None:
        """The service answered that it holds the task (its ACK, or ``conflictTaskUUID`` to a
        resend): resuming it is no new charge."""
        found = self._pending.get(key)
        if found is None or found.task_uuid != task_uuid or found.accepted:
            return
        self._append({"event": "accepted", "key": key, "task_uuid": task_uuid})
        self._pending[key] = replace(found, state="accepted")

    def unsent(self, key: str, task_uuid: str, reason: str) -> None:
        """No byte of the request was written (connection refused, name not resolved, an
        input not uploaded): the next build sends it as new, under the same UUID."""
        found = self._pending.get(key)
        if found is None or found.task_uuid != task_uuid or found.state != "submitted":
            return  # only a request this build was the first to send can be known unsent
        self._append({"event": "unsent", "key": key, "task_uuid": task_uuid, "reason": reason})
        self._pending[key] = replace(found, state="unsent")

    def done(self, key: str, task_uuid: str) -> None:
        self._append({"event": "done", "key": key, "task_uuid": task_uuid})
        self._pending.pop(key, None)

    def failed(self, key: str, task_uuid: str, reason: str) -> None:
        """The service refused or failed the request for good: a new UUID may be used."""
        self._append({"event": "failed", "key": key, "task_uuid": task_uuid, "reason": reason})
        self._pending.pop(key, None)

    def compact(self) -> None:
        """Rewrite the journal with only the requests still pending (all backends kept).

        A journal with a line that cannot be read is left as it is: compacting never drops
        what it does not understand.
        """
        try:
            text = self.tree.read_text(self.path)
        except (NotText, OSError):  # what cannot be read is left as it is
            return
        if text is None:
            return
        records, problems = parse(text)
        if any(p.fatal for p in problems):
            return
        keep: dict[tuple[Any, Any, Any], list[dict[str, Any]]] = {}
        for _, event in records:
            at = event.get("endpoint")
            scope = (
                event.get("backend"),
                endpoint_form(at) if isinstance(at, str) else at,
                event.get("key"),
            )
            if event["event"] == "submit":
                keep[scope] = [event]
            elif scope in keep and keep[scope][0].get("task_uuid") == event.get("task_uuid"):
                if event["event"] in ("accepted", "unsent"):  # its state, kept with it
                    keep[scope].append(event)
                else:
                    del keep[scope]
        body = "".join(
            json.dumps(e, sort_keys=True) + "\n" for events in keep.values() for e in events
        )
        if body != text:
            self.tree.write_atomic(self.path, body.encode(), staging=self.staging)

    def _append(self, event: dict[str, Any]) -> None:
        """Append one record and sync it; it is on disk, whole, when this returns.

        Raises:
            BuildError: it could not be written (full or read-only disk, a symlink in its
                place): nothing that depends on it may go ahead (a request is not sent).
        """
        record = {**event, "backend": self.backend, "endpoint": self.endpoint, "time": time.time()}
        data = (json.dumps(record, sort_keys=True) + "\n").encode()
        try:
            fd = self.tree.open(
                self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, create_parents=True
            )
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data  # end a torn last line, or this record is lost with it
                write_all(fd, data)  # a short write on a full disk must not pass for a record
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise disk_error(exc, f"write the journal {self.path}") from exc
