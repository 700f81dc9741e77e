"""HostSlots, the per-host limit that feed polls and article pages share: the bound,
priority order (pages before polls), cancellation, and a per_host change."""

from __future__ import annotations

import asyncio

from monitor.feeds.fetch import PRIORITY_FEED, PRIORITY_PAGE, HostSlots, host_of


async def hold(slots: HostSlots, url: str, log: list[str], name: str, release: asyncio.Event,
               priority: int = PRIORITY_FEED) -> None:
    async with slots.slot(url, priority=priority):
        log.append(name)
        await release.wait()


def test_bound_priority_and_arrival_order() -> None:
    async def run() -> tuple[list[str], list[int]]:
        slots, log, gate = HostSlots(2), [], asyncio.Event()
        first = [asyncio.create_task(hold(slots, f"http://a.test/{i}", log, f"f{i}", gate))
                 for i in range(2)]
        await asyncio.sleep(0)
        queued = [asyncio.create_task(hold(slots, "http://A.test/x", log, name, gate, prio))
                  for name, prio in [("feed1", PRIORITY_FEED), ("page1", PRIORITY_PAGE),
                                     ("feed2", PRIORITY_FEED), ("page2", PRIORITY_PAGE)]]
        other = asyncio.create_task(hold(slots, "http://b.test/", log, "b", gate))
        await asyncio.sleep(0.01)
        busy = [slots.busy("a.test"), slots.busy("b.test")]
        gate.set()
        await asyncio.gather(*first, *queued, other)
        return log, busy + [slots.busy("a.test")]

    log, busy = asyncio.run(run())
    assert busy == [2, 1, 0]  # a.test full, b.test not held up by it; all released
    assert log[:2] == ["f0", "f1"] and "b" in log[:3]
    assert [n for n in log if n not in ("f0", "f1", "b")] == ["page1", "page2", "feed1", "feed2"]


def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    async def run() -> list[str]:
        slots, log, gate = HostSlots(1), [], asyncio.Event()
        holder = asyncio.create_task(hold(slots, "http://a.test/", log, "holder", gate))
        await asyncio.sleep(0)
        cancelled = asyncio.create_task(hold(slots, "http://a.test/", log, "cancelled", gate))
        waiting = asyncio.create_task(hold(slots, "http://a.test/", log, "waiting", gate))
        await asyncio.sleep(0)
        cancelled.cancel()
        gate.set()
        await asyncio.gather(holder, waiting)
        assert slots.busy("a.test") == 0
        return log

    assert asyncio.run(run()) == ["holder", "waiting"]


def test_per_host_may_grow_and_one_instance_serves_several_loops() -> None:
    slots = HostSlots(1)

    async def run() -> int:
        gate, log = asyncio.Event(), []
        tasks = [asyncio.create_task(hold(slots, "http://a.test/", log, str(i), gate))
                 for i in range(3)]
        await asyncio.sleep(0.01)
        first = slots.busy("a.test")
        slots.per_host = 3
        gate.set()
        await asyncio.gather(*tasks)
        return first

    assert asyncio.run(run()) == 1
    slots.per_host = 1
    assert asyncio.run(run()) == 1  # the same instance in a second event loop


def test_host_of() -> None:
    assert host_of("https://Example.ORG:8443/a") == "example.org"
    assert host_of("not a url") == ""
