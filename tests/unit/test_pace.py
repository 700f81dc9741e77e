"""The web's pacer (monitor.web.pace) on fake clocks: free while nothing polls; while a
poll pass runs, one request at a time, each started only when the CPU spent fits the
budget."""

from __future__ import annotations

import asyncio

import pytest

from monitor.web.pace import BURST_S, CHECK_EVERY_S, Pacer, PollingCheck


class Clocks:
    """Wall time that moves only when the pacer sleeps, and CPU that requests spend."""

    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 0.0
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.wall += seconds


def pacer(clocks: Clocks, polling: bool, budget: float | None = 0.25) -> Pacer:
    async def polls() -> bool:
        return polling

    return Pacer(lambda: budget, polls, lambda: clocks.cpu,
                 monotonic=lambda: clocks.wall, sleep=clocks.sleep)


async def requests(p: Pacer, clocks: Clocks, costs: list[float]) -> None:
    for cost in costs:
        async with p.turn():
            clocks.cpu += cost


def test_nothing_waits_while_nobody_polls() -> None:
    clocks = Clocks()
    asyncio.run(requests(pacer(clocks, polling=False), clocks, [0.2] * 10))
    assert clocks.slept == []


def test_no_budget_means_no_wait_even_while_polling() -> None:
    clocks = Clocks()
    asyncio.run(requests(pacer(clocks, polling=True, budget=None), clocks, [0.2] * 10))
    assert clocks.slept == []


def test_while_polling_a_request_waits_until_the_cpu_spent_fits_the_budget() -> None:
    clocks = Clocks()
    p = pacer(clocks, polling=True, budget=0.25)
    asyncio.run(requests(p, clocks, [0.1, 0.1, 0.1]))
    # The first runs on the burst; the second owes 0.1 - BURST_S CPU seconds, repaid
    # at 0.25 a second; the third owes 0.1, all of it.
    assert clocks.slept == pytest.approx([(0.1 - BURST_S) / 0.25, 0.1 / 0.25])
    assert p.waits == 2 and p.waited_s == pytest.approx(sum(clocks.slept))


def test_over_a_busy_spell_the_web_uses_the_budget_and_no_more() -> None:
    clocks = Clocks()
    start_wall = clocks.wall
    asyncio.run(requests(pacer(clocks, polling=True, budget=0.25), clocks, [0.003] * 2000))
    used = clocks.cpu / (clocks.wall - start_wall)
    # At most the burst and the last request (charged after it ran) above the budget.
    assert 0.24 < used <= 0.25 + (BURST_S + 0.003) / (clocks.wall - start_wall)


def test_a_new_busy_spell_starts_with_a_full_bucket() -> None:
    clocks = Clocks()
    state = {"polling": True}

    async def polls() -> bool:
        return state["polling"]

    p = Pacer(lambda: 0.25, polls, lambda: clocks.cpu, monotonic=lambda: clocks.wall,
              sleep=clocks.sleep)

    async def main() -> None:
        await requests(p, clocks, [0.5])  # deep in debt at the end of the spell
        state["polling"] = False
        await requests(p, clocks, [0.5])  # free: nothing polls
        state["polling"] = True
        await requests(p, clocks, [0.01])  # a new spell: the old debt is forgotten

    asyncio.run(main())
    assert clocks.slept == []


@pytest.mark.parametrize(("polling", "at_once"), [(True, 1), (False, 10)])
def test_requests_take_turns_while_polling_and_run_at_once_otherwise(
        polling: bool, at_once: int) -> None:
    clocks = Clocks()
    p = pacer(clocks, polling=polling, budget=1000.0)
    inside, most = 0, 0

    async def one() -> None:
        nonlocal inside, most
        async with p.turn():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.001)
            inside -= 1

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(10)))

    asyncio.run(main())
    assert most == at_once


def test_the_polling_check_asks_once_a_second_and_shares_the_answer() -> None:
    now = [0.0]
    asked = []

    async def ask() -> bool:
        asked.append(now[0])
        await asyncio.sleep(0.001)
        return True

    check = PollingCheck(ask, monotonic=lambda: now[0])

    async def main() -> list[bool]:
        first = await asyncio.gather(*(check() for _ in range(5)))  # one query for all
        now[0] += CHECK_EVERY_S / 2
        cached = await check()
        now[0] += CHECK_EVERY_S
        again = await check()
        return [*first, cached, again]

    assert asyncio.run(main()) == [True] * 7
    assert asked == [0.0, 1.5 * CHECK_EVERY_S]


def test_a_failing_database_counts_as_not_polling() -> None:
    async def ask() -> bool:
        raise RuntimeError("database unavailable")

    assert asyncio.run(PollingCheck(ask)()) is False
