"""Numbers read from the environment (storyboard/core/settings.py): a value that is not one is
refused with the variable's name when the command starts (exit 2, nothing sent, nothing
written), where ``RUNWARE_REQUEST_DEADLINE=abc`` was an internal error with a traceback and
``STORYBOARD_REMOTE_TIMEOUT=inf`` said the remote was unreachable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard.core import settings
from storyboard.core.errors import InputError
from tests.conftest import CliResult

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]

FILM = """\
storyboard: 1
title: Settings
shots:
  - {id: a, duration: 3, prompt: a gull over the pier}
"""
WRONG = ["abc", "30s", "0", "-1", "nan", "inf", "-inf", "1e400", "604801"]


@pytest.mark.parametrize("text", WRONG)
def test_a_wrong_value_is_refused_with_its_name(text: str) -> None:
    env = {"STORYBOARD_CLAIM_TTL": text}
    with pytest.raises(InputError) as caught:
        settings.value(settings.CLAIM_TTL, env)
    assert str(caught.value) == (
        "error: STORYBOARD_CLAIM_TTL must be a number of seconds above 0 and at most 604800, "
        f"not '{text}'"
    )
    # read mid-build, after the start checked it: the default, never an input error
    assert settings.value_or_default(settings.CLAIM_TTL, env) == 45 * 60


@pytest.mark.parametrize(("text", "seconds"), [("", 300.0), ("  ", 300.0), ("2.5", 2.5),
                                               (" 7 ", 7.0), ("604800", 604800.0)])  # fmt: skip
def test_a_number_within_bounds_is_read_and_unset_is_the_default(text: str, seconds: float) -> None:
    env = {settings.REMOTE_TIMEOUT.name: text}
    assert settings.value(settings.REMOTE_TIMEOUT, env) == seconds
    assert settings.value(settings.REMOTE_TIMEOUT, {}) == 300.0


def test_every_wrong_setting_is_said_at_once_and_a_long_value_is_not_shown() -> None:
    key = "rw-" + "k" * 40  # a key pasted into the wrong variable is not printed
    env = {"RUNWARE_REQUEST_DEADLINE": key, "RUNWARE_DOWNLOAD_DEADLINE": "-3"}
    with pytest.raises(InputError) as caught:
        settings.check(settings.RUNWARE, env)
    message = str(caught.value)
    assert key not in message and "k" * 16 not in message
    assert message.splitlines() == [
        "error: RUNWARE_DOWNLOAD_DEADLINE must be a number of seconds above 0 and at most "
        "604800, not '-3'",
        "error: RUNWARE_REQUEST_DEADLINE must be a number of seconds above 0 and at most "
        f"604800, not a text of {len(key)} characters",
    ]


@pytest.mark.parametrize("command", ["build", "plan"])
def test_a_wrong_runware_deadline_stops_the_command_before_anything_is_sent(
    paid: Any, project: Project, run_cli: Run, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    root = project({"film.yaml": FILM})
    monkeypatch.setenv("RUNWARE_REQUEST_DEADLINE", "abc")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    result = run_cli(command, "film.yaml", cwd=root)
    assert result.status == 2, result.err
    assert result.err.startswith(
        "error: RUNWARE_REQUEST_DEADLINE must be a number of seconds above 0"
    )
    assert "Traceback" not in result.err and "internal error" not in result.err
    assert paid.stats()["requests"] == 0 and paid.ledger() == []
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # nothing written


def test_the_same_build_with_a_right_deadline_goes_on(
    paid: Any, project: Project, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project({"film.yaml": FILM})
    monkeypatch.setenv("RUNWARE_REQUEST_DEADLINE", "30")
    result = run_cli("build", "film.yaml", cwd=root)
    assert result.status == 0, result.err
    assert len(paid.ledger()) == 1


@pytest.mark.parametrize(
    ("name", "command"),
    [("STORYBOARD_REMOTE_TIMEOUT", "remote"), ("STORYBOARD_REMOTE_CONNECT_TIMEOUT", "pull"),
     ("STORYBOARD_CLAIM_TTL", "build"), ("STORYBOARD_CLAIM_POLL", "build")],
)  # fmt: skip
def test_a_wrong_remote_setting_stops_a_command_with_a_remote(
    project: Project, run_cli: Run, nas: Path, monkeypatch: pytest.MonkeyPatch,
    name: str, command: str,
) -> None:  # fmt: skip
    root = project({"film.yaml": FILM})
    monkeypatch.delenv("RUNWARE_API_KEY", raising=False)  # the preview backend
    monkeypatch.setenv(name, "inf")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    result = run_cli(command, "--remote", f"file://{nas}", "film.yaml", cwd=root)
    assert result.status == 2, result.err
    assert result.err.startswith(f"error: {name} must be a number of seconds above 0")
    assert "unreachable" not in result.err and "reachable: no" not in result.out
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert list(nas.iterdir()) == []
    # without a remote, the setting is not read
    assert name not in run_cli(command, "--no-remote", "film.yaml", cwd=root).err
