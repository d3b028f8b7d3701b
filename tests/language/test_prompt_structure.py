"""Prompts are compiled once per structure: prompts that differ only in their literal text
share one compiled template, and each still renders exactly as Jinja renders it alone, with
its errors at their lines and the sandbox's bounds in force."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storyboard.language.prompts import PromptRenderer, ShotContext, TemplateProblem

VARIABLES = {"look": "Grain", "cast": ["keeper", "gull"], "n": 2}
SHOT = ShotContext(id="wide", duration=5, index=7, sequence=None)


def renderer(folder: Path) -> PromptRenderer:
    return PromptRenderer(folder, folder, "Harbour", VARIABLES)


def alone(folder: Path, source: str) -> str:
    """``source`` compiled for itself, as before templates were shared."""
    r = renderer(folder)
    return r._generate(r._env.from_string(source), SHOT).strip()


def count_compiles(r: PromptRenderer, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    compiled: list[object] = []
    compile_ = r._env.compile

    def counting(*args: object, **kwargs: object) -> object:
        compiled.append(args[0])
        return compile_(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(r._env, "compile", counting)
    return compiled


def test_prompts_of_one_structure_are_compiled_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = renderer(tmp_path)
    compiled = count_compiles(r, monkeypatch)
    shape = "{prose} {{% for c in cast %}}{{{{ c }}}}{{% if not loop.last %}}, {{% endif %}}"
    shape += "{{% endfor %}}. {{% if shot.index > 3 %}}{late}{{% else %}}early{{% endif %}}"
    texts = [("A storm.", "Late."), ("The keeper climbs.", "After dark, rain."), ("Gulls.", "x")]
    for prose, late in texts:
        source = shape.format(prose=prose, late=late)
        assert r.render(source, SHOT) == alone(tmp_path, source)
        assert r.render(source, SHOT) == f"{prose} keeper, gull. {late}"
    assert len(compiled) == 1


def test_another_structure_is_compiled_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = renderer(tmp_path)
    compiled = count_compiles(r, monkeypatch)
    assert r.render("a {% if n %}b{% endif %}", SHOT) == "a b"
    assert r.render("a {% if not n %}b{% endif %}", SHOT) == "a"
    assert r.render("a\n{% if n %}b{% endif %}", SHOT) == "a\nb"  # another line: another key
    assert r.render("c {% if n %}d{% endif %}", SHOT) == "c d"
    assert len(compiled) == 3


def test_an_error_is_at_its_own_line_in_every_prompt_of_a_structure(tmp_path: Path) -> None:
    r = renderer(tmp_path)
    assert r.render("one {% for c in cast %}{{ c }}{% endfor %}", SHOT) == "one keepergull"
    with pytest.raises(TemplateProblem) as caught:
        r.render("two\nlines {% for c in cats %}{{ c }}{% endfor %}", SHOT)
    assert (caught.value.line, caught.value.near) == (2, "cats")
    with pytest.raises(TemplateProblem) as caught:  # same structure as the first, bad name
        r.render("three {% for c in cats %}{{ c }}{% endfor %}", SHOT)
    assert "'cats' is undefined" in caught.value.message and caught.value.line == 1


def test_the_bounds_hold_for_a_shared_template(tmp_path: Path) -> None:
    r = renderer(tmp_path)
    loop = "{prose}{{% for i in range({count}) %}}{{{{ i }}}}{{% endfor %}}"
    assert r.render(loop.format(prose="ok ", count=3), SHOT) == "ok 012"
    with pytest.raises(TemplateProblem, match="more than 100,000 steps"):
        r.render(loop.format(prose="no ", count=10**6), SHOT)
    # literal text is written through the guarded output: it counts against the budget
    big = "x" * 60_000
    shape = "{a}{{% if n %}}{b}{{% endif %}}"
    assert r.render(shape.format(a="a", b="b"), SHOT) == "ab"
    with pytest.raises(TemplateProblem, match="more than 100,000 characters"):
        r.render(shape.format(a=big, b=big), SHOT)


def test_included_templates_keep_their_own_text(tmp_path: Path) -> None:
    (tmp_path / "part.j2").write_text("part text {{ look }}", encoding="utf-8")
    r = renderer(tmp_path)
    for prose in ("first", "second"):
        source = f"{prose} {{% include 'part.j2' %}} {prose}"
        assert r.render(source, SHOT) == f"{prose} part text Grain {prose}"


PIECES = st.sampled_from(
    [
        "{% if n %}", "{% if not n %}", "{% else %}", "{% endif %}", "{% for c in cast %}",
        "{% endfor %}", "{{ c }}", "{{ look }}", "{%- if n -%}", "{% raw %}{{ x }}{% endraw %}",
        "{# note #}", "{{ loop.index }}", "{% set t = look %}", "{{ t }}", "\n", " ",
        "{{- look -}}", "{{look}}", "{%- endif %}", "{{ 'a\\nb' }}",
    ]
)  # fmt: skip
TEXT = st.text(alphabet="ab \n\r<>", max_size=6)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    parts=st.lists(st.tuples(TEXT, PIECES), min_size=1, max_size=6),
    others=st.lists(TEXT, min_size=6, max_size=6),
)
def test_a_shared_template_renders_what_jinja_renders(
    tmp_path: Path, parts: list[tuple[str, str]], others: list[str]
) -> None:
    """Two prompts of the same pieces with other text between them: each renders as Jinja
    renders it alone, or fails as it does."""
    r = renderer(tmp_path)
    for texts in ([t for t, _ in parts], others):
        source = "".join(t + piece for t, (_, piece) in zip(texts, parts, strict=False))
        try:
            expected: str | None = alone(tmp_path, source)
        except (jinja2.TemplateError, TypeError):
            expected = None
        if expected is None:
            with pytest.raises(TemplateProblem):
                r.render(source, SHOT)
        else:
            assert r.render(source, SHOT) == expected
