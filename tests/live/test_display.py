"""The generic throttled display refresh, driven by a fake clock, sleep and display handle."""

from __future__ import annotations

import asyncio
from typing import Any

from tvframe.display import Refresher, ThrottledValue


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeHandle:
    """Records each refresh with the fake time it happened at."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.updates: list[tuple[float, Any]] = []
        self.updated = asyncio.Event()

    def update(self, obj: Any) -> None:
        self.updates.append((self.clock.now, obj))
        self.updated.set()

    async def next_update(self) -> tuple[float, Any]:
        await asyncio.wait_for(self.updated.wait(), 5)
        self.updated.clear()
        return self.updates[-1]


class FakeDisplay:
    def __init__(self, clock: FakeClock) -> None:
        self.shown: list[tuple[Any, Any]] = []
        self.handle = FakeHandle(clock)

    def __call__(self, obj: Any, display_id: Any = None) -> FakeHandle:
        self.shown.append((obj, display_id))
        return self.handle


def make(state: dict[str, int], interval: float = 0.5) -> tuple[Refresher, FakeClock, FakeDisplay]:
    clock = FakeClock()
    display = FakeDisplay(clock)
    refresher = Refresher(
        lambda: state["v"], asyncio.get_running_loop(), interval=interval, display=display,
        clock=clock, sleep=clock.sleep,
    )  # fmt: skip
    return refresher, clock, display


async def test_show_displays_once_with_a_display_id() -> None:
    refresher, _, display = make({"v": 1})
    handle = refresher.show()
    assert display.shown == [(1, True)] and handle is display.handle
    assert refresher.running
    await refresher.close()
    assert not refresher.running
    assert refresher.updates == 0  # nothing changed: nothing refreshed, not even at close


async def test_refreshes_are_throttled_and_bursts_fold_into_one() -> None:
    state = {"v": 1}
    refresher, clock, display = make(state)
    refresher.show()  # at t=0
    clock.now = 0.1
    for v in range(2, 7):  # a burst of changes
        state["v"] = v
        refresher.notify()
    when, shown = await display.handle.next_update()
    assert (when, shown) == (0.5, 6)  # one refresh, after the interval, with the newest state
    assert clock.sleeps == [0.4]
    state["v"] = 7
    refresher.notify()  # right after a refresh: waits a whole interval
    when, shown = await display.handle.next_update()
    assert (when, shown) == (1.0, 7)
    clock.now = 5.0
    state["v"] = 8
    refresher.notify()  # long after the last one: at once
    when, shown = await display.handle.next_update()
    assert (when, shown) == (5.0, 8)
    assert clock.sleeps == [0.4, 0.5]
    assert refresher.updates == 3
    await refresher.close()
    assert refresher.updates == 3


async def test_close_shows_the_last_change_at_once() -> None:
    state = {"v": 1}
    refresher, _, display = make(state, interval=60.0)
    refresher.show()
    state["v"] = 2
    refresher.notify()
    await refresher.close()  # the refresh task was waiting out the interval
    assert display.handle.updates == [(0.0, 2)]
    refresher.notify()
    assert refresher.updates == 1 and not refresher.running  # closed: changes are not shown


async def test_show_without_follow_starts_no_task() -> None:
    refresher, _, display = make({"v": 3})
    refresher.show(follow=False)
    assert not refresher.running and display.shown == [(3, True)]


async def test_a_failing_display_does_not_end_the_refreshes() -> None:
    state = {"v": 1}
    refresher, _, display = make(state, interval=0.0)
    refresher.show()
    failed = asyncio.Event()

    def flaky_update(obj: Any) -> None:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("frontend gone")
        FakeHandle.update(display.handle, obj)

    display.handle.update = flaky_update  # type: ignore[method-assign]
    refresher.notify()
    await asyncio.wait_for(failed.wait(), 5)
    state["v"] = 2
    refresher.notify()
    assert await display.handle.next_update() == (0.0, 2)
    assert refresher.updates == 1  # the failed refresh is not counted
    await refresher.close()


def test_throttled_value_recomputes_for_a_new_version_once_per_interval() -> None:
    clock = FakeClock()
    computed: list[int] = []

    def compute() -> int:
        computed.append(len(computed) + 1)
        return computed[-1]

    value = ThrottledValue(compute, 1.0, clock)
    assert value.get(1) == 1
    clock.now = 0.5
    assert value.get(2) == 1  # changed, but within the interval
    clock.now = 1.5
    assert value.get(2) == 2
    clock.now = 9.0
    assert value.get(2) == 2  # unchanged: never recomputed
    assert computed == [1, 2]
