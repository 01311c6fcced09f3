"""The eleven campaign statuses and which command may leave which status."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    DRAFT = "Draft"
    PROCESSING = "Processing"
    READY = "Ready"
    SCHEDULED = "Scheduled"
    STARTED = "Started"
    SENDING = "Sending"
    PAUSED = "Paused"
    SUSPENDED = "Suspended"
    ABORTED = "Aborted"
    REJECTED = "Rejected"
    FINISHED = "Finished"


FINAL = frozenset({Status.ABORTED, Status.REJECTED, Status.FINISHED})
RUNNING = frozenset({Status.STARTED, Status.SENDING})

# Command -> (statuses it may start from, status it leads to); T1-T17 of the product spec.
# `prepare` leads to Ready or Scheduled depending on the start time, and `edit` keeps the
# status; both are listed with the status they most often lead to for documentation only.
TRANSITIONS: dict[str, tuple[frozenset[Status], Status | None]] = {
    "edit": (frozenset(Status) - FINAL, None),
    "launch": (frozenset({Status.DRAFT}), Status.PROCESSING),
    "reject": (frozenset({Status.PROCESSING}), Status.REJECTED),
    "prepare": (frozenset({Status.PROCESSING}), None),
    "start": (frozenset({Status.READY, Status.SCHEDULED}), Status.STARTED),
    "unschedule": (frozenset({Status.SCHEDULED}), Status.DRAFT),
    "begin_sending": (frozenset({Status.STARTED}), Status.SENDING),
    "close_window": (frozenset({Status.SENDING}), Status.STARTED),
    "pause": (RUNNING, Status.PAUSED),
    "resume": (frozenset({Status.PAUSED, Status.SUSPENDED}), Status.STARTED),
    "suspend": (RUNNING, Status.SUSPENDED),
    "abort": (
        frozenset(
            {
                Status.READY,
                Status.SCHEDULED,
                Status.STARTED,
                Status.SENDING,
                Status.PAUSED,
                Status.SUSPENDED,
            }
        ),
        Status.ABORTED,
    ),
    "finish": (frozenset({Status.SENDING}), Status.FINISHED),
}

USER_COMMANDS = ("edit", "launch", "pause", "resume", "abort", "unschedule", "duplicate")

# Messages go to a carrier only while a campaign is Sending. These commands end that: a
# batch not yet handed over when one of them commits is not handed over.
STOPS_SENDING = frozenset({"close_window", "pause", "suspend", "abort"})


# Statuses of a campaign that may have batches recorded but not handed over: it began sending.
MAY_HAVE_BATCHES = frozenset(
    {Status.STARTED, Status.SENDING, Status.PAUSED, Status.SUSPENDED, Status.ABORTED}
)


def fate_of_batch(status: Status) -> str:
    """What becomes of a batch recorded but not handed over, by its campaign's status now:
    `send` (Sending), `cancel` (a final status: its messages never go), or `hold` (until the
    campaign sends again)."""
    if status is Status.SENDING:
        return "send"
    if status in FINAL:
        return "cancel"
    return "hold"


def allowed_commands(status: Status) -> list[str]:
    """The user commands a campaign in `status` accepts (duplicate always works)."""
    return [
        command
        for command in USER_COMMANDS
        if command == "duplicate" or status in TRANSITIONS[command][0]
    ]


def sorted_statuses(statuses: frozenset[Status]) -> list[str]:
    order = list(Status)
    return [status.value for status in sorted(statuses, key=order.index)]
