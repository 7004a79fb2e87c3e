"""Frame metadata: the interval, the time zone and each symbol's server info, beside the bars.

pandas frames carry it in ``df.attrs["tvframe"]`` as plain JSON-able values (so it survives
pickling, copies and most pandas operations). polars frames have no attrs: the metadata is
held in a side table keyed by the frame object and dropped when the frame is collected;
a frame derived from it (filtered, joined ...) starts without metadata, as in polars itself.
Read it through ``df.tv.info`` / ``df.tv.meta`` or :func:`frame_meta`.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tvframe.models import SymbolInfo

__all__ = ["ATTRS_KEY", "FrameMeta", "attach_meta", "frame_meta"]

#: The key of ``DataFrame.attrs`` tvframe writes.
ATTRS_KEY = "tvframe"

# id(polars frame) -> metadata; entries are removed by a finalizer when the frame dies.
_polars_meta: dict[int, FrameMeta] = {}


@dataclass(frozen=True)
class FrameMeta:
    """What travels with a frame tvframe made.

    Attributes:
        interval: the bar interval as spelled by the user (``"5m"``), None when unknown.
        tz: the zone of the ``time`` column (``"UTC"`` unless ``tz=`` asked otherwise).
        symbols: each symbol's server info, in the frame's order.
        failed: symbols that could not be fetched, with the reason (``errors="warn"|"ignore"``).

    Example:
        >>> meta = FrameMeta("1d", "UTC", {"NASDAQ:AAPL": SymbolInfo(symbol="NASDAQ:AAPL")})
        >>> FrameMeta.from_attrs(meta.to_attrs()) == meta
        True
    """

    interval: str | None
    tz: str = "UTC"
    symbols: Mapping[str, SymbolInfo] = field(default_factory=dict)
    failed: Mapping[str, str] = field(default_factory=dict)

    def to_attrs(self) -> dict[str, Any]:
        """Plain values for ``DataFrame.attrs`` (the server's raw field dump is left out)."""
        return {
            "interval": self.interval,
            "tz": self.tz,
            "symbols": {
                name: info.model_dump(exclude={"raw"}) for name, info in self.symbols.items()
            },
            "failed": dict(self.failed),
        }

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> FrameMeta:
        """Inverse of :meth:`to_attrs`."""
        symbols = attrs.get("symbols") or {}
        return cls(
            interval=attrs.get("interval"),
            tz=str(attrs.get("tz") or "UTC"),
            symbols={name: SymbolInfo(**info) for name, info in symbols.items()},
            failed=dict(attrs.get("failed") or {}),
        )


def attach_meta(frame: Any, meta: FrameMeta) -> None:
    """Attach ``meta`` to a pandas or polars frame (replacing what it had)."""
    attrs = getattr(frame, "attrs", None)
    if isinstance(attrs, dict):
        attrs[ATTRS_KEY] = meta.to_attrs()
        return
    key = id(frame)
    if key not in _polars_meta:
        weakref.finalize(frame, _polars_meta.pop, key, None)
    _polars_meta[key] = meta


def frame_meta(frame: Any) -> FrameMeta | None:
    """The metadata tvframe attached to ``frame``, or None.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame()
        >>> attach_meta(df, FrameMeta("5m"))
        >>> frame_meta(df).interval
        '5m'
    """
    attrs = getattr(frame, "attrs", None)
    if isinstance(attrs, dict):
        stored = attrs.get(ATTRS_KEY)
        return FrameMeta.from_attrs(stored) if isinstance(stored, Mapping) else None
    return _polars_meta.get(id(frame))
