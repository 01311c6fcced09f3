"""Change marks: which campaigns' read-model rows changed since the live views last looked.

Every writer of a campaign's rows (the campaign list, domain usage, the stats) marks the
campaign in the same transaction as its rows; the realtime rows take the marks and refresh
those campaigns. A mark is only removed by the transaction that refreshes its campaign, so
a crash between the two loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from projections.database import Cursor

MARKS_TABLE = """
CREATE TABLE IF NOT EXISTS campaign_changes (
    campaign_id TEXT PRIMARY KEY
)
"""


def mark_changed(cursor: Cursor, campaign_ids: Iterable[str]) -> None:
    """Marks campaigns as changed, in the caller's transaction."""
    cursor.insert_keys("campaign_changes", "campaign_id", sorted(set(campaign_ids)))
