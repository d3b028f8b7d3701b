"""Version 1 stays valid: storyboards without dialogue compile to the same requests and keys.

``data/v1_requests.json`` holds every request (and take key) of the examples and of the valid
golden case, as storyboard compiled them before dialogue was added to the language (commit
a7416d5). The lighthouse example has lines of dialogue since; without them (taken out of the
loaded document) it must compile to exactly what it did.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from storyboard.compiler.compile import compile_storyboard
from storyboard.compiler.keys import canonical, take_keys
from storyboard.language.load import load_document
from storyboard.language.validate import validate_document
from tests.golden import harness

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(__file__).resolve().parent / "data" / "v1_requests.json"
EXAMPLES = sorted(
    p.relative_to(REPO).as_posix()
    for p in (REPO / "examples").rglob("*.yaml")
    if "cast" not in p.parts
)
GOLDEN = "tests/golden/cases/warnings/film.yaml"


def snapshot() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    return data


def _without_dialogue(data: Any) -> None:
    """Take every shot's ``dialogue`` out of loaded data (sequences too)."""
    for item in data.get("shots", []):
        item.pop("dialogue", None)
        for shot in item.get("shots", []) if "sequence" in item else []:
            shot.pop("dialogue", None)


def compiled(path: Path, *, strip: bool = False) -> dict[str, dict[str, Any]]:
    document = load_document(path)
    if strip:
        _without_dialogue(document.data)
    result = compile_storyboard(validate_document(document))
    keys = take_keys(result)
    return {t.id: {"request": t.request, "key": keys[t.id]} for t in result.takes}


def test_the_snapshot_holds_every_example() -> None:
    assert sorted(set(snapshot()) - {GOLDEN}) == EXAMPLES


@pytest.mark.parametrize("name", EXAMPLES)
def test_an_example_compiles_byte_for_byte_as_in_version_1(name: str) -> None:
    expected = snapshot()[name]
    found = compiled(REPO / name, strip=True)
    assert canonical(found) == canonical(expected)


def test_the_lighthouse_example_has_dialogue_and_it_changes_only_those_takes() -> None:
    """The test above strips lines; this one checks there were lines to strip, and that the
    requests of takes without any are the same with them."""
    name = "examples/lighthouse/lighthouse.yaml"
    expected = snapshot()[name]
    found = compiled(REPO / name)
    document = load_document(REPO / name)
    checked = validate_document(document)
    speaking = {info.id for info in checked.shots if info.dialogue}
    assert speaking
    result = compile_storyboard(checked)
    changed = {t.id for t in result.takes if any(s.id in speaking for s in t.take.shots)}
    assert changed and changed != set(found)
    for take_id, value in found.items():
        if take_id in changed:
            assert value["request"] != expected[take_id]["request"]
        else:  # (its key may change: a take downstream of a changed one is made anew)
            assert value["request"] == expected[take_id]["request"]


def test_the_valid_golden_case_compiles_to_the_same_requests(tmp_path: Path) -> None:
    project = tmp_path / "project"
    case = harness.CASES / "warnings"
    shutil.copytree(case, project, ignore=shutil.ignore_patterns("expected.txt", "setup.json"))
    (project / ".storyboard").mkdir()
    harness._apply_setup(case / "setup.json", project)
    found = compiled(project / "film.yaml")
    expected = snapshot()[GOLDEN]
    assert set(found) == set(expected)
    for take_id, value in found.items():
        # element ids derive from the images' bytes, which this machine's Pillow encoded
        mask = re.compile(r'("id":"[^"]*-)[0-9a-f]{12}"')
        assert mask.sub(r"\1#", canonical(value["request"])) == mask.sub(
            r"\1#", canonical(expected[take_id]["request"])
        )
