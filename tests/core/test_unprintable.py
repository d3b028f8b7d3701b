"""``unprintable`` names the first character ``printable`` would escape, tabs included, and
says nothing of plain text; its pattern is compiled only when text needs it."""

from __future__ import annotations

import pytest

from storyboard.core import diagnostics
from storyboard.core.diagnostics import printable, unprintable
from storyboard.core.lazy import compiled_when_used


@pytest.mark.parametrize(
    "text",
    ["", "a quay at dusk", "~!@#$%^&*()_+{}|:<>?`-=[]\\;',./\"", "Brønnøysund", "日本語", "é"],
)
def test_plain_text_has_nothing_unprintable(text: str) -> None:
    assert unprintable(text) is None
    assert printable(text) == text


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("a\tb", "U+0009"),
        ("bell\x07", "U+0007"),
        ("\x1b[31mred", "U+001B"),
        ("del\x7f", "U+007F"),
        ("c1 \x85", "U+0085"),
        ("line\u2028sep", "U+2028"),
        ("bidi \u202e evil", "U+202E"),
        ("isolate \u2066", "U+2066"),
        ("half \ud800", "U+D800"),
        ("é then \x00", "U+0000"),
    ],
)
def test_each_kind_of_unprintable_character_is_named(text: str, named: str) -> None:
    found = unprintable(text)
    assert found is not None and named in found


def test_a_pattern_compiled_when_used_is_compiled_once() -> None:
    pattern = compiled_when_used(r"[a-c]+")
    assert pattern() is pattern()
    assert pattern().findall("xabcyc") == ["abc", "c"]
    # plain ASCII text is answered without the pattern (checked first, above); the pattern
    # is the one printable() escapes
    assert diagnostics._UNPRINTABLE().pattern.startswith("[\x00-\x1f")
