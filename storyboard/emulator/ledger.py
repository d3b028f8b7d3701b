"""Accounting: what the emulator billed, and what it was asked.

The :class:`Ledger` has one entry per accepted videoInference job (``status="billed"``, the
charge taken when the job is accepted, as the service does, so a job whose answer was lost
is still paid for) and one per dry run (``status="dryRun"``, nothing charged, ``would_cost``
set, ``error`` set when the dry run was refused). A job that fails for the provider or for
moderation is refunded unless ``bill_failed`` is set: its entry becomes ``status="failed"``
and ``cost`` drops to the results it delivered. Tests assert "never paid twice" by counting
entries per taskUUID and summing ``cost``.

:class:`Stats` counts requests by task type, HTTP statuses, error codes and fired faults.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Literal

EntryStatus = Literal["billed", "dryRun", "failed"]


@dataclass(frozen=True)
class LedgerEntry:
    """One billed job or dry run."""

    task_uuid: str
    status: EntryStatus
    cost: float  # USD actually charged
    would_cost: float  # USD the job costs when it succeeds
    per_result: float
    seconds: int  # billed seconds per result
    rate: float
    number_results: int
    dry_run: bool
    time: float
    error: str | None = None  # the refusal of a dry run, or the failure of a job
    owner: str = ""  # the fingerprint of the API key (a taskUUID is unique per key only)

    def to_json(self) -> dict[str, Any]:
        return {
            "taskUUID": self.task_uuid,
            "status": self.status,
            "cost": self.cost,
            "wouldCost": self.would_cost,
            "costPerResult": self.per_result,
            "seconds": self.seconds,
            "rate": self.rate,
            "numberResults": self.number_results,
            "dryRun": self.dry_run,
            "time": self.time,
            "error": self.error,
        }


class Ledger:
    """Every billed job and dry run, in order (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LedgerEntry] = []

    def add(self, entry: LedgerEntry) -> LedgerEntry:
        with self._lock:
            self._entries.append(entry)
        return entry

    def settle_failure(
        self, owner: str, task_uuid: str, delivered: int, code: str, bill_failed: bool
    ) -> None:
        """Mark the owner's billed job ``task_uuid`` failed; refund what it did not deliver.

        Another API key's job of the same taskUUID is another job: it stays as it is.
        """
        with self._lock:
            for index, entry in enumerate(self._entries):
                if (
                    entry.task_uuid == task_uuid
                    and entry.owner == owner
                    and entry.status == "billed"
                ):
                    cost = entry.cost if bill_failed else round(entry.per_result * delivered, 4)
                    self._entries[index] = replace(entry, status="failed", cost=cost, error=code)

    def entries(self) -> list[LedgerEntry]:
        with self._lock:
            return list(self._entries)

    def total(self) -> float:
        """USD charged in all."""
        with self._lock:
            return round(sum(entry.cost for entry in self._entries), 4)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def to_json(self) -> dict[str, Any]:
        entries = self.entries()
        return {"entries": [e.to_json() for e in entries], "total": self.total()}


Group = Literal["tasks", "statuses", "errors", "faults", "deliveries", "downloads"]
GROUPS: tuple[Group, ...] = ("tasks", "statuses", "errors", "faults", "deliveries", "downloads")


class Stats:
    """Counters of what the emulator received and answered (thread-safe).

    Groups: ``tasks`` (task types received), ``statuses`` (HTTP statuses answered on
    ``/v1``), ``errors`` (error codes answered), ``faults`` (faults fired), ``deliveries``
    (webhook and upload attempts by outcome), ``downloads`` (GETs of stored files by
    outcome: ``served``, ``redirected``, ``forbidden``, ``missing``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._groups: dict[Group, Counter[str]] = {group: Counter() for group in GROUPS}

    def request(self, task_types: list[str]) -> None:
        with self._lock:
            self._requests += 1
            self._groups["tasks"].update(task_types)

    def count(self, group: Group, key: str) -> None:
        with self._lock:
            self._groups[group][key] += 1

    def clear(self) -> None:
        with self._lock:
            self._requests = 0
            for counter in self._groups.values():
                counter.clear()

    def to_json(self) -> dict[str, Any]:
        """``{"requests": N, "tasks": {type: n}, "statuses": {...}, "errors": {...}, ...}``."""
        with self._lock:
            out: dict[str, Any] = {"requests": self._requests}
            out.update({group: dict(counter) for group, counter in self._groups.items()})
            return out
