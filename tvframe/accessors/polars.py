"""``df.tv`` on polars DataFrames (registered by :func:`tvframe.accessors.register`).

A frame that is not an OHLCV frame raises
:class:`~tvframe.errors.FrameShapeError` (a ``ValueError``) naming the missing
columns. It is deliberately not an ``AttributeError``: polars answers any ``AttributeError``
raised while a namespace is built with its own "object has no attribute 'tv'", which would
hide which columns are missing.
"""

from __future__ import annotations

import polars as pl

from tvframe.accessors.base import TvBase

__all__ = ["TvNamespace"]


class TvNamespace(TvBase[pl.DataFrame]):
    """``df.tv`` for polars: metadata, resampling, lossless export and charts.

    Example:
        >>> import polars as pl
        >>> from datetime import datetime
        >>> from tvframe.accessors import register
        >>> register()
        >>> df = pl.DataFrame({"time": [datetime(2024, 1, 2, 9, 30), datetime(2024, 1, 2, 9, 45)],
        ...                    "open": [1.0, 2.0], "high": [2.0, 3.0], "low": [0.5, 1.0],
        ...                    "close": [1.5, 2.5], "volume": [10.0, None]})
        >>> df.tv.resample("1h")["volume"].to_list()
        [10.0]
    """


# Registered when this module is imported (see tvframe.accessors).
pl.api.register_dataframe_namespace("tv")(TvNamespace)
