"""The read-model database: SQLite for the embedded default, PostgreSQL for scale-out.

Projections write one dialect of SQL with `?` placeholders; the PostgreSQL side turns them
into `%s`. Each thread gets its own SQLite connection; PostgreSQL connections come from a pool.
"""

from __future__ import annotations

import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

Row = tuple[Any, ...]

# Page cache per SQLite connection, in KiB (negative: a size, not pages). The messages
# table has unique indexes on random keys (link codes): with the default 2 MiB, writes to a
# large campaign's rows mostly miss the cache.
CACHE_KIB = -65536
IN_CHUNK = 500  # values per IN (...) list on SQLite, well under its limit on parameters


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def copy_rows(self, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> None:
        """Inserts new rows (no conflict handling) the fastest way the database has."""

    def fetch_in(self, sql: str, values: Sequence[Any]) -> list[Row]:
        """The rows of `sql`, whose only parameter is `IN ?`, for each of these texts."""

    def insert_keys(
        self, table: str, column: str, values: Sequence[str], *, hold: bool = False
    ) -> None:
        """Inserts each text as a row of the table's one (key) column, unless it is there.
        With `hold`, a key already there is locked until the transaction ends, as a new
        one is: whoever takes keys with a lock skips it meanwhile, or, holding it already,
        makes this transaction wait for it."""

    def fetchone(self) -> Row | None: ...
    def fetchall(self) -> list[Row]: ...


class Database(Protocol):
    dialect: str

    def transaction(self) -> Any:
        """A context manager giving a Cursor; commits on success, rolls back on error."""

    def read(self) -> Any:
        """A context manager giving a Cursor for reading only."""

    def snapshot(self) -> Any:
        """A context manager giving a Cursor whose reads all see one moment."""

    def close(self) -> None: ...


def add_missing_column(
    cursor: Cursor, dialect: str, table: str, column: str, definition: str
) -> None:
    """Adds a column that a table made by an earlier version lacks."""
    if dialect == "postgres":
        cursor.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {definition}")
        return
    cursor.execute(f"SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?", (column,))
    if cursor.fetchone() is None:
        cursor.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


class SQLiteCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self.cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cursor.executemany(sql, rows)

    def copy_rows(self, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            marks = ", ".join("?" for _ in rows[0])
            self.cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)

    def fetch_in(self, sql: str, values: Sequence[Any]) -> list[Row]:
        found: list[Row] = []
        for start in range(0, len(values), IN_CHUNK):
            chunk = tuple(values[start : start + IN_CHUNK])
            marks = ", ".join("?" for _ in chunk)
            self.cursor.execute(sql.replace("IN ?", f"IN ({marks})"), chunk)
            found += self.cursor.fetchall()
        return found

    def insert_keys(
        self, table: str, column: str, values: Sequence[str], *, hold: bool = False
    ) -> None:
        # (`hold` needs nothing here: a write transaction holds the whole database.)
        self.cursor.executemany(
            f"INSERT INTO {table} ({column}) VALUES (?) ON CONFLICT DO NOTHING",
            [(value,) for value in values],
        )

    def fetchone(self) -> Row | None:
        row: Row | None = self.cursor.fetchone()
        return row

    def fetchall(self) -> list[Row]:
        return list(self.cursor.fetchall())


class SQLiteDatabase:
    dialect = "sqlite"

    def __init__(
        self, path: Path, attach: dict[str, Path] | None = None, *, cache_kib: int = CACHE_KIB
    ) -> None:
        self.path = path
        self.cache_kib = cache_kib  # page cache per connection (negative: KiB)
        self.attach = dict(attach or {})  # other SQLite files this one's queries may read
        self.local = threading.local()
        self.connections: list[sqlite3.Connection] = []
        self.lock = threading.Lock()
        self.write_lock = threading.RLock()

    def connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self.local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self.path, isolation_level=None, timeout=30, check_same_thread=False, uri=True
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute(f"PRAGMA cache_size={int(self.cache_kib)}")
            connection.execute("PRAGMA wal_autocheckpoint=16384")
            for alias, path in self.attach.items():
                # Read-only: a write transaction here must not lock the attached file too.
                uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
                connection.execute("ATTACH DATABASE ? AS " + alias, (uri,))
            self.local.connection = connection
            with self.lock:
                self.connections.append(connection)
        return connection

    @contextmanager
    def transaction(self) -> Iterator[SQLiteCursor]:
        connection = self.connection()
        # Writers of this process queue on a lock, woken as soon as it is free, instead of
        # polling SQLite's file lock with its sleeps; other processes still meet the file lock.
        with self.write_lock:
            cursor = connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield SQLiteCursor(cursor)
            except BaseException:
                connection.rollback()
                raise
            else:
                connection.commit()
            finally:
                cursor.close()

    @contextmanager
    def read(self) -> Iterator[SQLiteCursor]:
        """A cursor for reading only: no write lock is taken (each statement sees a
        consistent snapshot; use `transaction` when several reads must agree)."""
        cursor = self.connection().cursor()
        try:
            yield SQLiteCursor(cursor)
        finally:
            cursor.close()

    @contextmanager
    def snapshot(self) -> Iterator[SQLiteCursor]:
        """A cursor whose reads all see one moment of the database (no write lock)."""
        cursor = self.connection().cursor()
        cursor.execute("BEGIN")
        try:
            yield SQLiteCursor(cursor)
        finally:
            cursor.execute("COMMIT")
            cursor.close()

    def close(self) -> None:
        with self.lock:
            for connection in self.connections:
                connection.close()
            self.connections.clear()
        self.local = threading.local()


def placeholders(sql: str) -> str:
    """The driver's placeholders for ours. A text array (`?::text[]`) given to `executemany`
    goes in binary: the driver writes a text array in Python, quoting each element, at
    several times the cost."""
    return sql.replace("?::text[]", "%b::text[]").replace("?", "%s")


ARRAY_CAST = "::text[]"
# What an element of an array literal may not hold unquoted besides the delimiter: braces,
# double quotes, backslashes and the whitespace PostgreSQL trims (looked for one by one: a
# search for one character runs in C at memory speed, a regular expression does not).
UNQUOTED_UNSAFE = ("{", "}", '"', "\\", " ", "\t", "\n", "\r", "\v", "\f")


def text_array(values: Sequence[Any]) -> str | None:
    """A list of texts as a PostgreSQL array literal (`{a,b}`), which the server parses in
    C; None when a value is not text. The driver's own encoding of a list costs about half
    a microsecond a value in Python: a millisecond for each array of a batch of 2,000
    messages. Link codes, numbers, statuses and times need no quoting: they are joined as
    they are; any other text is quoted, each value escaped."""
    try:
        joined = ",".join(values)
    except TypeError:
        return None
    if values and joined.count(",") == len(values) - 1:  # no value holds the delimiter
        edges = "," + joined.lower() + ","
        if (
            not any(character in joined for character in UNQUOTED_UNSAFE)
            and ",," not in edges  # no empty value
            and ",null," not in edges  # none that would read as NULL
        ):
            return "{" + joined + "}"
    quoted = ('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values)
    return "{" + ",".join(quoted) + "}"


@lru_cache(maxsize=1024)
def statement_parts(sql: str) -> tuple[str, tuple[str, ...], tuple[bool, ...]]:
    """Our statement with the driver's placeholders, cut at its `?` placeholders, and which
    of them are text arrays."""
    parts = tuple(sql.split("?"))
    arrays = tuple(part.startswith(ARRAY_CAST) for part in parts[1:])
    return "%s".join(parts), parts, arrays


def driver_statement(sql: str, params: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
    """The statement and parameters for the driver: each text array goes as one literal
    (see `text_array`), or in binary when it holds something other than text."""
    plain, parts, arrays = statement_parts(sql)
    if True not in arrays:
        return plain, tuple(params)
    values = list(params)
    pieces = [parts[0]]
    for index, is_array in enumerate(arrays):
        mark = "%s"
        if is_array:
            literal = text_array(values[index])
            if literal is None:
                mark = "%b"
            else:
                values[index] = literal
        pieces += (mark, parts[index + 1])
    return "".join(pieces), tuple(values)


class PostgresCursor:
    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        # Without parameters the driver reads the statement as it is: a `%` in it (a LIKE
        # pattern, an index's definition read back from the catalog) stays a `%`.
        if not params:
            self.cursor.execute(sql)
            return
        self.cursor.execute(*driver_statement(sql, params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cursor.executemany(placeholders(sql), rows)

    def copy_rows(self, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> None:
        # COPY: rows go out in one stream, formatted in C, where executemany spends its time
        # adapting each row's parameters in Python.
        if rows:
            with self.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def fetch_in(self, sql: str, values: Sequence[Any]) -> list[Row]:
        # One statement with one array, where lists of placeholders cost a statement per
        # chunk and the planning of each; a lock clause then takes every row in one order.
        # A join with the array's rows, not `= ANY(array)`: the plan the driver prepares for
        # that, made while the table was small, compares every row with every value.
        if not values:
            return []
        self.execute(sql.replace("IN ?", "IN (SELECT unnest(?::text[]))"), (list(values),))
        return list(self.cursor.fetchall())

    def insert_keys(
        self, table: str, column: str, values: Sequence[str], *, hold: bool = False
    ) -> None:
        # One statement with one array: executemany costs the driver about 20 us a row.
        # Holding a key there already: it is updated to itself, which locks its row.
        if values:
            conflict = f"({column}) DO UPDATE SET {column} = excluded.{column}"
            self.execute(
                f"INSERT INTO {table} ({column}) SELECT unnest(?::text[]) "
                f"ON CONFLICT {conflict if hold else 'DO NOTHING'}",
                (list(values),),
            )

    def fetchone(self) -> Row | None:
        row: Row | None = self.cursor.fetchone()
        return row

    def fetchall(self) -> list[Row]:
        return list(self.cursor.fetchall())


class PostgresDatabase:
    dialect = "postgres"

    def __init__(
        self, url: str, *, max_connections: int = 10, idle_in_transaction: float | None = None
    ) -> None:
        """`idle_in_transaction`: seconds after which the server ends a session of this pool
        left idle inside a transaction (its process frozen), releasing its locks."""
        from psycopg_pool import ConnectionPool

        def configure(connection: Any) -> None:
            if idle_in_transaction is not None:
                milliseconds = max(1, int(idle_in_transaction * 1000))
                connection.execute(f"SET idle_in_transaction_session_timeout = {milliseconds}")
                connection.commit()

        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            open=True,
            kwargs={"autocommit": False},
            configure=configure,
        )

    @contextmanager
    def transaction(self) -> Iterator[PostgresCursor]:
        with (
            self.pool.connection() as connection,
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            yield PostgresCursor(cursor)

    @contextmanager
    def read(self) -> Iterator[PostgresCursor]:
        """A cursor for reading only, in autocommit: each statement sees what was committed
        when it started, as in a READ COMMITTED transaction, without the BEGIN and COMMIT
        round trips of one (use `snapshot` when several reads must agree)."""
        with self.pool.connection() as connection:
            connection.autocommit = True
            try:
                with connection.cursor() as cursor:
                    yield PostgresCursor(cursor)
            finally:
                connection.autocommit = False

    @contextmanager
    def snapshot(self) -> Iterator[PostgresCursor]:
        """A cursor whose reads all see one moment of the database."""
        with self.transaction() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield cursor

    def close(self) -> None:
        self.pool.close()
