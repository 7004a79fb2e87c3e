"""The ``.tv`` accessor of pandas DataFrames and ``.tv`` namespace of polars DataFrames.

``df.tv`` works on any OHLCV frame (open, high, low, close, optional volume, and a bar time;
see :mod:`tvframe.accessors.shape`), not only on frames tvframe made:

- ``df.tv.meta`` / ``df.tv.info``: the frame's metadata and its symbol's info;
- ``df.tv.resample("1h")``: longer bars (:mod:`tvframe.resample`);
- ``df.tv.to_parquet()`` / ``to_csv()`` / ``to_json()``: lossless files (:mod:`tvframe.io`);
- ``df.tv.plot()``: a candlestick chart (:mod:`tvframe.plot`).

The accessors are thin: each method delegates to a plain function of those modules, never
mutates the frame and never prints.

``import tvframe`` calls :func:`register_on_import`: a library already imported gets its
accessor at once; one imported later gets it the moment its own import finishes (a finder
on ``sys.meta_path`` that wraps only that library's loader). So ``import tvframe`` does not
import pandas or polars itself, and ``import tvframe.protocol`` stays free of them.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType

__all__ = ["register", "register_on_import"]

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_registered: set[str] = set()


# Each accessor module registers itself when imported; a plain ``import`` (not ``from ...
# import``) also works when that module is the one whose ``import pandas`` woke the finder.
_REGISTRARS: dict[str, Callable[[], object]] = {
    "pandas": lambda: importlib.import_module("tvframe.accessors.pandas"),
    "polars": lambda: importlib.import_module("tvframe.accessors.polars"),
}


def _register(library: str) -> None:
    with _lock:
        if library in _registered:
            return
        _registered.add(library)
    _REGISTRARS[library]()
    logger.debug("registered the .tv accessor with %s", library)


def register() -> None:
    """Register ``df.tv`` with pandas and polars now (importing both); idempotent.

    Example:
        >>> register(); register()
        >>> import pandas as pd
        >>> hasattr(pd.DataFrame, "tv")
        True
    """
    for library in _REGISTRARS:
        _register(library)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Registers the accessor right after pandas or polars finishes importing.

    ``find_spec`` alone is no import (libraries probe each other with it), so a library counts
    as imported only once its module has executed.
    """

    def __init__(self, libraries: Sequence[str]) -> None:
        self.pending = set(libraries)
        self._finding: set[str] = set()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.pending or fullname in self._finding:
            return None
        self._finding.add(fullname)  # the lookup below must not find this finder again
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._finding.discard(fullname)
        loader = spec.loader if spec is not None else None
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return spec
        run_module = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            self._imported(fullname)

        # An instance attribute shadows the loader's method for this one import only.
        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec

    def _imported(self, library: str) -> None:
        self.pending.discard(library)
        if not self.pending and self in sys.meta_path:
            sys.meta_path.remove(self)
        _register(library)


def register_on_import() -> None:
    """Register now for what is imported, and on import for the rest (see the module doc)."""
    later = [name for name in _REGISTRARS if name not in sys.modules]
    for library in _REGISTRARS:
        if library in sys.modules:
            _register(library)
    if later and not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(later))
