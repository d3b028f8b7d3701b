"""Generated storyboards for the benchmarks (deterministic: the same arguments, the same bytes).

- :func:`long_storyboard`: P5's 2,000 shots with ~600-character prompts, one in four a Jinja
  template that puts values in (each one different, as real prompts are), one in ten a
  hand-off from the shot before it (``start: PREV.last``); with ``control_every=8``, one in
  eight prompts (half of the templated ones) uses ``{% if %}`` or ``{% for %}`` in one of four
  ways (:data:`CONTROL`), around prose of its own, or (``unique_control``) each in a way of
  its own.
- :func:`layered_storyboard`: P6's and P7's dependency graphs: levels of shots, each shot of
  a level after the first handing off from one shot of the level before.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from pathlib import Path

WORDS = [
    "harbour",
    "lantern",
    "storm",
    "keeper",
    "trawler",
    "gull",
    "wave",
    "rock",
    "tower",
    "beam",
    "mist",
    "dawn",
    "rain",
    "cliff",
    "jetty",
    "rope",
    "net",
    "oilskin",
    "deck",
    "wheelhouse",
    "spray",
    "horizon",
    "cloud",
    "thunder",
    "lamp",
    "stair",
    "glass",
    "iron",
    "salt",
    "moss",
    "granite",
    "driftwood",
    "buoy",
    "anchor",
    "mast",
    "sail",
    "tide",
    "current",
    "foam",
    "shingle",
    "kelp",
    "slowly",
    "gently",
    "suddenly",
    "silently",
    "heavily",
    "brightly",
    "darkly",
    "steadily",
    "wildly",
    "softly",
    "walks",
    "climbs",
    "turns",
    "watches",
    "lifts",
    "carries",
    "lowers",
    "pulls",
    "drifts",
    "sweeps",
    "flickers",
    "glows",
    "golden",
    "pale",
    "crimson",
    "grey",
    "silver",
    "amber",
    "cold",
    "warm",
    "wet",
    "weathered",
    "ancient",
    "tiny",
    "vast",
]

HEADER = """\
storyboard: 1
title: {title}
model: klingai:kling-video@o3-pro

vars:
  look: Cinematic maritime realism, 35mm film grain, stable character identity, soft contrast
  sea: a black North Atlantic sea heaving under the storm
  weather: rain in long silver ropes, gusts tearing at every loose thing
  cast: [the keeper, the boy, the skipper]

output:
  width: 1920
  height: 1080
  format: MP4
  quality: 90

defaults:
  duration: 5
  sound: {sound}

shots:
"""


def sentence(rng: random.Random, length: int) -> str:
    """Plain words, about ``length`` characters, ending with a full stop."""
    words: list[str] = []
    size = 0
    while size < length:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def _prompt(rng: random.Random, index: int, templated: bool, length: int) -> str:
    if not templated:
        return sentence(rng, length)
    # A template that differs from every other one: compiled once, rendered once.
    body = sentence(rng, length - 140)
    return (
        f"Shot {{{{ shot.index }}}} of {{{{ storyboard.title }}}}: {body} "
        f"{{{{ sea }}}}; {{{{ weather }}}}. {{{{ look | lower }}}} ({index})."
    )


CONTROL = (
    "{body} {{% if shot.index is even %}}{{{{ weather }}}}{{% else %}}a lull between squalls"
    "{{% endif %}}. {{{{ look | lower }}}}.",
    "{body} Among them {{% for name in cast %}}{{{{ name }}}}{{% if not loop.last %}}, "
    "{{% endif %}}{{% endfor %}}; {{{{ sea }}}}.",
    "{{% if shot.duration > 5 %}}A slow shot. {{% endif %}}{body} {{{{ look }}}}.",
    '{body} {{% for w in ["rain", "spray", "foam"] %}}{{{{ w }}}} {{% endfor %}}over '
    "{{{{ sea }}}}.",
)
"""The four ways the control-flow prompts use Jinja: a writer's prompts share a few
constructions (the same loops, the same conditions) around prose of their own."""


def _control_prompt(rng: random.Random, index: int, length: int, unique: bool) -> str:
    body = sentence(rng, length - 150)
    if unique:  # a condition of its own: no two prompts share a compiled template
        return (
            f"{{% if shot.index > {index - 1} %}}Later. {{% endif %}}{body} "
            f"{{% for w in cast %}}{{{{ w }}}} {{% endfor %}}{{{{ look }}}}."
        )
    return rng.choice(CONTROL).format(body=body)


def _shot(shot_id: str, prompt: str, *, duration: int, start: str | None = None) -> str:
    """One shot; ``start`` is a frame reference (``ID.last``, ``ID@2s``)."""
    lines = [f"  - id: {shot_id}", f"    duration: {duration}"]
    if start is not None:
        lines.append(f"    start: {start}")
    lines.append("    prompt: >-")
    # Folded scalar, wrapped at ~90 columns like a person would write it (never inside {{ }}).
    words = re.findall(r"\S*\{\{.*?\}\}\S*|\S+", prompt)
    line = ""
    for word in words:
        if line and len(line) + 1 + len(word) > 90:
            lines.append(f"      {line}")
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(f"      {line}")
    return "\n".join(lines) + "\n"


def long_storyboard(
    folder: Path,
    shots: int = 2000,
    *,
    prompt_chars: int = 600,
    templated_every: int = 4,
    handoff_every: int = 10,
    control_every: int = 0,
    unique_control: bool = False,
    seed: int = 7,
) -> Path:
    """P5's storyboard; returns its path (``folder/long.yaml``)."""
    rng = random.Random(seed)
    parts = [HEADER.format(title="The Long Night", sound="true")]
    for index in range(1, shots + 1):
        templated = index % templated_every == 1
        start = f"s{index - 1:04d}.last" if index % handoff_every == 0 else None
        if control_every and index % control_every == 5:
            prompt = _control_prompt(rng, index, prompt_chars, unique_control)
        else:
            prompt = _prompt(rng, index, templated, prompt_chars)
        parts.append(_shot(f"s{index:04d}", prompt, duration=3 + index % 8, start=start))
    path = folder / "long.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def layered_storyboard(
    folder: Path,
    widths: Sequence[int],
    *,
    name: str = "layered",
    duration: int = 5,
    prompt_chars: int = 200,
    seed: int = 11,
) -> Path:
    """Levels of shots; shot ``j`` of level ``k > 0`` starts on a frame of shot
    ``p = j % widths[k-1]`` of level ``k-1``: its last frame for the first child of ``p``,
    the frame at 1 s, 2 s, ... for the next ones (two children never hand off the *same*
    frame: see ``docs/performance.md``, P7). Every shot is its own take, so the longest chain
    of hand-offs is ``len(widths)`` takes and the widest level is ``max(widths)``. Prompts
    depend on ``name`` and ``widths``, so two such storyboards never share a take."""
    rng = random.Random(f"{seed}-{name}-{widths}")
    parts = [HEADER.format(title=f"Layers {'-'.join(map(str, widths))}", sound="false")]
    for level, width in enumerate(widths):
        for j in range(width):
            start = None
            if level:
                parent, sibling = j % widths[level - 1], j // widths[level - 1]
                start = f"l{level - 1}-{parent:03d}" + (f"@{sibling}s" if sibling else ".last")
            prompt = sentence(rng, prompt_chars)
            parts.append(_shot(f"l{level}-{j:03d}", prompt, duration=duration, start=start))
    path = folder / f"{name}.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def error_line(path: Path, shot_id: str) -> int:
    """The 1-based line of ``duration:`` in shot ``shot_id`` (to plant an error there)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    at = lines.index(f"  - id: {shot_id}")
    return at + 2
