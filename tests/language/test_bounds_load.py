"""Stage 1 bounds: nesting is measured before anything composes it, and only regular files
of at most the documented size are read (issue 12, items 4 and 7)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent

from storyboard.core.errors import InputError
from storyboard.language import load
from storyboard.language.fmt import read_formatted
from storyboard.language.load import MAX_DEPTH, SAFE_COMPOSE_DEPTH, load_document

Project = Callable[[dict[str, str | bytes]], Path]
SHOT = "shots:\n  - {id: wide, prompt: a harbour}\n"


def messages(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [d.render() for d in exc.value.diagnostics]


@pytest.fixture
def no_composing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the composer is ever given the text."""

    def refuse(*_: Any) -> None:
        raise AssertionError("the composer ran on a text nested too deep for it")

    monkeypatch.setattr(load, "_compose", refuse)


# -- item 4: nesting --------------------------------------------------------------------------


@pytest.mark.usefixtures("no_composing")
@pytest.mark.parametrize(
    ("value", "column"),
    [
        # the 65th level: the top mapping, vars, then the 63rd bracket (the 1st at col 6)
        ("[" * 30_000 + "]" * 30_000, 6 + (MAX_DEPTH - 2)),  # 60 KB: libyaml overflowed
        ("{a: " * 30_000 + "}" * 30_000, 6 + 4 * (MAX_DEPTH - 2)),
    ],
)
def test_deep_flow_nesting_is_refused_before_composing(
    project: Project, value: str, column: int
) -> None:
    root = project({"film.yaml": f"storyboard: 1\ntitle: t\nvars:\n  a: {value}\n{SHOT}"})
    with pytest.raises(InputError) as exc:
        load_document(root / "film.yaml")
    (message,) = messages(exc)
    assert message.endswith(f"film.yaml:4:{column}: error: nesting deeper than 64 levels")


@pytest.mark.usefixtures("no_composing")
def test_deep_compact_block_nesting_is_refused_before_composing(project: Project) -> None:
    root = project({"film.yaml": "storyboard: 1\ntitle: t\nvars:\n  a:\n" + "  " + "- " * 30_000})
    with pytest.raises(InputError) as exc:
        load_document(root / "film.yaml")
    (message,) = messages(exc)
    # the 65th level: the top mapping, vars, then the 63rd sequence (the first at col 3)
    assert message.endswith(
        f"film.yaml:5:{3 + 2 * (MAX_DEPTH - 2)}: error: nesting deeper than 64 levels"
    )


def test_brackets_inside_quotes_do_not_hide_real_nesting(project: Project) -> None:
    # The `"b, [[...` looks like a quoted string but is not one: the quote is inside a plain
    # scalar, so every bracket after it is real. A scan that skipped "quoted text" would
    # let 30,000 levels through to the composer.
    value = '[a "b, ' + "[" * 30_000 + "]" * 30_000 + ' , c" d]'
    root = project({"film.yaml": f"storyboard: 1\ntitle: t\nvars:\n  a: {value}\n{SHOT}"})
    with pytest.raises(InputError, match="nesting deeper than 64 levels"):
        load_document(root / "film.yaml")


def test_a_chain_of_merge_keys_counts_toward_the_depth(project: Project) -> None:
    lines = ["storyboard: 1", "title: t", "vars:", "  a0: &a0 {x: 1}"]
    lines += [f"  a{i}: &a{i} {{<<: *a{i - 1}}}" for i in range(1, 990)]
    root = project({"film.yaml": "\n".join(lines) + "\n" + SHOT})
    with pytest.raises(InputError) as exc:  # was: RecursionError, a traceback
        load_document(root / "film.yaml")
    (message,) = messages(exc)
    # vars.a62 is at depth 2 and merges 62 mappings in a chain: the 63rd would be at 65
    assert message.endswith(
        "film.yaml:66:14: error: nesting deeper than 64 levels: the mapping merged here with "
        "'<<' merges others in turn, and each merge counts as a level"
    )


def test_a_short_chain_of_merge_keys_is_fine(project: Project) -> None:
    lines = ["a0: &a0 {x: 1}"] + [f"a{i}: &a{i} {{<<: *a{i - 1}, y{i}: {i}}}" for i in range(1, 40)]
    root = project({"film.yaml": "\n".join(lines) + "\n"})
    data = load_document(root / "film.yaml").data
    assert data["a39"] == {"x": 1, **{f"y{i}": i for i in range(1, 40)}}


def test_nesting_just_within_the_limit_loads(project: Project) -> None:
    depth = MAX_DEPTH - 1  # under the top-level mapping
    root = project({"film.yaml": "a: " + "[" * depth + "1" + "]" * depth + "\n"})
    value = load_document(root / "film.yaml").data["a"]
    for _ in range(depth):
        (value,) = value
    assert value == 1


def _deepest(text: str) -> int:
    """The deepest nesting libyaml's parser reaches in ``text`` (up to an error, if any)."""
    depth = deepest = 0
    try:
        for event in YAML(typ="safe", pure=False).parse(text):
            if isinstance(event, CollectionStartEvent):
                depth += 1
                deepest = max(deepest, depth)
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except YAMLError:
        pass
    return deepest


TOKENS = ["[", "]", "{", "}", '"', "'", "#", "\n", "\r", " ", "  ", "- ", "? ", ": ", "a", ","]
TOKENS += ["|", ">", "&x ", "*x", "\u2028", "\x85", "{{ a }}", "[a]", "é"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=60))
def test_the_cheap_bound_is_never_below_the_real_depth(tokens: list[str]) -> None:
    text = "".join(tokens)
    assert load._nesting_bound(text.encode("utf-8")) >= _deepest(text)


@pytest.mark.parametrize(
    "text",
    [
        '[a "b, ' * 50 + "[" * 500,  # quotes inside plain scalars
        '[ "]"\n' * 500,  # a bracket inside quotes on each line
        "[ #]\n" * 500,  # inside comments
        "- " * 500,
        "a:\r b:\r" + "".join(" " * i + "c:\r" for i in range(2, 500)),
        "\ufeff" + "- " * 500,
    ],
)
def test_the_bound_covers_hand_made_evasions(text: str) -> None:
    assert load._nesting_bound(text.encode("utf-8")) >= max(_deepest(text), SAFE_COMPOSE_DEPTH)


def test_a_long_templated_storyboard_takes_the_fast_path() -> None:
    from bench.storyboards import long_storyboard

    # 2,000 shots with `{{ }}` in every fourth prompt: no second pass over the text
    path = long_storyboard(Path(os.environ.get("TMPDIR", "/tmp")) / "bounds-long", 2000)
    assert load._nesting_bound(path.read_bytes()) <= SAFE_COMPOSE_DEPTH


# -- item 7: what is read ---------------------------------------------------------------------


def _in_thread(call: Callable[[], Any], seconds: float = 10) -> Any:
    """``call()``, failing the test if it does not return within ``seconds`` (a FIFO)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = call()
        except BaseException as exc:
            out["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"still reading after {seconds} s")
    if "error" in out:
        raise out["error"]
    return out.get("value")


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


@needs_fifo
def test_a_fifo_is_refused_without_waiting_for_a_writer(project: Project) -> None:
    root = project({})
    os.mkfifo(root / "film.yaml")
    with pytest.raises(InputError) as exc:
        _in_thread(lambda: load_document(root / "film.yaml"))
    (message,) = messages(exc)
    assert message.endswith("film.yaml' is a FIFO (named pipe), not a file")
    assert message.startswith(f"{root / 'film.yaml'}:1:1: error: ")


@needs_fifo
def test_a_fifo_include_is_refused_where_it_is_named(project: Project) -> None:
    root = project({"film.yaml": "include: [cast.yaml]\n"})
    os.mkfifo(root / "cast.yaml")
    with pytest.raises(InputError) as exc:
        _in_thread(lambda: load_document(root / "film.yaml"))
    (message,) = messages(exc)
    assert message.startswith(f"{root / 'film.yaml'}:1:11: error: ")
    assert message.endswith("cast.yaml' is a FIFO (named pipe), not a file")


@needs_fifo
def test_fmt_refuses_a_fifo(project: Project) -> None:
    root = project({})
    os.mkfifo(root / "film.yaml")
    with pytest.raises(InputError, match="is a FIFO"):
        _in_thread(lambda: read_formatted(root / "film.yaml"))


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_an_endless_device_is_refused_unread(project: Project) -> None:
    root = project({})
    (root / "zero").symlink_to("/dev/zero")
    (root / "film.yaml").symlink_to("zero")  # the device, and a way out of the project
    with pytest.raises(InputError) as exc:
        _in_thread(lambda: load_document(root / "film.yaml"))
    (message,) = messages(exc)
    assert message == (
        f"{root / 'film.yaml'}:1:1: error: this file is a symlink to /dev/zero, outside the "
        f"project {root}: storyboard does not follow a symlink out of the project (name the "
        "file itself, or copy it in)"
    )
    with pytest.raises(InputError) as exc:  # named as itself, it is read as no file
        _in_thread(lambda: load_document(Path("/dev/zero"), project_root=Path("/dev")))
    (message,) = messages(exc)
    assert message.endswith("zero' is a character device, not a file")


def test_a_storyboard_linked_inside_the_project_is_read(project: Project) -> None:
    root = project({"drafts/film.yaml": "storyboard: 1\ntitle: T\nshots: []\n"})
    (root / "film.yaml").symlink_to("drafts/film.yaml")
    document = load_document(root / "film.yaml")
    assert document.project_root == root.resolve()
    assert document.data["title"] == "T"
