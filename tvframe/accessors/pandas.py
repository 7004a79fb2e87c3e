"""``df.tv`` on pandas DataFrames (registered by :func:`tvframe.accessors.register`).

pandas' accessor protocol wants an ``AttributeError`` from a frame the accessor does not
apply to, so ``hasattr(df, "tv")`` is False for it; the error raised is
:class:`~tvframe.errors.MissingColumnsError`, which is also a tvframe validation
error and names the missing columns.
"""

from __future__ import annotations

import pandas as pd

from tvframe.accessors.base import TvBase
from tvframe.errors import FrameShapeError, MissingColumnsError

__all__ = ["TvAccessor"]


class TvAccessor(TvBase[pd.DataFrame]):
    """``df.tv`` for pandas: metadata, resampling, lossless export and charts.

    Example:
        >>> import pandas as pd
        >>> from tvframe.accessors import register
        >>> register()
        >>> times = pd.date_range("2024-01-02", periods=2, freq="D", tz="UTC", name="time")
        >>> df = pd.DataFrame({"symbol": "NYSE:IBM", "open": [1.0, 2.0], "high": [2.0, 3.0],
        ...                    "low": [0.5, 1.0], "close": [1.5, 2.5]}, index=times)
        >>> df.tv.info.symbol, df.tv.resample("1w")["close"].tolist()
        ('NYSE:IBM', [2.5])
        >>> hasattr(pd.DataFrame({"close": [1.0]}), "tv")
        False
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        try:
            super().__init__(frame)
        except FrameShapeError as exc:
            raise MissingColumnsError(str(exc), exc.missing) from None


# Registered when this module is imported, so importing it first (before pandas finished
# importing) still ends with the accessor in place (see tvframe.accessors).
pd.api.extensions.register_dataframe_accessor("tv")(TvAccessor)
