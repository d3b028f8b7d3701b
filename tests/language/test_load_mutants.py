"""Stage 1, load: the decisions a mutation audit of ``storyboard/language/load.py`` found
untested. Each test fails on one small change of the module (named in its docstring) and
holds what the loader promises: bad input gets ``FILE:LINE:COL: error:`` at its place,
nothing is read from outside the project or from a hidden file, and the values are what
YAML says (ruamel's own safe load)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from storyboard.core.errors import InputError
from storyboard.language.load import MAX_DEPTH, check_storyboard_name, load_document

Project = Callable[[dict[str, str | bytes]], Path]


def messages(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [d.render() for d in exc.value.diagnostics]


def refused(path: Path) -> list[str]:
    with pytest.raises(InputError) as exc:
        load_document(path)
    return messages(exc)


# -- the storyboard's own name ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (" .yaml", "is only dots or blanks before its extension"),  # build/' '
        ("a\\b.yaml", "holds a path separator"),  # a folder on Windows
        ("a\u200bb.yaml", "holds a control character"),  # Cf: zero width space
        ("a\u2028b.yaml", "holds a control character"),  # Zl: a line separator
        ("a\u2029b.yaml", "holds a control character"),  # Zp: a paragraph separator
        (".GIT.yaml", "is .GIT, a folder git or storyboard keeps"),  # case-blind file systems
        (".Storyboard.yaml", "is .Storyboard, a folder git or storyboard keeps"),
    ],
)
def test_a_name_that_makes_no_build_folder_is_refused_before_reading(
    project: Project, name: str, problem: str
) -> None:
    """Mutants: the blank, backslash, Cf/Zl/Zp and case-blind checks of
    ``check_storyboard_name`` dropped."""
    root = project({})
    diagnostic = check_storyboard_name(root / name)
    assert diagnostic is not None
    assert problem in diagnostic.message
    if "\\" in name:
        return  # a POSIX file name may hold one; the check is for where it cannot
    (root / name).write_text("storyboard: 1\ntitle: T\n", encoding="utf-8")
    (message,) = refused(root / name)
    assert message.startswith(f"{root / name}:1:1: error: the file name {name!r} {problem}")


# -- diagnostics: each once, at its place -------------------------------------------------------


def test_an_error_reached_through_several_aliases_is_reported_once(project: Project) -> None:
    """Mutant: the set of reported diagnostics skipped (a node is built again per alias)."""
    root = project({"film.yaml": "a: &x {n: !!int twelve}\nb: *x\nc: [*x, *x]\n"})
    assert refused(root / "film.yaml") == [
        f"{root / 'film.yaml'}:1:11: error: cannot read 'twelve' as int"
    ]


def test_a_lone_surrogate_written_as_a_long_escape_is_an_error(project: Project) -> None:
    r"""Mutant: only ``\u`` escapes looked for (``\U0000D800`` is half a character too)."""
    root = project({"film.yaml": 'title: T\nvars:\n  a: "x \\U0000D83D y"\n  b: "\\U0001F600"\n'})
    (message,) = refused(root / "film.yaml")
    assert message.startswith(f"{root / 'film.yaml'}:3:6: error: text holds a lone surrogate")
    assert "(U+D83D)" in message
    root = project({"fine.yaml": 'vars:\n  b: "\\U0001F600 \\ud83d\\ude00"\n'})
    assert load_document(root / "fine.yaml").data["vars"] == {"b": "\U0001f600 \U0001f600"}


# -- size after alias expansion -----------------------------------------------------------------


@pytest.mark.parametrize("anchor", ["T", "0", "_t", "é", "Τ"])
def test_text_repeated_through_any_anchor_name_is_bounded(
    project: Project, monkeypatch: pytest.MonkeyPatch, anchor: str
) -> None:
    """Mutant: the quick look for an anchor (``&name``) matches fewer names than YAML allows,
    and a text bomb whose anchor starts with a capital, a digit or ``_`` skips the count."""
    monkeypatch.setattr("storyboard.language.load.MAX_TEXT", 100)
    text = "x" * 30
    root = project({"film.yaml": f"t: &{anchor} {text}\nc: [*{anchor}, *{anchor}, *{anchor}]\n"})
    (message,) = refused(root / "film.yaml")
    assert "document too large: expands to more than 100 characters of text" in message
    assert message.startswith(str(root / "film.yaml") + ":")


@pytest.mark.parametrize(("limit", "loads"), [(152, True), (151, False)])
def test_the_text_bound_counts_keys_and_every_copy_exactly(
    project: Project, monkeypatch: pytest.MonkeyPatch, limit: int, loads: bool
) -> None:
    """Mutants: the bound off by one, or keys not counted. The text expands to 't' + 30 +
    'c' + 4 * 30 = 152 characters: a limit of 152 holds it, 151 does not."""
    monkeypatch.setattr("storyboard.language.load.MAX_TEXT", limit)
    text = "x" * 30
    root = project({"film.yaml": f"t: &a {text}\nc: [*a, *a, *a, *a]\n"})
    if loads:
        assert load_document(root / "film.yaml").data == {"t": text, "c": [text] * 4}
    else:
        (message,) = refused(root / "film.yaml")
        assert f"expands to more than {limit} characters of text" in message


# -- includes -----------------------------------------------------------------------------------


def test_an_include_that_is_not_a_list_is_an_error_at_its_value(project: Project) -> None:
    """Mutant: ``include: cast.yaml`` (one name, not a list) taken as a list of one."""
    root = project({"film.yaml": "title: T\ninclude: cast.yaml\n", "cast.yaml": "vars: {a: 1}\n"})
    assert refused(root / "film.yaml") == [
        f"{root / 'film.yaml'}:2:10: error: include: expected a list of file names"
    ]


@pytest.mark.parametrize("name", ["sub/../film.yaml", "link.yaml"])
def test_a_file_that_includes_itself_by_another_name_is_a_cycle(
    project: Project, name: str
) -> None:
    """Mutant: the cycle looked for by the name written, not the file it names (a symlink,
    or ``..``), which recursed until Python's stack ran out."""
    root = project({"film.yaml": f"title: T\ninclude: ['{name}']\n", "sub/x.yaml": "vars: {}\n"})
    (root / "link.yaml").symlink_to("film.yaml")
    (message,) = refused(root / "film.yaml")
    assert message.startswith(f"{root / 'film.yaml'}:2:11: error: include cycle: ")
    assert message.endswith(" -> ".join([str(root / "film.yaml")] * 2))


def test_an_include_named_twice_on_two_paths_is_merged_once(project: Project) -> None:
    """Mutant: the set of files included already not kept (a diamond then defines every
    name twice)."""
    root = project(
        {
            "film.yaml": "title: T\ninclude: [a.yaml, b.yaml]\n",
            "a.yaml": "include: [cast.yaml]\nvars: {a: 1}\n",
            "b.yaml": "include: [./cast.yaml]\nvars: {b: 2}\n",
            "cast.yaml": "vars: {c: 3}\nelements:\n  hero: {frontal_image: hero.jpg}\n",
        }
    )
    document = load_document(root / "film.yaml")
    assert document.data["vars"] == {"a": 1, "b": 2, "c": 3}
    assert document.data["elements"] == {"hero": {"frontal_image": "hero.jpg"}}
    assert [p.name for p in document.files] == ["film.yaml", "a.yaml", "cast.yaml", "b.yaml"]


def test_names_from_an_include_of_an_include_reach_the_storyboard(project: Project) -> None:
    """Mutant: an included file's sections merged before its own includes (the names of an
    include two levels down were then lost, without a word)."""
    root = project(
        {
            "film.yaml": "title: T\ninclude: [a.yaml]\nvars: {top: 0}\n",
            "a.yaml": "include: [deep/b.yaml]\nvars: {a: 1}\n",
            "deep/b.yaml": "vars: {b: 2}\nelements:\n  hero:\n    frontal_image: hero.jpg\n",
        }
    )
    document = load_document(root / "film.yaml")
    assert document.data["vars"] == {"top": 0, "a": 1, "b": 2}
    assert document.data["elements"] == {"hero": {"frontal_image": "hero.jpg"}}
    assert document.file_of(("elements", "hero", "frontal_image")) == root / "deep" / "b.yaml"


def test_keys_from_an_include_keep_their_positions(project: Project) -> None:
    """Mutant: only the value positions of included names copied, not their keys' (an
    unknown key in an included element was then shown in the storyboard, line 1)."""
    root = project(
        {
            "film.yaml": "title: T\ninclude: [cast.yaml]\n",
            "cast.yaml": "elements:\n  hero:\n    frontal_image: hero.jpg\n",
        }
    )
    source_map = load_document(root / "film.yaml").source_map
    key = source_map.key(("elements", "hero", "frontal_image"))
    assert (Path(key.file).name, key.line, key.col) == ("cast.yaml", 3, 5)
    key = source_map.key(("elements", "hero"))
    assert (Path(key.file).name, key.line, key.col) == ("cast.yaml", 2, 3)


@pytest.mark.parametrize(
    ("cast", "where", "problem"),
    [
        ("- vars: {a: 1}\n", "1:1", "an included file must be a mapping, not a list"),
        ("vars: [a, b]\n", "1:7", "vars: expected a mapping"),
        ("elements: hero\n", "1:11", "elements: expected a mapping"),
    ],
)
def test_an_included_file_of_the_wrong_shape_is_an_error_in_it(
    project: Project, cast: str, where: str, problem: str
) -> None:
    """Mutants: the checks that an included file, and its vars and elements, are mappings
    dropped."""
    root = project({"film.yaml": "title: T\ninclude: [cast.yaml]\n", "cast.yaml": cast})
    assert refused(root / "film.yaml") == [f"{root / 'cast.yaml'}:{where}: error: {problem}"]


def test_an_include_linked_out_of_the_project_is_refused_unread(
    project: Project, tmp_path: Path
) -> None:
    """Mutant: the include's place checked by its name, not by where its links lead."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "cast.yaml").write_text("vars: {secret: SECRET-OUTSIDE}\n")
    root = project({"film.yaml": "title: T\ninclude: [cast.yaml]\n"})
    (root / "cast.yaml").symlink_to(outside / "cast.yaml")
    (message,) = refused(root / "film.yaml")
    assert message.startswith(
        f"{root / 'film.yaml'}:2:11: error: include 'cast.yaml' is outside the project folder"
    )
    assert "SECRET-OUTSIDE" not in message


@pytest.mark.parametrize("hidden", [".secrets/cast.yaml", "cast/.private/cast.yaml"])
def test_an_include_linked_into_a_hidden_folder_is_refused(project: Project, hidden: str) -> None:
    """Mutants: the hidden part looked for in the name written (not where its links lead),
    or in the file's own name only."""
    root = project({"film.yaml": "title: T\ninclude: [cast.yaml]\n", hidden: "vars: {a: 1}\n"})
    (root / "cast.yaml").symlink_to(hidden)
    (message,) = refused(root / "film.yaml")
    assert message.startswith(
        f"{root / 'film.yaml'}:2:11: error: include 'cast.yaml' is in a hidden file or folder"
    )
    assert f"('{hidden.split('/')[-2]}')" in message


# -- values are what YAML says ------------------------------------------------------------------


def test_in_a_list_of_merged_mappings_the_first_wins(project: Project) -> None:
    """Bug (fixed): ``<<: [*a, *b]`` took a key from the last mapping that has it; YAML (and
    ruamel) take it from the first, and keys written in the mapping override them all."""
    text = (
        "a: &a {x: 1}\nb: &b {x: 2, y: 2, z: 2}\nc: &c {<<: *b, y: 3}\nm:\n  <<: [*a, *c]\n  z: 4\n"
    )
    root = project({"film.yaml": text})
    document = load_document(root / "film.yaml")
    assert document.data == YAML(typ="safe", pure=True).load(text)
    assert document.data["m"] == {"x": 1, "y": 3, "z": 4}
    where = document.source_map.value
    assert [(where(("m", k)).line, where(("m", k)).col) for k in "xyz"] == [
        (1, 11),
        (3, 19),
        (6, 6),
    ]


def test_a_redefined_anchor_loads_the_latest_without_a_warning(project: Project) -> None:
    """Mutant: ruamel's warning about an anchor defined again not silenced (YAML 1.2 allows
    it; the warning went to stderr, outside any diagnostic, or failed the load)."""
    text = "a: &x 1\nb: &x 2\nc: *x\n"
    root = project({"film.yaml": text})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        document = load_document(root / "film.yaml")
    assert document.data == {"a": 1, "b": 2, "c": 2}


def test_keys_are_the_text_written(project: Project) -> None:
    """Mutant: a key YAML reads as a number or a boolean kept as one (``1`` and ``true`` are
    equal in Python, and a storyboard's names are text)."""
    root = project({"film.yaml": "vars:\n  1: one\n  true: yes\n  0x10: hex\n  ~: none\n"})
    assert load_document(root / "film.yaml").data["vars"] == {
        "1": "one",
        "true": "yes",
        "0x10": "hex",
        "~": "none",
    }


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("a: !!set {x, y}\n", "1:4", "unsupported YAML tag '!!set'"),
        ("a: !!omap [x: 1]\n", "1:4", "unsupported YAML tag '!!omap'"),
        ("a: !shots [1]\n", "1:4", "unsupported YAML tag '!shots'"),
        ("a:\n  <<: 1\n  b: 2\n", "2:7", "a merge key ('<<') needs a mapping"),
        ("a:\n  <<: [{x: 1}, [y]]\n", "2:16", "a merge key ('<<') needs a mapping"),
        ("? [a, b]\n: 1\n", "1:3", "a key must be plain text"),
        ("{x: 1}: 1\n", "1:1", "a key must be plain text"),
        ("a: " + "1" * 5000 + "\n", "1:4", f"cannot read '{'1' * 37}...' as int (too many digits)"),
        ("a: !!int 0x" + "f" * 10 + "z\n", "1:4", "cannot read '0xffffffffffz' as int"),
        ("a: !!float x1\n", "1:4", "cannot read 'x1' as float"),
    ],
)
def test_what_no_storyboard_holds_is_an_error_at_its_place(
    project: Project, text: str, where: str, problem: str
) -> None:
    """Mutants: the tag check of collections, the merge-key and key checks dropped, and the
    reason a number is refused."""
    root = project({"film.yaml": text})
    assert f"{root / 'film.yaml'}:{where}: error: {problem}" in refused(root / "film.yaml")


def test_one_level_past_the_limit_is_refused_by_the_builder(project: Project) -> None:
    """Mutant: the builder's depth check off by one (a file this small is not measured
    before composing: the builder alone bounds it)."""
    depth = MAX_DEPTH  # under the top-level mapping: one more than test_bounds_load loads
    root = project({"film.yaml": "a: " + "[" * depth + "1" + "]" * depth + "\n"})
    assert refused(root / "film.yaml") == [
        f"{root / 'film.yaml'}:1:{4 + depth - 1}: error: nesting deeper than {MAX_DEPTH} levels"
    ]


def test_a_byte_order_mark_is_no_part_of_the_text_or_the_columns(project: Project) -> None:
    """Mutant: the file decoded without dropping its byte order mark."""
    root = project({"film.yaml": "\ufefftitle: T\nvars: {a: 1}\n"})
    document = load_document(root / "film.yaml")
    assert document.data == {"title": "T", "vars": {"a": 1}}
    key = document.source_map.key(("title",))
    assert (key.line, key.col) == (1, 1)
    root = project({"bad.yaml": "\ufeffa: x\x07\n", "colon.yaml": "\ufeffa: b: c\n"})
    assert refused(root / "bad.yaml")[0].startswith(f"{root / 'bad.yaml'}:1:5: error: YAML error")
    assert refused(root / "colon.yaml")[0].startswith(
        f"{root / 'colon.yaml'}:1:5: error: YAML syntax error: ':' is not allowed here"
    )


def test_the_cheap_nesting_bound_covers_two_block_levels_a_column() -> None:
    """Mutant: the block part of the bound one level a prefix column, not two (a mapping and
    a list inside it start at the same column: 77 levels in lines of under 40 indicators)."""
    from storyboard.language import load
    from tests.language.test_bounds_load import _deepest

    lines = ["a:"]
    for i in range(38):
        lines += [" " * i + "-", " " * (i + 1) + "b:"]
    text = "\n".join([*lines, " " * 39 + "x"]) + "\n"
    assert _deepest(text) == 77
    assert load._nesting_bound(text.encode()) >= 77


@pytest.mark.parametrize("twice", [False, True])
def test_a_yaml_1_1_directive_changes_nothing_on_either_parser(
    project: Project, twice: bool
) -> None:
    """Every file is YAML 1.2 (docs/language.md). libyaml ignores a ``%YAML 1.1`` directive;
    the pure parser, which composes a file libyaml refuses (here an anchor defined twice),
    honoured it: ``0123`` was octal 83 and ``yes`` true there, 123 and text here, so an
    unrelated anchor changed the values. (Mutant of the audit: ``0123`` read by the shortcut
    for plain integers, on the pure parser's path, was the decimal it now always is.)"""
    anchors = "a: &x 1\nb: &x 2\n" if twice else "a: &x 1\nb: &y 2\n"
    text = f"%YAML 1.1\n---\n{anchors}k: 0123\nm: yes\nj: 0\nl: 10\n"
    root = project({"film.yaml": text})
    assert load_document(root / "film.yaml").data == {
        "a": 1, "b": 2, "k": 123, "m": "yes", "j": 0, "l": 10
    }  # fmt: skip


def test_an_oversized_include_is_named_in_its_own_file(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutant: the size error shown where the include is named ("file is 120 bytes" there
    names no file): it is shown at the top of the file too large, which it names."""
    monkeypatch.setattr("storyboard.language.load.MAX_FILE_BYTES", 100)
    root = project({"film.yaml": "title: T\ninclude: [cast.yaml]\n", "cast.yaml": "#" * 120})
    (message,) = refused(root / "film.yaml")
    assert message.startswith(f"{root / 'cast.yaml'}:1:1: error: file is ")
    assert message.endswith("; the largest file read is 100")


def test_an_include_name_too_long_for_the_file_system_is_an_error_where_named(
    project: Project,
) -> None:
    """Mutant: the file system's refusal of the name not caught (a traceback, exit 3)."""
    name = "x" * 300 + ".yaml"
    root = project({"film.yaml": f"title: T\ninclude: [{name}]\n"})
    (message,) = refused(root / "film.yaml")
    assert message.startswith(f"{root / 'film.yaml'}:2:11: error: ")
    assert name in message
