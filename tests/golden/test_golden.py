"""Golden diagnostics: every case under ``cases/`` is an invalid storyboard, or (``"status":
0`` in its ``setup.json``) a valid one with warnings.

``storyboard check film.yaml`` must exit with the case's status (2 unless it says otherwise),
print exactly ``expected.txt`` on stderr and nothing on stdout, and write nothing.
``make golden`` rewrites the expected files; review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden.harness import CASES, case_names, expected_path, expected_status, run_case


@pytest.mark.parametrize("name", case_names())
def test_golden(name: str, tmp_path: Path) -> None:
    outcome = run_case(name, tmp_path)
    assert outcome.stderr == expected_path(name).read_text(encoding="utf-8")
    assert outcome.status == expected_status(name)
    assert outcome.stdout == ""
    assert outcome.written == ()


def test_every_case_folder_is_complete() -> None:
    folders = sorted(p.name for p in CASES.iterdir() if p.is_dir())
    assert folders == case_names()
    assert [n for n in folders if not expected_path(n).is_file()] == []
    assert len(folders) >= 45
