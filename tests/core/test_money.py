"""Money in one format (issue 17): every amount storyboard prints goes through ``usd``."""

from __future__ import annotations

from storyboard.core.money import usd


def test_dollars_with_four_decimals() -> None:
    assert [usd(0), usd(0.448), usd(0.56), usd(7.056), usd(12.5)] == [
        "$0.0000", "$0.4480", "$0.5600", "$7.0560", "$12.5000",
    ]  # fmt: skip


def test_thousands_are_grouped_and_signs_and_noise_are_clear() -> None:
    assert usd(1000) == "$1,000.0000"
    assert usd(1234567.891) == "$1,234,567.8910"
    assert usd(-0.1) == "-$0.1000"
    assert usd(-0.00001) == "$0.0000"  # never "-$0.0000"
    assert usd(0.00005) == "$0.0001"
