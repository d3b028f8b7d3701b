"""Small typed checks for wire values, each raising the :class:`ApiError` the service would.

Shared by :mod:`validate` (top-level fields, ``providerSettings``) and :mod:`inputs`. Every check
takes the value and its dotted parameter path (``inputs.frameImages[0].image``) and names that
path in the error. JSON booleans are not integers here, as in a typed JSON schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from storyboard.emulator.wire import JSON, ApiError, invalid


def join(path: str, key: str) -> str:
    """``join("inputs", "video") == "inputs.video"``; a top-level key is itself."""
    return f"{path}.{key}" if path else key


def leaf(path: str) -> str:
    """The last field name of a path: ``inputs.frameImages[0].image`` -> ``image``."""
    return path.rsplit(".", 1)[-1].split("[", 1)[0]


def code_for(prefix: str, path: str) -> str:
    """``code_for("invalid", "outputQuality") == "invalidOutputQuality"``."""
    name = leaf(path)
    return prefix + name[:1].upper() + name[1:]


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def require_object(value: Any, path: str) -> JSON:
    if not isinstance(value, dict):
        raise invalid(code_for("invalid", path), f"{path} must be an object", path, type_="object")
    return value


def reject_unknown(obj: JSON, allowed: Iterable[str], path: str = "") -> None:
    """``unknownParameter`` for the first key of ``obj`` not in ``allowed``."""
    known = set(allowed)
    for key in obj:
        if key not in known:
            where = join(path, key)
            raise ApiError(
                "unknownParameter",
                f"{where} is not a parameter of this model",
                where,
                extra={"allowedValues": sorted(known)},
            )


def check_bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(code_for("invalid", path), f"{path} must be a boolean", path, type_="boolean")
    return value


def check_int(
    value: Any, path: str, low: int, high: int | None = None, *, code: str | None = None
) -> int:
    """An integer in ``[low, high]`` (no upper bound when ``high`` is None)."""
    name = code or code_for("invalid", path)
    if not is_int(value):
        raise invalid(name, f"{path} must be an integer", path, type_="integer")
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise invalid(name, f"{path} must be {bounds}, got {value}", path, type_="integer")
    return int(value)


def check_str(
    value: Any, path: str, low: int = 0, high: int | None = None, *, length_code: str | None = None
) -> str:
    """A string of ``low``..``high`` characters."""
    if not isinstance(value, str):
        raise invalid(code_for("invalid", path), f"{path} must be a string", path, type_="string")
    if len(value) < low or (high is not None and len(value) > high):
        bounds = f"at least {low}" if high is None else f"{low} to {high}"
        raise invalid(
            length_code or code_for("invalid", path) + "Length",
            f"{path} must have {bounds} characters, got {len(value)}",
            path,
            type_="string",
        )
    return value


def check_enum(value: Any, path: str, allowed: Sequence[Any], *, code: str | None = None) -> Any:
    """One of ``allowed`` (compared with types: ``0`` is not ``False``)."""
    for option in allowed:
        if type(option) is type(value) and option == value:
            return value
    raise invalid(
        code or code_for("invalid", path),
        f"{path} must be one of {', '.join(map(repr, allowed))}, got {value!r}",
        path,
        allowed=allowed,
    )


def check_array(value: Any, path: str, low: int, high: int | None) -> list[Any]:
    """A JSON array of ``low``..``high`` items."""
    if not isinstance(value, list):
        raise invalid(code_for("invalid", path), f"{path} must be an array", path, type_="array")
    if len(value) < low:
        raise invalid("arrayTooSmall", f"{path} needs at least {low} item(s)", path, type_="array")
    if high is not None and len(value) > high:
        raise invalid(
            "arrayTooLarge",
            f"{path} takes at most {high} item(s), got {len(value)}",
            path,
            type_="array",
        )
    return value


def check_strings(value: Any, path: str, low: int, high: int | None) -> list[str]:
    """An array of ``low``..``high`` non-empty strings."""
    items = check_array(value, path, low, high)
    for index, item in enumerate(items):
        check_str(item, f"{path}[{index}]", 1)
    return [str(item) for item in items]


def check_url(value: Any, path: str) -> str:
    """An absolute http(s) URL."""
    text = check_str(value, path, 1)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid(
            code_for("invalid", path), f"{path} must be an http(s) URL", path, type_="string"
        )
    return text
