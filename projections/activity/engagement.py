"""What recipients did with their messages: clicks on short links, opt-outs (by link or by
reply, each number once, for every later campaign) and replies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.fields import format_time
from projections.activity.messages import MessageRef, MessageRows
from projections.activity.stats import Deltas, Stats, minute_of
from projections.database import Cursor, Database


class Engagement(MessageRows):
    """Clicks, opt-outs and replies, each written with the counters it moves."""

    def __init__(self, database: Database, stats: Stats) -> None:
        super().__init__(database)
        self.stats = stats

    def record_clicks(self, clicks: Sequence[tuple[str, datetime, str]]) -> int:
        """Records (message id, time, user agent) clicks; unknown codes are ignored."""
        if not clicks:
            return 0
        with self.database.transaction() as cursor:
            known = self.message_facts(cursor, sorted({c[0] for c in clicks}))
            deltas = Deltas()
            rows = []
            first_clicks = []
            times: dict[datetime, tuple[str, str]] = {}
            for message_id, at, agent in sorted(clicks, key=lambda click: click[1]):
                facts = known.get(message_id)
                if facts is None:
                    continue
                stamp = times.get(at)
                if stamp is None:
                    stamp = times[at] = (format_time(at), minute_of(at))
                rows.append((message_id, stamp[0], agent[:300]))
                scope = {"variant": facts["variant_id"], "domain": facts["domain"]}
                deltas.add(facts["campaign_id"], "clicks", minute=stamp[1], **scope)
                if facts["clicked_at"] is None:
                    facts["clicked_at"] = stamp[0]
                    first_clicks.append((stamp[0], facts["row"]))
                    deltas.add(facts["campaign_id"], "unique_clicks", **scope)
            self.set_clicked(cursor, first_clicks)
            cursor.copy_rows("clicks", "message_id, at, user_agent", rows)
            self.stats.count(cursor, deltas)
        return len(rows)

    def set_clicked(self, cursor: Cursor, changes: Sequence[tuple[str, str]]) -> None:
        """(first clicked at, row key) for each message clicked for the first time, the
        row key as `row_key` read it under the row's lock."""
        if not changes:
            return
        if self.database.dialect != "postgres":
            cursor.executemany("UPDATE messages SET clicked_at = ? WHERE id = ?", changes)
            return
        clicked, rows = (list(column) for column in zip(*changes, strict=True))
        cursor.execute(
            "UPDATE messages AS m SET clicked_at = c.clicked_at "
            "FROM unnest(?::text[], ?::text[]::tid[]) AS c(clicked_at, place) "
            "WHERE m.ctid = c.place",
            (clicked, rows),
        )

    def message_facts(self, cursor: Cursor, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = cursor.fetch_in(
            "SELECT id, campaign_id, variant_id, domain, status, cost_units, recipient, "
            f"clicked_at, {self.row_key} FROM messages WHERE id IN ?" + self.locking,
            sorted(ids),
        )
        return {
            str(row[0]): {
                "campaign_id": row[1],
                "variant_id": row[2],
                "domain": row[3],
                "status": row[4],
                "cost_units": int(row[5]),
                "recipient": row[6],
                "clicked_at": row[7],
                "row": row[8],
            }
            for row in rows
        }

    def opted_out(self, phones: Sequence[str]) -> set[str]:
        with self.database.transaction() as cursor:
            rows = cursor.fetch_in("SELECT phone FROM opt_outs WHERE phone IN ?", phones)
        return {str(row[0]) for row in rows}

    def opt_out(
        self,
        phone: str,
        at: datetime,
        *,
        source: str,
        campaign_id: str | None = None,
        message_id: str | None = None,
        cursor: Cursor | None = None,
    ) -> bool:
        """Opts a number out of every later campaign; False when it already was."""
        if cursor is None:
            with self.database.transaction() as own:
                return self.opt_out(
                    phone,
                    at,
                    source=source,
                    campaign_id=campaign_id,
                    message_id=message_id,
                    cursor=own,
                )
        cursor.execute(
            "INSERT INTO opt_outs (phone, at, campaign_id, message_id, source) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (phone) DO NOTHING RETURNING phone",
            (phone, format_time(at), campaign_id, message_id, source),
        )
        if cursor.fetchone() is None:
            return False  # opted out before: the first opt-out stands
        if campaign_id:
            deltas = Deltas()
            deltas.add(campaign_id, "opt_outs", minute=minute_of(at))
            self.stats.count(cursor, deltas)
        return True

    def opt_out_by_code(self, code: str, at: datetime, source: str) -> MessageRef | None:
        """Opts out the recipient of the message whose opt-out link has `code`."""
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT id, campaign_id, recipient FROM messages WHERE optout_code = ?", (code,)
            )
            row = cursor.fetchone()
            if row is None:
                return None
            self.opt_out(
                str(row[2]),
                at,
                source=source,
                campaign_id=str(row[1]),
                message_id=str(row[0]),
                cursor=cursor,
            )
        return MessageRef(str(row[0]), str(row[1]), str(row[2]), None)

    def opt_out_by_codes(self, codes: Sequence[tuple[str, datetime]], source: str) -> int:
        """Opts out, in one transaction, the recipients of messages by opt-out link code."""
        if not codes:
            return 0
        with self.database.transaction() as cursor:
            found = cursor.fetch_in(
                "SELECT optout_code, id, campaign_id, recipient FROM messages "
                "WHERE optout_code IN ?",
                sorted({code for code, _at in codes}),
            )
            by_code = {str(row[0]): (str(row[1]), str(row[2]), str(row[3])) for row in found}
            first: dict[str, tuple[str, str, str | None, str | None, str]] = {}
            for code, at in codes:  # a number in the batch twice: the first opt-out stands
                if code in by_code:
                    message_id, campaign_id, phone = by_code[code]
                    row = (phone, format_time(at), campaign_id, message_id, source)
                    first.setdefault(phone, row)
            added = self.insert_opt_outs(cursor, list(first.values()))
            deltas = Deltas()
            for phone, at_text, opted_campaign, _message_id, _source in first.values():
                if phone in added and opted_campaign:
                    deltas.add(opted_campaign, "opt_outs", minute=at_text[:16] + "Z")
            self.stats.count(cursor, deltas)
        return len(added)

    def insert_opt_outs(
        self, cursor: Cursor, rows: Sequence[tuple[str, str, str | None, str | None, str]]
    ) -> set[str]:
        """Inserts (phone, at, campaign, message, source) opt-outs of distinct numbers;
        returns the numbers that were not opted out before."""
        if self.database.dialect != "postgres":
            added = set()
            for row in rows:
                cursor.execute(
                    "INSERT INTO opt_outs (phone, at, campaign_id, message_id, source) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (phone) DO NOTHING RETURNING phone",
                    row,
                )
                if cursor.fetchone() is not None:
                    added.add(row[0])
            return added
        if not rows:
            return set()
        # One statement for the batch (the driver spends its time per statement).
        columns = [list(column) for column in zip(*rows, strict=True)]
        cursor.execute(
            "INSERT INTO opt_outs (phone, at, campaign_id, message_id, source) "
            "SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) "
            "ON CONFLICT (phone) DO NOTHING RETURNING phone",
            columns,
        )
        return {str(row[0]) for row in cursor.fetchall()}

    def record_reply(
        self, phone: str, text: str, at: datetime, *, opts_out: bool
    ) -> tuple[str | None, bool]:
        """Records a reply against the latest campaign that messaged the number."""
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT campaign_id, id FROM messages WHERE recipient = ? "
                "ORDER BY created_at DESC LIMIT 1",
                (phone,),
            )
            row = cursor.fetchone()
            campaign_id = str(row[0]) if row else None
            opted = False
            if opts_out:
                opted = self.opt_out(
                    phone,
                    at,
                    source="reply",
                    campaign_id=campaign_id,
                    message_id=str(row[1]) if row else None,
                    cursor=cursor,
                )
            cursor.execute(
                "INSERT INTO replies (phone, at, text, campaign_id, opted_out) "
                "VALUES (?, ?, ?, ?, ?)",
                (phone, format_time(at), text[:1600], campaign_id, int(opted)),
            )
            if campaign_id:
                deltas = Deltas()
                deltas.add(campaign_id, "replies", minute=minute_of(at))
                self.stats.count(cursor, deltas)
        return campaign_id, opted
