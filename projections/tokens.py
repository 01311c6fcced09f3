"""Access tokens and sign-in sessions, kept in the read-model database.

Only a SHA-256 digest of each secret is stored: the secrets themselves (256 random bits, so
a plain hash is enough: there is nothing to brute-force) are shown once, when made, and
never written anywhere. A request's secret is hashed and looked up by its digest, so the
lookup's timing says nothing about the secret. Revoking a token ends its sessions too, and
a revoked secret never works again (not even as CAMPAIGNS_BOOTSTRAP_TOKEN).

A token's actor, recorded in every event it causes, is its name, or, when an earlier token
had that name (the bootstrap token after a change of value, a name reused after a
revocation), its name and short id (`Ann#1a2b3c4d`): one actor, one token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from domain.errors import DomainError, ValidationFailed
from domain.fields import format_time, parse_time
from domain.roles import ADMIN, check_role, check_token_name
from projections.database import Cursor, Database

TOKEN_PREFIX = "cmp_"  # makes a leaked token easy to recognise (secret scanners, logs)
SESSION_DAYS = 7
BOOTSTRAP_NAME = "bootstrap"
MIN_BOOTSTRAP_LENGTH = 16
ACTOR_SEPARATOR = "#"  # between a name and a short id in an actor
SHORT_ID = 8  # characters of a token's id in its actor
# Actors the platform records itself (domain: `system`; infra.demo: `demo`; the gateway:
# `anonymous`): no token may take them, nor the name only CAMPAIGNS_BOOTSTRAP_TOKEN makes.
PLATFORM_ACTORS = frozenset({"system", "demo", "anonymous"})
RESERVED_NAMES = PLATFORM_ACTORS | {BOOTSTRAP_NAME}
# A sending process's name, the actor of a stream's owner changes (infra.ownership).
PROCESS_NAME = re.compile(r"[^@\s]+@[^:\s]+:\d+:[0-9a-f]{4}")

log = logging.getLogger(__name__)

TABLES = (
    """
CREATE TABLE IF NOT EXISTS access_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)""",
    "CREATE INDEX IF NOT EXISTS access_tokens_by_name ON access_tokens (name)",
    """
CREATE TABLE IF NOT EXISTS sign_in_sessions (
    digest TEXT PRIMARY KEY,
    token_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
)""",
)


@dataclass(frozen=True)
class AccessToken:
    """A token as stored: never its secret."""

    id: str
    name: str
    role: str
    created_at: str
    revoked_at: str | None = None
    named_before: bool = False  # an earlier token had this name

    @property
    def actor(self) -> str:
        """Who the history says did what this token did: its name alone only when that
        cannot be another token's nor the platform's."""
        if self.named_before or not is_own_name(self.name):
            return f"{self.name}{ACTOR_SEPARATOR}{self.id[:SHORT_ID]}"
        return self.name

    def to_json(self) -> dict[str, str | None]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class Session:
    """A browser's sign-in: the token it signed in with and its CSRF token."""

    token: AccessToken
    csrf: str


class NameTaken(DomainError):
    """`revoke` takes a name: two live tokens may not share one."""

    code = "already_exists"


def is_own_name(name: str) -> bool:
    """Not a name the platform records as an actor, nor one that reads as a name and id."""
    return (
        name.casefold() not in PLATFORM_ACTORS
        and ACTOR_SEPARATOR not in name
        and PROCESS_NAME.fullmatch(name) is None
    )


def check_own_name(name: str) -> str:
    if not is_own_name(name) or name.casefold() == BOOTSTRAP_NAME:
        raise ValidationFailed(
            f"{name!r} is recorded as the platform's own actor, or reads as one: "
            f"choose a name without {ACTOR_SEPARATOR!r} other than "
            f"{', '.join(sorted(RESERVED_NAMES))}",
            [{"field": "name", "message": "is reserved"}],
        )
    return name


def warn_of_unusable_bootstrap(known: AccessToken) -> None:
    """Said at the start (the log), since nothing else tells why the value is refused."""
    if known.revoked_at is not None:
        log.warning(
            "CAMPAIGNS_BOOTSTRAP_TOKEN was revoked (token %s, at %s) and stays revoked: it "
            "does not sign anyone in. Set a new value to make a new bootstrap admin, or unset it.",
            known.id,
            known.revoked_at,
        )
    else:
        log.warning(
            "CAMPAIGNS_BOOTSTRAP_TOKEN is the secret of the %s token %r (%s), so it makes no "
            "admin. Set a new value to make a bootstrap admin, or unset it.",
            known.role,
            known.name,
            known.id,
        )


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def now() -> datetime:
    return datetime.now(UTC)


COLUMNS = "id, name, role, created_at, revoked_at"
# A token as read (from `access_tokens t`): its columns, and whether a token made before it
# had its name (the order `list_tokens` shows).
TOKEN_COLUMNS = (
    "t.id, t.name, t.role, t.created_at, t.revoked_at, EXISTS (SELECT 1 FROM access_tokens o "
    "WHERE o.name = t.name AND (o.created_at < t.created_at "
    "OR (o.created_at = t.created_at AND o.id < t.id)))"
)


def token_of(row: tuple[object, ...]) -> AccessToken:
    """A row of TOKEN_COLUMNS."""
    id_, name, role, created_at, revoked_at, named_before = row[:6]
    return AccessToken(
        str(id_),
        str(name),
        str(role),
        str(created_at),
        None if revoked_at is None else str(revoked_at),
        bool(named_before),
    )


class TokenStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create_tables(self) -> None:
        with self.database.transaction() as cursor:
            for table in TABLES:
                cursor.execute(table)

    def create(self, name: str, role: str) -> tuple[AccessToken, str]:
        """A new token; returns it with its secret, which is not kept."""
        name, role = check_own_name(check_token_name(name)), check_role(role)
        secret = new_secret()
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT 1 FROM access_tokens WHERE name = ? AND revoked_at IS NULL", (name,)
            )
            if cursor.fetchone() is not None:
                raise NameTaken(
                    f"a token named {name!r} exists; revoke it first or choose another name",
                    {"name": name},
                )
            token = self.insert(cursor, name, role, secret)
        return token, secret

    @staticmethod
    def insert(cursor: Cursor, name: str, role: str, secret: str) -> AccessToken:
        """A new row, with an id whose short form no other token has (the actor's), made
        after every token of its name even across a clock step: the first of a name keeps
        the bare name as its actor."""
        id_ = TokenStore.new_id(cursor)
        cursor.execute("SELECT max(created_at) FROM access_tokens WHERE name = ?", (name,))
        row = cursor.fetchone()
        latest = None if row is None else row[0]
        created = now()
        if latest is not None:
            created = max(created, parse_time(latest) + timedelta(microseconds=1))
        token = AccessToken(id_, name, role, format_time(created), None, latest is not None)
        cursor.execute(
            f"INSERT INTO access_tokens ({COLUMNS}, digest) VALUES (?, ?, ?, ?, ?, ?)",
            (token.id, token.name, token.role, token.created_at, None, digest_of(secret)),
        )
        return token

    @staticmethod
    def new_id(cursor: Cursor) -> str:
        while True:
            id_ = str(uuid.uuid4())
            cursor.execute(
                "SELECT 1 FROM access_tokens WHERE substr(id, 1, ?) = ?",
                (SHORT_ID, id_[:SHORT_ID]),
            )
            if cursor.fetchone() is None:
                return id_

    def ensure_bootstrap(self, secret: str) -> AccessToken | None:
        """Makes `secret` the admin token named `bootstrap` (CAMPAIGNS_BOOTSTRAP_TOKEN):
        nothing changes when it is already; a bootstrap token with another secret is
        revoked, so changing the variable retires the old value. A secret the store knows
        otherwise (revoked, or another token's) makes nothing: a revoked secret stays
        revoked. Then it says so and returns None; the platform starts without it."""
        if len(secret) < MIN_BOOTSTRAP_LENGTH:
            raise ValidationFailed(
                f"the bootstrap token must be at least {MIN_BOOTSTRAP_LENGTH} characters",
                [{"field": "CAMPAIGNS_BOOTSTRAP_TOKEN", "message": "too short"}],
            )
        with self.database.transaction() as cursor:
            cursor.execute(
                f"SELECT {TOKEN_COLUMNS} FROM access_tokens t WHERE t.digest = ?",
                (digest_of(secret),),
            )
            row = cursor.fetchone()
            if row is None:
                self.revoke_in(cursor, BOOTSTRAP_NAME)
                return self.insert(cursor, BOOTSTRAP_NAME, ADMIN, secret)
        known = token_of(row)
        if known.revoked_at is None and known.name == BOOTSTRAP_NAME and known.role == ADMIN:
            return known
        warn_of_unusable_bootstrap(known)
        return None

    def find(self, secret: str) -> AccessToken | None:
        """The live token with this secret, if any."""
        digest = digest_of(secret)
        with self.database.read() as cursor:
            cursor.execute(
                f"SELECT {TOKEN_COLUMNS}, t.digest FROM access_tokens t "
                "WHERE t.digest = ? AND t.revoked_at IS NULL",
                (digest,),
            )
            row = cursor.fetchone()
        if row is None or not hmac.compare_digest(row[6], digest):
            return None
        return token_of(row)

    def list_tokens(self, *, with_revoked: bool = False) -> list[AccessToken]:
        where = "" if with_revoked else "WHERE t.revoked_at IS NULL"
        with self.database.read() as cursor:
            cursor.execute(
                f"SELECT {TOKEN_COLUMNS} FROM access_tokens t {where} ORDER BY t.created_at, t.id"
            )
            return [token_of(row) for row in cursor.fetchall()]

    def revoke(self, id_or_name: str) -> list[AccessToken]:
        """Revokes the live token with this id or name, and ends its sessions; returns what
        it revoked (nothing when no live token matches)."""
        with self.database.transaction() as cursor:
            return self.revoke_in(cursor, id_or_name)

    def revoke_in(self, cursor: Cursor, id_or_name: str) -> list[AccessToken]:
        cursor.execute(
            f"SELECT {TOKEN_COLUMNS} FROM access_tokens t "
            "WHERE (t.id = ? OR t.name = ?) AND t.revoked_at IS NULL",
            (id_or_name, id_or_name),
        )
        found = [token_of(row) for row in cursor.fetchall()]
        at = format_time(now())
        for token in found:
            cursor.execute("UPDATE access_tokens SET revoked_at = ? WHERE id = ?", (at, token.id))
            cursor.execute("DELETE FROM sign_in_sessions WHERE token_id = ?", (token.id,))
        return [replace(token, revoked_at=at) for token in found]

    # Sessions: the cookie holds a random secret; the table holds its digest.

    def open_session(self, token: AccessToken) -> tuple[str, str]:
        """A new session for a signed-in token; returns its secret and its CSRF token."""
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        started = now()
        expires = started + timedelta(days=SESSION_DAYS)
        with self.database.transaction() as cursor:
            cursor.execute(
                "DELETE FROM sign_in_sessions WHERE expires_at < ?", (format_time(started),)
            )
            cursor.execute(
                "INSERT INTO sign_in_sessions (digest, token_id, csrf, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (digest_of(secret), token.id, csrf, format_time(started), format_time(expires)),
            )
        return secret, csrf

    def find_session(self, secret: str) -> Session | None:
        digest = digest_of(secret)
        with self.database.read() as cursor:
            cursor.execute(
                f"SELECT {TOKEN_COLUMNS}, s.csrf, s.digest "
                "FROM sign_in_sessions s JOIN access_tokens t ON t.id = s.token_id "
                "WHERE s.digest = ? AND s.expires_at > ? AND t.revoked_at IS NULL",
                (digest, format_time(now())),
            )
            row = cursor.fetchone()
        if row is None or not hmac.compare_digest(row[7], digest):
            return None
        return Session(token_of(row), row[6])

    def close_session(self, secret: str) -> None:
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM sign_in_sessions WHERE digest = ?", (digest_of(secret),))
