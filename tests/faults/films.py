"""Films the fault tests build, and how to read the emulator's ledger take by take.

Every prompt starts with its take's tag (``[s07]``), so a ledger entry can be traced back to
the take it paid for through the request the emulator kept.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from storyboard.emulator.core import key_id
from storyboard.emulator.server import EmulatorServer
from tests.conftest import tiny_jpeg

_TAG = re.compile(r"\[([a-z0-9-]+)\]")


def film(takes: int) -> str:
    """A storyboard of at least ``takes`` takes, of every kind the compiler makes.

    Blocks of five takes cycle through: a text-to-video shot with an element; a shot that
    starts on a picture; a two-shot chain (the second starts on the first's exact last
    frame: two takes); an edit of the block's first shot. Every fourth block adds a
    multi-shot take. Remaining takes are plain shots.
    """
    lines = [
        "storyboard: 1",
        "title: Fault film",
        "defaults: {duration: 3}",
        "elements:",
        "  hero: {frontal_image: hero.jpg, description: a hero in a red coat, tags: [Character]}",
        "shots:",
    ]
    count = 0
    block = 0
    while count + 5 <= takes:
        b = f"b{block:02d}"
        lines += [
            f"  - {{id: {b}-wide, prompt: '[{b}-wide] <<<hero>>> on a cliff, block {block}'}}",
            f"  - {{id: {b}-pic, start: hero.jpg, prompt: '[{b}-pic] the picture comes alive'}}",
            f"  - sequence: {b}-walk",
            "    continuity: chain",
            "    shots:",
            f"      - {{id: {b}-step1, prompt: '[{b}-step1] the hero walks'}}",
            f"      - {{id: {b}-step2, prompt: '[{b}-step2] the hero keeps walking'}}",
            f"  - {{id: {b}-paint, edit: {b}-wide, prompt: '[{b}-paint] restyle as a painting'}}",
        ]
        count += 5
        if block % 4 == 3 and count < takes:
            lines += [
                f"  - sequence: {b}-duo",
                "    continuity: multishot",
                "    shots:",
                f"      - {{id: {b}-duo1, duration: 2, prompt: '[{b}-duo] a door opens'}}",
                f"      - {{id: {b}-duo2, duration: 2, prompt: 'a door closes'}}",
            ]
            count += 1
        block += 1
    while count < takes:
        lines.append(f"  - {{id: x{count:02d}, prompt: '[x{count:02d}] an empty street, take'}}")
        count += 1
    return "\n".join(lines) + "\n"


def film_files(takes: int, name: str = "film.yaml") -> dict[str, str | bytes]:
    """The files of a project holding :func:`film` (``takes`` takes) as ``name``."""
    return {name: film(takes), "hero.jpg": tiny_jpeg(640, 360)}


def take_of_task(task: dict[str, object]) -> str:
    """The tag of the take a videoInference task was sent for."""
    found = _TAG.search(json.dumps([task.get("positivePrompt"), task.get("providerSettings")]))
    return found.group(1) if found else "?"


def billed_per_take(emulator: EmulatorServer, api_key: str | None = None) -> Counter[str]:
    """How many jobs the emulator charged for (cost > 0), by take tag."""
    owner = key_id(api_key or emulator.api_key)
    counts: Counter[str] = Counter()
    for entry in emulator.ledger():
        if entry.dry_run or entry.cost <= 0:
            continue
        job = emulator.emulator.find_job(owner, entry.task_uuid, retained=False)
        counts[take_of_task(job.request.task) if job is not None else "?"] += 1
    return counts


def double_charges(emulator: EmulatorServer, api_key: str | None = None) -> int:
    """Takes charged more than once (a take's paid jobs beyond the first, summed)."""
    return sum(n - 1 for n in billed_per_take(emulator, api_key).values() if n > 1)


def locked_hashes(lockfile: Path) -> dict[str, list[str]]:
    """Each locked take's media sha256s."""
    from tests.conftest import read_lock

    return {k: [r["sha256"] for r in v["results"]] for k, v in read_lock(lockfile).items()}
