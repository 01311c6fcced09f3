"""Settings, read once from the environment by the composition root and nowhere else."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

ENVIRONMENT_VARIABLES = {
    "CAMPAIGNS_DATA_DIR": "folder of the SQLite files (embedded default), made at start-up "
    "when the store is SQLite; unused on PostgreSQL; ./var",
    "CAMPAIGNS_DATABASE_URL": "postgresql://user:password@host:port/dbname[?options]: store "
    "and read models in PostgreSQL instead of SQLite; used as given (percent-escapes, "
    "sslmode and the other libpq options, several hosts)",
    "CAMPAIGNS_DATABASE_SCHEMA": "PostgreSQL schema for every table; public",
    "CAMPAIGNS_HOST": "address the server listens on; 127.0.0.1",
    "CAMPAIGNS_FORWARDED_ALLOW_IPS": "addresses of the TLS-terminating proxies whose "
    "X-Forwarded-Proto and X-Forwarded-For the server believes (comma-separated, * for "
    "any); 127.0.0.1",
    "CAMPAIGNS_PORT": "port the server listens on; 8000",
    "CAMPAIGNS_READ_WAIT": "seconds a read waits for the read models to reflect this "
    "process's own writes; 2",
    "CAMPAIGNS_SENDING": "on: this process runs the sending engine and the demo carrier; off "
    "for a process that only serves the API; on",
    "CAMPAIGNS_WS_COMPRESSION": "on: WebSocket clients that offer permessage-deflate get it "
    "(about 35 KiB more per connection, and CPU for every message); off: declined, as "
    "the wall's small updates gain little from it; off",
    "CAMPAIGNS_KAFKA": "host:port[,host:port...] of Kafka brokers: the read models are fed "
    "from Kafka (scale-out, needs PostgreSQL) by `campaigns relay` and `campaigns project`; "
    "unset: fed from the store's log in this process",
    "CAMPAIGNS_KAFKA_TOPIC_PREFIX": "first part of the Kafka topics' names; campaigns",
    "CAMPAIGNS_KAFKA_REPLICATION": "replication factor of the topics the platform creates; "
    "1 (3 on a real cluster)",
    "CAMPAIGNS_KAFKA_SECURITY_PROTOCOL": "how the Kafka clients reach the brokers: PLAINTEXT, "
    "SSL, SASL_PLAINTEXT or SASL_SSL; PLAINTEXT",
    "CAMPAIGNS_KAFKA_SSL_CAFILE": "PEM file of the CAs that sign the brokers' certificates "
    "(SSL, SASL_SSL); unset: the system's CAs",
    "CAMPAIGNS_KAFKA_SSL_CERTFILE": "PEM file of the client's certificate, for brokers that "
    "ask for one (SSL, SASL_SSL); unset",
    "CAMPAIGNS_KAFKA_SSL_KEYFILE": "PEM file of that certificate's private key, unless the "
    "certificate file holds it; unset",
    "CAMPAIGNS_KAFKA_SASL_MECHANISM": "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (needed with "
    "SASL_PLAINTEXT and SASL_SSL); unset",
    "CAMPAIGNS_KAFKA_SASL_USERNAME": "the SASL user (needed with SASL_PLAINTEXT and SASL_SSL); "
    "unset",
    "CAMPAIGNS_KAFKA_SASL_PASSWORD": "the SASL user's password (needed with SASL_PLAINTEXT and "
    "SASL_SSL; never logged); unset",
    "CAMPAIGNS_BOOTSTRAP_TOKEN": "this value (16 characters or more) becomes an admin token "
    "named bootstrap at start-up; unset",
    "CAMPAIGNS_DATABASE_URL_FILE, CAMPAIGNS_BOOTSTRAP_TOKEN_FILE, "
    "CAMPAIGNS_KAFKA_SASL_PASSWORD_FILE": "a file holding that secret (a mounted secret "
    "file), read once at start-up, in place of the variable itself; unset",
    "CAMPAIGNS_LEASE_SECONDS": "how long a sending process owns a stream without renewing "
    "its lease: a process that stops (crashed, frozen, cut off) loses its streams to "
    "another after this; 10",
}
# The secrets, each of which may come from a file instead: VARIABLE_FILE names it.
FROM_FILES = (
    "CAMPAIGNS_DATABASE_URL",
    "CAMPAIGNS_BOOTSTRAP_TOKEN",
    "CAMPAIGNS_KAFKA_SASL_PASSWORD",
)
DEFAULT_LEASE_SECONDS = 10.0
LEASE_SECONDS_RANGE = (1.0, 600.0)

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class SettingsError(ValueError):
    """A setting has a value the platform cannot use; the message names it."""


@dataclass(frozen=True)
class PostgresLocation:
    """The store's database: the URL as given, so its escapes and options (sslmode,
    target_session_attrs, several hosts) reach libpq untouched, and the schema."""

    url: str = field(repr=False)  # holds the password
    schema: str

    @property
    def parts(self) -> dict[str, str]:
        """The URL's connection parameters, as libpq reads them (escapes undone)."""
        from psycopg.conninfo import conninfo_to_dict

        return {key: str(value) for key, value in conninfo_to_dict(self.url).items()}

    # The parts one by one, for the event store's library, which takes them so; the
    # defaults are libpq's, so both connect to the same database.
    @property
    def host(self) -> str:
        return self.parts["host"]

    @property
    def port(self) -> str:
        return self.parts.get("port") or "5432"

    @property
    def user(self) -> str:
        return self.parts["user"]

    @property
    def password(self) -> str:
        return self.parts.get("password", "")

    @property
    def dbname(self) -> str:
        return self.parts.get("dbname") or self.user

    def named(self, name: str) -> PostgresLocation:
        """The same database, its sessions named `name` (`application_name`): a sending
        process's, so that the process taking over one of its streams can find them."""
        from psycopg.conninfo import make_conninfo

        return PostgresLocation(make_conninfo(self.url, application_name=name), self.schema)

    def conninfo_in_schema(self) -> str:
        """A connection string whose sessions find the tables in the schema: the URL's
        parameters, with the search path added to any `options` it already sets."""
        from psycopg.conninfo import make_conninfo

        options = f"{self.parts.get('options', '')} -csearch_path={self.schema}".strip()
        return make_conninfo(self.url, options=options)


KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaSecurity:
    """How every Kafka client of the platform reaches the brokers: the protocol, the TLS
    files (with SSL and SASL_SSL) and the SASL login (with SASL_PLAINTEXT and SASL_SSL)."""

    protocol: str = "PLAINTEXT"
    ssl_cafile: str | None = None  # None: the system's CAs
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)  # settings get logged

    def client_arguments(self) -> dict[str, str]:
        """kafka-python's keyword arguments for these settings, the same for producers,
        consumers and admin clients: none for PLAINTEXT, the library's defaults."""
        if self.protocol == "PLAINTEXT":
            return {}
        arguments = {
            "security_protocol": self.protocol,
            "ssl_cafile": self.ssl_cafile,
            "ssl_certfile": self.ssl_certfile,
            "ssl_keyfile": self.ssl_keyfile,
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.sasl_username,
            "sasl_plain_password": self.sasl_password,
        }
        return {key: value for key, value in arguments.items() if value is not None}


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    postgres: PostgresLocation | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # Proxies whose forwarded scheme and client address the server takes: behind them,
    # cookies are Secure and HSTS is sent when the visitor used https.
    forwarded_allow_ips: str = "127.0.0.1"
    read_wait: float = 2.0
    sending: bool = True
    ws_compression: bool = False
    kafka: str | None = None  # bootstrap servers
    topic_prefix: str = "campaigns"
    kafka_replication: int = 1
    kafka_security: KafkaSecurity = KafkaSecurity()
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    role: str = "campaigns"  # the command this process runs: names it among sending processes
    # Kept out of repr: settings get printed and logged.
    bootstrap_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = with_secret_files(os.environ if environ is None else environ)
        url = env.get("CAMPAIGNS_DATABASE_URL", "").strip()
        schema = env.get("CAMPAIGNS_DATABASE_SCHEMA", "public").strip() or "public"
        return cls(
            data_dir=Path(env.get("CAMPAIGNS_DATA_DIR", "var")),
            postgres=parse_database_url(url, schema) if url else None,
            host=env.get("CAMPAIGNS_HOST", "127.0.0.1"),
            port=parse_int(env, "CAMPAIGNS_PORT", 8000),
            forwarded_allow_ips=env.get("CAMPAIGNS_FORWARDED_ALLOW_IPS", "127.0.0.1").strip()
            or "127.0.0.1",
            read_wait=float(env.get("CAMPAIGNS_READ_WAIT", "2")),
            sending=parse_switch(env, "CAMPAIGNS_SENDING", True),
            ws_compression=parse_switch(env, "CAMPAIGNS_WS_COMPRESSION", False),
            kafka=env.get("CAMPAIGNS_KAFKA", "").strip() or None,
            topic_prefix=parse_topic_prefix(env.get("CAMPAIGNS_KAFKA_TOPIC_PREFIX", "campaigns")),
            kafka_replication=parse_int(env, "CAMPAIGNS_KAFKA_REPLICATION", 1),
            kafka_security=parse_kafka_security(env),
            lease_seconds=parse_seconds(
                env, "CAMPAIGNS_LEASE_SECONDS", DEFAULT_LEASE_SECONDS, LEASE_SECONDS_RANGE
            ),
            bootstrap_token=env.get("CAMPAIGNS_BOOTSTRAP_TOKEN", "").strip() or None,
        )

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def events_topic(self) -> str:
        """The store's events as integration messages, published by the relay."""
        return f"{self.topic_prefix}.events"

    @property
    def activity_topic(self) -> str:
        """Per-message activity: batches of counter changes from the activity outbox."""
        return f"{self.topic_prefix}.activity"

    @property
    def realtime_topic(self) -> str:
        """The realtime rows' changes, published by the projector for the gateways' walls."""
        return f"{self.topic_prefix}.realtime"

    def check(self) -> None:
        """Refuses combinations that cannot run."""
        if self.bootstrap_token is not None and len(self.bootstrap_token) < 16:
            raise SettingsError("CAMPAIGNS_BOOTSTRAP_TOKEN must be at least 16 characters")
        if self.kafka and self.postgres is None:
            raise SettingsError(
                "CAMPAIGNS_KAFKA needs CAMPAIGNS_DATABASE_URL: the scale-out topology keeps "
                "the store and the read models in PostgreSQL"
            )

    @property
    def store_description(self) -> str:
        if self.postgres:
            pg = self.postgres
            return f"PostgreSQL {pg.host}:{pg.port}/{pg.dbname} (schema {pg.schema})"
        return f"SQLite under {self.data_dir}"


def with_secret_files(env: Mapping[str, str]) -> Mapping[str, str]:
    """The environment with each secret that a VARIABLE_FILE names read from its file (one
    line break at its end dropped, as `echo` writes it); a secret given both ways is refused."""
    found = dict(env)
    for key in FROM_FILES:
        path = env.get(f"{key}_FILE", "").strip()
        if not path:
            continue
        if env.get(key, "").strip():
            raise SettingsError(f"{key} and {key}_FILE are both set: give one of them")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "not UTF-8 text"
            raise SettingsError(
                f"{key}_FILE names no file this process can read: {path!r} ({reason})"
            ) from None
        found[key] = text.removesuffix("\n").removesuffix("\r")
    return found


def parse_int(env: Mapping[str, str], key: str, default: int) -> int:
    value = env.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{key} must be a whole number, not {value!r}") from None


def parse_seconds(
    env: Mapping[str, str], key: str, default: float, bounds: tuple[float, float]
) -> float:
    value = env.get(key, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not bounds[0] <= seconds <= bounds[1]:
        raise SettingsError(
            f"{key} must be a number of seconds from {bounds[0]:g} to {bounds[1]:g}, not {value!r}"
        )
    return seconds


def parse_switch(env: Mapping[str, str], key: str, default: bool) -> bool:
    value = env.get(key, "").strip().lower()
    if not value:
        return default
    if value in ("on", "1", "true", "yes"):
        return True
    if value in ("off", "0", "false", "no"):
        return False
    raise SettingsError(f"{key} must be on or off, not {value!r}")


_TOPIC_PREFIX = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,100}$")


def parse_topic_prefix(value: str) -> str:
    value = value.strip() or "campaigns"
    if not _TOPIC_PREFIX.match(value):
        raise SettingsError(
            f"CAMPAIGNS_KAFKA_TOPIC_PREFIX {value!r} may hold letters, digits, '.', '_', '-'"
        )
    return value


def parse_kafka_security(env: Mapping[str, str]) -> KafkaSecurity:
    """The CAMPAIGNS_KAFKA_SECURITY_PROTOCOL, _SSL_* and _SASL_* variables, refused at
    start-up when a client could not use them or would ignore one of them."""
    key = "CAMPAIGNS_KAFKA_SECURITY_PROTOCOL"
    protocol = env.get(key, "").strip().upper() or "PLAINTEXT"
    if protocol not in KAFKA_PROTOCOLS:
        raise SettingsError(f"{key} must be one of {', '.join(KAFKA_PROTOCOLS)}, not {protocol!r}")
    tls, sasl = protocol in ("SSL", "SASL_SSL"), protocol.startswith("SASL_")
    files = {
        name: _kafka_file(env, f"CAMPAIGNS_KAFKA_SSL_{name.upper()}", protocol, tls)
        for name in ("cafile", "certfile", "keyfile")
    }
    if files["keyfile"] and not files["certfile"]:
        raise SettingsError(
            "CAMPAIGNS_KAFKA_SSL_KEYFILE needs CAMPAIGNS_KAFKA_SSL_CERTFILE: it is the key of "
            "the client's certificate"
        )
    login = {
        name: _kafka_login(env, f"CAMPAIGNS_KAFKA_SASL_{name.upper()}", protocol, sasl)
        for name in ("mechanism", "username", "password")
    }
    mechanism = login["mechanism"].upper() if login["mechanism"] else None
    if mechanism is not None and mechanism not in SASL_MECHANISMS:
        raise SettingsError(
            f"CAMPAIGNS_KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}, "
            f"not {mechanism!r}"
        )
    return KafkaSecurity(
        protocol=protocol,
        ssl_cafile=files["cafile"],
        ssl_certfile=files["certfile"],
        ssl_keyfile=files["keyfile"],
        sasl_mechanism=mechanism,
        sasl_username=login["username"],
        sasl_password=login["password"],
    )


def _kafka_file(env: Mapping[str, str], key: str, protocol: str, tls: bool) -> str | None:
    path = env.get(key, "").strip()
    if not path:
        return None
    if not tls:
        raise SettingsError(
            f"{key} is set, but CAMPAIGNS_KAFKA_SECURITY_PROTOCOL={protocol} uses no TLS "
            "(TLS files go with SSL or SASL_SSL)"
        )
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise SettingsError(f"{key} names no file this process can read: {path!r}")
    return path


def _kafka_login(env: Mapping[str, str], key: str, protocol: str, sasl: bool) -> str | None:
    # The password is taken as given (spaces too) and never quoted in a message.
    value = env.get(key, "")
    value = value if key.endswith("PASSWORD") else value.strip()
    if sasl and not value:
        raise SettingsError(f"CAMPAIGNS_KAFKA_SECURITY_PROTOCOL={protocol} needs {key}")
    if value and not sasl:
        raise SettingsError(
            f"{key} is set, but CAMPAIGNS_KAFKA_SECURITY_PROTOCOL={protocol} has no SASL login "
            "(SASL settings go with SASL_PLAINTEXT or SASL_SSL)"
        )
    return value or None


def parse_database_url(url: str, schema: str) -> PostgresLocation:
    """The URL is kept as given; it is parsed here only to refuse, at start-up, one that
    libpq could not use or that lacks what the event store's settings need."""
    from psycopg import ProgrammingError

    shape = "CAMPAIGNS_DATABASE_URL must look like postgresql://user:password@host:5432/dbname"
    if not url.startswith(("postgresql://", "postgres://")):
        raise SettingsError(shape)
    location = PostgresLocation(url=url, schema=schema)
    try:
        parts = location.parts
    except ProgrammingError:
        # libpq's message quotes the faulty part, which may be the password.
        raise SettingsError(
            f"{shape}; libpq cannot read it: check the options' names, and that the user "
            "and password escape reserved characters (@ as %40, / as %2F, % as %25)"
        ) from None
    if not parts.get("host") or not parts.get("user"):
        raise SettingsError(f"{shape}: it names no host or no user")
    if not all(port.isdigit() for port in parts.get("port", "").split(",") if port):
        raise SettingsError("CAMPAIGNS_DATABASE_URL has a port that is not a number")
    if not _SCHEMA.match(schema):
        raise SettingsError(f"CAMPAIGNS_DATABASE_SCHEMA {schema!r} is not a plain schema name")
    return location
