"""Per-symbol failures of a many-symbol call: collected, then raised, warned or recorded.

One symbol the server refuses does not sink the others: each failure is kept with its symbol
and, once every symbol is done, reported together as the caller chose with ``errors=``.
Failures that concern the connection (auth, transport) are not per-symbol: they propagate
at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from tvframe.errors import (
    AuthError,
    DataNotFoundError,
    InvalidArgumentError,
    InvalidSymbolError,
    ServerError,
    SymbolsError,
    SymbolsFailedWarning,
    TvFrameError,
    TvTimeoutError,
)

__all__ = ["ERROR_MODES", "check_errors", "is_symbol_failure", "report_failures"]

#: What ``errors=`` accepts.
ERROR_MODES: tuple[str, ...] = ("raise", "warn", "ignore")


def check_errors(errors: str) -> str:
    """Validate an ``errors=`` mode.

    Example:
        >>> check_errors("warn")
        'warn'
    """
    if errors not in ERROR_MODES:
        raise InvalidArgumentError(f"errors={errors!r} is not one of {', '.join(ERROR_MODES)}")
    return errors


def is_symbol_failure(error: BaseException) -> bool:
    """True when ``error`` concerns one symbol only (the others can go on).

    Example:
        >>> is_symbol_failure(InvalidSymbolError("no such symbol", ["X:Y"]))
        True
        >>> is_symbol_failure(AuthError("bad token"))
        False
    """
    if isinstance(error, AuthError):
        return False
    return isinstance(error, (InvalidSymbolError, ServerError, TvTimeoutError, DataNotFoundError))


def _listing(failures: Mapping[str, TvFrameError]) -> str:
    return "; ".join(f"{symbol}: {error}" for symbol, error in failures.items())


def report_failures(
    failures: Mapping[str, TvFrameError], errors: str, total: int
) -> dict[str, str]:
    """Report per-symbol failures as ``errors`` says; returns them as text for the frame's meta.

    ``"raise"``: one failure is re-raised as it is; several unknown symbols become one
    :class:`InvalidSymbolError` naming them all; other mixes a :class:`SymbolsError`.
    ``"warn"``: a :class:`SymbolsFailedWarning` naming each. ``"ignore"``: no warning. In every
    mode but ``"raise"`` the failures are returned, to travel with the frame.

    Example:
        >>> report_failures({}, "raise", 3)
        {}
    """
    if not failures:
        return {}
    summary = f"{len(failures)} of {total} symbols failed: {_listing(failures)}"
    if errors == "raise":
        if len(failures) == 1:
            raise next(iter(failures.values()))
        if all(isinstance(e, InvalidSymbolError) for e in failures.values()):
            raise InvalidSymbolError(summary, list(failures))
        raise SymbolsError(summary, dict(failures))
    if errors == "warn":
        warnings.warn(SymbolsFailedWarning(summary), stacklevel=3)
    return {symbol: str(error) for symbol, error in failures.items()}
