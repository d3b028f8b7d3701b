"""The libyaml composer's resolver writes out ruamel's path for scalars: every node must get
the tag ruamel's own YAML 1.2 resolver gives it, plain or quoted, and a file must compose to
the same tags."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver

from storyboard.language.load import _LibyamlResolver


class Ruamels(VersionedResolver):
    """ruamel's resolver, at YAML 1.2, untouched."""

    @property
    def processing_version(self) -> Any:
        return (1, 2)


SCALARS = [
    "", "~", "null", "Null", "NULL", "nULL", "true", "True", "TRUE", "tRUE", "false", "yes",
    "no", "on", "0", "00", "012", "0o17", "0o19", "0x1F", "0xg", "1_000", "-1", "+1", "- 1",
    "1.5", ".5", "1.", "1e3", "1E-3", "+.inf", "-.INF", ".Inf", ".nan", ".NaN", "2001-12-14",
    "2001-12-14t21:59:43.10-05:00", "12:30", "=", "<<", "!tag", "&a", "*a", "a quay at dusk",
    "True story", "1 keeper", "0.5s", "é", "-", "+", ".", "<<<keeper>>>",
]  # fmt: skip


@pytest.mark.parametrize("value", SCALARS)
@pytest.mark.parametrize("implicit", [(True, False), (False, True), (False, False)])
def test_a_scalar_gets_ruamels_tag(value: str, implicit: tuple[bool, bool]) -> None:
    ours = _LibyamlResolver().resolve(ScalarNode, value, implicit)
    assert str(ours) == str(Ruamels().resolve(ScalarNode, value, implicit))


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789+-._eExXoObBtrufalsnNT~=<!&*: é", max_size=12))
def test_any_plain_scalar_gets_ruamels_tag(value: str) -> None:
    ours = _LibyamlResolver().resolve(ScalarNode, value, (True, False))
    assert str(ours) == str(Ruamels().resolve(ScalarNode, value, (True, False)))


def test_collections_get_ruamels_tags() -> None:
    for kind in (MappingNode, SequenceNode):
        ours = _LibyamlResolver().resolve(kind, None, (True, False))
        assert str(ours) == str(Ruamels().resolve(kind, None, (True, False)))


def tags(resolver: type, text: str) -> list[str]:
    yaml = YAML(typ="safe", pure=False)
    yaml.Resolver = resolver
    found: list[str] = []

    def walk(node: Node) -> None:
        found.append(str(node.tag))
        if isinstance(node, MappingNode):
            for key, value in node.value:
                walk(key)
                walk(value)
        elif isinstance(node, SequenceNode):
            for item in node.value:
                walk(item)

    walk(yaml.compose(text))
    return found


def test_a_file_composes_to_ruamels_tags() -> None:
    text = "\n".join(
        [f"plain{i}: {v}" for i, v in enumerate(SCALARS) if v and v[0] not in "!&*-=<"]
        + [f"quoted{i}: '{v}'" for i, v in enumerate(SCALARS)]
        + ["list: [1, true, null, .inf, x]", "tagged: !!str 12", "empty:", "? complex\n: 1"]
    )
    ours = tags(_LibyamlResolver, text)
    assert ours == tags(Ruamels, text)
    # the file is read as intended: plain 1.5 a float, quoted '1.5' text, an empty value null
    assert "tag:yaml.org,2002:float" in ours
    assert "tag:yaml.org,2002:null" in ours
