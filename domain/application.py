"""The application: loads an aggregate, calls one command, saves. Thin by design."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain.audited import Audited, id_for_name
from domain.campaign import Campaign
from domain.catalogue import Catalogue
from domain.errors import FieldProblem, NotFound, ValidationFailed, VersionConflict
from domain.fields import (
    CAMPAIGN_DEFAULTS,
    CAMPAIGN_FIELDS,
    Invalid,
    expect_list,
    parse_description,
    parse_domain_name,
    parse_domain_names,
    parse_fields,
    parse_name,
    parse_uuid,
)
from domain.link_domain import DOMAIN_TRANSITIONS, LinkDomain
from domain.link_exhaustion import DomainUse, LinkDomains, still_exhausted
from domain.pool import DomainPool
from domain.pricing import DEFAULT_PRICES, parse_prices
from domain.rules import first_fired
from domain.settings import DEFAULT_DOMAIN_LIMIT, SETTINGS_ID, PlatformSettings
from domain.status import STOPS_SENDING, Status
from domain.stream import (
    DEMO_CARRIER_DEFAULTS,
    DEMO_OPTIONS,
    Stream,
    StreamSettings,
    parse_carrier,
    parse_enabled,
    parse_rate,
    parse_stream_name,
    parse_stream_settings,
)

A = TypeVar("A", bound=Audited)

COMMAND_NAMESPACE = uuid.UUID("0b8f5c2e-7d41-4f6a-a3c9-1e2d3f4a5b6c")
LIFECYCLE_COMMANDS = ("launch", "pause", "resume", "abort", "unschedule")
STREAM_FIELDS: dict[str, Callable[[Any], Any]] = {
    "rate": parse_rate,
    "enabled": parse_enabled,
    "settings": lambda value: value,  # parsed for the stream's carrier
    **DEMO_OPTIONS,  # the demo carrier's settings, also at the top level
}
POOL_FIELDS: dict[str, Callable[[Any], Any]] = {
    "name": parse_name,
    "description": parse_description,
    "domains": parse_domain_names,
    "add_domains": parse_domain_names,
    "remove_domains": parse_domain_names,
}


def derived_id(kind: str, *parts: object) -> uuid.UUID:
    """The id an idempotent command gives what it creates: a retry finds the same one."""
    return uuid.uuid5(COMMAND_NAMESPACE, ":".join([kind, *map(str, parts)]))


class CampaignPlatform(Application[uuid.UUID]):
    """Campaigns, link domains, pools, streams and settings in one event store."""

    name = "campaigns"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        # A campaign's live counters, where the sending side is wired in (auto-pause rules).
        self.stats_of: Callable[[str], dict[str, int]] | None = None
        # Held while a command that stops a campaign's sending commits: no batch of the
        # campaign is being handed to a carrier meanwhile (the composition root wires it).
        self.stopping_gate: Callable[[str], contextlib.AbstractContextManager[None]] = (
            lambda _campaign_id: contextlib.nullcontext()
        )
        # Where a stream's secrets go (the SMPP password, an HTTP token): never the store.
        self.keep_secrets: Callable[[str, dict[str, str]], None] = refuse_secrets

    def construct_env(self, name: str, env: Any = None) -> Any:
        """Only the settings given: the composition root reads the environment, not us."""
        from eventsourcing.utils import Environment

        return Environment(name, dict(env or {}))

    # Loading and saving, with command ids and expected versions.

    def load(
        self, cls: type[A], aggregate_id: uuid.UUID, what: str, version: int | None = None
    ) -> A:
        try:
            aggregate: Audited = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(f"{what} not found") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"{what} not found")
        return aggregate

    def exists(self, aggregate_id: uuid.UUID) -> bool:
        return aggregate_id in self.repository

    def run_command(
        self,
        cls: type[A],
        aggregate_id: uuid.UUID,
        what: str,
        action: Callable[[A], Iterable[Audited] | None],
        *,
        command_id: str | None = None,
        expected_version: int | None = None,
    ) -> A:
        """Loads, acts, saves; a repeated command id returns the state it first produced.
        A save that clashes with another writer's answers a version conflict."""
        aggregate = self.load(cls, aggregate_id, what)
        done, others = self.decide(aggregate, what, action, command_id, expected_version)
        if done is not None:
            return self.load(cls, aggregate_id, what, version=done)
        if not self.save_new(aggregate, *others):
            details = None if expected_version is None else {"expected_version": expected_version}
            raise VersionConflict(
                f"{what} was changed by someone else meanwhile; reload and retry", details=details
            )
        return aggregate

    def decide(
        self,
        aggregate: A,
        what: str,
        action: Callable[[A], Iterable[Audited] | None],
        command_id: str | None,
        expected_version: int | None,
    ) -> tuple[int | None, Iterable[Audited]]:
        """The version a repeated command id first produced, or the other aggregates the
        action changed (the aggregate itself now holds its new events)."""
        done = aggregate.version_of_command(command_id)
        if done is not None:
            return done, ()
        self.check_version(aggregate, what, expected_version)
        return None, action(aggregate) or ()

    @staticmethod
    def check_version(aggregate: Audited, what: str, expected_version: int | None) -> None:
        if expected_version is not None and aggregate.version != expected_version:
            raise VersionConflict(
                f"{what} is at version {aggregate.version}, not {expected_version}",
                details={"expected_version": expected_version, "version": aggregate.version},
            )

    def save_new(self, *aggregates: Audited, **options: Any) -> bool:
        """Saves new events of aggregates in one transaction; False when another writer
        saved some of these aggregates first. `options` go to the recorder (a sending
        process's fence, which refuses the transaction when stale)."""
        try:
            self.save(*aggregates, **options)
        except IntegrityError:
            return False
        return True

    # Campaigns.

    def parse_campaign_fields(self, raw: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        fields = parse_fields(raw, CAMPAIGN_FIELDS, required=("name",) if creating else ())
        stream = fields.get("stream")
        if stream is not None and not self.exists(id_for_name("stream", stream)):
            known = ", ".join(self.stream_names())
            raise ValidationFailed.of(
                [FieldProblem("stream", f"unknown stream {fields['stream']!r}; known: {known}")]
            )
        if creating and fields.get("stream") is None:
            fields.pop("stream", None)
        self.check_links_exist(fields.get("links") or {})
        return fields

    def check_links_exist(self, links: dict[str, Any]) -> None:
        """A link names only pools and domains that have been added."""
        problems = []
        for kind, link in links.items():
            if link.get("pool") and not self.find(DomainPool, uuid.UUID(link["pool"])):
                problems.append(FieldProblem("links", f"{kind}: unknown pool {link['pool']}"))
            for name in link.get("domains", []):
                if not self.exists(id_for_name("domain", name)):
                    problems.append(
                        FieldProblem("links", f"{kind}: unknown domain {name}; add it first")
                    )
        if problems:
            raise ValidationFailed.of(problems)

    def create_campaign(
        self, raw: dict[str, Any], *, actor: str, command_id: str | None = None
    ) -> Campaign:
        fields = {**CAMPAIGN_DEFAULTS, **self.parse_campaign_fields(raw, creating=True)}
        campaign_id = derived_id("campaign", command_id) if command_id else uuid.uuid4()
        if command_id and self.exists(campaign_id):
            return self.load(Campaign, campaign_id, "campaign", version=1)
        campaign = Campaign.create(
            fields, actor=actor, command_id=command_id, campaign_id=campaign_id
        )
        if not self.save_new(campaign):
            return self.load(Campaign, campaign_id, "campaign", version=1)
        return campaign

    def get_campaign(
        self, campaign_id: uuid.UUID, *, version: int | None = None, as_of: datetime | None = None
    ) -> Campaign:
        if as_of is not None:
            version = self.version_at(campaign_id, as_of)
        campaign = self.load(Campaign, campaign_id, "campaign", version=version)
        if version is not None and campaign.version < version:
            raise NotFound(
                f"the campaign has no version {version}; its latest is {campaign.version}"
            )
        return campaign

    def version_at(self, aggregate_id: uuid.UUID, moment: datetime) -> int:
        version = 0
        for event in self.events.get(aggregate_id):
            if getattr(event, "timestamp") > moment:  # noqa: B009 (not in the protocol's type)
                break
            version = event.originator_version
        if version == 0:
            raise NotFound("campaign did not exist at that time")
        return version

    def edit_campaign(
        self,
        campaign_id: uuid.UUID,
        raw: dict[str, Any],
        *,
        actor: str,
        reason: str = "",
        command_id: str | None = None,
        expected_version: int | None = None,
    ) -> Campaign:
        changes = self.parse_campaign_fields(raw, creating=False)
        return self.run_command(
            Campaign,
            campaign_id,
            "campaign",
            lambda c: c.edit(changes, actor=actor, reason=reason, command_id=command_id),
            command_id=command_id,
            expected_version=expected_version,
        )

    def change_campaign_status(
        self,
        campaign_id: uuid.UUID,
        command: str,
        *,
        actor: str,
        reason: str = "",
        command_id: str | None = None,
        expected_version: int | None = None,
    ) -> Campaign:
        """One of the user lifecycle commands: launch, pause, resume, abort, unschedule."""
        if command not in LIFECYCLE_COMMANDS:
            raise NotFound(f"unknown command {command!r}")
        gate = self.stopping_gate if command in STOPS_SENDING else None
        with gate(str(campaign_id)) if gate else contextlib.nullcontext():
            return self.run_status_command(
                campaign_id, command, actor, reason, command_id, expected_version
            )

    def run_status_command(
        self,
        campaign_id: uuid.UUID,
        command: str,
        actor: str,
        reason: str,
        command_id: str | None,
        expected_version: int | None,
    ) -> Campaign:
        def act(campaign: Campaign) -> None:
            if command == "resume":
                campaign.resume(
                    actor=actor,
                    reason=reason,
                    command_id=command_id,
                    still_blocking=self.still_blocking(campaign),
                )
            else:
                getattr(campaign, command)(actor=actor, reason=reason, command_id=command_id)

        return self.run_command(
            Campaign,
            campaign_id,
            "campaign",
            act,
            command_id=command_id,
            expected_version=expected_version,
        )

    def duplicate_campaign(
        self, campaign_id: uuid.UUID, *, actor: str, command_id: str | None = None
    ) -> Campaign:
        source = self.load(Campaign, campaign_id, "campaign")
        new_id = derived_id("duplicate", campaign_id, command_id) if command_id else uuid.uuid4()
        if command_id and self.exists(new_id):
            return self.load(Campaign, new_id, "campaign", version=1)
        copy = Campaign.create(
            source.duplicate_fields(),
            actor=actor,
            command_id=command_id,
            campaign_id=new_id,
            duplicated_from=str(campaign_id),
        )
        if not self.save_new(copy):
            return self.load(Campaign, new_id, "campaign", version=1)
        return copy

    def still_blocking(self, campaign: Campaign) -> list[str]:
        """What keeps a suspended campaign from resuming, in words; empty when nothing does."""
        cause = campaign.suspension or {}
        if cause.get("kind") == "domains":
            limit = self.domain_limit()
            return still_exhausted(self.link_domains(campaign, limit), limit)
        if cause.get("kind") == "rule" and self.stats_of is not None:
            stats = self.stats_of(str(campaign.id))
            hit = first_fired(campaign.fields.get("pause_rules", []), stats)
            if hit is not None:
                return [f"{hit[1]}; edit or remove the rule to resume"]
        if cause.get("kind") == "stream":
            stream = self.find_stream(campaign.fields["stream"])
            if stream is not None and not stream.enabled:
                return [f"the stream {stream.name} is disabled"]
        return []

    def link_domains(self, campaign: Campaign, limit: int) -> LinkDomains:
        """The domains of each link the campaign uses, as the rule of exhausted links reads
        them."""
        return {
            kind: [DomainUse.of(d, limit) for d in self.campaign_domains(campaign, kind)]
            for kind in campaign.links_used()
        }

    def campaign_domains(self, campaign: Campaign, kind: str) -> list[LinkDomain]:
        """The domains a campaign's link may use, in order: chosen ones, then its pool's."""
        link = (campaign.fields.get("links") or {}).get(kind) or {}
        names = list(link.get("domains") or [])
        if link.get("pool"):
            pool = self.find(DomainPool, uuid.UUID(link["pool"]))
            names += [name for name in (pool.domains if pool else []) if name not in names]
        domains = (self.find(LinkDomain, id_for_name("domain", name)) for name in names)
        return [d for d in domains if d is not None]

    def find(self, cls: type[A], aggregate_id: uuid.UUID) -> A | None:
        try:
            return self.load(cls, aggregate_id, cls.__name__)
        except NotFound:
            return None

    # Catalogues of domains, pools and streams.

    def catalogue_ids(self, kind: str) -> list[uuid.UUID]:
        catalogue = self.find(Catalogue, id_for_name("catalogue", kind))
        return [uuid.UUID(item) for item in catalogue.ids] if catalogue else []

    def save_with_catalogue(self, kind: str, aggregates: list[Audited], *, actor: str) -> None:
        """Saves new aggregates and enters them in their catalogue in one transaction."""
        if not self.enter_in_catalogue(kind, aggregates, actor=actor):
            raise VersionConflict(f"the {kind} catalogue was changed meanwhile; retry")

    def enter_in_catalogue(self, kind: str, aggregates: list[Audited], *, actor: str) -> bool:
        """One attempt of `save_with_catalogue`: False when another writer changed the
        catalogue, or saved one of these aggregates, first."""
        catalogue = self.find(Catalogue, id_for_name("catalogue", kind)) or Catalogue.open(kind)
        catalogue.enter([str(a.id) for a in aggregates], actor=actor)
        return self.save_new(catalogue, *aggregates)

    # Link domains.

    def add_domains(
        self, raw_names: Any, *, actor: str, command_id: str | None = None
    ) -> tuple[list[LinkDomain], list[LinkDomain]]:
        """Adds every new name as Pending; returns (added, already known)."""
        try:
            names = parse_domain_names(raw_names)
        except Invalid as error:
            raise ValidationFailed.of([FieldProblem("names", str(error))]) from None
        if not names:
            raise ValidationFailed.of([FieldProblem("names", "give at least one domain name")])
        known = [d for d in (self.find(LinkDomain, id_for_name("domain", n)) for n in names) if d]
        known_names = {d.name for d in known}
        added = [
            LinkDomain.add(n, actor=actor, command_id=command_id)
            for n in names
            if n not in known_names
        ]
        if added:
            self.save_with_catalogue("domains", list(added), actor=actor)
        return added, known

    def change_domain_status(
        self,
        name: str,
        command: str,
        *,
        actor: str,
        reason: str = "",
        command_id: str | None = None,
        expected_version: int | None = None,
    ) -> LinkDomain:
        if command not in DOMAIN_TRANSITIONS:
            raise NotFound(
                f"no domain command {command!r}; commands: {', '.join(DOMAIN_TRANSITIONS)}"
            )
        try:
            name = parse_domain_name(name)
        except Invalid:
            raise NotFound(f"domain {name!r} not found") from None
        return self.run_command(
            LinkDomain,
            id_for_name("domain", name),
            f"domain {name}",
            lambda d: d.change_status(command, actor=actor, reason=reason, command_id=command_id),
            command_id=command_id,
            expected_version=expected_version,
        )

    def list_domains(self) -> list[LinkDomain]:
        domains = (self.find(LinkDomain, i) for i in self.catalogue_ids("domains"))
        return sorted((d for d in domains if d), key=lambda d: d.name)

    # Domain pools.

    def parse_pool(self, raw: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        fields = parse_fields(raw, POOL_FIELDS, required=("name",) if creating else ())
        named = fields.get("domains", []) + fields.get("add_domains", [])
        unknown = [n for n in named if not self.exists(id_for_name("domain", n))]
        if unknown:
            raise ValidationFailed.of(
                [FieldProblem("domains", f"unknown domain {unknown[0]}; add it first")]
            )
        return fields

    def create_pool(
        self, raw: dict[str, Any], *, actor: str, command_id: str | None = None
    ) -> DomainPool:
        fields = self.parse_pool(raw, creating=True)
        pool_id = derived_id("pool", command_id) if command_id else uuid.uuid4()
        existing = self.find(DomainPool, pool_id) if command_id else None
        if existing is not None:
            return self.load(DomainPool, pool_id, "pool", version=1)
        domains = fields.get("domains", []) + [
            n for n in fields.get("add_domains", []) if n not in fields.get("domains", [])
        ]
        pool = DomainPool.create(
            fields["name"],
            fields.get("description", ""),
            domains,
            actor=actor,
            command_id=command_id,
            pool_id=pool_id,
        )
        self.save_with_catalogue("pools", [pool], actor=actor)
        return pool

    def edit_pool(
        self,
        pool_id: uuid.UUID,
        raw: dict[str, Any],
        *,
        actor: str,
        command_id: str | None = None,
        expected_version: int | None = None,
    ) -> DomainPool:
        fields = self.parse_pool(raw, creating=False)

        def act(pool: DomainPool) -> None:
            changes = {k: v for k, v in fields.items() if k in ("name", "description", "domains")}
            base = changes.get("domains", pool.domains)
            changes["domains"] = [n for n in base if n not in fields.get("remove_domains", [])] + [
                n for n in fields.get("add_domains", []) if n not in base
            ]
            pool.edit(changes, actor=actor, command_id=command_id)

        return self.run_command(
            DomainPool,
            pool_id,
            "pool",
            act,
            command_id=command_id,
            expected_version=expected_version,
        )

    def list_pools(self) -> list[DomainPool]:
        pools = (self.find(DomainPool, i) for i in self.catalogue_ids("pools"))
        return sorted((p for p in pools if p), key=lambda p: p.name.casefold())

    # Settings.

    def settings(self) -> PlatformSettings | None:
        return self.find(PlatformSettings, SETTINGS_ID)

    def domain_limit(self) -> int:
        settings = self.settings()
        return settings.domain_limit if settings else DEFAULT_DOMAIN_LIMIT

    def set_domain_limit(
        self, raw: dict[str, Any], *, actor: str, command_id: str | None = None
    ) -> int:
        def parse_limit(value: Any) -> int:
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10**9:
                raise Invalid("must be a whole number of messages from 1 to 1000000000")
            return value

        limit = parse_fields(raw, {"limit": parse_limit}, required=("limit",))["limit"]
        if self.settings() is None:
            self.save_new(PlatformSettings.create(actor="system"))
        settings = self.run_command(
            PlatformSettings,
            SETTINGS_ID,
            "settings",
            lambda s: s.set_domain_limit(limit, actor=actor, command_id=command_id),
            command_id=command_id,
        )
        return settings.domain_limit

    def prices(self) -> dict[str, str]:
        """The price per SMS part by destination prefix (F18)."""
        settings = self.settings()
        return dict(settings.prices) if settings else dict(DEFAULT_PRICES)

    def set_prices(
        self, raw: dict[str, Any], *, actor: str, command_id: str | None = None
    ) -> dict[str, str]:
        prices = parse_fields(raw, {"prices": parse_prices}, required=("prices",))["prices"]
        if self.settings() is None:
            self.save_new(PlatformSettings.create(actor="system"))
        settings = self.run_command(
            PlatformSettings,
            SETTINGS_ID,
            "settings",
            lambda s: s.set_prices(prices, actor=actor, command_id=command_id),
            command_id=command_id,
        )
        return dict(settings.prices)

    # Streams.

    def ensure_demo_stream(self) -> None:
        if not self.exists(id_for_name("stream", "demo")):
            demo = Stream.register("demo", "demo", 0, DEMO_CARRIER_DEFAULTS, actor="system")
            self.save_with_catalogue("streams", [demo], actor="system")

    def create_stream(
        self, raw: dict[str, Any], *, actor: str, command_id: str | None = None
    ) -> Stream:
        """Registers a stream on a carrier, with its rate and the carrier's settings; its
        secrets are kept apart and only their names recorded. A repeated command id
        returns the stream it made."""
        fields = parse_fields(
            raw,
            {
                "name": parse_stream_name,
                "carrier": parse_carrier,
                "rate": parse_rate,
                "settings": lambda value: value,
            },
            required=("name", "carrier"),
        )
        settings = self.parse_settings(fields["carrier"], fields.get("settings", {}), True)
        existing = self.find_stream(fields["name"])
        if existing is not None:
            if command_id and existing.version_of_command(command_id) is not None:
                return self.load(Stream, existing.id, "stream", version=1)
            raise ValidationFailed.of(
                [FieldProblem("name", f"a stream named {fields['name']} exists already")]
            )
        options = settings.options
        if fields["carrier"] == "demo":
            options = {**DEMO_CARRIER_DEFAULTS, **options}
        stream = Stream.register(
            fields["name"],
            fields["carrier"],
            fields.get("rate", 0),
            options,
            actor=actor,
            command_id=command_id,
        )
        if settings.secrets:
            self.keep_secrets(stream.name, settings.secrets)
            stream.change(
                {"secrets": list(settings.secrets)},
                actor=actor,
                reason=f"secrets set: {', '.join(sorted(settings.secrets))}",
            )
        self.save_with_catalogue("streams", [stream], actor=actor)
        return stream

    @staticmethod
    def parse_settings(carrier: str, value: Any, creating: bool) -> StreamSettings:
        try:
            return parse_stream_settings(carrier, value, creating=creating)
        except Invalid as error:
            raise ValidationFailed.of([FieldProblem("settings", str(error))]) from None

    def find_stream(self, name: str) -> Stream | None:
        return self.find(Stream, id_for_name("stream", name))

    def stream_names(self) -> list[str]:
        return [s.name for s in self.list_streams()]

    def list_streams(self) -> list[Stream]:
        streams = (self.find(Stream, i) for i in self.catalogue_ids("streams"))
        return sorted((s for s in streams if s), key=lambda s: s.name)

    def change_stream(
        self,
        name: str,
        raw: dict[str, Any],
        *,
        actor: str,
        command_id: str | None = None,
        expected_version: int | None = None,
    ) -> Stream:
        stream = self.find_stream(name)
        if stream is None:
            raise NotFound(f"stream {name!r} not found")
        fields = parse_fields(raw, STREAM_FIELDS)
        changes: dict[str, Any] = {k: fields.pop(k) for k in ("rate", "enabled") if k in fields}
        given = fields.pop("settings", {})
        if fields and stream.carrier != "demo":
            raise ValidationFailed.of(
                [FieldProblem(k, "only the demo stream takes carrier options") for k in fields]
            )
        if isinstance(given, dict):
            given = {**fields, **given}
        settings = self.parse_settings(stream.carrier, given, False)
        if settings.options:
            changes["options"] = settings.options
        reason = ""
        if settings.secrets:
            self.keep_secrets(stream.name, settings.secrets)
            changes["secrets"] = list(settings.secrets)
            reason = f"secrets changed: {', '.join(sorted(settings.secrets))}"
        return self.run_command(
            Stream,
            stream.id,
            f"stream {name}",
            lambda s: s.change(changes, actor=actor, reason=reason, command_id=command_id),
            command_id=command_id,
            expected_version=expected_version,
        )


def refuse_secrets(stream: str, _secrets: dict[str, str]) -> None:
    """Where no sending tier keeps secrets, a stream's secrets are refused."""
    raise ValidationFailed.of(
        [FieldProblem("settings", f"no place to keep the secrets of the stream {stream}")]
    )


def parse_id(value: str, what: str) -> uuid.UUID:
    """An id from a path; anything that is not a UUID names nothing, so it is not found."""
    try:
        return uuid.UUID(parse_uuid(value))
    except Invalid:
        raise NotFound(f"{what} not found") from None


__all__ = ["CampaignPlatform", "Status", "expect_list", "parse_id"]
