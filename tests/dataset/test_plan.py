"""Planning and the closed-bar rule, without a server: nothing missed, nothing twice."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tvframe.dataset.manifest import Coverage
from tvframe.dataset.plan import Fetch, advance, earliest_next, lookahead, plan, settle
from tvframe.intervals import parse_interval
from tvframe.protocol.events import Bars

HOUR, DAY = 3600.0, 86_400.0
H1, D1, M1 = parse_interval("1h"), parse_interval("1d"), parse_interval("1M")


def bars(*times: float) -> Bars:
    n = len(times)
    return Bars(np.arange(n), np.array(times, dtype=np.float64), *[np.ones(n)] * 5)


def test_a_new_series_is_fetched_from_its_start() -> None:
    assert plan(None, 0.0, None, 10 * HOUR, H1) == (Fetch(0.0, None),)
    assert plan(None, 0.0, 5 * HOUR, 10 * HOUR, H1) == (Fetch(0.0, 5 * HOUR),)
    with pytest.raises(ValueError, match="needs a start"):
        plan(None, None, None, 10 * HOUR, H1)


def test_nothing_is_fetched_until_a_newer_bar_can_exist() -> None:
    held = Coverage(0.0, 9 * HOUR, 8 * HOUR, 9 * HOUR, 9.5 * HOUR)
    assert plan(held, 0.0, None, 9.99 * HOUR, H1) == ()
    assert plan(held, 0.0, None, 10 * HOUR, H1) == (Fetch(9 * HOUR, None),)
    assert plan(held, 0.0, 9 * HOUR, 20 * HOUR, H1) == ()  # the end is covered
    assert plan(held, 0.0, 9 * HOUR + 1, 20 * HOUR, H1) == (Fetch(9 * HOUR, 9 * HOUR + 1),)


def test_a_pending_bar_past_the_end_means_nothing_lies_between() -> None:
    held = Coverage(0.0, 5 * HOUR, 4 * HOUR, 8 * HOUR, 20 * HOUR)
    assert plan(held, 0.0, 7 * HOUR, 30 * HOUR, H1) == ()


def test_a_wider_start_fetches_back_to_the_covered_start_only() -> None:
    held = Coverage(5 * HOUR, 9 * HOUR, 8 * HOUR, 9 * HOUR, 9.5 * HOUR)
    assert plan(held, 0.0, None, 9.5 * HOUR, H1) == (Fetch(0.0, 5 * HOUR, proven=True),)


def test_a_later_start_keeps_what_is_held() -> None:
    held = Coverage(0.0, 9 * HOUR, 8 * HOUR, 9 * HOUR, 9.5 * HOUR)
    assert plan(held, 3 * HOUR, None, 9.5 * HOUR, H1) == ()


def test_settle_keeps_the_newest_bar_pending() -> None:
    got = settle(Fetch(0.0, None), bars(0, HOUR, 2 * HOUR), now=2.5 * HOUR)
    assert got.closed.time.tolist() == [0, HOUR] and got.reach == got.pending == 2 * HOUR


def test_settle_stores_the_last_bar_before_an_end_once_a_later_one_proves_it_closed() -> None:
    fetch = Fetch(0.0, 2 * HOUR)
    assert fetch.request_end(H1) == 2 * HOUR + lookahead(H1)
    proved = settle(fetch, bars(0, HOUR, 3 * HOUR, 4 * HOUR), now=9 * HOUR)
    assert proved.closed.time.tolist() == [0, HOUR]
    assert (proved.reach, proved.pending) == (2 * HOUR, 3 * HOUR)
    unproved = settle(fetch, bars(0, HOUR), now=1.5 * HOUR)
    assert unproved.closed.time.tolist() == [0] and unproved.pending == HOUR


def test_settle_of_nothing_covers_up_to_the_server_clock() -> None:
    assert settle(Fetch(0.0, None), bars(), now=5 * HOUR).reach == 5 * HOUR
    assert settle(Fetch(0.0, 2 * HOUR), bars(), now=5 * HOUR).reach == 2 * HOUR
    assert settle(Fetch(6 * HOUR, None), bars(), now=5 * HOUR).reach == 6 * HOUR


def test_a_proven_fetch_stores_every_bar_before_its_end() -> None:
    fetch = Fetch(0.0, 2 * HOUR, proven=True)
    assert fetch.request_end(H1) == 2 * HOUR
    got = settle(fetch, bars(0, HOUR), now=9 * HOUR)
    assert got.closed.time.tolist() == [0, HOUR] and got.pending is None


def test_advance_widens_and_extends_one_range() -> None:
    held = Coverage(5 * HOUR, 9 * HOUR, 8 * HOUR, 9 * HOUR, 9.5 * HOUR)
    head = Fetch(0.0, 5 * HOUR, proven=True)
    wider = advance(held, head, settle(head, bars(0, HOUR), 20 * HOUR), 20 * HOUR, "capped")
    assert (wider.start, wider.end, wider.last, wider.short) == (0.0, 9 * HOUR, 8 * HOUR, "capped")
    tail = Fetch(9 * HOUR, None)
    later = advance(
        wider, tail, settle(tail, bars(9 * HOUR, 10 * HOUR), 20 * HOUR), 20 * HOUR, None
    )
    assert (later.end, later.last, later.pending, later.checked) == (
        10 * HOUR, 9 * HOUR, 10 * HOUR, 20 * HOUR,
    )  # fmt: skip
    assert later.with_short("more").short == "capped; more"


def test_earliest_next_bar() -> None:
    assert earliest_next(0.0, H1) == HOUR
    assert earliest_next(0.0, D1) == DAY - HOUR  # a daylight-saving shift of the session open
    assert earliest_next(0.0, M1) == 28 * DAY - HOUR
    assert lookahead(D1) == 6 * DAY


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.integers(1, 5), min_size=1, max_size=40),
    checks=st.lists(st.integers(0, 200), min_size=1, max_size=6),
    start=st.integers(0, 60),
)
def test_runs_at_any_moments_store_every_closed_bar_exactly_once(
    gaps: list[int], checks: list[int], start: int
) -> None:
    # A 1h series whose bars open at irregular hours (a market that closes), fetched by runs
    # at arbitrary server times: the dataset ends with every bar but the newest, each once.
    server = np.cumsum(gaps).astype(np.float64) * HOUR
    stored: list[float] = []
    coverage: Coverage | None = None
    for now in sorted(c * HOUR for c in checks):
        for fetch in plan(coverage, start * HOUR, None, now, H1):
            upto = fetch.request_end(H1)
            visible = server[(server >= fetch.start) & (server <= now)]
            sent = bars(*visible[visible < upto] if upto is not None else visible)
            settled = settle(fetch, sent, now)
            stored += settled.closed.time.tolist()
            coverage = advance(coverage, fetch, settled, now, None)
    final = max(c * HOUR for c in checks)
    seen = server[(server >= start * HOUR) & (server <= final)]
    assert sorted(stored) == seen[:-1].tolist()  # each closed bar once, no gap
