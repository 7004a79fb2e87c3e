"""``tvframe`` on the command line: ``history`` and ``sim`` (more commands build on these).

Errors are one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tvframe.errors import TvFrameError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["main"]

_EPILOG_HISTORY = """examples:
  tvframe history NASDAQ:AAPL 5m 500 --sim
  tvframe history BINANCE:BTCUSDT 1h 2000 -o btc.parquet
"""
_EPILOG_SIM = """examples:
  tvframe sim --port 8765
  TVFRAME_URL=ws://127.0.0.1:8765/socket.io/websocket tvframe history NASDAQ:AAPL 1d 100
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tvframe", description="TradingView market data into pandas and polars."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True)

    hist = commands.add_parser(
        "history",
        help="download bars and print or save them",
        epilog=_EPILOG_HISTORY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hist.add_argument("symbol", help="EXCHANGE:SYMBOL, e.g. NASDAQ:AAPL")
    hist.add_argument("interval", help="1m 5m 15m 30m 1h 2h 4h 1d 1w 1M")
    hist.add_argument("n_bars", type=int, help="how many bars")
    hist.add_argument("-o", "--output", type=Path, help="save to .csv, .json or .parquet")
    hist.add_argument("--sim", action="store_true", help="run against the built-in simulator")
    hist.add_argument("--url", help="WebSocket endpoint (default: TVFRAME_URL or TradingView)")

    sim = commands.add_parser(
        "sim",
        help="serve the TradingView simulator on loopback",
        epilog=_EPILOG_SIM,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    return parser


@contextlib.contextmanager
def _maybe_sim(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    from tvframe import sim

    with sim.running():
        yield


def _save(frame: pd.DataFrame, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(path)
    elif suffix == ".json":
        frame.reset_index().to_json(path, orient="records", date_format="iso", date_unit="us")
    elif suffix == ".parquet":
        frame.to_parquet(path)
    else:
        raise TvFrameError(f"cannot save to {path}: use a .csv, .json or .parquet file name")


def _history(args: argparse.Namespace) -> int:
    import pandas as pd

    from tvframe.facade import history

    with _maybe_sim(args.sim):
        frame = history(args.symbol, args.interval, args.n_bars, url=args.url)
    assert isinstance(frame, pd.DataFrame)
    if args.output is not None:
        _save(frame, args.output)
        print(f"saved {len(frame)} bars to {args.output}")
    else:
        print(frame.to_string(max_rows=20))
    return 0


def _sim(args: argparse.Namespace) -> int:
    from tvframe.sim import serve_forever

    serve_forever(args.host, args.port)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tvframe`` command.

    Example:
        >>> main(["history", "NASDAQ:AAPL", "5m", "3", "--sim"])  # doctest: +SKIP
    """
    args = _parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "history":
            return _history(args)
        return _sim(args)
    except TvFrameError as exc:
        print(f"tvframe: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
