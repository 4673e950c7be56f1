"""A Redis lock store whose ticket lock holds across Rasa replicas (rasa#11256).

Rasa's ``RedisLockStore`` changes a conversation's ticket lock by reading it, changing it in
Python and writing it back. Two replicas doing that at once for one conversation both read
the same lock, both write, and one ticket is lost: both replicas then hold the lock, both
load the tracker, and the SQL tracker store keeps only part of what the second one adds.
Here every change is one Redis transaction (``WATCH``/``MULTI``, retried on conflict), so
tickets are issued and returned one at a time whatever replica asks.

Three more changes:

* A waiting message polls every ``LOCK_POLL_SECONDS`` (0.05 s) instead of Rasa's 1 s, so a
  double-sent message does not cost a second.
* Each ticket records which process holds it, and each process keeps a heartbeat key alive
  in Redis (refreshed every second, expiring after ``LOCK_OWNER_TTL_SECONDS``, 5 s). A
  replica killed mid-turn leaves its ticket behind; the next message of that conversation,
  now on another replica, drops the ticket once the heartbeat has expired, instead of
  waiting out the ticket's lifetime (``TICKET_LOCK_LIFETIME``) and timing out.
* Each lock key expires with its last ticket, so nothing is left in Redis for good.

Selected in ``endpoints.yml`` as ``lock_store: {type: bot.runtime.locks.AtomicRedisLockStore}``
with the same keys as Rasa's ``redis`` type (Rasa's own way to use a custom lock store, so
``bot.runtime.install`` has nothing to install for it).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Callable, Dict, Optional, Text, Tuple

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

# LOCK_POLL_SECONDS and LOCK_OWNER_TTL_SECONDS: bot/settings/environment.py.
HEARTBEAT_SECONDS = 1.0

# What a change returns: the lock to store (None: delete the key) and a value for the caller.
Change = Callable[[Optional[TicketLock]], Tuple[Optional[TicketLock], Any]]


def _poll_seconds() -> float:
    from bot.settings import get_settings

    return get_settings().env.lock_poll_seconds


def _owner_ttl_ms() -> int:
    from bot.settings import get_settings

    return int(get_settings().env.lock_owner_ttl_seconds * 1000)


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` with every read-modify-write of a lock done in one transaction."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        settings = dict(endpoint_config.kwargs) if endpoint_config else {}
        settings.update(kwargs)
        host = (endpoint_config.url if endpoint_config else None) or settings.pop("host", "localhost")
        settings.pop("host", None)
        super().__init__(host=host, **settings)
        # This process, as ticket owner; "lockowner:" never clashes with a "lock:" key.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._owner_prefix = self.key_prefix[: -len("lock:")] + "lockowner:"
        self._heartbeat: Optional[threading.Thread] = None
        self._stopping = threading.Event()

    def _owner_key(self, owner: str) -> str:
        return self._owner_prefix + owner

    def _beat(self) -> None:
        self.red.set(self._owner_key(self.owner), "1", px=_owner_ttl_ms())

    def _ensure_heartbeat(self) -> None:
        """Started on first use (nothing runs at import or construction time)."""
        if self._stopping.is_set() or (self._heartbeat is not None and self._heartbeat.is_alive()):
            return
        self._beat()
        self._heartbeat = threading.Thread(target=self._heartbeat_loop, name="lock-heartbeat",
                                           daemon=True)
        self._heartbeat.start()

    def _heartbeat_loop(self) -> None:
        while not self._stopping.wait(HEARTBEAT_SECONDS):
            try:
                self._beat()
            except Exception as error:  # Redis away for a moment: try again next beat
                logger.warning("lock heartbeat failed: %s", type(error).__name__)

    def stop_heartbeat(self) -> None:
        """Stop announcing this process; its tickets count as abandoned once the key expires."""
        self._stopping.set()

    # -- the one primitive ---------------------------------------------------------------
    def _change(self, conversation_id: Text, change: Change) -> Any:
        key = self.key_prefix + conversation_id

        def apply(pipe: Any) -> Any:
            raw = pipe.get(key)
            data = json.loads(raw) if raw else None
            lock = TicketLock.from_dict(data) if data else None
            owners: Dict[str, str] = dict((data or {}).get("owners") or {})
            if lock is not None:
                self._drop_dead_owners(pipe, lock, owners)
            before = {ticket.number for ticket in lock.tickets} if lock else set()
            new_lock, result = change(lock)
            pipe.multi()
            if new_lock is None:
                pipe.delete(key)
            else:
                for ticket in new_lock.tickets:
                    if ticket.number not in before:
                        owners[str(ticket.number)] = self.owner
                pipe.set(key, _dumps(new_lock, owners), px=_expiry_ms(new_lock))
            return result

        return self.red.transaction(apply, key, value_from_callable=True)

    def _drop_dead_owners(self, pipe: Any, lock: TicketLock, owners: Dict[str, str]) -> None:
        """Remove the tickets of processes whose heartbeat has expired (killed replicas)."""
        others = {owner for owner in owners.values() if owner != self.owner}
        dead = {owner for owner in others if not pipe.exists(self._owner_key(owner))}
        if not dead:
            return
        kept = [t for t in lock.tickets if owners.get(str(t.number)) not in dead]
        logger.warning("dropping %d ticket(s) of a stopped replica for a conversation",
                       len(lock.tickets) - len(kept))
        lock.tickets = deque(kept)

    # -- Rasa's LockStore operations, each atomic ---------------------------------------------
    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def change(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], Any]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            self._ensure_heartbeat()
            return int(self._change(conversation_id, change))
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: Text) -> None:
        def change(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], Any]:
            if lock is None:
                return None, None
            lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, change)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        def change(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], Any]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, change)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Return the ticket; delete the lock in the same step when no one else waits."""

        def change(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], Any]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, change)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: Text,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: Optional[float] = None,
    ) -> AsyncGenerator[TicketLock, None]:
        """Rasa's ticket lock, polling every ``LOCK_POLL_SECONDS`` while another turn runs."""
        wait = _poll_seconds() if wait_time_in_seconds is None else wait_time_in_seconds
        async with super().lock(conversation_id, lock_lifetime, wait) as ticket_lock:
            yield ticket_lock


def _dumps(lock: TicketLock, owners: Dict[str, str]) -> str:
    """Rasa's format (``TicketLock.from_dict`` reads it) plus each live ticket's owner."""
    live = {str(ticket.number) for ticket in lock.tickets}
    return json.dumps({
        "conversation_id": lock.conversation_id,
        "tickets": [ticket.dumps() for ticket in lock.tickets],
        "owners": {number: owner for number, owner in owners.items() if number in live},
    })


def _expiry_ms(lock: TicketLock) -> int:
    """Keep the key until its last ticket expires (a lock with no ticket: one lifetime)."""
    latest = max((ticket.expires for ticket in lock.tickets), default=time.time() + LOCK_LIFETIME)
    return max(1000, int((latest - time.time()) * 1000) + 1000)
