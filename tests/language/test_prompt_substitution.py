"""Prompts that only put values in are rendered without compiling them: the result must be
exactly Jinja's, and everything else must still go through Jinja (its errors, its places)."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storyboard.language.prompts import PromptRenderer, ShotContext, TemplateProblem

VARIABLES = {
    "look": "Cinematic <b> & Grain",
    "count": 3,
    "ratio": 1.5,
    "flag": True,
    "nothing": None,
    "camera": {"lens": "35mm", "items": "not the method", "depth": {"stop": 2.8}},
    "cast": ["keeper", "gull"],
}
SHOT = ShotContext(id="wide", duration=5, index=7, sequence="storm")


def renderer(tmp_path: Path) -> PromptRenderer:
    return PromptRenderer(tmp_path, tmp_path, "Harbour", VARIABLES)


def by_jinja(r: PromptRenderer, source: str) -> str:
    """The same prompt through the compiled template, as before the quick path."""
    template = r._env.from_string(source)
    return r._generate(template, SHOT).strip()


NAMES = [
    "look", "count", "ratio", "flag", "nothing", "camera.lens", "camera.items", "camera.keys",
    "camera.depth.stop", "camera.depth", "cast", "shot.id", "shot.index", "shot.duration",
    "shot.sequence", "storyboard.title", "vars.look", "vars.camera.lens", "true", "none",
    "range", "loop", "undefined_name", "camera.missing", "look.upper",
]  # fmt: skip
FILTERS = ["lower", "upper", "title", "capitalize", "trim", "e", "string", "length", "first"]
FILTERS += ["join", "nonexistent", "int", "float", "wordcount", "reverse"]
ADDRESS = re.compile(r" at 0x[0-9a-f]+", re.IGNORECASE)  # `upper` prints "AT 0X7F..."
TEXT = st.text(alphabet="ab <>{}%#-|.\n\t&", max_size=12)


@st.composite
def outputs(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(NAMES))
    filters = draw(st.lists(st.sampled_from(FILTERS), max_size=2))
    pad = draw(st.sampled_from(["", " ", "  ", "\n", "-", " -"]))
    piped = "".join(f"{draw(st.sampled_from(['|', ' | ', '| ']))}{f}" for f in filters)
    return "{{" + pad.lstrip("-") + name + piped + pad.rstrip("-") + "}}"


@st.composite
def prompts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(TEXT, outputs()), min_size=1, max_size=6))
    return "".join(parts)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(source=prompts())
def test_the_quick_path_renders_what_jinja_renders(tmp_path: Path, source: str) -> None:
    r = renderer(tmp_path)
    quick = r._substitute(source, SHOT)
    try:
        expected: str | None = by_jinja(r, source)
    except (jinja2.TemplateError, TypeError, ValueError):
        expected = None
    if quick is not None:
        assert expected is not None, f"Jinja refuses {source!r}, the quick path rendered it"
        assert quick.strip() == expected
    if expected is not None:  # (an object Jinja prints is made anew, at another address)
        assert ADDRESS.sub("", r.render(source, SHOT)) == ADDRESS.sub("", expected)


@pytest.mark.parametrize(
    ("source", "rendered"),
    [
        ("Shot {{ shot.index }} of {{ storyboard.title }}: {{ look | lower }}.",
         "Shot 7 of Harbour: cinematic <b> & grain."),
        ("{{camera.lens}} at f/{{ camera.depth.stop }}", "35mm at f/2.8"),
        ("{{ count }} {{ ratio }} {{ flag }} {{ nothing }}", "3 1.5 True None"),
        ("{{ vars.look | upper }} <<<keeper>>> {x} }}",
         "CINEMATIC <B> & GRAIN <<<keeper>>> {x} }}"),
    ],
)  # fmt: skip
def test_value_only_prompts_take_the_quick_path(
    tmp_path: Path, source: str, rendered: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = renderer(tmp_path)

    def no_compiling(*args: object) -> None:
        raise AssertionError("compiled a prompt that only puts values in")

    assert by_jinja(r, source) == rendered
    monkeypatch.setattr(r._env, "from_string", no_compiling)
    assert r.render(source, SHOT) == rendered


@pytest.mark.parametrize(
    "source",
    [
        "{{ cast }}",  # a list: Jinja's own way of printing it
        "{{ camera.items }}",  # Jinja finds the dict's method before the key
        "{{ look | join(',') }}",  # a filter with arguments
        "{{- look }}",  # whitespace control
        "{% if flag %}yes{% endif %}",
        "{{{ look }}}",  # Jinja reads the first two braces
        "{{ true }}",
        "{{ look | random }}",  # a filter that takes Jinja's context
    ],
)
def test_anything_else_goes_through_jinja(tmp_path: Path, source: str) -> None:
    assert renderer(tmp_path)._substitute(source, SHOT) is None


def test_an_undefined_name_is_still_reported_where_it_is(tmp_path: Path) -> None:
    r = renderer(tmp_path)
    with pytest.raises(TemplateProblem) as caught:
        r.render("first line\nsecond {{ lok | lower }} line", SHOT)
    assert "'lok' is undefined" in caught.value.message
    assert "did you mean 'look'" in caught.value.message
    assert (caught.value.line, caught.value.near) == (2, "lok")


def test_a_filter_that_fails_is_reported_by_jinja(tmp_path: Path) -> None:
    with pytest.raises(TemplateProblem) as caught:
        renderer(tmp_path).render("{{ look | nonexistent }}", SHOT)
    assert "nonexistent" in caught.value.message
