"""Change marks: which campaigns' read-model rows changed since the live views last looked.

Every writer of a campaign's rows (the campaign list, domain usage, the stats) marks the
campaign in the same transaction as its rows; the realtime rows take the marks and refresh
those campaigns. A mark is only removed by the transaction that refreshes its campaign, so
a crash between the two loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from projections.database import Cursor

EVERY_CAMPAIGN = "*"  # a mark for every campaign at once (a rebuild); never a campaign id

MARKS_TABLE = """
CREATE TABLE IF NOT EXISTS campaign_changes (
    campaign_id TEXT PRIMARY KEY
)
"""


def mark_changed(cursor: Cursor, campaign_ids: Iterable[str]) -> None:
    """Marks campaigns as changed, in the caller's transaction, once and in id order.

    A mark already there is held too (locked until the caller's transaction ends), as a
    new one is. The realtime rows may be taking it at this moment, to redraw the campaign
    from what was committed before this transaction: a mark they took is locked, so this
    waits for them and then marks the campaign anew; a mark held here they leave for their
    next refresh (`RealtimeRows.take_marks`). Without the hold, a mark already there let
    the writer through, and the redraw could miss what it wrote."""
    cursor.insert_keys("campaign_changes", "campaign_id", sorted(set(campaign_ids)), hold=True)


def mark_every_campaign(cursor: Cursor) -> None:
    """Marks every campaign as changed with one row, in the caller's transaction: the
    realtime rows expand it into a mark per campaign when they next take marks."""
    cursor.insert_keys("campaign_changes", "campaign_id", [EVERY_CAMPAIGN], hold=True)


def expand_every_campaign(cursor: Cursor) -> None:
    """Turns the mark for every campaign, if there is one, into a mark per listed campaign."""
    cursor.execute("SELECT 1 FROM campaign_changes WHERE campaign_id = ?", (EVERY_CAMPAIGN,))
    if cursor.fetchone() is None:
        return
    cursor.execute("DELETE FROM campaign_changes WHERE campaign_id = ?", (EVERY_CAMPAIGN,))
    cursor.execute(
        # In id order, as every writer of marks inserts them (`mark_changed`); WHERE: for
        # SQLite's parser.
        "INSERT INTO campaign_changes (campaign_id) SELECT id FROM campaign_list "
        "WHERE true ORDER BY id ON CONFLICT (campaign_id) DO NOTHING"
    )
