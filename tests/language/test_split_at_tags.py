"""The prompts are split at their tags without lexing a tag seen before (``_split_at_tags``):
wherever it splits a prompt, its key must say exactly what Jinja's lexer reads there (each
tag's tokens, on their lines) and its text must be the lexer's text; where it cannot tell,
it must say so (None) and leave the prompt to the lexer."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storyboard.language.prompts import (
    TAGS_KEPT,
    _BoundedSandbox,
    _split_at_tags,
    _Texts,
)
from tests.language.test_quick_lexer import sandbox


def expanded(env: _BoundedSandbox, texts: _Texts) -> tuple[Any, ...]:
    """The split's key with each tag replaced by the tokens the lexer reads in it alone, on
    the tag's line: the lexer's key of the whole prompt, if the split is right."""
    out: list[Any] = []
    for entry in texts.key:
        if isinstance(entry[1], str):
            line, region = entry
            out += [
                (line + at - 1, kind, value)
                for at, kind, value in env.lexer.tokeniter(region, None)
            ]
        else:
            out.append(entry)
    return tuple(out)


def agrees(source: str) -> bool:
    """Assert the split of ``source`` (if any) is the lexer's; return whether it split."""
    env = sandbox()
    split = _split_at_tags(env, source)
    if split is None:
        return False
    lexed = _Texts.lexed(env, source)
    assert lexed is not None, source  # split where the lexer refuses
    assert split.data == lexed.data, source
    assert expanded(env, split) == lexed.key, source
    again = _split_at_tags(env, source)  # from what it remembers: the same
    assert again == split
    return True


# what tags are made of, so that most draws hold tags, broken tags, strings, braces,
# whitespace control, raw blocks and comments
PIECES = st.sampled_from(
    ["{", "}", "{{", "}}", "{%", "%}", "{#", "#}", "-", "+", " ", "\n", "\r\n", "\t", "raw",
     "endraw", "if x", "endif", "for a in b", "endfor", "x", "é", "\u2028", "'", '"', "|",
     "a long run of prose ", "{{{", "%}}", "{%-", "-%}", "{{-", "-}}", "(", ")", "[", "]",
     ":", ",", "1", "1.5", "'%}'", '"}}"', "{'a': 1}", "set y = ", "\\", "\n\n"]
)  # fmt: skip


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, max_size=30).map("".join))
def test_a_split_is_what_the_lexer_reads(source: str) -> None:
    agrees(source)


@pytest.mark.parametrize(
    "source",
    [
        "plain text",
        "text\n",
        "\n",
        "",
        "A {% if shot.duration > 5 %}slow. {% endif %}Sail {{ sea }}; {{ look | lower }} (1).",
        "Among them {% for name in cast %}{{ name }}{% if not loop.last %}, {% endif %}"
        "{% endfor %}; {{ sea }}.",
        "two\nlines {{ x }}\nand {%\nif y\n%}z{% endif %}\n",
        "{{ {'a': {'b': 1}} }}",
        "{{ '}}' }}",
        "{% set x = '%}' %}{{ x }}",
        "{{ x }} {} %} }} stray ends",
        "{%- if x %}y{% endif -%}",
        "{%+ if x +%}y{% endif %}",
        "{% raw %}{{ x }}{% endraw %}",
        "{# a note #}{{ x }}",
        "{{ x",
        "{% if x %}",
        "a {{ x }}\r\nb",
    ],
)
def test_the_edges(source: str) -> None:
    agrees(source)


@pytest.mark.parametrize(
    "source",
    [
        "A {% if shot.duration > 5 %}slow. {% endif %}Sail {{ sea }}.",
        "Among them {% for name in cast %}{{ name }}{% if not loop.last %}, {% endif %}"
        "{% endfor %}.",
        "{{ {'a': 1}['a'] }} and {{ '%}' }}",
        "no tag at all",
        "lines\n{{ x }}\n",
    ],
)
def test_prompts_as_writers_write_them_are_split(source: str) -> None:
    """The split is taken where it can be: a change that made it give up would only be
    slower, and no other test would see it."""
    assert agrees(source)


@pytest.mark.parametrize(
    "source",
    [
        "{%- if x %}y{% endif %}",  # whitespace control reaches into the text
        "{% if x -%} y{% endif %}",
        "{{- x }}",
        "{{ x -}} y",
        "{# note #}",
        "{% raw %}{{ x }}{% endraw %}",
        "{% set x = '%}' %}",  # the first %} is in a string
        "{{ {'a': {'b': 1}}['a'] }}",  # the first }} closes two mappings
        "{{ x",
        "a\r\nb {{ x }}",
    ],
)
def test_what_it_cannot_tell_is_left_to_the_lexer(source: str) -> None:
    assert _split_at_tags(sandbox(), source) is None
    assert agrees(source) is False


def test_two_prompts_of_one_key_differ_in_their_text_alone() -> None:
    env = sandbox()
    a = _split_at_tags(env, "Dawn. {% if x %}Rain.{% endif %} {{ sea }}")
    b = _split_at_tags(env, "Dusk falls. {% if x %}Snow.{% endif %} {{ sea }}")
    c = _split_at_tags(env, "Dusk falls. {% if y %}Snow.{% endif %} {{ sea }}")
    d = _split_at_tags(env, "Dusk\nfalls. {% if x %}Snow.{% endif %} {{ sea }}")
    assert a is not None and b is not None and c is not None and d is not None
    assert a.key == b.key and a.data != b.data
    assert c.key != b.key  # another condition
    assert d.key != b.key  # the same tags on other lines: errors keep their lines


def test_the_tags_remembered_are_bounded() -> None:
    env = sandbox()
    for n in range(TAGS_KEPT + 10):
        assert _split_at_tags(env, f"{{{{ x{n} }}}}") is not None
    assert len(env.tags_read) <= TAGS_KEPT


@pytest.mark.parametrize("setting", ["trim_blocks", "lstrip_blocks"])
def test_blocks_that_take_whitespace_leave_the_prompt_to_the_lexer(setting: str) -> None:
    """With either setting, a block tag takes whitespace from the text beside it: the split
    would keep it. The sandbox sets neither; were it to, the split is not used."""
    source = "a\n  {% if x %}\nb{% endif %}\n"
    env = sandbox()
    assert env.splits_at_tags and _split_at_tags(env, source) is not None
    setattr(env, setting, True)
    assert not env.splits_at_tags and _split_at_tags(env, source) is None
    lexed = _Texts.lexed(env, source)
    assert lexed is not None and lexed.data != ("a\n  ", "\nb")  # the lexer takes some
