"""Rewrite every golden case's ``expected.txt`` from the current output (``make golden``).

Review the diff before committing it: each changed line is a changed diagnostic.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.golden.harness import case_names, expected_path, expected_status, run_case


def main(names: list[str]) -> int:
    changed = 0
    for name in names or case_names():
        with tempfile.TemporaryDirectory() as tmp:
            outcome = run_case(name, Path(tmp))
        path = expected_path(name)
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        if outcome.status != expected_status(name) or outcome.written:
            print(f"warning: {name}: exit status {outcome.status}, wrote {list(outcome.written)}")
        if old != outcome.stderr:
            path.write_text(outcome.stderr, encoding="utf-8")
            changed += 1
            print(f"updated {name}")
    print(f"{changed} expected file(s) updated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
