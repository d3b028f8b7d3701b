"""Money safety through the command line (issue 13, items 5 and 6), over loopback only.

- A closed port: nothing is sent, the build says so in words (check ``RUNWARE_BASE_URL``, the
  network) within seconds, the journal says ``unsent``, and the next plan says ``generate``.
- A prompt the content policy refuses, against the emulator: the build points at the prompt
  (``FILE:LINE:COL``, the shot id), says to change it, and never says to run it again as it
  is; a multi-shot take's refused segment is found by its ``multiPrompt`` index.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from storyboard.build.state.journal import read_pending
from storyboard.emulator.server import EmulatorServer
from tests.conftest import CliResult, tiny_jpeg

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]

TWO = """\
storyboard: 1
title: Closed
shots:
  - {id: words, duration: 3, prompt: a harbour at dawn}
  - {id: picture, start: still.jpg, duration: 3, prompt: the harbour from the quay}
"""


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed: connecting is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_closed_port_is_not_sent_and_says_what_to_check(
    project: Project, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project({"film.yaml": TWO, "still.jpg": tiny_jpeg(640, 360)})
    url = f"http://127.0.0.1:{closed_port()}/v1"
    monkeypatch.setenv("RUNWARE_API_KEY", "a-key-for-a-closed-port")
    monkeypatch.setenv("RUNWARE_BASE_URL", url)
    started = time.monotonic()
    result = run_cli("build", "film.yaml", "--keep-going", cwd=root)
    took = time.monotonic() - started
    assert result.status == 1, result.err
    # three quick attempts (1 s, 2 s apart), not six over 31-36 s
    assert took < 15, took
    err = result.err
    for take in ("words", "picture"):  # a submit refused, an upload refused
        line = next(x for x in err.splitlines() if x.startswith(f"{take}: FAILED: "))
        assert f"cannot connect to {url}" in line and "nothing was sent" in line, line
        assert f"Check that RUNWARE_BASE_URL ({url}) names the right server" in line, line
    assert "resumed=True" not in err and "may have been accepted" not in err
    assert "may have reached" not in err
    namespace = f"runware@127.0.0.1:{url.split(':')[2].split('/')[0]}"
    pending = read_pending(root / ".storyboard" / "journal" / "film.jsonl", backend=namespace)
    assert sorted((p.take, p.state) for p in pending.values()) == [
        ("picture", "unsent"),
        ("words", "unsent"),
    ]
    plan = run_cli("plan", "film.yaml", cwd=root)
    assert plan.status == 0, plan.err
    assert "resume" not in plan.out
    assert plan.out.count("generate (not sent: a build could not reach the provider") == 2
    document = json.loads(run_cli("plan", "film.yaml", "--json", cwd=root).out)
    assert [t["status"] for t in document["takes"]] == ["generate", "generate"]
    assert document["chargeable"] == document["total"] == pytest.approx(6 * 0.112)


REFUSED = """\
storyboard: 1
title: Refused
shots:
  - {id: calm, duration: 3, prompt: a calm sea at dawn}
  - sequence: storm
    continuity: multishot
    shots:
      - {id: wave, duration: 2, prompt: a wave rises}
      - {id: crash, duration: 2, prompt: the wave crashes on the rocks}
"""


def where(text: str, value: str) -> str:
    """``film.yaml:LINE:COL`` of ``value`` in ``text``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if value in line:
            return f"film.yaml:{number}:{line.index(value) + 1}"
    raise AssertionError(value)


@pytest.fixture
def refused_film(
    project: Project, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("RUNWARE_API_KEY", emulator.api_key)
    monkeypatch.setenv("RUNWARE_BASE_URL", emulator.base_url)
    return project({"film.yaml": REFUSED})


def test_a_refused_prompt_is_pointed_at_and_to_be_changed(
    refused_film: Path, run_cli: Run, emulator: EmulatorServer
) -> None:
    emulator.set_faults("moderation*1")  # the first job: calm's, with -j 1
    result = run_cli("build", "film.yaml", "-j", "1", "--keep-going", "--json", cwd=refused_film)
    assert result.status == 1, result.err
    position = where(REFUSED, "a calm sea at dawn")
    expected = (
        f"{position}: error: take 'calm': the prompt of shot 'calm' was refused by Runware's "
        "content policy: change the prompt, then build again (sent unchanged, it would be "
        "refused again). Runware said: Runware generation failed for task "
    )
    assert any(line.startswith(expected) for line in result.err.splitlines()), result.err
    assert "providerContentPolicyViolation" in result.err
    failed = next(x for x in result.err.splitlines() if x.startswith("calm: FAILED: "))
    assert failed.startswith(f"calm: FAILED: the prompt of shot 'calm' ({position}) was refused")
    # never "run it again" as it is: it would be sent unchanged, and refused again
    assert "again to resume" not in result.err
    assert "change what was refused for calm (above), then run `storyboard build" in result.err
    takes = {t["id"]: t for t in json.loads(result.out)["takes"]}
    assert takes["calm"]["status"] == "failed" and takes["calm"]["position"] == position
    assert takes["storm"]["status"] == "generated" and takes["storm"]["position"] is None
    # the refused job was not billed; the journal lets the changed prompt go as a new task
    billed = [e for e in emulator.ledger() if not e.dry_run and e.cost > 0]
    assert len(billed) == 1
    plan = json.loads(run_cli("plan", "film.yaml", "--json", cwd=refused_film).out)
    assert [(t["id"], t["status"]) for t in plan["takes"]] == [
        ("calm", "generate"),
        ("storm", "cached"),
    ]


def test_a_refused_segment_of_a_multishot_take_is_found_by_its_index(
    refused_film: Path, run_cli: Run, emulator: EmulatorServer
) -> None:
    emulator.set_faults("moderation*1:input=providerSettings.klingai.multiPrompt[1].prompt")
    result = run_cli("build", "film.yaml", "--select", "storm", cwd=refused_film)
    assert result.status == 1, result.err
    position = where(REFUSED, "the wave crashes on the rocks")
    assert (
        f"{position}: error: take 'storm': the prompt of shot 'crash' was refused by Runware's "
        "content policy: change the prompt"
    ) in result.err
    assert "again to resume" not in result.err
