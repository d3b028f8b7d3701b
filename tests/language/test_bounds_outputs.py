"""What the outputs need is checked by ``check``, and nothing is printed raw (issue 12, item
6): a build must not fail after paying on a title, a film name or a music bed that ``check``
let through; storyboard text reaches the terminal escaped; the internal-error message names
no address nobody wrote down."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard import api
from storyboard.cli import main as cli_main
from storyboard.cli.console import Console
from storyboard.core.diagnostics import Position
from storyboard.core.errors import InputError
from storyboard.core.events import TakeFailed
from storyboard.language.load import MAX_TEXT, load_document
from storyboard.language.validate import MAX_FILM_NAME_BYTES
from tests.conftest import tiny_audio

Project = Callable[[dict[str, str | bytes]], Path]
REORDERS = ", which reorders text on screen"


def film(top: str = "title: t\n", shot: str = "", prompt: str = "a harbour at dawn") -> str:
    extra = f", {shot}" if shot else ""
    return f'storyboard: 1\n{top}shots:\n  - {{id: a, prompt: "{prompt}"{extra}}}\n'


def problems(root: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        api.compile_storyboard(root / "film.yaml")
    return [d.render() for d in caught.value.diagnostics]


@pytest.mark.parametrize(
    ("title", "held"),
    [
        ('"Harbour\\0night"', "a control character (U+0000)"),
        ('"Harbour\\x1b[31m"', "a control character (U+001B)"),
        ('"Harbour\\u202enight"', f"a bidirectional text control (U+202E){REORDERS}"),
        ('"Harbour\\u2066night"', f"a bidirectional text control (U+2066){REORDERS}"),
        ('"Harbour\\nnight"', "a control character (U+000A)"),
        ('"Harbour\\u2028night"', "a line separator (U+2028)"),
    ],
)
def test_a_title_that_the_exports_cannot_hold_is_refused(
    project: Project, title: str, held: str
) -> None:
    root = project({"film.yaml": film(f"title: {title}\n")})
    (message,) = problems(root)
    assert message.endswith(
        f"film.yaml:2:8: error: title holds {held}; a title is one line of plain text"
    )


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ('"film\\0.mp4"', "the name holds a control character (U+0000)"),
        ('"film\\x01.mp4"', "the name holds a control character (U+0001)"),
        ('"film\\u202e4pm.mp4"', f"the name holds a bidirectional text control (U+202E){REORDERS}"),
        ('"' + "x" * 296 + '.mp4"', "the name is 300 bytes long in UTF-8; it may have at most 241"),
        ('"' + "é" * 120 + '.mp4"', "the name is 244 bytes long in UTF-8; it may have at most 241"),
    ],
)
def test_a_film_name_the_file_system_would_refuse_is_refused(
    project: Project, name: str, problem: str
) -> None:
    root = project({"film.yaml": film(f"title: t\noutput: {{file: {name}}}\n")})
    (message,) = problems(root)
    assert message.endswith(f"film.yaml:3:16: error: output.file: {problem}" + (
        " (file systems allow 255, and the cut first writes it under a temporary name 14 bytes "
        "longer)" if "bytes long" in problem else ""))  # fmt: skip


def test_the_longest_film_name_is_accepted(project: Project) -> None:
    name = "x" * (MAX_FILM_NAME_BYTES - 4) + ".mp4"
    root = project({"film.yaml": film(f"title: t\noutput: {{file: {name}}}\n")})
    assert api.compile_storyboard(root / "film.yaml").checked.storyboard.output.file == name
    assert len(f".{name}.XXXXXXXX.cut".encode()) == 255  # the cut's temporary folder


@pytest.mark.parametrize(
    "music",
    [
        "https://example.com/bed.mp3",
        "0b2f3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d",
        "'data:audio/mpeg;base64,SUQz'",
    ],
)
def test_the_music_bed_must_be_a_local_file(project: Project, music: str) -> None:
    root = project({"film.yaml": film(f"title: t\ncut:\n  music: {{file: {music}}}\n")})
    (message,) = problems(root)
    assert ":4:17: error: cut.music.file: the music bed must be a local audio file" in message


def test_a_local_music_bed_is_accepted(project: Project) -> None:
    root = project(
        {
            "film.yaml": film("title: t\ncut:\n  music: {file: bed.mp3}\n"),
            "bed.mp3": tiny_audio("mp3"),
        }
    )
    checked = api.compile_storyboard(root / "film.yaml").checked
    assert checked.music is not None and checked.music.path == root / "bed.mp3"


def test_a_media_file_name_with_control_characters_is_refused(project: Project) -> None:
    root = project({"film.yaml": film(shot='start: "a\\x1b[2J.jpg"')})
    (message,) = problems(root)
    assert "error: start: file name holds a control character (U+001B)" in message


def test_a_surrogate_pair_is_the_character_it_encodes(project: Project) -> None:
    # JSON writes an emoji as a pair of \u escapes; JSON is YAML: the pair is one character
    root = project(
        {"film.yaml": film('title: "Harbour \\ud83c\\udf05"\n', prompt="dawn \\ud83c\\udf05")}
    )
    checked = api.compile_storyboard(root / "film.yaml").checked
    assert checked.storyboard.title == "Harbour \U0001f305"
    assert checked.shots[0].prompt == "dawn \U0001f305"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('storyboard: 1\ntitle: t\nvars: {x: "\\ud800"}\n', "3:11"),  # was: exit 3 when writing
        (
            'storyboard: 1\ntitle: t\nshots: [{id: a, prompt: a, provider: {y: "\\udfff!"}}]\n',
            "3:42",
        ),
    ],
)
def test_half_a_character_is_refused_when_loaded(project: Project, text: str, where: str) -> None:
    root = project({"film.yaml": text})
    with pytest.raises(InputError) as exc:
        load_document(root / "film.yaml")
    (message,) = [d.render() for d in exc.value.diagnostics]
    assert f"film.yaml:{where}: error: text holds a lone surrogate (U+D" in message


def test_half_a_character_made_by_a_template_is_refused(project: Project) -> None:
    root = project({"film.yaml": film(prompt="a harbour {{ '\\\\ud800' }}")})
    (message,) = problems(root)
    assert "prompt holds a lone surrogate (U+D800) once rendered" in message


def test_text_repeated_through_aliases_is_bounded(project: Project) -> None:
    text = "z" * 500_000
    copies = MAX_TEXT // len(text) + 1
    root = project({"film.yaml": f"a: &s {text}\nl: [{', '.join(['*s'] * copies)}]\n"})
    with pytest.raises(InputError, match="characters of text") as exc:
        load_document(root / "film.yaml")
    assert exc.value.diagnostics[0].position == Position(str(root / "film.yaml"), 2, 4)


# -- printing ---------------------------------------------------------------------------------


def test_the_console_escapes_what_a_server_or_a_storyboard_said() -> None:
    out = io.StringIO()
    console = Console(out, live=False)
    console(TakeFailed("a", "provider said \x1b]0;owned\x07 \u202egnp.exe"))
    console.close()
    assert out.getvalue() == "a: FAILED: provider said \\x1b]0;owned\\x07 \\u202egnp.exe\n"


def test_an_error_message_is_escaped_on_the_command_line(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from storyboard.core.errors import BuildError

    def fail(_: object) -> int:
        raise BuildError("cannot write 'film\x1b[2J.mp4'")

    parser_func = cli_main.build_parser
    monkeypatch.setattr(
        cli_main, "build_parser", lambda *a: _with_func(parser_func(*a), "check", fail)
    )
    assert cli_main.main(["check", "x.yaml"]) == 1
    assert capsys.readouterr().err == "storyboard: error: cannot write 'film\\x1b[2J.mp4'\n"


def _with_func(parser: object, command: str, func: object) -> object:
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        action.choices[command].set_defaults(func=func)  # type: ignore[index]
    return parser


def test_the_internal_error_message_names_only_a_known_address(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(_: object) -> int:
        raise RuntimeError("boom")

    parser_func = cli_main.build_parser
    monkeypatch.setattr(
        cli_main, "build_parser", lambda *a: _with_func(parser_func(*a), "check", crash)
    )
    assert cli_main.main(["check", "x.yaml"]) == 3
    err = capsys.readouterr().err
    assert "github.com" not in err and "http" not in err
    assert err.rstrip().endswith(
        "Please report it as the 'Reporting a bug' section of storyboard's README.md says, "
        "with the command you ran and the lines above."
    )
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert "\n## Reporting a bug\n" in readme
    # an address the package's metadata names ([project.urls]) is used as it is written
    monkeypatch.setattr(
        cli_main.importlib.metadata,
        "metadata",
        lambda _: _Meta(["Homepage, https://a.example", "Issues, https://b.example/issues"]),
    )
    assert cli_main.main(["check", "x.yaml"]) == 3
    assert "Please report it at https://b.example/issues, with" in capsys.readouterr().err


class _Meta:
    def __init__(self, urls: list[str]) -> None:
        self.urls = urls

    def get_all(self, name: str) -> list[str]:
        return self.urls if name == "Project-URL" else []


@pytest.mark.parametrize(
    "command",
    [
        ["compile", "--json"],
        ["compile"],
        ["plan", "--json", "--backend", "preview"],
        ["graph", "--format", "json"],
        ["graph", "--format", "mermaid"],
        ["graph", "--format", "dot"],
    ],
)
def test_what_goes_to_stdout_holds_no_raw_control_or_bidi_character(
    project: Project,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    """A prompt may hold a bidirectional override (a writer's right-to-left text): the JSON,
    Mermaid and dot printed carry it escaped, the same value for a JSON reader."""
    import json
    import re

    root = project(
        {"film.yaml": film(prompt="a harbour \\u202e at dawn, \\u0085 gulls", top="title: t\n")}
    )
    monkeypatch.chdir(root)
    assert cli_main.main([*command, "film.yaml"]) == 0
    out = capsys.readouterr().out
    assert out and not re.search("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", out)
    if command == ["compile", "--json"]:  # the prompt is there, the same value
        assert "\u202e" in json.dumps(json.loads(out), ensure_ascii=False)
