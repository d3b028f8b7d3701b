"""The template sandbox bounds what a prompt builds as it builds it (issue 12, item 5).

Each memory bomb of the issue, scaled down so that code without these bounds builds at most
a few hundred MB here (it built 4 to 10 GB at full scale), must be refused after building
at most a small multiple of the documented limits; tracemalloc measures what was built.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from storyboard import api
from storyboard.core.errors import InputError
from storyboard.language import prompts
from storyboard.language.prompts import PromptRenderer, ShotContext, TemplateProblem

Project = Callable[[dict[str, str | bytes]], Path]
SHOT = ShotContext("a", 5, 1, None)
BIG = "z" * 500_000
LOOP = "{% for i in range(1000) %}{{ 'x' * 99999 }}{% endfor %}"  # 100 MB without bounds
PEAK = 16 * 1024 * 1024
"""What any of these may allocate at its peak: a few times the 2,000,000 characters a
render may build in all (ASCII here, a byte each)."""


def renderer(**variables: Any) -> PromptRenderer:
    return PromptRenderer(Path("."), Path("."), "t", variables)


@pytest.fixture
def peak() -> Iterator[Callable[[], int]]:
    """The most memory allocated at once since the test started (bytes)."""
    tracemalloc.start()
    yield lambda: tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()


@pytest.mark.parametrize(
    ("template", "refusal"),
    [
        # a loop writing into a buffer that is joined only at its end
        ("{% set s %}" + LOOP + "{% endset %}{{ s|length }}", "characters in all"),
        ("{% filter upper %}" + LOOP + "{% endfilter %}", "characters in all"),
        ("{% macro m() %}" + LOOP + "{% endmacro %}{{ m()|length }}", "characters in all"),
        ("{% macro m() %}{{ caller()|length }}{% endmacro %}{% call m() %}" + LOOP
         + "{% endcall %}", "characters in all"),
        # literal text written in a loop: no operator, no filter, no call
        ("{% set s %}{% for i in range(1000) %}" + "y" * 99_000 + "{% endfor %}{% endset %}"
         "{{ s|length }}", "characters in all"),
        # a list that is small in memory but huge once printed
        ("{{ ['x' * 9999] * 9999 }}", "'*' would build more than 100,000 characters"),
        ("{{ (['x' * 9999] * 9)|string * 999 }}", "'*' would build more than 100,000"),
        # a long text repeated through aliases: passed on, joined or written
        ("{{ l }}", "writes a value of more than 100,000 characters"),
        ("{{ l|join }}", "'join' is given a value of more than 100,000 characters"),
        ("{% for x in l %}{{ x }}{% endfor %}", "writes a value of more than 100,000"),
        ("{{ l|length }}", "given a value of more than 100,000"),
        ("{{ l[::-1]|length }}", "builds a value of more than 100,000 characters"),
        ("{{ s }}" * 30, "writes a value of more than 100,000 characters"),
        ("{{ s ~ s }}", "'~' is given a value of more than 100,000 characters"),
        ("{{ s.upper() }}", "'upper' is given a value of more than 100,000"),
        # a small item joined with a long separator, the items made lazily
        ("{{ range(9000)|map('string')|join('x' * 99999) }}", "'join' would build more than"),
        ("{{ ('x' * 99999).join(range(9000)|map('string')) }}", "'join' would build more"),
        ("{{ ('a ' * 5000)|wordwrap(1, wrapstring='x' * 99999) }}", "'wordwrap' would build"),
        ("{{ ('a.co ' * 2000)|urlize(target='x' * 99999) }}", "'urlize' would build"),
        ("{{ ('\\0' * 9999).translate({0: 'x' * 9999}) }}", "'translate' would build"),
    ],
)  # fmt: skip
def test_memory_bombs_are_refused_as_they_are_built(
    template: str, refusal: str, peak: Callable[[], int]
) -> None:
    render = renderer(l=[BIG] * 30, s=BIG)
    with pytest.raises(TemplateProblem) as exc:
        render.render(template, SHOT)
    assert refusal in exc.value.message
    assert exc.value.line == 1
    assert peak() < PEAK + 2 * len(BIG)


def test_a_prompt_may_take_its_time_budget_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompts, "PROMPT_SECONDS", 0.3)
    slow = "{% set l = [1] * 20000 %}{% for i in range(45000) %}{% if 'z' in l %}{% endif %}"
    started = time.monotonic()
    with pytest.raises(TemplateProblem, match=r"takes more than 0\.3 s to render"):
        renderer().render(slow + "{% endfor %}ok", SHOT)
    assert time.monotonic() - started < 1.5
    assert renderer().render("{% for i in range(10) %}{% endfor %}ok", SHOT) == "ok"


def test_the_prompts_of_a_storyboard_share_a_time_budget(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prompts, "PROMPT_SECONDS", 0.3)
    monkeypatch.setattr(prompts, "DOCUMENT_SECONDS", 1.0)
    slow = "{% set l = [1] * 20000 %}{% for i in range(45000) %}{% if 'z' in l %}{% endif %}"
    shots = "".join(f'  - id: s{i}\n    prompt: "{slow}{{% endfor %}}ok"\n' for i in range(20))
    root = project({"film.yaml": f"storyboard: 1\ntitle: t\nshots:\n{shots}"})
    started = time.monotonic()
    with pytest.raises(InputError) as exc:
        api.check(root / "film.yaml")
    assert time.monotonic() - started < 4  # not 20 prompts of 0.3 s each, and more
    found = [d.render() for d in exc.value.diagnostics]
    assert sum("takes more than 0.3 s to render" in m for m in found) in (2, 3)
    assert found[-1].endswith(
        "rendering the prompts takes more than 1 s in all; the prompts after this one were "
        "not rendered"
    )
    assert ":5:13: error: " in found[0]  # each at its prompt


def test_a_template_too_long_to_compile_is_refused_before_compiling(
    peak: Callable[[], int],
) -> None:
    source = "{{ a.b ~ a }}" * 3000  # 21,000 tokens: about 40 MB to compile
    started = time.thread_time()  # the work done: a loaded machine does not stretch it
    with pytest.raises(TemplateProblem, match="too long to compile: more than 10,000 tokens"):
        renderer(a={"b": "x"}).render(source, SHOT)
    assert time.thread_time() - started < 1
    assert peak() < 8 * 1024 * 1024


def test_the_quick_path_does_not_join_long_values(peak: Callable[[], int]) -> None:
    # `{{ s }}` thirty times: the quick path would join 15 MB before measuring it
    with pytest.raises(TemplateProblem, match="writes a value of more than 100,000"):
        renderer(s=BIG).render("{{ s }}" * 30, SHOT)
    assert peak() < PEAK + 2 * len(BIG)


def test_ordinary_templates_stay_within_the_budget() -> None:
    render = renderer(items=["gulls", "boats"], look="dark", n=3)
    source = (
        "{% for i in range(2000) %}{% set x = look ~ i %}{% endfor %}"
        "{{ items|join(', ') }} {{ (items * 3)|length }} {{ look[1:] }} {{ [1, 2][::-1] }} "
        "{% set t %}{% for i in range(n) %}{{ i }}{% endfor %}{% endset %}{{ t }} "
        "{{ vars.get('look') }} {% for k in vars %}{{ k }},{% endfor %}"
    )
    assert render.render(source, SHOT) == "gulls, boats 6 ark [2, 1] 012 dark items,look,n,"


def test_sizes_are_what_values_print_as() -> None:
    budget = prompts._Budget(time.monotonic() + 10, 10, False)
    for value in [[1], [1] * 10, [[1]] * 3, {"a": 1}, "abc", [], -12, 123456, (1, 2), ""]:
        assert budget.size(value, 10**6) == len(str(value))
    # a list of long texts is measured only up to the limit, and quickly
    started = time.thread_time()
    assert budget.size([BIG] * 100_000, 100_000) > 100_000
    assert time.thread_time() - started < 0.01
