"""MkDocs hooks: the docs' charts, drawn at build time, and the benchmark results page.

- Charts: :func:`render_charts` starts the built-in simulator, fetches each chart's bars with
  ``tv.history`` and draws them with ``df.tv.plot``; the PNGs are added to the site as
  ``images/generated/<name>`` (nothing is written into ``docs/``). The README's picture is the
  committed ``docs/images/<README_CHART>``, made by the same code: ``python docs/hooks.py``
  rewrites it (tests/test_docs.py checks that it is current).
- Performance: the marker ``<!-- include bench/README.md -->`` in a page is replaced by the
  benchmark README, its headings one level down, its links to ``results/`` files kept (those
  files are added to the site) and its links to scripts turned into code.

Everything runs offline; matplotlib is the only extra it needs (``tvframe[plot]``).
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files
    from mkdocs.structure.pages import Page

__all__ = [
    "CHARTS",
    "GENERATED",
    "README_CHART",
    "Chart",
    "include_bench",
    "on_files",
    "on_page_markdown",
    "render_charts",
]

ROOT = Path(__file__).resolve().parents[1]
#: Where the charts land in the site.
GENERATED = "images/generated"
#: The chart the README shows, committed under docs/images/.
README_CHART = "aapl-1d-rsi.png"
BENCH = ROOT / "bench"
_INCLUDE = "<!-- include bench/README.md -->"
_LINK = re.compile(r"(!?\[[^\]]*\])\((?P<target>[^)\s]+)\)")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Chart:
    """One chart of the docs: which bars, which indicators.

    Attributes:
        name: the PNG's file name.
        symbol: ``EXCHANGE:SYMBOL``.
        interval: the bar interval.
        n_bars: how many bars.
        indicators: indicator names joined as columns (each gets a pane).
    """

    name: str
    symbol: str
    interval: str
    n_bars: int
    indicators: tuple[str, ...] = ()


#: The charts of the docs: candles + volume + RSI; + MACD; an index without volume.
CHARTS: tuple[Chart, ...] = (
    Chart(README_CHART, "NASDAQ:AAPL", "1d", 120, ("RSI",)),
    Chart("btcusdt-1h-macd.png", "BINANCE:BTCUSDT", "1h", 150, ("MACD",)),
    Chart("spx-1d.png", "SP:SPX", "1d", 120),
)


def render_charts(directory: Path, charts: Sequence[Chart] = CHARTS) -> dict[str, Path]:
    """Draw ``charts`` into ``directory`` against a simulator of their own; name -> PNG path.

    Example:
        >>> paths = render_charts(Path(tempfile.mkdtemp()))  # doctest: +SKIP
    """
    import tvframe as tv

    written: dict[str, Path] = {}
    with tv.sim.running() as sim:
        for chart in charts:
            # Any: the .tv accessor is registered at run time, pandas-stubs cannot know it.
            frame: Any = tv.history(chart.symbol, chart.interval, chart.n_bars, url=sim.url)
            if chart.indicators:
                frame = frame.tv.join_indicator(*chart.indicators, url=sim.url)
            path = directory / chart.name
            frame.tv.plot(path)
            written[chart.name] = path
    return written


def _bench_files() -> Iterator[Path]:
    results = BENCH / "results"
    if results.is_dir():
        yield from sorted(p for p in results.rglob("*") if p.is_file())


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the charts and the benchmark result files to the site."""
    from mkdocs.structure.files import File

    with tempfile.TemporaryDirectory() as folder:
        for name, path in render_charts(Path(folder)).items():
            files.append(File.generated(config, f"{GENERATED}/{name}", content=path.read_bytes()))
    for path in _bench_files():
        uri = path.relative_to(ROOT).as_posix()
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def _bench_link(match: re.Match[str]) -> str:
    label, target = match[1], match["target"]
    if re.match(r"^[a-z][a-z0-9+.-]*:|^#", target):  # absolute URL or anchor: as it is
        return match[0]
    if (BENCH / target).resolve().is_relative_to(BENCH / "results"):
        return f"{label}(bench/{target})"
    # A script or folder of the repository is not part of the site: name it instead.
    return f"{label.lstrip('!')[1:-1]} (`bench/{target}`)"


def include_bench(text: str) -> str:
    """The bench README as a part of a page: first heading dropped, the others one level down.

    Example:
        >>> include_bench("# Benchmarks\\n\\n## JSON\\n\\n[run](run.py)\\n")
        '### JSON\\n\\nrun (`bench/run.py`)\\n'
    """
    lines: list[str] = []
    fenced = dropped = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            if not dropped and line.startswith("# "):
                dropped = True
                continue
            line = "#" + line
        elif not fenced:
            line = _LINK.sub(_bench_link, line)
        lines.append(line)
    return "\n".join(lines).strip() + "\n"


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Replace the bench include marker with the benchmark README."""
    if _INCLUDE not in markdown:
        return markdown
    return markdown.replace(_INCLUDE, include_bench((BENCH / "README.md").read_text("utf-8")))


def main() -> int:
    """``python docs/hooks.py``: rewrite the README's committed chart."""
    target = ROOT / "docs" / "images"
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        [made] = render_charts(Path(folder), [c for c in CHARTS if c.name == README_CHART]).values()
        (target / README_CHART).write_bytes(made.read_bytes())
    print(f"wrote {target / README_CHART}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
