"""Bad input: a fuzzer gives ``check`` and ``compile`` mutated storyboards, for a fixed budget.

Hypothesis mutates two valid storyboards (the language tour of the property tests, with
includes, templates, frame references, variations, an edit and a cut; and the fault film
with elements, pictures, chains, edits and multi-shot takes) in three ways:

- structure: keys dropped, renamed, retyped, duplicated, list items dropped or repeated;
- values: any scalar replaced by a hostile one (huge, negative, NaN, empty, a path out of
  the project, a URL, a template, a marker, a frame reference to nowhere...);
- text: hostile tokens spliced into the YAML (``{{``, ``{%``, ``<<<``, anchors, aliases,
  tags, tabs, quotes, brackets, NUL, right-to-left marks), lines deleted or repeated.

Every input goes through ``storyboard check`` and ``storyboard compile`` (the CLI entry,
in-process). Every outcome must be a pass (exit 0) or exit 2 whose every line on stderr is
a positioned ``FILE:LINE:COL: error: MESSAGE`` diagnostic (plus the closing count), never a
traceback or an internal error. ``STORYBOARD_FUZZ_SEED`` changes the seed to explore more.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from storyboard.cli.main import main
from tests.faults.conftest import Figures, current_size
from tests.faults.films import film, film_files
from tests.language.test_check_properties import FILES, SOURCES, VALID, dump, mutated

SEED = int(os.environ.get("STORYBOARD_FUZZ_SEED", "20261125"))
BUDGET = settings(
    max_examples=current_size().fuzz_examples,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: A positioned diagnostic, as editors and CI annotators parse it.
DIAGNOSTIC = re.compile(r"^[^\s:][^:]*:\d+:\d+: (error|warning): \S")
COUNT = re.compile(r"^\d+ errors?$")

HOSTILE_SCALARS: list[Any] = [
    *SOURCES,
    "",
    " ",
    "x" * 3000,
    "<<<element_1>>>",
    "<<<hero>>> <<<nobody>>>",
    "<<<<<<>>>>>>",
    "{{ storyboard.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ 'x' * 10**9 }}",
    "{% include '/etc/passwd' %}",
    "{{ 9 ** 99999 }}",
    "../../../../etc/passwd",
    "hero.jpg/..",
    "./hero.jpg",
    "hero.JPG",
    "http://169.254.169.254/latest/meta-data",
    "https://",
    "https://[::1",
    "b00-wide.last",
    "b00-wide@99s",
    "b00-wide@-1s",
    "b00-wide.middle",
    0,
    -1,
    1,
    2,
    3,
    15,
    16,
    10**20,
    -(10**20),
    0.5,
    1e308,
    -0.0,
    math.inf,
    math.nan,
    True,
    False,
    None,
    [],
    {},
    [None],
    {"": None},
]
TOKENS = [
    "{{", "}}", "{%", "%}", "{#", "<<<", ">>>", "<<<element_1>>>", "&a ", "*a", "*b", "<<: *a",
    "!!python/object:os.system ", "!!binary ", "!custom ", "? ", ": ", "- ", "-", ":", "\t",
    "\n", "\n  ", "\n- ", "'", '"', "\\", "[", "]", "{", "}", ",", "#", "|", ">", "%", "@",
    "...", "---\n", "\x00", "\x7f", "\u202e", "\ufeff", "é", "0x", "1e999", ".inf", ".nan",
    "~", "null", "yes", "no", "9" * 5000, "../", "/", ".last", ".first", "@2s", "file://",
]  # fmt: skip


def _bases() -> dict[str, tuple[dict[str, str | bytes], str]]:
    """Each base storyboard: the project's files, and the storyboard's text."""
    tour = {name: content for name, content in FILES.items()}
    fault = {k: v for k, v in film_files(6).items() if k != "film.yaml"}
    return {"tour": (tour, dump(VALID)), "fault-film": (fault, film(6))}


BASES = _bases()
_yaml = YAML(typ="safe", pure=True)
FAULT_FILM: dict[str, Any] = _yaml.load(film(6))


class Fuzz:
    """One fuzz test's project folder and tally; the tally goes into its figures."""

    def __init__(self, root: Path, figures: Figures) -> None:
        self.root = root
        self.figures = figures
        self.tried = 0
        self.outcomes: Counter[str] = Counter()
        self.crashes: list[str] = []

    def record(self) -> None:
        self.figures.add("inputs tried", self.tried)
        self.figures.add("outcomes", dict(sorted(self.outcomes.items())))
        self.figures.add("crashes", len(self.crashes))


@pytest.fixture
def fuzz(
    project: Callable[[dict[str, str | bytes]], Path],
    figures: Figures,
    request: pytest.FixtureRequest,
) -> Iterator[Fuzz]:
    """A project holding the files of both bases (they do not collide), and a tally (the
    figures of the fuzz tests)."""
    files: dict[str, str | bytes] = {}
    for base_files, _ in BASES.values():
        files.update(base_files)
    tally = Fuzz(project(files), figures)
    yield tally
    if request.node.name.startswith("test_fuzz_"):
        tally.record()


def run_both(fuzz: Fuzz, text: str | bytes) -> None:
    """Run ``check`` and ``compile`` on ``text``; assert each ends cleanly."""
    path = fuzz.root / "fuzzed.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    fuzz.tried += 1
    root = fuzz.root
    for command in ("check", "compile"):
        out, err = io.StringIO(), io.StringIO()
        try:
            with (
                contextlib.chdir(root),
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(err),
            ):
                status = main([command, path.name])
        except BaseException as exc:  # anything escaping main() is a crash
            fuzz.crashes.append(f"{command}: {type(exc).__name__}: {exc}")
            fuzz.record()
            raise
        fuzz.outcomes[f"{command} exit {status}"] += 1
        problem = _problem(status, err.getvalue())
        if problem:
            fuzz.crashes.append(f"{command}: {problem}")
            fuzz.record()
        assert not problem, f"storyboard {command} on:\n{text!r}\n{problem}"


def _problem(status: int, err: str) -> str | None:
    """What is wrong with an outcome, if anything."""
    if "Traceback" in err or "internal error" in err:
        return f"crashed (exit {status}):\n{err[-3000:]}"
    if status == 0:
        return None
    if status != 2:
        return f"exit {status}, expected 0 or 2:\n{err[-3000:]}"
    lines = err.splitlines()
    if not lines or not COUNT.match(lines[-1]):
        return f"exit 2 without a closing count of errors:\n{err[-3000:]}"
    bad = [line for line in lines[:-1] if not DIAGNOSTIC.match(line)]
    if bad:
        return f"exit 2 with lines that are not positioned diagnostics: {bad[:5]}"
    return None


# -- mutations --------------------------------------------------------------------------------


def _scalar_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _scalar_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _scalar_paths(item, (*path, index))
    else:
        yield path


@st.composite
def with_hostile_values(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    data = copy.deepcopy(base)
    paths = list(_scalar_paths(data))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(paths))
        node = data
        for key in where[:-1]:
            node = node[key]
        node[where[-1]] = copy.deepcopy(draw(st.sampled_from(HOSTILE_SCALARS)))
    return data


@st.composite
def spliced_text(draw: st.DrawFn, text: str) -> str:
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["insert", "insert", "delete", "repeat-line", "drop-line"]))
        at = math.floor(draw(st.floats(0, 1)) * len(text))
        if op == "insert":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 12)) :]
        else:
            lines = text.split("\n")
            index = min(len(lines) - 1, text.count("\n", 0, at))
            if op == "repeat-line":
                lines.insert(index, lines[index])
            else:
                del lines[index]
            text = "\n".join(lines)
    return text


# -- the fuzz tests ---------------------------------------------------------------------------


@seed(SEED)
@BUDGET
@given(data=mutated())
def test_fuzz_structure(fuzz: Fuzz, data: Any) -> None:
    run_both(fuzz, dump(data))


@seed(SEED)
@BUDGET
@given(which=st.sampled_from(sorted(BASES)), data=st.data())
def test_fuzz_values(fuzz: Fuzz, which: str, data: st.DataObject) -> None:
    base = VALID if which == "tour" else FAULT_FILM
    run_both(fuzz, dump(data.draw(with_hostile_values(base))))


@seed(SEED)
@BUDGET
@given(which=st.sampled_from(sorted(BASES)), data=st.data())
def test_fuzz_text(fuzz: Fuzz, which: str, data: st.DataObject) -> None:
    run_both(fuzz, data.draw(spliced_text(BASES[which][1])))


@pytest.mark.parametrize("name", sorted(BASES))
def test_the_bases_compile(fuzz: Fuzz, name: str) -> None:
    """The fuzzers start from storyboards that pass, so they reach every stage."""
    path = fuzz.root / "fuzzed.yaml"
    path.write_text(BASES[name][1], encoding="utf-8")
    for command in ("check", "compile"):
        out, err = io.StringIO(), io.StringIO()
        with (
            contextlib.chdir(fuzz.root),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            assert main([command, path.name]) == 0, err.getvalue()


# -- what the fuzzer found, pinned ------------------------------------------------------------

LONG = "x" * 300  # one path component longer than any file system takes
FOUND = {
    "long media name": f"storyboard: 1\ntitle: t\nshots:\n  - {{id: a, start: {LONG}.jpg, "
    "prompt: a harbour}\n",
    "long include name": f"storyboard: 1\ntitle: t\ninclude: [{LONG}.yaml]\nshots:\n"
    "  - {id: a, prompt: a harbour}\n",
    "long edit name": "storyboard: 1\ntitle: t\nshots:\n  - {id: a, prompt: a harbour}\n"
    f"  - {{id: b, edit: {LONG}, prompt: restyle it}}\n",
    "long music name": "storyboard: 1\ntitle: t\nshots:\n  - {id: a, prompt: a harbour}\n"
    f"cut:\n  music: {{file: {LONG}.mp3}}\n",
    "carriage return in a key": 'storyboard: 1\ntitle: t\n"\\r": 1\nshots:\n'
    "  - {id: a, prompt: a harbour}\n",
    "separators in a key": 'storyboard: 1\ntitle: t\n"a\\x1cb\\u2028c\\x1b[31m": 1\nshots:\n'
    "  - {id: a, prompt: a harbour}\n",
    "reused anchor": "storyboard: 1\ntitle: t\nshots:\n  - &a {id: a, prompt: a harbour}\n"
    "  - &a {id: b, prompt: a harbour}\n",
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_what_the_fuzzer_found(fuzz: Fuzz, name: str) -> None:
    """Each ends cleanly: a pass, or exit 2 with one positioned line per problem."""
    run_both(fuzz, FOUND[name])
    assert fuzz.outcomes.get("check exit 2", 0) + fuzz.outcomes.get("check exit 0", 0) == 1


def test_fmt_skips_an_include_whose_name_is_too_long(fuzz: Fuzz) -> None:
    path = fuzz.root / "fuzzed.yaml"
    path.write_text(FOUND["long include name"], encoding="utf-8")
    err = io.StringIO()
    with contextlib.chdir(fuzz.root), contextlib.redirect_stderr(err):
        status = main(["fmt", "--check", path.name])
    assert status in (0, 1) and "Traceback" not in err.getvalue(), err.getvalue()
