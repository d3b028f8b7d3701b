"""storyboard fmt: canonical layout, comments kept, values never changed, idempotent."""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.nodes import MappingNode

import storyboard.cli.main as cli_main
from storyboard.core.errors import InputError
from storyboard.language.fmt import format_file, format_files, format_text
from storyboard.language.load import load_document
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]
RunCli = Callable[..., CliResult]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml")) if (ROOT / "examples").is_dir() else []


@pytest.fixture
def fmt_cli(run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """``run_cli`` with `fmt` registered (until main.py lists it)."""
    if "fmt" not in cli_main.COMMAND_MODULES:
        monkeypatch.setattr(cli_main, "COMMAND_MODULES", (*cli_main.COMMAND_MODULES, "fmt"))
    return run_cli


class _TagsAsTuples(SafeConstructor):
    def construct_undefined(self, node: Any) -> Any:
        if isinstance(node, MappingNode):
            return (str(node.tag), self.construct_mapping(node, deep=True))
        return (str(node.tag), self.construct_scalar(node))


_TagsAsTuples.add_constructor(None, _TagsAsTuples.construct_undefined)


def data(text: str) -> Any:
    """The plain data of a YAML text (unknown tags as ``(tag, value)``)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Constructor = _TagsAsTuples
    return yaml.load(text)


def comments(text: str) -> list[str]:
    """Comment texts of a YAML text, found by the scanner (independent of fmt)."""
    found: list[str] = []
    yaml = YAML(typ="rt")
    for token in yaml.scan(text):
        for attr in ("_comment", "comment"):
            value = getattr(token, attr, None)
            if value is None:
                continue
            stack = [value]
            while stack:
                item = stack.pop()
                if isinstance(item, list | tuple):
                    stack.extend(item)
                elif hasattr(item, "value") and isinstance(item.value, str):
                    found.extend(line.strip() for line in item.value.splitlines() if line.strip())
            break
    return sorted(found)


def check_formatting(text: str) -> str:
    """Format ``text`` and check every promise: same data, same comments, stable, tidy."""
    out = format_text(text)
    assert same(data(text), data(out)), out
    assert comments(text) == comments(out), out
    assert format_text(out) == out, out
    assert out.endswith("\n") and not out.endswith("\n\n")
    return out


def same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def keys_in_order(text: str, indent: int) -> list[str]:
    return re.findall(rf"^ {{{indent}}}(?:- )?([a-z_]+):", text, re.MULTILINE)


# -- layout ----------------------------------------------------------------------------------


def test_keys_in_canonical_order_at_every_level() -> None:
    text = """\
cut:
  clips:
    - transition: fade
      out: 2
      shot: a
      in: 1
  music: {volume: 0.3, file: m.mp3}
  transition: cut
shots:
  - duration: 3
    start: b.last
    prompt: A.
    id: a
    sound: true
  - shots:
      - prompt: B.
        id: b
    pick: 1
    continuity: chain
    variations: 2
    sequence: s
elements:
  hero:
    tags: [Character]
    frontal_image: hero.png
    description: the hero
delivery:
  safety: {mode: fast, check_content: true}
  ttl: 60
output:
  height: 1080
  width: 1920
defaults:
  sound: true
  duration: 5
vars:
  zeta: 1
  alpha: 2
zz_unknown: 1
title: T
aa_unknown: 2
storyboard: 1
"""
    out = check_formatting(text)
    assert keys_in_order(out, 0) == [
        "storyboard",
        "title",
        "vars",
        "output",
        "delivery",
        "defaults",
        "elements",
        "shots",
        "cut",
        "zz_unknown",  # unknown keys after the known ones, in their own order
        "aa_unknown",
    ]
    shot, sequence = data(out)["shots"]
    assert list(shot) == ["id", "start", "duration", "sound", "prompt"]  # the prompt last
    assert list(sequence) == ["sequence", "continuity", "variations", "pick", "shots"]
    assert list(sequence["shots"][0]) == ["id", "prompt"]
    assert list(data(out)["elements"]["hero"]) == ["description", "frontal_image", "tags"]
    assert list(data(out)["cut"]) == ["transition", "music", "clips"]
    assert list(data(out)["cut"]["clips"][0]) == ["shot", "in", "out", "transition"]
    assert "music: {file: m.mp3, volume: 0.3}" in out  # flow style kept, keys ordered
    assert list(data(out)["delivery"]) == ["ttl", "safety"]
    assert list(data(out)["delivery"]["safety"]) == ["check_content", "mode"]
    assert list(data(out)["output"]) == ["width", "height"]
    assert list(data(out)["defaults"]) == ["duration", "sound"]
    assert list(data(out)["vars"]) == ["zeta", "alpha"]  # the writer's own names: kept


def test_indentation_blank_lines_and_whitespace() -> None:
    text = (
        "storyboard: 1   \n\n\ntitle: T\nmodel: klingai:kling-video@o3-pro\n"
        "defaults:\n    sound: true\nshots:\n- id: a\n  prompt: A.   \n\n\n\n"
        "- id: b\n  prompt: B.\ncut:\n    clips:\n    -   shot: a\n"
    )
    out = check_formatting(text)
    assert out == (
        "storyboard: 1\n"
        "title: T\n"
        "model: klingai:kling-video@o3-pro\n"
        "\n"
        "defaults:\n"
        "  sound: true\n"
        "\n"
        "shots:\n"
        "  - id: a\n"
        "    prompt: A.\n"
        "\n"  # the writer's blank lines between shots: kept, as one
        "  - id: b\n"
        "    prompt: B.\n"
        "\n"
        "cut:\n"
        "  clips:\n"
        "    - shot: a\n"
    )


def test_block_scalars_keep_their_style_and_lines() -> None:
    text = """\
storyboard: 1
title: T
shots:
  - prompt: >-
      A folded prompt,
      written on three lines,
      as the writer chose.
    id: a
  - prompt: |
      A literal prompt
        with an indented line
    id: b
  - prompt: 'single # quoted'
    id: c
  - prompt: "double # quoted"
    id: d
"""
    out = check_formatting(text)
    assert "    prompt: >-\n      A folded prompt,\n      written on three lines,\n" in out
    assert "    prompt: |\n      A literal prompt\n        with an indented line\n" in out
    assert "prompt: 'single # quoted'" in out
    assert 'prompt: "double # quoted"' in out


def test_long_plain_prompt_is_wrapped_without_changing_it() -> None:
    words = " ".join(f"word{i}" for i in range(60))
    text = f"storyboard: 1\ntitle: T\nshots:\n  - id: a\n    prompt: {words}\n"
    out = check_formatting(text)
    assert max(len(line) for line in out.splitlines()) <= 100
    assert data(out)["shots"][0]["prompt"] == words


def test_trailing_spaces_inside_a_literal_block_are_content() -> None:
    text = "storyboard: 1\ntitle: T\nvars:\n  x: |\n    kept   \n    too\n"
    out = check_formatting(text)
    assert data(out)["vars"]["x"] == "kept   \ntoo\n"


# -- comments --------------------------------------------------------------------------------


def test_schema_line_and_head_comments_stay_first() -> None:
    text = """\
# yaml-language-server: $schema=../schemas/storyboard.schema.json
# A film about a ferry.
title: Night Ferry
storyboard: 1
shots:
  - id: a
    prompt: A.
"""
    out = check_formatting(text)
    assert out.startswith(
        "# yaml-language-server: $schema=../schemas/storyboard.schema.json\n"
        "# A film about a ferry.\n"
        "storyboard: 1\n"
        "title: Night Ferry\n"
    )


def test_comments_move_with_their_keys() -> None:
    text = """\
title: T                 # end of title
# about the version
storyboard: 1
shots:
  # before the first shot
  - duration: 3          # three seconds
    # about the id
    id: a                # the id
    prompt: A.
    # closes shot a

  # about shot b
  - prompt: |            # header comment
      B.
    id: b
cut:
  # about the clips
  clips:
    - out: 2             # trim
      shot: a
# the end
"""
    expected = """\
# about the version
storyboard: 1
title: T                 # end of title

shots:
  # before the first shot
  # about the id
  - id: a                # the id
    duration: 3          # three seconds
    prompt: A.
    # closes shot a

  # about shot b
  - id: b
    prompt: |            # header comment
      B.

cut:
  # about the clips
  clips:
    - shot: a
      out: 2             # trim
# the end
"""
    assert check_formatting(text) == expected


def test_comment_indented_deeper_closes_its_block() -> None:
    text = """\
storyboard: 1
title: T
output:
  height: 1080
  width: 1920
  # closes output
# above shots
shots:
  - id: a
    prompt: A.
"""
    out = check_formatting(text)
    assert "  height: 1080\n  # closes output\n\n# above shots\nshots:\n" in out


def test_comments_inside_flow_collections_move_above_them() -> None:
    text = "storyboard: 1\ntitle: T\nvars:\n  tags: [a,   # first\n    b]\n"
    out = check_formatting(text)
    assert "  # first\n  tags: [a, b]\n" in out


def test_hash_inside_scalars_is_not_a_comment() -> None:
    text = """\
storyboard: 1
title: "A #1 hit"   # a real one
shots:
  - id: a
    prompt: |
      # not a comment
      text
"""
    out = check_formatting(text)
    assert 'title: "A #1 hit"   # a real one\n' in out
    assert "      # not a comment\n      text\n" in out


# -- aliases, anchors, odd YAML --------------------------------------------------------------


def test_anchors_aliases_and_merge_keys_are_kept() -> None:
    text = """\
storyboard: 1
title: T
vars:
  common: &common
    sound: true
    duration: 4
  look: &look cinematic
shots:
  - prompt: A. *look is not an alias inside text
    <<: *common
    id: a
  - id: b
    prompt: *look
"""
    out = check_formatting(text)
    assert "common: &common" in out
    assert "look: &look cinematic" in out
    assert "  - <<: *common\n    id: a\n" in out
    assert "prompt: *look" in out


def test_anchor_moves_to_its_first_use() -> None:
    # `shots` comes before the unknown key that held the anchor: YAML needs it defined first
    text = "x-base: &base\n  sound: true  # loud\nstoryboard: 1\nshots:\n  - <<: *base\n    id: a\n"
    out = check_formatting(text)
    assert out.index("&base") < out.index("*base")
    assert "sound: true  # loud" in out


def test_numbers_keep_how_they_were_written() -> None:
    # ruamel re-formats floats on its own, and rounds some: 2.225073858507e-311
    text = "storyboard: 1\nvars:\n  a: 2.225073858507e-311\n  b: 1_000.5\n  c: 1.50\n  d: 0x1F\n"
    out = check_formatting(text)
    assert out.endswith("  a: 2.225073858507e-311\n  b: 1_000.5\n  c: 1.50\n  d: 0x1F\n")


def test_keep_chomped_block_scalar_is_not_given_extra_blank_lines() -> None:
    text = "storyboard: 1\nvars:\n  x: |+\n    keep\n\n# after\ntitle: T\n"
    out = check_formatting(text)
    assert data(out)["vars"]["x"] == "keep\n\n"


@pytest.mark.parametrize(
    "text",
    [
        "{storyboard: 1, title: flow}  # eol\n",
        "%YAML 1.2\n---\nstoryboard: 1\n...\n",
        "? [complex, key]\n: 1\n7: int key\nstoryboard: 1\n",
        "storyboard: 1\nkey:\n  # between key and value\n  value\n",
        "shots:\n  - # after the dash\n    id: a\n  -\n    - nested\n    - seq  # eol\n",
        "a: 1\r\nb: 2  # crlf\r\n",
        "a: 1\rb: 2  # cr only\r# c\rc: 3\r",
        "\ufeffstoryboard: 1\n",
        "storyboard: 1\nnothing:\nnull_too: ~  # null\nempty: ''\n",
        "storyboard: .nan\ntitle: !custom {x: 1}\nwhen: 2024-01-01\n",
        "vars:\n  b: 1\n  a: &x |  # header\n    text\n  c: *x  # alias\nstoryboard: 1\n",
        "cut:\n  clips:\n    - shot: a\n      in: 1\n        # very deep\n    # clips\n# root\n",
    ],
)
def test_unusual_documents(text: str) -> None:
    check_formatting(text)


def test_top_level_must_be_a_mapping() -> None:
    for text in ("- a\n- b\n", "just text\n", "", "# only a comment\n"):
        with pytest.raises(InputError, match="top level must be a mapping"):
            format_text(text, name="x.yaml")


def test_syntax_error_is_positioned() -> None:
    with pytest.raises(InputError) as exc:
        format_text("storyboard: 1\nshots: [a,\n", name="film.yaml")
    (diagnostic,) = exc.value.diagnostics
    assert diagnostic.render().startswith("film.yaml:3:1: error: YAML syntax error")


def test_duplicate_key_is_positioned() -> None:
    with pytest.raises(InputError) as exc:
        format_text("title: a\ntitle: b\n", name="film.yaml")
    assert exc.value.diagnostics[0].render().startswith("film.yaml:2:1: error:")


# -- the examples ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_format_stably_and_keep_their_data(path: Path) -> None:
    check_formatting(path.read_text(encoding="utf-8"))


@pytest.mark.skipif(not (ROOT / "examples" / "lighthouse").is_dir(), reason="no example")
def test_loaded_storyboard_is_the_same_after_formatting(tmp_path: Path) -> None:
    folder = tmp_path / "lighthouse"
    shutil.copytree(ROOT / "examples" / "lighthouse", folder)
    (folder / ".storyboard").mkdir(exist_ok=True)
    before = load_document(folder / "lighthouse.yaml").data
    results = format_files([folder / "lighthouse.yaml"])
    assert {r.path.name for r in results} == {"lighthouse.yaml", "cast.yaml"}  # includes too
    for result in results:
        if result.changed:
            result.path.write_text(result.formatted, encoding="utf-8")
    assert load_document(folder / "lighthouse.yaml").data == before


# -- files and the command -------------------------------------------------------------------

UNFORMATTED = "title: T\nstoryboard: 1\nshots:\n- prompt: A.\n  id: a\n"
FORMATTED = "storyboard: 1\ntitle: T\n\nshots:\n  - id: a\n    prompt: A.\n"


def test_format_file_rewrites_only_when_needed(project: Project) -> None:
    root = project({"a.yaml": UNFORMATTED, "b.yaml": FORMATTED})
    os.utime(root / "b.yaml", (1_000_000, 1_000_000))
    assert format_file(root / "a.yaml", check=True) is True
    assert (root / "a.yaml").read_text() == UNFORMATTED  # check writes nothing
    assert format_file(root / "a.yaml") is True
    assert (root / "a.yaml").read_text() == FORMATTED
    assert format_file(root / "b.yaml") is False
    assert (root / "b.yaml").stat().st_mtime == 1_000_000  # untouched
    assert sorted(p.name for p in root.iterdir()) == [".storyboard", "a.yaml", "b.yaml"]


def test_rewrite_keeps_a_symbolic_link_and_the_file_mode(project: Project) -> None:
    root = project({"real.yaml": UNFORMATTED})
    (root / "real.yaml").chmod(0o640)
    (root / "link.yaml").symlink_to("real.yaml")
    assert format_file(root / "link.yaml") is True
    assert (root / "link.yaml").is_symlink()
    assert (root / "real.yaml").read_text() == FORMATTED
    assert (root / "real.yaml").stat().st_mode & 0o777 == 0o640


def test_a_symbolic_link_out_of_the_project_is_refused_and_nothing_is_written(
    project: Project, fmt_cli: RunCli, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "film.yaml"
    outside.parent.mkdir()
    outside.write_text(UNFORMATTED)
    root = project({"mine.yaml": UNFORMATTED})
    (root / "link.yaml").symlink_to(outside)
    result = fmt_cli("fmt", "mine.yaml", "link.yaml", cwd=root)
    assert result.status == 2, result.err
    assert f"link.yaml:1:1: error: this file is a symlink to {outside}, outside the project" in (
        result.err
    )
    assert "Traceback" not in result.err
    assert outside.read_text() == UNFORMATTED  # not followed
    assert (root / "mine.yaml").read_text() == UNFORMATTED  # nothing written at all
    with pytest.raises(InputError, match="outside the project"):
        format_file(root / "link.yaml")
    assert outside.read_text() == UNFORMATTED


def test_cli_rewrites_storyboard_and_includes(project: Project, fmt_cli: RunCli) -> None:
    root = project(
        {
            "film.yaml": UNFORMATTED.replace("title: T\n", "title: T\ninclude: [cast.yaml]\n"),
            "cast.yaml": "elements:\n  hero: {frontal_image: h.png}\nvars:\n    x: 1\n",
        }
    )
    result = fmt_cli("fmt", "film.yaml", cwd=root)
    assert result.status == 0, result.err
    assert "reformatted film.yaml" in result.err
    assert "reformatted cast.yaml" in result.err
    assert (root / "cast.yaml").read_text() == (
        "vars:\n  x: 1\n\nelements:\n  hero: {frontal_image: h.png}\n"
    )
    again = fmt_cli("fmt", "film.yaml", "--check", cwd=root)
    assert again.status == 0
    assert "0 files would be reformatted, 2 files already formatted" in again.err


def test_cli_check_lists_files_and_writes_nothing(project: Project, fmt_cli: RunCli) -> None:
    root = project({"a.yaml": UNFORMATTED, "b.yaml": FORMATTED})
    result = fmt_cli("fmt", "--check", "a.yaml", "b.yaml", cwd=root)
    assert result.status == 1
    assert "would reformat a.yaml" in result.err
    assert "b.yaml" not in result.err.replace("2 files", "")
    assert result.out == ""
    assert (root / "a.yaml").read_text() == UNFORMATTED
    assert fmt_cli("fmt", "--check", "b.yaml", cwd=root).status == 0


def test_cli_diff_prints_a_unified_diff(project: Project, fmt_cli: RunCli) -> None:
    root = project({"a.yaml": UNFORMATTED})
    result = fmt_cli("fmt", "--diff", "a.yaml", cwd=root)
    assert result.status == 0
    assert result.out.startswith("--- a.yaml\n+++ a.yaml\n@@")
    assert "+storyboard: 1\n" in result.out and "+  - id: a\n" in result.out
    assert (root / "a.yaml").read_text() == UNFORMATTED
    assert fmt_cli("fmt", "--diff", "--check", "a.yaml", cwd=root).status == 1


def test_cli_parse_error_exits_2_and_writes_nothing(project: Project, fmt_cli: RunCli) -> None:
    root = project({"a.yaml": UNFORMATTED, "bad.yaml": "title: x\nshots: [1,\n"})
    result = fmt_cli("fmt", "a.yaml", "bad.yaml", cwd=root)
    assert result.status == 2
    assert "bad.yaml:3:1: error: YAML syntax error" in result.err
    assert result.err.rstrip().endswith("1 error")
    assert (root / "a.yaml").read_text() == UNFORMATTED  # not even the good file


def test_cli_missing_file_and_not_a_mapping(project: Project, fmt_cli: RunCli) -> None:
    root = project({"list.yaml": "- a\n"})
    result = fmt_cli("fmt", "missing.yaml", "list.yaml", cwd=root)
    assert result.status == 2
    assert "missing.yaml:1:1: error: cannot read 'missing.yaml'" in result.err
    assert "list.yaml:1:1: error: the top level must be a mapping" in result.err


# -- property: any storyboard-like document --------------------------------------------------

WORDS = st.text(alphabet="abcdefghij #:'\"-,.<>{}", min_size=1, max_size=30).map(str.strip)
COMMENT_TEXT = st.text(alphabet="abc #:'\"-", max_size=12)


@st.composite
def scalars(draw: st.DrawFn, indent: int) -> list[str]:
    """A string value in one of YAML's styles, as the lines after ``key:``."""
    words = draw(WORDS) or "x"
    style = draw(st.sampled_from(["plain", "single", "double", "folded", "literal", "number"]))
    if style == "plain":
        return [re.sub(r"[^a-j ]", "", words).strip() or "plain"]
    if style == "single":
        return ["'" + words.replace("'", "''") + "'"]
    if style == "double":
        return ['"' + words.replace("\\", "\\\\").replace('"', '\\"') + '"']
    if style == "number":
        return [str(draw(st.integers(0, 99) | st.floats(0, 9, allow_nan=False)))]
    header = (">" if style == "folded" else "|") + draw(st.sampled_from(["", "-", "+"]))
    body = draw(st.lists(WORDS.filter(bool), min_size=1, max_size=3))
    return [header, *(" " * (indent + 2) + line for line in body)]


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A storyboard-like document with comments in many places, and those comments."""
    counter = iter(range(10_000))
    used: list[str] = []

    def comment() -> str:
        text = f"# c{next(counter)} {draw(COMMENT_TEXT)}".rstrip()
        used.append(text)
        return text

    def mapping(keys: list[str], indent: int, first_prefix: str = "") -> list[str]:
        out: list[str] = []
        for i, key in enumerate(draw(st.permutations(keys))):
            prefix = first_prefix if i == 0 else " " * len(first_prefix)
            if i > 0 and draw(st.booleans()):
                if draw(st.booleans()):
                    out.append("")
                out.append(" " * (indent + len(first_prefix)) + comment())
            value = draw(scalars(indent + len(first_prefix)))
            line = " " * indent + prefix + f"{key}: {value[0]}"
            if draw(st.booleans()):
                line += "  " + comment()
            out.append(line)
            out.extend(value[1:])
        return out

    shot_keys = ["id", "prompt", "duration", "start", "sound", "x_extra"]
    lines: list[str] = []
    if draw(st.booleans()):
        lines += ["# yaml-language-server: $schema=x.json", comment()]
    top = draw(st.permutations(["storyboard", "title", "vars", "shots", "output", "cut"]))
    for key in top:
        if draw(st.booleans()):
            lines.append(comment())
        if key in ("storyboard", "title"):
            value = draw(scalars(0))
            lines += [f"{key}: {value[0]}", *value[1:]]
        elif key in ("vars", "output"):
            names = ["width", "height", "format"] if key == "output" else ["zeta", "alpha"]
            lines.append(f"{key}:" + (f"  {comment()}" if draw(st.booleans()) else ""))
            lines += mapping(names, draw(st.sampled_from([2, 4])))
        elif key == "shots":
            lines.append("shots:")
            dash = draw(st.sampled_from(["", "  "]))
            for _ in range(draw(st.integers(1, 3))):
                if draw(st.booleans()):
                    lines.append(dash + comment())
                keys = draw(st.lists(st.sampled_from(shot_keys), unique=True, min_size=1))
                lines += mapping(keys, len(dash), first_prefix="- ")
                if draw(st.booleans()):
                    lines.append(" " * (len(dash) + 2) + comment())  # closes the shot
        else:
            lines += ["cut:", "  clips:"]
            for _ in range(2):
                lines += mapping(["shot", "in", "out"], 4, first_prefix="- ")
    if draw(st.booleans()):
        lines.append(comment())
    return "\n".join(lines) + "\n", used


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(documents())
def test_format_is_idempotent_and_keeps_values_and_comments(
    document: tuple[str, list[str]],
) -> None:
    text, used = document
    out = check_formatting(text)
    for comment in used:  # every comment once, on its own or after its entry
        assert sum(line.endswith(comment) for line in out.splitlines()) == 1, (comment, out)


def test_committed_examples_are_formatted() -> None:
    from storyboard.language.fmt import format_file

    root = Path(__file__).resolve().parents[2] / "examples"
    changed = [p.name for p in sorted(root.rglob("*.yaml")) if format_file(p, check=True)]
    assert changed == [], "run `storyboard fmt` on these examples"


# -- folded and literal prompts, Jinja tags (issue 17) -----------------------------------------

LONG_FOLDED = """\
storyboard: 1
title: T

vars:
  look: 35mm film grain

shots:
  - id: a
    prompt: >-
      A very long first line of the prompt that goes on about the harbour and the boats, {{ look | upper }}
      then a second line {% if true %}with a condition{% endif %} and enough words to pass the width of a hundred
      {# a note to self #} and a short last line
  - id: b
    prompt: |
      A literal line that is rather long and has a tag at its end, well past the column limit {{ look }}
      {%- if look %} a second line {% endif %}
"""  # noqa: E501


def test_folded_and_literal_prompts_keep_the_writers_lines() -> None:
    # already canonical: fmt leaves it byte for byte (it rewrapped the folded lines before,
    # splitting `{{ look | upper }}` after `upper`)
    assert check_formatting(LONG_FOLDED) == LONG_FOLDED


def test_a_folded_prompt_moves_with_its_shot_and_keeps_its_lines() -> None:
    text = LONG_FOLDED.replace("  - id: a\n    prompt: >-\n", "  - prompt: >-\n").replace(
        "      {# a note to self #} and a short last line\n",
        "      {# a note to self #} and a short last line\n    id: a\n",
    )
    assert text != LONG_FOLDED
    assert check_formatting(text) == LONG_FOLDED


def unbalanced(line: str) -> bool:
    return any(
        line.count(a) != line.count(b) for a, b in (("{{", "}}"), ("{%", "%}"), ("{#", "#}"))
    )


@pytest.mark.parametrize("style", ["", "'", '"'])
@pytest.mark.parametrize("pad", range(0, 60, 3))
def test_a_wrapped_prompt_never_splits_a_jinja_tag(style: str, pad: int) -> None:
    # the wrap point (column 100) falls before, inside and after the tags as `pad` grows
    prompt = (
        ("x" * pad + " ").lstrip()
        + "a harbour at dawn with gulls over the water and boats in the bay, "
        "{{ camera.harbour | default('slow crane down over the masts') }} and "
        "{% for item in props %}{{ item | title }} {% endfor %} then more words to wrap again "
        "{#keep it short#} at the end"
    )
    written = prompt.replace("'", "''") if style == "'" else prompt
    text = f"storyboard: 1\ntitle: T\nshots:\n  - id: a\n    prompt: {style}{written}{style}\n"
    out = check_formatting(text)
    assert data(out)["shots"][0]["prompt"] == prompt
    lines = out.splitlines()
    assert not [line for line in lines if unbalanced(line)], out
    assert len([line for line in lines if line.strip()]) > 5  # it was wrapped all the same
