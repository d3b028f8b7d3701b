"""P5: ``check`` and ``compile`` of a 2,000-shot storyboard against ruamel's C safe load.

Ours, ``check``: what ``storyboard check FILE`` runs, :func:`storyboard.api.compile_storyboard`
(read, load with positions, validate, render every prompt, resolve and compile every take:
the command checks the model's limits too). ``compile``: the same plus the JSON of every
request, what ``storyboard compile --json`` prints. :func:`storyboard.api.check` (no compile)
is reported too. Baseline: ``YAML(typ="safe", pure=False).load(text)`` of the same file, which
reads plain data with libyaml and keeps no positions at all.

The storyboard (:func:`bench.storyboards.long_storyboard`): 2,000 shots, ~600-character
prompts, one in four a Jinja template (each different): half of them (one in eight prompts)
using ``{% if %}`` or ``{% for %}`` in one of four ways around prose of their own, the other
half only putting values in; one in ten a hand-off: the headline. Beside it: the same
storyboard without the control-flow prompts (every template only puts values in, as this
benchmark measured until issue 18),
with every control-flow prompt of a structure of its own (no compiled template shared:
the worst case), with no templates, and loading alone. Error positions are checked on copies
with two planted errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from bench import media
from bench.harness import Check, Result, paired, ratios, spread
from bench.storyboards import error_line, long_storyboard
from storyboard.api import check, compile_storyboard
from storyboard.compiler.compile import dumps
from storyboard.core.errors import InputError
from storyboard.language.load import load_document


def check_command(path: Path) -> object:
    """What ``storyboard check`` runs for one file."""
    return compile_storyboard(path)


def compile_command(path: Path) -> str:
    """What ``storyboard compile --json`` computes (its output, not printed)."""
    return dumps(compile_storyboard(path).to_json())


def safe_loader(path: Path) -> Any:
    yaml = YAML(typ="safe", pure=False)

    def load() -> Any:
        return yaml.load(path.read_text(encoding="utf-8"))

    return load


def round_trip_loader(path: Path) -> Any:
    yaml = YAML(typ="rt")

    def load() -> Any:
        return yaml.load(path.read_text(encoding="utf-8"))

    return load


def _figure(ours: list[float], theirs: list[float]) -> dict[str, Any]:
    median, low, high = spread(ratios(ours, theirs, "ratio"))
    return {
        "ours_s": round(sorted(ours)[len(ours) // 2], 4),
        "baseline_s": round(sorted(theirs)[len(theirs) // 2], 4),
        "ratio": round(median, 2),
        "ratio_spread": [round(low, 2), round(high, 2)],
    }


def _diagnostics(path: Path) -> list[str]:
    try:
        check_command(path)
    except InputError as exc:
        return [d.render() for d in exc.diagnostics]
    return []


def positions_kept(folder: Path, shots: int) -> dict[str, Any]:
    """Plant a bad duration, then an undefined template name, deep in the file (one per copy:
    the command reports the errors of one stage at a time); check that each is reported at
    its line, and the duration at its column."""
    path = long_storyboard(folder, shots)
    lines = path.read_text(encoding="utf-8").splitlines()
    bad_shot = f"s{shots - shots // 9:04d}"  # a plain shot near the end
    template_shot = f"s{(shots * 3 // 4) // 4 * 4 + 1:04d}"  # a templated one (index % 4 == 1)

    duration_line = error_line(path, bad_shot)
    planted = list(lines)
    planted[duration_line - 1] = "    duration: 99"
    (folder / "duration.yaml").write_text("\n".join(planted) + "\n", encoding="utf-8")
    duration_found = _diagnostics(folder / "duration.yaml")

    start = lines.index(f"  - id: {template_shot}") + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("  - id:"))
    planted = list(lines)
    line = next(i for i in range(start, end) if "{{ weather }}" in planted[i])
    planted[line] = planted[line].replace("{{ weather }}", "{{ wether }}")
    column = planted[line].index("wether") + 1
    (folder / "template.yaml").write_text("\n".join(planted) + "\n", encoding="utf-8")
    template_found = _diagnostics(folder / "template.yaml")

    return {
        "duration": {
            "expected": f"duration.yaml:{duration_line}:15",
            "found": duration_found,
            "ok": any(f"duration.yaml:{duration_line}:15:" in d for d in duration_found),
        },
        "template": {
            "expected": f"template.yaml:{line + 1}:{column}",
            "found": template_found,
            "ok": any(f"template.yaml:{line + 1}:{column}:" in d for d in template_found),
        },
    }


def run(runs: int, quick: bool = False) -> Result:
    shots = 200 if quick else 2000
    folder = media.scratch("p5")
    path = long_storyboard(folder / "control", shots, control_every=8)
    values = long_storyboard(folder / "templated", shots)
    unique = long_storyboard(folder / "unique", shots, control_every=8, unique_control=True)
    plain = long_storyboard(folder / "plain", shots, templated_every=10**9)
    base = safe_loader(path)

    ours, theirs = paired(runs, lambda: check_command(path), base)
    compiled, theirs_c = paired(runs, lambda: compile_command(path), base)
    api_check, theirs_a = paired(runs, lambda: check(path), base)
    load_only, theirs_l = paired(runs, lambda: load_document(path), base)
    values_check, theirs_v = paired(runs, lambda: check_command(values), safe_loader(values))
    unique_check, theirs_u = paired(runs, lambda: check_command(unique), safe_loader(unique))
    plain_check, theirs_p = paired(runs, lambda: check_command(plain), safe_loader(plain))
    round_trip, theirs_rt = paired(runs, round_trip_loader(path), base)
    positions = positions_kept(folder / "planted", shots)
    positions_ok = positions["duration"]["ok"] and positions["template"]["ok"]

    compile_fig = _figure(compiled, theirs_c)
    return Result(
        key="P5",
        measure=(
            f"storyboard check, {shots} shots ({path.stat().st_size / 1e6:.2f} MB), "
            "1 prompt in 8 with if/for"
        ),
        unit="s",
        ours=ours,
        baseline=theirs,
        kind="ratio",
        op="<=",
        target=3,
        baseline_name="ruamel.yaml YAML(typ='safe', pure=False).load (libyaml, no positions)",
        checks=[
            Check("error positions kept (1 = yes)", float(positions_ok), ">=", 1, ""),
        ],
        info={
            "compile": compile_fig,
            "api_check_no_compile": _figure(api_check, theirs_a),
            "load_document_only": _figure(load_only, theirs_l),
            "check_value_templates_only": _figure(values_check, theirs_v),
            "check_each_control_prompt_its_own_structure": _figure(unique_check, theirs_u),
            "check_without_templates": _figure(plain_check, theirs_p),
            "ruamel_round_trip_load": _figure(round_trip, theirs_rt),
            "shots": shots,
            "templated_prompts": shots // 4,
            "control_flow_prompts": shots // 8,
            "file_bytes": path.stat().st_size,
            "positions": positions,
        },
        notes=[f"compile (check + the JSON of every request): {compile_fig['ratio']}x"],
    )
