"""The committed JSON Schemas are the ones the models generate, and examples point at them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storyboard.language.schema import schema_text

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "name,include_file", [("storyboard.schema.json", False), ("include.schema.json", True)]
)
def test_committed_schema_is_current(name: str, include_file: bool) -> None:
    committed = (REPO / "schemas" / name).read_text(encoding="utf-8")
    assert committed == schema_text(include_file=include_file), (
        f"schemas/{name} is stale: run `make schema`"
    )


def test_schema_describes_every_key() -> None:
    schema = json.loads(schema_text())
    shot = schema["$defs"]["Shot"]["properties"]
    assert {"id", "prompt", "start", "end", "edit", "references", "reference_videos"} <= set(shot)
    assert schema["$defs"]["Shot"]["additionalProperties"] is False
    assert schema["properties"]["storyboard"]["const"] == 1


@pytest.mark.parametrize(
    "path", sorted(p for p in (REPO / "examples").rglob("*.yaml")), ids=lambda p: p.name
)
def test_examples_point_editors_at_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    target = (path.parent / first[len(prefix) :]).resolve()
    assert target.parent == REPO / "schemas" and target.is_file()
