"""dbt-style selectors for ``plan`` and ``build``: ``SHOT``, ``+SHOT``, ``SHOT+``, ``+SHOT+``.

``+`` before a name adds everything it needs (its ancestors), after it everything that needs
it (its descendants). Names are shot ids (or take ids); each selects the take that makes it.
"""

from __future__ import annotations

from collections.abc import Sequence

from storyboard.compiler.resolve import Resolved
from storyboard.core.diagnostics import Diagnostic, did_you_mean
from storyboard.core.errors import InputError


def select_takes(resolved: Resolved, selectors: Sequence[str]) -> set[str] | None:
    """The take ids the selectors name; ``None`` (everything) when there are none.

    Raises:
        InputError: a selector names no shot or take.
    """
    if not selectors:
        return None
    graph = resolved.graph
    chosen: set[str] = set()
    problems = []
    names = set(resolved.take_of_shot) | {t.id for t in resolved.takes}
    for selector in selectors:
        for part in selector.split(","):
            name = part.strip().strip("+")
            up, down = part.strip().startswith("+"), part.strip().endswith("+")
            take = resolved.take_of_shot.get(name) or (name if name in graph else None)
            if take is None:
                problems.append(
                    Diagnostic(
                        None, f"--select: no shot or take '{name}'{did_you_mean(name, names)}"
                    )
                )
                continue
            chosen.add(take)
            if up:
                chosen |= graph.ancestors(take)
            if down:
                chosen |= graph.descendants(take)
    if problems:
        raise InputError(problems)
    return chosen
