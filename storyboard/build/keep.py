"""``keep: true``: which result a kept take keeps, found before anything is planned.

Place in the pipeline: after the keys (:mod:`storyboard.compiler.keys`), before the plan. A take the
storyboard keeps has, in the backend being planned or built (its namespace), the result of
the last build that made it, even when its request changed since (a prompt, a shared style
include, an upstream take). That result is found, in this order:

1. the lock file's entry for the take in that namespace (paid backends: the lock is
   committed with the storyboard, so a teammate's clone, with no cache and no records of
   its own, finds the kept result and downloads it, paying nothing);
2. the records of the last build in that namespace (``.storyboard/records/``: what each take
   was made from), whose result is in this project's cache;
3. the result of the take's current request, in the cache or the lock: nothing changed.

The take's key becomes the kept result's key (:func:`storyboard.compiler.keys.keys_and_materials`),
so the takes downstream of it are keyed on that result and are not made again because of
it. On a paid backend, a kept take with none of these is an error at its ``keep``, before
anything is sent: building it would pay for the very request the writer said to keep out.
On the free preview it is made from its current request, and the plan says so: a teammate
who previews a clone has no preview of the kept take yet, and a preview costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from storyboard.build.state.cache import Cache
from storyboard.build.state.lockfile import LockedTake, LockFile
from storyboard.compiler.compile import Compiled, CompiledTake
from storyboard.compiler.explain import changes, summary
from storyboard.compiler.keys import key_of
from storyboard.core.diagnostics import Diagnostic
from storyboard.core.errors import InputError


@dataclass(frozen=True)
class Kept:
    """The result a kept take keeps.

    Attributes:
        key: its key (the request it was made from, hashed).
        material: that request's key material, when this project's records know it (a
            clone that found the result in the lock file has no record of it).
        source: where it was found: ``lock``, ``records`` or ``current``.
        locked: its lock entry, if the lock file has it.
    """

    key: str
    material: dict[str, Any] | None
    source: str
    locked: LockedTake | None = None

    def since(self, current: dict[str, Any], take: CompiledTake) -> str:
        """What changed since, for the plan: ``prompt changed since``."""
        if key_of(current) == self.key:
            return "nothing changed since"
        if self.material is None:
            return (
                "its request changed since, or this project has no record of the one it was "
                "made from (found in the lock file)"
            )
        return f"{summary(changes(self.material, current, take))} since"


Keys = tuple[dict[str, str], dict[str, dict[str, Any]]]


def find_kept(
    compiled: Compiled,
    rekey: Callable[[dict[str, str]], Keys],
    *,
    namespace: str,
    paid: bool,
    cache: Cache,
    lock: LockFile | None,
    records: dict[str, dict[str, Any]],
) -> tuple[dict[str, Kept], dict[str, str], dict[str, dict[str, Any]]]:
    """The result each kept take keeps, by take id (see the module docstring), and every
    take's key and key material with those results kept.

    ``rekey(kept)`` keys every take with the kept results' keys
    (:func:`storyboard.compiler.keys.keys_and_materials`): takes are looked at in dependency order,
    and a kept take's current request is keyed on what it depends on as kept.

    Raises:
        InputError: on a paid backend, a kept take has no result in ``namespace``.
    """
    found: dict[str, Kept] = {}
    keys, materials = rekey({})
    problems: list[Diagnostic] = []
    for take in compiled.takes:
        if not take.take.keep:
            continue
        kept = _find_one(take, keys[take.id], materials[take.id], namespace, cache, lock, records)
        if kept is not None:
            found[take.id] = kept
            if kept.key != keys[take.id]:  # what depends on it is keyed on the kept result
                keys, materials = rekey({t: k.key for t, k in found.items()})
        elif paid:
            checked = compiled.checked
            where = checked.position((*take.take.path, "keep"))
            problems.append(
                Diagnostic(
                    where,
                    f"keep: take '{take.id}' has no result in {namespace} to keep (none in the "
                    "lock file, and none in this project's cache): build it once without "
                    "'keep', then keep the result you like; nothing was sent",
                )
            )
    if problems:
        raise InputError(problems)
    return found, keys, materials


def _find_one(
    take: CompiledTake,
    key: str,
    material: dict[str, Any],
    namespace: str,
    cache: Cache,
    lock: LockFile | None,
    records: dict[str, dict[str, Any]],
) -> Kept | None:
    record = records.get(take.id)
    recorded = key_of(record) if isinstance(record, dict) else None
    if lock is not None:
        entry = _locked(lock, take.id, namespace)
        if entry is not None:
            known = record if recorded == entry.key else None
            return Kept(entry.key, known, "lock", entry)
    if recorded is not None and cache.get(namespace, recorded, verify=False) is not None:
        return Kept(recorded, record, "records")
    if cache.get(namespace, key, verify=False) is not None:
        return Kept(key, material, "current")
    if lock is not None and (entry := lock.find(key, namespace)) is not None:
        return Kept(key, material, "current", entry)
    return None


def _locked(lock: LockFile, take: str, namespace: str) -> LockedTake | None:
    """The lock file's entry for ``take`` in ``namespace`` (the result the film used)."""
    for entry in lock.entries:
        if entry.take == take and entry.backend == namespace:
            return entry
    return None
