"""The one concession to notebooks: ``asyncio.run(main())`` inside a running Jupyter kernel.

The seed's examples end in ``asyncio.run(main())``, which raises "cannot be called from a
running event loop" in a kernel cell. :func:`allow_asyncio_run` makes the kernel's loop
re-entrant with ``nest_asyncio2`` (the maintained fork ipykernel itself depends on), and only
when the calling thread runs inside an IPython kernel with its loop running: scripts, REPLs and
servers are never patched. tvframe calls it when the seed API (:mod:`tvframe.streamer`) is first
used; ``tv.allow_asyncio_run()`` is there for other code. Top-level ``await main()`` needs none of
this and is the better habit in notebooks.
"""

from __future__ import annotations

import asyncio
import logging
import sys

__all__ = ["allow_asyncio_run", "in_running_kernel"]

logger = logging.getLogger(__name__)

_applied = False


def in_running_kernel() -> bool:
    """True in a Jupyter kernel whose event loop runs in this thread.

    Example:
        >>> in_running_kernel()
        False
    """
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    if shell is None or "IPKernelApp" not in getattr(shell, "config", {}):
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def allow_asyncio_run() -> bool:
    """Let ``asyncio.run`` work in this notebook; does nothing (returns False) elsewhere.

    Example:
        >>> allow_asyncio_run()   # not in a kernel: asyncio stays untouched
        False
    """
    global _applied
    if _applied:
        return True
    if not in_running_kernel():
        return False
    import nest_asyncio2

    nest_asyncio2.apply()
    _applied = True
    logger.debug("asyncio.run made re-entrant for this Jupyter kernel (nest_asyncio2)")
    return True
