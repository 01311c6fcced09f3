"""Progress of long command-line work (export, import, rebuilds, replays) on stderr, drawn
by rich: redrawn in place on a terminal; elsewhere (a log, a pipe, captured output) written
once, as it ended, so that no control characters reach the file."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.text import Text

PASS_ON_SECONDS = 0.1  # a meter passes its count on at most this often
LINE_WIDTH = 200  # of the lines written where stderr is no terminal


class Figures(ProgressColumn):
    """How much is done (of how much, when known), and the rate since the start:
    `1,234/5,000 events, 2,468 events/s`; a task with a `shown` field shows that instead."""

    def render(self, task: Task) -> Text:
        if "shown" in task.fields:
            return Text(str(task.fields["shown"]))
        unit = task.fields.get("unit", "")
        done = int(task.completed)
        of = f"/{int(task.total):,}" if task.total else ""
        rate = done / max(task.elapsed or 0.0, 1e-9)
        return Text(f"{done:,}{of} {unit}, {rate:,.0f} {unit}/s")


@contextmanager
def progress_display() -> Iterator[Progress]:
    """A display on stderr for the tasks added to it, closed (and written out, when stderr
    is no terminal) on leaving. Lines printed meanwhile go above it when stdout is the
    same terminal."""
    console = Console(stderr=True)
    if not console.is_terminal:  # written once: no bar, and no wrapping at 80 columns
        console = Console(stderr=True, width=LINE_WIDTH)
    both_on_the_terminal = console.is_terminal and sys.stdout.isatty()
    bar = [BarColumn(bar_width=24)] if console.is_terminal else []
    display = Progress(
        TextColumn("{task.description}"),
        *bar,
        Figures(),
        console=console,
        redirect_stdout=both_on_the_terminal,
        redirect_stderr=False,
    )
    with display:
        yield display


class Meter:
    """One task of a display, told the count as often as the work likes: it passes the
    count on at most every PASS_ON_SECONDS (a count per event would cost more than the
    work), and all of it when finished."""

    def __init__(
        self, display: Progress, description: str, total: int | None, unit: str = "events"
    ) -> None:
        self.display = display
        self.total = total or None
        self.task: TaskID = display.add_task(description, total=self.total, unit=unit)
        self.passed = 0.0

    def __call__(self, done: int, total: int | None = None) -> None:
        now = time.monotonic()
        if now - self.passed < PASS_ON_SECONDS:
            return
        self.passed = now
        if total is not None:
            self.total = max(total, done) or None
        self.display.update(self.task, completed=done, total=self.total)

    def replayed(self, _position: int, replayed: int) -> None:
        """For a rebuild's callback, which says the position reached and the events replayed."""
        self(replayed)

    def show(self, text: str, done: float) -> None:
        """For work measured in something other than a count (a replay's moments): the
        text shown and how far along it is (of the total the meter was made with)."""
        now = time.monotonic()
        if now - self.passed >= PASS_ON_SECONDS:
            self.passed = now
            self.display.update(self.task, completed=done, shown=text)

    def finish(self, done: float, text: str | None = None) -> None:
        """Shows the task as it ended, and stops its clock."""
        self.total = max(self.total or 0, int(done)) or None
        if text is None:
            self.display.update(self.task, completed=done, total=self.total)
        else:
            self.display.update(self.task, completed=done, total=self.total, shown=text)
        self.display.stop_task(self.task)
