"""A protocol-faithful TradingView chart WebSocket on loopback, for tests, demos and notebooks.

The client cannot tell it from TradingView except by the URL. Bars come from a deterministic
market (:class:`Market`) driven by a clock you control (:class:`SimClock`): ``advance`` moves
time and writes the live ``du`` updates before returning, so tests need no sleeps.
Quote sessions stream ``qsd`` diffs the same way; ``faults`` (:class:`Faults`) makes the server
drop, go silent, refuse handshakes or send errors, for reconnect and reliability tests.

Example:
    >>> from tvframe.sim import running
    >>> with running(bars_per_request=300) as sim:   # a background thread, TVFRAME_URL set
    ...     sim.url.endswith("/socket.io/websocket")
    True
"""

from tvframe.sim.clock import DEFAULT_START, SimClock
from tvframe.sim.config import SimConfig, SimStats
from tvframe.sim.faults import Faults, FaultState, SyncFaults
from tvframe.sim.market import Market
from tvframe.sim.server import SimHandle, Simulator, running, serve_forever, start

__all__ = [
    "DEFAULT_START",
    "FaultState",
    "Faults",
    "Market",
    "SimClock",
    "SimConfig",
    "SimHandle",
    "SimStats",
    "SyncFaults",
    "Simulator",
    "running",
    "start",
    "serve_forever",
]
