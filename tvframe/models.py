"""Public pydantic models: what tvframe hands to users. Never used per bar on hot paths.

The seed's models (``StreamConfig``, ``ExportConfig``, ``IndicatorConfig``, ``OHLCData``,
``IndicatorData``, ``StreamData``) raise tvframe's own validation errors, all ``ValueError``
subclasses, from their constructors: a bad timeframe is an ``InvalidIntervalError`` naming it,
a malformed symbol an ``InvalidSymbolError`` naming every bad one, anything else an
``InvalidArgumentError``. (``Model.model_validate`` bypasses the constructor and raises pydantic's
``ValidationError``, itself a ``ValueError``.)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from tvframe.errors import InvalidArgumentError, TvFrameValidationError
from tvframe.intervals import parse_interval
from tvframe.symbols import Symbol, parse_symbols

__all__ = [
    "DEFAULT_JWT_TOKEN",
    "EXPORT_TYPES",
    "MAX_CANDLES",
    "ExportConfig",
    "IndicatorConfig",
    "IndicatorData",
    "OHLCData",
    "StreamConfig",
    "StreamData",
    "StreamerResponse",
    "SymbolInfo",
]

#: The seed's anonymous token; it works for public data.
DEFAULT_JWT_TOKEN = "unauthorized_user_token"
#: The seed's upper bound on candles per stream.
MAX_CANDLES = 1000
#: File formats :class:`ExportConfig` accepts (the seed names json and csv; parquet is ours).
EXPORT_TYPES: tuple[str, ...] = ("json", "csv", "parquet")


class SymbolInfo(BaseModel):
    """What the server said about a symbol (``symbol_resolved``), trimmed to what analysts use.

    Attributes:
        symbol: ``EXCHANGE:TICKER`` as resolved (``full_name``).
        raw: every field the server sent, for what is not lifted out here.

    Example:
        >>> info = {"full_name": "NASDAQ:AAPL", "timezone": "America/New_York"}
        >>> SymbolInfo.from_server(info).timezone
        'America/New_York'
    """

    model_config = ConfigDict(frozen=True)

    symbol: str
    description: str = ""
    exchange: str = ""
    type: str = ""
    currency: str = ""
    timezone: str = "Etc/UTC"
    session: str = ""
    pricescale: int = 1
    minmov: int = 1
    has_volume: bool = True
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @classmethod
    def from_server(cls, info: dict[str, Any]) -> SymbolInfo:
        """Build from a ``symbol_resolved`` info object; unexpected types fall back to defaults."""

        def text(key: str, default: str = "") -> str:
            value = info.get(key)
            return value if isinstance(value, str) else default

        def integer(key: str) -> int:
            value = info.get(key)
            return (
                value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1
            )

        return cls(
            symbol=text("full_name") or text("pro_name") or text("name"),
            description=text("description"),
            exchange=text("exchange"),
            type=text("type"),
            currency=text("currency_code"),
            timezone=text("timezone", "Etc/UTC"),
            session=text("session"),
            pricescale=integer("pricescale"),
            minmov=integer("minmov"),
            has_volume=text("visible_plots_set", "ohlcv") == "ohlcv",
            raw=dict(info),
        )


def _describe(error: ErrorDetails) -> str:
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, TvFrameValidationError):
        return str(cause)
    where = ".".join(str(part) for part in error["loc"]) or "value"
    return f"{where}={error['input']!r}: {error['msg']}"


def _translate(model: str, exc: ValidationError) -> TvFrameValidationError:
    """One tvframe error for a failed construction, keeping the specific type when it is alone."""
    errors = exc.errors(include_url=False)
    cause = errors[0].get("ctx", {}).get("error") if len(errors) == 1 else None
    if isinstance(cause, TvFrameValidationError):
        return cause
    return InvalidArgumentError(f"invalid {model}: " + "; ".join(_describe(e) for e in errors))


class _SeedModel(BaseModel):
    """Base of the seed's models: unknown fields are refused, errors are tvframe's own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _translate(type(self).__name__, exc) from None


def _check_candles(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(
            f"{name} must be an integer, got {type(value).__name__} {value!r}"
        )
    if not 1 <= value <= MAX_CANDLES:
        raise InvalidArgumentError(f"{name}={value} is out of range: use 1 to {MAX_CANDLES}")
    return value


class StreamConfig(_SeedModel):
    """What to stream: symbols, timeframe, how many candles, and the auth token.

    ``num_candles`` and ``numb_price_candles`` are the two spellings the seed uses for one
    setting; pass either (or both, equal) and read either.

    Attributes:
        symbols: ``EXCHANGE:SYMBOL`` names, validated and upper-cased; may stay empty when
            ``RealtimeStreamer.stream(exchange=..., symbol=...)`` names the symbol.
        timeframe: one of the seed's ``1m 5m 15m 30m 1h 2h 4h 1d 1w 1M`` (or another valid
            spelling, see :func:`tvframe.intervals.parse_interval`).
        numb_price_candles: candles to load per symbol, 1 to 1000.
        num_candles: the same value, by the seed's other name.
        websocket_jwt_token: the auth token; never shown in ``repr``. Left at its default,
            ``TVFRAME_TOKEN`` is used when set.

    Raises:
        InvalidIntervalError: the timeframe is not understood.
        InvalidSymbolError: naming every malformed symbol.
        InvalidArgumentError: candles out of range, two different candle counts, unknown fields.

    Example:
        >>> config = StreamConfig(symbols=["binance:btcusdt"], timeframe="5m", num_candles=50)
        >>> config.symbols, config.numb_price_candles
        (['BINANCE:BTCUSDT'], 50)
    """

    symbols: list[str] = Field(default_factory=list)
    timeframe: str = "1m"
    numb_price_candles: int = 10
    num_candles: int = 10
    websocket_jwt_token: str = Field(default=DEFAULT_JWT_TOKEN, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _one_candle_count(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        given = {k: data[k] for k in ("numb_price_candles", "num_candles") if k in data}
        if not given:
            return data
        (first_name, first), *rest = given.items()
        if rest and rest[0][1] != first:
            raise InvalidArgumentError(
                f"numb_price_candles={given['numb_price_candles']!r} and "
                f"num_candles={given['num_candles']!r} disagree: they are one setting, "
                "pass only one of them"
            )
        count = _check_candles(first_name, first)
        return {**data, "numb_price_candles": count, "num_candles": count}

    @field_validator("timeframe", mode="before")
    @classmethod
    def _known_timeframe(cls, value: Any) -> str:
        return parse_interval(value).text

    @field_validator("symbols", mode="before")
    @classmethod
    def _well_formed_symbols(cls, value: Any) -> list[str]:
        if isinstance(value, (str, Symbol)):
            value = [value]
        if not isinstance(value, Iterable):
            raise InvalidArgumentError(
                f"symbols must be a list of 'EXCHANGE:SYMBOL' strings, got {value!r}"
            )
        items = list(value)
        return [s.full_name for s in parse_symbols(items)] if items else []


class ExportConfig(_SeedModel):
    """Whether ``RealtimeStreamer.stream`` collects and exports, and in which format.

    Attributes:
        export_result: ``True``: ``stream`` collects the candles, writes a file and returns a
            :class:`StreamData`; ``False``: it returns an async generator.
        export_type: ``"json"``, ``"csv"`` or ``"parquet"``.
        directory: where files go (created when missing); the seed's ``export``.

    Example:
        >>> ExportConfig(export_result=True, export_type="csv").directory
        PosixPath('export')
    """

    export_result: bool = False
    export_type: Literal["json", "csv", "parquet"] = "json"
    directory: Path = Path("export")

    @field_validator("directory", mode="before")
    @classmethod
    def _usable_directory(cls, value: Any) -> Path:
        # Imported here: tvframe.export imports this module for EXPORT_TYPES.
        from tvframe.export import check_path

        return check_path(value, "directory")

    @field_validator("export_type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        if value not in EXPORT_TYPES:
            raise InvalidArgumentError(
                f"export_type={value!r} is not one of {', '.join(EXPORT_TYPES)}"
            )
        return value


class IndicatorConfig(_SeedModel):
    """Which TradingView study to stream alongside the candles (both fields optional).

    Attributes:
        indicator_id: the study id, e.g. ``"RSI@tv-basicstudies"``.
        indicator_version: its version, e.g. ``"1"`` (an integer is accepted and kept as text).

    Example:
        >>> config = IndicatorConfig(indicator_id="RSI@tv-basicstudies", indicator_version=1)
        >>> config.indicator_version
        '1'
    """

    indicator_id: str | None = None
    indicator_version: str | None = None

    @field_validator("indicator_version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("indicator_id", "indicator_version")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise InvalidArgumentError("indicator_id and indicator_version must not be blank")
        return value


class OHLCData(_SeedModel):
    """One candle: ``timestamp`` is the bar open in UTC epoch seconds; ``volume`` ``None`` if none.

    Example:
        >>> OHLCData(index=0, timestamp=1640995200.0, open=47150.0, high=47200.0,
        ...          low=47100.0, close=47180.0, volume=1500.0).close
        47180.0
    """

    index: int
    timestamp: float
    open: float
    high: float
    low: float
    close: float
    volume: float | None = None


class IndicatorData(_SeedModel):
    """One indicator point, as the seed defines it.

    ``smoothing`` is the study's first plot on that candle (the RSI value for
    ``RSI@tv-basicstudies``; NaN while the study warms up); ``close`` is the candle's close;
    ``index`` and ``timestamp`` are the candle's.

    Example:
        >>> IndicatorData(index=0, timestamp=1640995200.0, smoothing=65.5, close=47180.0).smoothing
        65.5
    """

    index: int
    timestamp: float
    smoothing: float
    close: float


class StreamData(_SeedModel):
    """What an exporting ``RealtimeStreamer.stream`` returns: candles and indicator points.

    Example:
        >>> StreamData().ohlc, StreamData().indicator
        ([], [])
    """

    ohlc: list[OHLCData] = Field(default_factory=list)
    indicator: list[IndicatorData] = Field(default_factory=list)


class StreamerResponse(_SeedModel):
    """One item of ``async for response in streamer.stream()``.

    Attributes:
        data_type: ``"ohlcv"`` for a candle, ``"indicator"`` for the indicator's value on a
            candle (with an ``IndicatorConfig``), ``"error"`` when ``symbol`` stopped streaming.
        symbol: ``EXCHANGE:SYMBOL``.
        timeframe: the stream's timeframe.
        ohlcv_data: the candle that changed (one item; empty otherwise).
        indicator_data: the indicator point that changed (one item; empty otherwise).
        closed: the candle (and its indicator value) is final; otherwise it is the forming
            candle's latest state.
        error: why ``symbol`` stopped, for ``"error"`` responses.

    Example:
        >>> candle = OHLCData(index=0, timestamp=60.0, open=1, high=2, low=0.5, close=1.5)
        >>> StreamerResponse(data_type="ohlcv", symbol="NASDAQ:AAPL", timeframe="1m",
        ...                  ohlcv_data=[candle], closed=True).ohlcv_data[-1].close
        1.5
    """

    data_type: Literal["ohlcv", "indicator", "error"]
    symbol: str
    timeframe: str
    ohlcv_data: list[OHLCData] = Field(default_factory=list)
    indicator_data: list[IndicatorData] = Field(default_factory=list)
    closed: bool = False
    error: str | None = None
