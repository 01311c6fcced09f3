"""Access tokens and sign-in sessions, kept in the read-model database.

Only a SHA-256 digest of each secret is stored: the secrets themselves (256 random bits, so
a plain hash is enough: there is nothing to brute-force) are shown once, when made, and
never written anywhere. A request's secret is hashed and looked up by its digest, so the
lookup's timing says nothing about the secret. Revoking a token ends its sessions too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.errors import DomainError, ValidationFailed
from domain.fields import format_time
from domain.roles import ADMIN, check_role, check_token_name
from projections.database import Cursor, Database

TOKEN_PREFIX = "cmp_"  # makes a leaked token easy to recognise (secret scanners, logs)
SESSION_DAYS = 7
BOOTSTRAP_NAME = "bootstrap"
MIN_BOOTSTRAP_LENGTH = 16

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
    """Names are the actors in the history: two live tokens may not share one."""

    code = "already_exists"


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def now() -> datetime:
    return datetime.now(UTC)


COLUMNS = "id, name, role, created_at, revoked_at"


class TokenStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create_tables(self) -> None:
        with self.database.transaction() as cursor:
            for table in TABLES:
                cursor.execute(table)

    def create(self, name: str, role: str) -> tuple[AccessToken, str]:
        """A new token; returns it with its secret, which is not kept."""
        name, role = check_token_name(name), check_role(role)
        secret = new_secret()
        token = AccessToken(str(uuid.uuid4()), name, role, format_time(now()))
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT 1 FROM access_tokens WHERE name = ? AND revoked_at IS NULL", (name,)
            )
            if cursor.fetchone() is not None:
                raise NameTaken(
                    f"a token named {name!r} exists; revoke it first or choose another name",
                    {"name": name},
                )
            self.insert(cursor, token, secret)
        return token, secret

    @staticmethod
    def insert(cursor: Cursor, token: AccessToken, secret: str) -> None:
        cursor.execute(
            f"INSERT INTO access_tokens ({COLUMNS}, digest) VALUES (?, ?, ?, ?, ?, ?)",
            (token.id, token.name, token.role, token.created_at, None, digest_of(secret)),
        )

    def ensure_bootstrap(self, secret: str) -> AccessToken:
        """Makes `secret` the admin token named `bootstrap` (CAMPAIGNS_BOOTSTRAP_TOKEN):
        nothing changes when it is already; a bootstrap token with another secret is
        revoked, so changing the variable retires the old value."""
        if len(secret) < MIN_BOOTSTRAP_LENGTH:
            raise ValidationFailed(
                f"the bootstrap token must be at least {MIN_BOOTSTRAP_LENGTH} characters",
                [{"field": "CAMPAIGNS_BOOTSTRAP_TOKEN", "message": "too short"}],
            )
        found = self.find(secret)
        if found is not None and found.name == BOOTSTRAP_NAME and found.role == ADMIN:
            return found
        token = AccessToken(str(uuid.uuid4()), BOOTSTRAP_NAME, ADMIN, format_time(now()))
        with self.database.transaction() as cursor:
            self.revoke_in(cursor, BOOTSTRAP_NAME)
            cursor.execute("DELETE FROM access_tokens WHERE digest = ?", (digest_of(secret),))
            self.insert(cursor, token, secret)
        return token

    def find(self, secret: str) -> AccessToken | None:
        """The live token with this secret, if any."""
        digest = digest_of(secret)
        with self.database.read() as cursor:
            cursor.execute(
                f"SELECT {COLUMNS}, digest FROM access_tokens "
                "WHERE digest = ? AND revoked_at IS NULL",
                (digest,),
            )
            row = cursor.fetchone()
        if row is None or not hmac.compare_digest(row[5], digest):
            return None
        return AccessToken(*row[:5])

    def list_tokens(self, *, with_revoked: bool = False) -> list[AccessToken]:
        where = "" if with_revoked else "WHERE revoked_at IS NULL"
        with self.database.read() as cursor:
            cursor.execute(f"SELECT {COLUMNS} FROM access_tokens {where} ORDER BY created_at, id")
            return [AccessToken(*row) for row in cursor.fetchall()]

    def revoke(self, id_or_name: str) -> list[AccessToken]:
        """Revokes the live token with this id or name, and ends its sessions; returns what
        it revoked (nothing when no live token matches)."""
        with self.database.transaction() as cursor:
            return self.revoke_in(cursor, id_or_name)

    def revoke_in(self, cursor: Cursor, id_or_name: str) -> list[AccessToken]:
        cursor.execute(
            f"SELECT {COLUMNS} FROM access_tokens "
            "WHERE (id = ? OR name = ?) AND revoked_at IS NULL",
            (id_or_name, id_or_name),
        )
        found = [AccessToken(*row) for row in cursor.fetchall()]
        at = format_time(now())
        for token in found:
            cursor.execute("UPDATE access_tokens SET revoked_at = ? WHERE id = ?", (at, token.id))
            cursor.execute("DELETE FROM sign_in_sessions WHERE token_id = ?", (token.id,))
        return [AccessToken(t.id, t.name, t.role, t.created_at, at) for t in found]

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
                "SELECT t.id, t.name, t.role, t.created_at, t.revoked_at, s.csrf, s.digest "
                "FROM sign_in_sessions s JOIN access_tokens t ON t.id = s.token_id "
                "WHERE s.digest = ? AND s.expires_at > ? AND t.revoked_at IS NULL",
                (digest, format_time(now())),
            )
            row = cursor.fetchone()
        if row is None or not hmac.compare_digest(row[6], digest):
            return None
        return Session(AccessToken(*row[:5]), row[5])

    def close_session(self, secret: str) -> None:
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM sign_in_sessions WHERE digest = ?", (digest_of(secret),))
