"""A queue entry that cannot be read is never dropped or skipped in silence.

A paid build whose pushes failed leaves its takes queued (``.storyboard/remote/queue/``, one
small file each); ``storyboard push`` sends them. An entry that cannot be read (truncated,
not JSON) is not treated as nothing to do: it stays in place with its bytes, ``push`` names it
and says what to do, counts it, and exits 1; ``--json`` reports it. A build that stores takes
meanwhile still never fails because of it. These use a ``file://`` remote and the emulator.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard.build.pipeline import build
from storyboard.core.events import Event, Note
from storyboard.emulator.server import EmulatorServer
from storyboard.remote.config import RemoteConfig
from tests.conftest import CliResult
from tests.e2e.runner import fast_backend

TWO_TAKES = """\
storyboard: 1
title: Harbour
shots:
  - {id: harbour, duration: 3, prompt: a small stone harbour at dawn}
  - {id: nets, duration: 3, prompt: an old fisherman mends a net}
"""

Project = Callable[[dict[str, str | bytes]], Path]
Cli = Callable[..., CliResult]


def queued_with_one_truncated(root: Path, nas: Path) -> tuple[Path, Path, bytes]:
    """Build two paid takes while the remote folder is missing (both stay queued), make the
    remote, and truncate one entry; return the remote, the damaged entry and its bytes."""
    gone = nas.parent / "later"
    first = build(
        root / "film.yaml", backend=fast_backend(), film_scale=1 / 12,
        remote=RemoteConfig(f"file://{gone}", "test"),
    )  # fmt: skip
    assert first.ok and first.remote is not None
    assert sorted(first.remote["queued"]) == ["harbour", "nets"]
    entries = sorted((root / ".storyboard" / "remote" / "queue").iterdir())
    assert len(entries) == 2
    damaged = entries[0]
    text = damaged.read_bytes()
    cut = text[: len(text) // 2]  # a crash mid-write, a full disk: not JSON any more
    damaged.write_bytes(cut)
    gone.mkdir()
    return gone, damaged, cut


def test_push_names_a_damaged_queue_entry_keeps_it_and_exits_1(
    project: Project, paid: EmulatorServer, nas: Path, run_cli: Cli
) -> None:
    root = project({"film.yaml": TWO_TAKES})
    remote, damaged, cut = queued_with_one_truncated(root, nas)
    url = f"file://{remote}"
    pushed = run_cli("push", "--remote", url, cwd=root)
    assert pushed.status == 1, pushed.err
    # the good entry was pushed (and left the queue); the damaged one is where it was
    assert len(list((remote / "results").rglob("*.json"))) == 1
    assert list(damaged.parent.iterdir()) == [damaged]
    assert damaged.read_bytes() == cut
    # one line names the file and what to do; the summary counts it
    lines = [line for line in pushed.err.splitlines() if damaged.name in line]
    assert len(lines) == 1, pushed.err
    assert "cannot be read" in lines[0] and "storyboard push FILE" in lines[0], lines[0]
    assert ".storyboard/remote/queue/" in lines[0]
    assert "pushed 1 takes" in pushed.err and "1 failed" in pushed.err, pushed.err

    again = run_cli("push", "--remote", url, "--json", cwd=root)
    assert again.status == 1, again.err
    summary = json.loads(again.out)
    assert summary["failed"] == 1 and summary["moved"] == 0
    assert [d["file"] for d in summary["damaged"]] == [f".storyboard/remote/queue/{damaged.name}"]
    assert summary["damaged"][0]["on_remote"] is False and summary["damaged"][0]["problem"]
    failed = [t for t in summary["takes"] if t["status"] == "failed"]
    assert len(failed) == 1 and damaged.name in failed[0]["message"]
    assert damaged.read_bytes() == cut


def test_push_file_sends_the_take_of_a_damaged_entry_and_then_says_it_may_go(
    project: Project, paid: EmulatorServer, nas: Path, run_cli: Cli
) -> None:
    """What the line says to do works: ``push FILE`` finds the take from the lock and the
    cache; the entry then names a take the remote holds, and is no longer a failure."""
    root = project({"film.yaml": TWO_TAKES})
    remote, damaged, cut = queued_with_one_truncated(root, nas)
    url = f"file://{remote}"
    pushed = run_cli("push", "film.yaml", "--remote", url, "--json", cwd=root)
    assert pushed.status == 0, pushed.err
    summary = json.loads(pushed.out)
    assert summary["moved"] == 2 and summary["failed"] == 0
    assert summary["damaged"] == [{
        "file": f".storyboard/remote/queue/{damaged.name}", "on_remote": True,
        "problem": summary["damaged"][0]["problem"],
    }]  # fmt: skip
    assert len(list((remote / "results").rglob("*.json"))) == 2
    lines = [line for line in pushed.err.splitlines() if damaged.name in line]
    assert len(lines) == 1 and "the remote holds its take" in lines[0], pushed.err
    assert damaged.read_bytes() == cut  # never deleted by storyboard


def test_a_build_is_not_failed_by_a_damaged_queue_entry(
    project: Project, paid: EmulatorServer, nas: Path
) -> None:
    root = project({"film.yaml": TWO_TAKES})
    remote, damaged, cut = queued_with_one_truncated(root, nas)
    (root / "film.yaml").write_text(TWO_TAKES.replace("at dawn", "at dusk"))
    for folder in ("queue", "refused"):  # the plan reads the refused takes too
        where = root / ".storyboard" / "remote" / folder
        where.mkdir(exist_ok=True)
        (where / damaged.name).write_bytes(cut)
    events: list[Event] = []
    again = build(
        root / "film.yaml", backend=fast_backend(), film_scale=1 / 12,
        remote=RemoteConfig(f"file://{remote}", "test"), emit=events.append,
    )  # fmt: skip
    assert again.ok and again.remote is not None
    assert again.remote["pushed"] == ["harbour"]
    assert damaged.read_bytes() == cut
    notes = [e.message for e in events if isinstance(e, Note) and damaged.name in e.message]
    assert len(notes) == 1 and "cannot be read" in notes[0], notes


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "not JSON"),
        (b'{"namespace": "runware", "key": "ab', "not JSON"),
        (b"[]", "a JSON list"),
        (b'{"namespace": "runware"}', "a field is missing"),
        (b'{"namespace": "runware", "key": "' + b"cd" * 32 + b'"}', "names another take"),
    ],
)
def test_the_queue_returns_every_file_it_cannot_read(
    project: Project, content: bytes, why: str
) -> None:
    from storyboard.build.remote_session import Queue, Queued
    from storyboard.build.state.workspace import Workspace

    root = project({"film.yaml": TWO_TAKES})
    queue = Queue(Workspace.for_storyboard(root / "film.yaml", root))
    good = Queued("runware", "ef" * 32, "harbour")
    queue.add(good)
    bad = queue.folder / f"runware.{'ab' * 32}.json"
    bad.write_bytes(content)
    (queue.folder / "notes.txt").write_text("not an entry")  # not *.json: not the queue's
    found, unreadable = queue.read()
    assert found == [good] and queue.items() == [good]
    assert [(u.path, u.key, u.folder) for u in unreadable] == [(bad, "ab" * 32, "runware")]
    assert queue.unreadable == unreadable and why in unreadable[0].why
    assert bad.read_bytes() == content


def test_a_queue_entry_naming_no_upload_removes_nothing() -> None:
    """A queue entry's ``upload`` is removed from the remote once its take is pushed; one that
    names no provider upload (``uploads/TASK``), such as another take's record, never is."""
    import asyncio

    from storyboard.build import remote_transfer

    removed: list[str] = []

    class Recording:
        async def remove(self, path: str) -> None:
            removed.append(path)

    store: Any = Recording()
    record = "results/runware/" + "d" * 64 + ".json"
    for upload in (record, "cas/sha256/ab/" + "a" * 64, "uploads/../results/x", None):
        asyncio.run(remote_transfer._drop_upload(store, upload))
    assert removed == []
    asyncio.run(remote_transfer._drop_upload(store, "uploads/6f0c58a8-58a4-4d4b-9a4e-6f3b7a0c6f11"))
    assert removed == ["uploads/6f0c58a8-58a4-4d4b-9a4e-6f3b7a0c6f11"]


def test_push_names_a_queue_entry_nested_too_deeply_and_never_crashes(
    project: Project, paid: EmulatorServer, nas: Path, run_cli: Cli
) -> None:
    root = project({"film.yaml": TWO_TAKES})
    remote, damaged, _ = queued_with_one_truncated(root, nas)
    deep = b"[" * 100_000  # not JSON storyboard wrote: json.loads raises RecursionError
    damaged.write_bytes(deep)
    pushed = run_cli("push", "--remote", f"file://{remote}", cwd=root)
    assert pushed.status == 1, pushed.err  # not 3 (a traceback)
    lines = [line for line in pushed.err.splitlines() if damaged.name in line]
    assert len(lines) == 1 and "cannot be read" in lines[0], pushed.err
    assert damaged.read_bytes() == deep


def test_push_names_a_queue_entry_too_large_without_reading_it(
    project: Project, paid: EmulatorServer, nas: Path, run_cli: Cli
) -> None:
    from storyboard.build.state.safe import MAX_STATE_BYTES

    root = project({"film.yaml": TWO_TAKES})
    remote, damaged, _ = queued_with_one_truncated(root, nas)
    with damaged.open("ab") as handle:  # sparse: a reader without the cap reads 64 MiB
        os.ftruncate(handle.fileno(), MAX_STATE_BYTES + 1)
    pushed = run_cli("push", "--remote", f"file://{remote}", cwd=root)
    assert pushed.status == 1, pushed.err
    lines = [line for line in pushed.err.splitlines() if damaged.name in line]
    assert len(lines) == 1 and f"{MAX_STATE_BYTES + 1:,} bytes" in lines[0], pushed.err
    assert damaged.stat().st_size == MAX_STATE_BYTES + 1
