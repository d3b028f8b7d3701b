"""P6c: a no-op ``storyboard build`` as a user runs it, against ``storyboard check``.

A 100-take storyboard (P6's: levels of 60, 25 and 15 shots, 40 hand-offs) built once with the
command line against the Runware emulator (``RUNWARE_BASE_URL``, ``RUNWARE_API_KEY``; the
emulator renders at 1/12 of the size and the build cuts at ``--film-scale`` 1/12, as a user
of an emulator would), then built again once (which leaves the note of a build with nothing
to do). Timed: ``storyboard build FILE --film-scale S`` again, a fresh process with the
shipped settings, against ``storyboard check FILE``. Every request the emulator answers
while the no-op builds run is counted: there must be none.
"""

from __future__ import annotations

from bench import cli, emulated, media
from bench.harness import Check, Result, paired
from bench.storyboards import layered_storyboard

SCALE = 1 / 12


def run(runs: int, quick: bool = False) -> Result:
    widths = [6, 3, 1] if quick else [60, 25, 15]
    folder = cli.project(media.scratch("p6c"))
    path = layered_storyboard(folder, widths, name="hundred")
    server = emulated.start_emulator(0.05, scale=SCALE)
    env = cli.emulator_env(server)
    build = cli.storyboard("build", str(path), "--film-scale", f"{SCALE:.6f}")
    try:
        cli.run([*build, "-j", "8"], env=env, cwd=folder)  # generates every take
        cli.run(build, env=env, cwd=folder)  # records them as cached, leaves the note
        load_before = cli.load()
        before = cli.requests_seen(server)
        ours, theirs = paired(
            runs,
            lambda: cli.timed(build, env=env, cwd=folder),
            lambda: cli.timed(cli.storyboard("check", "-q", str(path)), env=env, cwd=folder),
        )
        sent = cli.requests_seen(server) - before
    finally:
        server.stop()
    return Result(
        key="P6c",
        measure=f"storyboard build, no-op, {sum(widths)} takes (runware, emulator)",
        unit="s",
        ours=ours,
        baseline=theirs,
        kind="ratio",
        op="<=",
        target=1.2,
        baseline_name="storyboard check on the same file (command line)",
        checks=[Check("requests sent by the no-op builds", float(sent), "<=", 0, "")],
        info={"load": [load_before, cli.load()], "no_op_builds": runs + 1},
        notes=["fresh processes, bytecode compiled (bench/cli.py); emulator on loopback"],
    )
