"""``df.tv.plot``: a real PNG with candles, volume and indicator panes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.accessors.simbars import Frame
from tvframe.errors import InvalidArgumentError
from tvframe.plot import DOWN_COLOR, UP_COLOR

mpl_image = pytest.importorskip("matplotlib.image")
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def _pixels(path: Path) -> np.ndarray:
    image: np.ndarray = mpl_image.imread(path)
    return image[..., :3]


def _has_colour(pixels: np.ndarray, colour: str) -> bool:
    return bool(np.isclose(pixels, to_rgb(colour), atol=0.02).all(axis=-1).any())


def test_plot_writes_a_sane_png(one_symbol: Frame, tmp_path: Path) -> None:
    frame: Frame = one_symbol.assign(rsi_14=np.linspace(30.0, 70.0, len(one_symbol)))

    figure = frame.tv.plot(tmp_path / "chart.png")

    path = tmp_path / "chart.png"
    assert isinstance(figure, Figure)
    assert 20_000 < path.stat().st_size < 2_000_000
    pixels = _pixels(path)
    height, width, _ = pixels.shape
    assert (width, height) == (1200, 750)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10  # not one colour
    assert _has_colour(pixels, UP_COLOR) and _has_colour(pixels, DOWN_COLOR)
    assert [ax.get_ylabel() for ax in figure.axes] == ["price", "volume", "rsi_14"]
    assert figure.axes[0].get_title() == "NASDAQ:AAPL · 5m"


def test_several_symbols_need_symbol(polars_frame: Frame, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="pass symbol= one of NASDAQ:AAPL, FX:EURUSD"):
        polars_frame.tv.plot()
    with pytest.raises(InvalidArgumentError, match="'NYSE:IBM' is not in the frame"):
        polars_frame.tv.plot(symbol="NYSE:IBM")

    figure = polars_frame.tv.plot(symbol="FX:EURUSD", volume=False, title="euro")

    assert [ax.get_ylabel() for ax in figure.axes] == ["price"]
    assert figure.axes[0].get_title() == "euro"
    euro_bars = polars_frame.filter(pl.col("symbol") == "FX:EURUSD").height
    wicks, bodies = figure.axes[0].collections
    assert len(bodies.get_paths()) == len(wicks.get_segments()) == euro_bars


def test_into_given_axes(multi_symbol: Frame, tmp_path: Path) -> None:
    figure = Figure(figsize=(6, 4))
    ax = figure.add_subplot()

    returned = multi_symbol.tv.plot(tmp_path / "mine.png", symbol="NASDAQ:AAPL", ax=ax)

    assert returned is figure
    assert len(figure.axes) == 2  # the candles and a twin axis for the volume
    assert _pixels(tmp_path / "mine.png").shape[:2] == (400, 600)


def test_missing_matplotlib_names_the_extra(
    one_symbol: Frame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)

    with pytest.raises(ImportError, match=r'pip install "tvframe\[plot\]"'):
        one_symbol.tv.plot()
