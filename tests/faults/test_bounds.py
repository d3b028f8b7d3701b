"""Bound every input, before paying: hostile inputs to ``storyboard check``, each in its own
process with a memory cap and a time limit (issue 12, items 4 to 7).

Every input here crashed, hung, took gigabytes or got through before these bounds:

- nesting: 30,000 ``[`` (libyaml's composer overflowed its stack: SIGSEGV), flow mappings,
  compact block sequences, brackets hidden behind a quote inside a plain scalar, 990 and
  90 chained merge keys (a RecursionError traceback; the 90 slipped past the 64 levels);
- the template sandbox: ``['x'*99999]*99999`` (9.6 GB), loops inside ``{% set %}``,
  ``{% filter %}``, macros and ``{% call %}``, literal text in such a loop, a 500 KB text
  aliased many times (written, joined, looped over, repeated in the quick path), a long
  separator joined between lazily made items, a template too long to compile, a loop
  that takes its time, many templates included by one prompt;
- what the outputs need: a NUL or a bidirectional override in the title, a 300-byte film
  name, a control character in it, the music bed as a URL, half a surrogate pair;
- what is read: a FIFO (``check`` waited forever), ``/dev/zero`` (read until MemoryError),
  a folder.

Each must end with exit status 2 and only positioned ``FILE:LINE:COL: error:`` lines, one
of them saying why. Figures: inputs tried, clean positioned errors, crashes (a signal, exit
status 3, a traceback), hangs (over the time limit), got through (accepted, or refused for
another reason), the peak RSS of every input and of the worst, and of a valid storyboard
for comparison. The process may take at most 1 GiB of address space: what needs more
fails there (a crash) instead of slowing the machine down.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.faults.conftest import Figures, current_size

pytestmark = pytest.mark.skipif(not hasattr(os, "wait4"), reason="POSIX only (wait4, rlimits)")

DIAGNOSTIC = re.compile(r"^[^\s:][^:]*:\d+:\d+: error: (?P<message>.*)$")
COUNT = re.compile(r"^\d+ errors?$")
ADDRESS_SPACE = 1 << 30
"""The memory cap of each ``check`` (virtual memory; a valid check reserves about 180 MB)."""
SECONDS = 30.0
"""A ``check`` still running after this long hangs."""
PROMPT_BUDGET_MB = 64
"""docs/language.md: what one prompt may take, over what ``check`` takes anyway."""
PROCESS_MB = 512
"""The issue's bound for the whole process, on any input."""


@dataclass(frozen=True)
class Input:
    """Files to write (a name ending in ``/`` is a folder, ``|`` a FIFO), the arguments of
    ``storyboard check``, and a piece of the refusal expected (case-insensitive)."""

    name: str
    files: dict[str, str]
    refusal: str
    args: tuple[str, ...] = ("film.yaml",)
    full_only: bool = False


def board(prompt: str, top: str = "", shot: str = "", title: str = "Hostile") -> str:
    extra = f", {shot}" if shot else ""
    return (
        f"storyboard: 1\ntitle: {title}\n{top}"
        f"shots:\n  - {{id: wide, prompt: {json.dumps(prompt)}{extra}}}\n"
    )


def _vars(value: str) -> str:
    return board("a harbour", top=f"vars:\n  a: {value}\n")


def _merges(count: int) -> str:
    lines = ["vars:", "  m0: &m0 {x: 1}"]
    lines += [f"  m{i}: &m{i} {{<<: *m{i - 1}}}" for i in range(1, count)]
    return board("a harbour", top="\n".join(lines) + "\n")


LOOP = "{% for i in range(49000) %}{{ 'x' * 99999 }}{% endfor %}"
TEXT = "z" * 500_000
ALIASES = f"vars:\n  s: &s {TEXT}\n  l: [{', '.join(['*s'] * 30)}]\n"
# 9,901 tokens with its number: the most one template may have. It renders 2,200 characters,
# so that 40 of them stay under the 100,000 a prompt may render: what stops them is the time
# they take, the bound that input is about (40 templates of 12,100 characters reached the
# size bound first when the check ran fast enough)
INCLUDED = "{{a.b~a.b}}" * 1100
INCLUDES = {f"t/{i}.j2": INCLUDED + str(i) for i in range(40)}
# About 0.45 s a render here (0.6 s for a whole check of one such prompt), so that each stays
# under the 2 s a prompt may take on a machine up to 4x slower, renders 2..2,500 characters,
# and 100 of them need about 45 s: only the 10 s "in all" bound can stop them, on a machine up
# to 4x faster. (Prompts of the same structure compile once, so the cost has to be rendering:
# 60 prompts of 9,900 tokens each compiled once, and were then refused for their length.)
SLOW_PROMPT = (
    "{% set l = [1] * 20000 %}{% for i in range(2500) %}{% if 'z' in l %}{% endif %}{% endfor %}ok "
)

INPUTS = [
    # -- item 4: nesting --------------------------------------------------------------------
    Input("nesting: 30,000 [", {"film.yaml": _vars("[" * 30_000 + "]" * 30_000)}, "64 levels"),
    Input("nesting: 30,000 {a:", {"film.yaml": _vars("{a: " * 30_000 + "}" * 30_000)},
          "64 levels"),
    Input("nesting: 30,000 compact -",
          {"film.yaml": board("a harbour", top="vars:\n  a:\n  " + "- " * 30_000 + "x\n")},
          "64 levels"),
    Input("nesting: [ behind a quote",
          {"film.yaml": _vars('[a "b, ' + "[" * 30_000 + "]" * 30_000 + ' , c" d]')}, "64 levels"),
    Input("nesting: 990 merge keys", {"film.yaml": _merges(990)}, "each merge counts"),
    Input("nesting: 90 merge keys", {"film.yaml": _merges(90)}, "each merge counts"),
    # -- item 5: the template sandbox ---------------------------------------------------------
    Input("sandbox: ['x'*99999]*99999", {"film.yaml": board("a {{ ['x'*99999]*99999 }}")},
          "more than 100,000 characters"),
    Input("sandbox: ['x'*9999]*99999", {"film.yaml": board("a {{ ['x'*9999]*99999 }}")},
          "'*' would build"),
    Input("sandbox: loop in set",
          {"film.yaml": board("{% set s %}" + LOOP + "{% endset %}{{ s|length }}")}, "in all"),
    Input("sandbox: loop in filter",
          {"film.yaml": board("{% filter upper %}" + LOOP + "{% endfilter %}")}, "in all"),
    Input("sandbox: loop in macro",
          {"film.yaml": board("{% macro m() %}" + LOOP + "{% endmacro %}{{ m()|length }}")},
          "in all"),
    Input("sandbox: loop in call", {"film.yaml": board(
        "{% macro m() %}{{ caller()|length }}{% endmacro %}{% call m() %}" + LOOP
        + "{% endcall %}")}, "in all"),
    Input("sandbox: literal text in a loop", {"film.yaml": board(
        "{% set s %}{% for i in range(49000) %}" + "y" * 99_000 + "{% endfor %}{% endset %}")},
          "in all"),
    Input("sandbox: 500 KB aliased 10^4 times",
          {"film.yaml": board("a {{ l }}", top=ALIASES.replace("* 30", "").replace(
              ", ".join(["*s"] * 30), ", ".join(["*s"] * 10_000)))}, "characters of text"),
    Input("sandbox: aliases written", {"film.yaml": board("a {{ l }}", top=ALIASES)},
          "more than 100,000 characters"),
    Input("sandbox: aliases joined", {"film.yaml": board("a {{ l|join }}", top=ALIASES)},
          "more than 100,000 characters"),
    Input("sandbox: aliases looped over",
          {"film.yaml": board("{% for x in l %}{{ x }}{% endfor %}", top=ALIASES)},
          "more than 100,000 characters"),
    Input("sandbox: aliases in the quick path", {"film.yaml": board("{{ s }}" * 30, top=ALIASES)},
          "more than 100,000 characters"),
    Input("sandbox: long separator, lazy items", {"film.yaml": board(
        "a {{ range(90000)|map('string')|join('x' * 99999) }}")}, "'join'"),
    Input("sandbox: too long to compile",
          {"film.yaml": board("{{a.b~a}}" * 3000, top="vars:\n  a: {b: x}\n")}, "10,000 tokens"),
    Input("sandbox: a slow loop", {"film.yaml": board(
        "{% set l = [1] * 20000 %}{% for i in range(45000) %}{% if 'z' in l %}{% endif %}"
        "{% endfor %}ok")}, "more than 2 s"),
    Input("sandbox: 40 templates of 9,900 tokens included", {
        "film.yaml": board("".join(f"{{% include 't/{i}.j2' %}}" for i in range(40)),
                           top="vars:\n  a: {b: x}\n"), **INCLUDES}, "more than 2 s"),
    Input("sandbox: 100 prompts of a 0.5 s loop", {
        "film.yaml": "storyboard: 1\ntitle: t\nshots:\n" + "".join(
            f"  - {{id: s{i}, prompt: {json.dumps(SLOW_PROMPT + str(i))}}}\n" for i in range(100))},
          "in all", full_only=True),
    # -- item 6: what the outputs need ------------------------------------------------------
    Input("outputs: NUL in the title", {"film.yaml": board("a harbour", title='"t\\0"')},
          "title holds a control character"),
    Input("outputs: bidi override in the title",
          {"film.yaml": board("a harbour", title='"t\\u202egnp"')}, "bidirectional"),
    Input("outputs: 300-byte film name", {"film.yaml": board(
        "a harbour", top=f"output: {{file: {'x' * 296}.mp4}}\n")}, "300 bytes long"),
    Input("outputs: NUL in the film name",
          {"film.yaml": board("a harbour", top='output: {file: "a\\0.mp4"}\n')}, "U+0000"),
    Input("outputs: music bed as a URL", {"film.yaml": board(
        "a harbour", top="cut:\n  music: {file: 'https://example.com/a.mp3'}\n")}, "local audio"),
    Input("outputs: half a surrogate", {"film.yaml": _vars('"\\ud800"')}, "lone surrogate"),
    # -- item 7: what is read -----------------------------------------------------------------
    Input("read: a FIFO", {"pipe.yaml|": ""}, "a FIFO", args=("pipe.yaml",)),
    Input("read: /dev/zero", {}, "a character device", args=("/dev/zero",)),
    Input("read: a folder", {"folder/": ""}, "a folder", args=("folder",)),
    Input("read: an include that is a FIFO",
          {"film.yaml": board("a harbour", top="include: [cast.yaml]\n"), "cast.yaml|": ""},
          "a FIFO"),
]  # fmt: skip
VALID = board("A wide shot of a harbour at dawn, {{ look }}.", top="vars: {look: grey}\n")


@dataclass
class Outcome:
    status: int | None
    """Exit status, ``-N`` for signal N, ``None`` for a hang."""
    stderr: str
    peak_mb: float
    seconds: float


#: Runs ``storyboard`` with its address space capped at its second argument and, as it exits,
#: writes its own peak RSS (``VmHWM``, KiB) to the file descriptor its first argument names
#: (the pipe's end, kept open by ``pass_fds`` under its own number). ``ru_maxrss`` of a child
#: is no measure here: it starts at the RSS of the parent it was forked from (the test
#: process, 70-300 MB), which hid every input's own peak below it. The cap is set by the
#: child itself, not by a ``preexec_fn``: that runs Python in the forked child of a process
#: with threads, and a run of .ci/run (stop 31) saw two such children hang for ever before
#: their ``exec``: a garbage collection there freed a PyAV object of an earlier test, whose
#: destructor waited on a thread that did not exist in the child.
_REPORTING = """
import atexit, os, resource, sys
_fd = int(sys.argv.pop(1))
_cap = int(sys.argv.pop(1))
resource.setrlimit(resource.RLIMIT_AS, (_cap, _cap))
def _peak():
    try:
        status = open("/proc/self/status")
    except OSError:
        return
    with status:
        for line in status:
            if line.startswith("VmHWM:"):
                os.write(_fd, line.split()[1].encode())
atexit.register(_peak)
from storyboard.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def run_check(folder: Path, args: tuple[str, ...]) -> Outcome:
    """``storyboard check ARGS`` in ``folder``, in its own process, capped; its peak RSS."""
    read_end, write_end = os.pipe()
    with tempfile.TemporaryFile() as err:
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _REPORTING,
                    str(write_end),
                    str(ADDRESS_SPACE),
                    "check",
                    *args,
                ],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                pass_fds=(write_end,),
            )
        finally:
            os.close(write_end)
        status: int | None = None
        while True:
            pid, wait_status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status = os.waitstatus_to_exitcode(wait_status)
                break
            if time.monotonic() - started > SECONDS:
                proc.kill()
                _, _, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = status if status is not None else -9  # reaped here, not by Popen
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    with os.fdopen(read_end, "rb") as reported:
        peak_kib = reported.read().decode() or None
    if peak_kib is None:  # killed, crashed, or no /proc: the upper bound wait4 gives
        # A process that exited on its own on Linux reports its peak: without it, every
        # input would show the test process's RSS, and the memory bounds could not fail.
        assert not (sys.platform == "linux" and status in (0, 1, 2)), "no peak reported"
        scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # KiB on Linux
        return Outcome(status, text, usage.ru_maxrss / scale, time.monotonic() - started)
    return Outcome(status, text, int(peak_kib) / 1024, time.monotonic() - started)


def _write(folder: Path, files: dict[str, str]) -> None:
    (folder / ".storyboard").mkdir(parents=True)
    for name, text in files.items():
        path = folder / name.rstrip("/|")
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("/"):
            path.mkdir()
        elif name.endswith("|"):
            os.mkfifo(path)
        else:
            path.write_text(text, encoding="utf-8")


@dataclass
class Tally:
    tried: int = 0
    clean: int = 0
    crashes: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    through: list[str] = field(default_factory=list)
    peaks: dict[str, float] = field(default_factory=dict)

    def count(self, item: Input, outcome: Outcome) -> None:
        self.tried += 1
        self.peaks[item.name] = round(outcome.peak_mb, 1)
        lines = outcome.stderr.splitlines()
        messages = [m.group("message") for m in map(DIAGNOSTIC.match, lines) if m]
        shown = f"{item.name}: exit {outcome.status}: {outcome.stderr[-600:]}"
        if outcome.status is None:
            self.hangs.append(shown)
        elif outcome.status not in (0, 2) or "Traceback" in outcome.stderr:
            self.crashes.append(shown)
        elif (
            outcome.status == 2
            and all(DIAGNOSTIC.match(line) or COUNT.match(line) for line in lines)
            and any(item.refusal.lower() in m.lower() for m in messages)
        ):
            self.clean += 1
        else:
            self.through.append(shown)


def test_every_hostile_input_is_refused_cleanly_and_cheaply(
    tmp_path: Path, figures: Figures
) -> None:
    chosen = [i for i in INPUTS if current_size().name == "full" or not i.full_only]
    folders = []
    for number, item in enumerate(chosen):
        folder = tmp_path / f"input-{number}"
        _write(folder, item.files)
        folders.append(folder)
    _write(tmp_path / "valid", {"film.yaml": VALID})
    baseline = run_check(tmp_path / "valid", ("film.yaml",))
    assert baseline.status == 0, baseline.stderr

    tally = Tally()
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs: list[Callable[[], Outcome]] = [
            lambda f=folder, i=item: run_check(f, i.args)
            for folder, item in zip(folders, chosen, strict=True)
        ]
        for item, outcome in zip(chosen, pool.map(lambda run: run(), runs), strict=True):
            tally.count(item, outcome)

    worst = max(tally.peaks, key=lambda name: tally.peaks[name])
    figures.add("inputs tried", tally.tried)
    figures.add("clean positioned errors", tally.clean)
    figures.add("crashes", len(tally.crashes))
    figures.add("hangs", len(tally.hangs))
    figures.add("got through", len(tally.through))
    figures.add("peak RSS of the worst input (MB)", tally.peaks[worst])
    figures.add("worst input", worst)
    figures.add("peak RSS of a valid check (MB)", round(baseline.peak_mb, 1))
    figures.add("peak RSS by input (MB)", tally.peaks)
    problems = tally.crashes + tally.hangs + tally.through
    assert not problems, "\n\n".join(problems)
    assert tally.clean == len(chosen)
    assert tally.peaks[worst] <= PROCESS_MB
    one_prompt = {n: mb for n, mb in tally.peaks.items() if "100 prompts" not in n}
    over = {n: mb for n, mb in one_prompt.items() if mb - baseline.peak_mb > PROMPT_BUDGET_MB}
    assert not over, f"over {PROMPT_BUDGET_MB} MB above a valid check ({baseline.peak_mb:.0f})"
