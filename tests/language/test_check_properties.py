"""Properties of ``check`` on any input: it passes or reports positioned errors, never crashes.

Whatever the file holds (arbitrary YAML, arbitrary text or bytes, a valid storyboard with
keys dropped, renamed, retyped or duplicated, or with its text spliced), ``api.check`` either
returns or raises :class:`InputError` whose every diagnostic has a file and a line and column
of at least 1; the CLI exits with 0 or 2 and never prints a traceback.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from storyboard import api
from storyboard.cli.main import main
from storyboard.core.errors import InputError
from storyboard.language.model import (
    Clip,
    Cut,
    Defaults,
    Delivery,
    Element,
    Music,
    Output,
    Safety,
    Sequence,
    Shot,
    Storyboard,
    top_level_keys,
)
from tests.conftest import tiny_audio, tiny_jpeg

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

VALID: dict[str, Any] = {
    "storyboard": 1,
    "title": "Harbour",
    "include": ["cast.yaml"],
    "vars": {"look": "cinematic", "camera": {"lens": "35mm"}},
    "output": {"width": 1920, "height": 1080, "format": "MP4", "quality": 90, "file": "h.mp4"},
    "delivery": {
        "ttl": 3600,
        "webhook_url": "https://example.com/hook",
        "safety": {"check_content": True, "mode": "fast"},
    },
    "defaults": {"duration": 5, "sound": True},
    "elements": {
        "keeper": {
            "description": "an old keeper",
            "frontal_image": "assets/keeper.jpg",
            "images": ["assets/keeper.jpg"],
            "tags": ["Character"],
        }
    },
    "shots": [
        {"id": "wide", "prompt": "A wide shot of <<<keeper>>> and <<<dog>>>. {{ look }}"},
        {
            "sequence": "storm",
            "continuity": "auto",
            "shots": [
                {
                    "id": "waves",
                    "prompt": "Waves, {{ vars.camera.lens }}, {{ tone }}",
                    "start": "wide.last",
                    "duration": 3,
                },
                {
                    "id": "rain",
                    "prompt": "Rain, shot {{ shot.index }}",
                    "duration": 3,
                    "end": "assets/keeper.jpg",
                },
            ],
        },
        {
            "id": "finale",
            "start": "rain@1.5s",
            "prompt": "{% include 'styles/noir.j2' %} {% for i in range(2) %}finale {% endfor %}",
            "references": ["assets/keeper.jpg"],
            "variations": 2,
            "pick": 2,
        },
        {"id": "restyle", "edit": "finale", "prompt": "Restyle {{ storyboard.title }}"},
    ],
    "cut": {
        "transition": "crossfade",
        "music": {"file": "assets/score.mp3", "volume": 0.5},
        "clips": [{"shot": "wide", "in": 0.5, "out": 4}, {"shot": "finale"}, {"shot": "restyle"}],
    },
}
FILES: dict[str, str | bytes] = {
    "cast.yaml": "vars:\n  tone: warm\nelements:\n  dog:\n    frontal_image: assets/keeper.jpg\n",
    "assets/keeper.jpg": tiny_jpeg(),
    "assets/score.mp3": tiny_audio("mp3"),
    "styles/noir.j2": "noir, {{ look }}",
}
KEYS = sorted(
    {
        key
        for model in (Storyboard, Output, Delivery, Safety, Defaults, Element, Shot, Sequence)
        for key in top_level_keys(model)
    }
    | {key for model in (Cut, Clip, Music) for key in top_level_keys(model)}
)
SOURCES = [
    "wide.last",
    "finale.first",
    "rain@2s",
    "nowhere.last",
    "assets/keeper.jpg",
    "../outside.jpg",
    "/etc/passwd",
    "https://example.com/a.jpg",
    "http://example.com/a.jpg",
    "file:///etc/passwd",
    "data:image/png;base64,AAAA",
    "data:,",
    "01234567-89ab-cdef-0123-456789abcdef",
    "{{ look }}",
    "<<<keeper>>>",
    "{% include '../x' %}",
    "{{ ''.__class__ }}",
    "{{",
]

_yaml = YAML(typ="safe", pure=True)


def dump(data: Any) -> str:
    out = io.StringIO()
    _yaml.dump(data, out)
    return out.getvalue()


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(SOURCES + KEYS)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@pytest.fixture
def root(project: Any) -> Path:
    folder: Path = project(FILES)
    return folder


def write(root: Path, content: str | bytes) -> Path:
    path = root / "film.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


def assert_checks_cleanly(path: Path, root: Path) -> None:
    """``check`` passes or fails with positioned diagnostics; nothing else escapes."""
    try:
        api.check(path, project_root=root)
    except InputError as exc:
        assert exc.diagnostics
        for diagnostic in exc.diagnostics:
            pos = diagnostic.position
            assert pos is not None, diagnostic.render()
            assert pos.file and pos.line >= 1 and pos.col >= 1, diagnostic.render()
            assert diagnostic.message, diagnostic.render()


def assert_cli_cleanly(path: Path) -> None:
    err = io.StringIO()
    with contextlib.chdir(path.parent), contextlib.redirect_stderr(err):
        status = main(["check", path.name])
    assert status in (0, 2), err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_the_base_storyboard_is_valid(root: Path) -> None:
    path = write(root, dump(VALID))
    api.check(path, project_root=root)
    assert_cli_cleanly(path)


# -- (a) arbitrary documents ----------------------------------------------------------------


@PROPERTY
@given(data=values)
def test_arbitrary_yaml_data(root: Path, data: Any) -> None:
    assert_checks_cleanly(write(root, dump(data)), root)


@PROPERTY
@given(
    items=st.lists(
        st.dictionaries(st.sampled_from(KEYS), values, max_size=6), min_size=1, max_size=4
    ),
    top=st.dictionaries(st.sampled_from(KEYS), values, max_size=6),
)
def test_storyboard_shaped_data(
    root: Path, items: list[dict[str, Any]], top: dict[str, Any]
) -> None:
    data = {"storyboard": 1, "title": "t", **top, "shots": items}
    path = write(root, dump(data))
    assert_checks_cleanly(path, root)
    assert_cli_cleanly(path)


@PROPERTY
@given(text=st.text(max_size=300))
def test_arbitrary_text(root: Path, text: str) -> None:
    assert_checks_cleanly(write(root, text), root)


@PROPERTY
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes(root: Path, raw: bytes) -> None:
    assert_checks_cleanly(write(root, raw), root)


# -- (b) mutations of a valid storyboard ----------------------------------------------------


def containers(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every mapping and list inside ``value``, with its path."""
    if isinstance(value, dict | list):
        yield path, value
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            yield from containers(item, (*path, key))


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 4))):
        found = list(containers(data))
        _, node = draw(st.sampled_from(found))
        op = draw(st.sampled_from(["drop", "insert", "rename", "retype", "duplicate"]))
        if isinstance(node, dict):
            key = draw(st.sampled_from(sorted(node))) if node else None
            if op == "drop" and key is not None:
                del node[key]
            elif op == "rename" and key is not None:
                node[draw(st.sampled_from(KEYS) | st.text(max_size=8))] = node.pop(key)
            elif op in ("retype", "duplicate") and key is not None:
                node[key] = draw(values) if op == "retype" else copy.deepcopy(node)
            else:
                node[draw(st.sampled_from(KEYS))] = draw(values)
        elif node:
            index = draw(st.integers(0, len(node) - 1))
            if op == "drop":
                del node[index]
            elif op == "duplicate":
                node.insert(index, copy.deepcopy(node[index]))
            elif op == "rename":
                node[index] = draw(st.sampled_from(SOURCES))
            else:
                node.insert(index, draw(values))
    return data


@PROPERTY
@given(data=mutated())
def test_mutated_storyboard(root: Path, data: Any) -> None:
    path = write(root, dump(data))
    assert_checks_cleanly(path, root)
    assert_cli_cleanly(path)


@PROPERTY
@given(
    splices=st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 8), st.text(max_size=6)), min_size=1, max_size=4
    )
)
def test_spliced_storyboard_text(root: Path, splices: list[tuple[float, int, str]]) -> None:
    text = dump(VALID)
    for where, cut, insert in splices:
        at = min(math.floor(where * len(text)), len(text))
        text = text[:at] + insert + text[at + cut :]
    path = write(root, text)
    assert_checks_cleanly(path, root)
    assert_cli_cleanly(path)
