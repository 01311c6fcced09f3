"""A rebuild inside PostgreSQL: the read models drawn from the stored events by set-based
statements, with no event decoded in Python.

When the store and the read models share a PostgreSQL database, a projector's rebuild
creates its views' tables afresh in a scratch schema and fills them from the store's table,
groups of aggregates at a time, from several connections at once: the server parses each
event's JSON once, and one statement per group writes every table. The rebuild's own
transaction, which holds the projector's position from the start, then puts the new tables
in place of the old ones, so readers see the old rows until the new ones are complete. The
rows are the same as those of the views' Python replay (`ListReplay`, `DomainReplay`),
which `campaigns verify` compares them with; every campaign is marked as changed.

It is used only when every event can be read that way: state stored as plain JSON (no
cipher, no compression), no event of a class that upcasts, no transcoded value
(`{"_type_": ..., "_data_": ...}`) but the event's timestamp, and no JSON that jsonb refuses
(NaN, a NUL character). Otherwise the rebuild replays in Python, and so it does when the
database lets no schema be made.

Texts the views keep as JSON are written as `projections.messages.dumps` writes them:
objects are cut from the stored text as it is (the library writes compact JSON with its keys
in order), arrays of strings are joined element by element.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Protocol

import psycopg

from domain.campaign import STATUS_AFTER
from projections.changes import mark_every_campaign
from projections.database import Cursor, Database
from projections.domain_usage import LIMIT_SET

log = logging.getLogger(__name__)

Group = tuple[str | None, str | None]  # aggregate ids from (included) and to (not)
Progress = Callable[[int, int], None]  # (last position, events replayed so far)

EVENTS_PER_GROUP = 25_000  # about how many events one statement replays
MAX_GROUPS = 256
ONE_GROUP_BELOW = 5_000  # a store with fewer events is replayed in one group
# A stored event with a second transcoded value after its timestamp's (`odd`): only the
# library decodes those.
TRANSCODED = "'\\x" + b'"_type_":'.hex() + "'::bytea"
TRANSCODED_TWICE = (
    f"position({TRANSCODED} IN substr(state, position({TRANSCODED} IN state) + 9)) > 0"
)
# The events whose objects a history row cuts from their stored text (see FACTS).
SLICED = "'Campaign.Edited', 'Campaign.Suspended'"
# The stored UTC time `2026-01-02T03:04:05.678901+00:00` as `format_time` writes it:
# `2026-01-02T03:04:05.678901Z`. Other forms go through to_char.
STORED_TIME = (
    "CASE WHEN length(ts) = 32 AND substr(ts, 20, 1) = '.' AND right(ts, 6) = '+00:00' "
    "THEN left(ts, 26) || 'Z' ELSE to_char(ts::timestamptz AT TIME ZONE 'UTC', "
    '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') END'
)


@dataclass(frozen=True)
class StoredEvents:
    """The store's table of events, in the read models' database."""

    schema: str
    table: str
    readable: Callable[[str], bool]  # whether a topic's events read as stored (no upcasting)

    @property
    def name(self) -> str:
        return f'"{self.schema}"."{self.table}"'


@dataclass(frozen=True)
class Span:
    """What one rebuild replays: the stored events up to `last`, `count` of them."""

    store: StoredEvents
    last: int
    count: int


def span_of(cursor: Cursor, store: StoredEvents) -> Span | None:
    """What the rebuild replays, or None when a stored event needs upcasting. Notification ids
    are committed in order (the library locks the table for each insert), so every event up
    to the last one seen here is there to be read by any connection."""
    cursor.execute(f"SELECT coalesce(max(notification_id), 0), count(*) FROM {store.name}")
    row = cursor.fetchone()
    last, count = (int(row[0]), int(row[1])) if row else (0, 0)
    cursor.execute(f"SELECT DISTINCT topic FROM {store.name} WHERE notification_id <= ?", (last,))
    topics = [str(row[0]) for row in cursor.fetchall()]
    if not all(store.readable(topic) for topic in topics):
        return None
    return Span(store, last, count)


def of_kinds(kinds: tuple[str, ...]) -> str:
    """SQL: the stored event's topic (`module:Kind.Event`) is of one of these kinds."""
    return " OR ".join(f"strpos(topic, ':{kind}.') > 0" for kind in kinds)


def groups(count: int) -> list[Group]:
    """Ranges of aggregate ids (lowest included, highest not) that split a store of `count`
    events into groups of about EVENTS_PER_GROUP."""
    number = max(1, min(MAX_GROUPS, count // EVENTS_PER_GROUP))
    bounds: list[str | None] = [None]
    bounds += [str(uuid.UUID(int=(n << 128) // number)) for n in range(1, number)]
    bounds.append(None)
    return list(itertools.pairwise(bounds))


def parsed(span: Span, kinds: tuple[str, ...], group: Group) -> tuple[str, list[object]]:
    """SQL and parameters: the stored events of these kinds in one group of aggregates, each
    parsed once: position, aggregate_id, version, type (`Kind.Event`), name (`Event`), at
    (as `format_time` writes it), data (JSON), text (the stored JSON, of SLICED events),
    odd (only the library can decode it)."""
    low, high = group
    where = ["notification_id <= ?", f"({of_kinds(kinds)})"]
    params: list[object] = [span.last]
    if low is not None:
        where.append("originator_id >= ?::uuid")
        params.append(low)
    if high is not None:
        where.append("originator_id < ?::uuid")
        params.append(high)
    sql = (
        "SELECT position, aggregate_id, version, type, split_part(type, '.', 2) AS name, "
        f"{STORED_TIME} AS at, data, text, odd "
        "FROM (SELECT *, data->'timestamp'->>'_data_' AS ts FROM ("
        "SELECT notification_id AS position, originator_id AS aggregate_id, "
        "originator_version AS version, split_part(topic, ':', 2) AS type, "
        f"CASE WHEN split_part(topic, ':', 2) IN ({SLICED}) THEN convert_from(state, 'UTF8') END "
        f"AS text, convert_from(state, 'UTF8')::jsonb AS data, {TRANSCODED_TWICE} AS odd "
        f"FROM {span.store.name} WHERE {' AND '.join(where)} OFFSET 0) AS stored OFFSET 0"
        ") AS timed"
    )
    return sql, params


def take_off_indexes(cursor: Cursor, schema: str) -> dict[str, list[str]]:
    """Drops the keys and indexes of a schema's new tables, so that filling them writes
    rows only; returns, by table, the statements that build them again (one sort each,
    instead of an index entry per row as it comes)."""
    cursor.execute(
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(t.relname), "
        "quote_ident(c.conname), pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = ? AND c.contype IN ('p', 'u') ORDER BY 1, 2",
        (schema,),
    )
    keys = cursor.fetchall()
    cursor.execute(
        "SELECT quote_ident(i.schemaname) || '.' || quote_ident(i.tablename), "
        "quote_ident(i.schemaname) || '.' || quote_ident(i.indexname), i.indexdef "
        "FROM pg_indexes i WHERE i.schemaname = ? AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE n.nspname = i.schemaname AND c.conname = i.indexname) ORDER BY 1, 2",
        (schema,),
    )
    indexes = cursor.fetchall()
    again: dict[str, list[str]] = {}
    for table, name, definition in keys:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        again.setdefault(str(table), []).append(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"
        )
    for table, name, definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
        again.setdefault(str(table), []).append(str(definition))
    return again


def status_case(column: str) -> str:
    """SQL: the status an event of this name leaves its campaign in (NULL: unchanged)."""
    whens = " ".join(f"WHEN '{name}' THEN '{status!s}'" for name, status in STATUS_AFTER.items())
    return f"CASE {column} {whens} END"


def json_strings(column: str) -> str:
    """SQL: a JSON array (jsonb) of strings as `dumps` writes it: `["a","b"]`."""
    return (
        f"CASE WHEN {column} = '[]'::jsonb THEN '[]' ELSE (SELECT '[' || "
        f"string_agg(element::text, ',' ORDER BY n) || ']' FROM jsonb_array_elements({column}) "
        "WITH ORDINALITY AS elements(element, n)) END"
    )


def has(column: str, key: str) -> str:
    """SQL: the JSON object has `key` with a value other than null (`.get(key) is not None`)."""
    return f"coalesce(jsonb_typeof({column}->'{key}') <> 'null', false)"


def json_key(key: str) -> str:
    return f'"{key}"'


def text_of(value: str) -> str:
    """SQL: a JSON scalar's text (a string unquoted); NULL for JSON null or none."""
    return f"({value} #>> '{{}}')"


# A campaign's history row: what changed, then FACT_KEYS in their order (`history_facts`).
CHANGED = (
    "(SELECT coalesce('[' || string_agg(to_json(key)::text, ',' ORDER BY key COLLATE \"C\") "
    "|| ']', '[]') FROM jsonb_object_keys(data->'changes') AS key)"
)


def fact(key: str, value: str) -> str:
    """SQL: `"key":value` when the event has the fact, else NULL."""
    return f"CASE WHEN {has('data', key)} THEN '{json_key(key)}:' || {value} END"


FACTS = [
    f"CASE WHEN name = 'Edited' THEN '{json_key('changed')}:' || {CHANGED} "
    f"|| ',{json_key('changes')}:' || (text::json->'changes')::text END",
    fact("cause", "(text::json->'cause')::text"),
    *(fact(key, f"(data->'{key}')::text") for key in ("recipients", "start_at", "duplicated_from")),
]
LIST_SETTINGS = {  # column: its default in a Created event's fields (JSON)
    "name": "null",
    "description": '""',
    "tags": "[]",
    "type": '"outbound"',
    "stream": "null",
    "sender": "null",
}


def campaign_list_statement(span: Span, group: Group) -> tuple[str, list[object]]:
    """One statement that writes a group of campaigns' list rows, tags and history as
    `ListReplay` leaves them; it returns how many events it read, and whether one of them
    was odd (then the rows are thrown away). A campaign's first event is its Created
    event, so every event read belongs to a listed campaign."""
    source, params = parsed(span, ("Campaign",), group)
    folded = f'lower({text_of("name")} COLLATE "C")'  # ASCII only: see finish_campaign_list
    keys = ", ".join(f"'{key}'" for key in LIST_SETTINGS)
    edited = ", ".join(
        f"(array_agg(value) FILTER (WHERE key = '{key}'))[1] AS {key}" for key in LIST_SETTINGS
    )
    settings = ", ".join(
        f"coalesce(e.{key}, c.fields->'{key}', '{default}') AS {key}"
        for key, default in LIST_SETTINGS.items()
    )
    sql = (
        # Each event's own columns: its history row's and what the list takes from it.
        "WITH stored AS (SELECT position, aggregate_id, version, type, name, at, odd, "
        f"{status_case('name')} AS status_set, coalesce(data->>'actor', '') AS actor, "
        "coalesce(data->>'reason', '') AS reason, data->>'command_id' AS command_id, "
        f"'{{' || concat_ws(',', {', '.join(FACTS)}) || '}}' AS details, "
        "CASE WHEN name = 'Created' THEN data->'fields' END AS fields, "
        "CASE WHEN name = 'Edited' THEN data->'changes' END AS changes, "
        "CASE WHEN jsonb_exists(data, 'recipients') THEN data->'recipients' END AS recipients "
        f"FROM ({source}) AS parsed), "
        # In one pass over each campaign's events, in order: the status each leaves it in,
        # the reason that status was entered with (its last status event's so far), the
        # status before it, the last recipients count, the Created event's fields and time,
        # and which event is the last. A value set "so far" is the greatest of the values
        # set up to here, each led by its position.
        "events AS MATERIALIZED (SELECT position, aggregate_id, version, type, name, at, odd, "
        "actor, reason, command_id, details, changes, "
        f"{since('status_set', 'status_set', 'upto')} AS status_after, "
        f"{since('reason', 'status_set', 'upto')} AS status_reason, "
        f"{since('status_set', 'status_set', 'before')} AS from_status, "
        f"{since('recipients::text', 'recipients', 'upto')} AS recipients, "
        # (the Created event's fields kept on the last event only: they can be large)
        "CASE WHEN row_number() OVER upto = count(*) OVER whole "
        "THEN first_value(fields) OVER upto END AS fields, "
        "first_value(at) OVER upto AS created_at, "
        "row_number() OVER upto = count(*) OVER whole AS last "
        "FROM stored WINDOW whole AS (PARTITION BY aggregate_id), "
        "upto AS (whole ORDER BY position ROWS UNBOUNDED PRECEDING), "
        "before AS (whole ORDER BY position ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)), "
        "history AS (INSERT INTO campaign_history (position, campaign_id, version, at, type, "
        "actor, from_status, to_status, reason, command_id, details) "
        "SELECT position, aggregate_id::text, version, at, type, actor, from_status, "
        "status_after, reason, command_id, details FROM events), "
        # Each setting's last edit (a JSON null included: it sets the column to null).
        "edits AS (SELECT DISTINCT ON (aggregate_id, key) aggregate_id, key, value "
        "FROM events, jsonb_each(changes) AS change(key, value) "
        f"WHERE name = 'Edited' AND key IN ({keys}) ORDER BY aggregate_id, key, position DESC), "
        f"edited AS (SELECT aggregate_id, {edited} FROM edits GROUP BY aggregate_id), "
        "campaigns AS MATERIALIZED (SELECT c.aggregate_id, c.position, c.version, c.created_at, "
        "c.at AS updated_at, c.status_after AS status, c.status_reason, c.recipients, "
        f"{settings} FROM events c LEFT JOIN edited e ON e.aggregate_id = c.aggregate_id "
        "WHERE c.last), "
        "listed AS (INSERT INTO campaign_list (id, version, name, name_folded, description, "
        "status, status_reason, tags, type, stream, sender, created_at, updated_at, position, "
        "recipients_total) "
        f"SELECT aggregate_id::text, version, {text_of('name')}, {folded}, "
        f"{text_of('description')}, status, status_reason, {json_strings('tags')}, "
        f"{text_of('type')}, {text_of('stream')}, {text_of('sender')}, created_at, updated_at, "
        "position, coalesce(recipients::bigint, 0) FROM campaigns), "
        "tagged AS (INSERT INTO campaign_tags (campaign_id, tag) "
        "SELECT DISTINCT aggregate_id::text, tag FROM campaigns, "
        "jsonb_array_elements_text(tags) AS tag) "
        "SELECT count(*), coalesce(bool_or(odd), false) FROM events"
    )
    return sql, params


def since(value: str, when: str, window: str) -> str:
    """SQL, over a window of a campaign's events in order: `value` of the last event of the
    frame where `when` is set (text; NULL when none is)."""
    return (
        f"substr(max(CASE WHEN {when} IS NOT NULL "
        f"THEN lpad(position::text, 19, '0') || {value} COLLATE \"C\" END) OVER {window}, 20)"
    )


def finish_campaign_list(cursor: Cursor) -> None:
    """After the new tables took the old ones' place, in the same transaction."""
    # `lower` and Python's `casefold` agree on printable ASCII; other names fold in Python.
    cursor.execute("SELECT id, name FROM campaign_list WHERE name !~ '^[ -~]*$'")
    unfolded = [(str(name).casefold(), str(id_)) for id_, name in cursor.fetchall()]
    if unfolded:
        cursor.executemany("UPDATE campaign_list SET name_folded = ? WHERE id = ?", unfolded)
    mark_every_campaign(cursor)


DOMAIN_KINDS = ("LinkDomain", LIMIT_SET.partition(".")[0])


def domain_usage_statement(span: Span, group: Group) -> tuple[str, list[object]]:
    """One statement that writes domain usage, per domain and per campaign, and the limit,
    as `DomainReplay` leaves them (the events are few: one group)."""
    source, params = parsed(span, DOMAIN_KINDS, group)
    count = "(data->>'count')::bigint"
    status, used = "data->>'status'", "name = 'UsageRecorded'"

    def latest(value: str, where: str) -> str:
        return f"(array_agg({value} ORDER BY position DESC) FILTER (WHERE {where}))[1]"

    last_status = latest(status, "name = 'StatusChanged'")

    sql = (
        f"WITH stored AS MATERIALIZED ({source}), "
        "domains AS (SELECT * FROM stored WHERE split_part(type, '.', 1) = 'LinkDomain'), "
        "usage AS (INSERT INTO domain_usage (domain_id, name, status, usage, last_used_at, "
        "added_at, position) "
        "SELECT aggregate_id::text, (array_agg(data->>'name' ORDER BY position) "
        "FILTER (WHERE name = 'Added'))[1], "
        f"coalesce({last_status}, 'Pending'), "
        f"coalesce(sum({count}) FILTER (WHERE {used}), 0), {latest('at', used)}, "
        "min(at) FILTER (WHERE name = 'Added'), "
        "max(position) FILTER (WHERE name IN ('Added', 'StatusChanged', 'UsageRecorded')) "
        "FROM domains GROUP BY aggregate_id HAVING bool_or(name = 'Added')), "
        "served AS (SELECT aggregate_id::text AS domain_id, "
        f"data->>'campaign_id' AS campaign_id, sum({count}) AS usage FROM domains "
        "WHERE name = 'UsageRecorded' AND coalesce(data->>'campaign_id', '') <> '' "
        "GROUP BY aggregate_id, data->>'campaign_id'), "
        "per_campaign AS (INSERT INTO domain_campaign_usage (domain_id, campaign_id, usage) "
        "SELECT domain_id, campaign_id, usage FROM served), "
        "limited AS (INSERT INTO domain_limit (id, value) SELECT 1, (data->>'limit')::bigint "
        f"FROM stored WHERE type = '{LIMIT_SET}' ORDER BY position DESC LIMIT 1) "
        "SELECT count(*), coalesce(bool_or(odd), false) FROM stored"
    )
    return sql, params


@dataclass(frozen=True)
class StoredReplay:
    """How a projector's views are rebuilt inside the database: the statement that writes
    a group of aggregates' rows into the tables on the search path, whether the views'
    events come in groups or all at once, and what is left to do once the new tables are in
    place (in the rebuild's transaction)."""

    statement: Callable[[Span, Group], tuple[str, list[object]]]
    grouped: bool
    finish: Callable[[Cursor], None]

    def groups_for(self, span: Span, workers: int) -> list[Group]:
        if not self.grouped or span.count < ONE_GROUP_BELOW:
            return [(None, None)]
        return groups(max(span.count, workers * EVENTS_PER_GROUP))


CAMPAIGN_VIEWS = StoredReplay(campaign_list_statement, True, finish_campaign_list)
DOMAIN_VIEWS = StoredReplay(domain_usage_statement, False, mark_every_campaign)


# Rebuilding a projector's views inside the database.

WORKERS = 2  # connections filling the new tables at once
LOCK_WAIT = "200ms"  # each try at locking the old tables: under PostgreSQL's deadlock_timeout


class Tables(Protocol):
    """A view as a rebuild sees it: its tables and how to make them."""

    tables: tuple[str, ...]

    def create_tables(self, cursor: Cursor, dialect: str) -> None: ...


def rebuild_inside(
    database: Database,
    views: Sequence[Tables],
    projection: str,
    cursor: Cursor,
    store: StoredEvents,
    stored: StoredReplay,
    progress: Progress | None,
) -> tuple[int, int] | None:
    """Rebuilds the views inside the database, in the rebuild's transaction (`cursor`, which
    holds the projection's position): the new tables are made in a scratch schema and filled
    from WORKERS connections, then put in place of the old ones. Returns the last position
    replayed and how many events, or None, with nothing changed, when the events must be
    replayed in Python (or the database lets no schema be made)."""
    span = span_of(cursor, store)
    if span is None:
        return None
    cursor.execute("SELECT current_schema()")
    row = cursor.fetchone()
    schema = str(row[0]) if row else "public"
    scratch = f"{schema}__{projection}"[:63]
    try:
        indexes = make_scratch(database, views, scratch)
    except psycopg.errors.InsufficientPrivilege:
        log.warning("no schema could be made for a rebuild in the database; replaying in Python")
        return None
    if not fill(database, scratch, span, stored, progress):
        cursor.execute(f'DROP SCHEMA "{scratch}" CASCADE')
        return None
    build_indexes(database, indexes)
    tables = [table for view in views for table in view.tables]
    lock_old_tables(cursor, tables)
    for table in tables:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f'ALTER TABLE "{scratch}".{table} SET SCHEMA "{schema}"')
    cursor.execute(f'DROP SCHEMA "{scratch}" CASCADE')
    stored.finish(cursor)
    return span.last, span.count


def make_scratch(database: Database, views: Sequence[Tables], scratch: str) -> dict[str, list[str]]:
    """The views' tables, empty and without keys or indexes, in a schema of their own (one a
    failed rebuild left is dropped first); returns the statements that index them."""
    with database.transaction() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{scratch}" CASCADE')
        cursor.execute(f'CREATE SCHEMA "{scratch}"')
        cursor.execute(f'SET LOCAL search_path TO "{scratch}"')
        for view in views:
            view.create_tables(cursor, database.dialect)
        return take_off_indexes(cursor, scratch)


def fill(
    database: Database, scratch: str, span: Span, stored: StoredReplay, progress: Progress | None
) -> bool:
    """Fills the scratch tables, a group of aggregates per statement, WORKERS at a time;
    False when some event turned out to be one only the library can read."""

    def one(group: Group) -> tuple[int, bool]:
        try:
            with database.transaction() as cursor:
                cursor.execute(f'SET LOCAL search_path TO "{scratch}"')
                cursor.execute("SET LOCAL work_mem = '64MB'")  # a group's sorts, in memory
                cursor.execute(*stored.statement(span, group))
                row = cursor.fetchone()
        except psycopg.DataError:  # JSON that jsonb refuses (NaN, \u0000)
            return 0, True
        return (int(row[0]), bool(row[1])) if row else (0, False)

    count, odd = 0, False
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="rebuild") as pool:
        futures = [pool.submit(one, group) for group in stored.groups_for(span, WORKERS)]
        try:
            for future in as_completed(futures):
                events, odd_group = future.result()
                count, odd = count + events, odd or odd_group
                if odd:
                    break
                if progress:
                    progress(span.last, count)
        finally:
            for future in futures:
                future.cancel()
    return not odd


def build_indexes(database: Database, indexes: dict[str, list[str]]) -> None:
    """Keys and indexes built on the filled tables, and their statistics gathered, a table
    per connection, WORKERS at a time."""

    def one(table: str, statements: list[str]) -> None:
        with database.transaction() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for statement in statements:
                cursor.execute(statement)
            # A first sample for the planner (autovacuum takes a fuller one later).
            cursor.execute("SET LOCAL default_statistics_target = 10")
            cursor.execute(f"ANALYZE {table}")

    with ThreadPoolExecutor(WORKERS, thread_name_prefix="rebuild") as pool:
        for future in [pool.submit(one, *each) for each in indexes.items()]:
            future.result()


def lock_old_tables(cursor: Cursor, tables: list[str]) -> None:
    """Takes the old tables for the swap. Readers that take several of them in another
    order could deadlock with it: each try gives up before the deadlock check would pick
    the rebuild, and the next comes once those readers are done."""
    cursor.execute(
        "SELECT name FROM unnest(?::text[]) AS name WHERE to_regclass(name) IS NOT NULL",
        (tables,),
    )
    existing = [str(row[0]) for row in cursor.fetchall()]
    if not existing:
        return
    while True:
        cursor.execute("SAVEPOINT old_tables")
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
        try:
            cursor.execute(f"LOCK TABLE {', '.join(existing)} IN ACCESS EXCLUSIVE MODE")
        except psycopg.errors.LockNotAvailable:
            cursor.execute("ROLLBACK TO SAVEPOINT old_tables")
            time.sleep(0.05)
            continue
        cursor.execute("RELEASE SAVEPOINT old_tables")
        cursor.execute("SET LOCAL lock_timeout = 0")
        return
