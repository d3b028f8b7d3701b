"""Giving memory back: the C heap's free pages returned to the system; and fewer passes of
Python's garbage collector while the front of the pipeline builds its objects.

Used by the stages that open many media files in one process (the cut's index and its sound,
the contact sheet): each open and decode allocates libavformat's and libavcodec's buffers
between objects that stay, and when they are freed, glibc's malloc keeps the pages for itself
unless asked. Indexing 1,000 preview takes peaked at 197 MB of resident memory, 116 MB when
given back every 64 takes (M1 in docs/performance.md).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import threading
from collections.abc import Callable, Iterator


def give_back_memory() -> None:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``; elsewhere,
    nothing). Costs a walk of the heap's free chunks: call it every few dozen files."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    import ctypes

    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


COLLECT_EVERY = 100_000
"""New objects between two passes of the garbage collector's youngest generation while
:func:`fewer_collections` holds (Python's default is 700)."""

_collecting = threading.Lock()
_holders = 0
_threshold: tuple[int, int, int] = gc.get_threshold()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run Python's cyclic garbage collector less often inside the block: every
    :data:`COLLECT_EVERY` new objects instead of 700.

    For the front of the pipeline (load, validate, compile): it makes many objects that live
    until it ends (the document and its positions, the shots, the takes), and every pass over
    the oldest generation walks all of them again, about 8% of a check of 2,000 shots. The
    previous thresholds come back when the last block (of any thread) ends."""
    global _holders, _threshold
    with _collecting:
        if _holders == 0:
            _threshold = gc.get_threshold()
            gc.set_threshold(COLLECT_EVERY, *_threshold[1:])
        _holders += 1
    try:
        yield
    finally:
        with _collecting:
            _holders -= 1
            if _holders == 0:
                gc.set_threshold(*_threshold)


_pausing = threading.Lock()
_pausers = 0
_was_enabled = True


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector inside the block, and let it run again (if it
    ran before) when the last block (of any thread) ends.

    For a block that makes a large tree of objects and drops it before it ends: a YAML file's
    composed nodes, which the loader turns into plain values and lets go. A pass of the
    collector while the tree is alive walks all of it (10 to 23 ms, once, in a check of 2,000
    shots) to free nothing, as reference counting frees it when the block ends. Such a block
    must be bounded in what it makes (the loader's are, by the size caps on files and on what
    aliases expand to): whatever cycles it leaves are collected after it."""
    global _pausers, _was_enabled
    with _pausing:
        if _pausers == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pausers += 1
    try:
        yield
    finally:
        with _pausing:
            _pausers -= 1
            if _pausers == 0 and _was_enabled:
                gc.enable()


_ends_with_the_command = False


def the_process_ends_with_the_command() -> None:
    """Say that this process ends as soon as the command it runs does, without freeing
    anything (:data:`storyboard.cli.main.ENDS_AT_ONCE`): what the command keeps, it keeps
    until then (see :func:`kept_until_exit`). Only the command line's entry point says so."""
    global _ends_with_the_command
    _ends_with_the_command = True


def kept_until_exit() -> None:
    """When the process ends with the command (:func:`the_process_ends_with_the_command`),
    put every object the garbage collector tracks now out of its reach (``gc.freeze``): it
    never walks them again, and they are freed by reference counting alone (a cycle among
    them lives until the process ends, which is soon). Otherwise nothing.

    Called once a storyboard is loaded: the document (its values and their positions, about
    40,000 objects for 2,000 shots) and the modules are then not walked again; a check of
    2,000 shots made one pass of 10 to 23 ms over them before, to find them all alive. In a
    process that goes on (a build, ``watch``, a program using the API) they stay in the
    collector's reach, as they must: they become garbage later."""
    if _ends_with_the_command:
        gc.freeze()
