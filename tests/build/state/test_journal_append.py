"""A journal read while another build appends to it: a last line seen half written (a write
that spans two pages) is read again before it counts as damaged, where ``plan`` stopped with
"the journal is damaged" for a line that was complete a moment later. A line a killed build
cut short stays damaged."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from storyboard.build.state.journal import read_records
from storyboard.core.errors import InputError

KEY = "ab" * 32
TASK = "6f0c58a8-58a4-4d4b-9a4e-6f3b7a0c6f11"


def record(event: str, **more: str) -> str:
    fields = {"event": event, "backend": "runware", "endpoint": "", "key": KEY, **more}
    return json.dumps(fields, sort_keys=True) + "\n"


def test_a_last_line_being_appended_is_read_again(tmp_path: Path) -> None:
    journal = tmp_path / "film.jsonl"
    whole = record("submit", take="a", task_uuid=TASK)
    half = whole[: whole.index('"task_uuid"')]  # a submit whose task UUID is not there yet
    journal.write_text(record("submit", take="b", task_uuid=TASK.replace("6f", "7e")) + half)

    def finish() -> None:
        time.sleep(0.01)
        with journal.open("a") as out:
            out.write(whole[len(half) :])

    writer = threading.Thread(target=finish)
    writer.start()
    try:
        records = read_records(journal)
    finally:
        writer.join()
    assert [r["take"] for _, r in records] == ["b", "a"]


def test_a_last_line_a_killed_build_cut_short_is_still_damaged(tmp_path: Path) -> None:
    journal = tmp_path / "film.jsonl"
    whole = record("submit", take="a", task_uuid=TASK)
    journal.write_text(whole[: whole.index('"task_uuid"')])
    with pytest.raises(InputError, match=r"without its task_uuid|task UUID is lost"):
        read_records(journal)
