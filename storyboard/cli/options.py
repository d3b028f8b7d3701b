"""Options several commands share."""

from __future__ import annotations

import argparse


def add_wait_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--wait S``: how long to wait for another build of the project to finish."""
    parser.add_argument("--wait", type=seconds, default=0.0, metavar="S", help=help)


def seconds(text: str) -> float:
    """A number of seconds, 0 or more (``inf``: as long as it takes). ``nan`` waited for ever
    where the lock was held, and a negative number did not wait: both are refused."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 or more seconds")
    return value
