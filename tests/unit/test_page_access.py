"""What the pages offer each role follows the access rules, not a list of its own."""

from __future__ import annotations

import pytest

from domain.roles import ROLES
from gateway.access import AUDIT, EXPORT, MANAGE
from gateway.pages.page_access import PageAccess, page_access


@pytest.mark.parametrize("role", ROLES)
def test_the_pages_offer_a_role_what_the_rules_let_it_do(role: str) -> None:
    may = PageAccess.of(role)

    assert may.manage == MANAGE.allows(role)
    assert may.audit == AUDIT.allows(role)
    assert may.replay == EXPORT.allows(role)


def test_a_viewer_is_offered_no_command_and_no_history() -> None:
    assert PageAccess.of("viewer") == PageAccess(manage=False, audit=False, replay=False)


def test_support_reads_the_history_but_is_offered_no_command() -> None:
    assert PageAccess.of("support") == PageAccess(manage=False, audit=True, replay=False)


def test_managers_and_admins_are_offered_every_command_and_the_history() -> None:
    assert PageAccess.of("manager").manage and PageAccess.of("manager").audit
    assert PageAccess.of("admin") == PageAccess(manage=True, audit=True, replay=True)


def test_nobody_signed_in_is_offered_nothing() -> None:
    assert page_access(None) == PageAccess()
