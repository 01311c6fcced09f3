"""Messages per sending stream, summed from the campaigns' stats rows: the figures behind
the gateway's per-stream message counters."""

from __future__ import annotations

from domain.stream import MESSAGE_OUTCOMES
from projections.database import Database

# A message's statuses as the stats count them: recorded, handed to the carrier, its
# outcome, or never sent (its recipient opted out, its campaign aborted).
MESSAGE_STATUSES = ("queued", "sent", *MESSAGE_OUTCOMES, "suppressed", "cancelled")


def message_totals(database: Database) -> dict[str, dict[str, int]]:
    """For each stream with a campaign on it, its campaigns' messages by status (a campaign
    counts on the stream it is on now)."""
    sums = ", ".join(f"SUM(stats.{status})" for status in MESSAGE_STATUSES)
    with database.read() as cursor:
        cursor.execute(
            f"SELECT campaign_list.stream, {sums} FROM stats "
            "JOIN campaign_list ON campaign_list.id = stats.campaign_id "
            "WHERE stats.scope = 'campaign' AND stats.key = '' "
            "AND campaign_list.stream IS NOT NULL GROUP BY campaign_list.stream"
        )
        rows = cursor.fetchall()
    return {
        str(row[0]): {
            status: int(count or 0) for status, count in zip(MESSAGE_STATUSES, row[1:], strict=True)
        }
        for row in rows
    }
