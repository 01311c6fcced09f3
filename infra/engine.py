"""The sending engine (F6): prepares, starts, opens and closes windows, dispatches, and
suspends or finishes campaigns, calling the Campaign's system commands.

Each process's engine works the campaigns of the streams its process owns (`Ownership`:
a lease per stream, with a fencing epoch). Each step reloads the campaign and lets the
aggregate decide, so a user's pause or abort between two steps always wins. Per batch of
messages:

1. the messages are recorded as queued, with the batch (activity tables, one transaction);
2. the batch and its domains' usage are saved in the store (one transaction);
3. the batch is claimed for its handover: under the campaign's sending gate, only while
   the campaign is Sending, its recipients who opted out meanwhile suppressed;
4. the carrier takes the messages;
5. they are marked sent, and the batch with them.

Every write of 1, 2, 3 and 5 carries the owner's fence and is refused in its own
transaction once another process owns the stream; right before 4 the owner checks that its
lease is still held with a margin. Steps 1 and 2 run in the engine's thread, one batch after
the other. Once the engine runs in the background, steps 3 to 5 run in a thread of their own
(`Handover`), batch by batch in order, so the next batch is built and recorded while the
carrier takes this one; at most `HANDOVER_DEPTH` recorded batches wait for it. A campaign
is only finished once every batch recorded has been handed over.

A new owner of a stream (`take_over`) finishes what its previous owner cut short: batches
recorded in (1) but not in (2) are saved; batches claimed in (3) are settled by asking the
carrier which messages it took; recorded batches are handed over if their campaign is
Sending, cancelled if it ended (aborted), held while it is paused or suspended. So each
recipient gets at most one message, and every recipient is attempted once.
"""

from __future__ import annotations

import contextlib
import logging
import operator
import queue
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from domain.application import CampaignPlatform
from domain.campaign import Campaign
from domain.content import content_problems
from domain.dispatch import (
    DispatchLog,
    LinkCoder,
    allocate,
    render,
    spread,
)
from domain.errors import DomainError
from domain.fields import LINK_LABELS, LINK_PLACEHOLDERS, placeholders_in
from domain.link_domain import ARCHIVE_AFTER_DAYS, DomainStatus, LinkDomain
from domain.link_exhaustion import suspension_for
from domain.pricing import DEFAULT_PRICES, PriceTable, money
from domain.ratio import RatioChooser
from domain.rules import facts, first_fired
from domain.schedule import describe, is_open
from domain.sms import parts as sms_parts
from domain.status import MAY_HAVE_BATCHES, STOPS_SENDING, Status, fate_of_batch
from domain.stream import Stream, StreamOwnership
from infra.application import ProcessPlatform
from infra.carriers import Carriers
from infra.gates import SendingGate
from infra.ownership import Ownership
from infra.smpp_carrier import CarrierUnavailable
from projections.activity import (
    Activity,
    BatchRef,
    OpenBatch,
    OutgoingMessage,
    from_units,
    to_units,
)
from projections.campaign_list import CampaignListView
from projections.database import Database
from projections.leases import Fence, LeaseLost, Taken
from projections.link_keys import LinkKeys

log = logging.getLogger(__name__)

# Messages per batch. On SQLite a batch is written while holding the file's one write lock,
# which every command then waits for: batches stay small there. PostgreSQL locks rows, and
# larger batches spread each batch's fixed costs (a dozen transactions, the store's event,
# the records it puts on Kafka) over more messages.
BATCH = 2000
POSTGRES_BATCH = 5000
TICK = 0.2
HOUSEKEEPING_SECONDS = 60.0
HANDOVER_DEPTH = 2  # recorded batches waiting for the carrier, at most
HANDOVER_ATTEMPTS = 30  # a batch's handover tried again each second, then left for later
SAVE_ATTEMPTS = 20  # a batch's save, which clashes with other processes' on shared domains
# A new owner of a stream has the carrier report again on messages whose outcome never came,
# of the stream's campaigns changed this recently (a carrier's reports come within seconds).
REPORTS_RESUMED_FOR = timedelta(hours=1)
AUTO_ARCHIVED_FROM = (DomainStatus.PENDING, DomainStatus.CONFIGURED)
# A contact's columns as the json module reads them, in a fraction of its time.
decode_json = msgspec.json.Decoder().decode


@dataclass(frozen=True)
class LinkPlan:
    """The domains a batch's links go through, one per message, per link kind."""

    short: list[str | None]
    optout: list[str | None]


class TokenBucket:
    """A stream's rate limit: up to `rate` messages a second, 0 for unlimited."""

    def __init__(self) -> None:
        self.tokens = 0.0
        self.updated = time.monotonic()

    def take(self, rate: int, wanted: int) -> int:
        if rate <= 0:
            return wanted
        now = time.monotonic()
        self.tokens = min(float(rate), self.tokens + (now - self.updated) * rate)
        self.updated = now
        granted = min(wanted, int(self.tokens))
        self.tokens -= granted
        return granted


@dataclass(frozen=True)
class Batch:
    """A recorded batch on its way to the carrier: the messages to hand over (those not
    suppressed when recorded), under the fence they were recorded with."""

    fence: Fence
    ref: BatchRef
    messages: list[OutgoingMessage]
    two_way: bool

    @property
    def key(self) -> tuple[str, int]:
        return self.ref.campaign_id, self.ref.first_seq


class Handover:
    """Steps 3 to 5 of a batch (see the module): claimed, taken by the carrier, marked
    sent. Inline until `start`, then in a thread of its own, in the order the batches were
    recorded. Each batch is in the queue once at most (`waiting`)."""

    def __init__(
        self,
        app: CampaignPlatform,
        carrier: Carriers,
        activity: Activity,
        ownership: Ownership,
        gate: SendingGate,
        now: Callable[[], datetime],
    ) -> None:
        self.app = app
        self.carrier = carrier
        self.activity = activity
        self.ownership = ownership
        self.gate = gate
        self.now = now
        self.batches: queue.Queue[Batch | None] = queue.Queue(HANDOVER_DEPTH)
        self.waiting: set[tuple[str, int]] = set()
        self.held: set[str] = set()  # campaigns with batches waiting for them to send again
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def hand_over(self, batch: Batch) -> None:
        """Steps 3 to 5; a batch it may not hand over now is left as it is, for whoever may
        (this process when it sends the campaign again, or the stream's next owner). What
        the carrier did not take (its link dropped) is handed over on the next attempt."""
        fence, ref = batch.fence, batch.ref
        if not self.ownership.holds(fence):
            self.hold(ref.campaign_id)  # the stream's next owner, or this one once renewed
            return
        self.carrier.make_room(fence.stream)  # before the gate: a stop need not wait for it
        with self.gate.handing_over(ref.campaign_id) as gate:
            campaign = self.app.get_campaign(uuid.UUID(ref.campaign_id))
            fate = fate_of_batch(campaign.status)
            if fate == "cancel":
                self.activity.messages.cancel(fence, ref, self.now())
                return
            if fate == "hold":
                self.hold(ref.campaign_id)
                return
            outgoing = self.activity.messages.claim(fence, ref, batch.messages)
            if outgoing is None:
                return  # not waiting for its handover any more
            if not self.ownership.holds(fence):
                self.hold(ref.campaign_id)  # claimed: settled by asking the carrier
                return
            gate.check()
            taken = self.carrier.submit(
                outgoing,
                batch.two_way,
                fence.stream,
                fence=fence,
                sender=str(campaign.fields.get("sender") or ""),
                holds=lambda: self.ownership.holds(fence),
            )
        sent = outgoing if len(taken) == len(outgoing) else [m for m in outgoing if m.id in taken]
        whole = len(sent) == len(outgoing)
        self.activity.messages.mark_sent(
            sent, self.now(), fence=fence, batch=ref if whole else None
        )
        if not whole:
            raise CarrierUnavailable(
                f"the carrier of {fence.stream} took {len(sent)} of {len(outgoing)} messages"
            )

    def hold(self, campaign_id: str) -> None:
        with self.lock:
            self.held.add(campaign_id)

    def reconcile(self, batch: Batch) -> Batch:
        """Before a batch is tried again: what the carrier took of it meanwhile is marked
        sent, and only the rest is handed over (or cancelled, or suppressed)."""
        queued = self.activity.messages.queued_messages(batch.ref)
        taken = self.carrier.taken([m.id for m in queued], batch.fence.stream)
        if taken:
            sent = [m for m in queued if m.id in taken]
            self.activity.messages.mark_sent(sent, self.now(), fence=batch.fence)
        waiting = {m.id for m in queued if m.id not in taken}
        messages = [m for m in batch.messages if m.id in waiting]
        return Batch(batch.fence, batch.ref, messages, batch.two_way)

    def put(self, batch: Batch) -> None:
        with self.lock:
            if batch.key in self.waiting:
                return  # on its way already
            self.waiting.add(batch.key)
        if self.thread is None:
            self.hand_over_until_done(batch)
            return
        while True:  # waits while the carrier is behind, unless the engine is stopping
            try:
                self.batches.put(batch, timeout=0.5)
                return
            except queue.Full:
                if self.stopping.is_set():
                    self.done(batch)
                    return  # left recorded: handed over by the stream's next owner

    def take_held(self, campaign_id: str) -> bool:
        """Whether batches of the campaign were held back (and forgets it)."""
        with self.lock:
            if campaign_id not in self.held:
                return False
            self.held.discard(campaign_id)
            return True

    def drain(self) -> None:
        """Returns once every batch put so far has been handed over (or left)."""
        if self.thread is not None:
            self.batches.join()

    def start(self) -> None:
        self.stopping.clear()
        self.thread = threading.Thread(target=self.run, name="sending-handover", daemon=True)
        self.thread.start()

    def run(self) -> None:
        while True:
            batch = self.batches.get()
            try:
                if batch is None:
                    return
                self.hand_over_until_done(batch)
            finally:
                self.batches.task_done()

    def hand_over_until_done(self, batch: Batch) -> None:
        # Every step may be repeated by the same owner (a claim under its own epoch is
        # taken again, the carrier takes a message once, a message is marked sent once):
        # a failure is retried, after asking the carrier what it took, and the batches
        # after it wait; after HANDOVER_ATTEMPTS the batch waits for the campaign's next pass.
        try:
            for attempt in range(HANDOVER_ATTEMPTS):
                try:
                    self.hand_over(self.reconcile(batch) if attempt else batch)
                    return
                except LeaseLost as lost:
                    log.warning("%s", lost)
                    self.ownership.lose(lost.stream, lost.epoch)
                    return
                except CarrierUnavailable as unavailable:
                    log.warning("%s; the rest is handed over later", unavailable)
                    self.hold(batch.ref.campaign_id)
                    return
                except Exception:
                    log.exception(
                        "the carrier could not take a batch of %d; retrying", len(batch.messages)
                    )
                    if self.stopping.wait(1):
                        return  # left recorded or claimed: settled by the stream's next owner
            self.hold(batch.ref.campaign_id)
        finally:
            self.done(batch)

    def done(self, batch: Batch) -> None:
        with self.lock:
            self.waiting.discard(batch.key)

    def stop(self) -> None:
        """Hands over what was put (unless that fails), then ends the thread."""
        if self.thread is None:
            return
        self.stopping.set()
        try:
            self.batches.put(None, timeout=30)
        except queue.Full:
            log.warning(
                "the handover thread is stuck; its batches wait for the stream's next owner"
            )
        self.thread.join(timeout=30)
        self.thread = None


class Engine:
    def __init__(
        self,
        app: ProcessPlatform,
        database: Database,
        campaign_list: CampaignListView,
        activity: Activity,
        carrier: Carriers,
        ownership: Ownership,
        gate: SendingGate,
        *,
        batch: int | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.app = app
        self.database = database
        self.campaign_list = campaign_list
        self.activity = activity
        self.carrier = carrier
        self.ownership = ownership
        self.gate = gate
        self.price_table = PriceTable(DEFAULT_PRICES)
        self.batch = batch or (POSTGRES_BATCH if database.dialect == "postgres" else BATCH)
        self.now = now
        self.buckets: dict[str, TokenBucket] = {}
        self.unfinished: set[str] = set()  # campaigns with a batch not saved in the store
        self.taking: dict[str, Taken] = {}  # streams taken, whose take-over is not done
        self.resumed: dict[str, set[str]] = {}  # campaigns whose reports a take-over resumed
        self.next_housekeeping = 0.0
        self.turn = 0
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.handover = Handover(app, carrier, activity, ownership, gate, lambda: self.now())
        app.listeners.append(lambda _position: self.wake.set())
        ownership.listeners.append(self.wake.set)

    @property
    def prices(self) -> PriceTable:
        """The platform's price table, rebuilt only when the setting changes."""
        prices = self.app.prices()
        if prices != self.price_table.source:
            self.price_table = PriceTable(prices)
        return self.price_table

    # Running.

    def start(self) -> None:
        self.recover()
        self.handover.start()
        self.thread = threading.Thread(target=self.run, name="sending-engine", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.handover.stopping.set()  # a full queue no longer holds the engine back
        self.wake.set()
        if self.thread:
            self.thread.join(timeout=30)
        self.handover.stop()

    def run(self) -> None:
        while not self.stopping.is_set():
            busy = False
            try:
                busy = self.step()
            except Exception:  # one bad moment of a database must not stop sending for good
                log.exception("the sending engine failed a step; retrying")
                self.stopping.wait(1)
            if not busy:
                self.wake.wait(TICK)
                self.wake.clear()

    def step(self) -> bool:
        """One pass over every live campaign of the streams this process works; True when
        there is more to send at once."""
        self.follow_ownership()
        if self.unfinished or self.handover.held:
            self.settle_ended()
        if time.monotonic() >= self.next_housekeeping:
            self.next_housekeeping = time.monotonic() + HOUSEKEEPING_SECONDS
            self.archive_unused_domains()
            self.carrier.housekeeping(self.now())
        busy = False
        live = self.live_campaigns()
        # Each pass starts one campaign further on, so campaigns sharing a rate-limited
        # stream take turns at its capacity instead of the oldest taking all of it.
        self.turn = (self.turn + 1) % max(len(live), 1)
        for campaign_id, status in live[self.turn :] + live[: self.turn]:
            if self.stopping.is_set():
                break
            try:
                busy = self.advance(campaign_id, status) or busy
            except DomainError as error:  # a user's command got there first: look again next pass
                log.info("campaign %s: %s", campaign_id, error.message)
            except LeaseLost as lost:
                log.warning("%s", lost)
                self.ownership.lose(lost.stream, lost.epoch)
        return busy

    def run_until_idle(self, timeout: float = 60.0) -> None:
        """Steps until nothing is left to do at once (tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while self.step():
            if time.monotonic() > deadline:
                raise TimeoutError("the engine was still busy")

    # The streams this process owns.

    def follow_ownership(self) -> None:
        """Takes over the streams just taken, lets go of those lost, and gives up those
        beyond this process's share once their batches are handed over."""
        if not self.ownership.running:
            self.ownership.refresh()  # stepped by hand: no thread keeps the leases
        changes = self.ownership.take_changes()
        for stream in changes.lost:
            self.buckets.pop(stream, None)
            self.taking.pop(stream, None)
            self.resumed.pop(stream, None)
            self.carrier.forget(stream)  # its next owner has the carrier report on them
        for taken in changes.taken:
            self.taking[taken.fence.stream] = taken
        for stream, taken in list(self.taking.items()):
            try:
                self.take_over(taken)
            except LeaseLost as lost:
                log.warning("%s", lost)
                self.ownership.lose(stream, lost.epoch)
            except Exception:  # the stream is not worked until its take-over is done
                log.exception("could not take the stream %s over yet; retrying", stream)
                continue
            self.taking.pop(stream, None)
        leaving = self.ownership.to_give_up()
        if leaving:
            self.handover.drain()
            for stream in leaving:
                self.ownership.give_up(stream)
                self.carrier.forget(stream)
        self.carrier.follow(self.working())

    def working(self) -> list[str]:
        """The streams this process sends on: owned, taken over, and not being given up."""
        return [stream for stream in self.ownership.working() if stream not in self.taking]

    def take_over(self, taken: Taken) -> None:
        """What a new owner of a stream does first: says so in the store, then finishes
        what the previous owner cut short. Each part may be done again."""
        fence = taken.fence
        self.record_owner_change(taken)
        self.carrier.take_over(fence)
        self.recover_stream(fence)
        self.resume_reports(fence.stream, self.resumed.setdefault(fence.stream, set()))
        self.resumed.pop(fence.stream, None)

    def record_owner_change(self, taken: Taken) -> None:
        fence = taken.fence
        for _attempt in range(5):
            ownership = self.app.find(
                StreamOwnership, StreamOwnership.id_for(fence.stream)
            ) or StreamOwnership.open(fence.stream)
            if (ownership.owner, ownership.epoch) == (fence.owner, fence.epoch):
                return  # recorded by a take-over cut short after it
            ownership.change_owner(
                fence.owner, taken.previous_owner, fence.epoch, owner_change_reason(taken)
            )
            if self.app.save_new(ownership, fence=fence):
                return
        raise RuntimeError(f"could not record the new owner of the stream {fence.stream}")

    def recover(self) -> None:
        """Takes the streams this process may own and finishes, on each, what was cut
        short (see the module's docstring)."""
        self.follow_ownership()
        for stream in self.working():
            self.recover_stream(self.ownership.fence(stream))

    def recover_stream(self, fence: Fence) -> None:
        self.record_unrecorded_batches(fence)
        self.settle(fence, self.activity.messages.open_batches(stream=fence.stream))

    def resume_reports(self, stream: str, done: set[str]) -> None:
        """The carrier's reports of messages it took whose outcome never came, because the
        process that owned the stream stopped first: for the campaigns that recorded batches
        on it in the last `REPORTS_RESUMED_FOR`, but those in `done` (a take-over tried
        again), which it adds to."""
        for campaign_id in self.activity.messages.campaigns_sending_since(
            stream, self.now() - REPORTS_RESUMED_FOR
        ):
            if campaign_id in done:
                continue
            waiting = self.activity.messages.sent_without_outcome(campaign_id)
            if waiting:
                campaign = self.app.get_campaign(uuid.UUID(campaign_id))
                two_way = campaign.fields.get("type") == "two_way"
                resumed = self.carrier.resume(waiting, two_way, stream)
                log.info(
                    "campaign %s: the carrier reports on %d messages again", campaign_id, resumed
                )
            done.add(campaign_id)

    def settle(self, fence: Fence, batches: list[OpenBatch]) -> None:
        """Open batches not in this process's queue: a claimed one is settled with what
        the carrier took, then each goes as its campaign's status says."""
        campaigns: dict[str, Campaign] = {}
        for batch in batches:
            if batch.ref.campaign_id not in campaigns:
                campaigns[batch.ref.campaign_id] = self.app.get_campaign(
                    uuid.UUID(batch.ref.campaign_id)
                )
            campaign = campaigns[batch.ref.campaign_id]
            with self.handover.lock:
                if (batch.ref.campaign_id, batch.ref.first_seq) in self.handover.waiting:
                    continue  # on its way
            messages = self.activity.messages.queued_messages(batch.ref)
            if batch.state == "claimed":
                taken = self.carrier.taken([m.id for m in messages], fence.stream)
                sent = [m for m in messages if m.id in taken]
                messages = [m for m in messages if m.id not in taken]
                if sent or not messages:
                    self.activity.messages.mark_sent(
                        sent, self.now(), fence=fence, batch=None if messages else batch.ref
                    )
                if not messages:
                    continue
                self.activity.messages.unclaim(fence, batch.ref)
            fate = fate_of_batch(campaign.status)
            if fate == "cancel":
                self.activity.messages.cancel(fence, batch.ref, self.now())
            elif fate == "send":
                two_way = campaign.fields.get("type") == "two_way"
                self.handover.put(Batch(fence, batch.ref, messages, two_way))
            else:
                with self.handover.lock:
                    self.handover.held.add(batch.ref.campaign_id)

    def settle_ended(self) -> None:
        """Campaigns whose batches waited (held, or not yet saved) and that ended meanwhile
        (aborted): their batches are saved and cancelled."""
        with self.handover.lock:
            waiting = set(self.handover.held) | self.unfinished
        working = self.working()
        for campaign_id in sorted(waiting):
            campaign = self.app.get_campaign(uuid.UUID(campaign_id))
            stream = campaign.fields["stream"]
            if fate_of_batch(campaign.status) != "cancel" or stream not in working:
                continue
            fence = self.ownership.fence(stream)
            if campaign_id in self.unfinished:
                self.record_unrecorded(campaign_id, fence)
                self.unfinished.discard(campaign_id)
            self.handover.take_held(campaign_id)
            self.settle(fence, self.activity.messages.open_batches(campaign_id=campaign_id))

    def archive_unused_domains(self) -> None:
        """F10: a domain unused for 90 days is archived automatically."""
        cutoff = self.now() - timedelta(days=ARCHIVE_AFTER_DAYS)
        for domain in self.app.list_domains():
            last_used = domain.last_used_at or domain.created_on
            if domain.status in AUTO_ARCHIVED_FROM and last_used < cutoff:
                # Another sending process may archive it first.
                with contextlib.suppress(DomainError):
                    self.app.change_domain_status(
                        domain.name,
                        "archive",
                        actor="system",
                        reason=f"unused for {ARCHIVE_AFTER_DAYS} days "
                        f"(last used {last_used:%Y-%m-%d})",
                    )

    def live_campaigns(self) -> list[tuple[uuid.UUID, Status]]:
        """Campaigns of this process's streams the engine has work for, found through the
        list's rows, read from the store's notification log first so none launched a
        moment ago is missed."""
        streams = self.working()
        if not streams:
            return []
        statuses = (
            Status.PROCESSING,
            Status.READY,
            Status.SCHEDULED,
            Status.STARTED,
            Status.SENDING,
        )
        rows = self.campaign_list.with_statuses(self.database, [s.value for s in statuses], streams)
        return [(uuid.UUID(campaign_id), Status(status)) for campaign_id, status in rows]

    def advance(self, campaign_id: uuid.UUID, status: Status) -> bool:
        campaign = self.app.get_campaign(campaign_id)
        if campaign.fields["stream"] not in self.working():
            return False  # moved to another stream meanwhile
        if campaign.status is not status:
            status = campaign.status
        if status is Status.PROCESSING:
            self.prepare(campaign)
        elif status is Status.READY:
            self.start_when_stream_takes(campaign)
        elif status is Status.SCHEDULED:
            start_at = campaign.fields.get("start_at") or ""
            if start_at <= self.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"):
                self.system(campaign, lambda c: c.start(f"start time {start_at} reached"))
        elif status is Status.STARTED:
            if self.usable_stream(campaign) is not None:
                self.open_window(campaign)
        elif status is Status.SENDING:
            return self.send(campaign)
        return False

    def system(
        self, campaign: Campaign, command: Callable[[Campaign], None], name: str = ""
    ) -> Campaign:
        """Runs a system command on the latest version of the campaign; one that stops its
        sending holds the campaign's sending gate while it commits."""
        if name in STOPS_SENDING:
            with self.gate.stopping(str(campaign.id)):
                return self.app.run_command(Campaign, campaign.id, "campaign", command)
        return self.app.run_command(Campaign, campaign.id, "campaign", command)

    # Preparation (T3-T6).

    def prepare(self, campaign: Campaign) -> None:
        problems = content_problems(campaign.fields)
        problems += self.link_problems(campaign)
        if problems:
            self.system(campaign, lambda c: c.reject("rejected: " + "; ".join(problems)))
            return
        lists = list(campaign.fields.get("contact_lists", []))
        fence = self.ownership.fence(campaign.fields["stream"])
        count = self.activity.audience.snapshot(str(campaign.id), lists, fence)
        if count == 0:
            self.system(
                campaign,
                lambda c: c.reject(
                    "rejected: no recipient left after removing duplicates and opted-out numbers"
                ),
            )
            return
        self.system(campaign, lambda c: c.prepare(count, self.now()))

    def link_problems(self, campaign: Campaign) -> list[str]:
        problems = []
        for kind in campaign.links_used():
            domains = self.app.campaign_domains(campaign, kind)
            if not any(d.status.value == "Configured" for d in domains):
                names = ", ".join(f"{d.name} ({d.status.value})" for d in domains) or "none"
                problems.append(
                    f"no Configured domain for the {LINK_LABELS[kind]} (domains: {names})"
                )
        return problems

    # Starting and the sending window (T7, T8, T10, T11).

    def start_when_stream_takes(self, campaign: Campaign) -> None:
        stream = self.app.find_stream(campaign.fields["stream"])
        if stream is not None and stream.enabled:
            self.system(campaign, lambda c: c.start(f"the {stream.name} stream took it"))

    def open_window(self, campaign: Campaign) -> None:
        schedule = campaign.fields.get("sending_schedule")
        if is_open(schedule, self.now()):
            self.system(
                campaign, lambda c: c.begin_sending(f"sending window open ({describe(schedule)})")
            )

    # Dispatch (T14, T17).

    def send(self, campaign: Campaign) -> bool:
        schedule = campaign.fields.get("sending_schedule")
        if not is_open(schedule, self.now()):
            self.system(
                campaign,
                lambda c: c.close_window(f"sending window closed ({describe(schedule)})"),
                "close_window",
            )
            return False
        stream = self.usable_stream(campaign)
        if stream is None or not self.carrier.ready(stream.name):
            return False
        fence = self.ownership.fence(stream.name)
        campaign_id = str(campaign.id)
        unfinished = campaign_id in self.unfinished
        if unfinished:  # a batch whose save failed: saved first
            self.record_unrecorded(campaign_id, fence)
            self.unfinished.discard(campaign_id)
        # Sending again, or after a failure: its batches left waiting go first.
        if self.handover.take_held(campaign_id) or unfinished:
            self.settle(fence, self.activity.messages.open_batches(campaign_id=campaign_id))
        counters = self.activity.stats.campaign_counters(campaign_id)
        hit = first_fired(campaign.fields.get("pause_rules", []), counters)
        if hit is not None:
            rule, reason = hit
            cause = facts(rule, counters)
            self.system(campaign, lambda c: c.suspend(reason, cause), "suspend")
            return False
        first = self.activity.messages.next_seq(campaign_id)
        if first >= campaign.recipients:
            self.handover.drain()  # finished means every recipient handed to the carrier
            left = self.activity.messages.open_batches(campaign_id=campaign_id)
            if left:  # held back meanwhile (a pause between two batches): they go first
                self.settle(fence, left)
                return True
            self.system(
                campaign,
                lambda c: c.finish(f"every recipient attempted ({campaign.recipients} messages)"),
            )
            return False
        size = min(self.batch, self.carrier.batch_limit(stream.name) or self.batch)
        wanted = self.buckets.setdefault(stream.name, TokenBucket()).take(
            stream.rate, min(size, campaign.recipients - first)
        )
        if wanted == 0:
            return False
        plan = self.plan_links(campaign, wanted)
        if plan is None:
            return False
        count = len(plan.short)
        recipients = self.activity.audience.recipients_from(campaign_id, first, count)
        messages = self.build(campaign, recipients, plan)
        self.dispatch(campaign, messages, fence)
        return True

    def usable_stream(self, campaign: Campaign) -> Stream | None:
        """The campaign's stream; None, after suspending the campaign, when it is disabled."""
        name = campaign.fields["stream"]
        stream = self.app.find_stream(name)
        if stream is not None and stream.enabled:
            return stream
        self.system(
            campaign,
            lambda c: c.suspend(
                f"the stream {name} is disabled", {"kind": "stream", "stream": name}
            ),
            "suspend",
        )
        return None

    def plan_links(self, campaign: Campaign, wanted: int) -> LinkPlan | None:
        """Chooses the domains for up to `wanted` messages; suspends when none is left."""
        limit = self.app.domain_limit()
        suspension = suspension_for(self.app.link_domains(campaign, limit), limit)
        if suspension is not None:
            self.system(
                campaign, lambda c: c.suspend(suspension.reason, suspension.cause), "suspend"
            )
            return None
        plans: dict[str, list[str | None]] = {"short": [None] * wanted, "optout": [None] * wanted}
        for kind in campaign.links_used():
            domains = self.app.campaign_domains(campaign, kind)
            capacity = [(d.name, limit - d.usage) for d in domains if d.is_usable(limit)]
            allocation = spread(allocate(capacity, wanted))
            wanted = min(wanted, len(allocation))
            plans[kind] = list(allocation)
        return LinkPlan(plans["short"][:wanted], plans["optout"][:wanted])

    def build(
        self,
        campaign: Campaign,
        recipients: list[tuple[int, str, str]],
        plan: LinkPlan,
    ) -> list[OutgoingMessage]:
        variants = campaign.fields["variants"]
        order = RatioChooser([v["weight"] for v in variants]).order
        period = len(order)
        texts = [v["text"] for v in variants]
        uses_columns = [
            bool(set(placeholders_in(text)) - LINK_PLACEHOLDERS.keys()) for text in texts
        ]
        variant_ids = [v["id"] for v in variants]
        campaign_id = str(campaign.id)
        epoch = campaign.ratio_epoch
        prices = self.prices
        price_per_part = prices.price_per_part
        units_of: dict[tuple[Any, int], int] = {}  # cost by (price per part, parts)
        short_base = {d: f"https://{d}/s/" for d in set(plan.short) if d}
        optout_base = {d: f"https://{d}/o/" for d in set(plan.optout) if d}
        codes = LinkCoder(LinkKeys(self.database).current().secret).codes  # the newest key
        number = self.activity.messages.reserve_numbers(len(recipients))
        messages = []
        for (seq, phone, fields), short_domain, optout_domain in zip(
            recipients, plan.short, plan.optout, strict=True
        ):
            variant = order[seq % period]
            code, optout_code = codes(number)
            number += 1
            text = render(
                texts[variant],
                decode_json(fields) if uses_columns[variant] else {},
                short_base[short_domain] + code if short_domain else "",
                optout_base[optout_domain] + optout_code if optout_domain else "",
            )
            parts = sms_parts(text)
            price = price_per_part(phone)
            units = units_of.get((price, parts))
            if units is None:
                units = units_of[(price, parts)] = to_units(prices.cost(phone, parts))
            messages.append(
                OutgoingMessage(
                    code,
                    optout_code,
                    campaign_id,
                    seq,
                    phone,
                    variant_ids[variant],
                    epoch,
                    text,
                    parts,
                    units,
                    short_domain,
                    optout_domain,
                )
            )
        return messages

    def dispatch(self, campaign: Campaign, messages: list[OutgoingMessage], fence: Fence) -> None:
        opted_out = self.activity.engagement.opted_out([m.recipient for m in messages])
        blocked = frozenset(m.id for m in messages if m.recipient in opted_out)
        self.activity.messages.add_messages(messages, self.now(), blocked, fence=fence)
        outgoing = [m for m in messages if m.id not in blocked]
        try:
            self.record_batch(str(campaign.id), messages, usage_of(outgoing), fence)
        except Exception:
            # Recorded in the activity tables only: saved and handed over at the next pass.
            self.unfinished.add(str(campaign.id))
            raise
        ref = BatchRef(str(campaign.id), messages[0].seq, messages[-1].seq)
        self.handover.put(Batch(fence, ref, outgoing, campaign.fields.get("type") == "two_way"))

    def record_batch(
        self, campaign_id: str, messages: list[OutgoingMessage], usage: Counter[str], fence: Fence
    ) -> None:
        """Saves the batch and its domains' usage in one transaction of the store, which
        the store refuses once `fence` is stale."""
        log_id = DispatchLog.id_for(campaign_id)
        cost = money(from_units(sum(map(operator.attrgetter("cost_units"), messages))))
        by_domain = Counter(map(operator.attrgetter("domain"), messages))
        by_domain.pop(None, None)
        by_variant = Counter(map(operator.attrgetter("variant_id"), messages))
        for attempt in range(SAVE_ATTEMPTS):
            if attempt:  # another process saved a domain's usage first: it will again soon
                time.sleep(random.uniform(0, 0.01 * attempt))
            dispatch_log = self.app.find(DispatchLog, log_id) or DispatchLog.open(campaign_id)
            if dispatch_log.next_seq > messages[-1].seq:
                return  # saved by the attempt before, whose answer was lost
            dispatch_log.record_batch(
                messages[0].seq, messages[-1].seq, cost, dict(by_domain), dict(by_variant)
            )
            domains = []
            for name, count in usage.items():
                domain = self.app.find(LinkDomain, LinkDomain.id_for(name))  # type: ignore[arg-type]
                if domain is not None:
                    domain.record_usage(count, campaign_id)
                    domains.append(domain)
            if self.app.save_new(dispatch_log, *domains, fence=fence):
                return
        raise RuntimeError(f"could not record a batch of campaign {campaign_id}")

    def record_unrecorded_batches(self, fence: Fence) -> None:
        """Saves in the store the batch of the stream's campaigns whose messages were
        recorded just before their sending process stopped."""
        statuses = [s.value for s in MAY_HAVE_BATCHES]
        rows = self.campaign_list.with_statuses(self.database, statuses, [fence.stream])
        for campaign_id, _status in rows:
            self.record_unrecorded(campaign_id, fence)

    def record_unrecorded(self, campaign_id: str, fence: Fence) -> None:
        """Saves in the store the campaign's messages recorded in the activity tables
        after its last batch saved there (a save that failed, or a process that stopped)."""
        dispatch_log = self.app.find(DispatchLog, DispatchLog.id_for(campaign_id))
        recorded_until = dispatch_log.next_seq if dispatch_log else 0
        if self.activity.messages.next_seq(campaign_id) <= recorded_until:
            return
        unrecorded = self.activity.messages.messages_from(campaign_id, recorded_until)
        outgoing = [message for message, status in unrecorded if status != "suppressed"]
        self.record_batch(campaign_id, [m for m, _ in unrecorded], usage_of(outgoing), fence)


def owner_change_reason(taken: Taken) -> str:
    """Why a stream changed owner, in words, for its audit trail."""
    previous = taken.previous_owner
    if taken.how == "new":
        return "first owner of the stream"
    if taken.how == "released":
        return f"{previous} gave the stream up: {taken.release_reason or 'it let it go'}"
    if taken.how == "expired":
        ended = ""
        if taken.previous_expires_at is not None:
            moment = datetime.fromtimestamp(taken.previous_expires_at, UTC)
            ended = f" at {moment:%Y-%m-%d %H:%M:%S}Z"
        return f"the lease of {previous} ended{ended}: it stopped renewing it"
    return f"taken from {previous}: the process before this one on its data directory stopped"


def usage_of(messages: list[OutgoingMessage]) -> Counter[str]:
    """Messages per domain: a message counts once for each domain its links use."""
    usage: Counter[str] = Counter()
    pairs = Counter(map(_LINK_DOMAINS, messages))
    for (short, optout), count in pairs.items():
        if short:
            usage[short] += count
        if optout and optout != short:
            usage[optout] += count
    return usage


_LINK_DOMAINS = operator.attrgetter("domain", "optout_domain")
