"""Packages whose names load on first use (PEP 562), shared by :mod:`storyboard.media` and
:mod:`storyboard.cut`: ``check`` imports them for light pieces and must not pay for PyAV,
Pillow and numpy, which only their heavy functions need."""

from __future__ import annotations

import functools
import importlib
import re
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any


class _LazyPackage(types.ModuleType):
    """A package whose exported names stay what they are when a submodule of the same name
    loads (``probe``, ``assemble``): the import system binds each submodule it loads to its
    package's attribute, which would replace the function by its module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__.get("_lazy_exports", ()) and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


def lazy_package(package: str, exports: Mapping[str, str]) -> None:
    """Make ``package`` load each name of ``exports`` (name -> its submodule) on first use.

    Call it at the end of the package's ``__init__``, as ``lazy_package(__name__, EXPORTS)``.
    """
    module = sys.modules[package]

    def __getattr__(name: str) -> Any:
        submodule = exports.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{submodule}"), name)

    module.__dict__["_lazy_exports"] = exports
    module.__dict__["__getattr__"] = __getattr__
    module.__class__ = _LazyPackage


def compiled_when_used(pattern: str) -> Callable[[], re.Pattern[str]]:
    """``pattern``, compiled the first time the returned function is called, then kept.

    For an expression a command rarely needs (one about control characters, say, which only
    unusual text reaches): a character class of wide ranges takes 0.3 to 0.8 ms to compile,
    paid at every start when compiled at import (``storyboard check`` of one shot is 0.15 s)."""
    return functools.cache(functools.partial(re.compile, pattern))
