"""LiveFeed: what every live table shares — a feed on the shared loop, callbacks, display, stop.

Rules of this module:
- the feed runs on the shared loop thread (:mod:`tvframe.loop`) over the pooled client
  (:mod:`tvframe.pool`); it is the only writer. Readers on any thread take snapshots under one
  reentrant lock, which subclasses also hold around their own state;
- a subclass says how to open its :class:`~tvframe.stream.Stream`, what to do with the
  updates of its kind, when a symbol's first data is in, and how to draw a frame; everything
  else (start, stop, failures, callbacks, ``updates()``, notebook display) is here, once;
- user callbacks run on the loop thread; what they raise is logged and handed to
  ``on_error``, and never ends the feed;
- feeds still running at interpreter exit are stopped, as a stop and not as an error.
"""

from __future__ import annotations

import asyncio
import html
import logging
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from pydantic import SecretStr

from tvframe.client import Client, ClientState, resolve_token, resolve_url
from tvframe.display import DisplayFunction, DisplayHandle, Refresher, ThrottledValue
from tvframe.errors import DataNotFoundError, InvalidArgumentError, TvFrameError, TvTimeoutError
from tvframe.events import Reconnected, StreamEvent, SymbolFailed
from tvframe.frames import Backend, check_backend
from tvframe.liveupdates import DEFAULT_MAX_BACKLOG, Coalescing, LiveUpdates, U
from tvframe.loop import LoopThread, add_cleanup, shared_loop
from tvframe.pool import on_shared_loop, with_client

if TYPE_CHECKING:
    from types import CoroutineType

    import pandas as pd
    import polars as pl

    from tvframe.stream import Stream

__all__ = ["ErrorCallback", "LiveFeed", "check_callback", "check_positive"]

logger = logging.getLogger(__name__)

#: A callback given an error (``on_error``).
ErrorCallback = Callable[[Exception], object]
_C = TypeVar("_C", bound=Callable[..., object])
_F = TypeVar("_F", bound="LiveFeed[Any]")
_T = TypeVar("_T")

# Seconds stop() waits for the server to acknowledge deleted sessions.
_CLOSE_TIMEOUT = 5.0

# Feeds still running; stopped at interpreter exit. Touched only on the loop thread.
_running_feeds: set[LiveFeed[Any]] = set()


async def _stop_all() -> None:
    for feed in list(_running_feeds):
        await feed._stop()


add_cleanup(_stop_all)


def check_positive(name: str, value: float) -> float:
    """Validate a positive number of seconds named ``name``.

    Example:
        >>> check_positive("refresh", 2)
        2.0
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidArgumentError(f"{name}={value!r} must be a positive number of seconds")
    return float(value)


def check_callback(name: str, callback: _C | None) -> _C | None:
    """Validate an optional callback named ``name``.

    Example:
        >>> check_callback("on_update", print) is print
        True
    """
    if callback is not None and not callable(callback):
        raise InvalidArgumentError(f"{name}={callback!r} is not callable")
    return callback


@dataclass(frozen=True)
class _View:
    """What a notebook shows: an HTML table and its plain-text fallback."""

    html: str
    text: str

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


class LiveFeed(ABC, Generic[U]):
    """The shared machinery of live tables (:class:`~tvframe.liveframe.LiveFrame`,
    :class:`~tvframe.livequotes.LiveQuotes`); not made directly.

    Snapshots (:meth:`frame`, :meth:`to_pandas`, :meth:`to_polars`) are consistent and may be
    taken from any thread. ``on_update`` sees live changes only, not the first data of each
    symbol, and runs on tvframe's loop thread with ``on_error`` (which also hears of refused
    symbols and of the error that ends the feed). :meth:`stop`, leaving a ``with`` /
    ``async with`` block, or the interpreter's exit ends the feed; the data stays.

    Example:
        >>> def describe(feed: LiveFeed[Any]) -> str:
        ...     return f"{', '.join(feed.symbols)}: {'running' if feed.running else 'stopped'}"
    """

    #: What a symbol waits for before the feed is open ("history", "first quote").
    _FIRST_DATA: ClassVar[str]

    def __init__(
        self,
        symbols: list[str],
        *,
        backend: Backend,
        coalescing: Coalescing[U],
        on_update: Callable[[U], object] | None,
        on_error: ErrorCallback | None,
        refresh: float,
        url: str | None,
        token: str | SecretStr | None,
        timeout: float,
    ) -> None:
        self._symbols = symbols
        self._backend = backend
        self._coalescing = coalescing
        self._on_update = check_callback("on_update", on_update)
        self._on_error = check_callback("on_error", on_error)
        self._refresh = check_positive("refresh", refresh)
        self._timeout = check_positive("timeout", timeout)
        self._url = resolve_url(url)
        self._token = resolve_token(token)

        # Shared by the feed (writer) and every reader; reentrant so that one snapshot can
        # span several of a subclass's structures.
        self._lock = threading.RLock()
        self._failed: dict[str, TvFrameError] = {}
        self._version = 0
        self._queues: list[weakref.ref[LiveUpdates[U]]] = []
        self._refreshers: list[Refresher] = []
        self._running = False
        self._error: Exception | None = None
        self._html = ThrottledValue(self._render_html, self._refresh)

        # Loop-thread state.
        self._home: LoopThread | None = None
        self._client: Client | None = None
        self._stream: Stream | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._stopper: asyncio.Task[None] | None = None
        self._load_done: asyncio.Event | None = None

    # --- what a subclass provides ----------------------------------------------------------

    @abstractmethod
    def _new_stream(self, client: Client) -> Stream:
        """The (unstarted) stream this feed reads."""

    @abstractmethod
    def _on_data(self, event: StreamEvent) -> None:
        """Apply an update of this feed's kind (loop thread); other events are ignored."""

    @abstractmethod
    def _arrived(self) -> Collection[str]:
        """Symbols whose first data is in (called under the lock)."""

    @abstractmethod
    def _frame(self, backend: Backend) -> pd.DataFrame | pl.DataFrame:
        """A consistent snapshot in ``backend``."""

    @abstractmethod
    def _table_html(self) -> tuple[str, Collection[str]]:
        """The notebook table and the failed symbols, from one snapshot."""

    @abstractmethod
    def _text(self) -> str:
        """A one-line description: the kind, the symbols, the state, the size."""

    def _loaded(self) -> None:
        """Every symbol's first data is in (or failed); hook for checks that may raise."""

    def _on_end(self) -> None:
        """The feed just ended; hook to release the subclass's own waiters."""

    # --- public state ----------------------------------------------------------------------

    def __repr__(self) -> str:
        return self._text()

    @property
    def symbols(self) -> list[str]:
        """The symbols still streaming, in the order asked for."""
        with self._lock:
            return [s for s in self._symbols if s not in self._failed]

    @property
    def failed(self) -> dict[str, TvFrameError]:
        """Symbols the server refused (or whose stream died), with the reason."""
        with self._lock:
            return dict(self._failed)

    @property
    def running(self) -> bool:
        """True from the start until :meth:`stop` or the error that ends the feed."""
        return self._running

    @property
    def error(self) -> Exception | None:
        """The error that ended the feed, if one did."""
        return self._error

    @property
    def display_updates(self) -> int:
        """How many times notebook displays of this feed were refreshed."""
        with self._lock:
            return sum(r.updates for r in self._refreshers)

    def _state_text(self) -> str:
        return "running" if self._running else "stopped"

    # --- snapshots -------------------------------------------------------------------------

    def frame(self, backend: str | None = None) -> pd.DataFrame | pl.DataFrame:
        """A snapshot in ``backend`` (default: the one chosen at creation).

        Example:
            >>> def rows(feed: LiveFeed[Any]) -> int:
            ...     return len(feed.frame())
        """
        return self._frame(self._backend if backend is None else check_backend(backend))

    def to_pandas(self) -> pd.DataFrame:
        """A pandas snapshot.

        Example:
            >>> def columns(feed: LiveFeed[Any]) -> list[str]:
            ...     return feed.to_pandas().columns.tolist()
        """
        return cast("pd.DataFrame", self._frame("pandas"))

    def to_polars(self) -> pl.DataFrame:
        """A polars snapshot.

        Example:
            >>> def height(feed: LiveFeed[Any]) -> int:
            ...     return feed.to_polars().height
        """
        return cast("pl.DataFrame", self._frame("polars"))

    # --- async iteration -------------------------------------------------------------------

    def updates(self, max_backlog: int = DEFAULT_MAX_BACKLOG) -> LiveUpdates[U]:
        """Live updates as an async iterator (see :class:`~tvframe.liveupdates.LiveUpdates`
        for what a slow reader skips).

        Example:
            >>> async def print_closes(lf: "LiveFrame") -> None:
            ...     async for update in lf.updates():
            ...         if update.closed and isinstance(update, BarUpdate):  # not indicators
            ...             print(update.symbol, update.bar.close)
        """
        queue = LiveUpdates(self._coalescing, max_backlog)
        with self._lock:
            if self._running:
                self._queues.append(weakref.ref(queue))
            else:
                queue._end(self._error)
        return queue

    def _publish(self, update: U) -> None:
        with self._lock:
            queues = [q for q in (ref() for ref in self._queues) if q is not None and not q.closed]
            self._queues = [weakref.ref(q) for q in queues]
        for queue in queues:
            queue._put(update)

    # --- callbacks -------------------------------------------------------------------------

    def _call(self, callback: Callable[[_T], object] | None, update: _T) -> None:
        if callback is None:
            return
        try:
            callback(update)
        except Exception as exc:
            logger.exception("a %s callback raised; the feed goes on", type(self).__name__)
            self._report(exc)

    def _report(self, error: Exception) -> None:
        if self._on_error is None:
            return
        try:
            self._on_error(error)
        except Exception:
            logger.exception("the %s on_error callback raised", type(self).__name__)

    # --- notebooks -------------------------------------------------------------------------

    def show(self, display: DisplayFunction | None = None) -> DisplayHandle:
        """Display the table and keep it fresh while the feed runs.

        Refreshes come from tvframe's loop at most once per ``refresh`` seconds and only when
        something changed; the kernel is never blocked. ``display`` defaults to
        ``IPython.display.display``. Notebooks call this through ``_ipython_display_``.

        Example:
            >>> def show_in_notebook(feed: LiveFeed[Any]) -> None:
            ...     feed.show()          # what evaluating `feed` in a cell does
        """
        home = self._home if self._home is not None else shared_loop()
        refresher = Refresher(self._view, home.loop, interval=self._refresh, display=display)
        with self._lock:
            # Registered before it starts, so a stop that comes meanwhile still closes it.
            follow = self._running
            self._refreshers.append(refresher)
        try:
            return refresher.show(follow=follow)
        except BaseException:
            with self._lock:
                self._refreshers.remove(refresher)
            raise

    def _ipython_display_(self) -> None:
        self.show()

    def _repr_html_(self) -> str:
        with self._lock:
            version = self._version
        return self._html.get(version)

    def _notify_displays(self) -> None:
        with self._lock:
            refreshers = list(self._refreshers)
        for refresher in refreshers:
            refresher.notify()

    def _view(self) -> _View:
        return _View(self._render_html(), self._text())

    def _render_html(self) -> str:
        table, failed = self._table_html()
        listing = f" · failed: {html.escape(', '.join(failed))}" if failed else ""
        header = html.escape(self._text()) + listing
        updated = time.strftime("%H:%M:%S")
        return f"<div><small>{header} · shown {updated}</small>{table}</div>"

    # --- stopping --------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop streaming (idempotent); the data stays readable.

        On tvframe's loop thread (inside a callback) the stop is scheduled, not awaited.
        """
        home = self._home
        if home is None or not home.alive:
            return
        if self._on_home_loop():
            self._begin_stop()
        else:
            home.run(self._stop())

    async def astop(self) -> None:
        """Async twin of :meth:`stop`."""
        if self._home is not None and self._home.alive:
            await on_shared_loop(self._stop())

    def __enter__(self: _F) -> _F:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self: _F) -> _F:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

    def _on_home_loop(self) -> bool:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return False
        return self._home is not None and running is self._home.loop

    async def _stop(self) -> None:
        await asyncio.shield(self._begin_stop())

    def _begin_stop(self) -> asyncio.Task[None]:
        if self._stopper is None:
            self._stopper = asyncio.get_running_loop().create_task(
                self._shutdown(), name="tvframe-live-stop"
            )
        return self._stopper

    async def _shutdown(self) -> None:
        consumer = self._consumer
        if consumer is not None and not consumer.done():
            consumer.cancel()
            await asyncio.wait([consumer])
        self._end(None)
        if self._stream is not None:
            try:
                await asyncio.wait_for(self._stream.close(), _CLOSE_TIMEOUT)
            except asyncio.TimeoutError:
                logger.debug("the server did not take the session deletes in time")
        with self._lock:
            refreshers = list(self._refreshers)
        for refresher in refreshers:
            await refresher.close()
        _running_feeds.discard(self)

    def _end(self, error: Exception | None) -> None:
        """The feed is over: record why and release everyone waiting (idempotent)."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            self._error = error
            self._version += 1
            queues = [q for q in (ref() for ref in self._queues) if q is not None]
            self._queues = []
        if self._load_done is not None:
            self._load_done.set()
        self._on_end()
        for queue in queues:
            queue._end(error)
        self._notify_displays()

    # --- the feed (loop thread) ------------------------------------------------------------

    async def _open(self: _F) -> _F:
        """Subscribe, wait for every symbol's first data, start the feed; returns self."""
        self._home = shared_loop()
        self._load_done = asyncio.Event()
        try:
            self._stream = await with_client(self._url, self._token, self._timeout, self._subscribe)
            with self._lock:
                self._running = True
            _running_feeds.add(self)
            consume = cast("CoroutineType[Any, Any, None]", self._consume(self._stream))
            # Task listings (asyncio.all_tasks, debuggers) then say which kind of feed runs.
            consume.__qualname__ = f"{type(self).__name__}._consume"
            self._consumer = asyncio.get_running_loop().create_task(
                consume, name="tvframe-live-feed"
            )
            await self._await_load()
        except BaseException:
            await self._stop()
            raise
        return self

    async def _subscribe(self, client: Client) -> Stream:
        self._client = client
        stream = self._new_stream(client)
        await stream.start()
        return stream

    async def _await_load(self) -> None:
        assert self._load_done is not None
        try:
            await asyncio.wait_for(self._load_done.wait(), self._timeout)
        except asyncio.TimeoutError:
            with self._lock:
                settled = set(self._arrived()) | self._failed.keys()
            missing = [s for s in self._symbols if s not in settled]
            raise TvTimeoutError(
                f"timed out after {self._timeout}s waiting for the {self._FIRST_DATA} of "
                f"{', '.join(missing)}"
            ) from None
        if not self._running:
            raise self._error or DataNotFoundError(
                f"the {type(self).__name__} stopped before its {self._FIRST_DATA} came"
            )
        self._loaded()

    async def _consume(self, stream: Stream) -> None:
        error: Exception | None = None
        name = type(self).__name__
        try:
            async for event in stream:
                self._handle(event)
                if isinstance(event, SymbolFailed) and not self.symbols:
                    error = event.error  # every symbol failed: nothing is left to stream
                    break
        except TvFrameError as exc:
            if self._client is not None and self._client.state is ClientState.CLOSED:
                # The pooled client was closed on purpose (interpreter exit): a stop, not a
                # failure of the feed.
                logger.debug("the %s's client was closed; the feed stops", name)
            else:
                logger.warning("the %s feed of %s ended: %s", name, ", ".join(self._symbols), exc)
                error = exc
                self._report(exc)
        except Exception as exc:  # a bug must end the feed visibly, not kill it silently
            logger.exception("the %s feed failed", name)
            error = exc
            self._report(exc)
        self._end(error)
        self._begin_stop()

    def _handle(self, event: StreamEvent) -> None:
        if isinstance(event, SymbolFailed):
            self._on_symbol_failed(event)
        elif isinstance(event, Reconnected):
            logger.info(
                "%s feed reconnected (attempt %d): %s",
                type(self).__name__, event.attempt, event.reason,
            )  # fmt: skip
        else:
            self._on_data(event)

    def _on_symbol_failed(self, event: SymbolFailed) -> None:
        logger.warning(
            "%s: %s failed and is dropped: %s", type(self).__name__, event.symbol, event.error
        )
        with self._lock:
            self._failed[event.symbol] = event.error
            self._version += 1
        self._report(event.error)
        self._check_loaded()
        self._notify_displays()

    def _check_loaded(self) -> None:
        if self._load_done is None or self._load_done.is_set():
            return
        with self._lock:
            settled = set(self._arrived()) | self._failed.keys()
        if settled.issuperset(self._symbols):
            self._load_done.set()
