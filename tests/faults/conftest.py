"""The fault suite's size knob and its figures.

Every test here reads one knob, ``STORYBOARD_FAULTS``:

- unset or ``ci`` (``make test``, CI): 10 kill trials, a small fuzz budget, 20+ takes;
- ``full`` (``make faults``): 50 kill trials, a large fuzz budget, more takes.

A test records what it measured with the ``figures`` fixture (``figures.add(name, value)``).
The figures travel with the test reports (so they survive ``pytest-xdist``), are printed in
a summary at the end of the session and written as JSON to ``STORYBOARD_FAULTS_FIGURES``
(default: ``$TMPDIR/storyboard-faults/figures-SIZE.json``); docs/reliability.md quotes them.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

KNOB = "STORYBOARD_FAULTS"
FIGURES_ENV = "STORYBOARD_FAULTS_FIGURES"
_PROPERTY = "storyboard-figures"


@dataclass(frozen=True)
class Size:
    """How hard the suite pushes; one value per run, from ``STORYBOARD_FAULTS``."""

    name: str
    kill_trials: int
    """Builds killed with SIGKILL at a random moment, then resumed."""
    provider_takes: int
    """Takes in the film built with every provider fault enabled."""
    fuzz_examples: int
    """Mutated storyboards given to ``check`` and to ``compile``, per fuzz test."""
    disk_levels: int
    """How many different amounts of free space the full-disk build is tried with."""


SIZES = {
    "ci": Size("ci", kill_trials=10, provider_takes=24, fuzz_examples=150, disk_levels=2),
    "full": Size("full", kill_trials=50, provider_takes=40, fuzz_examples=1500, disk_levels=5),
}


def current_size() -> Size:
    name = os.environ.get(KNOB, "").strip().lower() or "ci"
    if name not in SIZES:
        raise pytest.UsageError(f"{KNOB}={name!r}: expected one of {', '.join(sorted(SIZES))}")
    return SIZES[name]


@pytest.fixture(scope="session")
def size() -> Size:
    """The suite's size (``STORYBOARD_FAULTS``)."""
    return current_size()


class Figures:
    """What one test measured; stored on the test item, summed up at the session's end."""

    def __init__(self, item: pytest.Item) -> None:
        self._item = item
        self.values: dict[str, Any] = {}

    def add(self, name: str, value: Any) -> None:
        self.values[name] = value
        props = [(k, v) for k, v in self._item.user_properties if k != _PROPERTY]
        props.append((_PROPERTY, json.dumps(self.values, sort_keys=True)))
        self._item.user_properties[:] = props


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    """Record a figure: ``figures.add("double charges", 0)``."""
    assert isinstance(request.node, pytest.Item)
    return Figures(request.node)


# -- the summary (runs in the controlling process, also under xdist) --------------------------

_collected: dict[str, dict[str, Any]] = {}
_outcomes: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.outcome != "passed":
        _outcomes.setdefault(report.nodeid, report.outcome)
    for key, value in report.user_properties:
        if key == _PROPERTY and isinstance(value, str):
            _collected[report.nodeid] = json.loads(value)


def figures_path(size: Size) -> Path:
    configured = os.environ.get(FIGURES_ENV)
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / "storyboard-faults" / f"figures-{size.name}.json"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _collected:
        return
    size = current_size()
    path = figures_path(size)
    path.parent.mkdir(parents=True, exist_ok=True)
    tests = {k: {**v, "outcome": _outcomes.get(k, "not run")} for k, v in _collected.items()}
    body = {"size": asdict(size), "tests": dict(sorted(tests.items()))}
    path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    write = terminalreporter.write_line
    terminalreporter.section(f"fault figures ({KNOB}={size.name})")
    for nodeid, values in body["tests"].items():
        write(f"{nodeid}  [{values.pop('outcome')}]")
        for name, value in values.items():
            write(f"    {name}: {value}")
    write(f"figures written to {path}")
