"""Hostile prompts from the sandbox audit: a prompt may print only the storyboard's own data.

A template that printed a method, a class, a generator or one of Jinja's own objects wrote
its Python repr into the prompt, which is sent to the provider and locked:
``{{ range }}`` rendered as ``<bound method _BoundedSandbox._range of
<storyboard.language.prompts._BoundedSandbox object at 0x7f...>>``: the tool's internals
and a memory address (a prompt that also differs from run to run, so never matches its
lock). Every way of printing such a value (writing it, ``~``, ``%``, ``str.format`` and
its fields, a filter that prints its value) is refused at its line; data still prints.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.language.prompts import PromptRenderer, ShotContext, TemplateProblem
from tests.conftest import CliResult

SHOT = ShotContext("wide", 5, 1, None)
VARS = {"look": "soft light", "cam": {"a": {"b": "deep"}}, "lst": [1, 2, "s"]}
REPR = re.compile(
    r"<[^<>]*(?:object at 0x|method|function|class |generator|Macro|LoopContext|"
    r"TemplateReference|Cycler|Joiner)"
)


def render(source: str) -> str:
    return PromptRenderer(Path("."), Path("."), "t", VARS).render(source, SHOT)


@pytest.mark.parametrize(
    "source",
    [
        "{{ range }}",
        "{{ cycler }}",
        "{{ joiner() }}",
        "{{ cycler('a') }}",
        "{{ dict }}",
        "{{ self }}",
        "{{ range(3) }}",
        "{{ look.upper }}",
        "{{ vars.items }}",
        "{{ cam.get }}",
        "{{ [look.upper] }}",
        "{{ dict(a=range) }}",
        "{{ namespace(a=range) }}",
        "{% set ns = namespace() %}{% set ns.x = range %}{{ ns }}",
        "{{ vars.get('x', cycler) }}",
        "{% for x in [1] %}{{ loop }}{% endfor %}",
        "{% macro m() %}x{% endmacro %}{{ m }}",
        "{% macro m() %}{{ caller() }}{% endmacro %}{% call m() %}{{ range }}{% endcall %}",
        "{% set s %}{{ range }}{% endset %}{{ s }}",
        "{{ lst|map('upper') }}",
        "{{ lst|batch(2) }}",
        "{{ look|attr('upper') }}",
        "{{ '' ~ range }}",
        "{{ '%s' % range }}",
        "{{ '%r' % (range,) }}",
        "{{ '%(a)s' % {'a': range} }}",
        "{{ '{}'.format(range) }}",
        "{{ '{a}'.format_map({'a': range}) }}",
        "{{ '{0.upper}'.format(look) }}",
        "{{ '{0[upper]}'.format(look) }}",
        "{{ '{0.cam.items}'.format(vars) }}",
        "{{ range|string }}",
        "{{ (range|string)[60:80] }}",
        "{{ cycler|pprint }}",
        "{{ cycler|e }}",
        "{{ '%s'|format(range) }}",
        "{{ [range]|join }}",
        "{{ [range]|map('string')|list }}",
        "{{ lst|map('upper')|string }}",
        "{{ vars|attr('items')|string }}",
    ],
)
def test_python_objects_are_not_printed(source: str) -> None:
    try:
        rendered = render("a shot " + source)
    except TemplateProblem as exc:
        assert exc.line == 1
        assert not REPR.search(exc.message), exc.message
        assert "Python object" in exc.message or "has no" in exc.message, exc.message
        return
    pytest.fail(f"{source!r} rendered as {rendered!r}")


@pytest.mark.parametrize(
    ("source", "rendered"),
    [
        ("{{ vars.items()|list|length }}", "3"),
        ("{{ '{0.cam.a.b} {0[cam][a][b]}'.format(vars) }}", "deep deep"),
        ("{{ '%s-%s' % (look, lst) }}", "soft light-[1, 2, 's']"),
        ("{{ lst|map('upper')|join(', ') }}", "1, 2, S"),
        ("{{ range(3)|join(',') }}", "0,1,2"),
        ("{{ lst|batch(2)|list }}", "[[1, 2], ['s']]"),
        ("{% for x in [1, 2] %}{{ loop.cycle('a', 'b') }}{{ loop.index }}{% endfor %}", "a1b2"),
        ("{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.current }}", "ab"),
        ("{% set j = joiner('+') %}{% for x in lst %}{{ j() }}{{ x }}{% endfor %}", "1+2+s"),
        (
            "{% set ns = namespace(t='x') %}{% set ns.t = ns.t ~ 'y' %}{{ ns.t }} {{ ns }}",
            "xy <Namespace {'t': 'xy'}>",
        ),
        ("{{ vars|dictsort|first }}", "('cam', {'a': {'b': 'deep'}})"),
        ("{{ cam }} {{ shot.id }} {{ look.encode() }}", "{'a': {'b': 'deep'}} wide b'soft light'"),
    ],
)
def test_data_still_prints(source: str, rendered: str) -> None:
    assert render(source) == rendered


def test_check_refuses_a_repr_at_its_line(tmp_path: Path) -> None:
    """End to end: exit 2 at FILE:LINE:COL, no repr and no secret anywhere."""
    (tmp_path / ".storyboard").mkdir()
    (tmp_path / "film.yaml").write_text(
        "storyboard: 1\ntitle: T\nshots:\n  - id: wide\n    duration: 5\n"
        "    prompt: 'A harbour at dawn {{ range }}'\n"
    )
    env = {**os.environ, "RUNWARE_API_KEY": "sk-audit-SECRET"}
    for command in (["check"], ["compile", "--json"]):
        done = subprocess.run(
            [sys.executable, "-m", "storyboard", *command, "film.yaml"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 2, output
        assert re.search(r"film\.yaml:6:\d+: error: .*Python object \(method\)", output), output
        assert "0x" not in output and "sk-audit-SECRET" not in output, output


@pytest.mark.parametrize(
    "include",
    [".env", ".git/config", "../.aws/credentials", "styles/../.ssh/id_ed25519", "linked.j2"],
)
def test_a_template_is_not_read_from_a_hidden_file_or_folder(
    tmp_path: Path, include: str, run_cli: Callable[..., CliResult]
) -> None:
    """What a template includes is sent in the prompt: a home folder that is a project (a
    dotfiles repository, a ~/.storyboard) let `{% include '../.aws/credentials' %}` send the
    credentials to the provider; `.env` and `.git/config` hold keys too. A link to one is
    refused as well."""
    home = tmp_path / "home"
    (home / ".storyboard").mkdir(parents=True)  # the home folder is the project
    for secret in (".env", ".git/config", ".aws/credentials", ".ssh/id_ed25519"):
        (home / secret).parent.mkdir(parents=True, exist_ok=True)
        (home / secret).write_text("aws_secret_access_key = SECRET-OF-HOME\n")
    film = home / "Downloads"
    (film / "styles").mkdir(parents=True)
    (film / ".env").write_text("RUNWARE_API_KEY=SECRET-OF-HOME\n")
    (film / "linked.j2").symlink_to(home / ".aws" / "credentials")
    (film / "film.yaml").write_text(
        "storyboard: 1\ntitle: T\nshots:\n  - id: a\n    duration: 5\n"
        f"    prompt: \"A harbour {{% include '{include}' %}}\"\n"
    )
    result = run_cli("compile", "--json", "film.yaml", cwd=film)
    assert result.status == 2, result.err
    assert "is in a hidden file or folder" in result.err
    assert "SECRET-OF-HOME" not in result.out + result.err


@pytest.mark.parametrize("include", [".secrets.yaml", "../.config/film.yaml"])
def test_a_storyboard_is_not_included_from_a_hidden_file_or_folder(
    tmp_path: Path, include: str, run_cli: Callable[..., CliResult]
) -> None:
    """An included storyboard's vars are sent in prompts: one from a hidden file or folder
    (a home folder's, a `.secrets.yaml`) is refused at the include, nothing compiled."""
    home = tmp_path / "home"
    (home / ".storyboard").mkdir(parents=True)
    secret = "storyboard: 1\nvars: {key: SECRET-OF-HOME}\n"
    (home / ".config").mkdir()
    (home / ".config" / "film.yaml").write_text(secret)
    film = home / "Downloads"
    film.mkdir()
    (film / ".secrets.yaml").write_text(secret)
    (film / "film.yaml").write_text(
        f"storyboard: 1\ntitle: T\ninclude: ['{include}']\nshots:\n  - id: a\n"
        "    duration: 5\n    prompt: 'A harbour {{ key }}'\n"
    )
    result = run_cli("compile", "--json", "film.yaml", cwd=film)
    assert result.status == 2, result.err
    assert "film.yaml:3:11: error: include" in result.err
    assert "is in a hidden file or folder" in result.err
    assert "SECRET-OF-HOME" not in result.out + result.err
