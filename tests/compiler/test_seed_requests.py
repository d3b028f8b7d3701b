"""The five seed storyboards compile to the five requests of the model's API page.

The requests are kept in ``data/seed_requests.json`` (copied from the page, so the tests run on
any clone); where the page is beside the repository (``../shared/seed``), a test checks that the
copy still equals it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from storyboard import api
from storyboard.compiler.compile import dumps

REPO = Path(__file__).resolve().parents[2]
SEED_PAGE = REPO.parent / "shared" / "seed" / "kling-video-o3-pro.txt"
SEED_COPY = Path(__file__).resolve().parent / "data" / "seed_requests.json"
EXAMPLES = REPO / "examples" / "seed"
ORDER = [
    "tundra-signal-camp",
    "flooded-opera-rooftop",
    "subway-busker-metamorphosis",
    "orbital-greenhouse-ballet",
    "subway-busker-time-shift",
]
# Fields the platform fills with these values when they are absent (reference §3.1).
PLATFORM_DEFAULTS: dict[str, Any] = {
    "outputType": "URL",
    "outputFormat": "MP4",
    "outputQuality": 95,
}


def page_requests() -> list[dict[str, Any]]:
    """Every request object on the seed page, in order (responses carry a videoUUID)."""
    text = SEED_PAGE.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    found, index = [], 0
    while (index := text.find("{", index)) != -1:
        try:
            value, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            index += 1
            continue
        if isinstance(value, dict) and value.get("taskType") == "videoInference":
            found.append(value)
        index = end
    return [r for r in found if "videoUUID" not in r]


def seed_requests() -> list[dict[str, Any]]:
    """The five requests, from the copy kept with the tests."""
    requests: list[dict[str, Any]] = json.loads(SEED_COPY.read_text(encoding="utf-8"))
    return requests


@pytest.mark.parametrize("position,name", list(enumerate(ORDER)))
def test_seed_compiles_to_the_seed_request(position: int, name: str) -> None:
    expected = dict(seed_requests()[position])
    expected.pop("taskUUID")
    compiled = api.compile_storyboard(EXAMPLES / f"{name}.yaml")
    assert len(compiled.takes) == 1
    request = compiled.takes[0].request
    extra = {k: v for k, v in request.items() if k not in expected}
    assert all(PLATFORM_DEFAULTS.get(k) == v for k, v in extra.items()), extra
    assert {k: v for k, v in request.items() if k in expected} == expected


def test_there_are_five_seed_requests() -> None:
    requests = seed_requests()
    assert len(requests) == 5
    assert all(r["model"] == "klingai:kling-video@o3-pro" for r in requests)


@pytest.mark.skipif(not SEED_PAGE.exists(), reason="shared/seed is not beside the repository")
def test_the_copy_equals_the_seed_page() -> None:
    assert page_requests() == seed_requests()


@pytest.mark.parametrize("name", ORDER)
def test_compiling_twice_is_byte_identical(name: str) -> None:
    first = dumps(api.compile_storyboard(EXAMPLES / f"{name}.yaml").to_json())
    second = dumps(api.compile_storyboard(EXAMPLES / f"{name}.yaml").to_json())
    assert first == second
    assert "taskUUID" not in first
