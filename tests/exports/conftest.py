"""Fixtures of the export tests."""

from __future__ import annotations

import pytest

from tests.exports.film import Built, make_film


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The tiny film, built once per module (tests must not change its files)."""
    return make_film(tmp_path_factory.mktemp("film") / "project")
