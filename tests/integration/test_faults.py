"""The fault suite (`benchmarks/faults.py`) with a small campaign: PostgreSQL and a
three-broker Kafka cluster of its own, relay, projector, two gateways and three dispatchers,
every kind of fault injected while two streams send; every check it prints must pass."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks._topology import ROOT


@pytest.fixture
def folder() -> Iterator[Path]:
    """A fresh folder of its own (mode 0700), which the run opens to PostgreSQL's user;
    pytest's own folders sit below one that user may not enter."""
    made = Path(tempfile.mkdtemp(prefix="faults-"))
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


def test_every_recipient_is_messaged_exactly_once_whatever_the_faults(folder: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.faults",
            *("--recipients", "16000", "--rate", "150", "--lease", "3"),
            *("--dir", str(folder)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )

    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr[-5000:]
    assert "FAILED" not in run.stdout
    for check in (
        "both campaigns Finished",
        "every recipient in the carriers' books exactly once",
        "campaigns verify",
        "every owner change of a stream in the audit trail",
    ):
        assert f"[ok] {check}" in run.stdout
