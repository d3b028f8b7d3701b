"""S1: start-up. ``storyboard check`` of a one-shot storyboard against ``python -c pass``.

Ours: the command on ``examples/seed/orbital-greenhouse-ballet.yaml`` (one shot, a plain
prompt, a remote start image), a fresh process. Baseline: the same interpreter doing nothing.
What ours costs beyond it is almost all imports: pydantic and its models, ruamel.yaml, the
compiler (see ``docs/performance.md``, S1). Also timed: the floor of a check by the models
(``bench/cli.py``) and a ``python`` that only imports ``pydantic.main``, each against the same
baseline.
"""

from __future__ import annotations

from pathlib import Path

from bench import cli
from bench.harness import Result, paired, ratios, spread

ONE_SHOT = (
    Path(__file__).resolve().parents[1] / "examples" / "seed" / "orbital-greenhouse-ballet.yaml"
)


def run(runs: int, quick: bool = False) -> Result:
    env = cli.environment()
    load_before = cli.load()
    ours, theirs = paired(
        runs,
        lambda: cli.timed(cli.storyboard("check", "-q", str(ONE_SHOT)), env=env),
        lambda: cli.timed([cli.PYTHON, "-c", "pass"], env=env),
    )
    # the floor under any check that validates with the models, against the same baseline
    floor, floor_note = cli.model_floor(
        runs, ONE_SHOT, [cli.PYTHON, "-c", "pass"], "python -c pass", env=env
    )
    # and under that floor: importing the models' library, nothing else
    library, theirs2 = paired(
        runs,
        lambda: cli.timed([cli.PYTHON, "-c", "import pydantic.main"], env=env),
        lambda: cli.timed([cli.PYTHON, "-c", "pass"], env=env),
        warmup=False,
    )
    imported = spread(ratios(library, theirs2, "ratio"))
    return Result(
        key="S1",
        measure="storyboard check of a one-shot storyboard (start-up)",
        unit="s",
        ours=ours,
        baseline=theirs,
        kind="ratio",
        op="<=",
        target=6,
        baseline_name="python -c pass (the same interpreter and site-packages)",
        info={
            "load": [load_before, cli.load()],
            "file": ONE_SHOT.name,
            **floor,
            "import_pydantic_s": [round(v, 4) for v in library],
            "import_pydantic_ratio": [round(v, 2) for v in imported],
        },
        notes=[
            "fresh processes, bytecode compiled (bench/cli.py)",
            floor_note,
            f"python -c 'import pydantic.main' alone: {imported[0]:.2f}x python -c pass "
            f"({imported[1]:.2f}..{imported[2]:.2f})",
        ],
    )
