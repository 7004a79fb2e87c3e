"""What each reliability test measured, kept for ``docs/gen_reliability.py``.

Tests take a ``figures`` fixture and call ``figures.record("the fault", bars=…, …)``; at
teardown the record is appended as one JSON line to ``reliability.jsonl`` in pytest's base
temporary directory. No heavy import here: the protocol tests use it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

__all__ = ["FIGURES_FILE", "Figures", "open_figures"]

#: Where each test's figures go, under pytest's base temporary directory.
FIGURES_FILE = "reliability.jsonl"


@dataclass
class Figures:
    """What one test measured, written as a JSON line for ``docs/gen_reliability.py``."""

    test: str
    fault: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    def record(self, fault: str | None = None, **values: Any) -> None:
        """Set the fault's description and add measured figures (later calls add more)."""
        if fault is not None:
            self.fault = fault
        self.values.update(values)


def open_figures(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Figures]:
    """The body of a ``figures`` fixture: the test records, teardown appends the JSON line."""
    figures = Figures(request.node.nodeid)
    yield figures
    if figures.fault or figures.values:
        line = json.dumps(
            {"test": figures.test, "fault": figures.fault, "figures": figures.values},
            default=str,
        )
        with (tmp_path_factory.getbasetemp() / FIGURES_FILE).open("a", encoding="utf-8") as out:
            out.write(line + "\n")
