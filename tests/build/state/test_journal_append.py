"""A journal read while another build appends to it: a last line seen half written (a write
that spans two pages) is read again before it counts as damaged, where ``plan`` stopped with
"the journal is damaged" for a line that was complete a moment later. A line a killed build
cut short stays damaged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from storyboard.build.state.journal import read_records
from storyboard.build.state.safe import Tree
from storyboard.core.errors import InputError

KEY = "ab" * 32
TASK = "6f0c58a8-58a4-4d4b-9a4e-6f3b7a0c6f11"


def record(event: str, **more: str) -> str:
    fields = {"event": event, "backend": "runware", "endpoint": "", "key": KEY, **more}
    return json.dumps(fields, sort_keys=True) + "\n"


def test_a_last_line_being_appended_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer finishes the line right after the reader's first read: that read sees the
    half line (made certain here, not left to a thread's timing, where a slow reader read the
    whole line and the test held without any read again)."""
    journal = tmp_path / "film.jsonl"
    whole = record("submit", take="a", task_uuid=TASK)
    half = whole[: whole.index('"task_uuid"')]  # a submit whose task UUID is not there yet
    journal.write_text(record("submit", take="b", task_uuid=TASK.replace("6f", "7e")) + half)
    read_text = Tree.read_text
    seen: list[str | None] = []

    def then_finish(self: Tree, path: str | os.PathLike[str]) -> str | None:
        text = read_text(self, path)
        seen.append(text)
        if len(seen) == 1:  # the other build's write completes just after this read
            with journal.open("a") as out:
                out.write(whole[len(half) :])
        return text

    monkeypatch.setattr(Tree, "read_text", then_finish)
    records = read_records(journal)
    assert seen[0] is not None and seen[0].endswith(half)  # the half line was seen
    assert len(seen) == 2 and seen[1] is not None and seen[1].endswith(whole)  # read again
    assert [r["take"] for _, r in records] == ["b", "a"]
    assert records[1][1]["task_uuid"] == TASK


def test_a_last_line_a_killed_build_cut_short_is_still_damaged(tmp_path: Path) -> None:
    journal = tmp_path / "film.jsonl"
    whole = record("submit", take="a", task_uuid=TASK)
    journal.write_text(whole[: whole.index('"task_uuid"')])
    with pytest.raises(InputError, match=r"without its task_uuid|task UUID is lost"):
        read_records(journal)
