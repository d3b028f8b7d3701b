"""Stage 1: loading YAML with positions, includes, and hostile input."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.core.errors import InputError
from storyboard.core.project import find_project_root
from storyboard.language.load import MAX_FILE_BYTES, load_document

Project = Callable[[dict[str, str | bytes]], Path]


def messages(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [d.render() for d in exc.value.diagnostics]


def test_positions_of_keys_and_scalars(project: Project) -> None:
    root = project({"a.yaml": "title: x\nshots:\n  - id: wide\n    duration: 3\n"})
    doc = load_document(root / "a.yaml")
    assert doc.data == {"title": "x", "shots": [{"id": "wide", "duration": 3}]}
    pos = doc.source_map.value(("shots", 0, "duration"))
    assert (pos.line, pos.col) == (4, 15)
    key = doc.source_map.key(("shots", 0, "duration"))
    assert (key.line, key.col) == (4, 5)
    # a path with no position of its own falls back to its nearest ancestor
    assert doc.source_map.value(("shots", 0, "missing")) == doc.source_map.value(("shots", 0))


def test_yaml_syntax_error_has_position(project: Project) -> None:
    root = project({"a.yaml": "title: x\nshots: [1,\n"})
    with pytest.raises(InputError) as exc:
        load_document(root / "a.yaml")
    (message,) = messages(exc)
    assert message.startswith(str(root / "a.yaml") + ":3:1: error: YAML syntax error")


def test_duplicate_key_names_both_places(project: Project) -> None:
    root = project({"a.yaml": "title: x\ntitle: y\n"})
    with pytest.raises(InputError) as exc:
        load_document(root / "a.yaml")
    (message,) = messages(exc)
    assert ":2:1: error: duplicate key 'title' (first defined at " in message
    assert message.endswith("a.yaml:1:1)")


def test_billion_laughs_is_refused_quickly(project: Project) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    root = project({"bomb.yaml": "\n".join(lines) + "\n"})
    started = time.thread_time()  # the work done: a loaded machine does not stretch it
    with pytest.raises(InputError) as exc:
        load_document(root / "bomb.yaml")
    assert time.thread_time() - started < 0.5
    assert "document too large" in messages(exc)[0]


def test_a_document_without_aliases_is_counted_too(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No anchor: the alias walk is skipped, the builder counts the nodes instead.
    monkeypatch.setattr("storyboard.language.load.MAX_NODES", 50)
    items = ", ".join(str(i) for i in range(60))
    root = project({"many.yaml": f"title: t\nlist: [{items}]\n"})
    with pytest.raises(InputError) as exc:
        load_document(root / "many.yaml")
    # the 51st value: the mapping, 't', the list and its items 0..47
    (message,) = messages(exc)
    assert message.endswith(
        f"many.yaml:2:{8 + items.index('47')}: error: document too large: expands to more "
        "than 50 values (are aliases nested many times?)"
    )
    root = project({"fewer.yaml": "title: t\nlist: [1, 2, 3]\n"})
    assert load_document(root / "fewer.yaml").data["list"] == [1, 2, 3]


def test_recursive_alias_is_an_error(project: Project) -> None:
    root = project({"a.yaml": "a: &x [1, *x]\n"})
    with pytest.raises(InputError, match="recursive alias"):
        load_document(root / "a.yaml")


def test_oversized_file_is_refused_unread(project: Project) -> None:
    root = project({"big.yaml": "#" * (MAX_FILE_BYTES + 1)})
    with pytest.raises(InputError, match="the largest file read is"):
        load_document(root / "big.yaml")


def test_merge_keys_and_aliases(project: Project) -> None:
    root = project({"a.yaml": "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n"})
    doc = load_document(root / "a.yaml")
    assert doc.data["m"] == {"x": 1, "y": 3}
    assert doc.source_map.value(("m", "y")).line == 4


def test_includes_merge_with_positions_in_the_included_file(project: Project) -> None:
    root = project(
        {
            "film.yaml": "include: [cast/cast.yaml]\nvars: {a: 1}\n",
            "cast/cast.yaml": "elements:\n  hero:\n    frontal_image: hero.jpg\nvars: {b: 2}\n",
        }
    )
    doc = load_document(root / "film.yaml")
    assert doc.data["vars"] == {"a": 1, "b": 2}
    assert doc.data["elements"] == {"hero": {"frontal_image": "hero.jpg"}}
    pos = doc.source_map.value(("elements", "hero", "frontal_image"))
    assert pos.file.endswith("cast.yaml") and (pos.line, pos.col) == (3, 20)
    # relative paths resolve against the file that names them
    assert doc.file_of(("elements", "hero", "frontal_image")) == root / "cast" / "cast.yaml"
    assert doc.files == (root / "film.yaml", root / "cast" / "cast.yaml")


def test_include_conflict_names_both_places(project: Project) -> None:
    root = project({"film.yaml": "include: [c.yaml]\nvars: {a: 1}\n", "c.yaml": "vars:\n  a: 2\n"})
    with pytest.raises(InputError) as exc:
        load_document(root / "film.yaml")
    (message,) = messages(exc)
    assert "c.yaml:2:3: error: variable 'a' is defined twice: here and at " in message
    assert message.endswith("film.yaml:2:8")


def test_include_cycle_prints_the_chain(project: Project) -> None:
    root = project(
        {
            "film.yaml": "include: [a.yaml]\n",
            "a.yaml": "include: [b.yaml]\n",
            "b.yaml": "include: [a.yaml]\n",
        }
    )
    with pytest.raises(InputError) as exc:
        load_document(root / "film.yaml")
    (message,) = messages(exc)
    assert "include cycle: " in message
    chain = message.split("include cycle: ")[1].split(" -> ")
    assert [Path(p).name for p in chain] == ["film.yaml", "a.yaml", "b.yaml", "a.yaml"]
    assert message.split(": error:")[0].endswith("b.yaml:1:11")


def test_include_outside_project_is_refused(project: Project, tmp_path: Path) -> None:
    (tmp_path / "outside.yaml").write_text("vars: {a: 1}\n")
    root = project({"film.yaml": "include: [../outside.yaml]\n"})
    with pytest.raises(InputError, match="outside the project folder"):
        load_document(root / "film.yaml")


def test_project_root_is_nearest_marker(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    deep = tmp_path / "films" / "one"
    deep.mkdir(parents=True)
    assert find_project_root(deep / "x.yaml") == tmp_path.resolve()


SCALARS = ["yes", "no", "on", "1_000", "0o14", "014", "0x1F", "~", "null", "2026-01-01", "1e3"]
SCALARS += [".inf", "-.5", "True", "FALSE", "3", "three", ""]


@pytest.mark.parametrize("directive", ["", "%YAML 1.1\n---\n", "%YAML 1.2\n---\n"])
def test_scalars_resolve_as_plain_libyaml_resolves_them(directive: str) -> None:
    from ruamel.yaml import YAML

    from storyboard.language.load import _LibyamlResolver

    text = directive + "".join(f"k{i}: {v}\n" for i, v in enumerate(SCALARS))
    cached = YAML(typ="safe", pure=False)
    cached.Resolver = _LibyamlResolver
    for _ in range(2):  # the second time from the rules found the first time
        ours = [v.tag for _, v in cached.compose(text).value]
        theirs = [v.tag for _, v in YAML(typ="safe", pure=False).compose(text).value]
        assert ours == theirs


NUMBERS = ["0", "7", "-3", "+5", "0123", "1_000", "0o14", "0x1F", "0b101", "3.5", "1e3"]
NUMBERS += ["12345678901234567890", "٣", "!!str 5", "!!int '7'", "!<tag:yaml.org,2002:str> 5"]
NUMBERS += ["!<tag:yaml.org,2002:st%72> 5", "!!float 2", "'12'", "!!int ٣", "!!null ''"]


@pytest.mark.parametrize("directive", ["", "%YAML 1.1\n---\n"])
def test_values_are_what_ruamel_loads(project: Project, directive: str) -> None:
    """The values built from the composed nodes (tags read without ruamel's ``tag``, plain
    decimal integers without its constructor) are what ruamel's own safe load makes."""
    from ruamel.yaml import YAML

    text = "storyboard: 1\nvars:\n" + "".join(f"  k{i}: {v}\n" for i, v in enumerate(NUMBERS))
    root = project({"film.yaml": directive + text})
    ours = load_document(root / "film.yaml").data["vars"]
    theirs = YAML(typ="safe", pure=False).load(directive + text)["vars"]
    assert ours == theirs
    assert [type(v) for v in ours.values()] == [type(v) for v in theirs.values()]


def test_a_storyboard_name_the_lock_file_cannot_be_written_under_is_refused(
    project: Project,
) -> None:
    """NAME.yaml of 234 bytes is the longest: a build writes ``.NAME.lock.storyboard-tmp``
    (255 bytes, the most file systems allow); 235 is refused by check, not by the build."""
    from storyboard.language.load import MAX_STEM_BYTES, check_storyboard_name

    assert MAX_STEM_BYTES == 234
    root = project({})
    assert check_storyboard_name(root / ("f" * 234 + ".yaml")) is None
    problem = check_storyboard_name(root / ("é" * 117 + "f.yaml"))  # 235 bytes in UTF-8
    assert problem is not None
    assert "is 235 bytes long before its extension" in problem.message
    assert "NAME at most 234" in problem.message
