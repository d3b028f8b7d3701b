"""The prompts' lexer reads text up to the next tag a run at a time (``_quick_lexer``): it
must give exactly the tokens, and the errors, of Jinja's own lexer, for any text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2.lexer import get_lexer

from storyboard.language.prompts import (
    _TEXT_UP_TO_A_TAG,
    PromptRenderer,
    ShotContext,
    _BoundedSandbox,
    _quick_lexer,
)


def sandbox() -> _BoundedSandbox:
    return _BoundedSandbox(jinja2.DictLoader({}), jinja2.StrictUndefined)


def tokens(lexer: Any, source: str) -> Any:
    """Every raw token, or the error the lexer stops with (its type, message and line)."""
    try:
        return list(lexer.tokeniter(source, None))
    except jinja2.TemplateSyntaxError as exc:
        return (type(exc), exc.message, exc.lineno)


# text made mostly of what tags are made of, so that most draws hold tags, broken tags,
# whitespace control, raw blocks and comments
PIECES = st.sampled_from(
    ["{", "}", "{{", "}}", "{%", "%}", "{#", "#}", "-", "+", " ", "\n", "\r\n", "\t", "raw",
     "endraw", "if x", "endif", "for a in b", "endfor", "x", "é", "\u2028", "'", '"', "|",
     "a long run of prose without any brace in it ", "{{{", "%}}", "{%-", "-%}"]
)  # fmt: skip


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, max_size=30).map("".join))
def test_the_quick_lexer_gives_jinjas_tokens_and_errors(source: str) -> None:
    env = sandbox()
    ours = env.lexer
    assert ours is not get_lexer(env)
    assert tokens(ours, source) == tokens(get_lexer(env), source)


@pytest.mark.parametrize(
    "source",
    [
        "",
        "plain text",
        "{",
        "text {",
        "{ not a tag } {{ x }}",
        "{{{ x }}}",
        "a {# note #} b {% if x %}y{% endif %}",
        "  {%- if x -%}  y  {%+ endif %}",
        "{% raw %}{{ kept }}{% endraw %} after",
        "{% raw %} never closed",
        "{# never closed",
        "{{ never closed",
        "line one\nline two {{ x }}\r\nthree",
    ],
)
def test_the_quick_lexer_on_the_edges(source: str) -> None:
    env = sandbox()
    assert tokens(env.lexer, source) == tokens(get_lexer(env), source)


def test_the_sandbox_lexes_with_the_quick_rule() -> None:
    env = sandbox()
    assert env.lexer.rules["root"][0].pattern.pattern.startswith(_TEXT_UP_TO_A_TAG)
    # made once: every prompt of a check uses the same one
    assert env.lexer is sandbox().lexer
    # Jinja's own lexer is left as it was
    assert get_lexer(env).rules["root"][0].pattern.pattern.startswith("(.*?)")


@pytest.mark.parametrize(
    "syntax",
    [
        {"line_statement_prefix": "#"},
        {"line_comment_prefix": "##"},
        {"block_start_string": "<%", "block_end_string": "%>"},
        {"variable_start_string": "[[", "variable_end_string": "]]"},
    ],
)
def test_another_syntax_keeps_jinjas_lexer(syntax: dict[str, str]) -> None:
    lexer = get_lexer(jinja2.Environment(**syntax))  # type: ignore[arg-type]
    assert _quick_lexer(lexer) is lexer


def test_prompts_render_as_before(tmp_path: Path) -> None:
    renderer = PromptRenderer(tmp_path, tmp_path, "Harbour", {"cast": ["keeper", "gull"]})
    shot = ShotContext(id="wide", duration=8, index=1, sequence=None)
    source = (
        "{% if shot.duration > 5 %}A slow shot. {% endif %}Rain {not a tag} on the glass; "
        "among them {% for c in cast %}{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}."
    )
    assert renderer.render(source, shot) == (
        "A slow shot. Rain {not a tag} on the glass; among them keeper, gull."
    )
