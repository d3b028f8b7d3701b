"""What ``storyboard plan`` prices is what the emulator bills, and ``--max-cost`` holds.

An audit of the plan's price of each take against the emulator's charge for the request the
build actually sends (its ledger, per task), and of the budget gate, over loopback. Each case
failed before its fix:

- ``provider: {sound: ...}`` (a shot's or ``defaults``') is sent over ``sound``: the plan
  priced ``sound`` (a take billed 0.14/s priced 0.112/s, one billed silent priced with sound);
- an edit of an edit (of a local video, of a shot's segment) was priced "unknown": the plan's
  total left it out and ``--max-cost`` refused the build as "an edit of a remote video";
- an edit of a kept take (``keep: true``) whose current request is shorter than the result
  it keeps was priced on the request, and billed on the (longer) kept video it sends:
  ``--max-cost`` let it spend more than it allowed, and the build refused the paid answer as
  costing more than 3 times the estimate (paid for, never used, refused again by every build);
- ``--max-cost nan`` let every build through (no estimate is over NaN);
- a build that waited for another (``--wait``, and ``storyboard watch``) checked its budget
  on a plan made before the wait: a task the other build had sent counted as no new charge,
  then failed there, and this build paid for it anew over ``--max-cost 0``.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest

from storyboard.backends.namespaces import namespace
from storyboard.build.pipeline import build
from storyboard.build.state.journal import read_pending
from storyboard.core.errors import BuildError
from storyboard.emulator.server import EmulatorServer
from tests.conftest import CliResult, read_lock
from tests.e2e.runner import fast_backend

Project = Callable[[dict[str, str | bytes]], Path]
Run = Callable[..., CliResult]


def make_video(path: Path, seconds: float, fps: int) -> None:
    """A 720p video of ``seconds`` at ``fps`` (the model edits 720p and up, 24..60 fps)."""
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi",
            "-i", f"color=c=gray:s=1280x720:d={seconds}:r={fps}", "-c:v", "libx264", "-y",
            str(path),
        ],
        check=True,
    )  # fmt: skip


def plan_json(run_cli: Run, root: Path, *args: str) -> dict[str, Any]:
    planned = run_cli("plan", "film.yaml", "--json", *args, cwd=root)
    assert planned.status == 0, planned.err
    document: dict[str, Any] = json.loads(planned.out)
    return document


def charged(emulator: EmulatorServer, root: Path) -> dict[str, float]:
    """What the emulator charged for each take of the lock file, by take id."""
    costs = {e.task_uuid: e.cost for e in emulator.ledger() if not e.dry_run}
    lock = read_lock(root / "film.lock")
    return {take: costs[entry["task_uuid"]] for take, entry in lock.items()}


def built(root: Path, **options: Any) -> Any:
    return build(root / "film.yaml", backend=fast_backend(), film_scale=1 / 12, **options)


# -- the price of a take ----------------------------------------------------------------------

PROVIDER = """\
storyboard: 1
title: Provider sound
defaults: {provider: {sound: true}}
shots:
  - {id: a, duration: 3, prompt: a harbour at dawn}
  - {id: b, duration: 4, sound: true, provider: {sound: false}, prompt: a quay at noon}
"""


def test_provider_sound_is_priced_as_it_is_sent(
    project: Project, paid: EmulatorServer, run_cli: Run
) -> None:
    root = project({"film.yaml": PROVIDER})
    plan = plan_json(run_cli, root)
    costs = {t["id"]: t["cost"] for t in plan["takes"]}
    assert costs == {"a": 0.42, "b": 0.448}  # 3 s with sound, 4 s silent: as sent
    result = built(root)
    assert result.ok
    assert charged(paid, root) == costs
    assert plan["total"] == plan["chargeable"] == paid.total_cost() == result.spent == 0.868


EDITS = """\
storyboard: 1
title: Edits of edits
shots:
  - sequence: s
    continuity: multishot
    shots:
      - {id: w, duration: 3, prompt: a wide shot of the harbour}
      - {id: x, duration: 4, prompt: a close shot of the nets}
  - {id: e1, edit: x, prompt: restyle as a painting}
  - {id: e2, edit: e1, prompt: restyle as a pencil drawing}
  - {id: e3, edit: src.mp4, prompt: restyle as a postcard}
  - {id: e4, edit: e3, prompt: restyle as a woodcut}
"""


def test_an_edit_of_an_edit_is_priced_as_billed(
    project: Project, paid: EmulatorServer, run_cli: Run
) -> None:
    root = project({"film.yaml": EDITS})
    # 4.48 s (112 frames at 25 fps) is billed 4 s; its edit is made in whole frames at
    # 24 fps (108: 4.5 s), and an edit of that edit is billed 5 s
    make_video(root / "src.mp4", 4.48, 25)
    plan = plan_json(run_cli, root)
    costs = {t["id"]: t["cost"] for t in plan["takes"]}
    assert plan["unknown_cost"] == []
    assert costs == {"s": 0.784, "e1": 0.672, "e2": 0.672, "e3": 0.672, "e4": 0.84}
    result = built(root, max_cost=plan["chargeable"])  # it was refused: "unknown"
    assert result.ok, [o.message for o in result.outcomes.values()]
    assert charged(paid, root) == costs
    assert plan["total"] == plan["chargeable"] == paid.total_cost() == result.spent


KEPT = """\
storyboard: 1
title: Kept
shots:
  - {id: b, duration: 10, prompt: a harbour at dawn}
  - {id: c, edit: b, prompt: restyle as a watercolour}
  - {id: d, edit: c, prompt: restyle as a mosaic}
"""


def test_an_edit_of_a_kept_take_is_priced_on_the_result_it_keeps(
    project: Project, paid: EmulatorServer, run_cli: Run
) -> None:
    root = project({"film.yaml": KEPT})
    assert built(root).ok
    # b keeps its 10 s result; its request now says 3 s; c and d are made again
    (root / "film.yaml").write_text(
        KEPT.replace("{id: b, duration: 10,", "{id: b, keep: true, duration: 3,").replace(
            "as a watercolour", "as an oil painting"
        )
    )
    before = paid.total_cost()
    plan = plan_json(run_cli, root)
    items = {t["id"]: (t["status"], t["seconds"], t["cost"]) for t in plan["takes"]}
    assert items == {
        "b": ("kept", 3, 0.0),
        "c": ("generate", 10, 1.68),  # the 10 s video it sends, not 3 s
        "d": ("generate", 10, 1.68),
    }
    # a budget the request's price fits, the kept video's not: refused, nothing sent
    over = run_cli("build", "film.yaml", "--max-cost", "2", cwd=root)
    assert over.status == 1, over.err
    assert "is $3.3600, over --max-cost $2.0000; nothing was sent" in over.err
    assert paid.total_cost() == before
    # its answer is not refused as costing over 3 times the estimate of a 3 s source
    result = built(root, max_cost=plan["chargeable"])
    assert result.ok, [o.message for o in result.outcomes.values()]
    now = charged(paid, root)
    assert (now["c"], now["d"]) == (1.68, 1.68)
    assert round(paid.total_cost() - before, 4) == result.spent == plan["chargeable"]


# -- the budget gate --------------------------------------------------------------------------

ONE = "storyboard: 1\ntitle: One\nshots:\n  - {id: a, duration: 3, prompt: a harbour}\n"


def test_a_budget_that_is_not_a_number_is_refused(
    project: Project, paid: EmulatorServer, run_cli: Run
) -> None:
    root = project({"film.yaml": ONE})
    refused = run_cli("build", "film.yaml", "--max-cost", "nan", cwd=root)
    assert refused.status == 2, refused.err
    assert "--max-cost must be 0 or more" in refused.err
    # and through the API (storyboard watch passes its own --max-cost on)
    with pytest.raises(BuildError, match="--max-cost nan is not a number of USD"):
        built(root, max_cost=float("nan"))
    assert paid.total_cost() == 0 and paid.ledger() == []


def test_a_build_that_waited_checks_its_budget_on_what_it_finds(
    project: Project, paid: EmulatorServer
) -> None:
    """Another build sent take 'a' (accepted: to resume, no new charge) and holds the
    project; this one waits for it with ``--max-cost 0``. The other's task fails (its prompt
    refused): after the wait, 'a' is to be paid anew, over the budget."""
    root = project({"film.yaml": ONE})
    paid.configure(latency_s=(5.0, 5.0))
    paid.set_faults("moderation*1:after=8")  # refused at its 8th poll: about 1.5 s in
    first: dict[str, Any] = {}
    other = threading.Thread(target=lambda: first.setdefault("result", built(root)))
    other.start()
    journal = root / ".storyboard" / "journal" / "film.jsonl"
    space = namespace("runware", base_url=paid.base_url)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until the provider accepted the other's task
        pending = read_pending(journal, backend=space) if journal.exists() else {}
        if any(p.accepted for p in pending.values()):
            break
        time.sleep(0.02)
    try:
        with pytest.raises(BuildError, match=r"is \$0\.3360, over --max-cost \$0\.0000"):
            built(root, max_cost=0, wait=10)
        assert not other.is_alive()  # refused after the wait, not by the plan before it
    finally:
        other.join()
    assert first["result"].outcomes["a"].status == "failed"
    assert [(e.status, e.cost) for e in paid.ledger()] == [("failed", 0.0)]  # refunded
