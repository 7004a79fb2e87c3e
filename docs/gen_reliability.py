"""Render the table of docs/reliability.md from a run of the reliability suite.

The tests record what they measure through their ``figures`` fixture into
``<pytest basetemp>/reliability.jsonl``; pytest's JUnit XML says how each test ended. This
script runs the suite (or reads a run already made), joins the two, and rewrites the part of
``docs/reliability.md`` between the ``figures`` markers. Nothing in the table is typed by hand.

Usage (from the repository root)::

    python docs/gen_reliability.py                  # run tests/faults + the fuzz file, rewrite
    python docs/gen_reliability.py --soak 0.25      # the same, with the soak at that scale
    python docs/gen_reliability.py --from DIR       # render a run kept in DIR (no pytest run)

A run kept in ``DIR`` is one made with ``--basetemp=DIR/tmp --junitxml=DIR/junit.xml``.

Example:
    >>> row = Row("tests/faults/test_x.py::test_y", "passed", "a drop", {"bars": 3})
    >>> render([row]).splitlines()[2]
    '| test_x | a drop | passed | bars 3 |'
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
SUITE = ["tests/faults", "tests/protocol/test_fuzz.py"]
FIGURES = "reliability.jsonl"
JUNIT = "junit.xml"
START = "<!-- figures:start (docs/gen_reliability.py writes this part) -->"
END = "<!-- figures:end -->"


@dataclass(frozen=True)
class Row:
    """One test in the table: its id, how it ended, the fault it tried and what it measured."""

    test: str
    outcome: str
    fault: str
    figures: dict[str, Any]


def run_suite(into: Path, soak: float | None) -> None:
    """Run the suite with its figures and JUnit report kept in ``into``."""
    command = [sys.executable, "-m", "pytest", *SUITE, "-q", "-p", "no:cacheprovider"]
    command += [f"--basetemp={into / 'tmp'}", f"--junitxml={into / JUNIT}"]
    env = dict(os.environ)
    if soak is not None:
        command += ["-m", "soak or not soak"]
        env["TVFRAME_SOAK_SCALE"] = str(soak)
    subprocess.run(command, cwd=ROOT, env=env, check=False)


def outcomes(junit: Path) -> dict[str, str]:
    """``test id -> passed | failed | xfailed (BUG: …) | skipped``, from pytest's JUnit XML."""
    found: dict[str, str] = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        path = case.get("classname", "").replace(".", "/") + ".py"
        test = f"{path}::{case.get('name', '')}"
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            found[test] = "**failed**"
        elif skipped is not None and skipped.get("type") == "pytest.xfail":
            found[test] = f"xfailed — {skipped.get('message', '')}"
        elif skipped is not None:
            found[test] = "skipped"
        else:
            found[test] = "passed"
    return found


def read_figures(path: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """``test id -> (fault, figures)`` from the JSON lines the tests wrote."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    if path.exists():
        for line in path.read_text("utf-8").splitlines():
            entry = json.loads(line)
            found[entry["test"]] = (entry["fault"], entry["figures"])
    return found


def rows(results: dict[str, str], figures: dict[str, tuple[str, dict[str, Any]]]) -> list[Row]:
    """Every test that measured something, ended as a known bug, or belongs to tests/faults."""
    out: list[Row] = []
    for test, outcome in results.items():
        fault, values = figures.get(test, ("", {}))
        if values or fault or outcome.startswith("xfailed") or test.startswith("tests/faults"):
            out.append(Row(test, outcome, fault or _title(test), values))
    return out


def _title(test: str) -> str:
    name, bracket, params = test.split("::")[-1].removeprefix("test_").partition("[")
    return name.replace("_", " ") + bracket + params


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _figures_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in values.items()) or "—"


def render(table: Iterable[Row]) -> str:
    """The markdown table: area (test file), fault or input, outcome, figures measured.

    A bug's reason is written out the first time only; later tests of it refer back.
    """
    lines = [
        "| area | fault or bad input | outcome | figures measured |",
        "|---|---|---|---|",
    ]
    told: set[str] = set()
    for row in table:
        area = row.test.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        outcome = row.outcome
        if outcome.startswith("xfailed") and outcome in told:
            outcome = "xfailed — the bug above"
        told.add(row.outcome)
        lines.append(
            f"| {area} | {_cell(row.fault)} | {_cell(outcome)} | "
            f"{_cell(_figures_text(row.figures))} |"
        )
    return "\n".join(lines)


def summary(table: Sequence[Row]) -> str:
    """One line: how many tests, and how they ended."""
    count: dict[str, int] = {}
    for row in table:
        kind = row.outcome.split(" ")[0].strip("*")
        count[kind] = count.get(kind, 0) + 1
    parts = ", ".join(f"{n} {kind}" for kind, n in sorted(count.items()))
    return f"{len(table)} tests in the table: {parts}."


def rewrite(doc: str, table: Sequence[Row]) -> str:
    """``doc`` with the part between the markers replaced by the table of ``table``."""
    head, _, rest = doc.partition(START)
    _, _, tail = rest.partition(END)
    if not rest:
        raise SystemExit(f"{DOC} lacks the marker {START!r}")
    return f"{head}{START}\n{summary(table)}\n\n{render(table)}\n{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run (or read) the suite, then rewrite docs/reliability.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", type=Path, help="a run kept in this folder")
    parser.add_argument("--soak", type=float, help="also run the soak at this scale")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        source: Path = args.source or Path(scratch)
        if args.source is None:
            run_suite(source, args.soak)
        table = rows(outcomes(source / JUNIT), read_figures(source / "tmp" / FIGURES))
    DOC.write_text(rewrite(DOC.read_text("utf-8"), table), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
