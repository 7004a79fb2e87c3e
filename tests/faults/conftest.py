"""Fixtures of the reliability suite: each test's measured figures, for docs/reliability.md."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.figures import Figures, open_figures


@pytest.fixture
def figures(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Figures]:
    """Record what the test measured: ``figures.record("fault", bars=..., reconnects=...)``."""
    yield from open_figures(request, tmp_path_factory)
