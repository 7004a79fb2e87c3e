"""The reader's watchdog: fed, it never fires; starved, it cancels its task once."""

from __future__ import annotations

import asyncio
import time

from tvframe.watchdog import Watchdog

_TIMEOUT = 0.05


async def test_a_fed_watchdog_lets_the_task_run_past_its_timeout() -> None:
    async def busy(dog_box: list[Watchdog]) -> int:
        fed = 0
        while fed < 10:  # ~2.5 timeouts of fed work
            await asyncio.sleep(_TIMEOUT / 4)
            dog_box[0].feed()
            fed += 1
        return fed

    box: list[Watchdog] = []
    task = asyncio.ensure_future(busy(box))
    box.append(Watchdog(task, _TIMEOUT))
    assert await task == 10
    assert not box[0].fired
    box[0].stop()


async def test_a_starved_watchdog_cancels_its_task_and_says_so() -> None:
    task = asyncio.ensure_future(asyncio.sleep(10))
    dog = Watchdog(task, _TIMEOUT)
    started = asyncio.get_running_loop().time()
    await asyncio.wait([task])
    assert task.cancelled() and dog.fired
    assert asyncio.get_running_loop().time() - started >= _TIMEOUT


async def test_a_stopped_watchdog_never_fires() -> None:
    task = asyncio.ensure_future(asyncio.sleep(_TIMEOUT * 3))
    dog = Watchdog(task, _TIMEOUT)
    dog.stop()
    await task
    assert not dog.fired and not task.cancelled()


async def test_a_loop_busy_past_the_deadline_is_not_taken_for_silence() -> None:
    # The reader's data is there, but the loop was blocked: the timer runs late, before the
    # reader can read. It must give the reader its chance instead of firing.
    loop = asyncio.get_running_loop()
    arrived = loop.create_future()
    box: list[Watchdog] = []

    async def reader() -> str:
        await arrived
        box[0].feed()
        return "read"

    task = asyncio.ensure_future(reader())
    box.append(Watchdog(task, _TIMEOUT))
    await asyncio.sleep(0)
    time.sleep(_TIMEOUT * 3)  # a callback hogging the loop past the deadline
    loop.call_later(0, arrived.set_result, None)  # runs after the overdue timer
    assert await task == "read"
    assert not box[0].fired
    box[0].stop()
