"""The studies of one chart session: their state and ``st`` payloads (studies contract). No I/O.

A study names its parent series by id, so a series reloaded by ``modify_series`` keeps its
studies, recomputed over the new bars. Values cover the parent's loaded bars plus up to
``study_extra_bars`` older bars at indexes ``-1_000_000 - k`` (k = 1 for the bar just before the
series' first bar), as TradingView gives the capture's 300-bar series 400 study points. Every
full set is a ``du`` framed by ``study_loading`` and ``study_completed`` (§6, §12.17); live
points ride in the ``du`` of the series' own bars, with ``ns.indexes`` ``"nochange"``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from tvframe.sim.catalogue import SimSymbol
from tvframe.sim.config import SimConfig, SimStats
from tvframe.sim.market import SimBars
from tvframe.sim.studies import Ohlcv, StudyDef, StudyRefused, resolve, trading_days

__all__ = ["UNPLOTTABLE_INDEX", "Emit", "OlderBars", "Parent", "StudyBook"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Emits one server message: ``(method, params)``.
Emit = Callable[[str, list[Any]], None]
#: ``(series_id, count)``: up to ``count`` bars just before that series' first loaded bar.
OlderBars = Callable[[str, int], SimBars]

#: Index base of points before the series' first bar (the web app's UNPLOTTABLE_TIME_POINT_INDEX).
UNPLOTTABLE_INDEX = -1_000_000
_NA = 1e100  # the wire's "no value"
_FULL_NS: dict[str, Any] = {"d": "", "indexes": []}
_LIVE_NS: dict[str, Any] = {"d": "", "indexes": "nochange"}
# Script fields a Pine modify_study may leave out: the script stays the same.
_SCRIPT_KEYS = ("text", "pineId")


class Parent(Protocol):
    """What a study reads of its parent series."""

    @property
    def series_id(self) -> str: ...

    @property
    def turnaround(self) -> str: ...

    @property
    def first_index(self) -> int: ...

    @property
    def bars(self) -> SimBars: ...

    @property
    def symbol(self) -> SimSymbol: ...

    @property
    def hours(self) -> str:
        """The trading session in force, ``"HHMM-HHMM"`` or ``"24x7"``."""
        ...


@dataclass(slots=True)
class _Study:
    """One study: what the client asked for and the values last computed."""

    study_id: str
    turnaround: str
    parent_id: str
    study_type: str
    inputs: dict[str, Any]
    definition: StudyDef
    params: dict[str, Any]
    full_turnaround: str = ""
    # Time then plots, one row per point of the span (older bars first), NaN for na.
    rows: FloatArray = field(default_factory=lambda: np.empty((0, 0)))


@dataclass(frozen=True, slots=True)
class _Span:
    """The bars a parent's studies run over: the older bars, then the series' own."""

    times: FloatArray
    bars: Ohlcv
    older: int


class StudyBook:
    """The studies of one chart session.

    Args:
        session_id: The chart session's id, first param of every message.
        config: ``study_extra_bars``, ``max_studies`` and the ``node`` name.
        stats: Counts the studies created.
        emit: Writes one server message.
        parents: The chart session's loaded series by id (a live view, not a copy).
        older_bars: Fetches the bars before a series' first bar.

    Example:
        >>> sent = []
        >>> book = StudyBook("cs_1", SimConfig(), SimStats(), lambda m, p: sent.append((m, p)),
        ...                  {}, lambda series_id, count: None)
        >>> book.create("st1", "st1", "sds_1", "RSI@tv-basicstudies-1", {})
        >>> sent[0][1][3]
        'Internal server study error: parent series sds_1 not found'
    """

    def __init__(
        self,
        session_id: str,
        config: SimConfig,
        stats: SimStats,
        emit: Emit,
        parents: Mapping[str, Parent],
        older_bars: OlderBars,
    ) -> None:
        self._session_id = session_id
        self._config = config
        self._stats = stats
        self._emit = emit
        self._parents = parents
        self._older_bars = older_bars
        self._node = config.node.replace("series", "study")
        self._studies: dict[str, _Study] = {}
        # Older bars per series, fetched once per span: live updates only add bars at the end.
        self._older: dict[str, SimBars] = {}

    def __len__(self) -> int:
        return len(self._studies)

    # --- client methods ---------------------------------------------------------------

    def create(
        self,
        study_id: str,
        turnaround: str,
        parent_id: str,
        study_type: str,
        inputs: dict[str, Any],
    ) -> None:
        """``create_study``: the full point set, or ``study_error``."""
        try:
            if study_id not in self._studies and len(self) >= self._config.max_studies:
                raise StudyRefused(
                    "The maximum number of studies per chart has been reached for current "
                    "subscription"
                )
            parent = self._parent(parent_id)
            definition, params = resolve(study_type, inputs)
        except StudyRefused as refused:
            self._error(study_id, parent_id, turnaround, refused)
            return
        study = _Study(study_id, turnaround, parent_id, study_type, inputs, definition, params)
        self._studies[study_id] = study
        self._stats.studies_created += 1
        self._send_full(study, parent, self._span(parent))

    def modify(self, study_id: str, turnaround: str, inputs: dict[str, Any]) -> None:
        """``modify_study``: new inputs, full recompute; a refused change keeps the old study.

        A Pine study keeps its script (``text``, ``pineId``) when they are not sent again.
        """
        study = self._studies.get(study_id)
        if study is None:
            logger.debug("ignored modify_study of unknown study %s", study_id)
            return
        merged = {key: study.inputs[key] for key in _SCRIPT_KEYS if key in study.inputs}
        merged.update(inputs)
        try:
            parent = self._parent(study.parent_id)
            definition, params = resolve(study.study_type, merged)
        except StudyRefused as refused:
            self._error(study_id, study.parent_id, turnaround, refused)
            return
        study.turnaround, study.inputs = turnaround, merged
        study.definition, study.params = definition, params
        self._send_full(study, parent, self._span(parent))

    def remove(self, study_id: str) -> None:
        """``remove_study``: ``study_deleted``."""
        study = self._studies.pop(study_id, None)
        if study is None:
            logger.debug("ignored remove_study of unknown study %s", study_id)
            return
        self._emit("study_deleted", [self._session_id, study_id, study.full_turnaround])

    # --- series events ----------------------------------------------------------------

    def reload(self, parent: Parent) -> None:
        """The parent's span changed (paging, reload): every study of it sends a full set."""
        self._older.pop(parent.series_id, None)
        studies = list(self._of(parent.series_id))
        if not studies:
            return
        span = self._span(parent)
        for study in studies:
            self._send_full(study, parent, span)

    def refresh(self, parent: Parent) -> None:
        """New or changed bars at the parent's end: recompute its studies (before :meth:`live`)."""
        studies = list(self._of(parent.series_id))
        if studies:
            span = self._span(parent)
            for study in studies:
                self._compute(study, span)

    def live(self, parent: Parent, first: int, count: int) -> dict[str, Any]:
        """The ``du`` objects of the parent's studies at indexes ``first … first + count - 1``,
        from the values of the last :meth:`refresh`."""
        objects: dict[str, Any] = {}
        older = self._older.get(parent.series_id)
        if older is None:
            return objects
        start = len(older) + first - parent.first_index
        indexes = np.arange(first, first + count, dtype=np.int64)
        for study in self._of(parent.series_id):
            points = _points(study.rows[start : start + count], indexes)
            objects[study.study_id] = {"st": points, "ns": _LIVE_NS, "t": study.full_turnaround}
        return objects

    # --- internals --------------------------------------------------------------------

    def _of(self, series_id: str) -> Iterator[_Study]:
        return (s for s in self._studies.values() if s.parent_id == series_id)

    def _parent(self, parent_id: str) -> Parent:
        parent = self._parents.get(parent_id)
        if parent is None:
            raise StudyRefused(f"Internal server study error: parent series {parent_id} not found")
        return parent

    def _error(self, study_id: str, parent_id: str, turnaround: str, refused: StudyRefused) -> None:
        parent = self._parents.get(parent_id)
        # Without a parent there is no series turnaround to prefix.
        full = f"{parent.turnaround}_{turnaround}" if parent else turnaround
        self._emit("study_error", [self._session_id, study_id, full, refused.reason, self._node])

    def _span(self, parent: Parent) -> _Span:
        older = self._older.get(parent.series_id)
        if older is None:
            older = self._older_bars(parent.series_id, self._config.study_extra_bars)
            self._older[parent.series_id] = older

        def column(name: str) -> FloatArray:
            return np.concatenate((getattr(older, name), getattr(parent.bars, name)))

        times, symbol = column("time"), parent.symbol
        # A symbol without volume has none to weigh: its volume studies are na throughout.
        volume = column("volume") if symbol.has_volume else np.full(len(times), np.nan)
        bars = Ohlcv(
            column("open"),
            column("high"),
            column("low"),
            column("close"),
            volume,
            trading_days(times, symbol.timezone, parent.hours),
        )
        return _Span(times, bars, len(older))

    @staticmethod
    def _compute(study: _Study, span: _Span) -> None:
        study.rows = np.column_stack((span.times, *study.definition.run(span.bars, study.params)))

    def _send_full(self, study: _Study, parent: Parent, span: _Span) -> None:
        self._compute(study, span)
        study.full_turnaround = f"{parent.turnaround}_{study.turnaround}"
        head = [self._session_id, study.study_id, study.full_turnaround]
        indexes = np.concatenate(
            (
                UNPLOTTABLE_INDEX - np.arange(span.older, 0, -1, dtype=np.int64),
                parent.first_index + np.arange(len(parent.bars), dtype=np.int64),
            )
        )
        body = {
            "node": self._node,
            "st": _points(study.rows, indexes),
            "ns": _FULL_NS,
            "t": study.full_turnaround,
        }
        self._emit("study_loading", head)
        self._emit("du", [self._session_id, {study.study_id: body}])
        self._emit("study_completed", head)


def _points(rows: FloatArray, indexes: IntArray) -> list[dict[str, Any]]:
    values = np.where(np.isnan(rows), _NA, rows).tolist()
    return [{"i": i, "v": v} for i, v in zip(indexes.tolist(), values, strict=True)]
