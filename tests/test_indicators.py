"""The indicator catalogue: names, aliases, defaults, wire inputs, columns, validation."""

from __future__ import annotations

from typing import Any

import pytest

from tvframe.errors import InvalidArgumentError
from tvframe.indicators import INDICATORS, PINE_TYPE, SOURCES, indicator, input_key

# name -> (type, pine id, wire inputs by default, plots, default columns)
CATALOGUE: dict[str, tuple[str, str, dict[str, Any], tuple[str, ...], tuple[str, ...]]] = {
    "RSI": ("RSI@tv-basicstudies-1", "STD;RSI", {"length": 14, "source": "close"},
            ("RSI",), ("rsi_14",)),
    "SMA": ("MASimple@tv-basicstudies-1", "STD;SMA", {"length": 9, "source": "close"},
            ("MA",), ("sma_9",)),
    "EMA": ("MAExp@tv-basicstudies-1", "STD;EMA", {"length": 9, "source": "close"},
            ("EMA",), ("ema_9",)),
    "WMA": ("MAWeighted@tv-basicstudies-1", "STD;WMA", {"length": 9, "source": "close"},
            ("WMA",), ("wma_9",)),
    "MACD": ("MACD@tv-basicstudies-1", "STD;MACD",
             {"fastLength": 12, "slowLength": 26, "signalLength": 9, "source": "close"},
             ("Histogram", "MACD", "Signal"), ("macd_hist", "macd", "macd_signal")),
    "BB": ("BB@tv-basicstudies-1", "STD;Bollinger_Bands",
           {"length": 20, "mult": 2.0, "source": "close"},
           ("Basis", "Upper", "Lower"), ("bb_basis", "bb_upper", "bb_lower")),
    "Stochastic": ("Stochastic@tv-basicstudies-1", "STD;Stochastic",
                   {"periodK": 14, "smoothK": 1, "periodD": 3}, ("%K", "%D"),
                   ("stoch_k", "stoch_d")),
    "ATR": ("ATR@tv-basicstudies-1", "STD;Average_True_Range", {"length": 14}, ("ATR",),
            ("atr_14",)),
    "VWAP": ("VWAP@tv-basicstudies-1", "STD;VWAP", {}, ("VWAP",), ("vwap",)),
    "Volume": ("Volume@tv-basicstudies-246", "STD;Volume", {"length": 20},
               ("Volume", "Volume MA"), ("vol", "vol_ma_20")),
}  # fmt: skip


def test_the_catalogue_holds_the_ten_studies() -> None:
    assert list(INDICATORS) == list(CATALOGUE)


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_defaults_types_plots_and_columns(name: str) -> None:
    study_type, pine_id, wire, plots, columns = CATALOGUE[name]
    spec = indicator(name)
    assert (spec.type, spec.pine_id, dict(spec.wire), spec.plots, spec.columns) == (
        study_type, pine_id, wire, plots, columns,
    )  # fmt: skip
    assert spec.kind == "classic" and spec.resolved
    assert INDICATORS[name].pine_id == pine_id
    assert len(spec.columns) == len(spec.plots)


@pytest.mark.parametrize("spelling", ["rsi", "Rsi", " RSI "])
def test_names_are_case_insensitive(spelling: str) -> None:
    assert indicator(spelling) == indicator("RSI")


def test_bollinger_is_an_alias_of_bb() -> None:
    assert indicator("bollinger", length=10) == indicator("BB", length=10)
    assert indicator("Bollinger").label == "BB(20, 2, close)"


@pytest.mark.parametrize(
    ("name", "inputs", "columns"),
    [
        ("RSI", {"length": 7}, ("rsi_7",)),
        ("RSI", {"source": "HL2"}, ("rsi_14_hl2",)),
        ("EMA", {"length": 20}, ("ema_20",)),
        ("WMA", {"length": 9, "source": "open"}, ("wma_9_open",)),
        ("MACD", {"fast": 8}, ("macd_hist_8_26_9", "macd_8_26_9", "macd_signal_8_26_9")),
        ("MACD", {"fast": 12, "slow": 26, "signal": 9}, ("macd_hist", "macd", "macd_signal")),
        ("BB", {"mult": 2.5}, ("bb_basis_20_2.5", "bb_upper_20_2.5", "bb_lower_20_2.5")),
        ("BB", {"mult": 2}, ("bb_basis", "bb_upper", "bb_lower")),
        ("Stochastic", {"k": 5, "smooth_k": 3}, ("stoch_k_5_3_3", "stoch_d_5_3_3")),
        ("ATR", {"length": 10}, ("atr_10",)),
        ("Volume", {"length": 50}, ("vol", "vol_ma_50")),
    ],
)
def test_columns_carry_non_default_inputs(
    name: str, inputs: dict[str, Any], columns: tuple[str, ...]
) -> None:
    assert indicator(name, **inputs).columns == columns


def test_python_names_map_to_wire_names() -> None:
    macd = indicator("MACD", fast=5, slow=35, signal=5, source="hlc3")
    assert dict(macd.wire) == {"fastLength": 5, "slowLength": 35, "signalLength": 5,
                               "source": "hlc3"}  # fmt: skip
    stoch = indicator("Stochastic", k=21, smooth_k=3, d=5)
    assert dict(stoch.wire) == {"periodK": 21, "smoothK": 3, "periodD": 5}
    assert dict(indicator("BB", mult=3).wire)["mult"] == 3.0


@pytest.mark.parametrize(
    ("name", "inputs", "fragments"),
    [
        ("RSI", {"length": 0}, ["RSI", "length=0", "integer >= 1"]),
        ("RSI", {"length": 14.0}, ["RSI", "length=14.0"]),
        ("RSI", {"length": True}, ["RSI", "length=True"]),
        ("RSI", {"length": "14"}, ["RSI", "length='14'"]),
        ("SMA", {"source": "vwap"}, ["SMA", "source='vwap'", ", ".join(SOURCES)]),
        ("EMA", {"length": -3}, ["EMA", "length=-3"]),
        ("MACD", {"slow": 0}, ["MACD", "slow=0"]),
        ("BB", {"mult": 0}, ["BB", "mult=0", "> 0"]),
        ("BB", {"mult": float("inf")}, ["BB", "mult=inf"]),
        ("BB", {"mult": "2"}, ["BB", "mult='2'"]),
        ("Stochastic", {"smooth_k": None}, ["Stochastic", "smooth_k=None"]),
        ("ATR", {"length": 2.5}, ["ATR", "length=2.5"]),
        ("Volume", {"length": 0}, ["Volume", "length=0"]),
    ],
)
def test_bad_values_name_indicator_input_and_value(
    name: str, inputs: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        indicator(name, **inputs)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_unknown_input_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidArgumentError, match=r"'period'.*length, source"):
        indicator("RSI", period=14)
    with pytest.raises(InvalidArgumentError, match=r"'fastLength'.*fast, slow, signal, source"):
        indicator("MACD", fastLength=12)  # the wire name is not the Python name
    with pytest.raises(InvalidArgumentError, match=r"VWAP has no input 'length'.*no inputs"):
        indicator("VWAP", length=3)


def test_unknown_name_lists_the_catalogue() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        indicator("Ichimoku")
    message = str(caught.value)
    assert "'Ichimoku'" in message
    assert all(name in message for name in INDICATORS)
    with pytest.raises(InvalidArgumentError, match="non-empty"):
        indicator("  ")


def test_a_pine_id_is_resolved_later() -> None:
    spec = indicator("STD;Bollinger_Bands", length=10, **{"Mult": 2.5})
    assert (spec.kind, spec.type, spec.pine_id, spec.pine_version) == (
        "pine", PINE_TYPE, "STD;Bollinger_Bands", "last",
    )  # fmt: skip
    assert spec.inputs == (("length", 10), ("mult", 2.5))  # names normalised, checked later
    assert not spec.resolved and spec.columns == () and not spec.wire
    assert indicator("USER;6dbebfe574904241978540229a0bd3db", in_3=30).inputs == (("in_3", 30),)


def test_any_other_type_passes_through_raw() -> None:
    spec = indicator("Sessions@tv-basicstudies-262", currenttime="now")
    assert (spec.kind, spec.type, dict(spec.wire)) == (
        "raw", "Sessions@tv-basicstudies-262", {"currenttime": "now"},
    )  # fmt: skip
    assert spec.resolved and spec.columns == ()
    assert spec.column_names(3) == ("sessions_plot_0", "sessions_plot_1", "sessions_plot_2")


def test_specs_are_values() -> None:
    assert indicator("RSI", length=14) == indicator("RSI")
    assert indicator("RSI", length=15) != indicator("RSI")
    assert len({indicator("RSI"), indicator("rsi"), indicator("SMA")}) == 2


@pytest.mark.parametrize(
    ("name", "key"),
    [("Length", "length"), ("Fast Length", "fast_length"), ("%K Length", "k_length"),
     ("%D Smoothing", "d_smoothing"), ("Color based on previous close",
                                        "color_based_on_previous_close")],
)  # fmt: skip
def test_pine_input_names_become_keywords(name: str, key: str) -> None:
    assert input_key(name) == key
