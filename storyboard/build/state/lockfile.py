"""The lock file ``NAME.lock``: which paid results a storyboard's takes are, for git.

Place in the pipeline: execute looks a take up here (after the cache) before paying for it;
build writes it after the takes ran. Per take: its key, the backend (namespace), the model,
the task UUID, the cost, and per variation the media's sha256 and size and the provider's
video UUID and URL. A teammate who clones the repository without the cache gets each locked
result downloaded (and its hash checked) instead of paying for it again. Free preview results
are never locked. The API key never appears here.

Version 2, written now, is made to merge: a header line, then per take, in the order of the
take ids, a line ``# TAKE``, the entry as one JSON line and a blank line. Two branches that
change, add or remove different takes change lines that unchanged lines (a take's own
``# TAKE`` line, the blank line after it) keep apart, so ``git merge`` joins them by itself.
No timestamps: a build that changes no entry leaves the file byte for byte (a version 1 lock,
the JSON object of earlier releases, is read as well and left as it is until an entry
changes).

Results are found by **key** (the request's content) and namespace, never by take id (kept
for people): a renamed shot, a renamed sequence, or two takes of one request find the result
the lock has for that request.

A lock that cannot be read is an error, never an empty lock: git conflict markers, a line
that is not an entry, an entry without its sha256, a byte that is not UTF-8... each one a
``FILE:LINE:COL`` diagnostic, before anything is sent. ``storyboard doctor`` repairs what
can be repaired without losing a paid result (:func:`repair`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storyboard.backends.namespaces import NAMESPACE
from storyboard.backends.runware.redact import redacted
from storyboard.build.state.safe import NotText, Tree, cannot_read, load_json
from storyboard.core.diagnostics import Diagnostic, Position, display_path
from storyboard.core.errors import BuildError, InputError

if TYPE_CHECKING:
    from storyboard.build.state.cache import CacheEntry

LOCK_VERSION = 2
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CONFLICT = ("<<<<<<<", "|||||||", "=======", ">>>>>>>")


@dataclass(frozen=True)
class LockedResult:
    video_uuid: str | None
    url: str | None
    sha256: str
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "bytes": self.bytes,
            "video_uuid": self.video_uuid,
            "url": self.url,
        }


@dataclass(frozen=True)
class LockedTake:
    """One paid result: found by ``(backend, key)``; ``take`` says which take it was made for."""

    key: str
    backend: str
    model: str
    task_uuid: str | None
    cost: float | None
    results: tuple[LockedResult, ...]
    take: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "take": self.take,
            "key": self.key,
            "backend": self.backend,
            "model": self.model,
            "task_uuid": self.task_uuid,
            "cost": self.cost,
            "results": [r.to_json() for r in self.results],
        }

    def sort_key(self) -> tuple[str, str, str]:
        return (self.take, self.backend, self.key)


def locked_take(entry: CacheEntry, take: str, model: str, backend: str | None = None) -> LockedTake:
    """What the lock file records of a cached take, which is also the remote's record of it:
    its key, provider UUIDs and cost, and each medium's sha256 and size, every URL redacted
    (the lock is committed and the remote shared, and a result URL's query may be a token).
    ``backend``: the namespace it is locked under (by default the cache entry's)."""
    return LockedTake(
        take=take,
        key=entry.key,
        backend=entry.backend if backend is None else backend,
        model=model,
        task_uuid=entry.task_uuid,
        cost=entry.cost,
        results=tuple(
            LockedResult(r.video_uuid, redacted(r.url), r.sha256, r.bytes) for r in entry.results
        ),
    )


@dataclass(frozen=True)
class LockProblem:
    """Why one place of a lock file cannot be read."""

    line: int
    col: int
    message: str
    take: str | None = None
    key: str | None = None
    backend: str | None = None
    conflict: bool = False


@dataclass
class LockFile:
    """The lock file of one storyboard."""

    path: Path
    storyboard: str
    entries: list[LockedTake] = field(default_factory=list)
    version: int = LOCK_VERSION
    tree: Tree | None = None
    _as_read: frozenset[LockedTake] | None = field(default=None, repr=False)
    _text_as_read: str | None = field(default=None, repr=False)
    """The file's text when it was read (``None``: there was none), to tell whether another
    writer (a ``git merge``, a ``git checkout``) changed it before this lock is written."""

    @classmethod
    def read(
        cls, path: Path, storyboard: str, *, tree: Tree | None = None, doctor: str = ""
    ) -> LockFile:
        """The lock at ``path``; empty when there is none.

        Raises:
            InputError: it cannot be read (a merge conflict, a damaged entry, a byte that
                is not UTF-8...), with the position of every problem, and how ``doctor``
                (the command, e.g. ``storyboard doctor film.yaml``) repairs it; nothing may
                be sent.
            UnsafePath: it is a symlink, or a symlink is on the way.
        """
        tree = tree or Tree.around(path)
        try:
            text = tree.read_text(path)
        except NotText as exc:
            problem = LockProblem(exc.line, exc.col, f"the lock file is {exc.what}")
            raise InputError(diagnostics(path, [problem], doctor, before_sending=True)) from None
        except OSError as exc:  # there, but not readable: never an empty lock
            problem = LockProblem(1, 1, f"the lock file {cannot_read(path, exc)}")
            raise InputError(diagnostics(path, [problem], before_sending=True)) from None
        if text is None:
            return cls(path, storyboard, tree=tree)
        lock, problems = parse(text, path, storyboard)
        lock.tree = tree
        lock._text_as_read = text
        if problems:
            raise InputError(diagnostics(path, problems, doctor, before_sending=True))
        return lock

    def find(self, key: str, backend: str) -> LockedTake | None:
        """The result locked for the request ``key`` in ``backend``'s namespace, if any."""
        for entry in self.entries:
            if entry.key == key and entry.backend == backend:
                return entry
        return None

    @property
    def takes(self) -> dict[str, LockedTake]:
        """The entries by take id (the last one of a take that has several)."""
        return {e.take: e for e in sorted(self.entries, key=LockedTake.sort_key)}

    def put(self, entry: LockedTake) -> None:
        """Make ``entry`` the one entry of its take."""
        self.entries = [e for e in self.entries if e.take != entry.take] + [entry]

    def keep_takes(self, takes: Iterable[str]) -> None:
        """Drop the entries of takes no longer in the storyboard."""
        kept = set(takes)
        self.entries = [e for e in self.entries if e.take in kept]

    def drop(self, key: str, backend: str) -> None:
        """Drop the entries of a result the provider no longer serves."""
        self.entries = [e for e in self.entries if (e.key, e.backend) != (key, backend)]

    def text(self) -> str:
        """Version 2: a header line and a blank line, then per entry (by take id) a line
        ``# TAKE``, the entry as one JSON line, and a blank line."""
        header = json.dumps({"storyboard": self.storyboard, "version": LOCK_VERSION})
        lines = [header, ""]
        for entry in sorted(set(self.entries), key=LockedTake.sort_key):
            lines += [f"# {entry.take}", json.dumps(entry.to_json(), ensure_ascii=False), ""]
        return "\n".join(lines) + "\n"

    def write(self) -> bool:
        """Write the lock if an entry changed (or it is new and has entries); return whether it
        did. A lock whose entries are as read stays byte for byte, whatever its version.

        A lock file another writer changed since it was read (a ``git merge`` or ``pull`` while
        a build ran) is never written over with what was read before: this lock's changes
        (entries put and dropped) are made to the file as it is now. One that cannot be read
        now (a merge conflict) is left as it is.

        Raises:
            BuildError: the file changed since it was read, and cannot be read now (nothing
                was written; this build's results are in the cache, and the next build locks
                them).
            UnsafePath: a symlink stands where it is.
        """
        tree = self.tree or Tree.around(self.path)
        read = self._as_read if self._as_read is not None else frozenset()
        added, dropped = frozenset(self.entries) - read, read - frozenset(self.entries)
        if not added and not dropped:  # (a lock read as none, and still none)
            return False
        self._merge_changes(tree, added, dropped)
        if self._as_read is not None and frozenset(self.entries) == self._as_read:
            return False
        tree.write_atomic(self.path, self.text().encode("utf-8"))
        self._as_read = frozenset(self.entries)
        self._text_as_read = self.text()
        return True

    def _merge_changes(
        self, tree: Tree, added: frozenset[LockedTake], dropped: frozenset[LockedTake]
    ) -> None:
        """Make this lock the file as it is now with ``added`` and ``dropped`` applied, when
        another writer changed it since it was read (else leave it as it is)."""
        try:
            now = tree.read_text(self.path)
        except (NotText, OSError) as exc:
            raise self._changed(str(exc)) from None
        if now == self._text_as_read:
            return
        on_disk: list[LockedTake] = []
        if now is not None:
            lock, problems = parse(now, self.path, self.storyboard)
            if problems:
                raise self._changed(f"line {problems[0].line}: {problems[0].message}")
            on_disk = lock.entries
        self.entries = sorted((set(on_disk) - dropped) | added, key=LockedTake.sort_key)
        self._as_read = frozenset(on_disk) if now is not None else None
        self._text_as_read = now

    def _changed(self, why: str) -> BuildError:
        return BuildError(
            f"{display_path(self.path)} changed while this build ran, and cannot be read now "
            f"({why}): it was not written over. This build's results are in the cache: mend "
            "the lock file (`storyboard doctor --fix` resolves a merge conflict), then build "
            "again to lock them (nothing is paid twice)"
        )


# -- reading ----------------------------------------------------------------------------------


def parse(text: str, path: Path, storyboard: str) -> tuple[LockFile, list[LockProblem]]:
    """Read a lock file's text (either version); return it and every problem found.

    The entries of the places that could be read are kept, so that :func:`repair` can keep
    them; a lock with problems must not be used as it is.
    """
    lock = LockFile(path, storyboard)
    problems = _conflicts(text)
    if problems:
        return lock, problems
    stripped = text.lstrip()
    whole: Any = None
    try:
        whole = load_json(text)
    except ValueError as exc:
        if stripped.startswith("{\n") or stripped == "{" or stripped.startswith('{"takes"'):
            line, col = _json_position(exc, text)
            return lock, [LockProblem(line, col, f"not a lock file: {_reason(exc)}")]
    if isinstance(whole, dict) and whole.get("version") == 1:
        lock.version = 1
        problems = _read_v1(whole, text, lock)
    elif isinstance(whole, dict):
        problems = _read_header(whole, 1)
    else:
        problems = _read_v2(text, lock)
    lock._as_read = frozenset(lock.entries) if not problems else None
    return lock, problems


def _conflicts(text: str) -> list[LockProblem]:
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("<<<<<<<"):
            problems.append(
                LockProblem(
                    number,
                    1,
                    "a git merge conflict ('<<<<<<<'): resolve the merge conflict",
                    conflict=True,
                )
            )
        elif line.startswith(_CONFLICT) and not problems:
            problems.append(
                LockProblem(number, 1, f"a git merge conflict marker ('{line[:7]}')", conflict=True)
            )
    return problems


_HEADER = frozenset({"storyboard", "version"})
"""What the header of a version 2 lock holds: anything else there (``"takes"``: entries
written as one object) is not read, and must not be taken for a lock without entries."""


def _read_header(data: Any, line: int) -> list[LockProblem]:
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
        version = data.get("version") if isinstance(data, dict) else None
        return [
            LockProblem(
                line,
                1,
                f"a lock file of version {version!r}; this storyboard reads versions 1 and "
                f"{LOCK_VERSION} (a newer storyboard wrote it?)",
            )
        ]
    extra = sorted(str(k) for k in data if k not in _HEADER)
    if extra:
        shown = ", ".join(_shown(k) for k in extra[:3]) + (", ..." if len(extra) > 3 else "")
        return [
            LockProblem(
                line,
                1,
                f"the header of a version {LOCK_VERSION} lock file holds {shown} besides "
                "'storyboard' and 'version': not a lock file as this storyboard writes it "
                "(what it holds there is not read; a newer storyboard wrote it, or an editor)",
            )
        ]
    return []


def _read_v2(text: str, lock: LockFile) -> list[LockProblem]:
    problems: list[LockProblem] = []
    header_seen = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            data = load_json(line)
        except ValueError as exc:
            problems.append(LockProblem(number, 1, f"not a lock entry: {_reason(exc)}"))
            header_seen = True
            continue
        if not header_seen:
            header_seen = True
            if isinstance(data, dict) and "take" not in data:
                problems += _read_header(data, number)
                continue
            problems.append(LockProblem(number, 1, "the lock file has no header line"))
        if not isinstance(data, dict):
            problems.append(LockProblem(number, 1, "not a lock entry: not a JSON object"))
            continue
        entry, problem = _entry(data, str(data.get("take", "")), number, 1)
        if problem is not None:
            problems.append(problem)
        elif entry is not None:
            lock.entries.append(entry)
    if not header_seen:
        problems.append(LockProblem(1, 1, "the lock file is empty (it has no header line)"))
    return problems


def _read_v1(data: dict[str, Any], text: str, lock: LockFile) -> list[LockProblem]:
    takes = data.get("takes")
    if not isinstance(takes, dict):
        return [LockProblem(1, 1, "'takes' is not an object of entries")]
    problems = []
    for take_id, entry in takes.items():
        line = _line_of_key(text, take_id)
        if not isinstance(entry, dict):
            problems.append(LockProblem(line, 1, f"the entry of take '{take_id}' is not an object"))
            continue
        locked, problem = _entry({**entry, "take": take_id}, str(take_id), line, 1)
        if problem is not None:
            problems.append(problem)
        elif locked is not None:
            lock.entries.append(locked)
    return problems


def _entry(
    data: dict[str, Any], take: str, line: int, col: int
) -> tuple[LockedTake | None, LockProblem | None]:
    """The entry ``data``, or why it cannot be used (at ``line``)."""
    key, backend = data.get("key"), data.get("backend")

    def problem(message: str) -> tuple[None, LockProblem]:
        return None, LockProblem(
            line,
            col,
            f"the entry of take '{take}' {message}" if take else f"an entry {message}",
            take=take or None,
            key=key if isinstance(key, str) else None,
            backend=backend if isinstance(backend, str) else None,
        )

    if not take:
        return problem("has no take id")
    if not isinstance(key, str) or not _HEX64.fullmatch(key):
        return problem("has no key (64 hex digits)")
    if not isinstance(backend, str) or not backend:
        return problem("has no backend")
    if not NAMESPACE.fullmatch(backend):  # it names a folder of the cache: never a path
        return problem(f"has a backend that is no namespace ({_shown(backend)})")
    model = data.get("model")
    if not isinstance(model, str):
        return problem("has no model")
    task_uuid, cost = data.get("task_uuid"), data.get("cost")
    if task_uuid is not None and not isinstance(task_uuid, str):
        return problem("has a task_uuid that is not a string")
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int | float)):
        return problem("has a cost that is not a number")
    if cost is not None and not (0 <= cost <= MAX_COST):  # NaN fails both
        return problem(f"has a cost that is not between 0 and {MAX_COST:g} USD")
    raw_results = data.get("results")
    if not isinstance(raw_results, list) or not raw_results:
        return problem("has no results")
    if len(raw_results) > MAX_RESULTS:
        return problem(f"has {len(raw_results)} results; a take has at most {MAX_RESULTS}")
    results = []
    for index, raw in enumerate(raw_results, start=1):
        if not isinstance(raw, dict):
            return problem(f"has a result {index} that is not an object")
        sha, size = raw.get("sha256"), raw.get("bytes")
        if not isinstance(sha, str) or not _HEX64.fullmatch(sha):
            return problem(f"has no sha256 for its result {index}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            return problem(f"has no size (bytes) for its result {index}")
        url, video = raw.get("url"), raw.get("video_uuid")
        if url is not None and not isinstance(url, str):
            return problem(f"has a url that is not a string in its result {index}")
        if video is not None and not isinstance(video, str):
            return problem(f"has a video_uuid that is not a string in its result {index}")
        results.append(LockedResult(video, url, sha, size))
    locked = LockedTake(
        key=key,
        backend=backend,
        model=model,
        task_uuid=task_uuid,
        cost=float(cost) if cost is not None else None,
        results=tuple(results),
        take=take,
    )
    return locked, None


MAX_RESULTS = 20
"""The most results (variations) a take may have: the language's ``variations`` bound."""
MAX_COST = 1000.0
"""The most one take may have cost, in USD, as an entry (or a remote's record) says."""


def _shown(text: str) -> str:
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


def read_entry(data: Any) -> LockedTake:
    """One entry as JSON (a lock line, or a remote's record of the same shape), checked as a
    lock's entries are.

    Raises:
        ValueError: it is not one, and why.
    """
    if not isinstance(data, dict):
        raise ValueError("not an object")
    take = data.get("take")
    entry, problem = _entry(data, take if isinstance(take, str) else "", 1, 1)
    if entry is None:
        raise ValueError(problem.message if problem is not None else "not an entry")
    return entry


def _line_of_key(text: str, key: str) -> int:
    """The line where the object key ``"key":`` first appears (1 when it cannot be found)."""
    found = re.search(r"^\s*" + re.escape(json.dumps(key)) + r"\s*:", text, re.MULTILINE)
    return text.count("\n", 0, found.start()) + 1 if found else 1


def _json_position(exc: ValueError, text: str) -> tuple[int, int]:
    line, col = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    return (line, col) if isinstance(line, int) and isinstance(col, int) else (1, 1)


def _reason(exc: ValueError) -> str:
    return str(getattr(exc, "msg", None) or exc)


def diagnostics(
    path: Path, problems: Iterable[LockProblem], doctor: str = "", *, before_sending: bool = False
) -> list[Diagnostic]:
    """The problems as positioned diagnostics (``FILE:LINE:COL: error: ...``), each with how
    ``doctor`` (the command) repairs it, if given."""
    name = display_path(path)
    found = []
    for problem in problems:
        message = problem.message
        if doctor and problem.conflict:
            message += f", or run `{doctor} --fix`, which keeps the paid results of both sides"
        elif doctor:
            message += f"; `{doctor}` says how to repair it"
        if before_sending:
            message += "; nothing was sent"
        found.append(Diagnostic(Position(name, problem.line, problem.col), message))
    return found


# -- repairing ----------------------------------------------------------------------------------


@dataclass
class Repair:
    """What :func:`repair` made of a damaged lock."""

    lock: LockFile
    fixed: list[str] = field(default_factory=list)
    unresolved: list[LockProblem] = field(default_factory=list)


Restore = Callable[[str, str, str], "LockedTake | None"]
"""``(key, backend, take) -> the entry``, from somewhere that holds the result (the cache)."""


def repair(text: str, path: Path, storyboard: str, restore: Restore | None = None) -> Repair:
    """Repair a lock without losing a paid result.

    A merge conflict is resolved by keeping the entries of both sides (each one a result that
    was paid for; the next build keeps the ones its takes use). A damaged entry is restored
    by ``restore(key, backend, take) -> LockedTake | None`` (from this machine's cache) when
    it can be; every other problem stays unresolved, and then nothing may be written.
    """
    lock, problems = parse(text, path, storyboard)
    result = Repair(lock)
    if problems and problems[0].conflict:
        sides = _sides(text)
        entries: list[LockedTake] = []
        for side in sides:
            side_lock, side_problems = parse(side, path, storyboard)
            entries += side_lock.entries
            result.unresolved += [p for p in side_problems if not _restored(p, restore, entries)]
        lock.entries = sorted(set(entries), key=LockedTake.sort_key)
        count = sum(1 for p in problems if p.message.startswith("a git merge conflict ('<<<"))
        result.fixed.append(
            f"resolved {count} merge conflict{'s' if count != 1 else ''} by keeping the "
            f"entries of both sides ({len(lock.entries)} entries)"
        )
        return result
    for problem in problems:
        entries = lock.entries
        if _restored(problem, restore, entries):
            result.fixed.append(
                f"line {problem.line}: restored the entry of take '{problem.take}' from the cache"
            )
        else:
            result.unresolved.append(problem)
    lock.entries = sorted(set(lock.entries), key=LockedTake.sort_key)
    return result


def _restored(problem: LockProblem, restore: Restore | None, entries: list[LockedTake]) -> bool:
    if restore is None or problem.key is None or problem.backend is None:
        return False
    entry = restore(problem.key, problem.backend, problem.take or "")
    if entry is None:
        return False
    entries.append(entry)
    return True


def _sides(text: str) -> list[str]:
    """Both sides of every conflict of a merged file: ours, and theirs (the base is left)."""
    ours: list[str] = []
    theirs: list[str] = []
    where = "both"
    for line in text.splitlines(keepends=True):
        if line.startswith("<<<<<<<"):
            where = "ours"
        elif line.startswith("|||||||") and where == "ours":
            where = "base"
        elif line.startswith("=======") and where in ("ours", "base"):
            where = "theirs"
        elif line.startswith(">>>>>>>") and where == "theirs":
            where = "both"
        elif where == "both":
            ours.append(line)
            theirs.append(line)
        elif where == "ours":
            ours.append(line)
        elif where == "theirs":
            theirs.append(line)
    return ["".join(ours), "".join(theirs)]
