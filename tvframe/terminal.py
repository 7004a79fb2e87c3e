"""Text tables for the ``tvframe`` command, and a block of lines redrawn in place.

Rules of this module:
- no I/O but the stream a :class:`Screen` is given: the table functions return lines;
- every cell is text formatted here (:func:`number`, :func:`time_text`), so columns of numbers
  align on the right and missing values are blank, whatever their dtype;
- on a terminal a redraw moves the cursor back over the previous block (ANSI); elsewhere each
  block is appended, so pipes and logs get plain lines.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from tvframe.meta import frame_meta

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Screen", "bars_lines", "number", "quote_lines", "search_lines", "table", "time_text"]

_GAP = "  "
_NUMERIC = re.compile(r"^[+-]?[0-9][0-9,]*(\.[0-9]+)?(e[+-][0-9]+)?%?$|^[+-]?inf$")
_OHL = ("open", "high", "low")
_OHLCV = (*_OHL, "close", "volume")
_PRICES = ("last", "change", "bid", "ask")
_SEARCH_COLUMNS = ("symbol", "description", "type", "exchange", "currency", "country")


def number(value: object, decimals: int | None = None, *, signed: bool = False) -> str:
    """A number as table text; blank for a missing one (None, NaN, pandas' NA).

    ``decimals`` fixes the places; without it whole numbers have none and others keep six
    significant digits. ``signed`` writes ``+`` before positive numbers (changes).

    Example:
        >>> number(231.5, 2), number(16459.0), number(float("nan")), number(0.5, 1, signed=True)
        ('231.50', '16459', '', '+0.5')
    """
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return ""
    x = float(value)
    if math.isnan(x):
        return ""
    sign = "+" if signed else ""
    if decimals is not None:
        return f"{x:{sign}.{decimals}f}"
    if x.is_integer() and abs(x) < 1e15:
        return f"{x:{sign}.0f}"
    return f"{x:{sign}.6g}"


def time_text(value: object) -> str:
    """A point in time as table text (in its own zone); blank when missing (None, NaT).

    Example:
        >>> from datetime import datetime
        >>> import pandas as pd
        >>> time_text(datetime(2026, 11, 2, 15, 0)), time_text(None), time_text(pd.NaT)
        ('2026-11-02 15:00:00', '', '')
    """
    # pandas' NaT is a datetime too, and the only one unequal to itself.
    if not isinstance(value, datetime) or value != value:
        return ""
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a table: the header, a rule, the rows; columns of numbers aligned right.

    Example:
        >>> rows = [["NASDAQ:AAPL", "231.93"], ["FX:EURUSD", "1.1"]]
        >>> for line in table(["symbol", "last"], rows):
        ...     print(line)
        symbol         last
        -----------  ------
        NASDAQ:AAPL  231.93
        FX:EURUSD       1.1
    """
    columns = list(zip(header, *rows, strict=False)) if rows else [(h,) for h in header]
    widths = [max(len(cell) for cell in column) for column in columns]
    right = [bool(rows) and all(not c or _NUMERIC.match(c) for c in col[1:]) for col in columns]

    def line(cells: Sequence[str]) -> str:
        parts = (
            cell.rjust(width) if aligned else cell.ljust(width)
            for cell, width, aligned in zip(cells, widths, right, strict=True)
        )
        return _GAP.join(parts).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(row) for row in rows)]


def _decimals(pricescale: object) -> int | None:
    """Places a price of this ``pricescale`` shows (a power of ten), as TradingView does."""
    if not isinstance(pricescale, numbers.Integral) or isinstance(pricescale, bool):
        return None
    text = str(int(pricescale))
    return len(text) - 1 if text.rstrip("0") == "1" else None


def bars_lines(frame: pd.DataFrame) -> list[str]:
    """The latest bar of each symbol of a tvframe bars frame, with its change since the
    previous bar's close; the frame's other columns (indicators) follow.

    Example:
        >>> import pandas as pd
        >>> times = pd.date_range("2026-11-02 15:00", periods=2, freq="1min", tz="UTC")
        >>> df = pd.DataFrame({"symbol": "X:Y", "open": [1.0, 2], "high": [2.0, 3],
        ...                    "low": [0.5, 1], "close": [2.0, 2.5], "volume": [10.0, 20]},
        ...                   index=pd.Index(times, name="time"))
        >>> print(bars_lines(df)[2])
        X:Y     2026-11-02 15:01:00    2.5    +0.5    +25.00     2     3    1      20
    """
    meta = frame_meta(frame)
    flat = frame.reset_index()
    extra = [str(c) for c in flat.columns if c not in ("symbol", "time", *_OHLCV)]
    zone = meta.tz if meta is not None else "UTC"
    # The close and its change first: what a narrow terminal must not cut off.
    header = ["symbol", f"time ({zone})", "close", "change", "change %", *_OHL, "volume", *extra]
    rows = []
    for symbol, bars in flat.groupby("symbol", sort=False):
        info = meta.symbols.get(str(symbol)) if meta is not None else None
        places = _decimals(info.pricescale) if info is not None else None
        last = bars.iloc[-1]
        previous = float(bars["close"].iloc[-2]) if len(bars) > 1 else math.nan
        change = float(last["close"]) - previous
        percent = 100 * change / previous if previous else math.nan
        rows.append([
            str(symbol), time_text(last["time"]), number(last["close"], places),
            number(change, places, signed=True), number(percent, 2, signed=True),
            *(number(last[c], places) for c in _OHL), number(last["volume"]),
            *(number(last[c]) for c in extra),
        ])  # fmt: skip
    return table(header, rows)


def quote_lines(frame: pd.DataFrame) -> list[str]:
    """A quote frame (:func:`tvframe.quote`) as a table: last, change, change %, bid, ask and
    time; prices to the places of a ``pricescale`` column when the frame has one.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"symbol": ["X:Y"], "last": [1.5], "change": [-0.25],
        ...                    "change_pct": [-14.29], "bid": [1.4], "ask": [1.6],
        ...                    "time": [pd.Timestamp("2026-11-02 15:00", tz="UTC")],
        ...                    "pricescale": [100]})
        >>> print(quote_lines(df)[2])
        X:Y     1.50   -0.25    -14.29  1.40  1.60  2026-11-02 15:00:00
    """
    header = ["symbol", "last", "change", "change %", "bid", "ask", "time (UTC)"]
    rows = []
    for row in frame.to_dict(orient="records"):
        places = _decimals(row.get("pricescale"))
        prices = {c: number(row.get(c), places, signed=c == "change") for c in _PRICES}
        rows.append([
            _text(row["symbol"]), prices["last"], prices["change"],
            number(row.get("change_pct"), 2, signed=True), prices["bid"], prices["ask"],
            time_text(row.get("time")),
        ])  # fmt: skip
    return table(header, rows)


def search_lines(frame: pd.DataFrame) -> list[str]:
    """A search frame (:func:`tvframe.search`) as a table of its main columns.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({c: ["x"] for c in _SEARCH_COLUMNS}, dtype="string")
        >>> search_lines(df)[0].split()
        ['symbol', 'description', 'type', 'exchange', 'currency', 'country']
    """
    rows = [[_text(row.get(c)) for c in _SEARCH_COLUMNS] for row in frame.to_dict("records")]
    return table(_SEARCH_COLUMNS, rows)


class Screen:
    """A block of lines on ``stream``, redrawn in place on a terminal, appended elsewhere.

    Args:
        stream: where to write (flushed after each draw).
        redraw: move the cursor up over the previous block and clear it (ANSI) before drawing.
        width: cut lines to fewer characters than this, so none wraps and a redraw moves up
            exactly over the block it replaces.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> screen = Screen(out, redraw=True)
        >>> screen.draw(["a", "b"]); screen.draw(["c"])
        >>> out.getvalue()
        'a\\nb\\n\\x1b[2A\\r\\x1b[Jc\\n'
    """

    def __init__(self, stream: TextIO, *, redraw: bool, width: int | None = None) -> None:
        self._stream = stream
        self._redraw = redraw
        self._width = width
        self._drawn = 0

    def draw(self, lines: Sequence[str]) -> None:
        """Replace the previous block with ``lines`` (or append them)."""
        if not self._redraw:
            self._stream.write("\n".join(lines) + "\n\n")
        else:
            if self._width is not None:
                lines = [line[: self._width - 1] for line in lines]
            back = f"\x1b[{self._drawn}A\r\x1b[J" if self._drawn else ""
            self._stream.write(back + "".join(line + "\n" for line in lines))
            self._drawn = len(lines)
        self._stream.flush()
