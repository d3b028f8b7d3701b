"""What a command imports: `storyboard check` of a one-shot storyboard must not pay for the
media libraries (PyAV, Pillow, numpy, moviepy) or networkx, which only building uses. Each
case runs in a fresh interpreter, so that nothing the test session imported counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "examples" / "seed"
HEAVY = ("av", "PIL", "numpy", "networkx", "moviepy", "httpx", "ssl")
ONE_SHOT_CHECK = ("check", "-q", str(SEED / "orbital-greenhouse-ballet.yaml"))

PROBE = """
import json, sys
from storyboard.cli.main import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def probed(probe: str, *argv: str, cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """What ``probe`` (a program that runs ``main(sys.argv[1:])`` and prints JSON last) says of
    the command line ``argv``, run in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


def imported(*argv: str, cwd: Path) -> tuple[int, set[str]]:
    found = probed(PROBE, *argv, cwd=cwd)
    return found["status"], set(found["modules"])


@pytest.mark.parametrize(
    "name", ["orbital-greenhouse-ballet.yaml", "subway-busker-time-shift.yaml"]
)
def test_check_of_a_one_shot_storyboard_imports_no_media_library(tmp_path: Path, name: str) -> None:
    status, modules = imported("check", "-q", str(SEED / name), cwd=tmp_path)
    assert status == 0
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


def test_check_of_a_plain_storyboard_does_not_import_jinja(tmp_path: Path) -> None:
    """A storyboard whose prompts hold no template syntax renders them without Jinja."""
    status, modules = imported(
        "check", "-q", str(SEED / "orbital-greenhouse-ballet.yaml"), cwd=tmp_path
    )
    assert status == 0
    assert "jinja2" not in modules


PLUGINS_PROBE = """
import json, sys
from storyboard.cli.main import main
status = main(sys.argv[1:])
metadata = "importlib.metadata" in sys.modules
from pydantic.plugin import _loader
print(json.dumps({"status": status, "looked": _loader._plugins is not None or metadata}))
"""


@pytest.mark.parametrize(("setting", "looked"), [(None, False), ("", True)])
def test_check_does_not_look_for_pydantic_plugins_unless_the_user_asks(
    tmp_path: Path, setting: str | None, looked: bool
) -> None:
    """pydantic looks for plugins among every installed distribution's entry points the first
    time it makes a validator; the command skips that (PYDANTIC_DISABLE_PLUGINS), and does not
    even import the loader, which imports ``importlib.metadata``; unless the variable is
    already set (here to "", which lets pydantic look)."""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if setting is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = setting
    found = probed(PLUGINS_PROBE, *ONE_SHOT_CHECK, cwd=tmp_path, env=env)
    assert found == {"status": 0, "looked": looked}


VALIDATORS_PROBE = """
import json, sys
import pydantic
from storyboard.cli.main import main
from storyboard.language import model
status = main(sys.argv[1:])
built = sorted(
    name for name, value in vars(model).items()
    if isinstance(value, type) and issubclass(value, pydantic.BaseModel)
    and value.__module__ == model.__name__ and value.__pydantic_complete__
)
print(json.dumps({"status": status, "built": built}))
"""


@pytest.mark.parametrize(
    "name", ["orbital-greenhouse-ballet.yaml", "subway-busker-time-shift.yaml"]
)
def test_check_builds_the_validator_of_the_storyboard_model_only(tmp_path: Path, name: str) -> None:
    """Building a model's validator costs about 2 ms; the Storyboard's holds every other
    model's, so a check builds that one and no other (defaults made without one)."""
    found = probed(VALIDATORS_PROBE, "check", "-q", str(SEED / name), cwd=tmp_path)
    assert found == {"status": 0, "built": ["Storyboard"]}


FULL_PROBE = PROBE.replace("m.split('.')[0] for m in sys.modules", "m for m in sys.modules")
FULL_PROBE = FULL_PROBE.replace('m.split(".")[0] for m in sys.modules', "m for m in sys.modules")
#: What only a build with something to do uses: a no-op build must not import it.
NOT_FOR_A_NO_OP = (
    "storyboard.build.execute", "storyboard.build.keep", "storyboard.build.state.lockfile",
    "storyboard.build.state.journal", "storyboard.build.finish", "tomllib", "asyncio",
    "av", "PIL", "numpy", "moviepy", "httpx", "ssl",
)  # fmt: skip


def test_a_no_op_build_imports_only_what_it_uses(tmp_path: Path) -> None:
    (tmp_path / ".storyboard").mkdir()
    film = tmp_path / "film.yaml"
    film.write_text((SEED / "orbital-greenhouse-ballet.yaml").read_text(encoding="utf-8"))
    then = time.time() - 60  # written well before the checks began (not 'racy')
    os.utime(film, (then, then))
    argv = ("build", "--backend", "preview", "--preview-scale", "0.05", str(film))
    for _ in range(2):  # the first makes the take, the second leaves the note
        done = subprocess.run(
            [sys.executable, "-m", "storyboard", *argv], cwd=tmp_path, capture_output=True
        )
        assert done.returncode == 0, done.stderr
    modules = set(probed(FULL_PROBE, *argv, cwd=tmp_path)["modules"])
    assert "storyboard.build.noop" in modules  # it did build: nothing to do
    assert modules.isdisjoint(NOT_FOR_A_NO_OP), sorted(modules & set(NOT_FOR_A_NO_OP))
    # the storyboard's inputs are as they were: it is not even checked, and neither the
    # compiler nor the language's models (pydantic) are imported
    unread = ("storyboard.build.pipeline", "storyboard.compiler.compile",
              "storyboard.language.model", "pydantic", "ruamel.yaml", "jinja2")  # fmt: skip
    assert modules.isdisjoint(unread), sorted(modules & set(unread))


STAND_IN_PROBE = """
import json, sys
from storyboard.cli.main import main
status = main(sys.argv[1:])
stood_in = not hasattr(sys.modules["pydantic.plugin._loader"], "__file__")
from pydantic.plugin._loader import PYDANTIC_ENTRY_POINT_GROUP, get_plugins
real = hasattr(sys.modules["pydantic.plugin._loader"], "__file__")
print(json.dumps({"status": status, "stood_in": stood_in, "real": real,
                  "group": PYDANTIC_ENTRY_POINT_GROUP, "plugins": list(get_plugins())}))
"""


def test_the_plugin_loader_stand_in_hands_any_other_name_to_the_real_one(tmp_path: Path) -> None:
    """The command's stand-in for pydantic's plugin loader answers ``get_plugins()`` (no
    plugins); a name it does not have (one a newer pydantic might ask for) comes from the real
    loader, imported then, so the stand-in can never break pydantic."""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    found = probed(STAND_IN_PROBE, *ONE_SHOT_CHECK, cwd=tmp_path, env=env)
    assert found == {"status": 0, "stood_in": True, "real": True, "group": "pydantic",
                     "plugins": []}  # fmt: skip


#: What a check of a one-shot storyboard has no use for, each a few ms of its start:
#: argparse's formatter imports shutil (with bz2 and lzma) for the terminal's width, and the
#: fonts' lookup importlib.resources (with tempfile and zipfile), where no font is read.
NOT_FOR_A_CHECK = ("shutil", "lzma", "importlib.resources", "importlib.metadata", "tempfile")


def test_check_of_a_one_shot_storyboard_imports_no_stdlib_it_does_not_use(tmp_path: Path) -> None:
    modules = set(probed(FULL_PROBE, *ONE_SHOT_CHECK, cwd=tmp_path)["modules"])
    assert modules.isdisjoint(NOT_FOR_A_CHECK), sorted(modules & set(NOT_FOR_A_CHECK))


def test_help_is_as_wide_as_the_terminal_says(tmp_path: Path) -> None:
    """The width argparse would have read with shutil: COLUMNS, less two."""
    lines = []
    for columns in ("44", "150"):
        done = subprocess.run(
            [sys.executable, "-m", "storyboard", "build", "--help"], cwd=tmp_path,
            env={**os.environ, "COLUMNS": columns}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        lines.append([len(line) for line in done.stdout.splitlines()])
    narrow, wide = lines
    # at 44 the help wraps at 42 (but for an option's name longer than that)
    assert sum(width > 42 for width in narrow) <= 3, narrow
    assert 100 < max(wide) <= 148


RECORDS_PROBE = """
import dataclasses, json, sys
from storyboard.cli.main import main
status = main(sys.argv[1:])
made = sorted(
    f"{name}.{key}" for name, module in list(sys.modules.items()) if name.startswith("storyboard")
    for key, value in vars(module).items()
    if isinstance(value, type) and value.__module__ == name and dataclasses.is_dataclass(value)
)
print(json.dumps({"status": status, "dataclasses": made}))
"""


@pytest.mark.parametrize("control_flow", [False, True])
def test_a_check_makes_no_dataclass(tmp_path: Path, control_flow: bool) -> None:
    """Python 3.11 compiles each method a dataclass generates, one by one: about 0.6 ms a class,
    and the check's 34 record classes were about 20 ms of its start. They are msgspec
    ``Struct``s, made without generating code; a check, with or without control-flow prompts
    (``storyboard.language.prompts``), makes no dataclass of storyboard's own."""
    film = tmp_path / "film.yaml"
    prompt = "a boat"
    if control_flow:
        prompt = "{% if shot.index %}a lighthouse{% else %}a boat{% endif %}"
    film.write_text(
        f"storyboard: 1\ntitle: t\nshots:\n  - {{id: a, prompt: '{prompt}', duration: 5}}\n",
        encoding="utf-8",
    )
    found = probed(RECORDS_PROBE, "check", "-q", str(film), cwd=tmp_path)
    assert found == {"status": 0, "dataclasses": []}
