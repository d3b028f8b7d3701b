"""What the command-line benchmarks share: running ``storyboard`` as a user does.

Every command is a fresh process of the installed ``storyboard`` script, with the shipped
defaults and the user's environment, except for two things a user's install has and this
development tree may not:

- compiled bytecode: ``pip install`` compiles every module, while the development
  environment may set ``PYTHONDONTWRITEBYTECODE`` (then every command compiles storyboard's
  sources anew, about 85 ms). Commands run with ``PYTHONPYCACHEPREFIX=bench/.cache/pycache``,
  so the warm-up run writes the bytecode there and the timed runs read it;
- the emulator, where a user would reach Runware: ``RUNWARE_BASE_URL`` and
  ``RUNWARE_API_KEY`` point at it (:class:`bench.emulated.Emulator`).

A pair times ours and the baseline one after the other, in an order flipped every pair
(:func:`bench.harness.paired`); the machine's load is recorded beside every figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.media import CACHE

BIN = Path(sys.executable).parent
STORYBOARD = str(BIN / "storyboard")
PYTHON = sys.executable
PYCACHE = CACHE / "pycache"


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The user's environment, with bytecode kept (see the module docstring), and no
    Runware settings but those given."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("RUNWARE_")
    }
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.update(extra or {})
    return env


def run(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command to the end, its output captured; raise if it fails and ``check``."""
    done = subprocess.run(
        list(argv), env=dict(env), cwd=cwd, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-1500:]}"
        )
    return done


def timed(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None) -> float:
    """Wall seconds of one run of a command (started to exited)."""
    start = time.perf_counter()
    run(argv, env=env, cwd=cwd)
    return time.perf_counter() - start


def project(folder: Path) -> Path:
    """Make ``folder`` a storyboard project of its own (its ``.storyboard/`` state): without
    it, storyboard finds the repository's ``.git`` above it and keeps its state there, shared
    by every benchmark run."""
    (folder / ".storyboard").mkdir(parents=True, exist_ok=True)
    return folder


def storyboard(*args: str) -> list[str]:
    return [STORYBOARD, *args]


MODEL_FLOOR = (
    "import gc, os, sys\nfrom storyboard.core.memory import COLLECT_EVERY\n"
    "gc.set_threshold(COLLECT_EVERY, *gc.get_threshold()[1:])\n"
    "os.environ['PYDANTIC_DISABLE_PLUGINS'] = '__all__'\n"
    "from storyboard.cli.main import _without_plugin_loader\n_without_plugin_loader()\n"
    "from ruamel.yaml import YAML\n"
    "from storyboard.language.model import Storyboard\n"
    "Storyboard.model_validate("
    "YAML(typ='safe', pure=False).load(open(sys.argv[1], encoding='utf-8').read()))\n"
    "os._exit(0)"
)
"""What any ``check`` that validates with the language's models pays at least: a fresh
``python`` that loads the file with libyaml (no positions) and validates it with the
:class:`~storyboard.language.model.Storyboard` model (pydantic: imported, the validator made,
run), and nothing else: no positions, no document rules, no prompts, no compile, no CLI. With
what the command does to start and end fast, so that the floor is one: pydantic's plugin
loader left out, fewer garbage collections, no finalizing at exit (``storyboard.cli.main``)."""


def model_floor(
    runs: int,
    path: Path,
    baseline: Sequence[str],
    baseline_name: str,
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
) -> tuple[dict[str, Any], str]:
    """Time :data:`MODEL_FLOOR` on ``path`` against the command ``baseline``, ``runs`` pairs;
    return the entries of a result's ``info`` and its note."""
    from bench.harness import paired, ratios, spread

    floor, theirs = paired(
        runs,
        lambda: timed([PYTHON, "-c", MODEL_FLOOR, str(path)], env=env, cwd=cwd),
        lambda: timed(baseline, env=env, cwd=cwd),
        warmup=False,
    )
    median, low, high = spread(ratios(floor, theirs, "ratio"))
    info = {
        "model_floor_s": [round(v, 4) for v in floor],
        "model_floor_ratio": [round(median, 2), round(low, 2), round(high, 2)],
    }
    note = (
        "the floor of a check that validates with the models (bench/cli.py MODEL_FLOOR: a "
        f"libyaml load + Storyboard.model_validate, nothing else): {median:.2f}x "
        f"{baseline_name} ({low:.2f}..{high:.2f})"
    )
    return info, note


def load() -> float:
    """The machine's load (1-minute average)."""
    return round(os.getloadavg()[0], 2)


def emulator_env(server: Any) -> dict[str, str]:
    """The environment of a command that builds against ``server`` (an
    :class:`bench.emulated.Emulator`)."""
    return environment({"RUNWARE_BASE_URL": server.base_url, "RUNWARE_API_KEY": server.api_key})


def emulator_stats(server: Any) -> dict[str, Any]:
    """The emulator's counters (``GET /_emulator/stats``, on loopback)."""
    url = server.base_url.removesuffix("/v1") + "/_emulator/stats"
    with urllib.request.urlopen(url, timeout=30) as answer:
        data: dict[str, Any] = json.loads(answer.read())
    return data


def requests_seen(server: Any) -> int:
    """Every request the emulator answered since it started or was reset: the POSTs to the
    API (by the HTTP status answered) and the downloads of its files."""
    stats = emulator_stats(server)
    return sum(int(n) for group in ("statuses", "downloads") for n in stats[group].values())
