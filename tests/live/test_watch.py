"""``storyboard watch``: a save (of the storyboard or of a file it includes) is built within
seconds and the open page is told; a broken save prints its error and the watcher goes on;
the paid backend only when named, with ``--max-cost``."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from storyboard.emulator.server import EmulatorServer
from tests.conftest import CliResult, tiny_jpeg

STORYBOARD = """\
storyboard: 1
title: Watched
include: [vars.yaml]   # the time of day
shots:
  - id: a
    duration: 3
    prompt: a harbour at {{ time }}
  - {id: b, start: a.last, duration: 3, prompt: gulls over the water}
"""


class Watcher:
    """``storyboard watch`` in a process of its own, its standard error read line by line."""

    def __init__(self, folder: Path, *args: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "storyboard", "watch", "film.yaml", *args], cwd=folder,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))

    def wait(self, pattern: str, timeout: float = 60.0) -> tuple[str, list[str]]:
        """The next line matching ``pattern`` and the lines before it (since the last wait)."""
        deadline = time.monotonic() + timeout
        before: list[str] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no line matching {pattern!r} in {left + timeout:.0f} s: {before}"
                )
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(line)
            if re.search(pattern, line):
                return line, before
            before.append(line)

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        return self.process.returncode, "\n".join(rest)


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Callable[..., Watcher]]:
    started: list[Watcher] = []
    (tmp_path / ".storyboard").mkdir()
    (tmp_path / "film.yaml").write_text(STORYBOARD)
    (tmp_path / "vars.yaml").write_text("vars:\n  time: dawn\n")

    def start(*args: str, **env: str) -> Watcher:
        watcher = Watcher(tmp_path, *args, env={**os.environ, **env})
        started.append(watcher)
        return watcher

    yield start
    for watcher in started:
        if watcher.process.poll() is None:
            watcher.process.kill()
            watcher.process.wait()


def test_every_save_is_built_within_seconds_and_a_broken_one_does_not_stop_it(
    watched: Callable[..., Watcher], tmp_path: Path
) -> None:
    # a key in the environment: watch still builds the free previews unless runware is named
    watcher = watched("--preview-scale", "0.1", RUNWARE_API_KEY="a-key",
                      RUNWARE_BASE_URL="http://127.0.0.1:9/v1")  # fmt: skip
    first, _ = watcher.wait(r"storyboard: watching film\.yaml")
    url = re.search(r"http://127\.0\.0\.1:\d+/[\w-]+/", first)  # with its token
    assert url is not None, first
    watcher.wait(r"^built in [\d.]+ s; film: build/film/preview/film\.mp4$")
    takes = tmp_path / "build" / "film" / "preview" / "takes"
    made = (takes / "a.mp4").read_bytes()
    assert not (tmp_path / "build" / "film" / "runware").exists()
    page = httpx.get(url.group(0))
    assert page.status_code == 200 and "<title>Watched · storyboard report</title>" in page.text
    since = re.search(r'data-since="(\d+)"', page.text)
    assert since is not None
    assert httpx.get(url.group(0), headers={"Host": "evil.example"}).status_code == 403
    # without its token, the address serves nothing (another user of this machine)
    bare = url.group(0).rsplit("/", 2)[0] + "/"
    assert httpx.get(bare).status_code == 403
    assert httpx.get(bare + "takes/a.mp4").status_code == 403
    assert httpx.get(url.group(0) + "takes/a.mp4").status_code == 200
    # the open page is told when the next build finishes (server-sent events)
    told: list[str] = []

    def listen() -> None:
        with httpx.stream("GET", f"{url.group(0)}__storyboard/events?since={since.group(1)}",
                          timeout=60) as events:  # fmt: skip
            for line in events.iter_lines():
                if line.startswith("event:"):
                    told.append(line)
                    return

    listener = threading.Thread(target=listen)
    listener.start()
    # 1. a save of the storyboard
    saved = time.monotonic()
    (tmp_path / "film.yaml").write_text(STORYBOARD.replace("gulls over", "terns over"))
    watcher.wait(r"film\.yaml changed: checking", timeout=30)
    watcher.wait(r"^built in", timeout=30)
    seconds = time.monotonic() - saved
    listener.join(timeout=10)
    assert told == ["event: build"]
    assert seconds < 25, seconds  # seen at once, not at a poll (loose: a loaded machine)
    print(f"a save of the storyboard was built {seconds:.1f} s later")
    # 2. a save of the file it includes: a's prompt changed, so a is made again
    (tmp_path / "vars.yaml").write_text("vars:\n  time: dusk\n")
    _, lines = watcher.wait(r"^built in", timeout=30)
    assert any("vars.yaml changed: checking" in line for line in lines), lines
    assert "a: generating" in "\n".join(lines)
    assert (takes / "a.mp4").read_bytes() != made
    # 3. a broken save: its errors, and the watcher goes on (saved whole, as an editor does:
    # with write_text the watcher can read the file between its truncation and its write)
    saved = tmp_path / ".film.yaml.saving"
    saved.write_text(STORYBOARD.replace("duration: 3\n", "duration: 1\n"))
    os.replace(saved, tmp_path / "film.yaml")
    _, lines = watcher.wait(r"^1 error: not built; watching for the next save", timeout=30)
    assert "film.yaml:6:15: error: shot 'a' is 1 s; a request must be 3..15 s" in lines
    assert watcher.process.poll() is None
    broken = httpx.get(url.group(0)).text  # the page shows the errors over the last build
    assert "shot &#39;a&#39; is 1 s" in broken and "storyboard-errors" in broken
    # 4. mended: built again
    (tmp_path / "film.yaml").write_text(STORYBOARD)
    watcher.wait(r"^built in", timeout=30)
    status, rest = watcher.stop()
    assert status == 0 and "storyboard: watch stopped" in rest


def test_a_save_of_a_template_or_of_an_asset_is_built_too(
    watched: Callable[..., Watcher], tmp_path: Path
) -> None:
    """The other inputs a build reads: a prompt template it includes (in a folder of its own)
    and a local image a shot starts on."""
    (tmp_path / "styles").mkdir()
    (tmp_path / "styles" / "look.j2").write_text("in soft morning light")
    (tmp_path / "first.jpg").write_bytes(tiny_jpeg())
    (tmp_path / "film.yaml").write_text(
        "storyboard: 1\ntitle: Watched\nshots:\n"
        "  - {id: a, duration: 3, prompt: 'a harbour {% include \"styles/look.j2\" %}'}\n"
        "  - {id: b, start: first.jpg, duration: 3, prompt: gulls over the water}\n"
    )
    watcher = watched("--preview-scale", "0.1", "--no-serve")
    watcher.wait(r"^built in", timeout=60)
    takes = tmp_path / "build" / "film" / "preview" / "takes"
    made = {take: (takes / f"{take}.mp4").read_bytes() for take in "ab"}
    # the template: a's prompt changes, b's does not
    (tmp_path / "styles" / "look.j2").write_text("in hard noon light")
    _, lines = watcher.wait(r"^built in", timeout=30)
    assert any("styles/look.j2 changed: checking" in line for line in lines), lines
    assert (takes / "a.mp4").read_bytes() != made["a"]
    assert (takes / "b.mp4").read_bytes() == made["b"]
    # the image b starts on, saved over by an image editor: b is made again
    (tmp_path / "first.jpg").write_bytes(tiny_jpeg(color=(200, 120, 40)))
    _, lines = watcher.wait(r"^built in", timeout=30)
    assert any("first.jpg changed: checking" in line for line in lines), lines
    assert "b: generating" in "\n".join(lines)
    assert (takes / "b.mp4").read_bytes() != made["b"]
    status, _ = watcher.stop()
    assert status == 0


def test_a_template_written_where_a_prompt_looked_for_one_is_built(
    watched: Callable[..., Watcher], tmp_path: Path
) -> None:
    """A prompt that includes a template if it is there (`ignore missing`): writing the file
    later is a change of the film's inputs like any save."""
    (tmp_path / "film.yaml").write_text(
        "storyboard: 1\ntitle: Watched\nshots:\n"
        "  - {id: a, duration: 3, prompt: 'a harbour {% include \"look.j2\" ignore missing %}'}\n"
    )
    watcher = watched("--preview-scale", "0.1", "--no-serve")
    watcher.wait(r"^built in", timeout=60)
    take = tmp_path / "build" / "film" / "preview" / "takes" / "a.mp4"
    made = take.read_bytes()
    (tmp_path / "look.j2").write_text("in soft morning light")
    _, lines = watcher.wait(r"^built in", timeout=30)
    assert any("look.j2 changed: checking" in line for line in lines), lines
    assert take.read_bytes() != made
    status, _ = watcher.stop()
    assert status == 0


def test_ctrl_c_during_a_build_stops_the_watch_with_status_0(tmp_path: Path) -> None:
    """Ctrl-C while the watch is building: it says so and exits 0, every time. It ended by
    SIGINT (status -2) about 1 run in 4 (a KeyboardInterrupt CPython took for unhandled at
    exit; here, with Ctrl-C 50 ms after the watch began, 3 runs of this test in 3 failed
    without the fix, 0 in 10 with it). Ctrl-C lost in a weakref callback, or ending as another
    exception, is tests/cli/test_interrupt.py's."""
    (tmp_path / ".storyboard").mkdir()
    (tmp_path / "film.yaml").write_text(
        "storyboard: 1\ntitle: Stopped\nshots:\n"
        "  - {id: a, duration: 3, prompt: a harbour at dawn}\n"
        "  - {id: b, duration: 3, prompt: gulls over the water}\n"
    )
    for _ in range(6):
        watcher = Watcher(tmp_path, "--preview-scale", "0.1", "--no-serve", env=dict(os.environ))
        watcher.wait(r"watching film.yaml", timeout=60)
        time.sleep(0.05)  # in its first build
        status, rest = watcher.stop()
        # a string, shown whole (a tuple's repr is cut short: CI once showed 3 and a traceback
        # cut after its first line)
        assert status == 0, f"status {status}; seen {watcher.seen}; then:\n{rest}"
        if "storyboard: watch stopped" not in rest.splitlines():  # (still in the pipe)
            watcher.wait(r"^storyboard: watch stopped$", timeout=30)
        shutil.rmtree(tmp_path / "build", ignore_errors=True)  # the next one builds again


def test_the_paid_backend_builds_within_its_budget_on_every_save(
    watched: Callable[..., Watcher], tmp_path: Path, emulator: EmulatorServer
) -> None:
    """``--backend runware --max-cost``: each build is held to the budget (over loopback,
    against the emulator): a save that would cost more sends nothing, and the watch goes on."""
    watcher = watched(
        "--backend", "runware", "--max-cost", "0.5", "--no-serve",
        RUNWARE_API_KEY=emulator.api_key, RUNWARE_BASE_URL=emulator.base_url,
    )  # fmt: skip
    _, lines = watcher.wait(r"not built; watching for the next save", timeout=60)
    assert any("over --max-cost $0.5000; nothing was sent" in line for line in lines), lines
    assert [e for e in emulator.ledger() if not e.dry_run and e.cost > 0] == []
    # one shot of 3 s is within the budget: built and paid for once
    (tmp_path / "film.yaml").write_text(STORYBOARD.split("  - {id: b")[0])
    watcher.wait(r"^built in", timeout=60)
    billed = [e for e in emulator.ledger() if not e.dry_run and e.cost > 0]
    assert len(billed) == 1 and billed[0].cost <= 0.5, billed
    assert not (tmp_path / "build" / "film" / "preview").exists()
    status, _ = watcher.stop()
    assert status == 0


def test_the_paid_backend_must_be_named_and_given_a_budget(
    run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    (tmp_path / ".storyboard").mkdir()
    (tmp_path / "film.yaml").write_text(STORYBOARD)
    (tmp_path / "vars.yaml").write_text("vars:\n  time: dawn\n")
    result = run_cli("watch", "film.yaml", "--backend", "runware", cwd=tmp_path)
    assert result.status == 2
    assert "--backend runware: every save may pay for the takes it changes; give --max-cost" \
        in result.err  # fmt: skip
    assert not (tmp_path / "build").exists()
    for budget in ("-1", "nan"):  # NaN was let through: the watch ran, each build refused
        refused = subprocess.run(  # in a process of its own: a watch let through never ends
            [sys.executable, "-m", "storyboard", "watch", "film.yaml", "--backend", "runware",
             "--max-cost", budget, "--no-serve"], cwd=tmp_path, capture_output=True, text=True,
            timeout=60,
            env={**os.environ, "RUNWARE_API_KEY": "k", "RUNWARE_BASE_URL": "http://127.0.0.1:9/v1"},
        )  # fmt: skip
        assert refused.returncode == 2, (budget, refused.stderr)
        assert "--max-cost must be 0 or more" in refused.stderr
    assert not (tmp_path / "build").exists()
    result = run_cli("watch", "missing.yaml", cwd=tmp_path)
    assert result.status == 2 and "missing.yaml: no such storyboard file" in result.err
