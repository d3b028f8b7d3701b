"""``storyboard doctor``: what is wrong with a storyboard's state, and the repairs that lose
nothing paid for.

Place in the pipeline: beside it. ``plan`` and ``build`` refuse state they cannot read (exit
2, ``FILE:LINE:COL``, nothing sent) and point here. The doctor reads the same state the
same way, the lock file ``NAME.lock``, the journal ``.storyboard/journal/NAME.jsonl``, the
records of the last builds, the state folders and the build folder, and reports every
problem at its place. With ``fix``, under the project lock, it repairs what can be repaired
without losing a paid result:

- a lock file with git merge conflicts: the entries of both sides are kept (each one a result
  someone paid for; the next build keeps those its takes use), written as version 2;
- a damaged lock entry whose result this machine's cache holds: restored from the cache;
- a journal line that cannot be read: the records that can be read are kept (a ``submit``
  cut short whose task UUID survived is written whole); a line that is no record, or whose
  task UUID is lost, is dropped, and the doctor names its take: if that request reached the
  provider it was paid for, and the next build will pay for the take again;
- the records of a last build (``.storyboard/records/NAME.BACKEND.json``) that cannot be
  read: moved aside as ``...json.damaged``, kept (they hold no paid result: a paid backend's
  kept takes are in the lock file; on the preview a kept take is made again, for free).

With ``abandon`` (take ids or task UUIDs), under the project lock, it gives up requests the
journal holds as pending: a ``failed`` record, so that the next build sends the take as a new
request (and pays for it again). This is the way out of a task the service holds but can no
longer deliver (its result is broken, or its URL expired, or resending it is refused): a
build never gives up a paid request on its own. Pending requests are listed (as notes) by
every examination.

Everything else is only reported, with what to do: a damaged lock entry the cache cannot
restore (restore it from git, or delete its line and pay for the take again), a lock file or
a journal that is not UTF-8 text (left as it is, to be mended by hand: the line with the byte
that cannot be read may hold a paid result or a paid request's task UUID), a symlink in the
state or the build folder, a build folder storyboard did not make. The storyboard itself
need not be valid.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from storyboard.backends.namespaces import endpoint_form
from storyboard.build.state import journal as journal_file
from storyboard.build.state import lockfile
from storyboard.build.state import records as take_records
from storyboard.build.state.cache import Cache
from storyboard.build.state.safe import NotText, UnsafePath, cannot_read
from storyboard.build.state.workspace import ProjectLock, Workspace
from storyboard.core.diagnostics import Diagnostic, Position, display_path
from storyboard.core.errors import BuildError, InputError
from storyboard.core.project import find_project_root
from storyboard.language.load import check_storyboard_name


@dataclass
class Finding:
    """One problem, where it is, and its repair (``None``: only by hand, as the message says)."""

    diagnostic: Diagnostic
    repair: str | None = None
    repaired: bool = False


@dataclass
class Examination:
    """What the doctor found (and, with ``fix``, repaired)."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    abandoned: list[journal_file.Pending] = field(default_factory=list)
    """The pending requests given up (``abandon``)."""

    @property
    def unresolved(self) -> list[Finding]:
        return [f for f in self.findings if not f.repaired]

    def add(self, where: Position | None, message: str, repair: str | None = None) -> Finding:
        finding = Finding(Diagnostic(where, message), repair)
        self.findings.append(finding)
        return finding


def examine(
    path: str | os.PathLike[str],
    *,
    build_dir: Path | None = None,
    fix: bool = False,
    wait: float = 0.0,
    abandon: Sequence[str] = (),
) -> Examination:
    """Examine (and with ``fix``, repair) the state of the storyboard at ``path``; give up
    the pending requests of the takes (or task UUIDs) ``abandon``.

    Raises:
        InputError: there is no such storyboard file.
        BuildError: with ``fix`` or ``abandon``, a build of the project is running (after
            ``wait`` seconds).
    """
    storyboard = Path(path).absolute()
    found = Examination()
    named = check_storyboard_name(storyboard)
    if named is not None:
        found.findings.append(Finding(named))
        return found
    if not storyboard.is_file():
        raise InputError.at(None, f"{path}: no such storyboard file")
    try:
        workspace = Workspace.for_storyboard(storyboard, find_project_root(storyboard), build_dir)
    except UnsafePath as exc:
        found.add(None, str(exc))
        return found
    _check_places(workspace, found)
    if (fix and any(f.repair for f in found.findings)) or abandon:
        try:
            with ProjectLock(workspace, wait=wait):
                found.findings.clear()  # what holds under the lock is what gets repaired
                found.notes.clear()
                _check_places(workspace, found, fix=fix)
                if abandon:
                    _abandon(workspace, found, abandon)
        except UnsafePath as exc:
            found.add(None, f"{exc}; nothing was repaired")
    _list_pending(workspace, found)
    return found


def _check_places(workspace: Workspace, found: Examination, *, fix: bool = False) -> None:
    tree = workspace.tree
    for folder in (
        workspace.state, workspace.cache, workspace.journal.parent, workspace.frames,
        workspace.tmp, workspace.records("x").parent,
    ):  # fmt: skip
        with _reported(found, folder):
            tree.names(folder)
    with _reported(found, workspace.build_dir):
        state = workspace.outputs.inspect()
        if state == "legacy":
            found.notes.append(
                f"{display_path(workspace.build_dir)} was made by an older storyboard: the "
                "next build marks it as its own"
            )
    _check_lock(workspace, found, fix=fix)
    _check_journal(workspace, found, fix=fix)
    _check_records(workspace, found, fix=fix)


@contextmanager
def _reported(found: Examination, path: Path) -> Iterator[None]:
    """Report what stops the state at ``path`` from being read: a symlink in its way, or a
    folder that cannot be read (never taken for a missing one)."""
    try:
        yield
    except UnsafePath as exc:
        found.add(None, str(exc))
    except OSError as exc:
        found.add(Position(display_path(path)), f"{display_path(path)} {cannot_read(path, exc)}")


def _read(
    workspace: Workspace, path: Path, found: Examination, kind: str = "", by_hand: str = ""
) -> str | None:
    """The text of a state file, ``None`` when it is missing, refused or not UTF-8 text
    (reported). One that is not text is never repaired (a line storyboard cannot read may
    hold a paid task's UUID): the finding names ``kind`` (``the journal``) and its first byte
    that cannot be read, and says ``by_hand`` (``{line}``: that line's number)."""
    try:
        return workspace.tree.read_text(path)
    except UnsafePath as exc:
        found.add(None, str(exc))
        return None
    except OSError as exc:  # there, but not readable: reported, never taken for missing
        found.add(Position(display_path(path)), f"{kind or 'the file'} {cannot_read(path, exc)}")
        return None
    except NotText as exc:
        more = exc.bad_lines - 1
        also = f"; {more} more line{'s have' if more > 1 else ' has'} such bytes" if more else ""
        mend = by_hand.replace("{line}", str(exc.line)) or f"mend line {exc.line} by hand"
        found.add(
            Position(display_path(path), exc.line, exc.col),
            f"{kind or 'the file'} is {exc.what}{also}; --fix leaves it as it is: {mend}",
        )
        return None


def _check_lock(workspace: Workspace, found: Examination, *, fix: bool) -> None:
    path = workspace.lockfile
    text = _read(
        workspace, path, found, "the lock file",
        "mend line {line} by hand (it may hold a paid result), or restore the file from git "
        f"(git log -p {path.name})",
    )  # fmt: skip
    if text is None:
        return
    name = workspace.storyboard.name
    _, problems = lockfile.parse(text, path, name)
    if not problems:
        return
    cache = Cache(workspace.cache, tree=workspace.tree, staging=workspace.cache_tmp)
    repaired = lockfile.repair(text, path, name, restore=_restorer(cache))
    # all or nothing: a lock with a problem no repair solves is left for a person to mend
    whole = not repaired.unresolved
    seen = {(p.line, p.message) for p in problems}
    extra = [p for p in repaired.unresolved if (p.line, p.message) not in seen]
    findings = []
    for problem, diagnostic in zip(
        [*problems, *extra], lockfile.diagnostics(path, [*problems, *extra]), strict=True
    ):
        if whole:
            how = (
                "keep the entries of both sides"
                if problem.conflict
                else "restore the entry from this machine's cache"
            )
            findings.append(Finding(diagnostic, how))
        elif problem.conflict:
            findings.append(Finding(diagnostic))
        else:
            advice = (
                f"; restore it from git (git log -p {path.name}), or delete its line: the "
                "next build pays for that take again"
            )
            findings.append(Finding(Diagnostic(diagnostic.position, diagnostic.message + advice)))
    found.findings += findings
    if fix and whole:
        repaired.lock.tree = workspace.tree
        workspace.tree.write_atomic(path, repaired.lock.text().encode("utf-8"))
        for finding in findings:
            finding.repaired = True
        found.notes += [f"{display_path(path)}: {note}" for note in repaired.fixed]


def _restorer(cache: Cache) -> Callable[[str, str, str], lockfile.LockedTake | None]:
    def restore(key: str, backend: str, take: str) -> lockfile.LockedTake | None:
        try:
            entry = cache.get(backend, key)
        except BuildError:  # a symlink, an entry that cannot be read or is a newer one's
            return None
        if entry is None:
            return None
        model = (entry.meta or {}).get("model")
        return lockfile.LockedTake(
            key=key,
            backend=backend,
            model=str(model) if model else "unknown",
            task_uuid=entry.task_uuid,
            cost=entry.cost,
            results=tuple(
                lockfile.LockedResult(r.video_uuid, r.url, r.sha256, r.bytes) for r in entry.results
            ),
            take=take,
        )

    return restore


def _check_records(workspace: Workspace, found: Examination, *, fix: bool) -> None:
    """The records of the storyboard's last builds, one file a backend: one that cannot be
    read stops plan and build; the repair moves it aside, kept."""
    tree = workspace.tree
    folder = workspace.records("-").parent
    names: list[str] = []
    with _reported(found, folder):
        # folders too: a folder where a build reads its records stops plan and build
        names = [n for n, _ in tree.names(folder)]
    for name in names:
        if not (name.startswith(f"{workspace.name}.") and name.endswith(".json")):
            continue
        path = folder / name
        try:
            take_records.read(tree, path)
            continue
        except UnsafePath as exc:  # a link, a folder, a pipe: said, each one; moved by hand
            found.add(None, str(exc))
            continue
        except take_records.Damaged as exc:
            where = Position(display_path(path), exc.line, exc.col)
            problem = f"the records of the last build are {exc.why}"
        except OSError as exc:
            where, problem = Position(display_path(path)), f"cannot be read: {exc}"
        with _reported(found, path):
            aside = path.with_name(name + take_records.DAMAGED)
            finding = found.add(
                where,
                problem,
                f"move it aside as {aside.name}: the next build plans without it (its takes "
                "are said to be new; on the preview a kept take is made again from its "
                "current request)",
            )
            if fix:
                tree.replace(path, aside)
                finding.repaired = True


def _check_journal(workspace: Workspace, found: Examination, *, fix: bool) -> None:
    path = workspace.journal
    text = _read(
        workspace, path, found, "the journal",
        "mend line {line} by hand, keeping its task_uuid (it may record a request that was "
        "paid for, which only that UUID resumes without paying again)",
    )  # fmt: skip
    if text is None:
        return
    records, problems = journal_file.parse(text)
    if not problems:
        return
    shown = display_path(path)
    findings = []
    for problem in problems:
        if problem.salvaged is not None:
            how = "write the record whole"
        elif not problem.fatal:
            how = "drop the line (nothing hangs on it)"
        else:
            how = (
                "drop the line: if that request reached the provider it was paid for, and "
                "the next build pays for the take again (check the provider's usage)"
            )
        findings.append(Finding(Diagnostic(Position(shown, problem.line, 1), problem.message), how))
    found.findings += findings
    if fix:
        body = "".join(json.dumps(event, sort_keys=True) + "\n" for _, event in records)
        workspace.tree.write_atomic(path, body.encode("utf-8"), staging=workspace.tmp)
        for finding in findings:
            finding.repaired = True


def _pending(workspace: Workspace) -> list[journal_file.Pending] | None:
    """Every request the journal holds as pending, for any backend and endpoint (``None``
    when the journal cannot be read: that is a finding of its own)."""
    try:
        records = journal_file.read_records(workspace.journal, tree=workspace.tree)
    except (InputError, UnsafePath):
        return None
    scopes = dict.fromkeys(
        (str(e["backend"]), endpoint_form(str(e.get("endpoint", "")))) for _, e in records
    )
    found: list[journal_file.Pending] = []
    for backend, endpoint in scopes:
        found += journal_file.pending_of(records, backend=backend, endpoint=endpoint).values()
    return found


_STATES = {
    "accepted": "the provider said it holds it: paid for, or about to be",
    "submitted": "it may have reached the provider",
    "unsent": "it never left this machine: nothing was paid",
}


def _list_pending(workspace: Workspace, found: Examination) -> None:
    """Say which requests are pending (notes: a pending request is no problem)."""
    for request in _pending(workspace) or []:
        found.notes.append(
            f"take '{request.take}': task {request.task_uuid} is pending at "
            f"{request.endpoint or 'an unnamed endpoint'} ({_STATES[request.state]}); the "
            "next build asks for it again under this task UUID, at no new charge. "
            f"`storyboard doctor {display_path(workspace.storyboard)} --abandon "
            f"{request.take if request.take != '?' else request.task_uuid}` gives it up: "
            "the next build then pays for the take again"
        )


def _named(request: journal_file.Pending) -> str:
    """How ``--abandon`` names a pending request's take: a take whose name was lost ('?') by
    its task UUID."""
    return f"'{request.take}'" if request.take != "?" else f"task {request.task_uuid}"


def _abandon(workspace: Workspace, found: Examination, names: Sequence[str]) -> None:
    """Give up the pending requests of the takes (or task UUIDs) ``names``, all or none."""
    if any(not f.repaired for f in found.findings if f.diagnostic.position is not None
           and f.diagnostic.position.file == display_path(workspace.journal)):  # fmt: skip
        found.add(None, "the journal has lines that cannot be read: nothing was given up "
                  "(run `storyboard doctor --fix` first)")  # fmt: skip
        return
    pending = _pending(workspace)
    if pending is None:
        found.add(None, "the journal cannot be read: nothing was given up")
        return
    chosen: list[journal_file.Pending] = []
    missing = []
    doubtful = []
    for name in dict.fromkeys(names):
        # '?' is no take's name (a record recovered from a cut line): by its task UUID only
        by_take = [p for p in pending if p.take == name and name != "?"]
        by_uuid = [p for p in pending if name.lower() == p.task_uuid.lower()]
        if by_take and by_uuid and by_take != by_uuid:
            doubtful.append((name, by_take, by_uuid))
            continue
        mine = by_take or by_uuid
        if not mine:
            missing.append(name)
        chosen += [p for p in mine if p not in chosen]
    for name, by_take, by_uuid in doubtful:
        found.add(
            None,
            f"--abandon {name}: it names take '{name}' (task "
            f"{', '.join(p.task_uuid for p in by_take)}) and the task UUID of take "
            f"'{by_uuid[0].take}': name the request by its task UUID; nothing was given up",
        )
    if missing:
        held = ", ".join(sorted({_named(p) for p in pending})) or "none"
        for name in missing:
            found.add(
                None,
                f"--abandon {name}: no take or task UUID of that name has a pending request "
                f"(takes with one: {held}); nothing was given up",
            )
    if doubtful or missing:
        return
    journal_file.give_up(workspace.journal, chosen, tree=workspace.tree, staging=workspace.tmp)
    for request in chosen:
        found.abandoned.append(request)
        paid = {
            "accepted": "the provider said it held it: if it was charged, that charge is lost",
            "submitted": "it may have reached the provider: if it was charged, that charge is lost",
            "unsent": "it never left this machine: nothing was paid",
        }[request.state]
        found.notes.append(
            f"take '{request.take}': gave up task {request.task_uuid} ({paid}); the next "
            "build sends the take as a new request and pays for it (`storyboard plan` shows "
            "the cost)"
        )
    _release_claims(workspace, found, chosen)


def _release_claims(
    workspace: Workspace, found: Examination, chosen: list[journal_file.Pending]
) -> None:
    """Release this clone's claims of the requests given up on the project's remote, if it
    has one (:mod:`storyboard.build.remote_claims`): another clone building those takes
    claims them next, without waiting for the claims to lapse. What cannot be released is
    said; nothing else depends on it."""
    import asyncio

    from storyboard.build.remote_claims import Claims
    from storyboard.core.errors import StoryboardError
    from storyboard.remote.config import find_remote
    from storyboard.remote.store import Store

    try:
        remote = find_remote(workspace.project_root)
    except StoryboardError as exc:
        found.notes.append(f"no claim on the remote was released: {exc}")
        return
    if remote is None or not chosen:
        return
    claims = Claims(Store(remote), workspace)

    async def release() -> None:
        for request in chosen:
            try:
                if await claims.release_own(request.backend, request.key):
                    found.notes.append(
                        f"take '{request.take}': released this clone's claim of it on the "
                        f"remote {remote.url}"
                    )
            except (StoryboardError, OSError) as exc:
                found.notes.append(
                    f"take '{request.take}': its claim on the remote {remote.url} was not "
                    f"released ({exc}); another clone building it waits for the claim to lapse"
                )
                return

    asyncio.run(release())
