"""Progress bars for many-symbol calls: tqdm, shown only where someone can see them.

``progress=None`` (the default) shows a bar when standard error is a terminal or the code runs
in a Jupyter kernel; ``True`` forces it, ``False`` silences it. In a notebook the widget bar is
used when ipywidgets is installed, the text bar otherwise.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any, Protocol

__all__ = ["Progress", "progress_bar"]


class Progress(Protocol):
    """What callers use of a progress bar."""

    def update(self, n: int = 1) -> Any: ...

    def close(self) -> None: ...


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    return get_ipython is not None and "IPKernelApp" in getattr(get_ipython(), "config", {})


def _visible() -> bool:
    stream = sys.stderr
    return bool(stream is not None and stream.isatty()) or _in_notebook()


def progress_bar(total: int, description: str, enabled: bool | None = None) -> Progress:
    """A progress bar over ``total`` items, or a silent stand-in.

    Example:
        >>> bar = progress_bar(3, "history", enabled=False)
        >>> bar.update(); bar.close()
    """
    if not (_visible() if enabled is None else enabled):
        return _Silent()
    # tqdm's widget bar needs ipywidgets; without it, it raises and then prints a traceback
    # from its finaliser, so the text bar is used instead (it works in a notebook too).
    if _in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as notebook_tqdm

        bar: Progress = notebook_tqdm(total=total, desc=description, unit="symbol")
        return bar
    from tqdm import tqdm

    text_bar: Progress = tqdm(total=total, desc=description, unit="symbol", file=sys.stderr)
    return text_bar
