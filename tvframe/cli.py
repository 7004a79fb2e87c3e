"""``tvframe`` on the command line: history, live, quote, search, sim and demo.

Rules of this module:
- one small function per command; tables are drawn by :mod:`tvframe.terminal`;
- ``--sim`` runs a command against an in-process simulator (on a real-time clock for the
  live tables, so their bars move);
- errors are one line on stderr and a non-zero exit code, never a traceback: a tvframe error
  exits 2 (as bad usage does), a file that cannot be written 1, Ctrl-C 130, except where
  Ctrl-C is the way out (``live``, ``quote --watch``, ``sim``): 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, cast

from tvframe import __version__
from tvframe.errors import TvFrameError

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from tvframe.livefeed import LiveFeed
    from tvframe.sim import Simulator

__all__ = ["main"]

# Seconds between two redraws of a live table at most, and between two checks that it runs.
_REDRAW_PERIOD = 0.25
_IDLE_CHECK = 1.0
# Wall seconds between two pushes of the in-process simulator behind a live table.
_SIM_UPDATE_PERIOD = 0.25
_QUOTE_FIELDS = ["last", "change", "change_pct", "bid", "ask", "time", "pricescale"]
_DEMO_SYMBOLS = ["NASDAQ:AAPL", "NYSE:IBM", "BINANCE:BTCUSDT", "FX:EURUSD"]
_ENV_URL = "TVFRAME_URL"

_EXAMPLES: dict[str, str] = {
    "main": """examples:
  tvframe demo                                   an offline tour (no network)
  tvframe history NASDAQ:AAPL 5m 500 --sim       500 bars from the built-in simulator
  tvframe live BINANCE:BTCUSDT 1m                a live table until Ctrl-C
  tvframe COMMAND --help                         a command's options and examples
""",
    "history": """examples:
  tvframe history NASDAQ:AAPL 5m 500 --sim
  tvframe history NASDAQ:AAPL NYSE:IBM 1d --start 2026-01-01 -o daily.parquet
  tvframe history BINANCE:BTCUSDT 1h 300 --indicator RSI --indicator MACD --tz exchange
""",
    "live": """examples:
  tvframe live BINANCE:BTCUSDT 1m --sim
  tvframe live NASDAQ:AAPL NASDAQ:MSFT 5m --bars 50
  (Ctrl-C ends it)
""",
    "quote": """examples:
  tvframe quote NASDAQ:AAPL BINANCE:BTCUSDT --sim
  tvframe quote FX:EURUSD FX:GBPUSD --watch
""",
    "search": """examples:
  tvframe search apple --sim
  tvframe search btc --exchange BINANCE --type crypto --limit 5
""",
    "download": """examples:
  tvframe download NASDAQ:AAPL NYSE:IBM 1d --start 2016-01-01 --path bars --sim
  tvframe download NASDAQ:AAPL NYSE:IBM 1d --path bars        (bring it up to date)
  tvframe download BINANCE:BTCUSDT 5m 1h --start 2026-01-01 --path s3://bucket/bars
exit status: 0 when every series is written or up to date, 1 when some failed (listed on
stderr and in PATH/_report.json), 2 on bad usage or a connection error.
""",
    "sim": """examples:
  tvframe sim --port 8765
  TVFRAME_URL=ws://127.0.0.1:8765/socket.io/websocket tvframe history NASDAQ:AAPL 1d 100
""",
    "demo": """examples:
  tvframe demo
  tvframe demo --out /tmp/tour
""",
}


# --- the parser ---------------------------------------------------------------------------


def _positive(kind: Callable[[str], int | float], *, zero: bool = False) -> Callable[[str], Any]:
    """An argparse type: a number of ``kind`` above 0 (or at least 0 with ``zero``)."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (value >= 0 if zero else value > 0):
            raise argparse.ArgumentTypeError(
                f"{text!r} must be {'0 or more' if zero else 'positive'}"
            )
        return value

    return parse


def _port(text: str) -> int:
    if not text.isdecimal() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (0 to 65535)")
    return int(text)


def _connection() -> argparse.ArgumentParser:
    """Options of every command that talks to a server."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection")
    group.add_argument(
        "--sim", action="store_true", help="run against an in-process simulator (offline)"
    )
    group.add_argument("--url", help="WebSocket endpoint (default: TVFRAME_URL or TradingView)")
    group.add_argument(
        "--timeout", type=_positive(float), default=30.0, metavar="SECONDS",
        help="seconds any wait on the server may take (default: 30)",
    )  # fmt: skip
    return parent


def _bar_options() -> argparse.ArgumentParser:
    """Options of the commands that load bars."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--indicator", action="append", default=[], metavar="NAME",
        help="a TradingView indicator at its defaults, as columns (repeatable): RSI, MACD, ...",
    )  # fmt: skip
    parent.add_argument(
        "--tz", default="UTC", help="zone of the times: UTC (default), exchange or an IANA name"
    )
    parent.add_argument(
        "--session", choices=["regular", "extended"], default="regular",
        help="regular (default) or extended hours (pre/post-market)",
    )  # fmt: skip
    return parent


def _command(
    commands: Any, name: str, text: str, parents: Sequence[argparse.ArgumentParser] = (), **kw: Any
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=text, description=text, epilog=_EXAMPLES[name], parents=parents,
        formatter_class=argparse.RawDescriptionHelpFormatter, **kw,
    )  # fmt: skip
    parser.set_defaults(parser=parser)
    return parser


def _add_history(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    hist = _command(
        commands, "history", "download bars and print or save them", parents,
        usage="tvframe history [options] SYMBOL [SYMBOL ...] INTERVAL [N]",
    )  # fmt: skip
    hist.add_argument(
        "spec", nargs="+", metavar="SYMBOL INTERVAL N",
        help="EXCHANGE:SYMBOL (one or more), then 1m 5m 15m 30m 1h 2h 4h 1d 1w 1M, then how "
        "many bars (optional with --start or --end)",
    )  # fmt: skip
    hist.add_argument("--start", help="every bar from this time on, e.g. 2026-01-01, instead of N")
    hist.add_argument("--end", help="only bars before this time")
    hist.add_argument(
        "--adjustment", choices=["splits", "dividends"], default="splits",
        help="prices adjusted for splits (default) or for dividends too",
    )  # fmt: skip
    hist.add_argument(
        "--backend", choices=["pandas", "polars"], default="pandas",
        help="the DataFrame library (default: pandas)",
    )  # fmt: skip
    hist.add_argument(
        "-o", "--output", type=Path, metavar="FILE",
        help="save to FILE.csv, .json or .parquet (lossless; an existing file is kept)",
    )  # fmt: skip
    hist.add_argument("--no-progress", action="store_true", help="no progress bar")
    hist.set_defaults(run=_history)


def _add_live(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    live = _command(
        commands, "live", "a table of the latest bar of each symbol, live, until Ctrl-C", parents,
        usage="tvframe live [options] SYMBOL [SYMBOL ...] INTERVAL",
    )  # fmt: skip
    live.add_argument("spec", nargs="+", metavar="SYMBOL INTERVAL", help="symbols, then interval")
    live.add_argument(
        "--bars", type=_positive(int), default=100, metavar="N",
        help="bars of history to load first (default: 100)",
    )  # fmt: skip
    live.set_defaults(run=_live)


def _add_quote(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    quote = _command(commands, "quote", "a table of current quotes", parents)
    quote.add_argument("symbols", nargs="+", metavar="SYMBOL", help="EXCHANGE:SYMBOL")
    quote.add_argument("--watch", action="store_true", help="keep the table current until Ctrl-C")
    quote.add_argument(
        "--session", choices=["regular", "extended"], default="regular",
        help="regular (default) or extended hours (pre/post-market)",
    )  # fmt: skip
    quote.set_defaults(run=_quote)


def _add_search(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    search = _command(commands, "search", "find symbols by ticker or name", parents)
    search.add_argument("text", help="what to look for, e.g. apple or NASDAQ:AAPL")
    search.add_argument("--exchange", help="keep one exchange, e.g. NASDAQ")
    search.add_argument("--type", help="keep one type: stock, crypto, forex, futures, index ...")
    search.add_argument("--limit", type=_positive(int), default=20, help="most rows (default 20)")
    search.set_defaults(run=_search)


def _add_download(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    dl = _command(
        commands, "download", "download bars into a resumable Parquet dataset", parents,
        usage="tvframe download [options] SYMBOL... INTERVAL... --path DIR",
    )  # fmt: skip
    dl.add_argument(
        "spec", nargs="+", metavar="SYMBOL|INTERVAL",
        help="EXCHANGE:SYMBOL (one or more) and intervals (1m 5m 15m 30m 1h 2h 4h 1d 1w 1M)",
    )  # fmt: skip
    dl.add_argument(
        "--path", required=True, help="the dataset folder or fsspec URL (s3://bucket/bars ...)"
    )
    dl.add_argument("--start", help="every bar from this time on (needed for new series)")
    dl.add_argument("--end", help="only bars before this time (default: up to now)")
    dl.add_argument(
        "--concurrency", type=_positive(int), default=8, metavar="N",
        help="chart sessions at once per connection (default: 8)",
    )  # fmt: skip
    dl.add_argument(
        "--rate", type=_positive(float, zero=True), default=10.0, metavar="PER_SECOND",
        help="series requests per second, in total; 0 for no limit (default: 10)",
    )  # fmt: skip
    dl.add_argument(
        "--connections", type=_positive(int), default=1, metavar="N",
        help="sockets at once (default: 1)",
    )  # fmt: skip
    dl.add_argument(
        "--retries", type=_positive(int, zero=True), default=5, metavar="N",
        help="retries on refused handshakes and dropped sockets, with backoff (default: 5)",
    )  # fmt: skip
    dl.add_argument("--no-progress", action="store_true", help="no progress bar")
    dl.set_defaults(run=_download)


def _download(args: argparse.Namespace) -> int:
    """Symbols are the items of ``spec`` with a ``:``; the others are intervals."""
    from tvframe.dataset import download

    with _endpoint(args):
        report = download(
            [item for item in args.spec if ":" in item],
            [item for item in args.spec if ":" not in item],
            path=args.path, start=args.start, end=args.end, errors="ignore",
            progress=False if args.no_progress else None, concurrency=args.concurrency,
            rate=args.rate or None, connections=args.connections, retries=args.retries,
            timeout=args.timeout,
        )  # fmt: skip
    print(report.summary())
    for label, why in report.failed.items():
        print(f"tvframe: failed: {label}: {why}", file=sys.stderr)
    return 1 if report.failed else 0


def _add_sim(commands: Any) -> None:
    sim = _command(commands, "sim", "serve the TradingView simulator until Ctrl-C")
    sim.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    sim.add_argument("--port", type=_port, default=8765, help="TCP port, 0 for any (default 8765)")
    clock = sim.add_mutually_exclusive_group()
    clock.add_argument(
        "--realtime", dest="realtime", action="store_true", default=True,
        help="follow the wall clock and push live updates (default)",
    )  # fmt: skip
    clock.add_argument(
        "--manual", dest="realtime", action="store_false", help="simulated time stands still"
    )
    sim.set_defaults(run=_sim)


def _add_demo(commands: Any) -> None:
    demo = _command(commands, "demo", "an offline tour: history, quotes, search, chart, file")
    demo.add_argument(
        "--out", type=Path, default=Path("tvframe-demo"), metavar="DIR",
        help="where to write the files (default: tvframe-demo)",
    )  # fmt: skip
    demo.set_defaults(run=_demo)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tvframe",
        description="TradingView market data into pandas and polars.",
        epilog=_EXAMPLES["main"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tvframe {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    network, bars = _connection(), _bar_options()
    _add_history(commands, [bars, network])
    _add_live(commands, [bars, network])
    _add_quote(commands, [network])
    _add_search(commands, [network])
    _add_download(commands, [network])
    _add_sim(commands)
    _add_demo(commands)
    return parser


# --- shared helpers -----------------------------------------------------------------------


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@contextlib.contextmanager
def _endpoint(args: argparse.Namespace, *, realtime: bool = False) -> Iterator[None]:
    """The server of a command: ``--sim``, ``--url`` or the default, through ``TVFRAME_URL``
    (which the symbol search follows too)."""
    if args.sim and args.url:
        _usage_error(args, "give --sim or --url, not both")
    if args.sim:
        from tvframe import sim

        # A real-time clock from the simulator's usual start, when stock markets are open.
        clock = sim.SimClock(sim.DEFAULT_START, realtime=True) if realtime else None
        with sim.running(clock=clock, update_period=_SIM_UPDATE_PERIOD):
            yield
    elif args.url:
        with _environment(_ENV_URL, args.url):
            yield
    else:
        yield


class _CannotWrite(Exception):
    """A file a command was asked to write could not be written (exit 1)."""


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise _CannotWrite(f"cannot write {path}: {exc.strerror or exc}") from None


def _usage_error(args: argparse.Namespace, message: str) -> NoReturn:
    parser: argparse.ArgumentParser = args.parser
    parser.error(message)


def _pandas(frame: pd.DataFrame | pl.DataFrame) -> pd.DataFrame:
    # The commands below ask for tvframe's default backend, pandas.
    return cast("pd.DataFrame", frame)


def _print_lines(lines: Sequence[str]) -> None:
    print("\n".join(lines))


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"tvframe: warning: {message}", file=sys.stderr)


def _follow(feed: LiveFeed[Any], changed: threading.Event, lines: Callable[[], list[str]]) -> None:
    """Draw ``lines()`` now and after each change of ``feed`` (at most every
    :data:`_REDRAW_PERIOD`) until Ctrl-C, or raise the error that ended the feed."""
    from tvframe.terminal import Screen

    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if tty else None
    screen = Screen(sys.stdout, redraw=tty, width=width)

    def draw() -> None:
        changed.clear()
        failed = [f"failed: {symbol}: {error}" for symbol, error in feed.failed.items()]
        screen.draw(lines() + failed)

    draw()
    while feed.running:
        time.sleep(_REDRAW_PERIOD)
        if changed.wait(_IDLE_CHECK):
            draw()
    error = feed.error
    if isinstance(error, TvFrameError):
        raise error
    raise TvFrameError(f"the live feed ended: {error or 'stopped'}")


# --- history ------------------------------------------------------------------------------


def _history_request(args: argparse.Namespace) -> tuple[list[str], str, int | None]:
    """Symbols, interval and N from ``SYMBOL… INTERVAL [N]`` (N only after an interval)."""
    *symbols, interval = args.spec
    n_bars = None
    if interval.isdecimal() and symbols and ":" not in symbols[-1]:
        n_bars, interval = int(interval), symbols.pop()
    if not symbols:
        _usage_error(args, "give one or more SYMBOLs, then an INTERVAL (and N)")
    if n_bars is None and args.start is None and args.end is None:
        _usage_error(args, "give N, how many bars (after the INTERVAL), or --start / --end")
    return symbols, interval, n_bars


def _writer(args: argparse.Namespace) -> Callable[[Any, Path], Path]:
    from tvframe import io

    writers = {".csv": io.to_csv, ".json": io.to_json, ".parquet": io.to_parquet}
    writer = writers.get(args.output.suffix.lower())
    if writer is None:
        _usage_error(args, f"-o {args.output}: the file name must end in .csv, .json or .parquet")
    return writer


def _history(args: argparse.Namespace) -> int:
    from tvframe.facade import history

    symbols, interval, n_bars = _history_request(args)
    write = _writer(args) if args.output is not None else None  # checked before any I/O
    with _endpoint(args):
        frame = history(
            symbols if len(symbols) > 1 else symbols[0], interval, n_bars, start=args.start,
            end=args.end, backend=args.backend, tz=args.tz, adjustment=args.adjustment,
            session=args.session, indicators=args.indicator,
            progress=False if args.no_progress else None, timeout=args.timeout,
        )  # fmt: skip
    if write is None:
        _print_frame(frame)
        return 0
    with _writing(args.output):
        written = write(frame, args.output)
    kept = f" ({args.output} exists, so it was kept)" if written != args.output else ""
    print(f"wrote {len(frame)} bars to {written}{kept}")
    return 0


def _print_frame(frame: pd.DataFrame | pl.DataFrame) -> None:
    import pandas as pd

    print(frame.to_string(max_rows=20) if isinstance(frame, pd.DataFrame) else frame)


# --- live tables --------------------------------------------------------------------------


def _live(args: argparse.Namespace) -> int:
    from tvframe.liveframe import live
    from tvframe.terminal import bars_lines

    *symbols, interval = args.spec
    if not symbols:
        _usage_error(args, "give one or more SYMBOLs, then an INTERVAL")
    changed = threading.Event()
    with _endpoint(args, realtime=True):
        frame = live(
            symbols, interval, args.bars, max_bars=args.bars, tz=args.tz, session=args.session,
            on_update=lambda _: changed.set(), on_error=lambda _: changed.set(),
            indicators=args.indicator, timeout=args.timeout,
        )  # fmt: skip
        with frame:
            _follow(frame, changed, lambda: bars_lines(frame.to_pandas()))
    return 0


def _quote(args: argparse.Namespace) -> int:
    if args.watch:
        return _watch_quotes(args)
    from tvframe.quotes import quote
    from tvframe.terminal import quote_lines

    with _endpoint(args):
        frame = quote(args.symbols, _QUOTE_FIELDS, session=args.session, timeout=args.timeout)
    _print_lines(quote_lines(_pandas(frame)))
    return 0


def _watch_quotes(args: argparse.Namespace) -> int:
    from tvframe.livequotes import live_quotes
    from tvframe.terminal import quote_lines

    changed = threading.Event()
    with _endpoint(args, realtime=True):
        table = live_quotes(
            args.symbols, _QUOTE_FIELDS, session=args.session, on_update=lambda _: changed.set(),
            on_error=lambda _: changed.set(), timeout=args.timeout,
        )  # fmt: skip
        with table:
            _follow(table, changed, lambda: quote_lines(table.to_pandas()))
    return 0


# --- search, sim, demo --------------------------------------------------------------------


def _search(args: argparse.Namespace) -> int:
    from tvframe.symbol_search import search
    from tvframe.terminal import search_lines

    with _endpoint(args):
        found = search(args.text, args.exchange, args.type, limit=args.limit, timeout=args.timeout)
    if not len(found):
        print(f"no symbol matches {args.text!r}")
        return 0
    _print_lines(search_lines(_pandas(found)))
    return 0


async def _serve(simulator: Simulator) -> None:
    async with simulator:
        print(f"TradingView simulator at {simulator.url} (Ctrl-C stops it); try:", flush=True)
        print(f"  TVFRAME_URL={simulator.url} tvframe history NASDAQ:AAPL 1d 100", flush=True)
        await asyncio.Event().wait()


def _sim(args: argparse.Namespace) -> int:
    from tvframe.sim import SimClock, Simulator

    asyncio.run(_serve(Simulator(None, SimClock(realtime=args.realtime), args.host, args.port)))
    return 0


def _section(title: str, lines: Sequence[str]) -> None:
    print(f"\n== {title}")
    _print_lines(lines)


def _demo_chart(frame: pd.DataFrame, path: Path) -> str:
    """Where the candlestick chart went, or why there is none."""
    from tvframe.export import atomic_write
    from tvframe.plot import plot

    try:
        figure = plot(frame)
    except ImportError as exc:
        return f"no chart: {exc}"
    written = atomic_write(path, lambda temp: figure.savefig(temp, format="png"))
    return f"chart: {written}"


def _demo(args: argparse.Namespace) -> int:
    from tvframe import io, sim
    from tvframe.facade import history
    from tvframe.quotes import quote
    from tvframe.symbol_search import search
    from tvframe.terminal import quote_lines, search_lines

    print("tvframe demo: everything below comes from the built-in simulator (offline)")
    with sim.running():
        bars = _pandas(history("NASDAQ:AAPL", "1d", 120, progress=False))
        quotes = _pandas(quote(_DEMO_SYMBOLS, _QUOTE_FIELDS))
        found = _pandas(search("usd", limit=5))
    _section("tvframe history NASDAQ:AAPL 1d 120  (the last 5 rows)", [bars.tail(5).to_string()])
    _section(f"tvframe quote {' '.join(_DEMO_SYMBOLS)}", quote_lines(quotes))
    _section("tvframe search usd --limit 5", search_lines(found))
    with _writing(args.out):
        parquet = io.to_parquet(bars, args.out / "aapl_1d.parquet")
        chart = _demo_chart(bars, args.out / "aapl_1d.png")
    _section("files", [f"bars:  {parquet}  (tvframe.read_parquet reads it back)", chart])
    return 0


# --- the entry point ----------------------------------------------------------------------


def _interrupted(args: argparse.Namespace) -> int:
    """The exit code of Ctrl-C: 0 where it is the way out, 130 (the shell's) elsewhere."""
    return 0 if args.command in ("live", "sim") or getattr(args, "watch", False) else 130


def _fail(message: object) -> None:
    print(f"tvframe: error: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tvframe`` command; returns the exit code.

    Example:
        >>> main(["quote", "NASDAQ:AAPL", "--sim"])  # doctest: +ELLIPSIS
        symbol  ...
        NASDAQ:AAPL  231.93  ...
        0
    """
    args = _parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            code: int = args.run(args)
            return code
    except TvFrameError as exc:  # before OSError: TvTimeoutError is a TimeoutError
        _fail(exc)
        return 2
    except KeyboardInterrupt:
        return _interrupted(args)
    except _CannotWrite as exc:
        _fail(exc)
        return 1
    except BrokenPipeError:
        # The reader went away (`| head`): stay quiet, also when Python flushes at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        _fail(exc)
        return 1
    except Exception as exc:
        if args.verbose:
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc} (run with -v for the traceback)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
