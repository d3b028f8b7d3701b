"""P5c: ``storyboard check`` as a user runs it, against ``python`` loading the same file.

Ours: the ``storyboard check FILE`` command, a fresh process with the shipped settings, on P5's
storyboard (2,000 shots, one prompt in eight with ``{% if %}``/``{% for %}``). Baseline: a
fresh ``python`` that imports ruamel.yaml and loads the same file with libyaml
(``YAML(typ="safe", pure=False)``, no positions). Both pay the interpreter's start; ours also
pays its imports (pydantic, Jinja, ...), which P5 (in-process) does not see.
"""

from __future__ import annotations

from bench import cli, media
from bench.harness import Result, paired
from bench.storyboards import long_storyboard

LOAD = (
    "import sys\nfrom ruamel.yaml import YAML\n"
    "YAML(typ='safe', pure=False).load(open(sys.argv[1], encoding='utf-8').read())"
)


def run(runs: int, quick: bool = False) -> Result:
    shots = 200 if quick else 2000
    folder = cli.project(media.scratch("p5c"))
    path = long_storyboard(folder / "control", shots, control_every=8)
    env = cli.environment()
    load_before = cli.load()
    ours, theirs = paired(
        runs,
        lambda: cli.timed(cli.storyboard("check", "-q", str(path)), env=env, cwd=folder),
        lambda: cli.timed([cli.PYTHON, "-c", LOAD, str(path)], env=env, cwd=folder),
    )
    # the floor under any check that validates with the models, against the same baseline
    floor, floor_note = cli.model_floor(
        runs, path, [cli.PYTHON, "-c", LOAD, str(path)], "the baseline", env=env, cwd=folder
    )
    return Result(
        key="P5c",
        measure=f"storyboard check command, {shots} shots, 1 prompt in 8 with if/for",
        unit="s",
        ours=ours,
        baseline=theirs,
        kind="ratio",
        op="<=",
        target=2,
        baseline_name="python -c: import ruamel.yaml, YAML(typ='safe', pure=False).load(file)",
        info={
            "load": [load_before, cli.load()],
            "file_bytes": path.stat().st_size,
            **floor,
        },
        notes=[
            "fresh processes, bytecode compiled (bench/cli.py); the same file as P5",
            floor_note,
        ],
    )
