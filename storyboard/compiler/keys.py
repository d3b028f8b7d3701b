"""Take keys: a canonical hash of everything that decides what a take's video will be.

A take's key is the sha256 of the canonical JSON (sorted keys, no whitespace) of its
compiled request, in which every local input is replaced by the sha256 of its bytes and
every upstream input by the upstream take's key (plus which variation, and which frame or
span of it), together with the model id and :data:`KEY_VERSION`. Nothing random or cosmetic
enters a key: not task UUIDs, timestamps, comments, key order or the cut; ``pick`` enters
only the keys of takes downstream of a take with variations (they start on, or edit, the
picked video). :data:`KEY_VERSION` changes only when the meaning of a request changes, never
with a release, so an upgrade does not make a writer pay again.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from storyboard.compiler.compile import Compiled, CompiledTake, FileHasher, FileHashes
from storyboard.compiler.resolve import Handoff
from storyboard.language.sources import MediaRef

KEY_VERSION = 1


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no insignificant whitespace, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def take_keys(compiled: Compiled, *, file_hash: FileHasher | None = None) -> dict[str, str]:
    """The key of every take, by take id (takes are in dependency order)."""
    return keys_and_materials(compiled, file_hash=file_hash)[0]


def keys_and_materials(
    compiled: Compiled, *, file_hash: FileHasher | None = None
) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """The key of every take and the :func:`key_material` it hashes, by take id."""
    hasher = file_hash or FileHashes()
    keys: dict[str, str] = {}
    materials: dict[str, dict[str, Any]] = {}
    refs: dict[str, str] = {}
    for take in compiled.takes:
        material = key_material(take, refs, hasher)
        materials[take.id] = material
        keys[take.id] = hashlib.sha256(canonical(material).encode()).hexdigest()
        refs[take.id] = upstream_ref(take, keys[take.id])
    return keys, materials


def upstream_ref(take: CompiledTake, key: str) -> str:
    """What a downstream take's key records of ``take``: its key, and which variation.

    ``pick`` changes no take's own key (the variations are all kept), but a take that starts
    on a frame of the picked video, or edits it, gets a different input when the pick moves:
    its key names the pick. The default pick (1) adds nothing, so keys made before a
    storyboard had variations stay the same.
    """
    pick = take.take.pick
    return key if take.take.variations <= 1 or pick <= 1 else f"{key}.v{pick}"


def key_material(
    take: CompiledTake, upstream: dict[str, str], file_hash: FileHasher
) -> dict[str, Any]:
    """What a take's key hashes: the request with inputs replaced by content, and the model.

    ``upstream`` maps each take it depends on to its :func:`upstream_ref`.
    """
    replacements: dict[str, str] = {}
    for placeholder, value in take.inputs.items():
        if isinstance(value, Handoff):
            where = placeholder.split("/", 1)[1]
            replacements[placeholder] = f"take:{upstream[value.take]}/{where}"
        elif isinstance(value, MediaRef) and value.path is not None:
            replacements[placeholder] = "sha256:" + file_hash(value.path)
    body = _replace(take.request, replacements)
    return {"version": KEY_VERSION, "model": take.request.get("model"), "request": body}


def why_stale(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """Why a take whose key material was ``old`` must be generated again, in a few words."""
    if old is None:
        return "new"
    if old == new:
        return "not in the cache"
    if old.get("model") != new.get("model"):
        return "model changed"
    old_text, new_text = canonical(old), canonical(new)
    if _mask(old_text, "take:") == _mask(new_text, "take:"):
        return "upstream changed"
    if _mask_inputs(old_text) == _mask_inputs(new_text):
        return "input bytes changed"
    if _mask_inputs(_mask(old_text, "take:")) == _mask_inputs(_mask(new_text, "take:")):
        return "upstream and input bytes changed"
    return "prompt or setting changed"


def _mask(text: str, prefix: str) -> str:
    """``text`` with every 64-hex-digit hash after ``prefix`` blanked (and, for upstream
    takes, which variation of them: a new ``pick`` is an upstream change)."""
    import re

    return re.sub(re.escape(prefix) + r"[0-9a-f]{64}(\.v[0-9]+)?", prefix + "#", text)


def _mask_inputs(text: str) -> str:
    """``text`` with local inputs' hashes and derived element ids (which follow them) blanked."""
    return _mask_element_ids(_mask(text, "sha256:"))


def _mask_element_ids(text: str) -> str:
    """``text`` with the content digest of every derived element id (``name-<12 hex>``) blanked."""
    import re

    return re.sub(r'("id":"[^"]*-)[0-9a-f]{12}"', r'\1#"', text)


def _replace(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        return replacements.get(value, value)
    if isinstance(value, list):
        return [_replace(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, replacements) for k, v in value.items()}
    return value
