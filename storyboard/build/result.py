"""What a build prepared and what it did: :class:`Prepared` and :class:`BuildResult`.

Light on purpose (no compiler, no language models at import): a build with nothing to do
(:mod:`storyboard.build.noop`) answers with a :class:`BuildResult` whose :class:`Prepared` is
made only when first asked for.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storyboard.build.keep import Kept
    from storyboard.build.outcome import Outcome
    from storyboard.build.state.workspace import Workspace
    from storyboard.compiler.compile import Compiled
    from storyboard.compiler.plan import Plan


@dataclass(frozen=True)
class Prepared:
    """A storyboard compiled and planned against one backend's cache.

    ``planned`` is the plan, or what makes it when it is first asked for (:attr:`plan`): a
    build with nothing to do does not need it.
    """

    compiled: Compiled
    keys: dict[str, str]
    materials: dict[str, dict[str, Any]]
    workspace: Workspace
    planned: Plan | Callable[[], Plan] = field(repr=False)
    selected: set[str] | None
    kept: dict[str, Kept] = field(default_factory=dict)
    """The takes whose result the film keeps (``keep: true``), and that result."""
    records: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    """What the last build in this namespace made each take from (its key material)."""

    @functools.cached_property
    def plan(self) -> Plan:
        return self.planned() if callable(self.planned) else self.planned


@dataclass(frozen=True)
class BuildResult:
    """What a build did."""

    made: Prepared | Callable[[], Prepared] = field(repr=False)
    """The storyboard compiled and planned, or what makes it when it is first asked for
    (:attr:`prepared`): a build that did not need to check the storyboard did not."""
    outcomes: dict[str, Outcome]
    backend: str
    film: Path | None = None
    remote: dict[str, Any] | None = None
    """What the remote was sent, when the project has one: its URL, the takes pushed and
    those left queued."""
    place: Workspace | None = field(default=None, repr=False)
    """Where it built, when :attr:`made` is not made yet (see :attr:`workspace`)."""

    @functools.cached_property
    def prepared(self) -> Prepared:
        return self.made() if callable(self.made) else self.made

    @property
    def workspace(self) -> Workspace:
        """Where it built (the state and build folders), without making :attr:`prepared`."""
        return self.place if self.place is not None else self.prepared.workspace

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.status == "failed"]

    @property
    def skipped(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.status == "skipped"]

    @property
    def spent(self) -> float:
        return round(sum(o.cost for o in self.outcomes.values()), 4)

    @property
    def unselected(self) -> list[Outcome]:
        """Takes ``--select`` left out that are not built yet: not a failure."""
        return [o for o in self.outcomes.values() if o.status == "unselected"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped

    def to_json(self) -> dict[str, Any]:
        return {
            "storyboard": self.workspace.storyboard.name,
            "backend": self.backend,
            "ok": self.ok,
            "spent": self.spent,
            "build_dir": str(self.workspace.build_dir),
            "output_dir": str(self.workspace.output_dir),
            "film": str(self.film) if self.film else None,
            **({"remote": self.remote} if self.remote is not None else {}),
            "warnings": [w.to_json() for w in self.prepared.compiled.warnings],
            "takes": [
                {
                    "id": o.take,
                    "status": o.status,
                    "message": o.message,
                    "position": str(o.diagnostic.position)
                    if o.diagnostic is not None and o.diagnostic.position is not None
                    else None,
                    "cost": o.cost,
                    "files": [str(o.entry.path(i)) for i in range(len(o.entry.results))]
                    if o.entry
                    else [],
                }
                for o in self.outcomes.values()
            ],
        }
