"""Studies on a chart session: create, modify, remove; their points as typed values.

Rules of this module (``protocol.md`` §6, §7, §8; capture HAR-tc):
- a study's points arrive framed by ``study_loading`` … ``study_completed``; that full set
  replaces every earlier point (the server resends one after each ``request_more_data``);
  points between full sets are live changes, merged by bar time;
- points at indexes ``<= -1_000_000`` are the server's warm-up before the series' first bar:
  kept apart as history, never as rows of the series; ``-2_000_000`` and below are invalid;
- values are aligned to bars by bar time (``v[0]``), not by index, because paging re-bases
  indexes; ``1e+100`` is already NaN (:mod:`tvframe.protocol.messages`);
- Pine specs are resolved through pine-facade ``translate`` (cached per host, id and version
  for the process) and validated before anything is sent on the socket.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeAlias, cast
from urllib.parse import quote, urlsplit

import numpy as np
import numpy.typing as npt
import orjson

from tvframe import http
from tvframe.client import SERIES_ID, new_id
from tvframe.errors import (
    CriticalError,
    InvalidArgumentError,
    MessageError,
    StudyError,
    TvFrameError,
)
from tvframe.events import IndicatorUpdate
from tvframe.indicators import SOURCES, IndicatorSpec, indicator, input_key
from tvframe.protocol import (
    CriticalErrorEvent,
    DataUpdate,
    Event,
    StudyCompleted,
    StudyDeleted,
    StudyErrorEvent,
    StudyLoading,
    StudyPoints,
    TimescaleUpdate,
)

#: An ``indicators=`` item: a spec, or a catalogue name at its defaults (``"RSI"``).
IndicatorLike: TypeAlias = "str | IndicatorSpec"

__all__ = [
    "IndicatorLike",
    "PINE_FACADE_HOST",
    "STUDY_TURNAROUND",
    "Change",
    "PineInput",
    "StreamStudies",
    "Study",
    "StudySet",
    "StudyValues",
    "Translation",
    "align",
    "bind",
    "check_indicators",
    "load_studies",
    "resolve_indicators",
    "translate",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Call = tuple[str, list[Any]]

#: The turnaround tvframe gives every study (the server answers ``"<seriesTa>_st1"``).
STUDY_TURNAROUND = "st1"
#: TradingView's Pine metadata service, used when the socket is TradingView's own.
PINE_FACADE_HOST = "pine-facade.tradingview.com"
#: Indexes at or below this are warm-up points before the series' first bar (§8).
WARMUP_INDEX = -1_000_000
#: Indexes at or below this are invalid points (§8, ``INVALID_TIME_POINT_INDEX``).
INVALID_INDEX = -2_000_000
# Inputs of every Pine script filled by tvframe itself, not by the user (capture HAR-tc).
_PINE_HEADER = ("text", "pineId", "pineVersion")
_PROFILE = {"v": False, "f": True, "t": "bool"}


# --- values -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class StudyValues:
    """The values of one study: one float64 array per output column, NaN where none.

    Attributes:
        study_id: the study's id on its chart session.
        spec: what was computed (its :attr:`~IndicatorSpec.columns` name the columns).
        time: bar open times, UTC epoch seconds, ascending.
        columns: column name → values, each as long as ``time``.
        warmup: the server's points before the series' first bar, when it sent any.

    Example:
        >>> from tvframe.indicators import indicator
        >>> rsi = {"rsi_14": np.array([50.0])}
        >>> v = StudyValues("st_a", indicator("RSI"), np.array([60.0]), rsi)
        >>> len(v), list(v.columns)
        (1, ['rsi_14'])
    """

    study_id: str
    spec: IndicatorSpec
    time: FloatArray
    columns: Mapping[str, FloatArray]
    warmup: StudyValues | None = None

    def __len__(self) -> int:
        return len(self.time)

    def row(self, i: int) -> dict[str, float]:
        """The values at position ``i`` as floats, by column name."""
        return {name: float(col[i]) for name, col in self.columns.items()}


def align(values: StudyValues, times: FloatArray) -> StudyValues:
    """``values`` at exactly the bar ``times``: NaN where the server sent no point.

    Example:
        >>> from tvframe.indicators import indicator
        >>> v = StudyValues("st_a", indicator("SMA"), np.array([60.0]), {"sma_9": np.array([1.0])})
        >>> align(v, np.array([0.0, 60.0])).columns["sma_9"].tolist()
        [nan, 1.0]
    """
    if len(values.time):
        pos = np.minimum(np.searchsorted(values.time, times), len(values.time) - 1)
        hit = values.time[pos] == times
    else:
        pos = np.zeros(len(times), dtype=np.int64)
        hit = np.zeros(len(times), dtype=bool)
    columns = {
        name: np.where(hit, col[pos] if len(col) else np.nan, np.nan).astype(np.float64)
        for name, col in values.columns.items()
    }
    return replace(values, time=np.asarray(times, dtype=np.float64), columns=columns)


def _merge_points(chunks: Sequence[tuple[IntArray, FloatArray]]) -> tuple[IntArray, FloatArray]:
    """One row per time, the one received last, ascending; rows are ``[time, plots…]``."""
    chunks = [c for c in chunks if len(c[0])]
    if not chunks:
        return np.empty(0, dtype=np.int64), np.empty((0, 1))
    width = max(rows.shape[1] for _, rows in chunks)
    index = np.concatenate([idx for idx, _ in chunks])
    rows = np.concatenate([_widen(r, width) for _, r in chunks])
    # Reverse so np.unique's first occurrence is the last one received.
    _, first = np.unique(rows[::-1, 0], return_index=True)
    keep = len(rows) - 1 - first
    return index[keep], rows[keep]


def _widen(rows: FloatArray, width: int) -> FloatArray:
    if rows.shape[1] >= width:
        return rows
    return np.hstack([rows, np.full((len(rows), width - rows.shape[1]), np.nan)])


# --- one study ----------------------------------------------------------------------------

State = Literal["new", "loading", "completed", "failed", "removing", "deleted"]


class Study:
    """One study on a chart session as the client tracks it (no I/O).

    ``state``: ``new`` (created or modified, nothing heard yet), ``loading`` (a full set is
    arriving), ``completed`` (a full set is in; live changes merge into it), ``failed``,
    ``removing``, ``deleted``.
    """

    def __init__(self, study_id: str, spec: IndicatorSpec) -> None:
        self.study_id = study_id
        self.spec = spec
        self.state: State = "new"
        self.error: StudyError | None = None
        #: Full sets received so far.
        self.full_sets = 0
        self._pending: list[tuple[IntArray, FloatArray]] = []
        self._index: IntArray = np.empty(0, dtype=np.int64)
        self._rows: FloatArray = np.empty((0, 1))

    def __repr__(self) -> str:
        return f"<Study {self.study_id} {self.spec.label} {self.state}>"

    @property
    def ready(self) -> bool:
        """A full set is in and no newer one is on its way."""
        return self.state == "completed"

    def restart(self, spec: IndicatorSpec | None = None) -> None:
        """Forget pending points: a create, modify or reconnect starts a new full set."""
        self.state = "new"
        self._pending = []
        if spec is not None:
            self.spec = spec
            self._index, self._rows = np.empty(0, dtype=np.int64), np.empty((0, 1))

    def loading(self) -> None:
        """``study_loading``: a full set follows; points from before it are obsolete."""
        self.state = "loading"
        self._pending = []

    def add(self, points: StudyPoints) -> bool:
        """Points of a ``du``/``timescale_update``; True when live values changed."""
        chunk = (points.index, points.values)
        if self.state in ("new", "loading"):
            self._pending.append(chunk)
            return False
        if self.state != "completed" or not len(points.index):
            return False
        self._index, self._rows = _merge_points([(self._index, self._rows), chunk])
        return True

    def complete(self) -> None:
        """``study_completed``: the full set received replaces every earlier point."""
        self._index, self._rows = _merge_points(self._pending)
        self._pending = []
        self.state = "completed"
        self.full_sets += 1
        n_plots = self._rows.shape[1] - 1
        if len(self._rows) and self.spec.columns and n_plots != len(self.spec.columns):
            logger.warning("study %s sent %d plots, %s has %d", self.study_id, n_plots,
                           self.spec.label, len(self.spec.columns))  # fmt: skip

    def fail(self, reason: str) -> StudyError:
        """``study_error``: the error naming the study, its inputs and the server's reason."""
        shown = ", ".join(f"{k}={v!r}" for k, v in self.spec.inputs) or "no inputs"
        self.error = StudyError(
            f"the server refused study {self.spec.label} ({self.spec.type}, id "
            f"{self.study_id}) with {shown}: {reason}"
        )
        self.state = "failed"
        return self.error

    @property
    def first_time(self) -> float:
        """Time of the first row of the series (not warm-up); +inf when there is none."""
        main = self._index > WARMUP_INDEX
        return float(self._rows[main, 0][0]) if main.any() else math.inf

    def values(self) -> StudyValues:
        """The rows of the series, with the warm-up rows attached."""
        main = self._index > WARMUP_INDEX
        warm = (self._index <= WARMUP_INDEX) & (self._index > INVALID_INDEX)
        warmup = self._columns(self._rows[warm]) if warm.any() else None
        return self._columns(self._rows[main], warmup)

    def _columns(self, rows: FloatArray, warmup: StudyValues | None = None) -> StudyValues:
        names = self.spec.column_names(max(rows.shape[1] - 1, len(self.spec.columns)))
        plots = _widen(rows, len(names) + 1)
        columns = {name: plots[:, k + 1].copy() for k, name in enumerate(names)}
        return StudyValues(self.study_id, self.spec, rows[:, 0].copy(), columns, warmup)


# --- the studies of one chart session --------------------------------------------------

ChangeKind = Literal["full", "live", "failed", "deleted"]


@dataclass(frozen=True, slots=True)
class Change:
    """What an event did to a study: a full set came in, live values changed, it failed, or
    it was deleted."""

    study: Study
    kind: ChangeKind


class StudySet:
    """The studies of one chart session: the calls to send and the events to apply (no I/O).

    Example:
        >>> from tvframe.indicators import indicator
        >>> studies = StudySet("cs_a")
        >>> study, calls = studies.create(indicator("RSI"))
        >>> calls[0][0], calls[0][1][2:5]
        ('create_study', ['st1', 'sds_1', 'RSI@tv-basicstudies-1'])
    """

    def __init__(self, session: str, parent: str = SERIES_ID) -> None:
        self.session = session
        self.parent = parent
        self.studies: dict[str, Study] = {}

    def _create_call(self, study: Study) -> Call:
        spec = study.spec
        return ("create_study", [self.session, study.study_id, STUDY_TURNAROUND, self.parent,
                                 spec.type, dict(spec.wire)])  # fmt: skip

    def create(self, spec: IndicatorSpec, study_id: str | None = None) -> tuple[Study, list[Call]]:
        """A new study of ``spec`` (resolved) with a fresh id, and the call that creates it."""
        if not spec.resolved:
            raise InvalidArgumentError(
                f"{spec.label} is a Pine spec without its metadata: resolve it first "
                "(resolve_indicators)"
            )
        study = Study(study_id or new_id("st_"), spec)
        self.studies[study.study_id] = study
        return study, [self._create_call(study)]

    def modify(self, study_id: str, spec: IndicatorSpec) -> list[Call]:
        """New inputs for a study (the server recomputes it in full)."""
        study = self._get(study_id)
        if spec.type != study.spec.type or not spec.resolved:
            raise InvalidArgumentError(
                f"study {study_id} is {study.spec.type}; modify it with a resolved spec of the "
                f"same type, not {spec.label} ({spec.type})"
            )
        study.restart(spec)
        return [("modify_study", [self.session, study_id, STUDY_TURNAROUND, dict(spec.wire)])]

    def remove(self, study_id: str) -> list[Call]:
        """Remove a study; ``study_deleted`` confirms."""
        self._get(study_id).state = "removing"
        return [("remove_study", [self.session, study_id])]

    def recreate(self) -> list[Call]:
        """The calls that recreate every live study on a fresh socket; values are kept until
        the new full sets replace them."""
        calls = []
        for study in self.studies.values():
            if study.state not in ("failed", "removing", "deleted"):
                study.restart()
                calls.append(self._create_call(study))
        return calls

    def _get(self, study_id: str) -> Study:
        study = self.studies.get(study_id)
        if study is None:
            raise InvalidArgumentError(
                f"no study {study_id!r} on {self.session}; known: {', '.join(self.studies)}"
            )
        return study

    def on_event(self, event: Event) -> list[Change]:
        """Apply one event of the chart session; returns what changed."""
        if isinstance(event, (DataUpdate, TimescaleUpdate)):
            return [
                Change(study, "live")
                for points in event.studies
                if (study := self.studies.get(points.study_id)) is not None and study.add(points)
            ]
        study_id = getattr(event, "study_id", None)
        study = self.studies.get(study_id) if isinstance(study_id, str) else None
        if study is None:
            return []
        if isinstance(event, StudyLoading):
            study.loading()
        elif isinstance(event, StudyCompleted) and study.state in ("new", "loading"):
            study.complete()
            return [Change(study, "full")]
        elif isinstance(event, StudyErrorEvent):
            study.fail(event.reason)
            return [Change(study, "failed")]
        elif isinstance(event, StudyDeleted):
            study.state = "deleted"
            del self.studies[study.study_id]
            return [Change(study, "deleted")]
        return []


# --- Pine metadata ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PineInput:
    """One input of a Pine script's metaInfo."""

    id: str
    name: str
    type: str
    default: Any
    options: tuple[Any, ...] = ()
    minval: float | None = None
    maxval: float | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> PineInput:
        """From one entry of ``metaInfo.inputs`` (bounds as ``min``/``max``, TradingView's
        keys, or ``minval``/``maxval``, Pine's); raises KeyError without an ``id``."""
        ident = str(raw["id"])
        return cls(
            ident,
            str(raw.get("name", ident)),
            str(raw.get("type", "text")),
            raw.get("defval"),
            tuple(raw.get("options") or ()),
            _num(raw.get("min", raw.get("minval"))),
            _num(raw.get("max", raw.get("maxval"))),
        )

    @property
    def key(self) -> str:
        """The Python keyword for it (:func:`~tvframe.indicators.input_key`)."""
        return input_key(self.name) or self.id

    def check(self, script: str, value: object) -> Any:
        """The value to send; raises :class:`InvalidArgumentError` naming script, input, value."""
        if not self._accepts(value):
            raise InvalidArgumentError(
                f"{script}: {self.key}={value!r} is invalid: it must be {self._rule()}"
            )
        return float(cast(float, value)) if self.type == "float" else value

    def _accepts(self, value: object) -> bool:
        if self.options:
            return value in self.options
        if self.type in ("integer", "float"):
            if not _is_number(value) or (self.type == "integer" and not isinstance(value, int)):
                return False
            number = float(cast(float, value))
            return (self.minval is None or number >= self.minval) and (
                self.maxval is None or number <= self.maxval
            )
        if self.type == "bool":
            return isinstance(value, bool)
        if self.type == "source":
            return value in SOURCES
        return isinstance(value, str)

    def _rule(self) -> str:
        if self.options:
            return "one of " + ", ".join(map(repr, self.options))
        if self.type in ("integer", "float"):
            bounds = [f"{op} {bound:g}" for op, bound in ((">=", self.minval), ("<=", self.maxval))
                      if bound is not None]  # fmt: skip
            return " ".join(["an integer" if self.type == "integer" else "a number",
                             " and ".join(bounds)]).strip()  # fmt: skip
        if self.type == "bool":
            return "True or False"
        if self.type == "source":
            return "one of " + ", ".join(SOURCES)
        return "a string"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, slots=True)
class Translation:
    """A Pine script's metadata from pine-facade ``translate``."""

    pine_id: str
    version: str
    text: str
    inputs: tuple[PineInput, ...]
    plots: tuple[str, ...]
    description: str

    def user_inputs(self) -> tuple[PineInput, ...]:
        """The inputs a user may set (``in_*``)."""
        return tuple(i for i in self.inputs if i.id.startswith("in_"))


_TRANSLATIONS: dict[tuple[str, str, str], Translation] = {}


def _num(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def _parse_translation(pine_id: str, version: str, body: bytes) -> Translation:
    where = f"pine-facade translate of {pine_id!r}"
    try:
        data = orjson.loads(body)
        if data.get("success") is False:
            raise StudyError(f"pine-facade has no Pine script {pine_id!r} (version {version}): "
                             f"{data.get('reason', 'no reason given')}")  # fmt: skip
        result = data["result"]
        meta = result["metaInfo"]
        text = result.get("ilTemplate") or ""
        raw_inputs, raw_plots = meta.get("inputs", []), meta.get("plots", [])
        styles = meta.get("styles") or {}
        inputs = tuple(PineInput.of(i) for i in raw_inputs)
        plots = tuple(str((styles.get(p["id"]) or {}).get("title") or p["id"]) for p in raw_plots)
        found_version = str((meta.get("pine") or {}).get("version") or version)
        description = str(meta.get("description") or pine_id)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise MessageError(f"{where}: unexpected answer ({exc!r}): {body[:120]!r}") from None
    if not isinstance(text, str) or not text:
        text = next((str(i.default) for i in inputs if i.id == "text"), "")
    if not text:
        raise MessageError(f"{where}: the answer has no ilTemplate")
    return Translation(pine_id, found_version, text, inputs, plots, description)


async def translate(
    ws_url: str, pine_id: str, version: str = "last", timeout: float = 30.0
) -> Translation:
    """Pine metadata for ``pine_id`` from the pine-facade beside ``ws_url``; cached.

    Raises:
        StudyError: no such script (HTTP 404) or the service answered ``success: false``.
        MessageError: an answer of an unexpected shape.

    Example:
        >>> async def main() -> None:
        ...     meta = await translate("wss://data.tradingview.com/socket.io/websocket", "STD;RSI")
        ...     print(meta.plots)
    """
    path = f"/pine-facade/translate/{quote(pine_id, safe='')}/{quote(version, safe='')}"
    url = http.service_url(ws_url, PINE_FACADE_HOST, path)
    key = (urlsplit(url).netloc, pine_id, version)
    cached = _TRANSLATIONS.get(key)
    if cached is not None:
        return cached
    reply = await http.get(url, timeout, f"pine-facade ({pine_id})", allow={404})
    if reply.status == 404:
        raise StudyError(
            f"pine-facade at {key[0]} has no Pine script {pine_id!r} (version {version}): "
            f"{_reason(reply.body)}"
        )
    found = _parse_translation(pine_id, version, reply.body)
    _TRANSLATIONS[key] = found
    return found


def _reason(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:120].decode("utf-8", "replace")
    reason = data.get("reason") if isinstance(data, dict) else None
    return str(reason) if reason else body[:120].decode("utf-8", "replace")


def _pine_columns(pine_id: str, plots: Sequence[str]) -> tuple[str, ...]:
    """``std_rsi``, ``std_macd_histogram``: the whole Pine id, so that no Pine column can take
    a catalogue column's name; a plot titled like the script adds nothing."""
    base, script = input_key(pine_id), input_key(pine_id.split(";", 1)[1])
    names: list[str] = []
    for title in plots:
        key = input_key(title)
        name = base if key in ("", script) else f"{base}_{key}"
        names.append(name if name not in names else f"{name}_{len(names)}")
    return tuple(names)


def bind(spec: IndicatorSpec, meta: Translation) -> IndicatorSpec:
    """A Pine spec checked against its metadata: inputs validated, ``wire`` and columns set.

    Raises:
        InvalidArgumentError: an unknown input (listing the valid ones) or a bad value.
    """
    script = spec.pine_id or spec.name
    settable = meta.user_inputs()
    by_name = {i.key: i for i in settable} | {i.id: i for i in settable}
    given = dict(spec.inputs)
    unknown = [k for k in given if k not in by_name]
    if unknown:
        valid = ", ".join(f"{i.key} ({i.id}, default {i.default!r})" for i in settable)
        raise InvalidArgumentError(
            f"{script} has no input {unknown[0]!r}; valid inputs: {valid or 'none'}"
        )
    values = {by_name[k].id: by_name[k].check(script, v) for k, v in given.items()}
    wire: dict[str, Any] = {"text": meta.text, "pineId": meta.pine_id, "pineVersion": meta.version}
    for inp in meta.inputs:
        if inp.id not in _PINE_HEADER:
            wire[inp.id] = {"v": values.get(inp.id, inp.default), "f": True, "t": inp.type}
    wire.setdefault("__profile", dict(_PROFILE))
    return replace(
        spec,
        plots=meta.plots,
        columns=_pine_columns(meta.pine_id, meta.plots),
        pine_version=meta.version,
        wire=wire,
    )


# --- what Client.history and Client.stream call ----------------------------------------


def check_indicators(
    indicators: IndicatorLike | Iterable[IndicatorLike],
) -> tuple[IndicatorSpec, ...]:
    """Validate the ``indicators=`` argument (before any I/O): specs, or names at their defaults;
    no column written twice.

    Example:
        >>> from tvframe.indicators import indicator
        >>> [s.label for s in check_indicators([indicator("RSI"), "EMA"])]
        ['RSI(14, close)', 'EMA(9, close)']
    """
    given = (indicators,) if isinstance(indicators, (str, IndicatorSpec)) else tuple(indicators)
    specs = tuple(indicator(item) if isinstance(item, str) else item for item in given)
    for spec in specs:
        if not isinstance(spec, IndicatorSpec):
            raise InvalidArgumentError(
                f"indicators must be names or specs made by tvframe.indicator(...), got {spec!r}"
            )
    owner: dict[str, IndicatorSpec] = {}
    for spec in specs:
        for column in spec.columns:
            if column in owner:
                raise InvalidArgumentError(
                    f"indicators {owner[column].label} and {spec.label} both write column "
                    f"{column!r}; give them different inputs"
                )
            owner[column] = spec
    return specs


async def resolve_indicators(
    specs: Sequence[IndicatorSpec], ws_url: str, timeout: float
) -> tuple[IndicatorSpec, ...]:
    """Resolve the Pine specs among ``specs`` (translate, validate); others pass unchanged."""
    resolved = []
    for spec in specs:
        if not spec.resolved:
            meta = await translate(ws_url, spec.pine_id or spec.name, spec.pine_version, timeout)
            spec = bind(spec, meta)
        resolved.append(spec)
    return check_indicators(resolved)


async def load_studies(
    send: Callable[[Sequence[Call]], Awaitable[None]],
    next_event: Callable[[str], Awaitable[Event]],
    session: str,
    specs: Sequence[IndicatorSpec],
    what: str,
) -> tuple[StudyValues, ...]:
    """Create ``specs`` on a chart session whose series is loaded; wait for every full set.

    Raises:
        StudyError: the server refused a study (naming it, its inputs and the reason).
        CriticalError: the server killed the chart session.
        TvTimeoutError: a study never completed (from ``next_event``).
    """
    if not specs:
        return ()
    studies = StudySet(session)
    made = [studies.create(spec) for spec in specs]
    await send([call for _, calls in made for call in calls])
    waiting = {study.study_id: study for study, _ in made}
    while waiting:
        first = next(iter(waiting.values()))
        event = await next_event(f"{what}: study {first.spec.label}")
        if isinstance(event, CriticalErrorEvent):
            raise CriticalError(f"{what}: {event.reason} ({event.info})")
        for change in studies.on_event(event):
            if change.kind == "failed":
                assert change.study.error is not None
                raise change.study.error
            if change.kind == "full":
                waiting.pop(change.study.study_id, None)
    return tuple(study.values() for study, _ in made)


# --- streams ------------------------------------------------------------------------------

Emit = Callable[[tuple[str, ...], list[IndicatorUpdate], IndicatorUpdate], None]


class StreamStudies:
    """The studies of one streamed series: create calls, events in, :class:`IndicatorUpdate` out.

    A study publishes once the series has finished (re)loading and its latest full set covers
    the series' first bar (an older set predates a page of ``request_more_data``). Rows older
    than the newest are closed and published once each, in time order, across reconnects;
    the newest row is the forming bar's, republished as it changes.
    """

    def __init__(
        self,
        session: str,
        symbol: str,
        interval: str,
        specs: Sequence[IndicatorSpec],
        emit: Emit,
        fail: Callable[[TvFrameError], None],
    ) -> None:
        self.symbol = symbol
        self.interval = interval
        self._set = StudySet(session)
        self._studies = [self._set.create(spec)[0] for spec in specs]
        self._closed_upto = {study.study_id: -math.inf for study in self._studies}
        self._emit = emit
        self._fail = fail
        self._first_bar = math.inf

    def create_calls(self) -> list[Call]:
        """The ``create_study`` calls, to send right after the series' ``create_series``."""
        return self._set.recreate()

    def reset(self) -> None:
        """The socket dropped: the series reloads from scratch on the next one."""
        self._first_bar = math.inf

    def on_event(self, event: Event, loading: bool) -> None:
        """Apply an event of the series' chart session; publish what is ready."""
        if isinstance(event, (DataUpdate, TimescaleUpdate)):
            for series in event.series:
                if series.series_id == SERIES_ID and len(series.bars):
                    self._first_bar = min(self._first_bar, float(series.bars.time[0]))
        for change in self._set.on_event(event):
            if change.kind == "failed" and change.study.error is not None:
                self._fail(change.study.error)
            elif not loading:
                self._publish(change.study)

    def settled(self) -> None:
        """The series finished loading: publish every study that is ready."""
        for study in self._studies:
            self._publish(study)

    def _publish(self, study: Study) -> None:
        if not study.ready or study.first_time > self._first_bar:
            return
        values = study.values()
        if not len(values):
            return
        first = int(np.searchsorted(values.time, self._closed_upto[study.study_id], "right"))
        closed = [self._update(values, i, True) for i in range(first, len(values) - 1)]
        if closed:
            self._closed_upto[study.study_id] = closed[-1].time
        last = len(values) - 1
        if values.time[last] > self._closed_upto[study.study_id]:
            key = ("indicator", self.symbol, self.interval, study.study_id)
            self._emit(key, closed, self._update(values, last, False))

    def _update(self, values: StudyValues, i: int, closed: bool) -> IndicatorUpdate:
        return IndicatorUpdate(self.symbol, self.interval, values.spec, float(values.time[i]),
                               values.row(i), closed)  # fmt: skip
