"""The activity tables: recipients, messages and their batches, clicks, opt-outs, replies,
the stats, and (with Kafka) the stats outbox and what of it was applied or rebuilt."""

from __future__ import annotations

from projections.changes import MARKS_TABLE
from projections.database import Database, add_missing_column

MESSAGES_FILLFACTOR = 50  # percent of each page of messages filled by inserts

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS recipients (
        campaign_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        phone TEXT NOT NULL,
        fields TEXT NOT NULL,
        PRIMARY KEY (campaign_id, seq)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS messages (
        id TEXT PRIMARY KEY,
        optout_code TEXT NOT NULL UNIQUE,
        campaign_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        recipient TEXT NOT NULL,
        variant_id TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        text TEXT NOT NULL,
        parts INTEGER NOT NULL,
        cost_units BIGINT NOT NULL,
        domain TEXT,
        optout_domain TEXT,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        updated_at TEXT NOT NULL,
        clicked_at TEXT,
        UNIQUE (campaign_id, seq)
    )
    """,
    # No index names the status, not even in a condition: PostgreSQL then writes a
    # receipt's new row version on the same page with no index entry (a HOT update), where
    # an indexed status made every receipt write all three indexes again. (The index that
    # earlier versions had is dropped.)
    "DROP INDEX IF EXISTS messages_queued",
    """
    CREATE TABLE IF NOT EXISTS clicks (
        message_id TEXT NOT NULL,
        at TEXT NOT NULL,
        user_agent TEXT NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS clicks_message ON clicks (message_id)",
    """
    CREATE TABLE IF NOT EXISTS opt_outs (
        phone TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        campaign_id TEXT,
        message_id TEXT,
        source TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS replies (
        phone TEXT NOT NULL,
        at TEXT NOT NULL,
        text TEXT NOT NULL,
        campaign_id TEXT,
        opted_out INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS stats (
        campaign_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        queued BIGINT NOT NULL DEFAULT 0,
        suppressed BIGINT NOT NULL DEFAULT 0,
        cancelled BIGINT NOT NULL DEFAULT 0,
        sent BIGINT NOT NULL DEFAULT 0,
        delivered BIGINT NOT NULL DEFAULT 0,
        undelivered BIGINT NOT NULL DEFAULT 0,
        failed BIGINT NOT NULL DEFAULT 0,
        no_route BIGINT NOT NULL DEFAULT 0,
        rejected BIGINT NOT NULL DEFAULT 0,
        unknown BIGINT NOT NULL DEFAULT 0,
        clicks BIGINT NOT NULL DEFAULT 0,
        unique_clicks BIGINT NOT NULL DEFAULT 0,
        opt_outs BIGINT NOT NULL DEFAULT 0,
        replies BIGINT NOT NULL DEFAULT 0,
        cost_units BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (campaign_id, scope, key)
    )
    """,
    # Numbers handed out in blocks: each message's number leads its link codes.
    """
    CREATE TABLE IF NOT EXISTS sequences (
        name TEXT PRIMARY KEY,
        next BIGINT NOT NULL
    )
    """,
    "INSERT INTO sequences (name, next) VALUES ('message', 0) ON CONFLICT (name) DO NOTHING",
    # Each batch of messages and how far its handover to the carrier got: recorded (its
    # messages queued), claimed (the carrier is being given them, under `epoch`), then sent
    # or cancelled. What a new owner of the stream finishes.
    """
    CREATE TABLE IF NOT EXISTS batches (
        campaign_id TEXT NOT NULL,
        first_seq BIGINT NOT NULL,
        last_seq BIGINT NOT NULL,
        stream TEXT NOT NULL,
        state TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        recorded_at TEXT NOT NULL,
        done_at TEXT,
        PRIMARY KEY (campaign_id, first_seq)
    )
    """,
    "CREATE INDEX IF NOT EXISTS batches_open ON batches (stream) "
    "WHERE state IN ('recorded', 'claimed')",
    MARKS_TABLE,
)

OUTBOX_TABLE = """
CREATE TABLE IF NOT EXISTS activity_outbox (
    id BIGSERIAL PRIMARY KEY,
    record TEXT NOT NULL
)
"""
APPLIED_TABLE = """
CREATE TABLE IF NOT EXISTS activity_applied (
    id BIGINT PRIMARY KEY
)
"""
# The outbox records a stats rebuild covered: every id up to `through` (one row).
REBUILT_TABLE = """
CREATE TABLE IF NOT EXISTS activity_rebuilt (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    through BIGINT NOT NULL
)
"""


def create_tables(database: Database, *, outbox: bool = False) -> None:
    """Creates the tables that are missing (with `outbox`, the outbox's too)."""
    with database.transaction() as cursor:
        for statement in SCHEMA:
            cursor.execute(statement)
        for column in ("cancelled", "unknown"):
            add_missing_column(
                cursor, database.dialect, "stats", column, "BIGINT NOT NULL DEFAULT 0"
            )
        if database.dialect == "postgres":
            # Each message is updated once or twice after its insert (receipts, a first
            # click): half of each page is left free for those new versions.
            cursor.execute(f"ALTER TABLE messages SET (fillfactor = {MESSAGES_FILLFACTOR})")
        if outbox:
            cursor.execute(OUTBOX_TABLE)
            cursor.execute(APPLIED_TABLE)
            cursor.execute(REBUILT_TABLE)
            cursor.execute(
                "INSERT INTO activity_rebuilt (one, through) VALUES (1, 0) "
                "ON CONFLICT (one) DO NOTHING"
            )
