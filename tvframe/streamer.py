"""``RealtimeStreamer``: the seed's async streaming API, on top of :class:`~tvframe.client.Client`.

Rules of this module:
- symbols, timeframes and counts are validated before any network call;
- one socket per ``async with RealtimeStreamer(...)``; a stream used outside of it opens its own;
- transport failures surface as the seed names them (``WebSocketException``,
  ``ConnectionClosed``); nothing is retried here except symbol validation;
- an ``IndicatorConfig`` streams that study beside the candles: ``"indicator"`` responses,
  ``StreamData.indicator`` and the ``indicator_...`` export file; its values come from the
  server, never made up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import warnings
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterable, Iterator
from typing import Any

from tvframe.client import Client, backoff, resolve_url
from tvframe.errors import (
    DataNotFoundError,
    InvalidArgumentError,
    InvalidSymbolError,
    ShortHistoryWarning,
    TvFrameError,
    TvTimeoutError,
    WebSocketException,
)
from tvframe.events import BarUpdate, IndicatorUpdate, SymbolFailed
from tvframe.export import export_data
from tvframe.indicators import IndicatorSpec, by_study_type, indicator
from tvframe.lifecycle import AsyncClosing
from tvframe.models import (
    ExportConfig,
    IndicatorConfig,
    IndicatorData,
    OHLCData,
    StreamConfig,
    StreamData,
    StreamerResponse,
)
from tvframe.notebook import allow_asyncio_run
from tvframe.symbols import Symbol, parse_symbol, parse_symbols

__all__ = ["RealtimeStreamer", "StreamCall", "validate_symbols"]

logger = logging.getLogger(__name__)

Responses = AsyncGenerator[StreamerResponse, None]

# The seed's examples end in asyncio.run(main()): make that work when they run in a notebook.
allow_asyncio_run()

#: Retries of a symbol check after a transport failure or a timeout.
VALIDATION_RETRIES = 3
# Probing a symbol asks for one daily bar: the cheapest series the server resolves.
_PROBE_INTERVAL = "1d"


# --- symbol validation -----------------------------------------------------------------


async def _probe(client: Client, symbol: str) -> None:
    await client.history(symbol, _PROBE_INTERVAL, 1)


async def _check_once(
    names: list[str], url: str | None, token: str | None
) -> tuple[list[str], list[str], TvFrameError | None]:
    """Resolve ``names`` over one client: (unknown to the server, unanswered, last failure)."""
    try:
        async with Client(url, token) as client:
            results = await asyncio.gather(
                *(_probe(client, name) for name in names), return_exceptions=True
            )
    except (WebSocketException, TvTimeoutError) as exc:
        return [], list(names), exc
    unknown: list[str] = []
    unanswered: list[str] = []
    failure: TvFrameError | None = None
    for name, result in zip(names, results, strict=True):
        if isinstance(result, InvalidSymbolError):
            unknown.append(name)
        elif isinstance(result, (WebSocketException, TvTimeoutError)):
            unanswered.append(name)
            failure = result
        elif isinstance(result, BaseException):
            raise result
    return unknown, unanswered, failure


async def validate_symbols(
    symbols: str | Symbol | Iterable[str | Symbol],
    *,
    url: str | None = None,
    token: str | None = None,
    retries: int = VALIDATION_RETRIES,
    retry_delays: Callable[[], Iterator[float]] = backoff,
) -> bool:
    """Check that every symbol is well formed and known to the server.

    Malformed symbols are reported before any network call. The others are resolved
    concurrently over one connection; symbols left unanswered by a transport failure or a
    timeout are asked again, up to ``retries`` times, after the delays ``retry_delays()``
    yields (exponential backoff by default).

    Args:
        symbols: one ``EXCHANGE:SYMBOL`` or many.
        url: WebSocket endpoint; default ``TVFRAME_URL`` or TradingView.
        token: auth token; default ``TVFRAME_TOKEN`` or anonymous.
        retries: further attempts after a transport failure or a timeout.
        retry_delays: a factory of delay iterators, as for :class:`~tvframe.client.Client`.

    Returns:
        ``True`` when every symbol is valid.

    Raises:
        InvalidSymbolError: a ``ValueError`` naming every malformed or unknown symbol at once
            (``.symbols`` lists them).
        WebSocketException: the server could not be reached after all retries.
        TvTimeoutError: the server did not answer after all retries.

    Example:
        >>> async def main() -> None:
        ...     await validate_symbols(["BINANCE:BTCUSDT", "NASDAQ:AAPL"])
    """
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InvalidArgumentError(f"retries must be a non-negative integer, got {retries!r}")
    pending = [s.full_name for s in parse_symbols(symbols)]
    order = {name: i for i, name in enumerate(pending)}
    unknown: list[str] = []
    delays = retry_delays()
    for attempt in range(retries + 1):
        if attempt:
            await asyncio.sleep(next(delays))
        found, pending, failure = await _check_once(pending, url, token)
        unknown += found
        if not pending:
            break
        logger.warning(
            "symbol check attempt %d of %d left %d symbol(s) unanswered: %s",
            attempt + 1, retries + 1, len(pending), failure,
        )  # fmt: skip
    else:
        message = (
            f"could not check {', '.join(pending)} after {retries + 1} attempts: {failure}; "
            "check the network or the server and try again"
        )
        if isinstance(failure, TvTimeoutError):
            raise TvTimeoutError(message) from failure
        raise WebSocketException(message) from failure
    if unknown:
        unknown.sort(key=order.__getitem__)
        raise InvalidSymbolError(
            f"{len(unknown)} symbol{'s' if len(unknown) > 1 else ''} unknown to the server: "
            f"{', '.join(unknown)}",
            unknown,
        )
    return True


# --- conversions -----------------------------------------------------------------------


def _candle(event: BarUpdate) -> OHLCData:
    bar = event.bar
    return OHLCData(
        index=event.index,
        timestamp=bar.time,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=None if math.isnan(bar.volume) else bar.volume,
    )


def _all_failed(failures: dict[str, TvFrameError]) -> TvFrameError:
    """The error ending a stream whose every symbol failed: the one error, or a summary."""
    if len(failures) == 1:
        return next(iter(failures.values()))
    detail = "; ".join(f"{symbol}: {error}" for symbol, error in failures.items())
    if all(isinstance(error, InvalidSymbolError) for error in failures.values()):
        return InvalidSymbolError(f"no symbol could be streamed: {detail}", list(failures))
    return DataNotFoundError(f"no symbol could be streamed: {detail}")


def _checked(value: Any, kind: type[Any], name: str) -> Any:
    if value is not None and not isinstance(value, kind):
        raise InvalidArgumentError(
            f"{name} must be a {kind.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


# --- the streamer ----------------------------------------------------------------------


class StreamCall:
    """What :meth:`RealtimeStreamer.stream` returns; iterate it or await it (the seed's styles).

    ``async for response in call`` yields :class:`~tvframe.models.StreamerResponse` items.
    ``await call`` returns that async generator, or, with ``ExportConfig(export_result=True)``,
    collects the candles, exports them and returns :class:`~tvframe.models.StreamData`.

    Example:
        >>> async def main(streamer: RealtimeStreamer) -> None:
        ...     async for response in streamer.stream():
        ...         print(response.symbol, response.ohlcv_data[-1].close)
    """

    def __init__(self, streamer: RealtimeStreamer, symbols: list[Symbol]) -> None:
        self._streamer = streamer
        self._symbols = symbols

    def __aiter__(self) -> Responses:
        return self._streamer._responses(self._symbols)

    def __await__(self) -> Generator[Any, None, Responses | StreamData]:
        return self._streamer._result(self._symbols).__await__()


class RealtimeStreamer(AsyncClosing):
    """Stream candles of one or many symbols; optionally collect and export them.

    Two styles, as in the seed: ``RealtimeStreamer(StreamConfig(symbols=[...]))`` with
    ``async for response in streamer.stream()``; or ``RealtimeStreamer(export_config=...,
    stream_config=...)`` with ``await streamer.stream(exchange=..., symbol=...)``.

    Each response carries one candle: the first ``numb_price_candles - 1`` loaded candles
    arrive ``closed``, then the forming candle and its live changes; a candle is delivered
    closed exactly once. A symbol the server refuses yields a ``data_type="error"`` response
    and the others go on; when none is left the error is raised.

    With ``ExportConfig(export_result=True)``, ``await streamer.stream(...)`` collects the
    latest ``numb_price_candles`` closed candles of one symbol, writes
    ``{directory}/ohlc_{symbol}_{timeframe}_{YYYYmmdd-HHMMSS}.{ext}`` (UTC time stamp, never
    overwriting) and returns :class:`~tvframe.models.StreamData`. With an ``IndicatorConfig``
    (``IndicatorConfig("RSI@tv-basicstudies", "1")``, or a Pine id such as ``"STD;RSI"``), each
    candle is followed by an ``"indicator"`` response with the study's value on it, and the
    export also collects those points into ``StreamData.indicator`` and writes
    ``{directory}/indicator_{symbol}_{timeframe}_{YYYYmmdd-HHMMSS}.{ext}``.

    Args:
        config: the stream configuration (style 1); same as ``stream_config``.
        export_config: whether and how ``await stream(...)`` exports.
        stream_config: the stream configuration (style 2).
        indicator_config: the study to stream beside the candles (see above).
        url: WebSocket endpoint; default ``TVFRAME_URL`` or TradingView.

    Raises:
        InvalidArgumentError: an argument of the wrong type, or two different configs.

    Example:
        >>> async def main() -> None:
        ...     config = StreamConfig(symbols=["BINANCE:BTCUSDT"], timeframe="1m", num_candles=5)
        ...     async with RealtimeStreamer(config) as streamer:
        ...         async for response in streamer.stream():
        ...             print(response.symbol, response.ohlcv_data[-1].close)
    """

    def __init__(
        self,
        config: StreamConfig | None = None,
        *,
        export_config: ExportConfig | None = None,
        stream_config: StreamConfig | None = None,
        indicator_config: IndicatorConfig | None = None,
        url: str | None = None,
    ) -> None:
        _checked(config, StreamConfig, "config")
        _checked(stream_config, StreamConfig, "stream_config")
        if config is not None and stream_config is not None and config != stream_config:
            raise InvalidArgumentError(
                "config and stream_config are the same setting and were given different "
                "values: pass only one"
            )
        self.stream_config: StreamConfig = config or stream_config or StreamConfig()
        self.export_config: ExportConfig = (
            _checked(export_config, ExportConfig, "export_config") or ExportConfig()
        )
        self.indicator_config: IndicatorConfig | None = _checked(
            indicator_config, IndicatorConfig, "indicator_config"
        )
        self._indicators = _seed_indicators(self.indicator_config)
        self.url = None if url is None else resolve_url(url)
        self._client: Client | None = None
        self._generators: weakref.WeakSet[Responses] = weakref.WeakSet()

    def __repr__(self) -> str:
        state = "open" if self._client is not None else "closed"
        return (
            f"<RealtimeStreamer {state} {self.stream_config.timeframe} "
            f"{self.stream_config.symbols}>"
        )

    async def __aenter__(self) -> RealtimeStreamer:
        if self._client is not None:
            raise TvFrameError(f"{self!r} is already open")
        client = self._new_client()
        await client.connect()
        self._client = client
        return self

    async def close(self) -> None:
        """End open streams and close the socket; safe to call twice."""
        for generator in list(self._generators):
            try:
                await generator.aclose()
            except RuntimeError as error:  # still being iterated by another task
                logger.debug("could not close a stream: %s", error)
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def stream(self, exchange: str | None = None, symbol: str | None = None) -> StreamCall:
        """Stream ``exchange:symbol``, or the configured ``symbols`` when none is named.

        Args:
            exchange: e.g. ``"BINANCE"``; may be omitted when ``symbol`` is ``EXCHANGE:SYMBOL``.
            symbol: e.g. ``"BTCUSDT"``.

        Returns:
            A :class:`StreamCall`: ``async for`` it, or ``await`` it for the seed's second style
            (an async generator, or :class:`~tvframe.models.StreamData` when exporting).

        Raises:
            InvalidSymbolError: malformed symbol (before any network call).
            InvalidArgumentError: no symbol anywhere, or ``exchange`` without ``symbol``.

        Example:
            >>> async def main(streamer: RealtimeStreamer) -> None:
            ...     result = await streamer.stream(exchange="BINANCE", symbol="BTCUSDT")
        """
        return StreamCall(self, self._symbols_for(exchange, symbol))

    async def validate_symbols(self, symbols: str | Symbol | Iterable[str | Symbol]) -> bool:
        """Check symbols against the server; see :func:`validate_symbols`.

        Raises:
            InvalidSymbolError: a ``ValueError`` naming every invalid symbol.

        Example:
            >>> async def main() -> None:
            ...     await RealtimeStreamer().validate_symbols(["NASDAQ:AAPL", "NYSE:IBM"])
        """
        return await validate_symbols(symbols, url=self.url, token=self._token())

    # --- internals -------------------------------------------------------------------

    def _token(self) -> str | None:
        # Left at the seed's default, the token comes from TVFRAME_TOKEN when that is set.
        config = self.stream_config
        return (
            config.websocket_jwt_token if "websocket_jwt_token" in config.model_fields_set else None
        )

    def _new_client(self) -> Client:
        return Client(self.url, self._token())

    def _symbols_for(self, exchange: str | None, symbol: str | None) -> list[Symbol]:
        if symbol is not None:
            return [parse_symbol(symbol if exchange is None else f"{exchange}:{symbol}")]
        if exchange is not None:
            raise InvalidArgumentError(f"exchange={exchange!r} needs symbol= as well")
        if not self.stream_config.symbols:
            raise InvalidArgumentError(
                "no symbol to stream: give StreamConfig(symbols=[...]) or "
                "stream(exchange=..., symbol=...)"
            )
        return parse_symbols(self.stream_config.symbols)

    @contextlib.asynccontextmanager
    async def _client_for_stream(self) -> AsyncIterator[Client]:
        if self._client is not None:
            yield self._client
            return
        async with self._new_client() as client:
            yield client

    def _responses(self, symbols: list[Symbol], n_bars: int | None = None) -> Responses:
        generator = self._generate(symbols, n_bars or self.stream_config.numb_price_candles)
        self._generators.add(generator)
        return generator

    async def _generate(self, symbols: list[Symbol], n_bars: int) -> Responses:
        timeframe = self.stream_config.timeframe
        failures: dict[str, TvFrameError] = {}
        candles: dict[tuple[str, float], OHLCData] = {}  # the latest state of each candle
        async with (
            self._client_for_stream() as client,
            client.stream(symbols, timeframe, n_bars=n_bars, indicators=self._indicators) as stream,
        ):
            async for event in stream:
                if isinstance(event, BarUpdate):
                    candle = _candle(event)
                    candles[event.symbol, candle.timestamp] = candle
                    yield StreamerResponse(
                        data_type="ohlcv",
                        symbol=event.symbol,
                        timeframe=timeframe,
                        ohlcv_data=[candle],
                        closed=event.closed,
                    )
                elif isinstance(event, IndicatorUpdate):
                    key = (event.symbol, event.time)
                    point = _indicator_point(event, candles[key])
                    if event.closed:
                        del candles[key]  # final: the candle will not change again
                    yield StreamerResponse(
                        data_type="indicator",
                        symbol=event.symbol,
                        timeframe=timeframe,
                        indicator_data=[point],
                        closed=event.closed,
                    )
                elif isinstance(event, SymbolFailed) and event.interval is not None:
                    failures[event.symbol] = event.error
                    if len(failures) == len(symbols):
                        raise _all_failed(failures)
                    yield StreamerResponse(
                        data_type="error",
                        symbol=event.symbol,
                        timeframe=timeframe,
                        error=str(event.error),
                    )

    async def _result(self, symbols: list[Symbol]) -> Responses | StreamData:
        if not self.export_config.export_result:
            return self._responses(symbols)
        if len(symbols) != 1:
            raise InvalidArgumentError(
                f"export_result=True collects one symbol, got {len(symbols)}: "
                "call stream(exchange=..., symbol=...) once per symbol"
            )
        data = await self._collect(symbols[0])
        await self._export(symbols[0], data.ohlc, "ohlc")
        if self._indicators:
            await self._export(symbols[0], data.indicator, "indicator")
        return data

    async def _export(
        self, symbol: Symbol, rows: list[OHLCData] | list[IndicatorData], category: str
    ) -> None:
        path = await asyncio.to_thread(
            export_data,
            rows,
            symbol=symbol.ticker,
            timeframe=self.stream_config.timeframe,
            export_type=self.export_config.export_type,
            data_category=category,
            directory=self.export_config.directory,
        )
        logger.info("exported %d %s rows of %s to %s", len(rows), category, symbol, path)

    async def _collect(self, symbol: Symbol) -> StreamData:
        """The latest ``numb_price_candles`` closed candles of ``symbol`` (and indicator points)."""
        wanted = self.stream_config.numb_price_candles
        candles: list[OHLCData] = []
        points: list[IndicatorData] = []
        # One more bar than wanted: the last one loaded is the forming candle, not closed.
        responses = self._responses([symbol], wanted + 1)
        loaded = indicated = False
        try:
            async for response in responses:
                if response.data_type == "ohlcv":
                    if response.closed and len(candles) < wanted:
                        candles += response.ohlcv_data
                    loaded = loaded or not response.closed or len(candles) == wanted
                elif response.data_type == "indicator":
                    if response.closed and len(points) < wanted:
                        points += response.indicator_data
                    indicated = indicated or not response.closed or len(points) == wanted
                if loaded and (indicated or not self._indicators):
                    break  # the load is over (the server may have fewer candles than asked)
        finally:
            await responses.aclose()
        if not candles:
            raise DataNotFoundError(
                f"{symbol} {self.stream_config.timeframe}: the server sent no closed candle"
            )
        if len(candles) < wanted:
            warnings.warn(
                ShortHistoryWarning(
                    f"{symbol} {self.stream_config.timeframe}: asked for {wanted} closed "
                    f"candles, the server has {len(candles)}; returning what exists"
                ),
                stacklevel=5,
            )
        return StreamData(ohlc=candles, indicator=points)


def _seed_indicators(config: IndicatorConfig | None) -> tuple[IndicatorSpec, ...]:
    """The study an ``IndicatorConfig`` names (validated before any I/O), or none."""
    if config is None or config.indicator_id is None:
        return ()
    name = config.indicator_id.strip()
    if "@" in name:
        if config.indicator_version is not None:
            name = f"{name}-{config.indicator_version.strip()}"
        return (by_study_type(name),)
    spec = indicator(name)
    if config.indicator_version is not None and spec.kind == "pine":
        spec = dataclasses.replace(spec, pine_version=config.indicator_version.strip())
    return (spec,)


def _indicator_point(event: IndicatorUpdate, candle: OHLCData) -> IndicatorData:
    first = next(iter(event.values.values()), math.nan)  # the study's first plot
    return IndicatorData(
        index=candle.index, timestamp=event.time, smoothing=first, close=candle.close
    )
