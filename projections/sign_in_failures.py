"""Failed sign-ins per client address, kept in the read-model database every gateway
shares, so an address that failed too often waits at whichever gateway it reaches.

Times are wall-clock seconds, compared across processes. An address quiet for FORGET_AFTER
starts afresh; such rows are deleted as failures are counted (once a minute at most).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from projections.database import Database

FREE_FAILURES = 5  # failed sign-ins from one address before it has to wait
FIRST_WAIT = 15.0  # seconds, doubled with each further failure
LONGEST_WAIT = 900.0
FORGET_AFTER = 3600.0  # an address quiet this long starts afresh
PRUNE_EVERY = 60.0  # seconds between deletions of forgotten rows, per process

TABLES = (
    """
CREATE TABLE IF NOT EXISTS sign_in_failures (
    address TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failure DOUBLE PRECISION NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS sign_in_failures_by_time ON sign_in_failures (last_failure)",
)

# One statement, so failures counted at the same moment by several gateways all count; a
# row quiet for FORGET_AFTER starts again from one.
COUNT_FAILURE = """
INSERT INTO sign_in_failures (address, failures, last_failure) VALUES (?, 1, ?)
ON CONFLICT (address) DO UPDATE SET
    failures = CASE WHEN sign_in_failures.last_failure < ? THEN 1
        ELSE sign_in_failures.failures + 1 END,
    last_failure = excluded.last_failure
"""


def wait_after(failures: int, last_failure: float, now: float) -> int:
    """Whole seconds before an address with these failures may try again; 0 when it may."""
    if failures < FREE_FAILURES or now - last_failure > FORGET_AFTER:
        return 0
    delay = min(FIRST_WAIT * 2 ** (failures - FREE_FAILURES), LONGEST_WAIT)
    left = min(last_failure + delay - now, delay)  # a clock stepped back waits no longer
    seconds: int = math.ceil(left)
    return max(0, seconds)


class SignInFailures:
    """Failed sign-ins per client address, shared by the gateways: how long it must wait."""

    def __init__(self, database: Database, clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self.clock = clock
        self.next_prune = -math.inf

    def create_tables(self) -> None:
        with self.database.transaction() as cursor:
            for table in TABLES:
                cursor.execute(table)

    def wait(self, address: str) -> int:
        """Seconds before this address may try again; 0 when it may now."""
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT failures, last_failure FROM sign_in_failures WHERE address = ?",
                (address,),
            )
            row = cursor.fetchone()
        if row is None:
            return 0
        return wait_after(int(row[0]), float(row[1]), self.clock())

    def failed(self, address: str) -> None:
        """Counts a failed sign-in from this address."""
        now = self.clock()
        with self.database.transaction() as cursor:
            cursor.execute(COUNT_FAILURE, (address, now, now - FORGET_AFTER))
        if now >= self.next_prune:
            self.next_prune = now + PRUNE_EVERY
            self.prune(now)

    def succeeded(self, address: str) -> None:
        """A sign-in from this address worked: its failures are forgotten."""
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM sign_in_failures WHERE address = ?", (address,))

    def prune(self, now: float) -> None:
        """Deletes the rows of addresses quiet for FORGET_AFTER (they count for nothing)."""
        # Its own transaction: a count and a deletion in one could each hold a row the
        # other gateway's wants.
        with self.database.transaction() as cursor:
            cursor.execute(
                "DELETE FROM sign_in_failures WHERE last_failure < ?", (now - FORGET_AFTER,)
            )
