"""The studies tvframe knows by name, and specs for any other TradingView study.

Rules of this module: every input is validated here, before any I/O; names are
case-insensitive; wire types, input names, defaults and plot order are those of TradingView's
classic ``*@tv-basicstudies-*`` studies (``protocol.md`` §8). A Pine id (``STD;RSI``) gives a
spec resolved later through pine-facade's ``translate`` (:mod:`tvframe.studies`); any other
``Name@provider-version`` type is sent as given.

Example:
    >>> indicator("rsi").columns
    ('rsi_14',)
    >>> indicator("MACD", fast=8).columns
    ('macd_hist_8_26_9', 'macd_8_26_9', 'macd_signal_8_26_9')
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from tvframe.errors import InvalidArgumentError

__all__ = [
    "INDICATORS",
    "SOURCES",
    "Indicator",
    "IndicatorSpec",
    "Input",
    "by_study_type",
    "indicator",
    "input_key",
]

#: The price sources a ``source`` input accepts.
SOURCES = ("open", "high", "low", "close", "hl2", "hlc3", "ohlc4")
#: The type every Pine script is created with (strategies are not supported).
PINE_TYPE = "Script@tv-scripting-101!"

_PINE_ID = re.compile(r"(STD|PUB|USER);\S+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")

InputValue = int | float | str | bool
Kind = Literal["classic", "pine", "raw"]


def input_key(name: str) -> str:
    """A Pine input's name as a Python keyword: lowercase, runs of other characters to ``_``.

    Example:
        >>> input_key("%K Length"), input_key("Color based on previous close")
        ('k_length', 'color_based_on_previous_close')
    """
    return _NON_ALNUM.sub("_", name.lower()).strip("_")


@dataclass(frozen=True, slots=True, eq=False)
class IndicatorSpec:
    """One study to compute, validated; make it with :func:`indicator`.

    Attributes:
        name: the catalogue name (``"RSI"``), the Pine id, or the raw type.
        type: the ``create_study`` type (``"RSI@tv-basicstudies-1"``).
        inputs: the inputs as given, Python names, defaults filled for catalogue studies.
        plots: plot titles in the order the server sends them (empty until known).
        columns: output column names, one per plot (empty until known).
        label: a readable name, e.g. ``"RSI(14, close)"``.
        kind: ``"classic"`` (catalogue), ``"pine"`` (a Pine id) or ``"raw"`` (a type as given).
        pine_id: the Pine id of a Pine spec.
        pine_version: the Pine version to fetch (``"last"`` or e.g. ``"44.0"``).
        wire: the ``create_study`` inputs (for a Pine spec, filled once resolved).

    Example:
        >>> spec = indicator("BB", length=10)
        >>> spec.type, spec.wire, spec.columns
        ('BB@tv-basicstudies-1', {'length': 10, 'mult': 2.0, 'source': 'close'}, \
('bb_basis_10_2', 'bb_upper_10_2', 'bb_lower_10_2'))
    """

    name: str
    type: str
    inputs: tuple[tuple[str, Any], ...]
    plots: tuple[str, ...]
    columns: tuple[str, ...]
    label: str
    kind: Kind
    pine_id: str | None = None
    pine_version: str = "last"
    wire: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IndicatorSpec):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[Any, ...]:
        return (self.type, self.pine_id, self.pine_version, repr(self.inputs), self.columns)

    @property
    def resolved(self) -> bool:
        """Whether the spec can be sent (a Pine spec needs its metadata first)."""
        return self.kind != "pine" or bool(self.wire)

    def column_names(self, n_plots: int) -> tuple[str, ...]:
        """Column names for ``n_plots`` plots: :attr:`columns`, generic names for any extra.

        Example:
            >>> indicator("Sessions@tv-basicstudies-262").column_names(2)
            ('sessions_plot_0', 'sessions_plot_1')
        """
        known = self.columns[:n_plots]
        base = input_key(self.name.split("@", 1)[0].split(";")[-1]) or "study"
        return known + tuple(f"{base}_plot_{k}" for k in range(len(known), n_plots))


# --- the catalogue --------------------------------------------------------------------


def _integer(value: object) -> int | None:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= 1:
        return int(value)
    return None


def _positive(value: object) -> float | None:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number) and number > 0:
            return number
    return None


def _source(value: object) -> str | None:
    if isinstance(value, str) and value.lower() in SOURCES:
        return value.lower()
    return None


_RULES: dict[str, tuple[Callable[[object], InputValue | None], str]] = {
    "length": (_integer, "an integer >= 1"),
    "positive": (_positive, "a finite number > 0"),
    "source": (_source, "one of " + ", ".join(SOURCES)),
}


@dataclass(frozen=True, slots=True)
class Input:
    """One input of a catalogue study: its Python name, wire name, default and rule."""

    name: str
    wire: str
    default: InputValue
    rule: Literal["length", "positive", "source"]

    def check(self, study: str, value: object) -> InputValue:
        """The value to send; raises :class:`InvalidArgumentError` naming study, input, value."""
        accept, described = _RULES[self.rule]
        checked = accept(value)
        if checked is None:
            raise InvalidArgumentError(
                f"{study}: {self.name}={value!r} is invalid: it must be {described}"
            )
        return checked


def _length(default: int, wire: str = "length", name: str = "length") -> Input:
    return Input(name, wire, default, "length")


_SOURCE = Input("source", "source", "close", "source")


def _tag(values: Mapping[str, InputValue], defaults: Mapping[str, InputValue]) -> str:
    """``_<v1>_<v2>…`` when any of ``defaults``' inputs differs from its default, else ``""``."""
    if all(values[k] == v for k, v in defaults.items()):
        return ""
    return "".join(f"_{values[k]:g}" if isinstance(values[k], float) else f"_{values[k]}"
                   for k in defaults)  # fmt: skip


def _source_tag(values: Mapping[str, InputValue]) -> str:
    # Two specs differing only by source must not share column names.
    source = values.get("source", "close")
    return "" if source == "close" else f"_{source}"


def _one(prefix: str) -> Callable[[Mapping[str, InputValue]], tuple[str, ...]]:
    def columns(v: Mapping[str, InputValue]) -> tuple[str, ...]:
        return (f"{prefix}_{v['length']}{_source_tag(v)}",)

    return columns


def _many(
    names: tuple[str, ...], defaults: Mapping[str, InputValue]
) -> Callable[[Mapping[str, InputValue]], tuple[str, ...]]:
    def columns(v: Mapping[str, InputValue]) -> tuple[str, ...]:
        tag = _tag(v, defaults) + _source_tag(v)
        return tuple(name + tag for name in names)

    return columns


@dataclass(frozen=True, slots=True)
class Indicator:
    """A catalogue entry: what tvframe knows about one built-in study.

    Attributes:
        name: the catalogue name (``"RSI"``).
        type: the classic ``create_study`` type tvframe sends.
        pine_id: the same study as a Pine script.
        description: what it computes.
        inputs: its inputs, in wire order.
        plots: plot titles in the order the server sends them.
        naming: column names from the checked input values, one per plot.
    """

    name: str
    type: str
    pine_id: str
    description: str
    inputs: tuple[Input, ...]
    plots: tuple[str, ...]
    naming: Callable[[Mapping[str, InputValue]], tuple[str, ...]] = field(repr=False)

    def spec(self, given: Mapping[str, object]) -> IndicatorSpec:
        """Validate ``given`` (Python input names) into a spec, defaults filled."""
        known = {i.name: i for i in self.inputs}
        unknown = [name for name in given if name not in known]
        if unknown:
            valid = ", ".join(known) or "none (it takes no inputs)"
            raise InvalidArgumentError(
                f"{self.name} has no input {unknown[0]!r}; valid inputs: {valid}"
            )
        values = {
            i.name: i.check(self.name, given[i.name]) if i.name in given else i.default
            for i in self.inputs
        }
        shown = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values.values())
        return IndicatorSpec(
            name=self.name,
            type=self.type,
            inputs=tuple(values.items()),
            plots=self.plots,
            columns=self.naming(values),
            label=f"{self.name}({shown})" if shown else self.name,
            kind="classic",
            pine_id=self.pine_id,
            wire={i.wire: values[i.name] for i in self.inputs},
        )


def _basic(name: str) -> str:
    return f"{name}@tv-basicstudies-1"


_ENTRIES = (
    Indicator("RSI", _basic("RSI"), "STD;RSI", "Relative Strength Index",
              (_length(14), _SOURCE), ("RSI",), _one("rsi")),
    Indicator("SMA", _basic("MASimple"), "STD;SMA", "Simple Moving Average",
              (_length(9), _SOURCE), ("MA",), _one("sma")),
    Indicator("EMA", _basic("MAExp"), "STD;EMA", "Exponential Moving Average",
              (_length(9), _SOURCE), ("EMA",), _one("ema")),
    Indicator("WMA", _basic("MAWeighted"), "STD;WMA", "Weighted Moving Average",
              (_length(9), _SOURCE), ("WMA",), _one("wma")),
    Indicator("MACD", _basic("MACD"), "STD;MACD", "Moving Average Convergence Divergence",
              (_length(12, "fastLength", "fast"), _length(26, "slowLength", "slow"),
               _length(9, "signalLength", "signal"), _SOURCE),
              ("Histogram", "MACD", "Signal"),
              _many(("macd_hist", "macd", "macd_signal"), {"fast": 12, "slow": 26, "signal": 9})),
    Indicator("BB", _basic("BB"), "STD;Bollinger_Bands", "Bollinger Bands",
              (_length(20), Input("mult", "mult", 2.0, "positive"), _SOURCE),
              ("Basis", "Upper", "Lower"),
              _many(("bb_basis", "bb_upper", "bb_lower"), {"length": 20, "mult": 2.0})),
    Indicator("Stochastic", _basic("Stochastic"), "STD;Stochastic", "Stochastic",
              (_length(14, "periodK", "k"), _length(1, "smoothK", "smooth_k"),
               _length(3, "periodD", "d")),
              ("%K", "%D"), _many(("stoch_k", "stoch_d"), {"k": 14, "smooth_k": 1, "d": 3})),
    Indicator("ATR", _basic("ATR"), "STD;Average_True_Range", "Average True Range",
              (_length(14),), ("ATR",), _one("atr")),
    Indicator("VWAP", _basic("VWAP"), "STD;VWAP", "Volume Weighted Average Price",
              (), ("VWAP",), lambda v: ("vwap",)),
    Indicator("Volume", "Volume@tv-basicstudies-246", "STD;Volume", "Volume and its moving average",
              (_length(20),), ("Volume", "Volume MA"), lambda v: ("vol", f"vol_ma_{v['length']}")),
)  # fmt: skip

#: The catalogue, by name: RSI, SMA, EMA, WMA, MACD, BB, Stochastic, ATR, VWAP, Volume.
INDICATORS: Mapping[str, Indicator] = MappingProxyType({e.name: e for e in _ENTRIES})
_BY_KEY = {e.name.lower(): e for e in _ENTRIES} | {"bollinger": INDICATORS["BB"]}


def _type_base(study_type: str) -> str:
    """``"RSI@tv-basicstudies-1"`` and ``"RSI@tv-basicstudies"`` -> ``"rsi@tv-basicstudies"``."""
    return re.sub(r"-\d+!?$", "", study_type.strip()).lower()


_BY_TYPE = {_type_base(e.type): e for e in _ENTRIES}


def by_study_type(study_type: str) -> IndicatorSpec:
    """The catalogue study of a type string (any version) at its defaults, sent as that type;
    a type the catalogue does not know passes through raw (see :func:`indicator`).

    For callers that name studies by type, like the seed's ``IndicatorConfig``: the values
    come back under the catalogue's plot and column names.

    Example:
        >>> by_study_type("RSI@tv-basicstudies-1").columns
        ('rsi_14',)
    """
    known = _BY_TYPE.get(_type_base(study_type))
    if known is None:
        return indicator(study_type)
    return dataclasses.replace(known.spec({}), type=study_type.strip())


def _pine_spec(pine_id: str, given: Mapping[str, object]) -> IndicatorSpec:
    inputs = tuple((input_key(k) if not k.startswith("in_") else k, v) for k, v in given.items())
    shown = ", ".join(f"{k}={v!r}" for k, v in inputs)
    return IndicatorSpec(pine_id, PINE_TYPE, inputs, (), (), f"{pine_id}({shown})", "pine",
                         pine_id=pine_id)  # fmt: skip


def _raw_spec(study_type: str, given: Mapping[str, object]) -> IndicatorSpec:
    return IndicatorSpec(study_type, study_type, tuple(given.items()), (), (), study_type, "raw",
                         wire=dict(given))  # fmt: skip


def indicator(name: str, **inputs: Any) -> IndicatorSpec:
    """A validated study spec: a catalogue name, a Pine id, or a raw study type.

    Catalogue names (case-insensitive; ``"Bollinger"`` is ``"BB"``) and their inputs:
    RSI, SMA, EMA, WMA (``length``, ``source``); MACD (``fast``, ``slow``, ``signal``,
    ``source``); BB (``length``, ``mult``, ``source``); Stochastic (``k``, ``smooth_k``,
    ``d``); ATR (``length``); VWAP (none); Volume (``length``). A Pine id (``"STD;RSI"``,
    ``"PUB;…"``, ``"USER;…"``) takes its inputs by name (``length=14`` for ``"Length"``,
    see :func:`input_key`) or id (``in_0=14``), checked once its metadata is fetched.
    Any other ``Name@provider-version`` type is sent with ``inputs`` as given.

    Raises:
        InvalidArgumentError: an unknown name (listing the catalogue), an unknown input
            (listing the valid ones), or a bad value (naming indicator, input and value).

    Example:
        >>> indicator("RSI", length=21).columns
        ('rsi_21',)
        >>> indicator("Bollinger").label
        'BB(20, 2, close)'
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(f"indicator name {name!r} must be a non-empty string")
    text = name.strip()
    if _PINE_ID.fullmatch(text):
        return _pine_spec(text, inputs)
    if "@" in text:
        return _raw_spec(text, inputs)
    entry = _BY_KEY.get(text.lower())
    if entry is None:
        raise InvalidArgumentError(
            f"unknown indicator {name!r}: use one of {', '.join(INDICATORS)} (or 'Bollinger'), "
            "a Pine id such as 'STD;RSI', or a study type such as 'RSI@tv-basicstudies-1'"
        )
    return entry.spec(inputs)
