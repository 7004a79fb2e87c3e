"""Candlestick charts of OHLCV frames with matplotlib (the optional ``plot`` extra).

Rules of this module:
- matplotlib is imported only when a chart is drawn; without it a clear ImportError says
  ``pip install "tvframe[plot]"``;
- no pyplot: charts are bare :class:`matplotlib.figure.Figure` objects, so drawing never
  opens a window, never touches pyplot's global state and works headless; Jupyter shows the
  returned figure;
- bars are drawn at consecutive positions, so nights, weekends and holidays leave no gaps
  (as TradingView draws them); the time axis is labelled in the frame's zone;
- a PNG is written with :mod:`tvframe.export`'s rules (atomic, never over an existing file).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from tvframe.accessors.shape import (
    TICKS_PER_SECOND,
    OhlcvView,
    inspect_frame,
    meta_of,
    ohlcv_view,
)
from tvframe.errors import InvalidArgumentError
from tvframe.export import atomic_write, check_path

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["DOWN_COLOR", "UP_COLOR", "plot"]

logger = logging.getLogger(__name__)

#: TradingView's default candle colours.
UP_COLOR = "#26a69a"
DOWN_COLOR = "#ef5350"

_WIDTH_INCHES = 12.0
_PRICE_INCHES = 4.5
_PANE_INCHES = 1.5
_BODY_WIDTH = 0.7
_MAX_TICKS = 8
_INCHES_PER_TICK = 1.4
_INSTALL_HINT = 'plotting needs matplotlib: pip install "tvframe[plot]"'
F64 = npt.NDArray[np.float64]


def _matplotlib() -> Any:
    try:
        import matplotlib
        import matplotlib.figure
        import matplotlib.ticker
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return matplotlib


def plot(
    frame: pd.DataFrame | pl.DataFrame,
    path: str | os.PathLike[str] | None = None,
    *,
    symbol: str | None = None,
    volume: bool = True,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Draw a candlestick chart of ``frame``, with volume and indicator panes.

    Up candles (close >= open) are green, down candles red. Volume is a pane of its own under
    the candles (when the frame has a volume that is not all missing); every other numeric
    column (an indicator such as ``rsi_14``) gets a line pane of its own below.

    Args:
        frame: an OHLCV frame (pandas or polars).
        path: also write the chart there as a PNG.
        symbol: the symbol to draw; required when the frame holds several.
        volume: draw the volume pane.
        title: the chart title; by default the symbol and the interval.
        ax: draw into this matplotlib Axes instead of a new figure: the candles, and volume
            as bars on a twin axis along the bottom; indicator panes need a figure of their
            own and are not drawn.

    Returns:
        The matplotlib Figure (the one ``ax`` belongs to when given).

    Raises:
        ImportError: matplotlib is not installed (``pip install "tvframe[plot]"``).
        InvalidArgumentError: several symbols and no ``symbol=`` (the choices are named),
            or a ``symbol`` the frame does not hold, or a ``path`` that is a folder or holds
            a NUL byte.
        FrameShapeError: not an OHLCV frame.

    Example:
        >>> import pandas as pd
        >>> times = pd.date_range("2024-01-02 09:30", periods=3, freq="5min", tz="UTC")
        >>> df = pd.DataFrame({"open": [1.0, 2, 3], "high": [2.0, 3, 4], "low": [0.5, 1, 2],
        ...                    "close": [2.0, 1.5, 3.5], "volume": [10.0, 20, 30]}, index=times)
        >>> [a.get_ylabel() for a in plot(df).axes]
        ['price', 'volume']
    """
    target = None if path is None else check_path(path)
    mpl = _matplotlib()
    view = _select(ohlcv_view(frame, inspect_frame(frame)), symbol)
    view = view.take(np.argsort(view.time, kind="stable"))
    volumes = _volumes(view) if volume else None
    if ax is None:
        figure, price_ax, volume_ax = _panes(mpl, view, volumes is not None)
    else:
        figure, price_ax = _root_figure(ax), ax
        volume_ax = _twin_volume_axis(ax) if volumes is not None else None
    _candles(price_ax, view)
    if volume_ax is not None and volumes is not None:
        _volume_bars(volume_ax, view, volumes, stacked=ax is None)
    _time_axis(mpl, figure.axes[-1] if ax is None else price_ax, view)
    price_ax.set_title(title if title is not None else _heading(frame, view))
    if target is not None:
        written = atomic_write(target, lambda temp: figure.savefig(temp, format="png"))
        logger.debug("chart written to %s", written)
    return figure


def _volumes(view: OhlcvView) -> F64 | None:
    """The volumes to draw: None when the frame has none, or none is known (forex)."""
    volumes = view.values.get("volume")
    return None if volumes is None or bool(np.isnan(volumes).all()) else volumes


def _heading(frame: pd.DataFrame | pl.DataFrame, view: OhlcvView) -> str:
    """``SYMBOL · interval``, leaving out what is unknown."""
    symbol = str(view.symbol[0]) if view.symbol is not None and len(view) else None
    return " · ".join(filter(None, [symbol, meta_of(frame).interval]))


def _select(view: OhlcvView, symbol: str | None) -> OhlcvView:
    """The rows of one symbol: ``symbol``, or the frame's only one."""
    if view.symbol is None:
        if symbol is not None:
            raise InvalidArgumentError(
                f"symbol={symbol!r} was given but the frame has no symbol column"
            )
        return view
    choices = list(dict.fromkeys(view.symbol.tolist()))
    if symbol is None:
        if len(choices) > 1:
            raise InvalidArgumentError(
                f"the frame holds {len(choices)} symbols; pass symbol= one of "
                f"{', '.join(map(str, choices))}"
            )
        return view
    if symbol not in choices:
        raise InvalidArgumentError(
            f"symbol={symbol!r} is not in the frame; it holds {', '.join(map(str, choices))}"
        )
    return view.take(view.symbol == symbol)


def _panes(mpl: Any, view: OhlcvView, volume: bool) -> tuple[Figure, Axes, Axes | None]:
    """A figure of stacked panes sharing the x axis: price, volume, one per extra column."""
    ratios = [3.0] + [1.0] * (int(volume) + len(view.extras))
    height = _PRICE_INCHES + _PANE_INCHES * (len(ratios) - 1)
    figure: Figure = mpl.figure.Figure(figsize=(_WIDTH_INCHES, height), layout="constrained")
    grid = figure.add_gridspec(len(ratios), 1, height_ratios=ratios)
    first = figure.add_subplot(grid[0])
    axes = [first] + [figure.add_subplot(grid[i], sharex=first) for i in range(1, len(ratios))]
    for pane in axes[:-1]:
        pane.tick_params(labelbottom=False)
    first.set_ylabel("price")
    extra_axes = axes[len(axes) - len(view.extras) :]
    for pane, (name, values) in zip(extra_axes, view.extras.items(), strict=True):
        _line_pane(pane, name, values)
    return figure, first, axes[1] if volume else None


def _root_figure(ax: Axes) -> Figure:
    from matplotlib.figure import Figure

    figure: Any = ax.figure
    while not isinstance(figure, Figure):  # a SubFigure: walk up to the figure that saves
        figure = figure.figure
    return figure


def _candles(ax: Axes, view: OhlcvView) -> None:
    x = np.arange(len(view), dtype=np.float64)
    o, h, lo, c = (view.values[k] for k in ("open", "high", "low", "close"))
    colors = np.where(c >= o, UP_COLOR, DOWN_COLOR).tolist()
    ax.vlines(x, lo, h, colors=colors, linewidth=1.0)
    span = float(np.nanmax(h) - np.nanmin(lo)) if len(view) and not np.isnan(h).all() else 0.0
    # A doji (open == close) still gets a visible body.
    heights = np.maximum(np.abs(c - o), span * 1e-3)
    _boxes(ax, x, np.fmin(o, c), heights, colors)
    ax.grid(True, alpha=0.2)


def _boxes(
    ax: Axes, x: F64, bottom: F64, height: F64, colors: list[str], alpha: float = 1.0
) -> None:
    """Bars centred on ``x`` as one collection: far faster to draw than a patch per bar."""
    from matplotlib.collections import PolyCollection

    left, right, top = x - _BODY_WIDTH / 2, x + _BODY_WIDTH / 2, bottom + height
    corners = np.stack(
        [np.column_stack(p) for p in ((left, bottom), (left, top), (right, top), (right, bottom))],
        axis=1,
    )
    ax.add_collection(PolyCollection(list(corners), facecolors=colors, linewidths=0, alpha=alpha))
    ax.autoscale_view()


def _twin_volume_axis(ax: Axes) -> Axes:
    twin = ax.twinx()
    twin.set_yticks([])
    # The candles stay in front of the volume bars: raise the price axes, clear its background.
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)
    return twin


def _volume_bars(ax: Axes, view: OhlcvView, volumes: F64, *, stacked: bool) -> None:
    x = np.arange(len(view), dtype=np.float64)
    up = view.values["close"] >= view.values["open"]
    colors = np.where(up, UP_COLOR, DOWN_COLOR).tolist()
    _boxes(ax, x, np.zeros_like(volumes), np.nan_to_num(volumes), colors, alpha=0.5)
    if stacked:
        ax.set_ylabel("volume")
        ax.grid(True, alpha=0.2)
    else:  # on a twin axis: keep the bars in the bottom fifth, under the candles
        ax.set_ylim(0, float(np.nanmax(volumes)) * 5)


def _line_pane(ax: Axes, name: str, values: F64) -> None:
    ax.plot(np.arange(len(values), dtype=np.float64), values, linewidth=1.2)
    ax.set_ylabel(name)
    ax.grid(True, alpha=0.2)


def _time_labels(view: OhlcvView) -> list[str]:
    import pandas as pd

    times = pd.DatetimeIndex(view.time.astype(f"datetime64[{view.unit}]"))
    if view.tz is not None:
        times = times.tz_localize("UTC").tz_convert(view.tz)
    steps = np.diff(view.time)
    intraday = len(steps) > 0 and int(steps.min()) < 86_400 * TICKS_PER_SECOND[view.unit]
    return list(times.strftime("%b %d %H:%M" if intraday else "%Y-%m-%d"))


def _time_axis(mpl: Any, ax: Axes, view: OhlcvView) -> None:
    labels = _time_labels(view)

    def label(position: float, _: int | None = None) -> str:
        i = round(position)
        return labels[i] if 0 <= i < len(labels) and abs(position - i) < 1e-6 else ""

    inches = ax.get_position().width * _root_figure(ax).get_figwidth()
    ticks = max(2, min(_MAX_TICKS, int(inches / _INCHES_PER_TICK)))
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(ticks, integer=True))
    ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(label))
    ax.set_xlim(-1, max(len(view), 1))
