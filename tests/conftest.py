"""Shared fixtures: a simulator per test, on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tvframe import sim as tvsim


@pytest.fixture
def sim() -> Iterator[tvsim.SimHandle]:
    """A running simulator with default (free-plan) limits; TVFRAME_URL points at it."""
    with tvsim.running() as handle:
        yield handle
