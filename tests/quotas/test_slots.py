"""The slots an api process keeps between invocations: no Redis round trip in steady state, the
limit exact all the same, idle ones given back, a stale one never reused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis

from lambent.errors import Throttled
from lambent.quotas import admission, slots
from tests.processes import RedisServer


@pytest.fixture
def private_redis(settings) -> Iterator[RedisServer]:
    server = RedisServer().start()
    settings.REDIS_URL = server.url
    yield server
    server.stop()


def commands(server: RedisServer) -> int:
    client = redis.Redis.from_url(server.url)
    try:
        return int(client.info("stats")["total_commands_processed"])
    finally:
        client.close()


def pool(limit: int) -> admission.Pool:
    return admission.Pool(key=f"lambent:concurrency:{{test}}:function:{time.monotonic_ns()}", limit=limit,
                          reserved=True, account_id="000000000000", function_name="f")


def test_sequential_invocations_reuse_one_slot_without_a_round_trip(private_redis):
    keeper, shared = slots.SlotKeeper(), pool(3)

    async def main() -> int:
        keeper.give_back(await keeper.take(pool=shared))
        before = commands(private_redis)
        counting = commands(private_redis) - before  # what counting itself costs
        for _ in range(200):
            keeper.give_back(await keeper.take(pool=shared))
        return commands(private_redis) - before - 2 * counting

    assert asyncio.run(main()) == 0
    assert keeper.held() == 1


def test_the_limit_holds_across_kept_slots_and_other_processes(private_redis):
    keeper, shared = slots.SlotKeeper(), pool(2)

    async def main() -> None:
        first, second = await keeper.take(pool=shared), await keeper.take(pool=shared)
        with pytest.raises(Throttled):
            await keeper.take(pool=shared)
        keeper.give_back(first)
        with pytest.raises(Throttled):  # another process finds the kept slot taken
            admission.acquire(pool=shared, lease_seconds=60)
        keeper.give_back(await keeper.take(pool=shared))
        keeper.give_back(second)

    asyncio.run(main())


def test_idle_slots_are_given_back_and_a_stale_one_is_never_reused(private_redis, monkeypatch):
    monkeypatch.setattr(slots, "IDLE_RETURN_SECONDS", 0.2)
    keeper, shared = slots.SlotKeeper(), pool(1)

    async def main() -> None:
        kept = await keeper.take(pool=shared)
        keeper.give_back(kept)
        await asyncio.sleep(0.8)
        assert keeper.held() == 0 and admission.in_use(keys=[shared.key]) == [0]

        stale = await keeper.take(pool=shared)
        keeper.give_back(stale)
        stale.renewed_at -= slots.LEASE_SECONDS  # its renewals stopped (the loop that made them ended)
        fresh = await keeper.take(pool=shared)
        assert fresh is not stale and admission.in_use(keys=[shared.key]) == [1]
        keeper.give_back(fresh)
        await keeper.give_back_idle()

    asyncio.run(main())


def test_kept_slots_are_renewed_while_the_process_lives(private_redis, monkeypatch):
    monkeypatch.setattr(slots, "LEASE_SECONDS", 1.5)
    keeper, shared = slots.SlotKeeper(), pool(1)

    async def main() -> None:
        kept = await keeper.take(pool=shared)
        await asyncio.sleep(2.5)  # longer than its lease: still held, renewed meanwhile
        assert admission.in_use(keys=[shared.key]) == [1]
        keeper.give_back(kept)
        await keeper.give_back_idle()

    asyncio.run(main())
