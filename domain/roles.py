"""Who may do what: the roles a token carries.

People: `viewer` (the wall, reads), `analyst` (reads, the event history for export and
replay), `support` (reads, the audit trail), `manager` (every campaign, domain, pool,
stream, settings and contact-list command), `admin` (everything, and the tokens). Machines:
`carrier` (delivery receipts and inbound replies only)."""

from __future__ import annotations

from domain.errors import ValidationFailed

VIEWER = "viewer"
ANALYST = "analyst"
SUPPORT = "support"
MANAGER = "manager"
ADMIN = "admin"
CARRIER = "carrier"

PEOPLE = (VIEWER, ANALYST, SUPPORT, MANAGER, ADMIN)
# Who reads personal data: recipients' full numbers, working links and texts as sent (the
# message log), a contact's columns (the Summary's samples); each such read is written down.
# The other roles see numbers masked, no links and the texts as written.
PERSONAL_DATA = (SUPPORT, MANAGER, ADMIN)
ROLES = (*PEOPLE, CARRIER)
MAX_TOKEN_NAME = 100


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationFailed(
            f"role must be one of {', '.join(ROLES)}",
            [{"field": "role", "message": "unknown role"}],
        )
    return role


def check_token_name(name: str) -> str:
    """A token's name is the actor recorded in every event it causes: short, printable."""
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > MAX_TOKEN_NAME or not name.isprintable():
        raise ValidationFailed(
            f"name must be 1 to {MAX_TOKEN_NAME} printable characters",
            [{"field": "name", "message": "is not a usable name"}],
        )
    return name
