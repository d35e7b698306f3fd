"""The token cache: a lapsed token is looked up once for every request presenting it at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import pytest

from mcos.services.tokens import TokenCache, TokenRecord

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
RECORD = TokenRecord(7, "agent", "donna", None, "donna", None)


def in_a_loop(scenario: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    def test() -> None:
        asyncio.run(scenario())

    return test


class Lookups:
    """A loader that counts its calls and answers when told to."""

    def __init__(self, answer: TokenRecord | None = RECORD) -> None:
        self.answer = answer
        self.calls = 0
        self.began = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self) -> TokenRecord | None:
        self.calls += 1
        self.began.set()
        await self.release.wait()
        return self.answer


@in_a_loop
async def test_requests_presenting_a_lapsed_token_at_once_share_one_lookup() -> None:
    cache, load = TokenCache(), Lookups()
    waiting = [asyncio.ensure_future(cache.lookup("t", NOW, load)) for _ in range(200)]
    await asyncio.sleep(0)
    load.release.set()
    assert await asyncio.gather(*waiting) == [RECORD] * 200
    assert load.calls == 1
    assert await cache.lookup("t", NOW, load) == RECORD and load.calls == 1, "now cached"


@in_a_loop
async def test_a_caller_going_away_does_not_cancel_the_others_lookup() -> None:
    cache, load = TokenCache(), Lookups()
    first = asyncio.ensure_future(cache.lookup("t", NOW, load))
    second = asyncio.ensure_future(cache.lookup("t", NOW, load))
    await asyncio.sleep(0)
    first.cancel()
    load.release.set()
    assert await second == RECORD
    assert load.calls == 1


@in_a_loop
async def test_an_unknown_token_is_not_cached_and_a_failed_lookup_reaches_every_waiter() -> None:
    cache, unknown = TokenCache(), Lookups(answer=None)
    unknown.release.set()
    assert await cache.lookup("t", NOW, unknown) is None
    assert await cache.lookup("t", NOW, unknown) is None
    assert unknown.calls == 2

    async def broken() -> TokenRecord | None:
        await asyncio.sleep(0)
        raise RuntimeError("database down")

    waiting = [asyncio.ensure_future(cache.lookup("u", NOW, broken)) for _ in range(3)]
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    unknown.answer = RECORD
    assert await cache.lookup("u", NOW, unknown) == RECORD, "the next request looks again"


@in_a_loop
async def test_a_lookup_that_a_revocation_overtook_is_not_cached() -> None:
    """Read before a revocation committed, answered after the cache was cleared for it: the
    request in flight gets what was read, as it would have without a cache, but the next one
    reads again."""
    cache, load = TokenCache(), Lookups()
    inflight = asyncio.ensure_future(cache.lookup("t", NOW, load))
    await load.began.wait()  # the lookup is reading
    cache.clear()  # a token.revoked event arrived
    load.release.set()
    assert await inflight == RECORD
    load.answer = None
    assert await cache.lookup("t", NOW, load) is None
    assert load.calls == 2


def test_entries_lapse_at_spread_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens cached in the same instant do not all lapse in the same instant."""
    clock = [1000.0]
    monkeypatch.setattr("mcos.services.tokens.time.monotonic", lambda: clock[0])
    cache = TokenCache(ttl_seconds=30)
    for n in range(50):
        cache.put(f"t{n}", RECORD)
    clock[0] += 22.4  # within every entry's TTL (at least three quarters of 30 s)
    assert all(cache.get(f"t{n}", NOW) == RECORD for n in range(50))
    clock[0] += 4
    lapsed = [n for n in range(50) if cache.get(f"t{n}", NOW) is None]
    assert 0 < len(lapsed) < 50, "some have lapsed, not all"
    clock[0] += 4  # past the full TTL
    assert all(cache.get(f"t{n}", NOW) is None for n in range(50))
