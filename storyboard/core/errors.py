"""The exception tree of storyboard. Every error the library raises is one of these.

::

    StoryboardError                      base; ``exit_code`` tells the CLI what to return
     +-- InputError (exit 2)             the storyboard or the command line is wrong;
     |                                   carries every Diagnostic found, nothing was sent
     +-- BuildError (exit 1)             a take failed, a cut could not be written, ...
          +-- ProviderError (exit 1)     the video service refused or failed a request
          +-- LateInputError (exit 1)    a mistake in the storyboard found only once takes
                                         were made (a length known only then): exit 1,
                                         never 2, since something may have been paid for

Foreign exceptions are wrapped at the boundary (``raise InputError(...) from exc``); the CLI
maps this tree to exit codes in one place and treats anything else as a bug.
"""

from __future__ import annotations

from collections.abc import Iterable

from storyboard.core.diagnostics import Diagnostic, Position, render_all


class StoryboardError(Exception):
    """Base of every error storyboard raises on purpose."""

    exit_code = 1


class InputError(StoryboardError):
    """The input is invalid; ``diagnostics`` lists every problem found, with positions."""

    exit_code = 2

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__(render_all(self.diagnostics))

    @classmethod
    def at(cls, position: Position | None, message: str) -> InputError:
        """An InputError with one diagnostic."""
        return cls([Diagnostic(position, message)])


class BuildError(StoryboardError):
    """A build could not finish; the message says what failed and how to resume."""

    exit_code = 1


class ProviderError(BuildError):
    """The video service refused or failed a request."""


class LateInputError(BuildError):
    """A mistake in the storyboard that could only be found after takes were made: the cut
    does not fit a video whose length was known only once it was made (an edit of a remote
    video). Exit status 1, not 2: status 2 says nothing was sent, and this build may have
    paid. ``diagnostics`` say where, as an :class:`InputError`'s do."""

    def __init__(self, diagnostics: Iterable[Diagnostic], message: str) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__(message)
