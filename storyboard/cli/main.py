"""``main(argv) -> exit status``: parse the command line, run one command, map errors to codes.

Exit status: 0 success, 1 a build or provider failure (or a mistake in the storyboard found
only after something was sent), 2 invalid input (usage or storyboard errors; nothing sent).
Every command lives in its own ``cmd_*.py`` module exposing ``register(subparsers)``; imports
of the heavy stages happen inside the command functions, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from storyboard import __version__
from storyboard.core.diagnostics import printable
from storyboard.core.errors import InputError, LateInputError, StoryboardError

# Order is the order of `storyboard --help`.
COMMAND_MODULES = (
    *("check", "fmt", "compile", "plan", "build", "watch", "report", "review"),
    *("push", "pull", "remote"),
    *("clean", "doctor", "init", "graph", "deps", "schema", "emulator"),
)

BUG_REPORT = (
    "this is a bug in storyboard {version}, not in your storyboard. Please report it {where}, "
    "with the command you ran and the lines above."
)
README_SECTION = "as the 'Reporting a bug' section of storyboard's README.md says"
"""Where to report when the installed package names no issue tracker (``[project.urls]``)."""
_TRACKER_LABELS = ("issues", "bug tracker", "bugs", "issue tracker")


def bug_report_address() -> str | None:
    """The issue tracker the installed package's metadata names (``[project.urls]``, labelled
    Issues or Bug Tracker), if any: never an address nobody wrote down."""
    import importlib.metadata  # 25 ms to import; needed only to report a bug

    try:
        entries = importlib.metadata.metadata("storyboard").get_all("Project-URL") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in entries:
        label, _, url = str(entry).partition(",")
        if label.strip().lower() in _TRACKER_LABELS and url.strip().startswith("https://"):
            return url.strip()
    return None


def bug_report() -> str:
    """The internal-error message: what happened, and where to report it."""
    address = bug_report_address()
    where = f"at {address}" if address else README_SECTION
    return BUG_REPORT.format(version=__version__, where=where)


def _columns() -> int:
    """The terminal's width as :func:`shutil.get_terminal_size` reads it (``COLUMNS``, then the
    terminal of standard output, else 80), without importing :mod:`shutil` (with ``bz2`` and
    ``lzma``), which argparse's formatter does for every command, help or not: 3 ms."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, told the width (see :func:`_columns`); argparse takes two off."""

    def __init__(self, prog: str, **options: Any) -> None:
        options.setdefault("width", _columns() - 2)
        super().__init__(prog, **options)


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors in our `error:` style (still exit status 2)."""

    def __init__(self, *args: Any, **options: Any) -> None:
        options.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **options)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"storyboard: error: {printable(message)}\n")
        raise SystemExit(2)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``command``, that command's only (``main`` knows it
    from the first argument: the other twelve need not be imported and registered, about
    10 ms of a 0.17 s ``check``)."""
    parser = _Parser(
        prog="storyboard",
        description="Turn a film written as YAML into a finished video.",
    )
    parser.add_argument("--version", action="version", version=f"storyboard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES if command is None else (command,):
        module = importlib.import_module(f"storyboard.cli.cmd_{name}")
        module.register(sub)
    return parser


def _without_plugin_loader() -> None:
    """With pydantic's plugins off (``PYDANTIC_DISABLE_PLUGINS=__all__``), spare the command
    the import of pydantic's plugin loader, which imports ``importlib.metadata`` (and through
    it ``email``, ``zipfile``, ``csv``, ``socket``...) only to find that plugins are off: about
    10 ms of a 0.2 s ``check``. Its stand-in answers ``get_plugins()`` as the real one does
    then, with no plugins, and hands any other name to the real module (imported then), so a
    pydantic that asks it for more still gets it. Done only in a process that has not loaded
    the loader yet (a command's own); never when plugins may be on."""
    name = "pydantic.plugin._loader"
    if os.environ.get("PYDANTIC_DISABLE_PLUGINS") != "__all__" or name in sys.modules:
        return
    import types

    stand_in = types.ModuleType(name, "pydantic's plugin loader, with plugins off")

    def get_plugins() -> tuple[()]:
        return ()

    def real(attribute: str) -> object:
        if attribute.startswith("__"):  # what the import system asks of any module
            raise AttributeError(attribute)
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        return getattr(importlib.import_module(name), attribute)

    stand_in.get_plugins = get_plugins  # type: ignore[attr-defined]
    setattr(stand_in, "__getattr__", real)  # noqa: B010 (a module's own __getattr__, PEP 562)
    sys.modules[name] = stand_in


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # pydantic looks for plugins among the entry points of every installed distribution the
    # first time it makes a validator (7 ms of a 0.15 s `check` with this project's
    # development tools installed); a plugin (an observability hook) has no business in the
    # command's own validation. PYDANTIC_DISABLE_PLUGINS set to anything else is kept.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    _without_plugin_loader()
    first = _command_of(argv)
    if first not in ENDS_AT_ONCE:
        return _run(argv, first)
    from storyboard.core.memory import fewer_collections

    # a short command that makes many objects that live until it ends (the modules, the
    # validators pydantic builds, the document): fewer passes of the garbage collector over
    # them, 8 ms of a one-shot check's 0.16 s
    with fewer_collections():
        return _run(argv, first)


def _command_of(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option."""
    return next((a for a in argv if not a.startswith("-")), None)


def _run(argv: list[str], first: str | None) -> int:
    """:func:`main`'s work: ``argv`` parsed and its command run, errors turned into statuses."""
    parser = build_parser(first if first in COMMAND_MODULES else None)
    args = parser.parse_args(argv)
    global ran
    ran = args.command
    try:
        status: int = args.func(args)
        return status
    except InputError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic.render(), file=sys.stderr)
        count = len(exc.diagnostics)
        print(f"{count} error{'s' if count != 1 else ''}", file=sys.stderr)
        return exc.exit_code
    except LateInputError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic.render(), file=sys.stderr)
        print(f"storyboard: error: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except StoryboardError as exc:
        print(f"storyboard: error: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("storyboard: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception:
        import traceback  # only for a bug: 2 ms of every command's start otherwise

        traceback.print_exc()
        print(f"storyboard: internal error: {bug_report()}", file=sys.stderr)
        return 3


ran: str | None = None
"""The command :func:`main` ran last (see :func:`entry`)."""

ENDS_AT_ONCE = frozenset({"check", "plan", "compile", "fmt", "deps", "graph", "schema"})
"""Commands after which the process ends without finalizing the interpreter, once their output
is flushed (see :func:`entry`). None of them starts a thread or a child process, and every file
one writes is written whole, closed and renamed before it returns: finalizing would only free
memory, module by module, which took 20 to 25 ms of a 0.2 s ``storyboard check`` (a fifth of
what the command costs beyond ``python -c pass``; docs/performance.md, S1)."""

stopped_by_ctrl_c = False
"""Set by a command that stops on Ctrl-C and returns its own status (``watch``, ``review``,
``build``, through :meth:`storyboard.cli.interrupt.CtrlC.stopped`):
the process then ends without finalizing the interpreter, as after a remote (see
:func:`entry`)."""


def entry() -> NoReturn:
    """The ``storyboard`` command: :func:`main`, then exit with its status.

    After a command that used a remote, the process ends without finalizing the interpreter
    (``os._exit``, once the output is flushed): obstore's Rust runtime keeps worker threads
    that can race Python's finalization and abort the process (SIGABRT, exit 134) after the
    command has finished and said so; about 1 run in 20 of ``storyboard remote`` against
    moto on loopback did (see PyO3/pyo3-async-runtimes#40). Nothing is left to do by then: a
    build waits for its pushes, and storyboard registers no exit handlers.

    A command that stops on Ctrl-C and says so (``watch``, ``review``, ``build``:
    :data:`stopped_by_ctrl_c`) ends the same way. The ``KeyboardInterrupt`` it caught could
    still make CPython end the process by SIGINT once the interpreter was finalized (exit -2
    where the command returned 0): 9 runs in 30 of a ``watch`` stopped during a build did, 0
    in 30 since (strace showed CPython's exit-by-SIGINT after ``watch stopped`` was
    printed). A build stopped so is what a kill leaves, which the next build clears. (A
    Ctrl-C that Python loses, or that comes out as another exception, is
    :mod:`storyboard.cli.interrupt`'s.)

    So do the commands of :data:`ENDS_AT_ONCE`, which have nothing left to do: for them the
    interpreter's finalization is only time. What such a command keeps, it keeps until
    then: :func:`~storyboard.core.memory.kept_until_exit` may put it out of the garbage
    collector's reach.
    """
    if _command_of(sys.argv[1:]) in ENDS_AT_ONCE:
        from storyboard.core.memory import the_process_ends_with_the_command

        the_process_ends_with_the_command()
    status = main()
    if "obstore" in sys.modules or stopped_by_ctrl_c or ran in ENDS_AT_ONCE:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(status)
    sys.exit(status)
