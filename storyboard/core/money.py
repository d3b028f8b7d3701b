"""Money as people read it: one format everywhere, ``$0.4480``.

Every amount storyboard prints (the plan, the build's progress and its last line, refusals
over ``--max-cost``, the client's messages) goes through :func:`usd`: dollars with four
decimals, Runware's own precision, so that two figures of one build line up and compare
at a glance (``$7.0560`` beside ``$0.5600``, never ``$7.056`` beside ``$0.56``).
"""

from __future__ import annotations


def usd(amount: float) -> str:
    """``amount`` dollars as ``$0.4480`` (``$1,000.0000`` with thousands grouped, ``-$0.1000``
    below zero, ``$0.0000`` for nothing)."""
    text = f"{abs(amount):,.4f}"
    if text == "0.0000":
        return "$0.0000"
    return f"-${text}" if amount < 0 else f"${text}"
