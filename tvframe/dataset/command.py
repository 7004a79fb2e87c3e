"""``tvframe download``: the command line face of :func:`tvframe.download`.

``tvframe.cli`` owns the parser; it adds these options with :func:`add_download_arguments`
(next to its connection options ``--url``, ``--timeout`` and ``--sim``, which it applies by
pointing ``TVFRAME_URL`` at the server) and runs :func:`download_command`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from tvframe.dataset.downloader import download

__all__ = ["EXAMPLES", "add_download_arguments", "download_command"]

#: The examples shown under ``tvframe download --help``.
EXAMPLES = """examples:
  tvframe download NASDAQ:AAPL NYSE:IBM 1d --start 2016-01-01 --path bars --sim
  tvframe download NASDAQ:AAPL NYSE:IBM 1d --path bars        (bring it up to date)
  tvframe download BINANCE:BTCUSDT 5m 1h --start 2026-01-01 --path s3://bucket/bars
exit status: 0 when every series is written or up to date, 1 when some failed (listed on
stderr and in PATH/_report.json), 2 on bad usage or a connection error.
"""


def _non_negative_rate(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value or None


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} must be {minimum} or more")
        return value

    return parse


def add_download_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options :func:`download_command` reads.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_download_arguments(parser)
        >>> parser.parse_args(["X:Y", "1d", "--path", "bars"]).spec
        ['X:Y', '1d']
    """
    parser.add_argument(
        "spec", nargs="+", metavar="SYMBOL|INTERVAL",
        help="EXCHANGE:SYMBOL (one or more) and intervals (1m 5m 15m 30m 1h 2h 4h 1d 1w 1M)",
    )  # fmt: skip
    parser.add_argument(
        "--path", required=True, help="the dataset folder or fsspec URL (s3://bucket/bars ...)"
    )
    parser.add_argument("--start", help="every bar from this time on (needed for new series)")
    parser.add_argument("--end", help="only bars before this time (default: up to now)")
    parser.add_argument(
        "--concurrency", type=_whole(1), default=8, metavar="N",
        help="chart sessions at once per connection (default: 8)",
    )  # fmt: skip
    parser.add_argument(
        "--rate", type=_non_negative_rate, default=10.0, metavar="PER_SECOND",
        help="series requests per second, in total; 0 for no limit (default: 10)",
    )  # fmt: skip
    parser.add_argument(
        "--connections", type=_whole(1), default=1, metavar="N",
        help="sockets at once (default: 1)",
    )  # fmt: skip
    parser.add_argument(
        "--retries", type=_whole(0), default=5, metavar="N",
        help="retries on refused handshakes and dropped sockets, with backoff (default: 5)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def download_command(args: argparse.Namespace) -> int:
    """Run ``tvframe download`` from parsed arguments; returns the exit status.

    Symbols are the items of ``spec`` with a ``:``; the others are intervals.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_download_arguments(parser)
        >>> args = parser.parse_args(["NASDAQ:AAPL", "1d", "--path", "bars", "--start", "x"])
        >>> download_command(args)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        tvframe.errors.InvalidArgumentError: start='x' is not a point in time: ...
    """
    symbols = [item for item in args.spec if ":" in item]
    intervals = [item for item in args.spec if ":" not in item]
    report = download(
        symbols, intervals, path=args.path, start=args.start, end=args.end, errors="ignore",
        progress=False if args.no_progress else None, concurrency=args.concurrency,
        rate=args.rate, connections=args.connections, retries=args.retries,
        timeout=getattr(args, "timeout", 30.0),
    )  # fmt: skip
    print(report.summary())
    for label, why in report.failed.items():
        print(f"tvframe: failed: {label}: {why}", file=sys.stderr)
    return 1 if report.failed else 0
