"""The Redis lock store of the production set-up, against the real Redis on loopback.

Two lock-store objects stand for two Rasa replicas. Rasa's own RedisLockStore gives one
ticket number to both when they ask at once (rasa#11256); ours must never.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from typing import Iterator, List

import pytest
from rasa.core.lock_store import RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.runtime.locks import AtomicRedisLockStore


@pytest.fixture(scope="module")
def prefix() -> Iterator[str]:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    tag = f"locktest{uuid.uuid4().hex[:8]}"
    yield tag
    client = AtomicRedisLockStore(EndpointConfig(url="127.0.0.1", port=6379, db=0)).red
    keys = list(client.scan_iter(f"{tag}:*"))
    if keys:
        client.delete(*keys)


def atomic_store(prefix: str) -> AtomicRedisLockStore:
    return AtomicRedisLockStore(
        EndpointConfig(url="127.0.0.1", port=6379, db=0, key_prefix=prefix, type="ignored"))


def issue_concurrently(stores: List[RedisLockStore], conversation: str, per_store: int) -> List[int]:
    tickets: List[int] = []
    start = threading.Barrier(len(stores))

    def work(store: RedisLockStore) -> None:
        start.wait()
        for _ in range(per_store):
            tickets.append(store.issue_ticket(conversation, 60))

    threads = [threading.Thread(target=work, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tickets


def test_rasas_own_lock_store_hands_one_ticket_to_two_replicas(prefix: str) -> None:
    """The race the production set-up must avoid: shows this test can see it."""
    stores: List[RedisLockStore] = [
        RedisLockStore(host="127.0.0.1", port=6379, db=0, key_prefix=prefix) for _ in range(2)]
    tickets = issue_concurrently(stores, f"stock-{uuid.uuid4().hex}", 300)
    assert len(set(tickets)) < len(tickets), "no duplicate ticket this time; the race is timing"


def test_two_replicas_never_get_the_same_ticket(prefix: str) -> None:
    stores: List[RedisLockStore] = [atomic_store(prefix), atomic_store(prefix)]
    tickets = issue_concurrently(stores, f"atomic-{uuid.uuid4().hex}", 300)
    assert sorted(tickets) == list(range(600))


def test_turns_of_one_conversation_on_two_replicas_run_one_at_a_time(prefix: str) -> None:
    replicas = [atomic_store(prefix), atomic_store(prefix)]
    conversation = f"turns-{uuid.uuid4().hex}"
    inside = 0
    most_inside = 0
    done: List[int] = []

    async def turn(store: AtomicRedisLockStore, number: int) -> None:
        nonlocal inside, most_inside
        async with store.lock(conversation, 30):
            inside += 1
            most_inside = max(most_inside, inside)
            await asyncio.sleep(0.01)
            inside -= 1
            done.append(number)

    async def main() -> None:
        await asyncio.gather(*(turn(replicas[n % 2], n) for n in range(20)))

    asyncio.run(main())
    assert most_inside == 1 and sorted(done) == list(range(20))
    assert replicas[0].get_lock(conversation) is None, "the lock was left behind in Redis"


def test_a_killed_replicas_ticket_stops_blocking_after_its_heartbeat(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCK_OWNER_TTL_SECONDS", "1")
    dead, alive = atomic_store(prefix), atomic_store(prefix)
    conversation = f"failover-{uuid.uuid4().hex}"
    dead.issue_ticket(conversation, 60)  # a turn in progress on the replica about to die
    dead.stop_heartbeat()  # kill -9: no more heartbeats, the ticket stays in Redis

    async def next_turn() -> float:
        began = time.monotonic()
        async with alive.lock(conversation, 60):
            return time.monotonic() - began

    waited = asyncio.run(next_turn())
    # The heartbeat lasts 1 s here (5 s in production); the ticket itself would last 60 s.
    assert waited < 3, f"the next turn waited {waited:.1f} s for a dead replica's ticket"


def test_a_live_replicas_ticket_is_respected(prefix: str) -> None:
    holder, other = atomic_store(prefix), atomic_store(prefix)
    conversation = f"live-{uuid.uuid4().hex}"
    ticket = holder.issue_ticket(conversation, 60)
    mine = other.issue_ticket(conversation, 60)
    other.update_lock(conversation)  # what a waiting turn does every poll
    lock = other.get_lock(conversation)
    assert lock is not None and lock.now_serving == ticket and lock.is_locked(mine)
    holder.cleanup(conversation, ticket)
    lock = other.get_lock(conversation)
    assert lock is not None and not lock.is_locked(mine)
