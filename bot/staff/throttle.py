"""Login throttling without lockout (issue 16, item 5).

Wrong passwords slow further attempts down, with exponential back-off, on two counts:

* **per address**: after ``address_free`` failures from one address (whatever user names it
  tries: password spraying), each further attempt from it waits ``base`` seconds, doubling
  with each failure up to ``max``;
* **per user**: after ``user_free`` failures for one account (from any address), an address
  that has itself failed for that account waits the same way, the delay growing with the
  account's failures from everywhere.

Nobody can lock a staff member out: an address that never failed for an account is never
slowed by that account's count, so the clinician at the front desk logs in while someone
elsewhere guesses their password. A correct password clears that address's count for the
account. Counts live in the staff server's memory and are forgotten after ``window``
seconds without a failure. The limits come from ``config/clinic.yml`` → ``staff:``
(``login_*``; environment ``STAFF_LOGIN_*``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

MAX_KEYS = 100_000


@dataclass
class Count:
    failures: int = 0
    last: float = 0.0


@dataclass
class LoginThrottle:
    address_free: int = 5
    user_free: int = 5
    base_seconds: float = 1.0
    max_seconds: float = 300.0
    window_seconds: float = 900.0
    addresses: Dict[str, Count] = field(default_factory=dict)
    users: Dict[str, Count] = field(default_factory=dict)
    pairs: Dict[Tuple[str, str], Count] = field(default_factory=dict)

    @classmethod
    def from_settings(cls) -> "LoginThrottle":
        from bot.staff.project import staff_setting

        return cls(
            address_free=staff_setting("login_address_free", 5),
            user_free=staff_setting("login_user_free", 5),
            base_seconds=staff_setting("login_backoff_seconds", 1.0),
            max_seconds=staff_setting("login_backoff_max_seconds", 300.0),
            window_seconds=staff_setting("login_window_seconds", 900.0),
        )

    def _backoff(self, count: Optional[Count], free: int, now: float) -> float:
        if count is None or count.failures < free:
            return 0.0
        delay = min(self.max_seconds, self.base_seconds * 2 ** (count.failures - free))
        return max(0.0, count.last + delay - now)

    def wait(self, address: str, username: str, now: Optional[float] = None) -> float:
        """Seconds before this address may try this user name again (0: now)."""
        now = time.monotonic() if now is None else now
        self._forget(now)
        wait = self._backoff(self.addresses.get(address), self.address_free, now)
        if (username, address) in self.pairs:  # only addresses that failed for this account
            wait = max(wait, self._backoff(self.users.get(username), self.user_free, now))
        return wait

    def failed(self, address: str, username: str, now: Optional[float] = None) -> None:
        now = time.monotonic() if now is None else now
        for count in (self.addresses.setdefault(address, Count()),
                      self.users.setdefault(username, Count()),
                      self.pairs.setdefault((username, address), Count())):
            count.failures += 1
            count.last = now

    def succeeded(self, address: str, username: str) -> None:
        self.pairs.pop((username, address), None)

    def _forget(self, now: float) -> None:
        tables: Tuple[Dict[Any, Count], ...] = (self.addresses, self.users, self.pairs)
        for table in tables:
            for key in [k for k, c in table.items() if now - c.last > self.window_seconds]:
                del table[key]
            if len(table) > MAX_KEYS:  # a flood of new names: start counting afresh
                table.clear()
