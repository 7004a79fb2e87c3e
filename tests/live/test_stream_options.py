"""Client.stream: adjustment= and session= reach the server; symbol infos come with the bars."""

from __future__ import annotations

import asyncio

import pytest

from tvframe import Client
from tvframe.errors import InvalidArgumentError
from tvframe.events import BarUpdate
from tvframe.sim import SimHandle
from tvframe.sim.catalogue import find_symbol


@pytest.mark.parametrize("session", ["regular", "extended"])
async def test_session_reaches_the_server_and_infos_arrive_before_bars(
    sim: SimHandle, session: str
) -> None:
    async with (
        Client(sim.url) as client,
        client.stream("NASDAQ:AAPL", "1m", n_bars=2, session=session) as stream,
    ):
        event = await asyncio.wait_for(stream.__anext__(), 10)
        assert isinstance(event, BarUpdate)
        info = stream.infos["NASDAQ:AAPL"]
    aapl = find_symbol("NASDAQ:AAPL")
    assert aapl is not None and aapl.extended_session
    expected = aapl.extended_session if session == "extended" else aapl.session
    assert info.session == expected and info.currency == "USD"
    assert info.raw["subsession_id"] == session


@pytest.mark.parametrize(("kwargs", "named"), [({"session": "24h"}, "24h"),
                                               ({"adjustment": "none"}, "none")])  # fmt: skip
async def test_bad_options_are_named_before_any_io(
    sim: SimHandle, kwargs: dict[str, str], named: str
) -> None:
    async with Client(sim.url) as client:
        with pytest.raises(InvalidArgumentError, match=named):
            client.stream("NASDAQ:AAPL", "1m", **kwargs)  # type: ignore[arg-type]
    assert sim.stats.messages["chart_create_session"] == 0
