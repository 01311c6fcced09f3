"""How an upload's lines are grouped for writing: in flat memory, whatever the lines."""

from __future__ import annotations

from collections.abc import Iterator

from domain.contact_import import Contact, Rejection
from infra.contacts import Tally, batches


def bad_lines(count: int) -> Iterator[Rejection]:
    for line in range(2, count + 2):
        yield Rejection(line, "", "not a phone number")


def test_a_contact_uploads_rejected_lines_are_not_all_kept_in_memory() -> None:
    """Finding 7: an upload of bad lines only is read batch by batch, and its result keeps
    the first 1,000 rejections and a count."""
    tally = Tally()
    largest = 0
    for contacts, rejections in batches(bad_lines(50_000), 1000):
        largest = max(largest, len(rejections))
        assert contacts == []
        tally.reject(rejections)
    assert largest <= 1000
    assert tally.rejected_total == 50_000 and len(tally.reported) == 1000


def test_batches_keep_every_line_in_order() -> None:
    lines: list[Contact | Rejection] = []
    for n in range(10):
        lines.append(Contact(2 * n + 2, f"+4477009000{n:02d}", {}))
        lines.append(Rejection(2 * n + 3, "", "bad"))
    grouped = list(batches(lines, 3))
    assert [c.line for cs, _ in grouped for c in cs] == [c.line for c in lines[::2]]
    assert [r.line for _, rs in grouped for r in rs] == [r.line for r in lines[1::2]]
    assert all(len(cs) <= 3 and len(rs) <= 3 for cs, rs in grouped)
