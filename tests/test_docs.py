"""The code of README.md and docs/ runs offline against the simulator, and its pictures are real.

Each page's Python blocks run in order, in one namespace, in a temporary working directory,
with a simulator started by the test (``TVFRAME_URL`` points at it, so nothing reaches
TradingView even when a block forgets to start its own). A block preceded by
``<!-- skip -->`` is not run (servers that never return, real TradingView, GUI windows).
"""

from __future__ import annotations

import doctest
import importlib.util
import re
import shlex
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import tvframe as tv
from tvframe.cli import main as cli_main
from tvframe.livefeed import LiveFeed
from tvframe.sim import SimHandle

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
SKIP = "<!-- skip -->"
#: The README's second set-up command: what .ci/run runs, verbatim.
TEST_COMMAND = 'pip install -e ".[test]" && python -m pytest'
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\s]*)")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown page."""

    lang: str
    line: int  # 1-based line of the first line of code
    code: str
    skipped: bool


def fenced_blocks(text: str) -> list[Block]:
    """The fenced blocks of ``text`` in order, dedented; ``skipped`` after a skip marker."""
    blocks: list[Block] = []
    lines = text.splitlines()
    previous = ""  # the last non-blank line outside blocks
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        end = i + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        body = [line[indent:] if line[:indent].isspace() else line for line in lines[i + 1 : end]]
        lang = opening["info"].lstrip("{.").lower()
        blocks.append(Block(lang, i + 2, textwrap.dedent("\n".join(body)), previous == SKIP))
        previous = ""
        i = end + 1
    return blocks


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]}


def python_blocks(page: Path) -> list[Block]:
    """The blocks of ``page`` the test runs."""
    return [
        b
        for b in fenced_blocks(page.read_text("utf-8"))
        if b.lang in ("python", "py") and not b.skipped
    ]


def pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def _load(name: str) -> ModuleType:
    """A module of docs/ (not a package), imported by path."""
    spec = importlib.util.spec_from_file_location(f"tvframe_docs_{name}", DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SimHandle]:
    """A simulator for the page, in a fresh working directory; nothing can reach TradingView."""
    monkeypatch.delenv("TVFRAME_TOKEN", raising=False)
    monkeypatch.delenv("TVFRAME_SEARCH_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with tv.sim.running() as handle:
        yield handle


def _release(namespace: dict[str, Any]) -> None:
    """Stop what the page's code left running: live feeds first, then its own simulators."""
    values = list(namespace.values())
    for value in values:
        if isinstance(value, LiveFeed):
            value.stop()
    for value in values:
        if isinstance(value, SimHandle):
            value.stop()


def run_page(page: Path) -> dict[str, Any]:
    """Run the page's Python blocks in order in one namespace; tracebacks name page lines."""
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    try:
        for block in python_blocks(page):
            # Padding with newlines makes traceback line numbers those of the page.
            source = "\n" * (block.line - 1) + block.code
            exec(compile(source, str(page), "exec"), namespace)
    finally:
        _release(namespace)
    return namespace


# --- the parser ------------------------------------------------------------------------


def test_blocks_are_found_with_their_lines_and_skip_markers() -> None:
    text = (
        "# Page\n\n```python\nx = 1\n```\n\n<!-- skip -->\n\n```python\nserve()\n```\n"
        "!!! note\n\n    ```py\n    y = x + 1\n    ```\n\n````markdown\n```python\nz\n```\n````\n"
        "~~~bash\nls\n~~~\n"
    )

    blocks = fenced_blocks(text)

    assert [(b.lang, b.line, b.code, b.skipped) for b in blocks] == [
        ("python", 4, "x = 1", False),
        ("python", 10, "serve()", True),
        ("py", 15, "y = x + 1", False),
        ("markdown", 19, "```python\nz\n```", False),
        ("bash", 24, "ls", False),
    ]


def test_every_guide_page_and_the_readme_have_code_to_run() -> None:
    bare = [
        _name(p) for p in [README, *sorted((DOCS / "guide").glob("*.md"))] if not python_blocks(p)
    ]
    assert (DOCS / "guide").is_dir() and not bare


# --- the pages ---------------------------------------------------------------------------


@pytest.mark.parametrize("page", [p for p in pages() if python_blocks(p)], ids=_name)
def test_page_code_runs_offline(page: Path, sim: SimHandle) -> None:
    namespace = run_page(page)

    assert sim.stats.connections >= 1 or any(
        isinstance(v, SimHandle) for v in namespace.values()
    ), "the page's code never used a simulator"


def test_readme_set_up_commands_are_what_ci_runs(
    sim: SimHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    [first, *_] = fenced_blocks(README.read_text("utf-8"))
    demo, tests, *_ = first.code.splitlines()

    assert first.lang in ("bash", "sh", "shell", "console")
    assert tests == TEST_COMMAND
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
    install, command = (part.strip() for part in demo.split("&&", 1))
    assert install == "pip install ."
    program, *args = shlex.split(command)
    assert program == "tvframe"
    # The demo's command itself, in-process: it must work offline and print bars.
    assert cli_main(args) == 0
    assert "NASDAQ:AAPL" in capsys.readouterr().out


# --- the pictures ------------------------------------------------------------------------


def _pixels(path: Path) -> np.ndarray:
    image = pytest.importorskip("matplotlib.image")
    pixels: np.ndarray = image.imread(path)[..., :3]
    return pixels


def _colours(pixels: np.ndarray) -> int:
    """How many distinct colours an image has (packed to one integer per pixel: fast)."""
    rgb = np.rint(pixels * 255).astype(np.uint32)
    return len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]))


def _has_colour(pixels: np.ndarray, colour: str) -> bool:
    from matplotlib.colors import to_rgb

    return bool(np.isclose(pixels, to_rgb(colour), atol=0.02).all(axis=-1).any())


def test_charts_of_the_docs_and_the_readme_picture_are_drawn_by_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from tvframe.plot import DOWN_COLOR, UP_COLOR

    hooks = _load("hooks")
    committed = DOCS / "images" / hooks.README_CHART

    made = hooks.render_charts(tmp_path)

    assert set(made) == {chart.name for chart in hooks.CHARTS}
    for path in made.values():
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and 20_000 < len(data) < 1_000_000
        pixels = _pixels(path)
        assert pixels.shape[1] == 1200 and pixels.shape[0] >= 450
        assert _colours(pixels) > 10
        assert _has_colour(pixels, UP_COLOR) and _has_colour(pixels, DOWN_COLOR)
    # The README shows the committed copy: it must be what the same code draws now (up to
    # anti-aliasing between matplotlib versions). If not: python docs/hooks.py rewrites it.
    assert f"](docs/images/{hooks.README_CHART})" in README.read_text("utf-8")
    fresh, kept = _pixels(made[hooks.README_CHART]), _pixels(committed)
    assert fresh.shape == kept.shape
    differs = np.abs(fresh - kept).max(axis=-1) > 0.1
    assert differs.mean() < 0.03, f"{committed} is stale: run python docs/hooks.py"


def test_bench_readme_is_included_with_site_links() -> None:
    hooks = _load("hooks")
    text = "# Bench\n\n## Run\n\n```bash\n# a comment\n```\n\n![plot](results/x.png) [s](run.py)\n"

    included = hooks.include_bench(text)

    assert included == (
        "### Run\n\n```bash\n# a comment\n```\n\n![plot](bench/results/x.png) s (`bench/run.py`)\n"
    )
    real = hooks.include_bench((ROOT / "bench" / "README.md").read_text("utf-8"))
    assert not real.startswith("# ") and "\n# " not in real.split("```")[0]


@pytest.mark.parametrize("name", ["hooks", "griffe_roles"])
def test_examples_of_the_docs_tooling_hold(name: str) -> None:
    if name == "griffe_roles":
        pytest.importorskip("griffe")

    results = doctest.testmod(_load(name))

    assert results.attempted >= 1 and results.failed == 0


def test_sphinx_roles_become_optional_links_and_examples_code() -> None:
    griffe = pytest.importorskip("griffe")
    roles = _load("griffe_roles")
    module = griffe.Module("tvframe")

    text = roles.convert(
        "Use :func:`~tvframe.facade.history` or :class:`Missing`.\n\nExample:\n    >>> 1\n",
        module,
    )

    assert text == (
        'Use <autoref identifier="tvframe.facade.history" optional><code>history()</code>'
        "</autoref> or <code>Missing</code>.\n\nExamples:\n    >>> 1\n"
    )
