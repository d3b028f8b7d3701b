"""Numbers a user sets in the environment (time limits), in one table: each
one's name, default and bounds, read by one function.

A value that is not one of them (``30s``, ``0``, ``-1``, ``nan``, ``inf``, a year of seconds)
is refused with the variable's name when the command starts, before anything is planned,
written or sent (:func:`check`: exit 2), rather than taken for the default in silence, or
met halfway through a build as a crash. Code that reads a setting later in a build, when
something may have been paid for, reads it with :func:`value_or_default`: it was checked
when the command started, and an input error then would say "nothing was sent".
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import NamedTuple

from storyboard.core.diagnostics import Diagnostic, printable
from storyboard.core.errors import InputError

WEEK = 7 * 24 * 3600.0


class Setting(NamedTuple):
    """A number read from the environment variable ``name``."""

    name: str
    default: float
    most: float


REQUEST_DEADLINE = Setting("RUNWARE_REQUEST_DEADLINE", 120.0, WEEK)
"""Seconds one POST to the Runware API may take in all."""
DOWNLOAD_DEADLINE = Setting("RUNWARE_DOWNLOAD_DEADLINE", 600.0, WEEK)
"""Seconds one download attempt of a result may take in all."""
REMOTE_CONNECT_TIMEOUT = Setting("STORYBOARD_REMOTE_CONNECT_TIMEOUT", 5.0, WEEK)
REMOTE_TIMEOUT = Setting("STORYBOARD_REMOTE_TIMEOUT", 300.0, WEEK)
"""Seconds before a request to the remote is given up: the connection, then all of it."""
CLAIM_TTL = Setting("STORYBOARD_CLAIM_TTL", 45 * 60.0, WEEK)
"""Seconds a claim on the remote holds."""
CLAIM_POLL = Setting("STORYBOARD_CLAIM_POLL", 5.0, WEEK)
"""Seconds between two looks of a build waiting for another's claimed take."""

RUNWARE = (REQUEST_DEADLINE, DOWNLOAD_DEADLINE)
"""What a build or plan with the Runware backend reads."""
REMOTE = (REMOTE_CONNECT_TIMEOUT, REMOTE_TIMEOUT, CLAIM_TTL, CLAIM_POLL)
"""What a command with a remote reads."""


def value(setting: Setting, env: Mapping[str, str] | None = None) -> float:
    """The setting's value in ``env`` (``os.environ`` by default); its default when unset
    or empty.

    Raises:
        InputError: it is set to something else than a number within its bounds.
    """
    problem, found = _read(setting, os.environ if env is None else env)
    if problem is not None:
        raise InputError.at(None, problem)
    return found


def value_or_default(setting: Setting, env: Mapping[str, str] | None = None) -> float:
    """:func:`value`, or the default where it would raise: for reads after the command's
    start, where :func:`check` has refused a wrong value already."""
    problem, found = _read(setting, os.environ if env is None else env)
    return setting.default if problem is not None else found


def check(settings: tuple[Setting, ...], env: Mapping[str, str] | None = None) -> None:
    """Refuse every wrong one of ``settings`` at once.

    Raises:
        InputError: one diagnostic for each setting that is wrong.
    """
    env = os.environ if env is None else env
    problems = [p for p in (_read(s, env)[0] for s in settings) if p is not None]
    if problems:
        raise InputError(Diagnostic(None, p) for p in problems)


def _read(setting: Setting, env: Mapping[str, str]) -> tuple[str | None, float]:
    text = env.get(setting.name, "").strip()
    if not text:
        return None, setting.default
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if 0 < seconds <= setting.most:  # neither nan nor inf
        return None, seconds
    # a long value is not shown: it may be a key pasted into the wrong variable
    shown = f"'{printable(text)}'" if len(text) <= 16 else f"a text of {len(text)} characters"
    wanted = f"a number of seconds above 0 and at most {setting.most:g}"
    return f"{setting.name} must be {wanted}, not {shown}", setting.default
