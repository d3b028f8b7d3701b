"""What changed in a take's request since a result was made from it, for people.

Not a pipeline stage: ``storyboard plan --explain SHOT`` and the plan's ``kept (... changed
since)`` use it. It compares two key materials (:func:`storyboard.compiler.keys.key_material`: the
request with every local file replaced by its sha256 and every upstream take by its key)
leaf by leaf, and names each difference in the storyboard's words, with the current
compiled request (whose placeholders still name files and takes) to say which file or take
a hash stands for:

- ``prompt``: a shot's prompt (``positivePrompt``, a ``multiPrompt`` segment), shown as the
  words removed and added;
- ``upstream``: a take it starts on, ends on, edits or refers to has another result;
- ``input``: a local file's bytes (an element's derived id follows its files);
- ``model``, ``retake``, and ``setting`` for anything else (a duration, ``sound``...).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from storyboard.compiler.compile import CompiledTake

KINDS = ("prompt", "setting", "model", "retake", "input", "upstream")
"""The kinds of change, in the order a summary names them."""
_ELEMENT_ID = re.compile(r"^(.*)-[0-9a-f]{12}$")
_CONTEXT = 3
"""Words of context on each side of a changed stretch of a prompt."""


@dataclass(frozen=True)
class Change:
    """One difference: its kind (:data:`KINDS`) and what it is, in a line."""

    kind: str
    what: str


def changes(old: dict[str, Any], new: dict[str, Any], take: CompiledTake) -> list[Change]:
    """Every difference between key materials ``old`` and ``new`` of ``take``."""
    found: list[Change] = []
    if old.get("model") != new.get("model"):
        found.append(Change("model", f"model: {old.get('model')} -> {new.get('model')}"))
    if old.get("retake", 0) != new.get("retake", 0):
        found.append(Change("retake", f"retake: {old.get('retake', 0)} -> {new.get('retake', 0)}"))
    if old.get("version") != new.get("version"):
        found.append(Change("setting", "the key version of storyboard"))
    _walk(old.get("request"), new.get("request"), take.request, (), take, found)
    return sorted(found, key=lambda c: KINDS.index(c.kind))  # the prompt first


def summary(found: list[Change]) -> str:
    """The kinds of ``found`` in a few words: ``prompt and upstream changed``."""
    kinds = [k for k in KINDS if any(c.kind == k for c in found)]
    names = {"setting": "settings", "input": "input bytes"}
    words = [names.get(k, k) for k in kinds]
    if not words:
        return "nothing changed"
    joined = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return f"{joined} changed"


def _walk(
    old: Any, new: Any, current: Any, path: tuple[str | int, ...], take: CompiledTake,
    found: list[Change],
) -> None:  # fmt: skip
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys(), key=str):
            here = current.get(key) if isinstance(current, dict) else None
            if key not in new:
                found.append(_added_or_removed(take, (*path, key), "removed", old[key]))
            elif key not in old:
                found.append(_added_or_removed(take, (*path, key), "added", new[key]))
            else:
                _walk(old[key], new[key], here, (*path, key), take, found)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            here = current[index] if isinstance(current, list) and index < len(current) else None
            _walk(a, b, here, (*path, index), take, found)
        return
    found.append(_leaf(old, new, current, path, take))


def _leaf(
    old: Any, new: Any, current: Any, path: tuple[str | int, ...], take: CompiledTake
) -> Change:
    name = _dotted(path)
    if isinstance(old, str) and isinstance(new, str):
        if path[-1:] == ("positivePrompt",) or (path[-1:] == ("prompt",) and "multiPrompt" in path):
            return Change("prompt", f"{_prompt_of(path, take)}: {word_diff(old, new)}")
        if new.startswith("take:") and isinstance(current, str) and current.startswith("take:"):
            upstream, _, where = current[len("take:") :].partition("/")
            return Change("upstream", f"{name}: take '{upstream}' has another result ({where})")
        if new.startswith("sha256:") and isinstance(current, str):
            file = current.removeprefix("file:")
            return Change("input", f"{name}: the bytes of {file} changed")
        if path[-1:] == ("id",) and _ELEMENT_ID.match(old) and _ELEMENT_ID.match(new):
            element = _ELEMENT_ID.match(new)
            assert element is not None
            return Change("input", f"{name}: element '{element.group(1)}' has other files")
    return Change("setting", f"{name}: {_show(old)} -> {_show(new)}")


def _added_or_removed(
    take: CompiledTake, path: tuple[str | int, ...], how: str, value: Any
) -> Change:
    return Change("setting", f"{_dotted(path)} {how} ({_show(value)})")


def _prompt_of(path: tuple[str | int, ...], take: CompiledTake) -> str:
    shots = take.take.shots
    if "multiPrompt" in path:
        index = path[path.index("multiPrompt") + 1]
        if isinstance(index, int) and index < len(shots):
            return f"the prompt of shot '{shots[index].id}'"
    return f"the prompt of shot '{shots[0].id}'"


def word_diff(old: str, new: str) -> str:
    """The words of ``new`` that differ from ``old``, with a little context:
    ``... the lamp [-at dawn-]{+at night+} over ...``."""
    a, b = old.split(), new.split()
    parts: list[str] = []
    opcodes = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            words = a[i1:i2]
            first, last = index == 0, index == len(opcodes) - 1
            if (
                len(words) > 2 * _CONTEXT
                or (first and len(words) > _CONTEXT)
                or (last and len(words) > _CONTEXT)
            ):
                head = [] if first else words[:_CONTEXT]
                tail = [] if last else words[-_CONTEXT:]
                words = [*head, "...", *tail]
            parts += words
            continue
        removed = "[-" + " ".join(a[i1:i2]) + "-]" if i2 > i1 else ""
        added = "{+" + " ".join(b[j1:j2]) + "+}" if j2 > j1 else ""
        parts.append(removed + added)
    if not parts and old != new:
        return "whitespace only"
    return " ".join(parts)


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + part
    return out or "the request"


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = repr(value)
    else:
        text = str(value).lower() if isinstance(value, bool) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe(
    take: CompiledTake,
    *,
    namespace: str,
    status: str,
    reason: str,
    estimate: float | None,
    current: dict[str, Any],
    recorded: dict[str, Any] | None,
    kept_material: dict[str, Any] | None = None,
    kept_source: str | None = None,
) -> list[str]:
    """The lines of ``storyboard plan --explain``: the take's status, and what changed.

    Args:
        take: the compiled take.
        namespace: the backend's namespace compared with.
        status, reason: the take's line in the plan.
        estimate: what making its current request costs (``None``: unknown).
        current: its key material now.
        recorded: what the last build in ``namespace`` made it from, if recorded.
        kept_material, kept_source: for a kept take, what the kept result was made from
            (``None``: not known here) and where it was found (``lock``, ``records``,
            ``current``).
    """
    from storyboard.core.money import usd

    shots = take.take.shots
    which = f"shot{'s' if len(shots) > 1 else ''} {', '.join(s.id for s in shots)}"
    lines = [f"take '{take.id}' ({which}) in {namespace}: {status} ({reason})"]
    price = "unknown" if estimate is None else usd(estimate)
    if status == "kept":
        where = {"lock": "the lock file", "records": "the records of the last build here"}
        if kept_source == "current":
            lines.append("the film keeps its result; its request has not changed since")
        elif kept_material is None:
            lines.append(
                "the film keeps the result the lock file names; this project has no record "
                "of the request it was made from, so what changed since cannot be said here "
                "(the project where it was built can say)"
            )
        else:
            found = where.get(kept_source or "", "this project")
            lines.append(f"the film keeps the result made before these changes (found in {found}):")
            lines += [f"  {c.what}" for c in changes(kept_material, current, take)]
        lines.append(
            f"cost: {usd(0)} while it is kept; made from the current request: {price} "
            "(remove 'keep')"
        )
        return lines
    if status in ("generate", "resume", "shared"):
        if recorded is None:
            lines.append("no build here recorded what it was made from before")
        elif recorded != current:
            lines.append("since the last build here:")
            lines += [f"  {c.what}" for c in changes(recorded, current, take)]
        lines.append(f"cost: {price}")
    return lines
