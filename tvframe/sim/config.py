"""The simulator's knobs and counters.

Defaults mimic an anonymous user on TradingView's free ``data`` endpoint (``protocol.md`` §5,
§12): 5 000 bars per request and in total, heartbeats every 10 s, ``rt_update_period`` 5.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["ANONYMOUS_TOKEN", "SimConfig", "SimStats", "default_accept_token"]

#: The token anonymous clients send in ``set_auth_token`` (``protocol.md`` §1.3).
ANONYMOUS_TOKEN = "unauthorized_user_token"

# Three base64url segments: header.payload.signature (the signature may be empty).
_JWT_LIKE = re.compile(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")


def default_accept_token(token: str) -> bool:
    """Accept the anonymous token and anything shaped like a JWT (``xxx.yyy.zzz``).

    Example:
        >>> default_accept_token("unauthorized_user_token"), default_accept_token("nope")
        (True, False)
    """
    return token == ANONYMOUS_TOKEN or _JWT_LIKE.fullmatch(token) is not None


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Simulator settings; every field can be overridden.

    Attributes:
        bars_per_request: Most bars one ``create_series`` or ``request_more_data`` returns.
        max_depth: Most bars a series may reach back from its latest bar, in total (a plan's cap).
        heartbeat_interval: Wall seconds between ``~h~`` heartbeats.
        update_period: Wall seconds between ``du`` pushes when the clock runs in real time.
        seed: Seed of the deterministic market.
        accept_token: Decides whether a ``set_auth_token`` token is accepted; a refused one
            gets ``protocol_error ["bad auth token"]`` and the socket is closed.
        seconds_entitled: Whether anonymous users may load seconds resolutions (JWT users may).
        rt_update_period: The ``rt_update_period`` announced in ``series_completed``.
        update_mode: The update mode announced in ``series_completed``.
        close_on_unknown_session: Answer chart methods addressed to an unknown chart session
            with ``protocol_error {unknown_session_id,…}`` and close, as TradingView does.
        node: The ``node`` name put into series objects of ``timescale_update`` (studies get
            it with ``study`` for ``series``).
        study_extra_bars: Most bars before a series' first bar that its studies are computed
            over and sent for, at indexes ``-1_000_000 - k`` (TradingView sends 100).
        max_studies: Most studies one chart session may hold; the next one gets
            ``study_error`` "The maximum number of studies per chart has been reached …".

    Example:
        >>> SimConfig(bars_per_request=300).max_depth
        5000
    """

    bars_per_request: int = 5000
    max_depth: int = 5000
    heartbeat_interval: float = 10.0
    update_period: float = 1.0
    seed: int = 0
    accept_token: Callable[[str], bool] = default_accept_token
    seconds_entitled: bool = False
    rt_update_period: int = 5
    update_mode: str = "streaming"
    close_on_unknown_session: bool = True
    node: str = "sim1-charts-free-1-series-1"
    study_extra_bars: int = 100
    max_studies: int = 16

    def __post_init__(self) -> None:
        if self.bars_per_request < 1 or self.max_depth < 1:
            raise ValueError(
                f"bars_per_request ({self.bars_per_request}) and max_depth ({self.max_depth}) "
                "must be at least 1"
            )
        if self.heartbeat_interval <= 0 or self.update_period <= 0:
            raise ValueError(
                f"heartbeat_interval ({self.heartbeat_interval}) and update_period "
                f"({self.update_period}) must be positive"
            )
        if self.study_extra_bars < 0 or self.max_studies < 0:
            raise ValueError(
                f"study_extra_bars ({self.study_extra_bars}) and max_studies "
                f"({self.max_studies}) must be at least 0"
            )


@dataclass(slots=True)
class SimStats:
    """Counters for tests.

    Attributes:
        connections: WebSocket connections accepted so far.
        messages: Client messages received, per method.
        bars_sent: Bars written in ``timescale_update`` and ``du`` messages.
        heartbeats_sent: Heartbeats written.
        handshakes_refused: Handshakes answered with an HTTP error by ``Faults.refuse``.
        drops: Sockets closed by faults (``drop``, ``drop_after``, ``protocol_error``).
        studies_created: Studies ``create_study`` added (refused ones are not counted).

    Example:
        >>> s = SimStats()
        >>> s.messages["create_series"] += 1
        >>> s.messages["create_series"]
        1
    """

    connections: int = 0
    messages: Counter[str] = field(default_factory=Counter)
    bars_sent: int = 0
    heartbeats_sent: int = 0
    handshakes_refused: int = 0
    drops: int = 0
    studies_created: int = 0
