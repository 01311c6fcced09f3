"""The Campaign aggregate: its statuses, the transitions T1-T17 and the rules of editing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from domain.audited import Audited
from domain.errors import FieldProblem, IllegalTransition, ValidationFailed
from domain.fields import LINK_LABELS, LINK_PLACEHOLDERS, format_time, placeholders_in
from domain.status import FINAL, TRANSITIONS, Status, allowed_commands, sorted_statuses

# Fields that stay editable until the campaign is final (product spec, section 1). Message
# texts, audience, sender, stream, type and start time are fixed from launch on.
EDITABLE_WHILE_LIVE = frozenset(
    {
        "name",
        "description",
        "tags",
        "variants",
        "links",
        "sending_schedule",
        "pause_rules",
        "ctr_indicators",
    }
)


class Campaign(Audited):
    """One SMS campaign. Commands check, then trigger one event; events only apply."""

    class Event(Audited.Event):
        pass

    class Created(Event, Audited.Created):
        fields: dict[str, Any]
        duplicated_from: str | None

    class Edited(Event):
        changes: dict[str, Any]

        def apply_to(self, campaign: Campaign) -> None:
            if "variants" in self.changes and campaign.status is not Status.DRAFT:
                campaign.ratio_epoch += 1
            campaign.fields.update(self.changes)

    class Launched(Event):
        def apply_to(self, campaign: Campaign) -> None:
            campaign.enter(Status.PROCESSING, self.reason)

    class Rejected(Event):
        def apply_to(self, campaign: Campaign) -> None:
            campaign.enter(Status.REJECTED, self.reason)

    class Prepared(Event):
        recipients: int

        def apply_to(self, campaign: Campaign) -> None:
            campaign.recipients = self.recipients
            campaign.enter(Status.READY, self.reason)

    class Scheduled(Event):
        recipients: int
        start_at: str

        def apply_to(self, campaign: Campaign) -> None:
            campaign.recipients = self.recipients
            campaign.enter(Status.SCHEDULED, self.reason)

    class Unscheduled(Event):
        def apply_to(self, campaign: Campaign) -> None:
            campaign.enter(Status.DRAFT, self.reason)

    class Started(Event):
        def apply_to(self, campaign: Campaign) -> None:
            campaign.started_at = campaign.started_at or self.timestamp
            campaign.enter(Status.STARTED, self.reason)

    class SendingBegan(Event):
        def apply_to(self, campaign: Campaign) -> None:
            campaign.enter(Status.SENDING, self.reason)

    class WindowClosed(Event):
        def apply_to(self, campaign: Campaign) -> None:
            campaign.enter(Status.STARTED, self.reason)

    class Paused(Event):
        def apply_to(self, campaign: Campaign) -> None:
            campaign.enter(Status.PAUSED, self.reason)

    class Resumed(Event):
        def apply_to(self, campaign: Campaign) -> None:
            campaign.suspension = None
            campaign.enter(Status.STARTED, self.reason)

    class Suspended(Event):
        cause: dict[str, Any]

        def apply_to(self, campaign: Campaign) -> None:
            campaign.suspension = self.cause
            campaign.enter(Status.SUSPENDED, self.reason)

    class Aborted(Event):
        def apply_to(self, campaign: Campaign) -> None:
            campaign.enter(Status.ABORTED, self.reason)

    class Finished(Event):
        def apply_to(self, campaign: Campaign) -> None:
            campaign.finished_at = self.timestamp
            campaign.enter(Status.FINISHED, self.reason)

    def __init__(
        self,
        fields: dict[str, Any],
        duplicated_from: str | None,
        actor: str,
        reason: str,
        command_id: str | None,
    ) -> None:
        self.fields = dict(fields)
        self.duplicated_from = duplicated_from
        self.created_by = actor
        self.status = Status.DRAFT
        self.status_reason = reason
        self.suspension: dict[str, Any] | None = None
        self.recipients = 0
        self.ratio_epoch = 0
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None

    def enter(self, status: Status, reason: str) -> None:
        self.status = status
        self.status_reason = reason

    # Creation (T1).

    @classmethod
    def create(
        cls,
        fields: dict[str, Any],
        *,
        actor: str,
        command_id: str | None = None,
        campaign_id: uuid.UUID | None = None,
        duplicated_from: str | None = None,
        reason: str = "",
    ) -> Campaign:
        fields = dict(fields)
        fields["variants"] = with_variant_ids(fields.get("variants", []), {})
        return cls._create(
            cls.Created,
            id=campaign_id or uuid.uuid4(),
            fields=fields,
            duplicated_from=duplicated_from,
            actor=actor,
            reason=reason or ("duplicated" if duplicated_from else "created"),
            command_id=command_id,
        )

    def duplicate_fields(self) -> dict[str, Any]:
        """What a duplicate starts from: every field, a fresh name, new variant ids."""
        fields = {key: value for key, value in self.fields.items() if key != "start_at"}
        fields["start_at"] = None
        fields["name"] = copy_name(self.fields["name"])
        fields["variants"] = [
            {"id": None, "text": v["text"], "weight": v["weight"]} for v in self.fields["variants"]
        ]
        return fields

    # Editing (T2, and the live edits of section 1).

    def edit(
        self, changes: dict[str, Any], *, actor: str, reason: str = "", command_id: str | None
    ) -> None:
        self.check_allowed("edit")
        if self.status is not Status.DRAFT:
            # A client that sends the whole form back resends fixed fields unchanged.
            fixed = sorted(
                key
                for key, value in changes.items()
                if key not in EDITABLE_WHILE_LIVE and self.fields.get(key) != value
            )
            if fixed:
                raise IllegalTransition(
                    f"{', '.join(fixed)} cannot change once a campaign is launched "
                    f"(it is {self.status}); editable now: "
                    f"{', '.join(sorted(EDITABLE_WHILE_LIVE))}",
                    details={
                        "status": self.status.value,
                        "fixed_fields": fixed,
                        "editable_fields": sorted(EDITABLE_WHILE_LIVE),
                    },
                )
        changes = dict(changes)
        if "variants" in changes:
            changes["variants"] = self.resolve_variants(changes["variants"])
        if "links" in changes and self.status is not Status.DRAFT:
            self.check_links_still_complete(changes["links"])
        changes = {k: v for k, v in changes.items() if self.fields.get(k) != v}
        if changes:
            self.trigger_event(
                self.Edited,
                changes=changes,
                actor=actor,
                reason=reason or "edited",
                command_id=command_id,
            )

    def resolve_variants(self, variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Gives new variants ids; once launched, only the weights of the variants may change."""
        current = {v["id"]: v for v in self.fields["variants"]}
        unknown = [v["id"] for v in variants if v["id"] is not None and v["id"] not in current]
        if unknown:
            raise ValidationFailed.of([FieldProblem("variants", f"unknown variant {unknown[0]}")])
        if self.status is Status.DRAFT:
            return with_variant_ids(variants, current)
        same_set = sorted(v["id"] or "" for v in variants) == sorted(current)
        same_texts = all(
            v["text"] in (None, current.get(v["id"], {}).get("text")) for v in variants
        )
        if not (same_set and same_texts):
            raise IllegalTransition(
                f"only the ratio of the variants can change once launched (it is {self.status}): "
                "send every variant with its id and new weight",
                details={"status": self.status.value, "field": "variants"},
            )
        return [{**current[v["id"]], "weight": v["weight"]} for v in variants]

    def check_links_still_complete(self, links: dict[str, Any]) -> None:
        """A launched campaign keeps a target and domains for every link its texts use."""
        missing = self.missing_steps({**self.fields, "links": links})
        if missing:
            raise IllegalTransition(
                f"the links of a launched campaign (it is {self.status}) must stay complete; "
                "missing: " + "; ".join(missing),
                details={"status": self.status.value, "field": "links", "missing": missing},
            )

    # User lifecycle commands.

    def launch(self, *, actor: str, reason: str = "", command_id: str | None) -> None:
        self.check_allowed("launch")
        missing = self.missing_steps()
        if missing:
            raise IllegalTransition(
                "the campaign cannot launch yet; missing: " + "; ".join(missing),
                details={"status": self.status.value, "missing": missing},
            )
        self.trigger_event(
            self.Launched, actor=actor, reason=reason or "launched", command_id=command_id
        )

    def pause(self, *, actor: str, reason: str = "", command_id: str | None) -> None:
        self.check_allowed("pause")
        self.trigger_event(
            self.Paused, actor=actor, reason=reason or "paused", command_id=command_id
        )

    def resume(
        self,
        *,
        actor: str,
        reason: str = "",
        command_id: str | None,
        still_blocking: list[str] | None = None,
    ) -> None:
        """Resumes a paused or suspended campaign; refused while its suspension's cause lasts."""
        self.check_allowed("resume")
        if self.status is Status.SUSPENDED and still_blocking:
            raise IllegalTransition(
                "the campaign cannot resume yet: " + "; ".join(still_blocking),
                details={"status": self.status.value, "still_blocking": still_blocking},
            )
        self.trigger_event(
            self.Resumed, actor=actor, reason=reason or "resumed", command_id=command_id
        )

    def abort(self, *, actor: str, reason: str = "", command_id: str | None) -> None:
        self.check_allowed("abort")
        self.trigger_event(
            self.Aborted, actor=actor, reason=reason or "aborted", command_id=command_id
        )

    def unschedule(self, *, actor: str, reason: str = "", command_id: str | None) -> None:
        self.check_allowed("unschedule")
        self.trigger_event(
            self.Unscheduled, actor=actor, reason=reason or "unscheduled", command_id=command_id
        )

    # System commands, called by the sending engine.

    def reject(self, reason: str, *, actor: str = "system", command_id: str | None = None) -> None:
        self.check_allowed("reject")
        self.trigger_event(self.Rejected, actor=actor, reason=reason, command_id=command_id)

    def prepare(
        self,
        recipients: int,
        now: datetime,
        *,
        actor: str = "system",
        command_id: str | None = None,
    ) -> None:
        """Preparation succeeded: Ready to start now, or Scheduled for a later start."""
        self.check_allowed("prepare")
        start_at = self.fields.get("start_at")
        if start_at and start_at > format_time(now):
            self.trigger_event(
                self.Scheduled,
                recipients=recipients,
                start_at=start_at,
                actor=actor,
                reason=f"prepared {recipients} recipients; starts at {start_at}",
                command_id=command_id,
            )
        else:
            self.trigger_event(
                self.Prepared,
                recipients=recipients,
                actor=actor,
                reason=f"prepared {recipients} recipients",
                command_id=command_id,
            )

    def start(self, reason: str, *, actor: str = "system", command_id: str | None = None) -> None:
        self.check_allowed("start")
        self.trigger_event(self.Started, actor=actor, reason=reason, command_id=command_id)

    def begin_sending(
        self, reason: str, *, actor: str = "system", command_id: str | None = None
    ) -> None:
        self.check_allowed("begin_sending")
        self.trigger_event(self.SendingBegan, actor=actor, reason=reason, command_id=command_id)

    def close_window(
        self, reason: str, *, actor: str = "system", command_id: str | None = None
    ) -> None:
        self.check_allowed("close_window")
        self.trigger_event(self.WindowClosed, actor=actor, reason=reason, command_id=command_id)

    def suspend(
        self,
        reason: str,
        cause: dict[str, Any],
        *,
        actor: str = "system",
        command_id: str | None = None,
    ) -> None:
        self.check_allowed("suspend")
        self.trigger_event(
            self.Suspended, cause=cause, actor=actor, reason=reason, command_id=command_id
        )

    def finish(self, reason: str, *, actor: str = "system", command_id: str | None = None) -> None:
        self.check_allowed("finish")
        self.trigger_event(self.Finished, actor=actor, reason=reason, command_id=command_id)

    # Guards.

    def check_allowed(self, command: str) -> None:
        sources, _target = TRANSITIONS[command]
        if self.status in sources:
            return
        verb = command.replace("_", " ")
        final = " (a final status: only duplicate works)" if self.status in FINAL else ""
        raise IllegalTransition(
            f"cannot {verb} a campaign that is {self.status}{final}; "
            f"{verb} is allowed from {', '.join(sorted_statuses(sources))}",
            details={
                "status": self.status.value,
                "command": command,
                "allowed_from": sorted_statuses(sources),
                "allowed_commands": allowed_commands(self.status),
            },
        )

    def missing_steps(self, fields: dict[str, Any] | None = None) -> list[str]:
        """What the wizard still needs before launch (an empty list: ready to launch)."""
        fields = self.fields if fields is None else fields
        missing = []
        if not fields.get("sender"):
            missing.append("details: sender ID")
        if not fields.get("stream"):
            missing.append("details: sending stream")
        if not fields.get("contact_lists"):
            missing.append("recipients: at least one contact list")
        if not fields.get("variants"):
            missing.append("message: at least one variant")
        links = fields.get("links") or {}
        for kind in self.links_used():
            link = links.get(kind) or {}
            if kind == "short" and not link.get("target"):
                missing.append(f"message: the {LINK_LABELS['short']} target")
            if not link.get("pool") and not link.get("domains"):
                missing.append(f"message: a domain pool or domains for the {LINK_LABELS[kind]}")
        return missing

    def links_used(self) -> list[str]:
        """The link kinds (`short`, `optout`) the variants' texts use."""
        used = set()
        for variant in self.fields.get("variants", []):
            for name in placeholders_in(variant["text"]):
                if name in LINK_PLACEHOLDERS:
                    used.add(LINK_PLACEHOLDERS[name])
        return sorted(used, reverse=True)


def with_variant_ids(
    variants: list[dict[str, Any]], current: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    resolved = []
    for variant in variants:
        text = variant["text"]
        if text is None:
            text = current.get(variant["id"], {}).get("text")
        if text is None:
            raise ValidationFailed.of([FieldProblem("variants", "every variant needs a text")])
        resolved.append(
            {"id": variant["id"] or str(uuid.uuid4()), "text": text, "weight": variant["weight"]}
        )
    return resolved


def copy_name(name: str) -> str:
    suffix = " (copy)"
    return name[: 200 - len(suffix)] + suffix


# The status each status-changing event leads to; Edited keeps the status it finds.
STATUS_AFTER: dict[str, Status] = {
    "Created": Status.DRAFT,
    "Launched": Status.PROCESSING,
    "Rejected": Status.REJECTED,
    "Prepared": Status.READY,
    "Scheduled": Status.SCHEDULED,
    "Unscheduled": Status.DRAFT,
    "Started": Status.STARTED,
    "SendingBegan": Status.SENDING,
    "WindowClosed": Status.STARTED,
    "Paused": Status.PAUSED,
    "Resumed": Status.STARTED,
    "Suspended": Status.SUSPENDED,
    "Aborted": Status.ABORTED,
    "Finished": Status.FINISHED,
}
